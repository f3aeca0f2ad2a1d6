"""The gamma distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..utils import as_params

__all__ = ["Gamma"]


def _times_log(coefficient: torch.Tensor, log_value: torch.Tensor) -> torch.Tensor:
    """``coefficient * log_value`` with ``0 * log 0 = 0``, reusing ``log_value``'s memory.

    Does what ``xlogy(c, x)`` does for ``log_value = log(x)`` (or ``log1p(-x)``, unlike
    ``xlog1py`` which is not vectorized on CPU) in two cheap passes: where ``c = 0`` the log
    is floored at ``-max`` so the product is 0, and its derivative in ``c`` stays the log.
    """
    finite = -torch.finfo(coefficient.dtype).max
    floor = torch.full_like(coefficient, -math.inf).masked_fill_(coefficient == 0, finite)
    if _broadcasts_into(coefficient.shape, log_value.shape):
        return log_value.clamp_(min=floor).mul_(coefficient)
    return torch.clamp(log_value, min=floor).mul_(coefficient)


def _broadcasts_into(small: torch.Size, big: torch.Size) -> bool:
    """Whether ``small`` broadcasts to ``big`` unchanged (so ``big`` can be updated in place)."""
    return len(small) <= len(big) and all(
        s == 1 or s == b for s, b in zip(reversed(small), reversed(big))
    )


# Below this many entries the fused xlogy/xlog1py win (Python overhead dominates); above it
# the two vectorized passes of _times_log do (xlogy is ~15x slower than log per entry on CPU).
_FUSED_BELOW = 4096


def x_log_y(coefficient: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``coefficient * log(y)`` with ``0 * log 0 = 0``."""
    if y.numel() < _FUSED_BELOW:
        return torch.special.xlogy(coefficient, y)
    return _times_log(coefficient, torch.log(y))


def x_log1p_y(coefficient: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``coefficient * log1p(y)`` with ``0 * log 0 = 0``."""
    if y.numel() < _FUSED_BELOW:
        return torch.special.xlog1py(coefficient, y)
    return _times_log(coefficient, torch.log1p(y))


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
        self.concentration, self.rate = as_params(concentration, rate, owner="Gamma")
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

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        g = torch._standard_gamma(self.concentration.expand(shape), generator=generator)
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

    def _cdf(self, value):
        return torch.special.gammainc(self.concentration, self.rate * value)

    def _survival_function(self, value):
        return torch.special.gammaincc(self.concentration, self.rate * value)

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
