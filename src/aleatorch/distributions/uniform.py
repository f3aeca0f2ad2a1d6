"""The continuous uniform distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..kl import register_kl
from ..utils import _inplace_ok, _scalar_tensor, as_params, broadcast_shapes
from ._location_scale import lerp_sample

__all__ = ["Uniform"]


class Uniform(Distribution):
    r"""Uniform distribution on the closed interval ``[low, high]``.

    .. math:: p(x) = \frac{1}{b - a}, \quad a \le x \le b

    Support: :math:`[a, b]`, as in torch. Both bounds have the density :math:`1 / (b - a)`
    (torch gives ``-inf`` at ``high``, a value it accepts as in the support); samples lie
    in :math:`[a, b)`.

    Args:
        low: the lower bound :math:`a`.
        high: the upper bound :math:`b > a`.

    Example:
        >>> import aleatorch as D
        >>> D.Uniform(0.0, 4.0).log_prob(torch.tensor(1.0))
        tensor(-1.3863)
    """

    arg_constraints = {
        "low": constraints.dependent(is_discrete=False, event_dim=0),
        "high": constraints.dependent(is_discrete=False, event_dim=0),
    }
    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = as_params(low, high, owner=self._name)
        super().__init__(self.low.shape, validate_args=validate_args)

    def _parameter_relations(self):
        # NaN in either bound fails the comparison too.
        yield "high", "greater than 'low'", self.low < self.high, {"low": self.low}

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> torch.Tensor:
        return (self.low + self.high) / 2

    @property
    def median(self) -> torch.Tensor:
        return self.mean

    @property
    def mode(self) -> torch.Tensor:
        # Every point of the support is a mode: no single one (as torch).
        return torch.full_like(self.mean, math.nan)

    @property
    def variance(self) -> torch.Tensor:
        return (self.high - self.low).pow(2) / 12

    @property
    def stddev(self) -> torch.Tensor:
        return (self.high - self.low) / math.sqrt(12)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.low.dtype, device=self.low.device, generator=generator)
        # low + u (high - low) in one op, whose backward needs no width (as sub + addcmul)
        return lerp_sample(self.low, self.high, u)

    def _log_density(self):
        return self._cached("log_density", self._neg_log_width)

    def _neg_log_width(self):
        # (log_ in place on the fresh difference: its backward needs neither)
        return torch.sub(self.high, self.low).log_().neg_()

    def _log_prob_in_support(self, value):
        # Validation found every value in [low, high]: the density is the constant at every
        # entry (a copy, no per-entry test). Not for a subclass with its own _log_prob, nor
        # across dtypes (the result's dtype is the promoted one), nor in half precision.
        if type(self)._log_prob is not Uniform._log_prob or self._run_in_float32:
            return None
        log_density = self._log_density()
        if value.dtype != log_density.dtype:
            return None
        shape = broadcast_shapes(value.shape, log_density.shape)
        return log_density.expand(shape).clone(memory_format=torch.contiguous_format)

    def _log_prob(self, value):
        log_density = self._log_density()
        large = value.numel() >= self._cache_min_numel
        if large and value.dtype == log_density.dtype and _inplace_ok(value, self.low, self.high):
            # CPU eager, no graph: two reductions say every value is inside, then the
            # constant is written over the buffer they used (no where).
            gap = torch.sub(value, self.low)
            if gap.numel() > 0 and gap.min().item() >= 0:
                if torch.sub(self.high, value, out=gap).min().item() >= 0:
                    return gap.copy_(log_density)
        # inside [low, high] exactly where clamping changes nothing (NaN: outside)
        inside = torch.clamp(value, self.low, self.high) == value
        return torch.where(inside, log_density, _scalar_tensor(-math.inf, log_density.dtype))

    def _cdf(self, value):
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def _survival_function(self, value):
        # high - x is exact near the upper bound, where 1 - cdf would cancel.
        return ((self.high - value) / (self.high - self.low)).clamp(0, 1)

    def _log_cdf(self, value):
        return self._cdf(value).log()

    def _log_survival_function(self, value):
        return self._survival_function(value).log()

    def _icdf(self, value):
        return torch.addcmul(self.low, value, self.high - self.low)

    def _entropy(self):
        return torch.neg(self._log_density())  # log(high - low)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> torch.Tensor:
    # KL = log(width_q / width_p) when [low_p, high_p] lies inside [low_q, high_q], else inf;
    # as log1p(excess / width_p) with the excess (high_q - high_p) + (low_p - low_q) formed
    # from the edges, so that nearly equal intervals keep the digits of the tiny KL.
    excess = (q.high - p.high) + (p.low - q.low)
    kl = torch.log1p(excess / (p.high - p.low))
    outside = (q.low > p.low) | (q.high < p.high)
    return torch.where(outside, math.inf, kl)
