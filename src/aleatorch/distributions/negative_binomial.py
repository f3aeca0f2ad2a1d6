"""The negative binomial distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from .._samplers.counts import LawTables, distinct_laws, law_grid, law_tables, table_draws
from ..distribution import Distribution
from ..special import softplus, stirlerr
from ..utils import _readable, textbook_dtype
from ._count_entropy import LAWS, opaque, opaque_entropy
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
# Batches of at least this many entries sum the entropy once per distinct law (CPU eager).
_DEDUPLICATE_FROM = 4096
_LOW = 0xFFFFFFFF
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
        draws = table_draws(shape, self, generator)
        if draws is not None:  # a few laws, many draws
            return draws
        # r = 0 is drawn as r = tiny: Gamma(tiny) underflows to 0 (its chance of reaching
        # the smallest subnormal is ~tiny * 100), so the rate is 0 and so is the draw.
        with torch.no_grad():
            r = self.total_count.detach()
            r = r.clamp(min=torch.finfo(r.dtype).tiny).expand(shape)
            rate = standard_gamma(r, generator).mul_(self._odds().detach())
            return torch.poisson(rate, generator=generator)

    def _law_tables(self) -> tuple[LawTables, torch.Tensor | None] | None:
        """For parameters with few distinct laws (:func:`_samplers.counts.reduced_laws`):
        the tables of their laws (pmfs from the float64 ``_log_prob``; the grid reaches
        ``50 / -log p`` further, the geometric tail) and the law index of each entry; None
        where that does not apply (not CPU eager, not float32/float64)."""
        laws = distinct_laws([self.total_count, self._param], self.batch_shape)
        if laws is None:
            return None
        (r, t), reduced_shape = laws
        logits = self._given == "logits"
        odds = t.exp() if logits else t / (1 - t)
        neg_log_p = softplus(-t) if logits else -torch.log(t)
        mean = r * odds
        grid = law_grid(mean, (mean * (1 + odds)).sqrt_(), (50 / neg_log_p).clamp_(max=2**20))
        if grid is None:
            return None
        first, k = grid
        kwargs = {"logits" if logits else "probs": t[:, None]}
        law = NegativeBinomial(r[:, None], validate_args=False, **kwargs)
        param = self._param
        return law_tables(law._log_prob(k), first, param.dtype, reduced_shape, param.device)

    def _log_prob(self, value):
        bounds = None
        if value.numel() >= _TABLE_MIN_NUMEL and _readable((self.total_count, value)):
            # the magnitudes textbook_dtype reads, from one aminmax of the value (which the
            # table path needs too) and a cached one of r: no |x| pass and temporary
            bounds = value.aminmax()
            r_bounds = self._cached("count_bounds", self.total_count.detach().aminmax)
            work = textbook_dtype(_TEXTBOOK_LIMIT, *(_magnitude(b) for b in (r_bounds, bounds)))
        else:
            work = textbook_dtype(_TEXTBOOK_LIMIT, self.total_count, value)
        if work is not None:
            return self._textbook_log_prob(value, work, bounds)
        return self._exact_log_prob(value)

    def _textbook_log_prob(
        self, value: torch.Tensor, work: torch.dtype, bounds: tuple | None = None
    ) -> torch.Tensor:
        """``lgamma(r + k) - lgamma(r) - lgamma(k + 1) + r log(1 - p) + k log p`` in
        ``work`` (utils.textbook_dtype: r and k moderate, or float64 for float32 inputs), with
        the exact form's values at the edges: 0 at k = 0 when r = 0 or p = 0, -inf below 0.

        The parameter-only terms are cached; ``log k!`` of integer counts is read from a
        table; the edge fixes run only where an edge occurs (this path is CPU eager only)."""
        out_dtype = torch.promote_types(self._param.dtype, value.dtype)
        if value.numel() < _TABLE_MIN_NUMEL and self._param.numel() < _TABLE_MIN_NUMEL:
            if value.numel() <= _PYTHON_NUMEL and self._param.numel() <= _PYTHON_NUMEL:
                out = self._python_log_prob(value, out_dtype)
                if out is not None:
                    return out
            return self._fused_log_prob(value, work).to(out_dtype)
        r, log_p, base, r_zero, p_zero = self._cached(
            f"textbook_{work}", lambda: self._textbook_terms(work)
        )
        if bounds is None:
            bounds = value.aminmax() if value.numel() else (value.new_zeros(()),) * 2
        low, high = bounds
        flags = (bool(low < 0), bool(high < _LOG_FACTORIAL_SIZE), r_zero, p_zero)
        # in place where no graph is kept (fewer large temporaries)
        grad = torch.is_grad_enabled() and (
            base.requires_grad or log_p.requires_grad or value.requires_grad
        )
        terms = (r, log_p, base)
        if grad or value.numel() < 2 * _BLOCK or any(t.shape != value.shape for t in terms):
            return _textbook_formula(value, terms, work, flags, grad).to(out_dtype)
        # no graph: in blocks whose temporaries stay in cache (a pass over the whole float64
        # tensors costs ~4x as much from memory)
        out = torch.empty(value.shape, dtype=out_dtype, device=value.device)
        flat = [t.reshape(-1) for t in (out, value, *terms)]
        for start in range(0, value.numel(), _BLOCK):
            part, *block = (t[start : start + _BLOCK] for t in flat)
            part.copy_(_textbook_formula(block[0], block[1:], work, flags, False))
        return out

    def _python_log_prob(self, value: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor | None:
        """The textbook form entry by entry in Python floats (double precision) for a few
        entries, where each torch call costs more than the arithmetic; None (use the tensor
        path) when a gradient is wanted or a parameter lies outside its support."""
        r, param = self.total_count, self._param
        if torch.is_grad_enabled() and (
            r.requires_grad or param.requires_grad or value.requires_grad
        ):
            return None
        r, param, k = torch.broadcast_tensors(r, param, value)
        rs, params, ks = r.reshape(-1).tolist(), param.reshape(-1).tolist(), k.reshape(-1).tolist()
        logits = self._given == "logits"
        out = []
        for a, b, c in zip(rs, params, ks):
            if not (a >= 0 and a < math.inf and (abs(b) < math.inf if logits else 0 <= b < 1)):
                return None  # (NaN too)
            if logits:
                log_p, log_q = -_softplus(-b), -_softplus(b)
            else:
                log_p, log_q = (math.log(b) if b > 0 else -math.inf), math.log1p(-b)
            if not c >= 0:  # below the support, or NaN
                out.append(c if c != c else -math.inf)
            elif a == 0:  # a point mass at 0
                out.append(0.0 if c == 0 else -math.inf)
            else:
                counts = math.lgamma(a + c) - math.lgamma(a) - math.lgamma(c + 1)
                out.append(counts + (c * log_p if c else 0.0) + a * log_q)
        return torch.tensor(out, dtype=out_dtype).reshape(r.shape)

    def _fused_log_prob(self, value: torch.Tensor, work: torch.dtype) -> torch.Tensor:
        """The textbook form in the fewest calls (small tensors, where each call costs more
        than its arithmetic): ``xlogy``/``xlog1py`` give ``0 log 0 = 0``, and the NaN of
        ``lgamma(0) - lgamma(0)`` at r = k = 0 (the point mass) becomes 0 (a NaN input
        still gives NaN through the other terms)."""
        r = self.total_count.to(work)
        k = value.to(torch.promote_types(work, value.dtype))
        if self._given == "logits":
            log_p, log_q = self._log_success_failure(work)
            terms = k * log_p + r * log_q
        else:
            p = self.probs.to(work)
            terms = torch.special.xlogy(k, p) + torch.special.xlog1py(r, -p)
        counts = torch.lgamma(r + k) - torch.lgamma(r) - torch.lgamma(k + 1)
        out = counts.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf) + terms
        return torch.where(k < 0, -math.inf, out)

    def _textbook_terms(self, work: torch.dtype):
        """``(r, log p, r log(1 - p) - lgamma(r), any r = 0, p_zero)`` in ``work``;
        ``p_zero``: 0 if no p = 0, 1 if some and no log p is NaN or +inf (one sum says
        both: -inf), 2 if that is not known (NaN)."""
        r = self.total_count.to(work)
        log_p, log_q = self._log_success_failure(work)
        base = torch.where(r == 0, 0.0, r * log_q) - torch.lgamma(r)
        edge = float(log_p.sum())
        p_zero = 2 if edge != edge else int(edge == -math.inf)
        return r, log_p, base, bool((r == 0).any()), p_zero

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
        # Under torch.compile / torch.func: the same algorithm as one operator.
        if opaque(self.total_count, self._param):
            return opaque_entropy(self, "NegativeBinomial")
        shared = self._distinct_laws()
        if shared is not None:  # repeated parameters: each distinct law summed once
            law, inverse = shared
            return law._entropy().index_select(0, inverse).reshape(self.batch_shape)
        dtype = self._param.dtype
        if dtype != torch.float64:
            wide = self._with_dtype(torch.float64)
            wide._recurrent_window = True  # float32 accuracy is enough
            return wide._entropy().to(dtype)
        start, stop, _, wide = self._entropy_window()
        if self._recurrent_window:
            summed = _recurrent_entropy(self, start, stop)
        else:
            summed = _windowed_entropy(self, start, stop)
        if not bool(wide.any()):
            return summed
        return torch.where(wide, self._wide_entropy(wide), summed)

    def _entropy_window(self):
        """``(start, stop, stride, wide)``: the labels the entropy sums (unit stride), and
        the entries whose window would pass 2^18 labels (given the window ``[0, 1)``)."""
        odds = self._odds()
        mean = self.total_count * odds
        with torch.no_grad():
            sd = (mean * (1 + odds)).sqrt()
            start = (mean - 12 * sd - 20).floor().clamp(min=0)
            stop = (mean + 12 * sd - 60 / self._log_success_failure()[0] + 21).floor()
            wide = (stop - start) > _MAX_ENTROPY_WINDOW
            start = torch.where(wide, torch.zeros_like(start), start)
            stop = torch.where(wide, torch.ones_like(stop), stop)
        return start, stop, torch.ones_like(start), wide

    def _wide_entropy(self, wide: torch.Tensor) -> torch.Tensor:
        """The Edgeworth expansion (r p > 1e3) or the Gamma continuum limit, where ``wide``."""
        r = self.total_count
        p = self._success_failure_probs()[0]
        odds = self._odds()
        variance = r * odds * (1 + odds)
        decay = -self._log_success_failure()[0]
        rp = torch.where(wide, r * p, torch.ones_like(r))
        safe_variance = torch.where(wide, variance, torch.ones_like(variance))
        edgeworth = 0.5 * torch.log(_TWO_PI_E * safe_variance) - (1 + p).square() / (12 * rp)
        shape = torch.where(wide, r, torch.ones_like(r))
        rate = torch.where(wide, decay, torch.ones_like(decay))
        gamma = shape - torch.log(rate) + torch.lgamma(shape) + (1 - shape) * torch.digamma(shape)
        return torch.where(rp > _EDGEWORTH_FROM, edgeworth, gamma)

    def _entropy_slopes(self, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``d log P(k) / dr = psi(k + r) - psi(r) + log q`` (at fixed p) and ``r`` (the
        factor of ``log q``), for :mod:`._count_entropy`; 0 at r = 0 (a point mass, whose
        gradients are 0 as in eager mode)."""
        r = self.total_count
        growth = torch.where(k == 0, 0.0, torch.digamma(k + r) - torch.digamma(r))
        log_q = torch.where(r == 0, 0.0, self._log_success_failure()[1])
        return growth + log_q, r

    # Set on the float64 twin of float32 parameters: the entropy's window is summed by the
    # ratio recurrence (_recurrent_entropy), exact to float32 rounding.
    _recurrent_window = False

    def _distinct_laws(self) -> tuple[NegativeBinomial, torch.Tensor] | None:
        """``(law, inverse)``: the distinct (total_count, parameter) pairs as a flat law and
        each entry's index into it, where (CPU eager, no gradient wanted, a large batch)
        at most 1/8 of the entries are distinct; else None. The values are the same: only
        the repeats are not summed again."""
        r, param = self.total_count, self._param
        if self.batch_shape.numel() < _DEDUPLICATE_FROM or not _readable((r, param)):
            return None
        if torch.is_grad_enabled() and (r.requires_grad or param.requires_grad):
            return None
        r, param = (t.detach().expand(self.batch_shape).reshape(-1) for t in (r, param))
        if r.dtype == param.dtype == torch.float32:
            # one unique over the two bit patterns packed in an int64
            bits = (r.view(torch.int32).long() << 32) | (param.view(torch.int32).long() & _LOW)
            pairs, inverse = torch.unique(bits, return_inverse=True)
            if pairs.numel() * 8 > r.numel():
                return None
            counts = (pairs >> 32).int().view(torch.float32)
            params = (pairs & _LOW).int().view(torch.float32)
        else:
            counts, count_index = torch.unique(r, return_inverse=True)
            params, param_index = torch.unique(param, return_inverse=True)
            size = params.numel()
            pairs, inverse = torch.unique(count_index * size + param_index, return_inverse=True)
            if pairs.numel() * 8 > r.numel():
                return None
            counts, params = counts[pairs // size], params[pairs % size]
        law = NegativeBinomial(counts, **{self._given: params}, validate_args=False)
        return law, inverse

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


LAWS["NegativeBinomial"] = NegativeBinomial

_LOG_FACTORIAL_SIZE = 4096  # counts below this read log k! from a table (textbook log_prob)
_LOG_FACTORIAL: dict[torch.dtype, torch.Tensor] = {}
_TABLE_MIN_NUMEL = 4096  # smaller values call lgamma (a table read costs more ops there)
_PYTHON_NUMEL = 16  # up to this many entries, log_prob is computed in Python floats
_BLOCK = 1 << 15  # entries per block of the textbook log_prob without a graph (float64: 256 KiB)

_WINDOW_CHUNK = 2**22  # labels x batch entries summed at once by _recurrent_entropy


def _recurrent_entropy(law: NegativeBinomial, start: torch.Tensor, stop: torch.Tensor):
    """``-sum P(k) log P(k)`` over ``start <= k < stop`` (float64 ``law``), with ``log P``
    from the exact ``log P(start)`` by the ratio ``P(k + 1) / P(k) = p (k + r) / (k + 1)``:
    ``log P(k + 1) = log P(k) + log p + log1p((r - 1) / (k + 1))``, a cumulative sum whose
    rounding grows at most as (window width) x eps_64 <= 2^18 x 2^-52, far below float32's
    budget; ~20x cheaper per label than the exact log_prob. A point mass (r = 0 or p = 0)
    sums the label 0 alone (its entropy is 0, its gradients 0)."""
    r, param = law.total_count, law._param
    point = (r == 0) | (law._log_success_failure()[0] == -math.inf)
    with torch.no_grad():
        stop = torch.where(point, start + 1, stop)
        width = int((stop - start).nan_to_num(nan=1.0).clamp(min=1).max()) if start.numel() else 1
    # point masses get stand-in parameters (r = 1, p = 1/2), their label 0 the value 0
    stand_in = 0.5 if law._given == "probs" else 0.0
    safe = NegativeBinomial(
        torch.where(point, 1.0, r),
        **{law._given: torch.where(point, stand_in, param)},
        validate_args=False,
    )
    r_less_one = (safe.total_count - 1).expand(start.shape)
    log_p = safe._log_success_failure()[0].expand(start.shape)
    log_here = torch.where(point, 0.0, safe._log_prob(start))  # log P(first label of a chunk)
    chunk = max(1, _WINDOW_CHUNK // max(start.numel(), 1))
    lead = (-1,) + (1,) * start.dim()
    total = torch.zeros_like(log_here)
    tiny = torch.finfo(log_here.dtype).min
    for first in range(0, width, chunk):
        offsets = torch.arange(
            first, min(width, first + chunk), dtype=start.dtype, device=start.device
        )
        labels = start + offsets.view(lead)
        steps = torch.log1p(r_less_one / (labels + 1)) + log_p  # log P(k + 1) - log P(k)
        climbed = torch.cumsum(steps, 0)
        logs = torch.cat([log_here.unsqueeze(0), log_here + climbed[:-1]])
        log_here = log_here + climbed[-1]
        logs = torch.where(labels < stop, logs, -math.inf).clamp(min=tiny)
        total = total - (logs.exp() * logs).sum(0)
    return total


def _magnitude(bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``max |x|`` (NaN if one is NaN) as a 0-dim tensor of ``x``'s dtype, from its
    ``aminmax``."""
    low, high = bounds
    return torch.maximum(low.neg(), high)


def _softplus(x: float) -> float:
    """``log(1 + e^x)`` for a Python float."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _textbook_formula(
    value: torch.Tensor, terms: tuple, work: torch.dtype, flags: tuple, grad: bool
) -> torch.Tensor:
    """``lgamma(r + k) - log k! + k log p + base`` (``terms = (r, log p, base)``, see
    :meth:`NegativeBinomial._textbook_log_prob`) in ``work`` or wider; ``flags``: whether
    some ``k < 0``, every ``k`` is below the table's end, some ``r = 0``, and ``p_zero``
    (:meth:`NegativeBinomial._textbook_terms`)."""
    r, log_p, base = terms
    negative, below_end, r_zero, p_zero = flags
    k = value.to(torch.promote_types(work, value.dtype))
    out = r + k
    out = torch.lgamma(out) if grad else out.lgamma_()
    out -= _log_factorial(value, k, not negative and below_end)
    if p_zero == 1 and not grad:
        # 0 log 0 = 0 at p = 0: with log p free of NaN and +inf, k log p is NaN exactly
        # there (or at a NaN k, whose lgamma is NaN anyway); cheaper than a where
        term = torch.mul(k, log_p).nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
        out += term
    elif p_zero:
        out += torch.where(k == 0, 0.0, k * log_p)
    else:
        out = out.addcmul_(k, log_p) if out.shape == k.shape else out + k * log_p
    out += base
    if r_zero:  # the point mass at 0: lgamma(0) - lgamma(0) = 0
        out = torch.where((r == 0) & (k == 0), 0.0, out)
    if negative:
        out = torch.where(k < 0, -math.inf, out)
    return out


def _log_factorial(value: torch.Tensor, k: torch.Tensor, in_table: bool) -> torch.Tensor:
    """``lgamma(k + 1)`` (``k`` is ``value`` in the working dtype): from a table of
    ``lgamma(j + 1)`` when every value is an integer in ``[0, 4096)`` (``in_table`` says the
    range holds; a gather costs ~1/8 of a float64 lgamma), else by lgamma."""
    tabulated = in_table and value.numel() >= _TABLE_MIN_NUMEL and not value.requires_grad
    if tabulated and torch.equal(value.floor(), value):
        table = _LOG_FACTORIAL.get(k.dtype)
        if table is None:
            grid = torch.arange(_LOG_FACTORIAL_SIZE, dtype=torch.float64)
            table = _LOG_FACTORIAL.setdefault(k.dtype, torch.lgamma(grid + 1).to(k.dtype))
        return table.index_select(0, value.reshape(-1).long()).view(value.shape)
    return torch.lgamma(k + 1)
