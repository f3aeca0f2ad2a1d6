"""The negative binomial distribution."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from ..distribution import Distribution
from ..special import softplus
from ._beta_tails import IncompleteBetaTails
from ._params import BinaryGivenParameter, count_and_given

__all__ = ["NegativeBinomial"]


class NegativeBinomial(IncompleteBetaTails, BinaryGivenParameter, Distribution):
    r"""Negative binomial distribution: the number of successes of independent Bernoulli
    trials with success probability ``probs`` before ``total_count`` failures (torch's
    convention).

    .. math::
        P(X = k) = \frac{\Gamma(k + r)}{\Gamma(r) \, k!} (1 - p)^r p^k,
        \quad k \in \{0, 1, 2, \dots\}

    Give exactly one of ``probs`` (:math:`p \in [0, 1)`) or ``logits``
    (:math:`\ell = \log(p / (1 - p))`); the other is derived lazily. From logits, the mean
    :math:`r e^{\ell}` keeps full relative accuracy however large :math:`\ell` is. With
    :math:`r = 0` or :math:`p = 0` all mass is at 0.

    Args:
        total_count: the number of failures :math:`r \ge 0` (real, not only integer).
        probs: the success probability :math:`p`.
        logits: its log-odds :math:`\ell`.

    Example:
        >>> import aleatorch as D
        >>> D.NegativeBinomial(3.0, probs=0.5).log_prob(torch.tensor(2.0))
        tensor(-1.6740)
    """

    arg_constraints = {
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer
    _rsample_hint = "it is discrete; use .sample() with a score-function estimator"

    def __init__(
        self,
        total_count: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        self.total_count, name, param = count_and_given(self._name, total_count, probs, logits)
        self._set_given(name, param)
        super().__init__(param.shape, validate_args=validate_args)

    def _log_success_failure(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))``, from the logits when they were given."""
        if self._given == "logits":
            return -softplus(-self.logits), -softplus(self.logits)
        return self.probs.log(), torch.log1p(-self.probs)

    def _success_failure_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, 1 - p)``, each accurate near 0 (from the logits when they were given)."""
        if self._given == "logits":
            return torch.sigmoid(self.logits), torch.sigmoid(-self.logits)
        return self.probs, 1 - self.probs

    def _odds(self) -> torch.Tensor:
        """``p / (1 - p)``: ``exp(logits)`` exactly when the logits were given."""
        if self._given == "logits":
            return self.logits.exp()
        return self.probs / (1 - self.probs)

    @property
    def mean(self) -> torch.Tensor:
        return self.total_count * self._odds()

    @property
    def mode(self) -> torch.Tensor:
        return ((self.total_count - 1) * self._odds()).floor().clamp(min=0)

    @property
    def variance(self) -> torch.Tensor:
        # r p / (1 - p)^2 = r odds (1 + odds)
        odds = self._odds()
        return self.total_count * (odds + odds * odds)

    def _sample(self, sample_shape, generator):
        # A Poisson whose rate is Gamma(r, scale = odds) distributed.
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            r = self.total_count.detach().expand(shape)
            degenerate = r == 0
            g = standard_gamma(torch.where(degenerate, torch.ones_like(r), r), generator)
            rate = torch.where(degenerate, torch.zeros_like(g), g * self._odds().detach())
            return torch.poisson(rate, generator=generator)

    def _log_prob(self, value):
        r = self.total_count
        degenerate = r == 0
        r_safe = torch.where(degenerate, torch.ones_like(r), r)
        log_coefficient = (
            torch.lgamma(value + r_safe) - torch.lgamma(r_safe) - torch.lgamma(value + 1)
        )
        log_p, log_q = self._log_success_failure()
        # k log p with 0 log 0 = 0 (p = 0: all mass at 0).
        k_log_p = value * log_p
        k_log_p = torch.where(value == 0, torch.zeros_like(k_log_p), k_log_p)
        log_pmf = log_coefficient + r * log_q + k_log_p
        # r = 0: a point mass at 0.
        point = torch.where(value == 0, 0.0, -torch.inf).to(log_pmf)
        return torch.where(degenerate, point, log_pmf)

    def _tail_arguments(self, value):
        """For ``k = floor(value)``: ``P(X <= k) = I_{1-p}(r, k + 1)`` on ``k >= 0``.

        Returns clamped beta arguments valid everywhere (safe-where pattern), and the masks
        of ``k < 0`` (cdf 0) and of a point mass at 0 (``r = 0``: cdf 1 from 0 on).
        """
        r = self.total_count
        k = value.floor()
        below = k < 0
        degenerate = r == 0
        a = torch.where(degenerate, torch.ones_like(r), r)
        b = k.clamp(min=0) + 1
        return a, b, below, degenerate
