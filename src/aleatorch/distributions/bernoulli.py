"""The Bernoulli distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.counts import word_thresholds, words_below
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special import softplus
from ..utils import _inplace_ok, _readable
from ._params import BinaryGivenParameter, binary_kl, probs_or_logits, rsample_hint

__all__ = ["Bernoulli"]

_KERNEL_BELOW = 2048  # fewer draws: torch.bernoulli (one call) beats rand + lt + to


class Bernoulli(BinaryGivenParameter, ExponentialFamily):
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

    @property
    def _rsample_hint(self) -> str:
        return rsample_hint("RelaxedBernoulli")

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        name, param = probs_or_logits(self._name, probs, logits)
        self._set_given(name, param)
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.probs

    @property
    def mode(self) -> torch.Tensor:
        mode = (self.probs >= 0.5).to(self.probs)
        return torch.where(self.probs == 0.5, torch.full_like(mode, float("nan")), mode)

    @property
    def variance(self) -> torch.Tensor:
        return self._trial_variance()

    def _sample(self, sample_shape, generator):
        # [u < p] for a float64 uniform u (a multiple of 2^-53 in [0, 1)): P = p exactly
        # wherever p 2^53 is an integer (every float32 p >= 2^-30), else within 2^-53;
        # 0 at p = 0, 1 at p = 1. Half the cost of torch.bernoulli's kernel on CPU. On CPU
        # eager, where every p 2^32 is an integer (float32 p >= 2^-8, 0 and 1: read once per
        # parameters), from one 32-bit word per draw instead (exact, ~1/3 of the cost).
        shape = self._extended_shape(sample_shape)
        p = self.probs
        if math.prod(shape) < _KERNEL_BELOW:  # fewer calls: torch's kernel
            return torch.bernoulli(p.expand(shape), generator=generator)
        # (the thresholds are read from a cache, or paid for by the draws of this call)
        cached = p.numel() >= self._cache_min_numel
        if _readable((p,)) and (cached or math.prod(shape) >= 4 * p.numel()):
            thresholds = self._cached("word_thresholds", lambda: word_thresholds(p))
            if thresholds is not None:
                return words_below(thresholds, p.detach().reshape(-1), shape, p.dtype, generator)
        dtype = torch.float32 if p.device.type == "mps" else torch.float64  # (mps: no float64)
        wide = self._cached("probs_wide", lambda: self.probs.to(dtype))
        u = torch.rand(shape, dtype=dtype, device=p.device, generator=generator)
        return torch.lt(u, wide).to(p.dtype)

    @property
    def _failure_prob(self) -> torch.Tensor:
        """``1 - p``, cached: ``log_prob`` reads it on every call."""
        return self._cached("failure_prob", lambda: 1 - self.probs)

    @property
    def _floored_log_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))`` floored at the most negative float, cached for entropy.

        The floor turns ``0 * log 0`` into 0 and changes nothing else (``log p >= -745``).
        """
        return self._cached("floored_log_probs", self._compute_floored_log_probs)

    def _compute_floored_log_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._given == "logits":
            log_p, log_q = -softplus(-self.logits), -softplus(self.logits)
        else:
            log_p, log_q = self.probs.log(), torch.log1p(-self.probs)
        floor = torch.finfo(log_p.dtype).min
        return log_p.clamp_(min=floor), log_q.clamp_(min=floor)

    def _floor_extras(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``finfo.min`` where a floored log probability was ``-inf``, 0 elsewhere."""
        out = []
        for log in self._floored_log_probs:
            floor = log.new_full((), torch.finfo(log.dtype).min)
            out.append(torch.where(log == floor, floor, log.new_zeros(())))
        return out[0], out[1]

    def _log_prob(self, value):
        # A wider float value (float64 against float32 parameters) holds 0 or 1: exact in the
        # parameters' dtype, which lerp and the fused loss need.
        dtype = self._param.dtype
        if value.dtype is not dtype:  # (a no-op .to costs ~1 us)
            value = value.to(dtype)
        if self._given == "logits":
            # One fused op, accurate for large |logits| (x*l - softplus(l) cancels there);
            # the op itself, without F's Python wrapper (reduction 0: none).
            logits = self.logits
            if logits.shape != value.shape:
                logits, value = torch.broadcast_tensors(logits, value)
            return torch.binary_cross_entropy_with_logits(logits, value, None, None, 0).neg_()
        if self.probs.numel() >= self._cache_min_numel and _readable((value, self.probs)):
            # CPU eager: lerp picks log p at 1 and log(1 - p) at 0 exactly (finite logs)
            log_p, log_q = self._floored_log_probs
            if self._cached("inner_probs", lambda: _all_above(log_p, log_q)):
                # every 0 < p < 1 (read once per parameters): one op
                return torch.lerp(log_q, log_p, value)
            # some p = 0 or 1: the logs floored at finfo.min, plus finfo.min again where
            # they were -inf, so that an impossible outcome gets -inf (min + min)
            extra_p, extra_q = self._cached("floor_extras", self._floor_extras)
            return torch.lerp(log_q, log_p, value).add_(torch.lerp(extra_q, extra_p, value))
        # lerp picks p at 1 and 1 - p at 0 exactly; one temporary, log in place, log 0 = -inf.
        return torch.lerp(self._failure_prob, self.probs, value).log_()

    def _tail_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, 1 - p)``, each accurate near 0 (from the logits when they were given)."""
        if self._given == "logits":
            return torch.sigmoid(self.logits), torch.sigmoid(-self.logits)
        return self.probs, self._failure_prob

    def _log_tail_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))``, from the logits when they were given."""
        if self._given == "logits":
            return -softplus(-self.logits), -softplus(self.logits)
        return self.probs.log(), torch.log1p(-self.probs)

    @staticmethod
    def _by_value(value, below, at_zero, above):
        """``below`` for ``x < 0``, ``at_zero`` for ``0 <= x < 1``, ``above`` for ``x >= 1``."""
        inside = torch.where(value >= 1, torch.full_like(at_zero, above), at_zero)
        return torch.where(value < 0, torch.full_like(inside, below), inside)

    # P(X <= x): 0 below 0, 1 - p on [0, 1), 1 from 1 on; each tail from its own probability
    # (log(1 - p) = -softplus(l) from logits), never as 1 minus the other.
    def _cdf(self, value):
        return self._by_value(value, 0.0, self._tail_probs()[1], 1.0)

    def _survival_function(self, value):
        return self._by_value(value, 1.0, self._tail_probs()[0], 0.0)

    def _log_cdf(self, value):
        return self._by_value(value, -math.inf, self._log_tail_probs()[1], 0.0)

    def _log_survival_function(self, value):
        return self._by_value(value, 0.0, self._log_tail_probs()[0], -math.inf)

    def _icdf(self, value):
        # The smallest k in {0, 1} with P(X <= k) >= u: 0 where u <= 1 - p, else 1. Above
        # u = 1/2 tested as 1 - u >= p (1 - u is exact there, 1 - p may not be).
        p, q = self._tail_probs()
        zero = torch.where(value > 0.5, 1 - value >= p, value <= q)
        return torch.where(zero, torch.zeros_like(value), torch.ones_like(value))

    def _entropy(self):
        # H = -p log p - q log q, with 0 log 0 = 0 (see _floored_log_probs).
        log_p, log_q = self._floored_log_probs
        p = self.probs
        given_logits = self._given == "logits"
        if _inplace_ok(self._param, p, log_p, log_q) and p.shape == log_p.shape == log_q.shape:
            # no graph: one fresh buffer, every later step written over it
            if given_logits:
                h = torch.neg(self.logits).sigmoid_().mul_(log_q)
                return h.addcmul_(p, log_p).neg_()
            return torch.mul(p, log_p).addcmul_(self._failure_prob, log_q).neg_()
        q = torch.sigmoid(-self.logits) if given_logits else self._failure_prob
        return torch.addcmul(p * log_p, q, log_q).neg_()

    def _enumerate_support(self):
        values = torch.arange(2, dtype=self._param.dtype, device=self._param.device)
        return values.view((-1,) + (1,) * len(self._batch_shape))

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return softplus(x)


def _all_above(log_p: torch.Tensor, log_q: torch.Tensor) -> bool:
    """Whether both floored logs are above the floor everywhere (so finite), where reading
    that is free (CPU eager); else False."""
    if log_p.numel() == 0 or not _readable((log_p, log_q)):
        return False
    floor = torch.finfo(log_p.dtype).min
    return min(log_p.min().item(), log_q.min().item()) > floor


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> torch.Tensor:
    # KL = p log(p/q) + (1-p) log((1-p)/(1-q)), 0 log 0 = 0, x log(x/0) = inf; to full
    # relative precision when p and q nearly agree (see binary_kl).
    return binary_kl(p, q)
