"""Stirling-type terms that let log-densities avoid differences of large ``lgamma`` values.

``lgamma(a) + lgamma(b) - lgamma(a + b)`` or ``k log m - m - lgamma(k + 1)`` subtract numbers
of size ``a log a`` to get a result of size ``log a``: in float32 at ``a = 1e6`` that leaves
no correct digit. Writing ``lgamma`` as Stirling's leading terms plus the small remainder
``stirlerr``, and the leading terms' difference as the deviance ``bd0`` (Loader 2000, "Fast
and accurate computation of binomial probabilities", as R's ``dbinom``/``dpois`` do), keeps
every term of the size of the result.

All functions take tensors of any floating dtype (float16/bfloat16 are computed in float32),
broadcast their arguments, use fixed series lengths (no data-dependent control flow) and are
differentiable by autograd.
"""

from __future__ import annotations

import math

import torch

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# Bernoulli-number coefficients B_2k / (2k (2k - 1)), k = 1..15: stirlerr(x) ~ sum_k c_k x^(1-2k);
# from x = 6 on, the first omitted term is below 1e-17 (the direct formula below 6 cancels at
# most a factor ~800).
_STIRLERR_SERIES = [
    1 / 12,
    -1 / 360,
    1 / 1260,
    -1 / 1680,
    1 / 1188,
    -691 / 360360,
    1 / 156,
    -3617 / 122400,
    43867 / 244188,
    -174611 / 125400,
    77683 / 5796,
    -236364091 / 1506960,
    657931 / 300,
    -3392780147 / 93960,
    1723168255201 / 2492028,
]
_STIRLERR_SERIES_FROM = 6.0
# zeta(2), ..., zeta(29): Taylor coefficients of log Gamma near 1 and 2 (the incomplete beta's
# lgamma1p, the Gumbel and Weibull KLs).
_ZETA = [
    1.6449340668482264,
    1.2020569031595942,
    1.0823232337111381,
    1.03692775514337,
    1.0173430619844492,
    1.008349277381923,
    1.0040773561979444,
    1.0020083928260821,
    1.000994575127818,
    1.0004941886041194,
    1.000246086553308,
    1.0001227133475785,
    1.0000612481350588,
    1.000030588236307,
    1.0000152822594086,
    1.0000076371976379,
    1.000003817293265,
    1.0000019082127165,
    1.0000009539620338,
    1.0000004769329869,
    1.0000002384505027,
    1.000000119219926,
    1.000000059608189,
    1.0000000298035034,
    1.0000000149015549,
    1.0000000074507118,
    1.000000003725334,
    1.0000000018626598,
]
# B_2k / (2k), k = 1..8: log(x) - digamma(x) ~ 1/(2x) + sum_k c_k x^(-2k).
_LOG_MINUS_DIGAMMA_SERIES = [
    1 / 12,
    -1 / 120,
    1 / 252,
    -1 / 240,
    1 / 132,
    -691 / 32760,
    1 / 12,
    -3617 / 8160,
]
# Below this argument the direct formulas lose at most a factor ~50 to cancellation; above it
# the asymptotic series' first omitted term is below 1e-18.
_SERIES_FROM = 10.0
# log1p(x) - x by the atanh series in |x| < 0.3 (v = x / (2 + x), |v| <= 0.18): 12 terms.
_LOG1PMX_FROM = 0.3
_ATANH_TAIL = [1.0 / (2 * j + 3) for j in range(12)]
# bd0's series region |x - m| < 0.1 (x + m): |v| < 0.1, 10 terms reach 1e-20.
_BD0_CLOSE = 0.1
_BD0_TERMS = [1.0 / (2 * j + 3) for j in range(10)]


def _working(*tensors: torch.Tensor) -> tuple[list[torch.Tensor], torch.dtype]:
    """Broadcast tensors to a common float dtype; half precision is computed in float32."""
    tensors = [torch.as_tensor(t) for t in tensors]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    work = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    return [t.to(work) for t in torch.broadcast_tensors(*tensors)], dtype


