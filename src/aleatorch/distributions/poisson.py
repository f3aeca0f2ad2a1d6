"""The Poisson distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.counts import (
    POISSON_RANGE,
    LawTables,
    distinct_laws,
    law_grid,
    law_tables,
    poisson_inversion,
    table_draws,
)
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special.bisection import bisect_integers
from ..special.incomplete_gamma import _log_tails, gammainc, gammaincc, log_gammainc, log_gammaincc
from ..special.stirling import stirlerr
from ..utils import (
    _SMALL_NUMEL,
    _flat_list,
    _is_functorch_wrapped,
    _readable,
    as_params,
    broadcast_shapes,
    textbook_dtype,
)
from .binomial import (
    _LISTED,
    _LOG_FACTORIAL_MAX,
    _as_counts,
    _as_tensor,
    _log_factorials,
)
from .gamma import deviance

__all__ = ["Poisson"]

# Entropy: below a switch rate the defining series is summed over a fixed window of counts;
# above it the asymptotic expansion is used, whose first omitted term is about 1.37 / rate**6
# (measured against 40-digit sums: 2e-17 relative at 500, 7e-10 at 30; 3e-7 at 12, below
# float32's resolution). float64: the window [floor(rate) - 250, + 500) holds every count
# within 11 standard deviations of the mean up to rate 500 (the rest is below 1e-26).
_ENTROPY_SWITCH = {torch.float64: (500.0, 500)}
_ENTROPY_WINDOW_BELOW = 250
_ENTROPY_SWITCH_LOW_PRECISION = (12.0, 48)
# Asymptotic expansion of the entropy in powers of 1/rate (Evans & Boersma 1988).
_ASYMPTOTIC = (-1 / 12, -1 / 24, -19 / 360, -9 / 80, -863 / 2520)
_HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


_HUGE_RATE = 1e18  # above it, sampling switches to the normal limit
_LOG_2PI = math.log(2 * math.pi)
# Rates up to which log_prob is the direct formula (utils.textbook_range, CPU eager).
_TEXTBOOK_LIMIT = 10.0
_LARGEST_COUNT = 2.0**53  # values up to which _listed_log_prob computes lgamma(k + 1)
_VECTORISED_FROM = 64  # entries from which sampling uses _samplers.counts (CPU eager)
_WIDE = (torch.float32, torch.float64)


def poisson_log_pmf(rate: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``log P(X = k)`` in float64. For k >= 1 Loader's saddle-point form (R's dpois_raw):
    ``-stirlerr(k) - bd0(k, rate) - log(2 pi k) / 2`` (bd0 as ``gamma.deviance``), without
    the cancellation of ``k log(rate) - lgamma(k + 1)`` (no correct digit in float32 at
    rate 1e8).
    Below 1 (k = 0, and non-integers or negatives with validation off) the direct form
    ``k log(rate) - rate - lgamma(k + 1)``."""
    r, k = rate.to(torch.float64), value.to(torch.float64)
    saddle_at = k >= 1
    ks = torch.where(saddle_at, k, torch.ones_like(k))
    saddle = -stirlerr(ks) - deviance(ks, r) - 0.5 * (_LOG_2PI + torch.log(ks))
    kd = torch.where(saddle_at, torch.zeros_like(k), k)
    direct = torch.special.xlogy(kd, r) - r - torch.lgamma(kd + 1)
    return torch.where(saddle_at, saddle, direct)


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
        rate = self.rate
        if rate.shape != shape:  # (an expand costs as much as the draws of a few)
            rate = rate.expand(shape)
        if (
            torch.compiler.is_compiling()
            or _is_functorch_wrapped(rate)  # vmap: no data-dependent check
            or not self._cached("usual", self._usual_rates)
        ):
            return self._sample_huge_rates(rate, generator)
        if rate.numel() >= _VECTORISED_FROM:  # (the law tables start further on)
            draws = table_draws(shape, self, generator)
            if draws is not None:  # a few rates, many draws
                return draws
            if self._cached("inverts", self._inverts):
                with torch.no_grad():
                    return poisson_inversion(rate.detach().reshape(-1), generator).view(shape)
        return torch.poisson(rate, generator=generator)

    def _law_tables(self) -> tuple[LawTables, torch.Tensor | None] | None:
        """For rates with few distinct values (:func:`_samplers.counts.reduced_laws`): the
        tables of their laws (pmfs from :func:`poisson_log_pmf`) and the law index of each
        entry; None where that does not apply (not CPU eager, not float32/float64)."""
        laws = distinct_laws([self.rate], self.batch_shape)
        if laws is None:
            return None
        (r,), reduced_shape = laws
        grid = law_grid(r, r.sqrt())
        if grid is None:
            return None
        first, k = grid
        log_pmf = poisson_log_pmf(r[:, None], k)
        return law_tables(log_pmf, first, self.rate.dtype, reduced_shape, self.rate.device)

    def _inverts(self) -> bool:
        """Whether sampling uses :func:`_samplers.counts.poisson_inversion` (vectorised,
        cheaper than torch.poisson's per-entry loop for many draws): CPU eager, float32 or
        float64, every rate in ``POISSON_RANGE``."""
        rate = self.rate
        if rate.dtype not in _WIDE or not rate.numel() or not _readable((rate,)):
            return False
        low, high = (float(x) for x in rate.detach().aminmax())
        return POISSON_RANGE[0] <= low and high < POISSON_RANGE[1]

    def _usual_rates(self) -> bool:
        """Whether every rate is in ``[0, 1e18]``, where torch.poisson is exact."""
        rate = self.rate
        if rate.numel() <= _SMALL_NUMEL:  # Python floats: cheaper than three torch calls
            return all(0 <= r <= _HUGE_RATE for r in _flat_list(rate))
        return bool(((rate >= 0) & (rate <= _HUGE_RATE)).all())

    @staticmethod
    def _sample_huge_rates(rate, generator):
        """torch.poisson overflows int64 above ~9.2e18 (it returns -9.2e18). Above 1e18 a
        Poisson variable is normal to within float64 resolution (skewness 1e-9): round
        ``rate + sqrt(rate) z``. An infinite rate gives inf; a negative or NaN one (validation
        off) NaN, where torch.poisson would raise from inside torch."""
        huge = rate > _HUGE_RATE
        bad = ~(rate >= 0)
        usual = torch.where(huge | bad, torch.zeros_like(rate), rate)
        small = torch.poisson(usual, generator=generator)
        z = torch.randn(rate.shape, dtype=rate.dtype, device=rate.device, generator=generator)
        normal = torch.addcmul(rate, rate.sqrt(), z).round().clamp(min=0)
        normal = torch.where(rate == math.inf, rate, normal)
        return torch.where(bad, math.nan, torch.where(huge, normal, small))

    def _log_prob(self, value):
        out = self._listed_log_prob(value)
        if out is not None:
            return out
        dtype = torch.promote_types(self.rate.dtype, value.dtype)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_LIMIT, self.rate))
        if work is None:
            return poisson_log_pmf(self.rate, value).to(dtype)
        # x log(rate) - rate - log(x!): exact enough while the rate is moderate (for large
        # x the result is as large as lgamma), in float64 for float32 rates up to 1e8
        # (utils.textbook_dtype). On CPU xlogy costs ~30x a multiply, so multiply and turn
        # the NaN of 0 * log(0) into 0 in place.
        out = self._table_log_prob(value)
        if out is not None:
            return out
        rate = self._cached("textbook_rate", lambda: self.rate.to(work))
        log_rate = self._cached("log_rate", rate.log)
        value = value.to(torch.promote_types(work, value.dtype))
        x_log_rate = torch.mul(value, log_rate).nan_to_num_(
            nan=0.0, posinf=math.inf, neginf=-math.inf
        )
        return x_log_rate.sub_(torch.lgamma(value + 1)).sub_(rate).to(dtype)

    def _listed_log_prob(self, value):
        """``k log(rate) - log k! - rate`` in Python floats (double precision), rounded once,
        for at most ``_LISTED`` entries with integer values, rates in the range of the
        textbook form (utils.textbook_dtype) and no gradient to carry (CPU eager only; else
        None): cheaper there than the torch ops' dispatch."""
        rate = self.rate
        if value.numel() > _LISTED or value.requires_grad or rate.requires_grad:
            return None
        if not _readable((rate, value)):
            return None
        shape = broadcast_shapes(value.shape, rate.shape)
        if math.prod(shape) > _LISTED:
            return None
        ks, rs = (_flat_list(t if t.shape == shape else t.expand(shape)) for t in (value, rate))
        top = max(map(abs, rs), default=0.0)
        if not top <= _TEXTBOOK_LIMIT and (top > 1e8 or rate.dtype == torch.float64):
            return None
        out = []
        for k, r in zip(ks, rs, strict=True):
            if not (0 <= k < _LARGEST_COUNT and k == int(k) and 0 <= r < math.inf):
                return None
            x = -math.lgamma(k + 1) - r
            if k:  # 0 log 0 = 0
                x += k * math.log(r) if r > 0 else -math.inf
            out.append(x)
        return _as_tensor(out, rate, value, shape)

    def _table_terms(self):
        """``(rate, log rate, whether some rate is 0)``, the first two in float64."""
        rate = self.rate.to(torch.float64)
        log_rate = rate.log()
        with torch.no_grad():
            zero = bool((rate == 0).any())
        return rate, log_rate, zero

    def _table_log_prob(self, value):
        """``k log(rate) - log k! - rate`` with ``log k!`` read from a float64 table (the
        lgamma form's numbers at a fraction of its cost), in float64, rounded once: for
        integer values below 2**20 on CPU in eager mode (else None). One large temporary,
        updated in place."""
        if value.requires_grad or value.numel() == 0:
            return None
        if not _readable((self.rate, value)):
            return None
        shape = broadcast_shapes(value.shape, self.rate.shape)
        k = _as_counts(value.expand(shape), _LOG_FACTORIAL_MAX - 1.0)
        if k is None:
            return None
        low, top = (int(x) for x in k.aminmax())
        if low < 0:
            return None
        rate, log_rate, zero = self._cached("table", self._table_terms)
        table = _log_factorials(top, value.device)
        out = torch.index_select(table, 0, k.view(-1)).view(shape).neg_()
        out.addcmul_(k, log_rate)
        if zero:  # 0 log 0 = 0 (the only NaN: k = 0 at rate 0; its log k! is 0)
            out = out.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
        return out.sub_(rate).to(torch.promote_types(self.rate.dtype, value.dtype))

    # P(X <= k) = Q(floor(k) + 1, rate) and P(X > k) = P(floor(k) + 1, rate), the regularized
    # incomplete gamma functions of aleatorch.special (each tail in its own right space, and
    # the logs finite where the tails underflow: log P(X <= 0) = -rate at rate 1000).
    # (In float64: in float32 k + 1 rounds to k above 2**24.)
    def _tail_args(self, value):
        k = torch.where(torch.isinf(value), torch.zeros_like(value), value).to(torch.float64)
        return k.floor() + 1, self.rate.to(torch.float64)

    def _edges(self, value, inside, below, above):
        out = torch.where(value < 0, below, inside)
        dtype = torch.promote_types(self.rate.dtype, value.dtype)
        return torch.where(value == math.inf, above, out).to(dtype)

    def _cdf(self, value):
        return self._edges(value, gammaincc(*self._tail_args(value)), 0.0, 1.0)

    def _survival_function(self, value):
        return self._edges(value, gammainc(*self._tail_args(value)), 1.0, 0.0)

    def _log_cdf(self, value):
        return self._edges(value, log_gammaincc(*self._tail_args(value)), -math.inf, 0.0)

    def _log_survival_function(self, value):
        return self._edges(value, log_gammainc(*self._tail_args(value)), 0.0, -math.inf)

    def _icdf(self, value):
        """The smallest k >= 0 with P(X <= k) >= q, by bisection over the integers on the log
        cdf (q <= 1/2) or the log survival function (q > 1/2), in float64.

        q = 1 gives the smallest k with ``cdf(k) == 1`` in floating point (the upper tail
        below half an ulp of 1): a finite point of the support, which log_prob and cdf
        accept, where the mathematical quantile would be +inf (outside the support, as the
        former ``icdf(1) = inf`` was).
        """
        dtype = torch.promote_types(self.rate.dtype, value.dtype)
        rate = self.rate.detach().to(torch.float64)
        q = value.detach().to(torch.float64)
        rate, q = torch.broadcast_tensors(rate, q)
        log_q = torch.log(q)
        log_rest = torch.log1p(-q)
        upper = q > 0.5
        one = q >= 1

        def below(k):
            log_sf, log_cdf = _log_tails(k.clamp(min=0) + 1, rate)  # P, Q of the tails
            # q = 1: compare the cdf as _cdf returns it (1 - sf in float64, then rounded).
            cdf = torch.where(log_sf <= log_cdf, 1.0 - torch.exp(log_sf), torch.exp(log_cdf))
            reached_one = cdf.to(dtype) >= 1
            test = torch.where(upper, log_sf > log_rest, log_cdf < log_q)
            return (k < 0) | torch.where(one, ~reached_one, test)

        with torch.no_grad():
            cap = (rate + 40 * rate.sqrt() + 1000).ceil()
            k = bisect_integers(below, torch.zeros_like(rate), cap)
            # Above 2**24 in float32 not every integer is a float: round up, so that the
            # returned k still has P(X <= k) >= q.
            rounded = k.to(dtype)
            up = torch.nextafter(rounded, torch.full_like(rounded, math.inf))
            return torch.where(rounded.to(torch.float64) < k, up, rounded)

    def _entropy(self):
        rate = self.rate
        distinct = _distinct_rates(rate, self.batch_shape)
        if distinct is not None:  # repeated rates: each distinct law summed once
            law, inverse = distinct
            return law._entropy().index_select(0, inverse).reshape(self.batch_shape)
        switch, terms = _ENTROPY_SWITCH.get(rate.dtype, _ENTROPY_SWITCH_LOW_PRECISION)
        below = _ENTROPY_WINDOW_BELOW
        if rate.dtype == torch.float64 and rate.numel() and _readable((rate,)):
            # CPU eager: a window as wide as the largest summed rate needs (one host read);
            # every count within 12 sd + 10 below and 12 sd + 29 above the mean is kept
            top = float(rate.detach().clamp(max=switch).max())
            if top == top:
                spread = math.ceil(12 * math.sqrt(max(top, 0.0)))
                below = min(below, spread + 10)
                terms = min(terms, below + spread + 30)
        # Small rates: H = -sum_k P(k) log P(k), a sum of positive terms (no cancellation).
        k = torch.arange(terms, dtype=rate.dtype, device=rate.device)
        r = rate.unsqueeze(-1)
        if rate.dtype == torch.float64:
            # a window of counts around the mean, log P(k) in the saddle-point form (the
            # direct one loses 1e-12 at rate 500)
            start = (rate.detach().floor() - below).clamp(min=0)
            k = start.unsqueeze(-1) + k
            log_pmf = poisson_log_pmf(r, k)
        else:
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


