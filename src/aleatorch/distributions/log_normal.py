"""The log-normal distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..special import ndtr_accurate
from ..transforms import ExpTransform
from ..utils import as_params
from ..wrappers.transformed import TransformedDistribution
from .normal import Normal

__all__ = ["LogNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class LogNormal(TransformedDistribution):
    r"""Log-normal distribution: ``Y = exp(X)`` for ``X ~ Normal(loc, scale)``.

    .. math:: p(y) = \frac{1}{y \sigma \sqrt{2\pi}}
              \exp\left(-\frac{(\log y - \mu)^2}{2\sigma^2}\right)

    Support: ``(0, inf)``. A ``TransformedDistribution`` (of ``Normal`` by ``ExpTransform``),
    as in torch, but every method has a closed form, and the base is built only on demand.

    Args:
        loc: the mean :math:`\mu` of ``log Y``.
        scale: the standard deviation :math:`\sigma > 0` of ``log Y``.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    _parameters_in_base = {"loc": "loc", "scale": "scale"}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = as_params(loc, scale, owner="LogNormal")
        self._init_family(self.loc.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        return Normal(self.loc, self.scale, validate_args=False), [ExpTransform()]

    def _standardize_log(self, value):
        return (value.log() - self.loc) / self.scale

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return torch.addcmul(self.loc, eps, self.scale).exp()

    def _log_prob(self, value):
        log_value = value.log()
        z = (log_value - self.loc) / self.scale
        return -0.5 * z * z - self.scale.log() - _HALF_LOG_2PI - log_value

    def _cdf(self, value):
        return ndtr_accurate(self._standardize_log(value))

    def _survival_function(self, value):
        return ndtr_accurate(-self._standardize_log(value))

    def _log_cdf(self, value):
        return torch.special.log_ndtr(self._standardize_log(value))

    def _log_survival_function(self, value):
        return torch.special.log_ndtr(-self._standardize_log(value))

    def _icdf(self, value):
        return (self.loc + self.scale * torch.special.ndtri(value)).exp()

    def _entropy(self):
        # H = mu + log(sigma) + (1 + log(2 pi)) / 2
        return self.loc + self.scale.log() + (0.5 + _HALF_LOG_2PI)

    @property
    def mean(self) -> torch.Tensor:
        return (self.loc + 0.5 * self.scale.square()).exp()

    @property
    def mode(self) -> torch.Tensor:
        return (self.loc - self.scale.square()).exp()

    @property
    def median(self) -> torch.Tensor:
        return self.loc.exp()

    @property
    def variance(self) -> torch.Tensor:
        s2 = self.scale.square()
        # (exp(s^2) - 1) exp(2 mu + s^2), with expm1 for small s.
        return torch.expm1(s2) * (2 * self.loc + s2).exp()
