r"""Student's t cdf :func:`stdtr`, its logarithm :func:`log_stdtr` and quantile :func:`stdtrit`.

With :math:`r = t / \sqrt{\nu}`, the lower tail is an incomplete beta function,

.. math:: F_\nu(-|t|) = \tfrac12 I_x(\tfrac{\nu}{2}, \tfrac12), \quad
          x = \frac{1}{1 + r^2}, \quad 1 - x = \frac{1}{1 + r^{-2}},

(both arguments passed exactly) and the upper tail follows by symmetry,
:math:`F_\nu(t) = 1 - F_\nu(-t)`. Our :func:`~aleatorch.special.betainc` keeps its accuracy
up to :math:`\nu \approx 10^{20}` (measured); above :math:`\nu = 10^{16}` (:math:`10^8` in
float32) Hill's normal-limit transformation (Hill 1970, CACM Algorithm 395) is used instead,
which is exact to rounding there: :math:`z^2 = (\nu - \tfrac12) \log(1 + t^2/\nu)`,
:math:`F_\nu(-|t|) = \Phi(-y(z))`.

The quantile inverts the incomplete beta in log-odds form,
:math:`s = \log\frac{x}{1-x} = \log\nu - 2 \log|t|`, so :math:`|t| = e^{(\log\nu - s)/2}` comes
out without cancellation at both ends; for such :math:`\nu` it is the Cornish-Fisher
expansion around the normal quantile.

Helpers for the family: :func:`log_t_normalizer` (:math:`\log` of the density at 0) and
:func:`t_entropy_excess` (entropy minus the normal's), both free of the lgamma-difference
cancellation at large :math:`\nu`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from .incomplete_beta import betainc, log_betainc
from .incomplete_beta_inverse import betaincinv_log_odds
from .stirling import _working

__all__ = ["log_stdtr", "log_t_normalizer", "stdtr", "stdtrit", "t_entropy_excess"]

_LOG_HALF = math.log(0.5)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_HALF_LOG_PI = 0.5 * math.log(math.pi)
_SQRT_HALF = math.sqrt(0.5)
# Hill's normal-limit form takes over here: its first neglected term is O(1/nu^3), and the
# incomplete beta is measured exact to 1e20.
_HUGE_DF = {torch.float64: 1e16, torch.float32: 1e8}
# The asymptotic series below are used from z = nu / 2 >= 10 on (first omitted term < 1e-18).
_SERIES_FROM = 10.0


def _bernoulli(n: int) -> list[Fraction]:
    numbers = [Fraction(1)]
    for m in range(1, n + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


def _ratio_series() -> dict[int, Fraction]:
    """Coefficients d_n of ``D(z) = lgamma(z + 1/2) - lgamma(z) - log(z) / 2 ~ sum d_n z^-n``:
    ``d_n = (2^-n - 2) B_(n+1) / (n (n + 1))`` for odd n (the even ones vanish)."""
    numbers = _bernoulli(21)
    return {n: (Fraction(1, 2**n) - 2) * numbers[n + 1] / (n * (n + 1)) for n in range(1, 20, 2)}


_D = _ratio_series()
# D(z) as a polynomial in w = 1/z (index = power).
_D_POLY = [float(_D.get(n, 0)) for n in range(0, 20)]
# E(z) = 1/(4z) + (z + 1/2) D'(z) - D(z): the Student-t entropy minus the normal's.
_E = {1: Fraction(1, 4)}
for _n, _d in _D.items():
    _E[_n] = _E.get(_n, 0) - (_n + 1) * _d
    _E[_n + 1] = _E.get(_n + 1, 0) - Fraction(_n, 2) * _d
_E_POLY = [float(_E.get(n, 0)) for n in range(0, 21)]


def _polynomial(coefficients: list[float], w: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(w)
    for c in reversed(coefficients):
        out = out * w + c
    return out


def _half_ratio(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``D(z) = lgamma(z + 1/2) - lgamma(z) - log(z) / 2`` and whether the series was used."""
    big = z >= _SERIES_FROM
    w = torch.where(big, z, _SERIES_FROM).reciprocal()
    small = torch.where(big, 1.0, z)
    direct = torch.lgamma(small + 0.5) - torch.lgamma(small) - 0.5 * small.log()
    return torch.where(big, _polynomial(_D_POLY, w), direct), big