def _horner(coefficients: list[float], t: torch.Tensor) -> torch.Tensor:
    """``sum_k coefficients[k] * t**k`` (out of place, so forward-mode AD works)."""
    total = torch.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total = total * t + c
    return total


def stirlerr(x: torch.Tensor) -> torch.Tensor:
    r"""Stirling's remainder :math:`\log\Gamma(x+1) - (x+\tfrac12)\log x + x - \tfrac12\log 2\pi`.

    Equivalently :math:`\log\Gamma(x) - (x-\tfrac12)\log x + x - \tfrac12\log 2\pi`, for
    ``x > 0``; it behaves as ``1/(12 x)`` for large ``x``. The asymptotic series (15 terms) for
    ``x >= 6``, ``lgamma`` below (float32 computes that difference in float64: in float32 it
    would keep only 3 digits).
    """
    (x,), dtype = _working(x)
    big = x.clamp(min=_STIRLERR_SERIES_FROM)
    series = _horner(_STIRLERR_SERIES, big.reciprocal().square()) / big
    small = x.clamp(max=_STIRLERR_SERIES_FROM)
    wide = small.double() if small.dtype == torch.float32 else small
    direct = torch.lgamma(wide) - (wide - 0.5) * torch.log(wide) + wide - _HALF_LOG_2PI
    return torch.where(x >= _STIRLERR_SERIES_FROM, series, direct.to(x.dtype)).to(dtype)


