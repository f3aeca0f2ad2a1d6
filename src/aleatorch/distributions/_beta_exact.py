r"""Cancellation-free log-densities, entropies and KL divergences of the beta family.

The textbook formulas subtract ``lgamma`` values of size :math:`a \log a` to get results of
size :math:`\log a` (Beta(1e7, 1e7).entropy() is -32 in float32, the truth -7.68). Here every
``lgamma`` is Stirling's leading terms plus the remainder :math:`\delta` (``stirlerr``) and
every ``digamma`` is :math:`\log z - L(z)` with :math:`L = \log - \psi \approx 1/(2z)`; the
leading terms are then grouped so that what is left are sums of positive terms of the size of
the result:

* log-densities: :math:`\log p = \tfrac12 \log\frac{ab}{2\pi(a+b)} - \Delta - f - \log x
  - \log(1-x)` with :math:`f = a\varphi(x/x_0 - 1) + b\varphi((1-x)/(1-x_0) - 1) \ge 0`,
  :math:`\varphi(u) = u - \log(1+u)`, :math:`x_0 = a/(a+b)`,
  :math:`\Delta = \delta(a) + \delta(b) - \delta(a+b)` (DiDonato & Morris's BRCOMP);
* KL divergences between Dirichlet (and Beta) laws: the sum over components of the Bregman
  divergences of ``lgamma`` minus that of the totals, regrouped as
  :math:`s_q\,\mathrm{KL}(\pi_q \| \pi_p) + \tfrac12[\sum_i \varphi(t_i) - \varphi(t_s)]
  + [\sum_i D_\delta(a_i, b_i) - D_\delta(s_p, s_q)]`, every part computed from the
  parameter differences, so a KL of 1e-17 between nearly equal laws keeps its digits.

float32 and half inputs are computed in float64 (float32 on MPS, which has no float64) and
rounded back.
"""

from __future__ import annotations

import math

import torch

from ..special.double_float import two_prod
from ..special.incomplete_beta import _exponent, _u_minus_log1p
from ..special.logspace import expm1mx
from ..special.stirling import (
    _LOG_MINUS_DIGAMMA_SERIES,
    _STIRLERR_SERIES,
    _horner,
    stirlerr,
)

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# log z - digamma(z) and Stirling's remainder: the coefficients of special/stirling.py
_LMD = _LOG_MINUS_DIGAMMA_SERIES
_STIRLING = _STIRLERR_SERIES
_SERIES_FROM = 10.0
# above this a parameter is scaled by _SCALE before products that could overflow
_HUGE = 2.0**900
_SCALE = 2.0**-128


def working(*tensors: torch.Tensor) -> tuple[list[torch.Tensor], torch.dtype]:
    """The tensors in the working dtype (float64, or float32 on MPS) and the result dtype."""
    dtype = tensors[0].dtype
    work = torch.float32 if tensors[0].device.type == "mps" else torch.float64
    return [t.to(work) for t in tensors], dtype


