"""Student's t distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.gamma import log_standard_gamma
from ..distribution import Distribution
from ..special.incomplete_beta import betainc, log_betainc
from ..utils import as_params

__all__ = ["StudentT"]

_LOG_PI = math.log(math.pi)
_LGAMMA_HALF = 0.5 * _LOG_PI
_LOG_HALF = math.log(0.5)


def _log1p_square(r: torch.Tensor) -> torch.Tensor:
    """``log(1 + r^2)``: ``log1p`` for small ``r``, ``2 log|r| + log1p(r^-2)`` for large ones
    (no overflow of ``r^2``)."""
    small = r.abs() <= 1
    inner = torch.log1p(torch.where(small, r, 0.0).square())
    big = torch.where(small, 1.0, r).abs()
    outer = 2 * big.log() + torch.log1p(big.reciprocal().square())
    return torch.where(small, inner, outer)


class StudentT(Distribution):
    r"""Student's t distribution with ``df`` degrees of freedom, location ``loc`` and ``scale``.

    .. math:: p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}\,\sigma}
              \left(1 + \frac{z^2}{\nu}\right)^{-\frac{\nu+1}{2}}, \quad z = \frac{x - \mu}{\sigma}

    Support: the real line. The mean is NaN for :math:`\nu \le 1`; the variance is infinite
    for :math:`1 < \nu \le 2` and NaN for :math:`\nu \le 1`, as in torch.

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
        shape = self._extended_shape(sample_shape)
        half_df = 0.5 * self.df
        log_g = log_standard_gamma(half_df, shape, generator=generator)
        z = torch.randn(shape, dtype=self.df.dtype, device=self.df.device, generator=generator)
        return self.loc + self.scale * z * torch.exp(0.5 * (half_df.log() - log_g))

    def _log_normalizer(self):
        df = self.df
        return (
            torch.lgamma(0.5 * (df + 1))
            - torch.lgamma(0.5 * df)
            - 0.5 * (df.log() + _LOG_PI)
            - self.scale.log()
        )

    def _log_prob(self, value):
        r = (value - self.loc) / (self.scale * self.df.sqrt())
        const = self._cached("log_normalizer", self._log_normalizer)
        return const - 0.5 * (self.df + 1) * _log1p_square(r)

    def _tail(self, value, log: bool):
        """The lower tail at ``-|t|``: ``I_x(nu/2, 1/2) / 2`` with ``x = 1 / (1 + r^2)``,
        ``r = t / sqrt(nu)``; ``1 - x = 1 / (1 + r^-2)`` is passed exactly.

        Also ``r``, whether ``r = 0``, and the slope ``dF/dr = Gamma((nu+1)/2) /
        (Gamma(nu/2) sqrt(pi))`` of the cdf there. At ``r = 0`` the tail's graph has
        ``1/r^2 = inf`` and ``I_1``, whose derivatives are ``inf * 0 = NaN``: the tail is taken
        at ``r = 1`` instead (safe where), and the callers use ``1/2 +- slope * r``, exact in
        value and in its first derivatives (the cdf is 1/2 at ``loc`` for every ``nu``)."""
        r = (value - self.loc) / (self.scale * self.df.sqrt())
        center = r == 0
        safe = torch.where(center, 1.0, r)
        x = (1 + safe.square()).reciprocal()
        y = (1 + safe.square().reciprocal()).reciprocal()
        df = self.df
        slope = torch.exp(torch.lgamma(0.5 * (df + 1)) - torch.lgamma(0.5 * df) - _LGAMMA_HALF)
        if log:
            tail = _LOG_HALF + log_betainc(0.5 * df, 0.5, x, y)
        else:
            tail = 0.5 * betainc(0.5 * df, 0.5, x, y)
        return r, center, slope * r, tail

    def _cdf(self, value):
        r, center, step, w = self._tail(value, log=False)
        return torch.where(center, 0.5 + step, torch.where(r <= 0, w, 1 - w))

    def _survival_function(self, value):
        r, center, step, w = self._tail(value, log=False)
        return torch.where(center, 0.5 - step, torch.where(r >= 0, w, 1 - w))

    def _log_cdf(self, value):
        # log(1/2 + s r) = log(1/2) + 2 s r to first order
        r, center, step, log_w = self._tail(value, log=True)
        far = torch.where(r <= 0, log_w, torch.log1p(-log_w.exp()))
        return torch.where(center, _LOG_HALF + 2 * step, far)

    def _log_survival_function(self, value):
        r, center, step, log_w = self._tail(value, log=True)
        far = torch.where(r >= 0, log_w, torch.log1p(-log_w.exp()))
        return torch.where(center, _LOG_HALF - 2 * step, far)

    def _entropy(self):
        # H = (nu+1)/2 (psi((nu+1)/2) - psi(nu/2)) + log(sqrt(nu) B(nu/2, 1/2)) + log(sigma)
        df = self.df
        half, half_next = 0.5 * df, 0.5 * (df + 1)
        log_beta = torch.lgamma(half) + _LGAMMA_HALF - torch.lgamma(half_next)
        return (
            half_next * (torch.digamma(half_next) - torch.digamma(half))
            + 0.5 * df.log()
            + log_beta
            + self.scale.log()
        )