_DEDUPLICATE_FROM = 4096  # batch entries from which the entropy sums each distinct rate once


def _distinct_rates(rate: torch.Tensor, batch_shape: torch.Size):
    """``(law, inverse)``: the distinct rates as a flat Poisson law and each entry's index
    into it, where (CPU eager, no gradient wanted, a large batch) at most 1/8 of the entries
    are distinct; else None. The values are the same: only repeats are not summed again."""
    if batch_shape.numel() < _DEDUPLICATE_FROM or not _readable((rate,)):
        return None
    if torch.is_grad_enabled() and rate.requires_grad:
        return None
    flat = rate.detach().expand(batch_shape).reshape(-1)
    rates, inverse = torch.unique(flat, return_inverse=True)
    if rates.numel() * 8 > flat.numel():
        return None
    return Poisson(rates, validate_args=False), inverse


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> torch.Tensor:
    # KL = r_p log(r_p / r_q) - r_p + r_q = bd0(r_p, r_q) >= 0: Loader's deviance, without
    # the cancellation of the direct form between nearly equal rates; 0 log 0 = 0 and
    # r log(r / 0) = inf.
    dtype = torch.promote_types(p.rate.dtype, q.rate.dtype)
    return deviance(p.rate.to(torch.float64), q.rate.to(torch.float64)).to(dtype)
