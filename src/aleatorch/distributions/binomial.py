"""The binomial distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..errors import MethodNotImplementedError, ShapeError
from ..kl import register_kl
from ..special import softplus
from ._beta_tails import IncompleteBetaTails
from ._params import BinaryGivenParameter, count_and_given

__all__ = ["Binomial"]


# Above this variance the entropy's asymptotic expansion (error ~0.05 / variance^2) is more
# accurate than summing log-probabilities whose lgamma differences cancel (error ~eps n log n).
_ASYMPTOTIC_ENTROPY_VARIANCE = 3e4
_TWO_PI_E = 2 * math.pi * math.e
_MAX_ENUMERATED = 10**7  # values enumerate_support makes at most (80 MB in float64)


class Binomial(IncompleteBetaTails, BinaryGivenParameter, Distribution):
    r"""Binomial distribution: successes among ``total_count`` independent Bernoulli trials.

    .. math:: P(X = k) = \binom{n}{k} p^k (1 - p)^{n - k}, \quad k \in \{0, \dots, n\}

    Give exactly one of ``probs`` (:math:`p \in [0, 1]`) or ``logits``
    (:math:`\log(p / (1 - p))`); the other is derived lazily. ``total_count`` broadcasts
    with it.

    Args:
        total_count: the number of trials :math:`n \in \{0, 1, 2, \dots\}`.
        probs: the success probability of each trial :math:`p`.
        logits: its log-odds.

    Example:
        >>> import aleatorch as D
        >>> D.Binomial(10, probs=0.5).log_prob(torch.tensor(5.0))
        tensor(-1.4020)
    """

    arg_constraints = {
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    has_enumerate_support = True
    _rsample_hint = "it is discrete; use .sample() with a score-function estimator"

    def __init__(
        self,
        total_count: Any = 1,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        self.total_count, name, param = count_and_given(self._name, total_count, probs, logits)
        self._set_given(name, param)
        super().__init__(param.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self) -> torch.Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> torch.Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self) -> torch.Tensor:
        return self.total_count * self._trial_variance()

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        n = self.total_count.expand(shape)
        # torch.binomial never returns for a NaN count (reachable with validation off): draw
        # with 0 there and give NaN.
        unknown = n.isnan()
        n, p = n.masked_fill(unknown, 0), self.probs.expand(shape)
        if n.dtype in (torch.float16, torch.bfloat16):  # torch has no half kernel
            draws = torch.binomial(n.float(), p.float(), generator=generator).to(n.dtype)
        else:
            draws = torch.binomial(n, p, generator=generator)
        return draws.masked_fill_(unknown, math.nan)

    def _log_prob(self, value):
        n = self.total_count
        log_binom = torch.lgamma(n + 1) - torch.lgamma(value + 1) - torch.lgamma(n - value + 1)
        if self._given == "logits":
            logits = self.logits
            return log_binom + value * logits - n * softplus(logits)
        # Exact at p = 0 and p = 1 (0 log 0 = 0), where the logit would be clamped.
        p = self.probs
        return log_binom + torch.special.xlogy(value, p) + torch.special.xlogy(n - value, 1 - p)

    def _entropy(self):
        # No closed form. Where the variance s^2 = n p q exceeds 3e4, the Gram-Charlier
        # expansion H = log(2 pi e s^2) / 2 - (1 - 2p)^2 / (12 s^2) (error O(1 / s^4), below
        # 6e-11). Elsewhere -sum P log P over the labels within 40 s + 20 of the mean (the mass
        # beyond is below 1e-300): a window of at most 13900 labels per entry, whatever n is.
        n = self.total_count
        p, q = self._success_failure_probs()
        variance = n * p * q
        wide = variance > _ASYMPTOTIC_ENTROPY_VARIANCE
        safe_variance = torch.where(wide, variance, torch.ones_like(variance))
        asymptotic = 0.5 * torch.log(_TWO_PI_E * safe_variance) - (p - q).pow(2) / (
            12 * safe_variance
        )
        if bool(wide.all()):
            return asymptotic
        if n.dtype != torch.float64:
            # lgamma(n + 1) - lgamma(k + 1) - ... cancels to nothing in float32 at large n.
            exact = self._in_float64()._entropy().to(n.dtype)
            return torch.where(wide, asymptotic, exact)
        # Where the window lies needs no gradient (and NaN parameters give a NaN result).
        with torch.no_grad():
            sd = torch.where(wide, torch.zeros_like(variance), variance).sqrt().nan_to_num()
            start = (n * p - 40 * sd - 20).floor().clamp(min=0)
            width = int((80 * sd + 41).clamp(max=n + 1).nan_to_num(nan=41.0).max())
        offsets = torch.arange(width, dtype=n.dtype, device=n.device)
        values = start + offsets.view((-1,) + (1,) * len(self._batch_shape))
        inside = values <= n
        log_p = self._log_prob(torch.where(inside, values, torch.zeros_like(values)))
        log_p = torch.where(inside, log_p, torch.full_like(log_p, -torch.inf))
        log_p = log_p.clamp(min=torch.finfo(log_p.dtype).min)
        summed = -(log_p.exp() * log_p).sum(0)
        return torch.where(wide, asymptotic, summed)

    def _in_float64(self) -> Binomial:
        param = self._param.double()
        kwargs = {self._given: param}
        return Binomial(self.total_count.double(), **kwargs, validate_args=False)

    def _success_failure_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, 1 - p)``, each accurate near 0 (from the logits when they were given)."""
        if self._given == "logits":
            return torch.sigmoid(self.logits), torch.sigmoid(-self.logits)
        return self.probs, 1 - self.probs

    def _tail_arguments(self, value):
        """For ``k = floor(value)``: ``P(X <= k) = I_{1-p}(n - k, k + 1)`` on ``0 <= k < n``.

        Returns the clamped beta arguments (valid everywhere, for the safe-where pattern) and
        the masks of ``k < 0`` and ``k >= n``, where the cdf is exactly 0 and 1.
        """
        n = self.total_count
        k = value.floor()
        below, above = k < 0, k >= n
        inside = k.clamp(min=0)
        inside = torch.minimum(inside, (n - 1).clamp(min=0))
        return (n - inside).clamp(min=1), inside + 1, below, above

    def _enumerate_support(self):
        n = self.total_count
        top = n.max() if n.numel() else n.new_zeros(())
        if not bool(top <= _MAX_ENUMERATED):  # also NaN and inf counts
            raise ShapeError(
                f"{self._name}.enumerate_support: total_count {float(top):g} would give "
                f"{float(top) + 1:g} values, more than the {_MAX_ENUMERATED:,} that "
                "enumerate_support makes; sum over a window around the mean instead"
            )
        top = int(top)
        if n.numel() and not bool(n.min() == top):
            raise MethodNotImplementedError(
                f"{self._name}.enumerate_support needs one total_count for the whole batch "
                f"(the values must stack into one tensor), but it ranges from "
                f"{int(n.min())} to {top}; split the batch by total_count"
            )
        values = torch.arange(top + 1, dtype=n.dtype, device=n.device)
        return values.view((-1,) + (1,) * len(self._batch_shape))


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p: Binomial, q: Binomial) -> torch.Tensor:
    # With equal counts, KL = n [p log(p/q) + (1-p) log((1-p)/(1-q))] (0 log 0 = 0). If p has
    # more trials than q, p puts mass where q has none: KL = inf.
    if bool((p.total_count < q.total_count).any()):
        raise MethodNotImplementedError(
            f"kl_divergence({p._name}, {q._name}) has a closed form only when p.total_count >= "
            "q.total_count (equal counts: finite; larger: inf), but p.total_count < "
            "q.total_count somewhere"
        )
    pp, qp = p.probs, q.probs
    t1 = torch.special.xlogy(pp, pp) - torch.special.xlogy(pp, qp)
    t2 = torch.special.xlogy(1 - pp, 1 - pp) - torch.special.xlogy(1 - pp, 1 - qp)
    kl = p.total_count * (t1 + t2)
    return torch.where(p.total_count > q.total_count, torch.full_like(kl, torch.inf), kl)
