"""The normal (Gaussian) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special import ndtr_accurate
from ..special.logspace import expm1mx, log_ratio
from ..utils import _SMALL_NUMEL, _inplace_ok, _readable, _scalar_tensor
from ._location_scale import SymmetricLocationScale, holds_result, loc_scale_shift

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(SymmetricLocationScale, ExponentialFamily):
    r"""Normal distribution with mean ``loc`` and standard deviation ``scale``.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\left(-\frac{(x-\mu)^2}{2\sigma^2}\right)

    Support: the real line.

    Args:
        loc: the mean :math:`\mu`.
        scale: the standard deviation :math:`\sigma > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Normal(0.0, 1.0).log_prob(torch.tensor(0.0))
        tensor(-0.9189)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    _mean_carrier_measure = 0

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self._set_location_scale(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def stddev(self) -> torch.Tensor:
        return self.scale

    @property
    def variance(self) -> torch.Tensor:
        return self.scale.pow(2)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return loc_scale_shift(self.loc, self.scale, eps)

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        if not torch.is_grad_enabled() and _readable((eps, self.loc, self.scale)):
            # no graph (sample runs under no_grad): written over the draws
            return torch.addcmul(self.loc, eps, self.scale, out=eps)
        return torch.addcmul(self.loc, eps, self.scale)

    def _standardize(self, value):
        return (value - self.loc) / self.scale

    def _log_normalizer_term(self):
        # -log(scale) - log(2 pi)/2, shared by log_prob and entropy (below the cache's size
        # computed without its look-up)
        if self.scale.numel() < self._cache_min_numel:
            return self._neg_log_scale_sqrt_2pi()
        return self._cached("log_normalizer", self._neg_log_scale_sqrt_2pi)

    def _neg_log_scale_sqrt_2pi(self):
        # (a kept 0-dim constant: torch wraps a Python scalar anew at every call, ~5 us)
        scale = self.scale
        return torch.sub(_scalar_tensor(-_HALF_LOG_2PI, scale.dtype), scale.log())

    def _log_prob(self, value):
        # -z^2/2 - log(scale) - log(2 pi)/2, in as few tensor ops as possible.
        log_normalizer = self._log_normalizer_term()
        # no graph: over z's own buffer (few entries: the check costs more than the buffer)
        if value.numel() > _SMALL_NUMEL and _inplace_ok(value, self.loc, self.scale):
            z = torch.sub(value, self.loc).div_(self.scale)
            return torch.addcmul(log_normalizer, z, z, value=-0.5, out=z)
        z = self._standardize(value)
        return torch.addcmul(log_normalizer, z, z, value=-0.5)

    def _log_prob_over(self, value):
        """``_log_prob`` written over ``value``, a buffer the caller gives up (see
        TransformedDistribution), the same numbers; None where it cannot hold the result."""
        if not holds_result(value, self.loc, self.scale):
            return None
        log_normalizer = self._log_normalizer_term()
        z = value.sub_(self.loc).div_(self.scale)
        return torch.addcmul(log_normalizer, z, z, value=-0.5, out=z)

    def _cdf(self, value):
        return ndtr_accurate(self._standardize(value))

    def _survival_function(self, value):
        return ndtr_accurate(-self._standardize(value))

    def _log_cdf(self, value):
        return torch.special.log_ndtr(self._standardize(value))

    def _log_survival_function(self, value):
        return torch.special.log_ndtr(-self._standardize(value))

    def _icdf(self, value):
        return self.loc + self.scale * torch.special.ndtri(value)

    def _entropy(self):
        # log(scale) + (1 + log(2 pi)) / 2 = 1/2 - log_normalizer
        log_normalizer = self._log_normalizer_term()
        return torch.sub(_scalar_tensor(0.5, log_normalizer.dtype), log_normalizer)

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(-2))

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * torch.log(-math.pi / y)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> torch.Tensor:
    # KL = log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2
    #    = (expm1(2 r) - 2 r) / 2 + ((m_p - m_q) / s_q)^2 / 2, with r = log(s_p / s_q):
    # no cancellation for nearly equal scales, no overflow of the scale ratio.
    r = log_ratio(p.scale, q.scale)
    mean_term = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (expm1mx(2 * r) + mean_term)
