"""The Poisson distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..utils import as_params

__all__ = ["Poisson"]

# Entropy: below a switch rate the defining series is summed over a fixed number of terms;
# above it the asymptotic expansion is used, whose first omitted term is about 1.4 / rate**6
# (2e-9 at 30, 5e-7 at 12: below float64 resp. float32 resolution of the series' result).
# The series' tail beyond the last term is below 1e-15 at the switch rate.
_ENTROPY_SWITCH = {torch.float64: (30.0, 96)}
_ENTROPY_SWITCH_LOW_PRECISION = (12.0, 48)
# Asymptotic expansion of the entropy in powers of 1/rate (Evans & Boersma 1988).
_ASYMPTOTIC = (-1 / 12, -1 / 24, -19 / 360, -9 / 80, -863 / 2520)
_HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


_HUGE_RATE = 1e18  # above it, sampling switches to the normal limit


class Poisson(ExponentialFamily):
    r"""Poisson distribution: the number of events of a process with intensity ``rate``.

    .. math:: P(X = k) = \frac{\lambda^k e^{-\lambda}}{k!}, \quad k \in \{0, 1, 2, \dots\}

    Support: the nonnegative integers.

    Args:
        rate: the mean number of events :math:`\lambda \ge 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Poisson(2.0).log_prob(torch.tensor(3.0))
        tensor(-1.7123)
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer
    _rsample_hint = "it is discrete; use .sample() with a score-function estimator"

    def __init__(self, rate: Any, validate_args: bool | None = None) -> None:
        (self.rate,) = as_params(rate, owner=self._name)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.rate

    @property
    def mode(self) -> torch.Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> torch.Tensor:
        return self.rate

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        rate = self.rate.expand(shape)
        if torch.compiler.is_compiling() or (rate.numel() and bool(rate.max() > _HUGE_RATE)):
            return self._sample_huge_rates(rate, generator)
        return torch.poisson(rate, generator=generator)

    @staticmethod
    def _sample_huge_rates(rate, generator):
        """torch.poisson overflows int64 above ~9.2e18 (it returns -9.2e18). Above 1e18 a
        Poisson variable is normal to within float64 resolution (skewness 1e-9): round
        ``rate + sqrt(rate) z``."""
        huge = rate > _HUGE_RATE
        small = torch.poisson(torch.where(huge, torch.zeros_like(rate), rate), generator=generator)
        z = torch.randn(rate.shape, dtype=rate.dtype, device=rate.device, generator=generator)
        normal = torch.addcmul(rate, rate.sqrt(), z).round().clamp(min=0)
        return torch.where(huge, normal, small)

    def _log_prob(self, value):
        # x log(rate) - rate - log(x!). On CPU xlogy costs ~30x a multiply, so multiply and
        # turn the NaN of 0 * log(0) into 0 in place (NaN inputs stay NaN through lgamma and
        # the rate term); lgamma is the costly op left.
        log_factorial = torch.lgamma(value + 1)
        log_rate = self._cached("log_rate", self.rate.log)
        x_log_rate = torch.mul(value, log_rate).nan_to_num_(
            nan=0.0, posinf=math.inf, neginf=-math.inf
        )
        return x_log_rate.sub_(log_factorial).sub_(self.rate)

    def _cdf(self, value):
        # P(X <= k) = Q(floor(k) + 1, rate), the regularized upper incomplete gamma function;
        # 0 below the support (the generic icdf looks there).
        cdf = torch.special.gammaincc(value.floor() + 1, self.rate)
        return torch.where(value < 0, torch.zeros_like(cdf), cdf)

    def _survival_function(self, value):
        sf = torch.special.gammainc(value.floor() + 1, self.rate)
        return torch.where(value < 0, torch.ones_like(sf), sf)

    def _entropy(self):
        rate = self.rate
        switch, terms = _ENTROPY_SWITCH.get(rate.dtype, _ENTROPY_SWITCH_LOW_PRECISION)
        # Small rates: H = -sum_k P(k) log P(k), a sum of positive terms (no cancellation).
        k = torch.arange(terms, dtype=rate.dtype, device=rate.device)
        r = rate.unsqueeze(-1)
        log_pmf = torch.special.xlogy(k, r) - r - torch.lgamma(k + 1)
        # -P log P with 0 log 0 = 0 and a zero gradient where P underflows (entr's derivative
        # there is infinite, and inf * 0 would be NaN): log P is finite except at rate 0,
        # whose -inf entries become 0, as in Categorical's entropy.
        series = -(log_pmf.exp() * log_pmf.nan_to_num(neginf=0.0)).sum(-1)
        # Large rates: 0.5 log(2 pi e rate) + sum_j c_j / rate^j; the safe rate keeps the
        # unused branch finite (and its gradient NaN-free) for small rates.
        large = rate > switch
        safe = torch.where(large, rate, torch.full_like(rate, switch))
        inv = safe.reciprocal()
        poly = torch.zeros_like(safe)
        for c in reversed(_ASYMPTOTIC):
            poly = (poly + c) * inv
        asymptotic = 0.5 * torch.log(safe) + _HALF_LOG_2PI_E + poly
        return torch.where(large, asymptotic, series)

    @property
    def _natural_params(self):
        return (torch.log(self.rate),)

    def _log_normalizer(self, x):
        return torch.exp(x)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> torch.Tensor:
    # KL = r_p log(r_p / r_q) - r_p + r_q, with 0 log 0 = 0 and r log(r / 0) = inf.
    rp, rq = p.rate, q.rate
    return torch.special.xlogy(rp, rp) - torch.special.xlogy(rp, rq) - rp + rq
