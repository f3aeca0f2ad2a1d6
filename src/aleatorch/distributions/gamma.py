"""The gamma distribution."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special.incomplete_gamma import (
    gammainc,
    gammaincc,
    gammaincinv,
    log_gammainc,
    log_gammaincc,
)
from ..special.xlogy import _broadcasts_into, x_log_y
from ..utils import as_params

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    r"""Gamma distribution with shape ``concentration`` and inverse scale ``rate``.

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{\alpha - 1} e^{-\beta x}, \quad x \ge 0

    Support: :math:`[0, \infty)`.

    Args:
        concentration: the shape :math:`\alpha > 0`.
        rate: the rate :math:`\beta > 0` (the inverse of the scale).

    Example:
        >>> import aleatorch as D
        >>> D.Gamma(2.0, 3.0).log_prob(torch.tensor(1.0))
        tensor(-0.8028)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = as_params(concentration, rate, owner=self._name)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> torch.Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> torch.Tensor:
        return self.concentration / self.rate.pow(2)

    @property
    def stddev(self) -> torch.Tensor:
        # sqrt(alpha) / beta: the variance overflows first (beta = 1e-300 in float64).
        return self.concentration.sqrt() / self.rate

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        g = standard_gamma(self.concentration.expand(shape), generator)
        # Draws below the smallest normal float would make log_prob infinite; the gradient
        # (torch's implicit reparameterization of _standard_gamma) flows through the rest.
        return (g / self.rate).clamp(min=torch.finfo(g.dtype).tiny)

    def _log_prob(self, value):
        a, rate = self.concentration, self.rate
        # Parameter-only terms are formed at batch size; the per-value passes reuse one buffer.
        const = self._cached("log_normalizer", lambda: a * rate.log() - torch.lgamma(a))
        out = x_log_y(a - 1, value)
        if out.shape != value.shape or not _broadcasts_into(rate.shape, out.shape):
            return out - rate * value + const
        return out.addcmul_(rate, value, value=-1).add_(const)

    # The regularized incomplete gamma functions of aleatorch.special: differentiable in the
    # concentration too, and accurate in both tails and at large concentrations.
    def _cdf(self, value):
        return gammainc(self.concentration, self.rate * value)

    def _survival_function(self, value):
        return gammaincc(self.concentration, self.rate * value)

    def _log_cdf(self, value):
        return log_gammainc(self.concentration, self.rate * value)

    def _log_survival_function(self, value):
        return log_gammaincc(self.concentration, self.rate * value)

    def _icdf(self, value):
        return gammaincinv(self.concentration, value) / self.rate

    def _entropy(self):
        a = self.concentration
        return a - self.rate.log() + torch.lgamma(a) + (1 - a) * torch.digamma(a)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return torch.lgamma(x + 1) + (x + 1) * torch.log(-y.reciprocal())


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma) -> torch.Tensor:
    # KL = (a_p - a_q) psi(a_p) - lgamma(a_p) + lgamma(a_q) + a_q log(b_p / b_q)
    #      + a_p (b_q - b_p) / b_p
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    return (
        (a_p - a_q) * torch.digamma(a_p)
        - torch.lgamma(a_p)
        + torch.lgamma(a_q)
        + a_q * torch.log(b_p / b_q)
        + a_p * (b_q - b_p) / b_p
    )
