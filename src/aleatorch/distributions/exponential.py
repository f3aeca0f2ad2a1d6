"""The exponential distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_exponential
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special import log1mexp, log1pmx
from ..special.compile_safe import expm1
from ..utils import _scalar_tensor, as_params
from ._location_scale import holds_result

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    r"""Exponential distribution with rate ``rate``.

    .. math:: p(x) = \lambda e^{-\lambda x}, \quad x \ge 0

    Support: :math:`[0, \infty)`.

    Args:
        rate: the rate :math:`\lambda > 0` (the inverse of the mean).

    Example:
        >>> import aleatorch as D
        >>> D.Exponential(2.0).log_prob(torch.tensor(1.0))
        tensor(-1.3069)
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate: Any, validate_args: bool | None = None) -> None:
        (self.rate,) = as_params(rate, owner=self._name)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.rate.reciprocal()

    @property
    def median(self) -> torch.Tensor:
        return math.log(2) / self.rate

    @property
    def mode(self) -> torch.Tensor:
        return torch.zeros_like(self.rate)

    @property
    def stddev(self) -> torch.Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> torch.Tensor:
        return self.rate.pow(-2)

    def _rsample(self, sample_shape, generator):
        # (torch parses an exact tuple ~1 us faster than a torch.Size)
        shape = tuple(self._extended_shape(sample_shape))
        return standard_exponential(self.rate, shape, generator) / self.rate

    def _log_prob(self, value):
        # log(rate) - rate x, one op
        return torch.addcmul(self._cached("log_rate", self.rate.log), self.rate, value, value=-1)

    def _log_prob_over(self, value):
        """``_log_prob`` written over ``value``, a buffer the caller gives up (see
        TransformedDistribution); None where it cannot hold the result."""
        if not holds_result(value, self.rate):
            return None
        log_rate = self._cached("log_rate", self.rate.log)
        return torch.addcmul(log_rate, self.rate, value, value=-1, out=value)

    def _cdf(self, value):
        return -expm1(-self.rate * value)

    def _survival_function(self, value):
        return torch.exp(-self.rate * value)

    def _log_cdf(self, value):
        return log1mexp(-self.rate * value)

    def _log_survival_function(self, value):
        return -self.rate * value

    def _icdf(self, value):
        return -torch.log1p(-value) / self.rate

    def _entropy(self):
        log_rate = self._cached("log_rate", self.rate.log)
        return torch.sub(_scalar_tensor(1.0, log_rate.dtype), log_rate)  # (see Normal._entropy)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -torch.log(-x)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential) -> torch.Tensor:
    # KL = r - 1 - log r with r = rate_q / rate_p. Near r = 1 it is -log1pmx(d) with
    # d = r - 1 from the exact difference of rates (full relative precision, >= 0; the
    # difference d - log1p(d) loses half the digits at d = 1e-8); elsewhere r - 1 - log r.
    d = (q.rate - p.rate) / p.rate
    near = d.abs() < 0.5
    ratio = torch.where(near, torch.ones_like(d), q.rate / p.rate)
    far = ratio - 1 - torch.log(ratio)
    return torch.where(near, 0.0 - log1pmx(torch.where(near, d, torch.zeros_like(d))), far)