def log_t_normalizer(df: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \frac{\Gamma((\nu+1)/2)}{\Gamma(\nu/2)\sqrt{\nu\pi}}`, the log-density of
    the standard Student t at 0, as :math:`D(\nu/2) - \tfrac12\log 2\pi` with
    :math:`D(z) = \log\Gamma(z+\tfrac12) - \log\Gamma(z) - \tfrac12\log z` from its asymptotic
    series for :math:`\nu \ge 20` (no difference of two large lgamma values)."""
    d, _ = _half_ratio(0.5 * df)
    return d - _HALF_LOG_2PI


def t_entropy_excess(df: torch.Tensor) -> torch.Tensor:
    r"""The entropy of the standard Student t minus the standard normal's,
    :math:`(z+\tfrac12)(\psi(z+\tfrac12) - \psi(z)) - \tfrac12 - D(z)` with :math:`z = \nu/2`
    (:math:`\approx 1/\nu` for large :math:`\nu`, from its series there)."""
    z = 0.5 * df
    big = z >= _SERIES_FROM
    w = torch.where(big, z, _SERIES_FROM).reciprocal()
    small = torch.where(big, 1.0, z)
    d_small, _ = _half_ratio(small)
    direct = (small + 0.5) * (torch.digamma(small + 0.5) - torch.digamma(small)) - 0.5 - d_small
    return torch.where(big, _polynomial(_E_POLY, w), direct)


def _log1p_square(r: torch.Tensor) -> torch.Tensor:
    """``log(1 + r^2)`` without overflow of ``r^2``."""
    small = r.abs() <= 1
    inner = torch.log1p(torch.where(small, r, 0.0).square())
    big = torch.where(small, 1.0, r).abs()
    return torch.where(small, inner, 2 * big.log() + torch.log1p(big.reciprocal().square()))


def _hill_z(df: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hill's normal deviate ``y >= 0`` with ``F_nu(-|t|) ~ Phi(-y)`` (Algorithm 395),
    computed in float64 (its polynomial in ``y ~ nu log(t^2/nu)`` overflows float32)."""
    dtype = r.dtype
    df, r = df.to(torch.float64), r.to(torch.float64)
    a = df - 0.5
    b = 48 * a * a
    y = a * _log1p_square(r)
    poly = ((-0.4 * y - 3.3) * y - 24.0) * y - 85.5
    correction = (poly / (0.8 * y * y + 100.0 + b) + y + 3.0) / b
    return ((1 + correction) * y.sqrt()).to(dtype)


def _slope(df: torch.Tensor) -> torch.Tensor:
    """``dF/dr`` at ``r = 0``: ``Gamma((nu+1)/2) / (Gamma(nu/2) sqrt(pi))``."""
    return torch.exp(log_t_normalizer(df) + 0.5 * df.log())


def _lower_tail(df: torch.Tensor, t: torch.Tensor, log: bool):
    """``F_nu(-|t|)`` (or its log), ``r``, and whether ``r = 0``.

    At ``r = 0`` the incomplete beta is taken at ``x = 1`` where its derivatives are
    ``inf * 0``: the tail is evaluated at ``r = 1`` instead (safe where) and the callers use
    ``1/2 +- slope * r``, exact in value and first derivatives there."""
    r = t / df.sqrt()
    center = r == 0
    safe = torch.where(center, 1.0, r)
    huge_df = _HUGE_DF.get(df.dtype, 1e8)
    huge = df > huge_df
    df_beta = torch.where(huge, 1.0, df)
    x = (1 + safe.square()).reciprocal()
    y = (1 + safe.square().reciprocal()).reciprocal()
    z = _hill_z(torch.where(huge, df, 2 * huge_df), safe)
    # Where x = 1/(1 + r^2) < eps^2 (it may underflow), I_x(a, 1/2) = x^a / (a B(a, 1/2)) to
    # rounding: its log is -a log(1 + r^2) + D(a) - log(a)/2 - log(pi)/2.
    far = safe.abs() > 1 / torch.finfo(r.dtype).eps
    a_far = 0.5 * torch.where(far, df, 1.0)
    # log(1 + r^2) = 2 log|r| there, with log|r| from t and df (r itself may overflow)
    log_r = torch.where(far, t, 1.0).abs().log() - 0.5 * torch.where(far, df, 1.0).log()
    log_far = _LOG_HALF - 2 * a_far * log_r + _half_ratio(a_far)[0]
    log_far = log_far - 0.5 * a_far.log() - _HALF_LOG_PI
    beta_x = torch.where(far, 0.5, x)
    beta_y = torch.where(far, 0.5, y)
    if log:
        beta = _LOG_HALF + log_betainc(0.5 * df_beta, 0.5, beta_x, beta_y)
        beta = torch.where(far, log_far, beta)
        normal = torch.special.log_ndtr(-z)
    else:
        beta = 0.5 * betainc(0.5 * df_beta, 0.5, beta_x, beta_y)
        beta = torch.where(far, log_far.exp(), beta)
        normal = 0.5 * torch.special.erfc(z * _SQRT_HALF)
    return torch.where(huge, normal, beta), r, center


def stdtr(df, t) -> torch.Tensor:
    r"""The Student t cdf :math:`F_\nu(t)` with :math:`\nu` = ``df`` degrees of freedom.

    .. math:: F_\nu(t) = \int_{-\infty}^t \frac{\Gamma(\frac{\nu+1}{2})}
              {\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}}
              \left(1 + \frac{s^2}{\nu}\right)^{-\frac{\nu+1}{2}} ds

    Full relative accuracy in the lower tail down to the smallest positive float, for
    :math:`\nu` from 1e-3 to the largest float. Differentiable in ``df`` and ``t``.
    Use :func:`log_stdtr` where the cdf underflows, and ``stdtr(df, -t)`` for the upper tail.

    Example:
        >>> stdtr(torch.tensor(3.0), torch.tensor(-2.0))
        tensor(0.0697)
    """
    (df, t), dtype = _working(df, t)
    w, r, center = _lower_tail(df, t, log=False)
    out = torch.where(r <= 0, w, 1 - w)
    return torch.where(center, 0.5 + _slope(df) * r, out).to(dtype)


def log_stdtr(df, t) -> torch.Tensor:
    r""":math:`\log F_\nu(t)`, finite wherever the cdf underflows (``log_stdtr(3, -1e10)`` is
    about ``-68.98``) and exact as :math:`F \to 1`. Differentiable in ``df`` and ``t``.

    Example:
        >>> f64 = torch.float64
        >>> log_stdtr(torch.tensor(3.0, dtype=f64), torch.tensor(-1e10, dtype=f64))
        tensor(-68.9798, dtype=torch.float64)
    """
    (df, t), dtype = _working(df, t)
    log_w, r, center = _lower_tail(df, t, log=True)
    out = torch.where(r <= 0, log_w, torch.log1p(-log_w.exp()))
    # log(1/2 + s r) = log(1/2) + 2 s r to first order
    return torch.where(center, _LOG_HALF + 2 * _slope(df) * r, out).to(dtype)


def _cornish_fisher(df: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The t quantile from the normal one for large ``df`` (first two orders in 1/df)."""
    z2 = z * z
    first = (z2 + 1) / 4
    second = ((5 * z2 + 16) * z2 + 3) / 96
    return z * (1 + (first + second / df) / df)


def stdtrit(df, p) -> torch.Tensor:
    r"""The Student t quantile: :math:`t` with :math:`F_\nu(t) = p`, :math:`p \in [0, 1]`.

    Inverts :math:`\tfrac12 I_x(\nu/2, \tfrac12) = \min(p, 1-p)` for the log-odds of
    :math:`x` (the solver works with the complement :math:`1 - 2p` above 1/4, exact
    there), then :math:`|t| = \sqrt{\nu}\, e^{-s/2}`.
    ``p = 0`` and ``1`` give :math:`\mp\infty`. Differentiable in ``df`` and ``p``
    (:math:`\partial t/\partial p = 1/f_\nu(t)`).

    Example:
        >>> stdtrit(torch.tensor(3.0), torch.tensor(0.975))
        tensor(3.1824)
    """
    (df, p_given), dtype = _working(df, p)
    # At p = 1/2 the incomplete beta is inverted at 0 (log-odds inf, derivatives inf * 0):
    # solve at 1/4 instead and use t = (p - 1/2) / f(0) there, exact in value and first
    # derivatives (f(0) is the density at the median).
    center = p_given == 0.5
    p = torch.where(center, 0.25, p_given)
    lower = p < 0.5
    tail = torch.where(lower, p, 1 - p)  # exact for p >= 1/2
    huge_df = _HUGE_DF.get(df.dtype, 1e8)
    huge = df > huge_df
    a = 0.5 * torch.where(huge, 1.0, df)
    # 2 tail is exact, and so is the complement 1 - 2 tail the solver switches to above 1/2
    s = betaincinv_log_odds(a, 0.5, 2 * tail)
    # Deep in the tail, where x < eps^2 (and may underflow, so that the solver's log-odds
    # saturate), x^a / (a B(a, 1/2)) = 2 tail to rounding: solve it for s = log x directly.
    # |t| = sqrt(nu) (C tail)^(-1/nu) with C = 2 a B(a, 1/2), through pow rather than
    # exp(log): exp of a log near 700 would cost ~700 ulps.
    two_tail = 2 * tail
    log_c = 0.5 * a.log() - _half_ratio(a)[0] + _HALF_LOG_PI
    s_power = (two_tail.log() + log_c) / a
    power = s_power < 2 * math.log(torch.finfo(p.dtype).eps)
    s = torch.where(power, s_power, s)
    scaled = torch.exp(log_c) * torch.where(power, two_tail, 1.0)
    power_magnitude = torch.where(huge, 1.0, df).sqrt() * scaled.pow(-0.5 / a)
    magnitude = torch.exp(0.5 * (torch.where(huge, 1.0, df).log() - s))
    # pow is exact to an ulp unless C tail is subnormal (then exp(log) is as good)
    use_pow = power & (scaled >= torch.finfo(p.dtype).tiny)
    magnitude = torch.where(use_pow, power_magnitude, magnitude)
    normal = -torch.special.ndtri(tail)
    magnitude = torch.where(
        huge, _cornish_fisher(torch.where(huge, df, 2 * huge_df), normal), magnitude
    )
    out = torch.where(lower, -magnitude, magnitude)
    out = torch.where(center, (p_given - 0.5) * torch.exp(-log_t_normalizer(df)), out)
    return torch.where(torch.isnan(p_given), math.nan, out).to(dtype)
