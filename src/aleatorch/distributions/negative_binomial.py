"""The negative binomial distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from ..distribution import Distribution
from ..special import softplus, stirlerr
from ..utils import textbook_dtype
from ._params import BinaryGivenParameter, count_and_given
from .binomial import (
    _LOG_2PI,
    _TWO_PI_E,
    _deviance,
    _discrete_icdf,
    _Tails,
    _windowed_entropy,
)

__all__ = ["NegativeBinomial"]

# Widest window of labels the entropy sums exactly (per batch entry), and the r p above which
# a wider one is replaced by the Edgeworth expansion rather than the Gamma continuum limit.
_MAX_ENTROPY_WINDOW = 2**18
_EDGEWORTH_FROM = 1e3
# log_prob by lgamma directly (utils.textbook_dtype) while r and k are at most this: terms
# below lgamma(40) ~ 48, a float32 error under 50 ulps of max(1, |log P|).
_TEXTBOOK_LIMIT = 20.0


class NegativeBinomial(_Tails, BinaryGivenParameter, Distribution):
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

    def _log_success_failure(
        self, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))``, from the logits when they were given (in ``dtype``)."""
        param = self._param if dtype is None else self._param.to(dtype)
        if self._given == "logits":
            return -softplus(-param), -softplus(param)
        return param.log(), torch.log1p(-param)

    def _success_failure_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, 1 - p)``, each accurate near 0 (from the logits when they were given)."""
        if self._given == "logits":
            return torch.sigmoid(self.logits), torch.sigmoid(-self.logits)
        return self.probs, 1 - self.probs

    def _failure_rounding(self) -> torch.Tensor | None:
        """``(1 - p) - fl(1 - p)`` exactly when the probs were given (see Binomial)."""
        if self._given == "logits":
            return None
        p = self.probs
        return (1 - (1 - p)) - p

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
        work = textbook_dtype(_TEXTBOOK_LIMIT, self.total_count, value)
        if work is not None:
            return self._textbook_log_prob(value, work)
        return self._exact_log_prob(value)

    def _textbook_log_prob(self, value: torch.Tensor, work: torch.dtype) -> torch.Tensor:
        """``lgamma(r + k) - lgamma(r) - lgamma(k + 1) + r log(1 - p) + k log p`` in
        ``work`` (utils.textbook_dtype: r and k moderate, or float64 for float32 inputs), with
        the exact form's values at the edges: 0 at k = 0 when r = 0 or p = 0, -inf below 0."""
        out_dtype = torch.promote_types(self._param.dtype, value.dtype)
        r, k = self.total_count.to(work), value.to(torch.promote_types(work, value.dtype))
        log_p, log_q = self._log_success_failure(work)
        success = torch.where(k == 0, 0.0, k * log_p)  # 0 log 0 = 0 at p = 0
        failure = torch.where(r == 0, 0.0, r * log_q)
        counts = torch.lgamma(r + k) - torch.lgamma(r) - torch.lgamma(k + 1)
        counts = torch.where((r == 0) & (k == 0), 0.0, counts)  # the point mass at 0
        out = torch.where(k < 0, -math.inf, counts + success + failure)
        return out.to(out_dtype)

    def _exact_log_prob(self, value):
        # Loader's form (as R's dnbinom): with N = r + k, P(X = k) = r / N times the binomial
        # probability of r failures among N trials, so for k > 0
        #   log P = log(r / N) + stirlerr(N) - stirlerr(r) - stirlerr(k) - bd0(r, N q)
        #           - bd0(k, N p) + log(N / (2 pi r k)) / 2,
        # with no lgamma difference to cancel; at k = 0 it is r log(1 - p). Below float64 the
        # terms are computed in float64 and rounded once.
        dtype = self._param.dtype
        if dtype != torch.float64 and value.dtype != torch.float64:
            wide = self._with_dtype(torch.float64)._exact_log_prob(value.double())
            return wide.to(torch.promote_types(dtype, value.dtype))
        r = self.total_count
        p, q = self._success_failure_probs()
        log_p, log_q = self._log_success_failure()
        degenerate = r == 0
        interior = (value > 0) & ~degenerate
        k = torch.where(interior, value, torch.ones_like(value))
        r_in = torch.where(interior, r, torch.ones_like(r))
        total = r_in + k
        middle = (
            torch.log(r_in)
            - torch.log(total)
            + stirlerr(total)
            - stirlerr(r_in)
            - stirlerr(k)
            - _deviance(r_in, total, q, log_q, self._failure_rounding())
            - _deviance(k, total, p, log_p)
            + 0.5 * (torch.log(total) - torch.log(r_in) - torch.log(k) - _LOG_2PI)
        )
        none = r * log_q  # k = 0 (r = 0 gives 0 below)
        none = torch.where(degenerate, torch.zeros_like(none), none)
        # (validation off) values below 0 have probability 0; r = 0: a point mass at 0
        edge = torch.where(value == 0, none, torch.full_like(none, -math.inf))
        edge = torch.where(value.isnan(), value, edge)
        return torch.where(interior, middle, edge)

    def _with_dtype(self, dtype: torch.dtype) -> NegativeBinomial:
        """The same law with its parameters in ``dtype``."""
        kwargs = {self._given: self._param.to(dtype)}
        return NegativeBinomial(self.total_count.to(dtype), **kwargs, validate_args=False)

    def _icdf(self, value):
        """The smallest k >= 0 with P(X <= k) >= q, by bisection over the integers on the log
        cdf (q <= 1/2) or the log survival function (q > 1/2).

        q = 1 gives the smallest k whose upper tail P(X > k) underflows to 0 in the dtype
        (as Poisson does): a point of the support, where the mathematical quantile is +inf.
        A point mass at 0 (r = 0 or p = 0) gives 0 for every q.
        """
        return _discrete_icdf(self, value)

    def _entropy(self):
        # No closed form: -sum P log P over a window of labels holding all but ~1e-26 of the
        # mass (12 sd around the mean, and up to 60 / -log p past it for the geometric-like
        # tail of small r), summed in float64. Where that window would pass 2^18 labels:
        # for large r p the Edgeworth expansion H = log(2 pi e s^2) / 2 - g^2 / 12 with the
        # skewness g^2 = (1 + p)^2 / (r p) (error O(1 / (r p)^2)); otherwise (p near 1, a
        # heavy tail) the continuum limit, the Gamma(r, rate -log p) entropy (error O(1 - p)).
        dtype = self._param.dtype
        if dtype != torch.float64:
            return self._with_dtype(torch.float64)._entropy().to(dtype)
        r = self.total_count
        log_p, log_q = self._log_success_failure()
        p, q = self._success_failure_probs()
        odds = self._odds()
        mean = r * odds
        variance = mean * (1 + odds)
        decay = -log_p  # P(k + 1) / P(k) -> p
        with torch.no_grad():
            sd = variance.sqrt()
            start = (mean - 12 * sd - 20).floor().clamp(min=0)
            stop = (mean + 12 * sd + 60 / decay + 21).floor()
            wide = (stop - start) > _MAX_ENTROPY_WINDOW
            start = torch.where(wide, torch.zeros_like(start), start)
            stop = torch.where(wide, torch.ones_like(stop), stop)
        summed = _windowed_entropy(self, start, stop)
        if not bool(wide.any()):
            return summed
        rp = torch.where(wide, r * p, torch.ones_like(r))
        safe_variance = torch.where(wide, variance, torch.ones_like(variance))
        edgeworth = 0.5 * torch.log(_TWO_PI_E * safe_variance) - (1 + p).square() / (12 * rp)
        shape = torch.where(wide, r, torch.ones_like(r))
        rate = torch.where(wide, decay, torch.ones_like(decay))
        gamma = shape - torch.log(rate) + torch.lgamma(shape) + (1 - shape) * torch.digamma(shape)
        asymptotic = torch.where(rp > _EDGEWORTH_FROM, edgeworth, gamma)
        return torch.where(wide, asymptotic, summed)

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
