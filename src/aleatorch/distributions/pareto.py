"""The Pareto (type I) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_exponential
from ..kl import register_kl
from ..special import log1mexp
from ..special.compile_safe import expm1
from ..special.stirling import log1pmx
from ..utils import _inplace_ok, _min_at_least, as_params
from ..wrappers.transformed import TransformedDistribution

__all__ = ["Pareto"]


class Pareto(TransformedDistribution):
    r"""Pareto (type I) distribution with scale ``scale`` and shape ``alpha``.

    .. math:: p(x) = \frac{\alpha\, x_m^\alpha}{x^{\alpha + 1}}, \quad x \ge x_m

    Support: ``[scale, inf)``. The mean is infinite for ``alpha <= 1``, the variance for
    ``alpha <= 2``. A ``TransformedDistribution`` (of ``Exponential(alpha)`` by
    ``ExpTransform`` and ``AffineTransform(0, scale)``), as in torch, with a closed form for
    every method.

    Args:
        scale: the scale (lower bound of the support) :math:`x_m > 0`.
        alpha: the shape (tail index) :math:`\alpha > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Pareto(1.0, 3.0).log_prob(torch.tensor(2.0))
        tensor(-1.6740)
    """

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    # A property, as torch's (inherited from TransformedDistribution), that builds no base.
    has_rsample = property(lambda self: True)

    # alpha log(x / scale) and the moments overflow float16: half precision is computed in float32.
    _half_in_float32 = True

    def __init__(self, scale: Any, alpha: Any, validate_args: bool | None = None) -> None:
        self.scale, self.alpha = as_params(scale, alpha, owner=self._name)
        self._init_family(self.scale.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.greater_than_eq(self.scale)

    def _base_and_transforms(self):
        from ..transforms import AffineTransform, ExpTransform
        from .exponential import Exponential

        transforms = [ExpTransform(), AffineTransform(loc=0, scale=self.scale)]
        return Exponential(self.alpha, validate_args=False), transforms

    def _rsample(self, sample_shape, generator):
        # x = x_m exp(E / alpha) for E ~ Exp(1).
        shape = self._extended_shape(sample_shape)
        e = standard_exponential(self.scale, shape, generator)
        return self.scale * torch.exp(e / self.alpha)

    def _sample(self, sample_shape, generator):
        # The closed-form sampler, not the generic path through the base.
        return self._rsample(sample_shape, generator)

    def _log_excess(self, value):
        """``log(x / x_m)`` (0 below ``x_m``), from the exact difference ``x - x_m``."""
        return torch.log1p((value - self.scale).clamp(min=0) / self.scale)

    def _log_terms(self):
        """``log(alpha / x_m)`` and ``alpha + 1``, cached while the parameters are unchanged."""
        return self._cached(
            "log_normalizer", lambda: ((self.alpha / self.scale).log(), self.alpha + 1)
        )

    def _log_prob(self, value):
        # log(alpha / x_m) - (alpha + 1) log1p((x - x_m) / x_m); -inf below x_m
        log_term, power = self._log_terms()
        excess = value - self.scale
        if _min_at_least(excess, 0.0, self.alpha):
            # CPU eager, every value in the support (one reduction): no clamp, no where
            if _inplace_ok(value, self.scale, self.alpha):  # no graph: over excess's buffer
                excess.div_(self.scale).log1p_()
                return torch.addcmul(log_term, power, excess, value=-1, out=excess)
            return torch.addcmul(log_term, power, torch.log1p(excess / self.scale), value=-1)
        log_excess = torch.log1p(excess.clamp(min=0) / self.scale)
        log_prob = torch.addcmul(log_term, power, log_excess, value=-1)
        return torch.where(value >= self.scale, log_prob, -math.inf)

    # With t = alpha log(x / x_m): sf = exp(-t), cdf = -expm1(-t), log cdf = log1mexp(-t).
    def _cdf(self, value):
        return -expm1(-self.alpha * self._log_excess(value))

    def _survival_function(self, value):
        return torch.exp(-self.alpha * self._log_excess(value))

    def _log_cdf(self, value):
        return log1mexp(-self.alpha * self._log_excess(value))

    def _log_survival_function(self, value):
        return -self.alpha * self._log_excess(value)

    def _icdf(self, value):
        return self.scale * torch.exp(-torch.log1p(-value) / self.alpha)

    def _entropy(self):
        # H = log(x_m / alpha) + 1 + 1 / alpha
        # = (1 + 1 / alpha) - log(alpha / x_m), from cached parameter-only terms
        excess = self._cached("entropy_excess", lambda: 1 + self.alpha.reciprocal())
        return torch.sub(excess, self._log_terms()[0])

    @property
    def mean(self) -> torch.Tensor:
        # alpha x_m / (alpha - 1); infinite for alpha <= 1.
        finite = self.alpha > 1
        a = torch.where(finite, self.alpha, 2.0)
        return torch.where(finite, a * self.scale / (a - 1), math.inf)

    @property
    def mode(self) -> torch.Tensor:
        return self.scale

    @property
    def median(self) -> torch.Tensor:
        return self.scale * torch.exp(math.log(2) / self.alpha)

    @property
    def variance(self) -> torch.Tensor:
        # x_m^2 alpha / ((alpha - 1)^2 (alpha - 2)); infinite for alpha <= 2.
        finite = self.alpha > 2
        a = torch.where(finite, self.alpha, 3.0)
        return torch.where(finite, self.scale.square() * a / ((a - 1).square() * (a - 2)), math.inf)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p: Pareto, q: Pareto) -> torch.Tensor:
    r"""``KL(Pareto(s_p, a_p) || Pareto(s_q, a_q))``: infinite where ``s_p < s_q`` (``p``
    puts mass below ``q``'s support), otherwise, with ``r = a_q / a_p``,

    .. math:: a_q \log\frac{s_p}{s_q} + r - 1 - \log r

    from ``E_p[log(X / s_p)] = 1 / a_p``.
    """
    inside = p.scale >= q.scale
    log_scales = torch.log(torch.where(inside, p.scale / q.scale, 1.0))
    d = (q.alpha - p.alpha) / p.alpha  # r - 1, from the exact difference
    return torch.where(inside, q.alpha * log_scales - log1pmx(d), math.inf)