def lmd_parts(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`L(z) = \log z - \psi(z)` and :math:`z L(z)` (:math:`\to 1/2`, also at ``inf``)."""
    big = z >= _SERIES_FROM
    t = z.clamp(min=_SERIES_FROM).reciprocal()
    series = _horner(_LMD, t * t)
    small = z.clamp(max=_SERIES_FROM)
    direct = torch.log(small) - torch.digamma(small)
    lmd = torch.where(big, 0.5 * t + t * t * series, direct)
    z_lmd = torch.where(big, 0.5 + t * series, small * direct)
    return lmd, z_lmd


def log_sum(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """``log(a + b)`` from the logs, without overflow."""
    return torch.logaddexp(log_a, log_b)


# --------------------------------------------------------------------------------------------
# Log-densities
# --------------------------------------------------------------------------------------------


def beta_log_prob(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The Beta(a, b) log-density at ``x`` (edges included), without cancellation."""
    (a, b, x), dtype = working(*torch.broadcast_tensors(a, b, x))
    y = 1 - x
    at_zero, at_one = x == 0, y == 0
    edge = at_zero | at_one
    half = torch.full_like(x, 0.5)
    xs, ys = torch.where(edge, half, x), torch.where(edge, half, y)
    # huge parameters: scale both by a power of two (f is linear in the pair, lam / a is not
    # changed), so that a + b and the exact products inside _exponent cannot overflow
    scale = torch.where(torch.maximum(a, b) > _HUGE, _SCALE, 1.0).to(a.dtype)
    f, _ = _exponent(a * scale, b * scale, xs, ys)
    f = f / scale
    log_a, log_b = torch.log(a), torch.log(b)
    log_s = log_sum(log_a, log_b)
    delta = stirlerr(a) + stirlerr(b) - stirlerr(a + b)
    inside = 0.5 * (log_a + log_b - log_s) - _HALF_LOG_2PI - delta - f
    inside = inside - torch.log(xs) - torch.log(ys)
    # at x = 0 the density behaves as x^(a - 1): +inf, b (= 1 / B(1, b)) or 0; likewise at 1
    power = torch.where(at_zero, a, b)
    other = torch.where(at_zero, log_b, log_a)
    at_edge = torch.where(power < 1, math.inf, torch.where(power == 1, other, -math.inf))
    return torch.where(edge, at_edge, inside).to(dtype)


# (integer type, mantissa bits, exponent bias) of the working dtypes
_LAYOUT = {torch.float64: (torch.int64, 52, 1023), torch.float32: (torch.int32, 23, 127)}


def _scaled_degrees(df1: torch.Tensor, df2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d1, d2)`` times one power of two, the larger in ``[1/2, 1)``: their ratios are
    unchanged and ``d1 x + d2`` can neither overflow nor lose ``d2`` to underflow. The power
    is built from the exponent bits, ``2^-(E+1)`` for ``m = f 2^E``, ``1 <= f < 2`` (at least
    the smallest normal: the larger lands in ``[1, 2)`` for ``E = emax``; 1 for ``inf``/nan,
    as ``frexp``): inductor cannot compile ``frexp``/``ldexp`` in float64."""
    with torch.no_grad():
        m = torch.maximum(df1, df2)
        itype, bits, bias = _LAYOUT[m.dtype]
        exponent = (m.view(itype) >> bits) & (2 * bias + 1)  # biased, without the sign
        power = torch.where(exponent > 2 * bias, bias, (2 * bias - 1 - exponent).clamp(min=1))
        scale = (power << bits).view(m.dtype)
    return df1 * scale, df2 * scale


def fisher_beta_point(df1: torch.Tensor, df2: torch.Tensor, x: torch.Tensor):
    """``u = d1 x / (d1 x + d2)`` and ``1 - u = d2 / (d1 x + d2)`` (X is F distributed iff U
    is Beta(d1/2, d2/2)), each without cancellation, overflow or spurious underflow (in the
    working dtype; divided through by ``x`` above 1)."""
    n1, n2 = _scaled_degrees(df1, df2)
    big = x > 1
    inv = torch.where(big, x, torch.ones_like(x)).reciprocal()
    small_x = torch.where(big, torch.zeros_like(x), x)
    denom = torch.where(big, n1 + n2 * inv, n1 * small_x + n2)
    u = torch.where(big, n1, n1 * small_x) / denom
    v = torch.where(big, n2 * inv, n2) / denom
    return u, v


def fisher_log_prob(df1: torch.Tensor, df2: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The F(d1, d2) log-density at ``x >= 0``: the Beta(d1/2, d2/2) kernel at
    ``u = d1 x / (d1 x + d2)`` minus ``log x``, with ``u / u0 - 1 = d2 (x - 1) / r`` and
    ``(1 - u) / (1 - u0) - 1 = d1 (1 - x) / r``, ``r = d1 x + d2``: exact near ``x = 1`` (the
    bulk for large degrees of freedom); ``d1, d2`` scaled by a power of two, and every ratio
    divided through by ``x`` above 2."""
    (df1, df2, x), dtype = working(*torch.broadcast_tensors(df1, df2, x))
    a, b = 0.5 * df1, 0.5 * df2
    n1, n2 = _scaled_degrees(df1, df2)
    at_zero = x == 0
    xs = torch.where(at_zero | torch.isinf(x), torch.ones_like(x), x)
    big = xs > 2
    inv = xs.reciprocal()
    denom = torch.where(big, n1 + n2 * inv, n1 * xs + n2)  # (d1 x + d2) / x where big
    alpha = n2 * torch.where(big, 1 - inv, xs - 1) / denom
    beta = n1 * torch.where(big, inv - 1, 1 - xs) / denom
    total = n1 + n2
    one_plus_alpha = total * torch.where(big, torch.ones_like(xs), xs) / denom
    one_plus_beta = total * torch.where(big, inv, torch.ones_like(xs)) / denom
    f = a * _u_minus_log1p(alpha, one_plus_alpha) + b * _u_minus_log1p(beta, one_plus_beta)
    log_a, log_b = torch.log(a), torch.log(b)
    delta = stirlerr(a) + stirlerr(b) - stirlerr(a + b)
    inside = 0.5 * (log_a + log_b - log_sum(log_a, log_b)) - _HALF_LOG_2PI - delta - f
    inside = inside - torch.log(xs)
    # x = 0: x^(a - 1) -> +inf, 1 (d1 = 2) or 0; x = inf: 0
    at_edge = torch.where(a < 1, math.inf, torch.where(a == 1, 0.0, -math.inf))
    out = torch.where(at_zero, at_edge, inside)
    return torch.where(torch.isposinf(x), -math.inf, out).to(dtype)


def _exact_sum(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum(a, -1)`` as an unevaluated pair ``hi + lo`` (pairwise TwoSum)."""
    hi = a
    lo = torch.zeros_like(a)
    while hi.shape[-1] > 1:
        if hi.shape[-1] % 2:
            hi = torch.nn.functional.pad(hi, (0, 1))
            lo = torch.nn.functional.pad(lo, (0, 1))
        x0, x1 = hi[..., 0::2], hi[..., 1::2]
        total = x0 + x1
        back = total - x0
        error = (x0 - (total - back)) + (x1 - back)
        hi = total
        lo = lo[..., 0::2] + lo[..., 1::2] + error
    return hi[..., 0], lo[..., 0]


def dirichlet_log_prob(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The Dirichlet(c) log-density at ``x`` (last dim the categories), without cancellation.

    :math:`\sum_i (c_i - 1)\log x_i + \log\Gamma(s) - \sum_i \log\Gamma(c_i)` is regrouped as
    :math:`\sum_i [n_i - c_i \varphi(w_i) - \log x_i + \tfrac12\log c_i - \delta(c_i)]
    - \tfrac12 \log s - (k-1)\tfrac12\log 2\pi + \delta(s)`, with :math:`n_i = x_i s - c_i`
    (exact products, :math:`s` summed in double length) and :math:`w_i = n_i / c_i`.
    """
    (c, x), dtype = working(*torch.broadcast_tensors(c, x))
    k = c.shape[-1]
    zero = x == 0
    xs = torch.where(zero, torch.full_like(x, 1.0 / k), x)
    scale = torch.where(c.amax(-1, keepdim=True) > _HUGE, _SCALE, 1.0).to(c.dtype)
    cs = c * scale
    s_hi, s_lo = _exact_sum(cs)
    s_hi, s_lo = s_hi.unsqueeze(-1), s_lo.unsqueeze(-1)
    product = xs * s_hi
    n = (product - cs) + (two_prod(xs, s_hi)[1] + xs * s_lo)
    w = n / cs
    phi = _u_minus_log1p(w, product / cs)
    log_c = torch.log(c)
    log_s = torch.logsumexp(log_c, -1, keepdim=True)
    per_component = 0.5 * log_c - stirlerr(c)
    inside = (n / scale - c * phi) - torch.log(xs)
    # x_i = 0: the rest of c_i log(x_i s / c_i) is finite; the factors x_i^(c_i - 1) of the
    # zero components are taken together, as the limit along x_i = t -> 0: t^e with
    # e = sum (c_i - 1), +inf for e < 0, 0 (-inf in log) for e > 0 (never inf - inf = NaN)
    edge = c * (log_s - log_c)
    total = (torch.where(zero, edge, inside) + per_component).sum(-1)
    power = torch.where(zero, c - 1, torch.zeros_like(c)).sum(-1)
    total = total + torch.where(power < 0, math.inf, torch.where(power > 0, -math.inf, 0.0))
    s = s_hi.squeeze(-1) / scale.squeeze(-1)
    total = total - 0.5 * log_s.squeeze(-1) - (k - 1) * _HALF_LOG_2PI + stirlerr(s)
    return total.to(dtype)


# --------------------------------------------------------------------------------------------
# Entropies
# --------------------------------------------------------------------------------------------


def dirichlet_entropy(c: torch.Tensor) -> torch.Tensor:
    r"""Entropy of Dirichlet(c) (Beta for ``k = 2``):

    .. math:: (k-1)\tfrac12\log 2\pi + \tfrac12\sum_i\log c_i - (k - \tfrac12)\log s
              + \sum_i \delta(c_i) - \delta(s) + \sum_i (c_i - 1) L(c_i) - (s - k) L(s)
    """
    (c,), dtype = working(c)
    k = c.shape[-1]
    log_c = torch.log(c)
    log_s = torch.logsumexp(log_c, -1)
    s = c.sum(-1)
    lmd, z_lmd = lmd_parts(c)
    lmd_s, z_lmd_s = lmd_parts(s)
    out = (
        (k - 1) * _HALF_LOG_2PI
        + 0.5 * log_c.sum(-1)
        - (k - 0.5) * log_s
        + (stirlerr(c) + (z_lmd - lmd)).sum(-1)
        - stirlerr(s)
        - (z_lmd_s - k * lmd_s)
    )
    return out.to(dtype)


def fisher_entropy(df1: torch.Tensor, df2: torch.Tensor) -> torch.Tensor:
    r"""Entropy of F(d1, d2), with :math:`a = d_1/2`, :math:`b = d_2/2`, :math:`s = a + b`:

    .. math:: \tfrac12\log 2\pi - \tfrac12\log a - \tfrac12\log b + \tfrac12\log s + \Delta
              + (a-1) L(a) + (b+1) L(b) - s L(s)
    """
    (df1, df2), dtype = working(*torch.broadcast_tensors(df1, df2))
    a, b = 0.5 * df1, 0.5 * df2
    s = a + b
    log_a, log_b = torch.log(a), torch.log(b)
    lmd_a, z_lmd_a = lmd_parts(a)
    lmd_b, z_lmd_b = lmd_parts(b)
    _, z_lmd_s = lmd_parts(s)
    out = (
        _HALF_LOG_2PI
        - 0.5 * (log_a + log_b - log_sum(log_a, log_b))
        + (stirlerr(a) + stirlerr(b) - stirlerr(s))
        + (z_lmd_a - lmd_a)
        + (z_lmd_b + lmd_b)
        - z_lmd_s
    )
    return out.to(dtype)


# --------------------------------------------------------------------------------------------
# KL divergences
# --------------------------------------------------------------------------------------------


def _phi(t: torch.Tensor, one_plus_t: torch.Tensor) -> torch.Tensor:
    """``t - log(1 + t) >= 0``."""
    return _u_minus_log1p(t, one_plus_t)


def _h1(t: torch.Tensor, one_plus_t: torch.Tensor) -> torch.Tensor:
    """``(1 + t) log(1 + t) - t >= 0``: ``t^2 - (1 + t) phi(t)`` for ``|t| < 1`` (cancels at
    most a factor 2), the direct form beyond."""
    near = t.abs() < 1
    phi = _phi(t, one_plus_t)
    far_t = torch.where(near, torch.ones_like(t), t)
    far_one_plus = torch.where(near, torch.full_like(t, 2.0), one_plus_t)
    far = far_one_plus * torch.log(far_one_plus) - far_t
    return torch.where(near, t * t - one_plus_t * phi, far)


def _bregman_stirling_series(x, h):
    r""":math:`D_\delta(x, x + h) = \delta(x + h) - \delta(x) - h\,\delta'(x)` for ``x, x + h
    >= 10``: each term :math:`c\,x^{-m}` of Stirling's series gives
    :math:`x^{-m}[(1+t)^{-m} - 1 + mt] = x^{-m}[\mathrm{expm1mx}(-m\log(1+t)) + m\varphi(t)]`,
    ``t = h / x``, both parts nonnegative (``h`` is passed, not ``x + h``: that sum is rounded)."""
    t = h / x
    one_plus_t = (x + h) / x
    near = t.abs() < 0.5
    log1p_t = torch.where(near, torch.log1p(torch.where(near, t, 0.0)), torch.log(one_plus_t))
    phi = _phi(t, one_plus_t)
    inv = x.reciprocal()
    inv2 = inv * inv
    power = inv
    total = torch.zeros_like(x)
    for j, c in enumerate(_STIRLING):
        m = 2 * j + 1
        total = total + c * power * (expm1mx(-m * log1p_t) + m * phi)
        power = power * inv2
    return total


def _bregman_g(x, h):
    r""":math:`D_g(x, x + h)` for :math:`g(z) = (z - \tfrac12)\log z - z`:
    :math:`x\,h_1(t) + \tfrac12\varphi(t)`, ``t = h / x``."""
    t = h / x
    one_plus_t = (x + h) / x
    return x * _h1(t, one_plus_t) + 0.5 * _phi(t, one_plus_t)


def _bregman_stirling(x, h):
    r""":math:`D_\delta(x, y)`, ``y = x + h``: the series for ``x, y >= 10``; below, through the
    recurrence :math:`D_{\log\Gamma}(x, y) = \sum_{k<10}\varphi(h/(x+k))
    + D_{\log\Gamma}(x+10, y+10)` and :math:`D_\delta = D_{\log\Gamma} - D_g`. The difference
    ``h`` is passed (not ``y``, whose rounding would swamp it)."""
    y = x + h
    use_series = torch.minimum(x, y) >= _SERIES_FROM
    ten = torch.full_like(x, _SERIES_FROM)
    series = _bregman_stirling_series(
        torch.where(use_series, x, ten), torch.where(use_series, h, torch.zeros_like(h))
    )
    shifted = torch.zeros_like(x)
    for k in range(int(_SERIES_FROM)):
        shifted = shifted + _phi(h / (x + k), (y + k) / (x + k))
    far = x + _SERIES_FROM
    shifted = shifted + _bregman_g(far, h) + _bregman_stirling_series(far, h)
    return torch.where(use_series, series, shifted - _bregman_g(x, h))


def dirichlet_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""KL(Dirichlet(a) || Dirichlet(b)) over the last dim (Beta for ``k = 2``).

    With :math:`h = b - a`, :math:`s_p = \sum a`, :math:`H = \sum h`, :math:`s_q = s_p + H`,
    :math:`t_i = h_i / a_i`, :math:`t_s = H / s_p`,
    :math:`u_i = (h_i s_p - a_i H) / (a_i s_q)` (:math:`\pi_{q,i} / \pi_{p,i} - 1`):

    .. math:: \frac{s_q}{s_p}\sum_i a_i h_1(u_i)
              + \tfrac12\Big[\sum_i\varphi(t_i) - \varphi(t_s)\Big]
              + \sum_i D_\delta(a_i, b_i) - D_\delta(s_p, s_q)

    (:math:`h_1(t) = (1+t)\log(1+t) - t`), clamped at 0 against rounding.
    """
    (a, b), dtype = working(*torch.broadcast_tensors(a, b))
    h = b - a
    s_p = a.sum(-1, keepdim=True)
    s_q = b.sum(-1, keepdim=True)
    big_h = h.sum(-1, keepdim=True)
    u = (h * s_p - a * big_h) / (a * s_q)
    categorical = (s_q / s_p).squeeze(-1) * (a * _h1(u, b * s_p / (a * s_q))).sum(-1)
    t_s = (big_h / s_p).squeeze(-1)
    spread = 0.5 * (_phi(h / a, b / a).sum(-1) - _phi(t_s, (s_q / s_p).squeeze(-1)))
    remainders = _bregman_stirling(a, h).sum(-1) - _bregman_stirling(s_p, big_h).squeeze(-1)
    return (categorical + spread + remainders).clamp(min=0).to(dtype)
