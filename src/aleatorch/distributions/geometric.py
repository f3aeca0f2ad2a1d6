"""The geometric distribution (failures before the first success)."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import fresh_uniforms
from ..distribution import Distribution
from ..kl import register_kl
from ..special import log1mexp, softplus, x_log1p_y
from ..special.compile_safe import expm1
from ..utils import _inplace_ok, _readable
from ._params import BinaryGivenParameter, binary_kl, probs_or_logits

__all__ = ["Geometric"]

_LN2 = math.log(2.0)
_FUSED_BELOW = 4096  # smaller batches: the fused xlog1py (fewer calls) in the entropy


class Geometric(BinaryGivenParameter, Distribution):
    r"""Geometric distribution: the number of failures before the first success.

    .. math:: P(X = k) = p (1 - p)^k, \quad k \in \{0, 1, 2, \dots\}

    Give exactly one of ``probs`` (the success probability :math:`p \in (0, 1]`) or
    ``logits`` (:math:`\log(p / (1 - p))`); the other is derived lazily. From logits, the
    failure probability :math:`1 - p = \sigma(-\ell)` and the mean :math:`e^{-\ell}` keep full
    relative accuracy however large :math:`\ell` is.

    Example:
        >>> import aleatorch as D
        >>> D.Geometric(probs=0.25).log_prob(torch.tensor(2.0))
        tensor(-1.9617)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer
    _rsample_hint = "it is discrete; use .sample() with a score-function estimator"

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        name, param = probs_or_logits(self._name, probs, logits)
        self._set_given(name, param)
        super().__init__(param.shape, validate_args=validate_args)

    def _parameter_relations(self):
        if self._given == "probs":  # p = 0 never succeeds: no distribution
            yield "probs", "positive (> 0)", self.probs > 0, {}

    def _log_success_failure(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))``, from the logits when they were given (cached)."""
        return self._cached("log_success_failure", self._compute_log_success_failure)

    def _compute_log_success_failure(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._given == "logits":
            return -softplus(-self.logits), -softplus(self.logits)
        return self.probs.log(), torch.log1p(-self.probs)

    @property
    def mean(self) -> torch.Tensor:
        if self._given == "logits":
            return torch.exp(-self.logits)
        return (1 - self.probs) / self.probs

    @property
    def mode(self) -> torch.Tensor:
        return torch.zeros_like(self._param)

    @property
    def variance(self) -> torch.Tensor:
        # (1 - p) / p^2 = e^-l (1 + e^-l)
        if self._given == "logits":
            odds = torch.exp(-self.logits)
            return odds + odds * odds
        return (1 - self.probs) / self.probs.square()

    def _sample(self, sample_shape, generator):
        # floor(E / -log(1 - p)) with E ~ Exp(1) is geometric: P(X >= k) = (1 - p)^k.
        # As floor(log(1 - U) / log(1 - p)) with U uniform on [0, 1), in place on the draws
        # (the buffer from _samplers.draws.fresh_uniforms, as in standard_exponential).
        # (Detached: no graph to keep out of, no no_grad context to pay on small draws.)
        shape = self._extended_shape(sample_shape)
        log_q = self._log_failure().detach()
        u = fresh_uniforms(log_q, shape, generator)
        return u.neg_().log1p_().div_(log_q).floor_()

    def _log_failure(self) -> torch.Tensor:
        """``log(1 - p)``: the cached pair's where it is cached, else alone (no ``log p``)."""
        if self._param.numel() >= self._cache_min_numel:
            return self._log_success_failure()[1]
        if self._given == "logits":
            return -softplus(self.logits)
        return torch.log1p(-self.probs)

    def _log_prob(self, value):
        # log p + k log(1 - p)
        if self._given == "logits":
            log_p, log_q = self._log_success_failure()
            return torch.addcmul(log_p, value, log_q)
        if self.probs.numel() >= self._cache_min_numel and _readable((value, self.probs)):
            log_p, log_q = self._log_success_failure()
            if self._cached("failure_finite", self._failure_finite):
                # no p = 1 (read once per parameters): no 0 * log 0 to guard, one op
                return torch.addcmul(log_p, value, log_q)
            if value.numel() > 0 and value.max().item() < math.inf:
                # some p = 1: log q floored at -max, plus k (-max) again at those entries,
                # so that k >= 1 gives -inf and k = 0 gives 0 (finite counts: inf * 0)
                floored, extra = self._cached("failure_floor_pair", self._failure_floor_pair)
                return torch.addcmul(log_p, value, floored).addcmul_(value, extra)
        # 0 * log 0 = 0 at p = 1, k = 0.
        return self.probs.log() + x_log1p_y(value, -self.probs)

    def _failure_floor_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``log(1 - p)`` floored at ``-max``, and ``-max`` where it was ``-inf`` (0 else)."""
        log_q = self._log_success_failure()[1]
        low = -torch.finfo(log_q.dtype).max
        extra = torch.where(log_q == -math.inf, log_q.new_full((), low), log_q.new_zeros(()))
        return log_q.clamp(min=low), extra

    def _failure_finite(self) -> bool:
        """Whether every ``log(1 - p)`` is finite, where reading it is free (else False)."""
        log_q = self._log_success_failure()[1]
        if log_q.numel() == 0 or not _readable((log_q,)):
            return False
        return log_q.min().item() > -math.inf

    def _log_survival_function(self, value):
        # P(X > x) = (1 - p)^(floor(x) + 1) for x >= 0, and 1 below 0.
        _, log_q = self._log_success_failure()
        k = value.floor().clamp(min=-1)
        return x_log_y_safe(k + 1, log_q)

    def _survival_function(self, value):
        return self._log_survival_function(value).exp()

    def _cdf(self, value):
        return -expm1(self._log_survival_function(value))

    def _log_neg_log_failure(self) -> torch.Tensor:
        """``log(-log(1 - p))``, from the logits as ``log softplus(l)``: finite and accurate
        where ``-log(1 - p) = softplus(l)`` is subnormal or 0 in the dtype."""
        if self._given == "logits":
            return _log_softplus(self.logits)
        return torch.log(-torch.log1p(-self.probs))

    def _log_cdf(self, value):
        # log(1 - (1 - p)^(k + 1)) = log1mexp(-t) with t = (k + 1) (-log(1 - p)). Where the
        # rate -log(1 - p) is below tiny / eps (from logits l << 0 it is subnormal or 0 in
        # float32: l = -100) it has lost digits, so t is taken from log t = log(k + 1) +
        # log(-log(1 - p)) (an ordinary number), and for t < 1/2 the result as log t +
        # log(-expm1(-t) / t) (the correction ~ -t/2 needs no such precision).
        count = (value.floor() + 1).clamp(min=0)
        _, log_q = self._log_success_failure()
        finfo = torch.finfo(log_q.dtype)
        log_t = torch.log(count) + self._log_neg_log_failure()
        faint = -log_q < finfo.tiny / finfo.eps
        t = torch.where(faint, log_t.exp(), -x_log_y_safe(count, log_q))
        small = faint & (t < 0.5)
        positive = small & (t > finfo.eps)  # below, -t/2 is below rounding
        t_small = torch.where(positive, t, torch.ones_like(t))
        correction = torch.log(-expm1(-t_small) / t_small)
        correction = torch.where(positive, correction, torch.zeros_like(correction))
        # log1mexp(-t) with each branch fed only its own t (finite gradients everywhere)
        steep = (t < _LN2) & ~small & (count > 0)
        t_steep = torch.where(steep, t, torch.ones_like(t))
        t_flat = torch.where(t < _LN2, torch.ones_like(t), t)  # (NaN stays)
        far = torch.where(steep, torch.log(-expm1(-t_steep)), torch.log1p(-torch.exp(-t_flat)))
        out = torch.where(small, log_t + correction, far)
        return torch.where(count == 0, torch.full_like(out, -math.inf), out)

    def _icdf(self, value):
        # Below float64 the quantile is found in float64 and rounded once: from logits
        # l << 0, log(1 - p) = -softplus(l) is subnormal in float32 (5 % off at l = -100).
        # q = 1 still gives the top of the dtype asked for.
        dtype = torch.promote_types(self._param.dtype, value.dtype)
        if dtype == torch.float64:
            return self._icdf_in(value, torch.finfo(dtype))
        wide = Geometric(**{self._given: self._param.double()}, validate_args=False)
        return wide._icdf_in(value.double(), torch.finfo(dtype)).to(dtype)

    def _icdf_in(self, value, finfo):
        # Smallest k >= 0 with (k + 1) log(1 - p) <= log(1 - q); the estimate from the ratio
        # is then corrected by one step either way where rounding moved it, testing
        # "cdf(k) >= q" as the generic inverse does (in log space, through the survival
        # function above q = 1/2), so both agree at every q. Where the rate -log(1 - p) is
        # faint (below tiny / eps: digits lost, see _log_cdf) the ratio and the tail are
        # taken through log(-log(1 - p)) instead.
        _, log_q = self._log_success_failure()
        work = torch.finfo(log_q.dtype)
        faint = -log_q < work.tiny / work.eps
        log_rate = self._log_neg_log_failure()
        log_rest = torch.log1p(-value)
        log_value = torch.log(value)
        upper = value > 0.5

        def reached(k):
            faint_sf = -torch.exp(torch.log(k + 1) + log_rate)
            log_sf = torch.where(faint, faint_sf, x_log_y_safe(k + 1, log_q))
            return torch.where(upper, log_sf <= log_rest, log1mexp(log_sf) >= log_value)

        def count(log_target):
            """``log_target / log(1 - p)`` for ``log_target <= 0``."""
            faint_ratio = torch.exp(torch.log(-log_target) - log_rate)
            return torch.where(faint, faint_ratio, log_target / log_q)

        k = (torch.ceil(count(log_rest)) - 1).clamp(min=0)
        k = torch.where(torch.isnan(k), torch.zeros_like(k), k)  # p = 1 and q = 1: 0 / 0
        lower = (k - 1).clamp(min=0)
        step_down = (k > 0) & reached(lower)
        step_up = ~reached(k)
        k = torch.where(step_down, lower, torch.where(step_up, k + 1, k))
        # q = 1: the smallest k whose upper tail (1 - p)^(k + 1) underflows to 0 in the dtype
        # (half the smallest subnormal), as Poisson does: a point of the support where the
        # mathematical quantile is +inf; 0 for p = 1 (a point mass at 0).
        underflow = math.log(finfo.tiny) + math.log(finfo.eps) - math.log(2.0)
        safe_log_q = torch.where(log_q < 0, log_q, torch.full_like(log_q, -1.0))
        top = torch.where(faint, count(torch.full_like(log_q, underflow)), underflow / safe_log_q)
        top = (torch.ceil(top) - 1).clamp(min=0)
        top = torch.where(log_q == -torch.inf, torch.zeros_like(top), top)
        return torch.where(value >= 1, top.expand_as(k), k)

    def _entropy(self):
        # H = -log p - (1 - p) log(1 - p) / p.
        if self._given == "logits":
            # (1 - p) / p * -log(1 - p) = e^-l softplus(l); where p underflows, the ratio
            # -log(1 - p) / p is 1 to working precision, so clamp the logits there.
            logits = self.logits
            low = logits.clamp(min=math.log(torch.finfo(logits.dtype).tiny) + 1.0)
            ratio = softplus(low) / torch.sigmoid(low)
            return softplus(-logits) + torch.sigmoid(-logits) * ratio
        p = self.probs
        if p.numel() < _FUSED_BELOW:
            return -p.log() - x_log1p_y(1 - p, -p) / p
        # -log p - (1 - p) log(1 - p) / p, the log floored at -max so that p = 1 gives 0
        log_p, log_q = self._log_success_failure()
        if _inplace_ok(p):  # no graph: -(log p + failure / p) over one fresh buffer
            floored = self._cached(
                "floored_failure", lambda: log_q.clamp(min=-torch.finfo(p.dtype).max)
            )
            failure = torch.rsub(p, 1).mul_(floored)
            return torch.addcdiv(log_p, failure, p, out=failure).neg_()
        failure = log_q.clamp(min=-torch.finfo(p.dtype).max).mul_(1 - p)
        return torch.addcdiv(-log_p, failure, p, value=-1)


def _log_softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(softplus(x)) = log(log1p(e^x))``: ``x`` itself below ``x = log(eps)`` (the rest,
    ``log(log1p(e^x) / e^x) ~ -e^x / 2``, is below rounding), finite where ``softplus(x)``
    underflows."""
    low = x < math.log(torch.finfo(x.dtype).eps)
    return torch.where(low, x, torch.log(softplus(torch.where(low, torch.zeros_like(x), x))))


def x_log_y_safe(count: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """``count * log_y`` with ``0 * -inf = 0`` (a count of 0 has probability 1)."""
    product = count * log_y
    return torch.where(count == 0, torch.zeros_like(product), product)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p: Geometric, q: Geometric) -> torch.Tensor:
    # A geometric variable counts Bernoulli trials: KL is the per-trial KL times the expected
    # number of trials 1 / p_p (= 1 + e^-l from logits), which keeps the precision of
    # binary_kl for nearly equal members (log(p_p/p_q) + mean log(...) cancels there).
    if p._given == "logits":
        trials = 1 + torch.exp(-p.logits)
    else:
        trials = 1 / p.probs
    return binary_kl(p, q) * trials
