"""Student's t distribution."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import torch

from .. import constraints
from .._samplers.gamma import cached_rounds, log_standard_gamma
from .._samplers.marsaglia_tsang import _eager_ok
from ..distribution import Distribution
from ..special.student_t import _D, log_stdtr, log_t_normalizer, stdtr, stdtrit, t_entropy_excess
from ..utils import (
    _WIDENED_LIMIT,
    PYTHON_NUMEL,
    _flat_list,
    _readable,
    as_params,
    from_floats,
    python_wanted,
    textbook_dtype,
)
from .gamma import (
    HALF,
    ONE,
    blockwise,
    float32_within,
)

__all__ = ["StudentT"]

_NORMAL_ENTROPY = 0.5 * (1 + math.log(2 * math.pi))
_LOG_PI = math.log(math.pi)
_PI = {dtype: torch.full((), math.pi, dtype=dtype) for dtype in ONE}
_TEXTBOOK_DF = 20.0  # df up to which the log-normalizer is the lgamma difference
_FLOAT32_DF = 1e8  # df up to which the float32 entropy is used (p_(x+1/2) stays finite)


def _half_log_kernel(z: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """``(nu + 1)/2 * log(1 + z^2 / nu)`` without overflow of ``z^2``.

    With ``r = z / sqrt(nu)``: ``(nu + 1)/2 * log1p(r^2)`` while ``|r| <= 1e15``, beyond it
    ``(nu + 1) log|r|`` with ``log|r|`` from ``z`` and ``nu`` (``r`` itself may overflow;
    the dropped ``log1p(r^-2) / 2`` is below 1e-30). Where ``r^2`` underflows (``nu`` near
    the largest float) the kernel is below ``z^2`` and its absolute error far below an ulp
    of ``max(1, |log p|)``."""
    r = z / df.sqrt()
    far = r.abs() > _FAR_RATIO
    near = (0.5 * (df + 1)) * torch.log1p(torch.where(far, 0.0, r).square())
    log_r = z.abs().log() - 0.5 * df.log()
    return torch.where(far, (df + 1) * log_r, near)


_FAR_RATIO = 1e15


def _python_log_prob(df, loc, scale, value):
    """``lgamma((d+1)/2) - lgamma(d/2) - log(d pi)/2 - log s - (d+1)/2 log1p(r^2)``,
    ``r = (x - m) / (s sqrt d)``, entry by entry in Python floats (double precision, as the
    small tensor path's float64 terms) for a few entries; None (the tensor path) where the
    shapes differ or an entry lies beyond that path's range (df up to 1e8, ``|r|`` up to
    ``_FAR_RATIO``), or is not finite."""
    shape = value.shape
    if not (df.shape == loc.shape == scale.shape == shape) or not value.numel():
        return None
    log, log1p, lgamma, sqrt, out = math.log, math.log1p, math.lgamma, math.sqrt, []
    for d, m, s, x in zip(_flat_list(df), _flat_list(loc), _flat_list(scale), _flat_list(value)):
        if not (0.0 < d <= _WIDENED_LIMIT and 0.0 < s < math.inf and abs(x - m) < math.inf):
            return None  # (NaN too)
        r = (x - m) / s / sqrt(d)
        if not abs(r) <= _FAR_RATIO:
            return None
        h = 0.5 * d
        out.append(
            lgamma(h + 0.5) - lgamma(h) - 0.5 * log(d * math.pi) - log(s) - (h + 0.5) * log1p(r * r)
        )
    return from_floats(out, value.dtype, shape)


# float32 entropy (_entropy_float32), from D(z) = lgamma(z + 1/2) - lgamma(z) - log(z)/2
# ~ sum d_n z^-n at z = nu/2 + 4: (x + 1/2) (D'(z) + 1/(2z)) - 1/2 - D(z) = -w f(w), w = 1/z,
# f = sum (n + 1) d_n w^(n-1) - 7/2 sum n d_n w^n + 7/4 (n odd <= 9; the first omitted term
# is below 1.1e-8 at z >= 4).
_F_SERIES = [0.0] * 10
for _n in range(1, 10, 2):
    _F_SERIES[_n - 1] += float((_n + 1) * _D[_n])
    _F_SERIES[_n] -= float(Fraction(7, 2) * _n * _D[_n])
_F_SERIES[0] += 1.75


def _entropy_float32(df: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    r"""float32 ``H = H(normal) + E(x) + log(scale)``, ``x = nu/2``,
    ``E(x) = (x + 1/2) (psi(x + 1/2) - psi(x)) - 1/2 - D(x)``, shifted to ``z = x + 4``:
    with ``p_w = w (w+1) (w+2) (w+3)`` and ``r_w = p_w' / p_w``,
    ``E(x) = -f(1/z)/z + (x + 1/2) (r_x - r_(x+1/2)) + log(p_(x+1/2) / (p_x sqrt(z / x)))``
    (``D(x) = D(z) + log(z/x)/2 - log(p_(x+1/2) / p_x)``, ``psi(x) = psi(z) - r_x``): terms
    of size at most ``1/x``, no digamma or lgamma calls."""
    x = 0.5 * df
    z = x + 4
    rz = z.reciprocal()
    out = rz * _F_SERIES[-1]
    for c in _F_SERIES[-2::-1]:
        out = out.add_(c).mul_(rz)
    x3 = x + 3  # p_x = y (y + 2), y = x (x + 3); p_x' = (y + 1) (4 x + 6)
    y = x3 * x
    y2 = y + 2
    r = (x * 4 + 6).mul_(y + 1).div_(y2 * y)
    h = x + 0.5
    yh = (x + 3.5).mul_(h)
    p_h = (yh + 2).mul_(yh)
    r = r.sub_((h * 4 + 6).mul_(yh + 1).div_(p_h))
    # p_x sqrt(z / x) = sqrt(x z) (x + 3) (y + 2): nothing overflows for tiny x
    log_ratio = (p_h / (x * z).sqrt_().mul(x3).mul_(y2)).log_()
    out = log_ratio.sub_(out).addcmul_(h, r)
    return out.add_(scale.log()).add_(_NORMAL_ENTROPY)


class StudentT(Distribution):
    r"""Student's t distribution with ``df`` degrees of freedom, location ``loc`` and ``scale``.

    .. math:: p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}\,\sigma}
              \left(1 + \frac{z^2}{\nu}\right)^{-\frac{\nu+1}{2}}, \quad z = \frac{x - \mu}{\sigma}

    Support: the real line. The mean is NaN for :math:`\nu \le 1`; the variance is infinite
    for :math:`1 < \nu \le 2` and NaN for :math:`\nu \le 1`, as in torch. The cdf, its log,
    the survival function and the quantile come from :mod:`aleatorch.special.student_t`
    (accurate in both tails, log-space where the cdf underflows, ``df`` up to the largest
    float); the log-density and entropy use the asymptotic series of
    :math:`\log\Gamma(\frac{\nu+1}{2}) - \log\Gamma(\frac{\nu}{2})` for large ``df``.

    Args:
        df: the degrees of freedom :math:`\nu > 0`.
        loc: the location :math:`\mu` (median and mode).
        scale: the scale :math:`\sigma > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.StudentT(3.0).log_prob(torch.tensor(0.0))
        tensor(-1.0009)
    """

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(
        self, df: Any, loc: Any = 0.0, scale: Any = 1.0, validate_args: bool | None = None
    ) -> None:
        self.df, self.loc, self.scale = as_params(df, loc, scale, owner=self._name)
        super().__init__(self.df.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return torch.where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self) -> torch.Tensor:
        return self.loc.expand(self.batch_shape)

    @property
    def median(self) -> torch.Tensor:
        return self.loc.expand(self.batch_shape)

    @property
    def variance(self) -> torch.Tensor:
        df = self.df
        finite = df > 2
        ratio = df / torch.where(finite, df - 2, 1.0)
        infinite = torch.where(df > 1, math.inf, math.nan)
        return torch.where(finite, self.scale.square() * ratio, infinite)

    def _rsample(self, sample_shape, generator):
        # X = mu + sigma Z sqrt(nu / (2 G)) for Z standard normal and G ~ Gamma(nu/2, 1)
        # (chi^2_nu = 2 G), with the gamma drawn in log space: gradients in nu flow through
        # its implicit reparameterization.
        if _eager_ok(self.df) and not (torch.is_grad_enabled() and self._any_requires_grad()):
            return self._sample(sample_shape, generator)  # (no graph: the same numbers)
        shape = self._extended_shape(sample_shape)
        half_df = 0.5 * self.df
        log_g = log_standard_gamma(half_df, shape, generator=generator)
        z = torch.randn(shape, dtype=self.df.dtype, device=self.df.device, generator=generator)
        return self.loc + self.scale * z * torch.exp(0.5 * (half_df.log() - log_g))

    def _any_requires_grad(self) -> bool:
        return self.df.requires_grad or self.loc.requires_grad or self.scale.requires_grad

    def _sample(self, sample_shape, generator):
        # _rsample's numbers, its arithmetic written in place over its fresh draws (CPU
        # eager; no graph here): the same operations on the same operands, bit for bit
        if not _eager_ok(self.df):
            return self._rsample(sample_shape, generator)
        shape = self._extended_shape(sample_shape)
        df = self.df
        # the rounds' parameter terms (nu/2 among them) and log(nu/2) kept for the next draw
        # where the draw has the parameters' shape: the same numbers, fewer passes
        prepared = cached_rounds(self, df, lambda: 0.5 * df, "log") if shape == df.shape else None
        if prepared is not None:
            half_df = prepared.a.view(shape)
            log_half_df = self._cached("log_half_df", lambda: half_df.log())
        else:
            half_df = 0.5 * df
            log_half_df = half_df.log()
        log_g = log_standard_gamma(half_df, shape, generator=generator, prepared=prepared)
        z = torch.randn(shape, dtype=df.dtype, device=df.device, generator=generator)
        scaled = log_g.neg_().add_(log_half_df).mul_(0.5).exp_()
        return z.mul_(self.scale).mul_(scaled).add_(self.loc)

    def _standardize(self, value):
        return (value - self.loc) / self.scale

    def _log_prob(self, value):
        df, loc, scale = self.df, self.loc, self.scale
        # small: the same terms without the caching (of no use at this size) and, when no
        # |r| is beyond _FAR_RATIO (read from Python), without the far branch
        small = df.numel() < self._cache_min_numel and (
            df.dtype == loc.dtype == scale.dtype == value.dtype in ONE
        )
        if small and value.numel() <= PYTHON_NUMEL and python_wanted(df, loc, scale, value):
            out = _python_log_prob(df, loc, scale, value)
            if out is not None:
                return out
        # (entries read and ops in place below: every operand a plain CPU eager tensor)
        work = small and _readable((loc, scale, value)) and textbook_dtype(_TEXTBOOK_DF, df)
        if work:
            z = (value - loc) / scale
            r = z / df.sqrt()
            if all(abs(v) <= _FAR_RATIO for v in _flat_list(r)):
                d = df if work is df.dtype else df.to(work)  # (a no-op .to costs ~1 us)
                half = d * HALF[work]
                const = torch.lgamma(half + HALF[work]).sub_(torch.lgamma(half))
                const = const.sub_(torch.log(d * _PI[work]), alpha=0.5)
                if work is not df.dtype:
                    const = const.to(df.dtype)
                kernel = torch.log1p(r.square()).mul_(df + ONE[df.dtype]).mul_(HALF[df.dtype])
                return const.sub_(scale.log()) - kernel
        z = self._standardize(value)
        const = self._cached("log_normalizer", self._log_normalizer)
        return const - _half_log_kernel(z, self.df)

    def _log_normalizer(self):
        """log of the density at ``loc``: the lgamma difference directly for df <= 20 (CPU
        eager, utils.textbook_dtype: terms below ~25, no cancellation to speak of; in float64
        for float32 df up to 1e8), else the cancellation-free series of ``log_t_normalizer``."""
        df = self.df
        work = textbook_dtype(_TEXTBOOK_DF, df)  # float64 for float32 df up to 1e8
        if work is not None:
            df_w = df.to(work)
            half = 0.5 * df_w
            normalizer = (
                torch.lgamma(half + 0.5) - torch.lgamma(half) - 0.5 * (df_w.log() + _LOG_PI)
            )
            normalizer = normalizer.to(df.dtype)
        else:
            normalizer = log_t_normalizer(df)
        return normalizer - self.scale.log()

    def _cdf(self, value):
        return stdtr(self.df, self._standardize(value))

    def _survival_function(self, value):
        return stdtr(self.df, -self._standardize(value))

    def _log_cdf(self, value):
        return log_stdtr(self.df, self._standardize(value))

    def _log_survival_function(self, value):
        return log_stdtr(self.df, -self._standardize(value))

    def _icdf(self, value):
        return self.loc + self.scale * stdtrit(self.df, value)

    def _entropy(self):
        # H = H(normal) + excess(nu) + log(sigma); the excess ~ 1/nu is computed by itself
        df, scale = self.df, self.scale
        if float32_within(_FLOAT32_DF, (df,), scale):
            return blockwise(_entropy_float32, (df, scale))
        return _NORMAL_ENTROPY + t_entropy_excess(df) + scale.log()
