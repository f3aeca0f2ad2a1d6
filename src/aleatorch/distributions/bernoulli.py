"""The Bernoulli distribution."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special import softplus
from ..utils import lazy_property, logits_to_probs, probs_to_logits
from ._params import GivenParameter, probs_or_logits

__all__ = ["Bernoulli"]


class Bernoulli(GivenParameter, ExponentialFamily):
    r"""Bernoulli distribution: 1 with probability ``probs``, 0 otherwise.

    .. math:: P(X = x) = p^x (1 - p)^{1 - x}, \quad x \in \{0, 1\}

    Give exactly one of ``probs`` (:math:`p \in [0, 1]`) or ``logits``
    (:math:`\log(p / (1 - p))`); the other is derived lazily.

    Example:
        >>> import aleatorch as D
        >>> D.Bernoulli(probs=0.25).log_prob(torch.tensor(1.0))
        tensor(-1.3863)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0
    _rsample_hint = (
        "use .sample() with a score-function (REINFORCE) estimator, or a continuous "
        "relaxation such as RelaxedBernoulli"
    )

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        name, param = probs_or_logits("Bernoulli", probs, logits)
        self._set_given(name, param)
        super().__init__(param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self) -> torch.Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> torch.Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self) -> torch.Tensor:
        return self.probs

    @property
    def mode(self) -> torch.Tensor:
        mode = (self.probs >= 0.5).to(self.probs)
        return torch.where(self.probs == 0.5, torch.full_like(mode, float("nan")), mode)

    @property
    def variance(self) -> torch.Tensor:
        return self.probs * (1 - self.probs)

    def _sample(self, shape, generator):
        return torch.bernoulli(self.probs.expand(shape), generator=generator)

    def _log_prob(self, value):
        if self._given == "probs":
            # Exact at p = 0 and p = 1, where the logit would be clamped.
            return torch.where(value > 0.5, self.probs.log(), torch.log1p(-self.probs))
        return value * self.logits - softplus(self.logits)

    def _cdf(self, value):
        below = torch.where(value >= 1, torch.ones_like(self.probs), 1 - self.probs)
        return torch.where(value < 0, torch.zeros_like(below), below)

    def _entropy(self):
        # H = -p log p - (1 - p) log(1 - p), with 0 log 0 = 0.
        probs = self.probs
        plogp = torch.special.xlogy(probs, probs)
        qlogq = torch.special.xlogy(1 - probs, 1 - probs)
        return -(plogp + qlogq)

    def _enumerate_support(self):
        values = torch.arange(2, dtype=self._param.dtype, device=self._param.device)
        return values.view((-1,) + (1,) * len(self._batch_shape))

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return softplus(x)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> torch.Tensor:
    # KL = p log(p/q) + (1-p) log((1-p)/(1-q)), with 0 log 0 = 0 and x log(x/0) = inf.
    pp, qp = p.probs, q.probs
    t1 = torch.special.xlogy(pp, pp) - torch.special.xlogy(pp, qp)
    t2 = torch.special.xlogy(1 - pp, 1 - pp) - torch.special.xlogy(1 - pp, 1 - qp)
    return t1 + t2