def log_minus_digamma(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log x - \psi(x)` for ``x > 0``: positive, ``~ 1/(2x)`` for large ``x``.

    Entropies of the gamma and beta families contain ``log a - digamma(a)``; computed as a
    difference it has no correct digit in float32 beyond ``a ~ 1e6``. Asymptotic series for
    ``x >= 10``, the direct difference below.
    """
    (x,), dtype = _working(x)
    big = x.clamp(min=_SERIES_FROM)
    inv2 = big.reciprocal().square()
    series = 0.5 / big + inv2 * _horner(_LOG_MINUS_DIGAMMA_SERIES, inv2)
    small = x.clamp(max=_SERIES_FROM)
    direct = torch.log(small) - torch.digamma(small)
    return torch.where(x >= _SERIES_FROM, series, direct).to(dtype)


def log1pmx(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log(1 + x) - x` for ``x > -1``, to full relative precision near 0 (``-x^2/2``).

    With :math:`v = x / (2 + x)`, :math:`\log(1+x) = 2\,\mathrm{atanh}(v)` and
    :math:`x = 2v / (1 - v)`, so :math:`\log(1+x) - x = -2v^2/(1-v) + 2v^3 (1/3 + v^2/5 + \dots)`,
    whose two parts do not cancel; used for ``|x| < 0.3``, the direct difference elsewhere.
    """
    (x,), dtype = _working(x)
    close = x.abs() < _LOG1PMX_FROM
    t = torch.where(close, x, torch.zeros_like(x))
    v = t / (2 + t)
    v2 = v * v
    series = -2 * v2 / (1 - v) + 2 * v * v2 * _horner(_ATANH_TAIL, v2)
    far = torch.where(close, torch.ones_like(x), x)
    return torch.where(close, series, torch.log1p(far) - far).to(dtype)


def bd0(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    r"""The deviance term :math:`x \log(x/m) + m - x \ge 0` (Loader 2000), for ``x >= 0, m > 0``.

    It is the difference of two numbers of size ``x log x`` when ``x`` is near ``m``; there,
    with :math:`v = (x - m)/(x + m)`, it equals
    :math:`v (x - m) + 2x (v^3/3 + v^5/5 + \dots)` (no cancellation). Elsewhere
    :math:`x \log(x/m) + m - x`, with the logarithm as ``log1p((x - m)/m)`` while
    ``m/2 <= x <= 2m`` (``log x - log m`` would cost ~``log x`` ulps there) and as
    ``log x - log m`` beyond (no overflow of the ratio); ``bd0(0, m) = m``. Sums and
    differences are formed from halves, so nothing overflows below the largest float.
    """
    (x, m), dtype = _working(x, m)
    half_x, half_m = 0.5 * x, 0.5 * m
    half_gap = half_x - half_m
    close = half_gap.abs() < _BD0_CLOSE * (half_x + half_m)
    xs = torch.where(close, x, torch.ones_like(x))
    ms = torch.where(close, m, torch.ones_like(m))
    v = (0.5 * xs - 0.5 * ms) / (0.5 * xs + 0.5 * ms)
    v2 = v * v
    series = v * (xs - ms) + xs * (2 * v * v2 * _horner(_BD0_TERMS, v2))
    xf = torch.where(close, torch.ones_like(x), x)
    mf = torch.where(close, torch.full_like(m, 2.0), m)
    positive = xf > 0
    near = (xf >= 0.5 * mf) & (xf <= 2 * mf)
    relative_gap = torch.where(near, (xf - mf) / mf, torch.zeros_like(xf))
    log_ratio = torch.where(
        near,
        torch.log1p(relative_gap),
        torch.log(torch.where(positive, xf, 1.0)) - torch.log(mf),
    )
    x_log_ratio = torch.where(positive, xf * log_ratio, 0.0)
    far = x_log_ratio + (mf - xf)
    return torch.where(close, series, far).to(dtype)


def lbeta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r""":math:`\log B(a, b) = \log\Gamma(a) + \log\Gamma(b) - \log\Gamma(a+b)` for ``a, b > 0``.

    Exact-ish in both arguments' range: with ``p = min(a, b)``, ``q = max(a, b)``,

    * ``p >= 10``: Stirling for all three, the leading terms grouped as
      :math:`\tfrac12\log 2\pi - \tfrac12\log(p+q) + (p-\tfrac12)\log\frac{p}{p+q}
      - (q-\tfrac12)\,\mathrm{log1p}(p/q)` plus the three ``stirlerr`` remainders;
    * ``p < 10 <= q``: :math:`\log\Gamma(p) - [\log\Gamma(q+p) - \log\Gamma(q)]` with the bracket
      as :math:`p\log q + (q+p-\tfrac12)\,\mathrm{log1p}(p/q) - p` plus remainders;
    * ``q < 10``: the three ``lgamma`` directly.
    """
    (a, b), dtype = _working(a, b)
    p = torch.minimum(a, b)
    q = torch.maximum(a, b)
    both_big = p >= _SERIES_FROM
    one_big = (q >= _SERIES_FROM) & ~both_big
    # every branch sees safe arguments, so that unused branches stay finite for autograd
    qb = q.clamp(min=_SERIES_FROM)
    pb = torch.where(both_big, p, torch.full_like(p, _SERIES_FROM))
    ratio_b = pb / qb
    stirling_terms = stirlerr(pb) + stirlerr(qb) - stirlerr(pb + qb)
    both = (
        _HALF_LOG_2PI
        - 0.5 * torch.log(pb + qb)
        + (pb - 0.5) * (torch.log(ratio_b) - torch.log1p(ratio_b))
        - (qb - 0.5) * torch.log1p(ratio_b)
        + stirling_terms
    )
    ps = p.clamp(max=_SERIES_FROM)
    ratio_s = ps / qb
    lgamma_ratio = (
        ps * torch.log(qb)
        + (qb + ps - 0.5) * torch.log1p(ratio_s)
        - ps
        + stirlerr(qb + ps)
        - stirlerr(qb)
    )
    one = torch.lgamma(ps) - lgamma_ratio
    qs = q.clamp(max=_SERIES_FROM)
    direct = torch.lgamma(ps) + torch.lgamma(qs) - torch.lgamma(ps + qs)
    return torch.where(both_big, both, torch.where(one_big, one, direct)).to(dtype)
