"""The Fisher-Snedecor (F) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.gamma import cached_rounds, log_standard_gamma, standard_gamma
from ..distribution import Distribution
from ..special.double_float import two_prod, two_sum
from ..special.incomplete_beta import betainc, betaincc, log_betainc
from ..special.incomplete_beta_inverse import betaincinv_log_odds
from ..special.logspace import softplus
from ..utils import _readable, as_params, textbook_dtype
from ._beta_exact import (
    _scaled_degrees,
    fisher_beta_point,
    fisher_entropy,
    fisher_log_prob,
    working,
)
from .gamma import _S_SERIES, _T_SERIES, _horner, blockwise

__all__ = ["FisherSnedecor"]

# Degrees of freedom up to which log_prob uses lgamma directly (as Beta's concentrations 10)
_TEXTBOOK_DF = 20.0


def _textbook_terms(d: FisherSnedecor, work: torch.dtype, widened: bool):
    """``(a - 1, a + b, t, a log(d1/d2) - log B(a, b), floor)`` in ``work``, ``a = d1/2``,
    ``b = d2/2``: ``t = d1/d2`` for the widened form, ``log(d1/d2)`` and the floor of ``log x``
    (``-max`` where ``a = 1``, so that ``0 log 0 = 0``; else ``-inf``) for the direct one."""
    a, b = 0.5 * d.df1.to(work), 0.5 * d.df2.to(work)
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    ratio = a / b
    log_ratio = torch.log(ratio)
    const = a * log_ratio - log_beta
    if widened:
        return a - 1, a + b, ratio, const, None
    finite = -torch.finfo(work).max
    floor = torch.full_like(a, -math.inf).masked_fill_(a == 1, finite)
    return a - 1, a + b, log_ratio, const, floor


# float32 entropy (_entropy_float32): degrees of freedom in [2^-100, 1e8] (the shifted
# products below stay finite; 4 / x does not overflow).
_FLOAT32_RANGE = (2.0**-100, 1e8)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _float32_entropy_applies(df1: torch.Tensor, df2: torch.Tensor) -> bool:
    """float32 parameters in ``_FLOAT32_RANGE``, CPU eager (``_readable``); NaN fails."""
    if df1.dtype != torch.float32 or df2.dtype != torch.float32 or not _readable((df1, df2)):
        return False
    low, high = _FLOAT32_RANGE
    for t in (df1, df2):
        if t.numel():
            lo, hi = torch.aminmax(t.detach())
            if not (float(lo) >= low and float(hi) <= high):
                return False
    return True


def _shifted_g(x: torch.Tensor, k: int) -> torch.Tensor:
    r""":math:`G_k(x) - k/x` for :math:`G_k(x) = \delta(x) + (x + k) L(x)` (``delta``
    Stirling's remainder, :math:`L = \log - \psi`), float32, ``~ 1/2`` for large ``x``: by the
    recurrence to ``z = x + 4``,

    .. math:: G_k(x) = \tfrac12 + \log\frac{z^3}{(x+1)(x+2)(x+3)}
              + (\tfrac12 - k)\,\mathrm{log1p}(4/x) + S(z) - \frac{4 - k}{2z} + (x + k) T(z)
              + \sum_{i=0}^{3} \frac{k - i}{x + i}

    (``S``, ``T`` the Stirling series of ``lgamma`` and ``log - digamma`` at ``z``, as
    ``gamma.shifted_stirling``); every term is of the size of the result (the first log is
    ``log1p`` of ``prod(1 + (4-i)/(x+i)) - 1``, expanded). The pole ``k/x`` is left to the
    caller: ``1/b - 1/a`` is formed as ``(a - b)/a/b`` (no cancellation for ``a ~ b -> 0``)."""
    # in place only on fresh temporaries that no recorded op saved (autograd stays valid)
    w = (x + 4).reciprocal()
    t = w * w
    r1, r2, r3 = (x + 1).reciprocal(), (x + 2).reciprocal(), (x + 3).reciprocal()
    # (1 + e1)(1 + e2)(1 + e3) - 1 for e_i = (4 - i) r_i, each step f -> e + f + e f
    f = (r2 * r3).mul_(2).add_(r2, alpha=2).add_(r3)
    f = (r1 * f).mul_(3).add_(f).add_(r1, alpha=3)
    out = torch.log1p(f)
    out = out.add_(torch.log1p(x.reciprocal() * 4), alpha=0.5 - k)
    out = out.addcmul_(_horner(t, _S_SERIES), w).add_(w, alpha=-0.5 * (4 - k))
    out = out.addcmul_((x + k) * t, _horner(t, _T_SERIES))
    # sum_{i>0} (k - i) / (x + i)
    out = out.add_(r1, alpha=k - 1).add_(r2, alpha=k - 2).add_(r3, alpha=k - 3)
    return out.add_(0.5)


def _entropy_float32(df1: torch.Tensor, df2: torch.Tensor) -> torch.Tensor:
    r"""float32 :math:`H = \tfrac12\log 2\pi + \tfrac12\log(1/a + 1/b) + G_{-1}(a) + G_1(b)
    - G_0(a + b)` (``_shifted_g``, the poles ``1/b - 1/a`` apart; no lgamma/digamma, no
    float64), ``a = d1/2``, ``b = d2/2``;
    ``log(1/a + 1/b) = log1p(m/M) - log m`` for ``m = min(a, b)``, ``M = max(a, b)``."""
    a, b = 0.5 * df1, 0.5 * df2
    m, big = torch.minimum(a, b), torch.maximum(a, b)
    out = torch.log1p(m / big).sub_(torch.log(m)).mul_(0.5).add_(_HALF_LOG_2PI)
    out = out.add_((a - b).div_(a).div_(b))
    out = out.add_(_shifted_g(a, -1)).add_(_shifted_g(b, 1))
    return out.sub_(_shifted_g(a + b, 0))


# Beyond these magnitudes the error-free transformations could overflow or underflow.
_SAFE_MAX = 1e290
_SAFE_MIN = 1e-290


def _shift_of_point(df1, df2, x, u, v):
    """``u_true - u`` to first order, for float64 ``u``, ``v = 1 - u`` (however rounded)
    near ``u_true = n1 x / (n1 x + n2)`` (``n1, n2`` the degrees times a power of two, exact),
    computed on the smaller of ``u``, ``v``: that is the point the incomplete beta kernel takes
    as exact (shifting ``u`` near 1 by its absolute rounding would move the upper tail by its
    whole size). With ``n1 x = P + e_P`` (two-product) and ``P + n2 = s + e_s`` (two-sum),
    ``w_true - w = ((N - fl(w s)) - e_ws + e_N - w (e_s + e_P)) / s`` for ``w = N / s``, the
    parentheses exact (Sterbenz). Zero where the transformations could overflow or underflow.
    At ``d1 = d2 = 1e6`` the Beta tails move by ``sqrt(a) z`` ulps per ulp of ``u``."""
    n1, n2 = _scaled_degrees(df1, df2)
    ok = (x > _SAFE_MIN) & (x < _SAFE_MAX) & (n2 > _SAFE_MIN)
    xs = torch.where(ok, x, torch.ones_like(x))
    p, e_p = two_prod(n1, xs)
    s, e_s = two_sum(p, n2)
    lower = u <= 0.5
    w = torch.where(lower, u, v)
    n = torch.where(lower, p, n2)
    e_n = torch.where(lower, e_p, torch.zeros_like(e_p))
    p_ws, e_ws = two_prod(w, s)
    d = ((n - p_ws) - e_ws + e_n - w * (e_s + e_p)) / s
    shift_u = torch.where(lower, d, -d)
    return torch.where(ok & torch.isfinite(shift_u), shift_u, torch.zeros_like(shift_u))


def _beta_log_density(a, b, u, v):
    """The Beta(a, b) log-density at ``u`` given ``v = 1 - u``, directly: it only scales a
    correction of ~1e-13 relative, so its rounding (``eps a log a``: 1e-9 relative at
    ``a = 5e5``) does not show."""
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    return torch.xlogy(a - 1, u) + torch.xlogy(b - 1, v) - log_beta


class FisherSnedecor(Distribution):
    r"""Fisher-Snedecor (F) distribution with ``df1`` and ``df2`` degrees of freedom.

    .. math:: p(x) = \frac{1}{B(\frac{d_1}{2}, \frac{d_2}{2})}
              \left(\frac{d_1}{d_2}\right)^{d_1/2} x^{d_1/2 - 1}
              \left(1 + \frac{d_1}{d_2} x\right)^{-\frac{d_1 + d_2}{2}}, \quad x > 0

    Support: :math:`(0, \infty)`. The law of :math:`(C_1 / d_1) / (C_2 / d_2)` for independent
    chi-squared :math:`C_i` with :math:`d_i` degrees of freedom.

    Args:
        df1: the numerator degrees of freedom :math:`d_1 > 0`.
        df2: the denominator degrees of freedom :math:`d_2 > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.FisherSnedecor(4.0, 6.0).log_prob(torch.tensor(1.0))
        tensor(-0.8802)
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1: Any, df2: Any, validate_args: bool | None = None) -> None:
        self.df1, self.df2 = as_params(df1, df2, owner=self._name)
        super().__init__(self.df1.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        # d2 / (d2 - 2); +inf for d2 <= 2, where the integral diverges (torch 2.13: NaN)
        df2 = self.df2
        return torch.where(df2 > 2, df2 / torch.where(df2 > 2, df2 - 2, 1.0), math.inf)

    @property
    def mode(self) -> torch.Tensor:
        # 0 (the supremum of the density, at the boundary) for d1 <= 2, as Gamma's and Chi2's
        # mode; torch 2.13 gives NaN there.
        df1, df2 = self.df1, self.df2
        return ((df1 - 2) / df1 * df2 / (df2 + 2)).clamp(min=0)

    @property
    def variance(self) -> torch.Tensor:
        # 2 (d2 / (d2 - 2))^2 (d1 + d2 - 2) / (d1 (d2 - 4)), in float64: d2^2 overflows half
        # precision (and float64 at its largest values); +inf for d2 <= 4, where E[X^2]
        # diverges (torch 2.13: NaN)
        (df1, df2), dtype = working(self.df1, self.df2)
        ok = df2 > 4
        d2 = torch.where(ok, df2, 5.0)
        ratio = d2 / (d2 - 2)
        var = 2 * ratio.square() * (df1 + d2 - 2) / (d2 - 4) / df1
        return torch.where(ok, var, math.inf).to(dtype)

    def _rsample(self, sample_shape, generator):
        # X = (G1 / a) / (G2 / b) for G1 ~ Gamma(a, 1), G2 ~ Gamma(b, 1), a = d1/2, b = d2/2,
        # in log space (no underflow of G1 for small d1); gradients flow through the
        # implicit reparameterization of both gammas.
        shape = self._extended_shape(sample_shape)
        x = self._fused_sample(shape, generator)
        if x is not None:
            return x
        a, b = 0.5 * self.df1, 0.5 * self.df2
        if _readable((a, b)) and bool((a >= 1).all()) and bool((b >= 1).all()):
            # CPU eager, no concentration below 1: no gamma near underflow, so the ratio in
            # linear space (one division instead of two logs and an exp; the same law).
            g1 = standard_gamma(a.expand(shape), generator=generator)
            g2 = standard_gamma(b.expand(shape), generator=generator)
            x = g1 / g2 * (b / a)
            return x.clamp(min=torch.finfo(x.dtype).tiny)
        log_g1 = log_standard_gamma(a, shape, generator=generator)
        log_g2 = log_standard_gamma(b, shape, generator=generator)
        x = torch.exp(log_g1 - log_g2 + (b.log() - a.log()))
        return x.clamp(min=torch.finfo(x.dtype).tiny)

    def _fused_sample(self, shape, generator):
        """``_rsample``'s linear-space draws, bit for bit, where both degrees of freedom have
        ``shape``, no graph is recorded and the rounds' terms of both are cached (``a, b >= 1``
        read from them): ``G2`` finished block by block into ``(G1 / G2) (b / a)`` while in
        cache (``b / a`` cached too); else None."""
        df1, df2 = self.df1, self.df2
        if df1.shape != shape or df2.shape != shape or df1.dtype != df2.dtype:
            return None
        if torch.is_grad_enabled() and (df1.requires_grad or df2.requires_grad):
            return None
        p1 = cached_rounds(self, df1, lambda: 0.5 * df1, "value", "rounds_df1")
        p2 = cached_rounds(self, df2, lambda: 0.5 * df2, "value", "rounds_df2")
        if p1 is None or p2 is None or p1.lowest < 1 or p2.lowest < 1:
            return None
        ratio = self._cached("df_ratio", lambda: p2.a / p1.a)
        g1 = standard_gamma(p1.a.view(shape), generator, p1).view(-1)
        tiny = torch.finfo(g1.dtype).tiny

        def finish(x, index):
            torch.div(g1[index], x, out=x).mul_(ratio[index]).clamp_(min=tiny)

        return standard_gamma(p2.a.view(shape), generator, p2, finish)

    def _log_normalizer(self):
        a, b = 0.5 * self.df1, 0.5 * self.df2
        log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
        return a * (self.df1.log() - self.df2.log()) - log_beta

    def _log_prob(self, value):
        # a log(d1 / d2) + (a - 1) log x - (a + b) log(1 + d1 x / d2) - log B(a, b), a = d1/2,
        # b = d2/2: by lgamma while the degrees of freedom are at most 20, or in float64 for
        # float32 ones up to 1e8 (utils.textbook_dtype); else without the lgamma differences
        # (see aleatorch.distributions._beta_exact)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_DF, self.df1, self.df2))
        if work is None:
            return fisher_log_prob(self.df1, self.df2, value)
        dtype = torch.promote_types(self.df1.dtype, value.dtype)
        x = value.to(torch.promote_types(work, value.dtype))
        # float32 degrees and values in float64: d1 x / d2 <= 1e8 * 2^149 * 2^128 < 1e92, so
        # log1p(d1 x / d2) directly; the floor -max of log x makes (a - 1) log 0 overflow to
        # the right infinity in float32 (|a - 1| >= 2^-24 or 0), the cap 1e300 keeps
        # (a - 1) log inf finite (a <= 5e7) against -(a + b) log1p(inf) = -inf.
        widened = dtype == torch.float32 and x.dtype == torch.float64
        a1, total, t, const, floor = self._cached(
            f"textbook_terms_{widened}", lambda: _textbook_terms(self, work, widened)
        )
        batch = self._batch_shape  # the parameters' (broadcast) shape
        if (
            widened
            and x.shape[max(0, x.dim() - len(batch)) :] == batch
            and not (
                torch.is_grad_enabled()
                and (value.requires_grad or self.df1.requires_grad or self.df2.requires_grad)
            )
        ):
            # nothing to differentiate, x of the result's shape: in place on the two float64
            # buffers (x is a fresh copy of the float32 value), fewer 1M-entry temporaries
            log_1p = torch.mul(t, x).log1p_().mul_(total)
            log_x = x.log_().clamp_(min=-torch.finfo(x.dtype).max, max=1e300)
            return log_x.mul_(a1).add_(const).sub_(log_1p).to(dtype)
        log_x = torch.log(x)
        if widened:
            log_1p = torch.log1p(t * x)
            log_x = log_x.clamp_(min=-torch.finfo(x.dtype).max, max=1e300)
        else:
            # log(1 + d1 x / d2) as softplus(log x + log(d1 / d2)): no overflow of d1 x / d2;
            # log x capped at ~log(max) + 1 so that (a - 1) log x stays finite at x = inf
            log_1p = softplus(log_x + t)
            cap = math.log(torch.finfo(x.dtype).max) + 1
            log_x = torch.clamp(log_x, min=floor).clamp_(max=cap)
        out = torch.addcmul(const, a1, log_x).sub_(total * log_1p)
        return out.to(dtype)

    def _beta_tail(self, function, value, upper: bool = False, kind: str = "cdf"):
        """``function`` (an incomplete beta) at ``u = d1 x / (d1 x + d2)``: X is F distributed
        iff U is Beta(d1/2, d2/2). In float64 (float32 on MPS): ``u`` underflows half
        precision at the smallest degrees of freedom, and ``d1 x`` overflows at the largest.
        For float64 results the rounding errors of ``u`` and ``1 - u`` are added back to first
        order (see ``_shift_of_point``)."""
        (df1, df2, value), dtype = working(*torch.broadcast_tensors(self.df1, self.df2, value))
        u, v = fisher_beta_point(df1, df2, value)
        a, b = 0.5 * df1, 0.5 * df2
        if upper:  # 1 - I_u(a, b) = I_{1-u}(b, a)
            out = function(b, a, v, u)
        else:
            out = function(a, b, u, v)
        if dtype != torch.float64 or u.dtype != torch.float64:
            # float32 results: the rounding of u (1e-16, times sqrt(a) z) is far below an ulp
            return out.to(dtype)
        with torch.no_grad():
            shift = _shift_of_point(df1.detach(), df2.detach(), value.detach(), u, v)
            if upper:
                shift = -shift  # of v = 1 - u
            log_slope = _beta_log_density(a.detach(), b.detach(), u, v)
            if kind.startswith("log"):
                log_slope = log_slope - out.detach()
            slope = torch.exp(log_slope)
            if kind == "sf":
                shift = -shift
            correction = shift * slope
            keep = (shift != 0) & torch.isfinite(correction)
            correction = torch.where(keep, correction, torch.zeros_like(correction))
        return (out + correction).to(dtype)

    def _cdf(self, value):
        return self._beta_tail(betainc, value)

    def _survival_function(self, value):
        return self._beta_tail(betaincc, value, kind="sf")

    def _log_cdf(self, value):
        return self._beta_tail(log_betainc, value, kind="log")

    def _log_survival_function(self, value):
        return self._beta_tail(log_betainc, value, upper=True, kind="log")

    def _icdf(self, value):
        # x = (d2 / d1) u / (1 - u) for the Beta(d1/2, d2/2) quantile u: from its log-odds,
        # which keeps u / (1 - u) exact where u rounds to 1 (the upper tail).
        s = betaincinv_log_odds(0.5 * self.df1, 0.5 * self.df2, value)
        return torch.exp(s + (self.df2.log() - self.df1.log()))

    def _entropy(self):
        # log(d2/d1) + log B(a, b) + (1 - a) psi(a) - (1 + b) psi(b) + (a + b) psi(a + b),
        # a = d1/2, b = d2/2, regrouped without cancellation
        df1, df2 = self.df1, self.df2
        if _float32_entropy_applies(df1, df2):
            return blockwise(_entropy_float32, torch.broadcast_tensors(df1, df2))
        return fisher_entropy(df1, df2)
