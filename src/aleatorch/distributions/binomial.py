"""The binomial distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.counts import (
    BINOMIAL_RANGE,
    LawTables,
    binomial_inversion,
    distinct_laws,
    law_grid,
    law_tables,
    table_draws,
)
from ..distribution import Distribution
from ..errors import MethodNotImplementedError, ShapeError
from ..kl import register_kl
from ..special import bd0, softplus, stirlerr
from ..special.bisection import bisect_integers
from ..utils import (
    _SMALL_NUMEL,
    _flat_list,
    _readable,
    broadcast_shapes,
    textbook_dtype,
    textbook_range,
)
from ._beta_tails import IncompleteBetaTails
from ._count_entropy import LAWS, opaque, opaque_entropy
from ._params import BinaryGivenParameter, binary_kl, count_and_given

__all__ = ["Binomial"]


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Veltkamp's split of a float64 ``a = hi + lo``, each half with 26 significant bits."""
    c = a * 134217729.0  # 2^27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _product_error(a: torch.Tensor, b: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """``a b - fl(a b)`` exactly (Dekker's two-product, float64), for ``0 <= b <= 1``; ``a``
    near the top of the range is scaled by a power of 2 first, so the split cannot
    overflow."""
    scale = torch.where(a > 2.0**900, 2.0**-64, 1.0).to(a.dtype)
    a, ab = a * scale, ab * scale
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    error = a_lo * b_lo - (((ab - a_hi * b_hi) - a_lo * b_hi) - a_hi * b_lo)
    error = error / scale
    return torch.where(error.isfinite(), error, torch.zeros_like(error))


class _Tails(IncompleteBetaTails):
    """The incomplete-beta tails, computed in float32 for float16/bfloat16 parameters (whose
    ``sigmoid(-30)`` already underflows) and rounded once to the parameters' dtype."""

    def _in_working_dtype(self, method, value):
        dtype = self._param.dtype
        wide = self._with_dtype(torch.float32)
        return getattr(IncompleteBetaTails, method)(wide, value.float()).to(dtype)

    def _cdf(self, value):
        if self._param.dtype in _HALF:
            return self._in_working_dtype("_cdf", value)
        return super()._cdf(value)

    def _survival_function(self, value):
        if self._param.dtype in _HALF:
            return self._in_working_dtype("_survival_function", value)
        return super()._survival_function(value)

    def _log_cdf(self, value):
        if self._param.dtype in _HALF:
            return self._in_working_dtype("_log_cdf", value)
        return super()._log_cdf(value)

    def _log_survival_function(self, value):
        if self._param.dtype in _HALF:
            return self._in_working_dtype("_log_survival_function", value)
        return super()._log_survival_function(value)


def _deviance(k, n, p, log_p, p_error=None):
    """``bd0(k, n p) = k log(k / (n p)) + n p - k`` for ``k > 0``, ``p + p_error`` being the
    exact probability.

    Near ``k = n p``, :func:`bd0`'s series. Elsewhere the direct form with ``log(k / m)``
    taken as ``log1p((k - m) / m)`` for ``m / 2 <= k <= 2 m`` and ``log(k / m)`` beyond (not
    ``log k - log m``, which loses ``log k / log(k / m)`` eps), and as ``log k - log n -
    log p`` where ``m < k / 2``, which stays accurate from the logits where ``p`` underflows.
    The rounding error ``e`` of ``m = n p`` (and ``n p_error``) is added back to second order,
    ``(m - k) e / m + k (e / m)^2 / 2``: without it the result is off by ``|k - n p| eps``.
    """
    m = n * p
    small = m < 0.5 * k
    from_logs = k * (torch.log(k) - torch.log(n) - log_p) + (m - k)
    m_safe = torch.where(small, k, m)
    close = (k - m_safe).abs() < 0.1 * k + 0.1 * m_safe  # (k + m may overflow)
    # bd0 is homogeneous of degree 1: scale arguments near the float range's top down by
    # 16 (exactly), where its own 2 x and x + m would overflow.
    scale = torch.where(torch.maximum(k, m_safe) > 2.0**1000, 16.0, 1.0).to(k.dtype)
    series = bd0(k / scale, torch.where(close, m_safe, k) / scale) * scale
    near = (m_safe <= 2 * k) & ~close
    ratio = k / torch.where(close, 2 * k, m_safe)
    log_ratio = torch.where(near, torch.log1p((k - m_safe) / m_safe), torch.log(ratio))
    direct = k * log_ratio + (m_safe - k)
    value = torch.where(close, series, direct)
    if m.dtype == torch.float64:
        error = _product_error(n, p, m)
        if p_error is not None:
            error = error + n * p_error
        relative = error / m_safe
        value = value + (m_safe - k) * relative + 0.5 * k * relative * relative
    return torch.where(small, from_logs, value)


# stirlerr(x) = lgamma(x + 1) - (x + 1/2) log x + x - log(2 pi) / 2 at x = 0..9 (0 unused)
_STIRLERR_TABLE = [0.0] + [
    math.lgamma(x + 1) - (x + 0.5) * math.log(x) + x - 0.5 * math.log(2 * math.pi)
    for x in range(1, 10)
]


def _stirling_remainder(x: torch.Tensor) -> torch.Tensor:
    """``stirlerr(x)`` for integers ``x >= 1`` in float64, cheaply: five terms of the series
    ``1/(12 x) - 1/(360 x^3) + ...`` from ``x = 10`` (the first omitted term is below 2e-14
    there), a table below."""
    big = x.clamp(min=10.0)
    inv2 = big.reciprocal().square()
    series = (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188)))) / big
    table = torch.tensor(_STIRLERR_TABLE, dtype=x.dtype, device=x.device)
    index = torch.where(x < 10.0, x, torch.zeros_like(x)).nan_to_num(0.0).clamp(0, 9)
    return torch.where(x >= 10.0, series, table[index.long()])


def _log_choose(n: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """``log C(n, j)`` for integers ``0 <= j <= n`` (0 elsewhere), in float64 to an absolute
    error ~1e-13: with ``m = min(j, n - j)``, ``m log(n / m) - (n - m) log1p(-m / n) + log(n /
    (2 pi m (n - m))) / 2 + stirlerr(n) - stirlerr(m) - stirlerr(n - m)``, every term without
    the cancellation of the lgamma difference (which loses ``n log n`` eps)."""
    m = torch.minimum(j, n - j)
    edge = m <= 0
    m = torch.where(edge, torch.ones_like(m), m)
    n = torch.where(edge, torch.full_like(n, 2.0), n)
    rest = n - m
    value = (
        m * torch.log(n / m)
        - rest * torch.log1p(-m / n)
        + 0.5 * (torch.log(n / m) - torch.log(rest) - _LOG_2PI)
        + _stirling_remainder(n)
        - _stirling_remainder(m)
        - _stirling_remainder(rest)
    )
    return torch.where(edge, torch.zeros_like(value), value)


# log k! for k < 2**20 at most (8 MB in float64), one table per device, grown by powers of 2
_LOG_FACTORIAL_MAX = 2**20
_log_factorial_tables: dict[torch.device, torch.Tensor] = {}


def _log_factorials(top: int, device: torch.device) -> torch.Tensor:
    """``log k! = lgamma(k + 1)`` in float64 for ``k = 0 .. K - 1`` with ``K > top``
    (``top < _LOG_FACTORIAL_MAX``): the same numbers as ``torch.lgamma`` at those integers,
    read back by index at a fraction of its cost."""
    table = _log_factorial_tables.get(device)
    if table is None or table.numel() <= top:
        size = max(1024, 1 << int(top).bit_length())
        with torch.inference_mode(False), torch.no_grad():
            ks = torch.arange(1, size + 1, dtype=torch.float64, device=device)
            table = torch.lgamma(ks)
        _log_factorial_tables[device] = table
    return table


def _gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` (index_select: ~4x cheaper than advanced indexing on CPU)."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def _as_counts(value: torch.Tensor, top: float) -> torch.Tensor | None:
    """``value`` as int32 when every entry is an integer in ``[-1, top]`` (checked with one
    comparison: the round trip through int32 is exact exactly there, after a clamp that
    keeps the conversion defined), else None. CPU eager only (``_readable``)."""
    counts = value.clamp(-1.0, top).to(torch.int32)
    return counts if torch.equal(counts.to(value.dtype), value) else None


def _discrete_icdf(dist: Distribution, value: torch.Tensor) -> torch.Tensor:
    """The smallest integer k >= 0 with ``cdf(k) >= q`` for a family with ``_log_cdf`` and
    ``_log_survival_function``; at q = 1 the smallest k where ``P(X > k)`` underflows to 0 in
    the dtype (half the smallest subnormal). Not differentiable (a step function)."""
    dtype = torch.promote_types(dist._dtype(), value.dtype)
    finfo = torch.finfo(dtype)
    underflow = math.log(finfo.tiny) + math.log(finfo.eps) - math.log(2.0)
    shape = torch.broadcast_shapes(value.shape, dist.batch_shape)
    q = value.detach().to(dtype).expand(shape)
    with torch.no_grad():
        log_q = torch.log(q)
        log_rest = torch.where(q < 1, torch.log1p(-q), torch.full_like(q, underflow))
        upper = q > 0.5

        def below(k):
            return torch.where(
                upper, dist._log_survival_function(k) > log_rest, dist._log_cdf(k) < log_q
            )

        zero = torch.zeros_like(q)
        k = bisect_integers(below, zero, torch.full_like(q, math.inf))
        return torch.where(q <= 0, zero, k)


_ENTROPY_LABELS = 2048  # labels _strided_entropy evaluates per batch entry


def _strided_entropy(dist, start, stop, top):
    """``-sum P(k) log P(k)`` over the integers ``start <= k < stop, k <= top``, from at most
    2048 labels per entry.

    A window of at most 2048 labels is summed exactly. A wider one is walked with an integer
    stride ``s`` and the sum multiplied by ``s``: for a binomial that only happens when the
    window lies 12 standard deviations from both ends of the support (a width above 2048
    needs ``sd > 13``, so ``n p > 12 sd + 20``), where ``-P log P`` is smooth on the scale
    ``sd`` (at least 78 labels per standard deviation) and negligible at both window ends,
    and the strided (trapezoid) sum of such a function equals the unit-step one to within
    ``exp(-2 pi^2 (sd / s)^2)`` (Poisson summation), far below rounding.

    Eagerly, as many labels as the widest window needs (one host sync), in chunks of at most
    ``_WINDOW_CHUNK`` values; under ``torch.compile`` always 2048, so that the shapes do not
    depend on the parameters (the same numbers: the extra labels lie outside every window).
    """
    width = stop - start
    if torch.compiler.is_compiling() or start.numel() == 0:
        labels = _ENTROPY_LABELS
    else:
        widest = width.nan_to_num(nan=1.0).max()
        labels = int(widest.ceil().clamp(min=1, max=_ENTROPY_LABELS))
    stride = torch.ceil(width / labels).clamp(min=1).nan_to_num(nan=1.0)
    lead = (-1,) + (1,) * start.dim()
    chunk = max(1, _WINDOW_CHUNK // max(start.numel(), 1))
    total = torch.zeros_like(start)
    for first in range(0, labels, chunk):
        offsets = torch.arange(
            first, min(labels, first + chunk), dtype=start.dtype, device=start.device
        )
        values = start + stride * offsets.view(lead)
        inside = (values < stop) & (values <= top)
        log_p = dist._log_prob(torch.where(inside, values, torch.zeros_like(values)))
        log_p = torch.where(inside, log_p, torch.full_like(log_p, -math.inf))
        log_p = log_p.clamp(min=torch.finfo(log_p.dtype).min)
        total = total - (log_p.exp() * log_p).sum(0)
    return total * stride


_WINDOW_CHUNK = 2**22  # labels x batch entries summed at once by _windowed_entropy


def _windowed_entropy(dist, start, stop, top=None):
    """``-sum P(k) log P(k)`` over the integers ``start <= k < stop`` (entrywise windows,
    computed without gradient), and ``k <= top`` where given; the mass outside the window must
    be negligible. ``0 log 0 = 0``. Summed in chunks of labels, so memory stays bounded
    whatever the widest window is."""
    with torch.no_grad():
        width = int((stop - start).nan_to_num(nan=1.0).clamp(min=1).max()) if start.numel() else 1
    batch = max(start.numel(), 1)
    chunk = max(1, _WINDOW_CHUNK // batch)
    lead = (-1,) + (1,) * start.dim()
    total = torch.zeros_like(start)
    for first in range(0, width, chunk):
        offsets = torch.arange(
            first, min(width, first + chunk), dtype=start.dtype, device=start.device
        )
        values = start + offsets.view(lead)
        inside = values < stop
        if top is not None:
            inside = inside & (values <= top)
        log_p = dist._log_prob(torch.where(inside, values, torch.zeros_like(values)))
        log_p = torch.where(inside, log_p, torch.full_like(log_p, -math.inf))
        log_p = log_p.clamp(min=torch.finfo(log_p.dtype).min)
        total = total - (log_p.exp() * log_p).sum(0)
    return total


_DEDUPLICATE_FROM = 4096  # batch entries from which the entropy sums each distinct law once


def _distinct_laws(law: Binomial) -> tuple[Binomial, torch.Tensor] | None:
    """``(distinct, inverse)``: the distinct (total_count, parameter) pairs as a flat law and
    each entry's index into it, where (CPU eager, no gradient wanted, a large batch) at most
    1/8 of the entries are distinct; else None. Only repeats are not summed again."""
    n, param = law.total_count, law._param
    if law.batch_shape.numel() < _DEDUPLICATE_FROM or not _readable((n, param)):
        return None
    if torch.is_grad_enabled() and (n.requires_grad or param.requires_grad):
        return None
    n, param = (t.detach().expand(law.batch_shape).reshape(-1) for t in (n, param))
    counts, count_index = torch.unique(n, return_inverse=True)
    params, param_index = torch.unique(param, return_inverse=True)
    size = params.numel()
    pairs, inverse = torch.unique(count_index * size + param_index, return_inverse=True)
    if pairs.numel() * 8 > n.numel():
        return None
    kwargs = {law._given: params[pairs % size]}
    return Binomial(counts[pairs // size], **kwargs, validate_args=False), inverse


def _times_log(count: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """``count * log_y`` with ``0 * -inf = 0`` (no trial has probability 1)."""
    product = count * log_y
    return torch.where(count == 0, torch.zeros_like(product), product)


# Above this variance the entropy's asymptotic expansion (error ~0.05 / variance^2) is exact to
# ~300 eps in float64; below it the entropy is summed over a window of labels.
_ASYMPTOTIC_ENTROPY_VARIANCE = 3e5
_TWO_PI_E = 2 * math.pi * math.e
_LOG_2PI = math.log(2 * math.pi)
_HALF = (torch.float16, torch.bfloat16)
_WIDE = (torch.float32, torch.float64)
_VECTORISED_FROM = 64  # entries from which sampling uses _samplers.counts (CPU eager)
_MAX_ENUMERATED = 10**7  # values enumerate_support makes at most (80 MB in float64)
_TEXTBOOK_COUNT = 20.0  # total counts up to which log_prob is the lgamma form
_TEXTBOOK_WIDENED = 1e8  # ... and in float64, for float32 counts (utils.textbook_dtype)


_TABLE_ENTROPY_COUNT = 64  # counts up to which the entropy sums every label (_table_entropy)
_LISTED = 16  # entries up to which log_prob loops over Python floats (_listed_log_prob)


def _as_tensor(out: list[float], param: torch.Tensor, value: torch.Tensor, shape) -> torch.Tensor:
    """Python floats as a tensor of ``shape``, in the dtype of ``param`` and ``value``."""
    dtype = (
        param.dtype if value.dtype == param.dtype else torch.promote_types(param.dtype, value.dtype)
    )
    result = torch.tensor(out, dtype=dtype, device=value.device)
    return result if len(shape) == 1 else result.view(shape)


def _softplus_float(x: float) -> float:
    """``log(1 + e^x)`` of a Python float."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _log_success_failure(given: str, param: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log p, log(1 - p))`` from the given logits or probs (see Binomial)."""
    if given == "logits":
        return -softplus(-param), -softplus(param)
    return torch.log(param), torch.log1p(-param)


class Binomial(_Tails, BinaryGivenParameter, Distribution):
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

    def _narrow_logits(self) -> bool:
        """Logits in a dtype below float64: ``sigmoid`` of them underflows (float32 at |l| >
        87), so moments are taken in float64 and rounded once (a subnormal mean comes out as
        the right subnormal instead of 0)."""
        return self._given == "logits" and self._param.dtype != torch.float64

    @property
    def mean(self) -> torch.Tensor:
        if self._narrow_logits():
            return self._in_float64().mean.to(self._param.dtype)
        return self.total_count * self.probs

    @property
    def mode(self) -> torch.Tensor:
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self) -> torch.Tensor:
        if self._narrow_logits():
            return self._in_float64().variance.to(self._param.dtype)
        return self.total_count * self._trial_variance()

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        if math.prod(shape) >= _VECTORISED_FROM:  # (the law tables start further on)
            draws = table_draws(shape, self, generator)
            if draws is not None:  # a few laws, many draws
                return draws
            if self._cached("inverts", self._inverts):
                with torch.no_grad():
                    draws = binomial_inversion(
                        self.total_count.detach().expand(shape).reshape(-1),
                        self._param.detach().expand(shape).reshape(-1),
                        generator,
                        logits=self._given == "logits",
                    )
                return draws.view(shape)
        # (both already have the batch shape: an expand costs as much as the draws of a few)
        n, p = self.total_count, self.probs
        if n.shape != shape:
            n, p = n.expand(shape), p.expand(shape)
        # torch.binomial never returns for a NaN count (reachable with validation off): draw
        # with 0 there and give NaN. (Eagerly on CPU, only when some count is NaN.)
        unknown = None
        if not _readable((n,)) or self._cached("nan_count", self._has_nan_count):
            unknown = n.isnan()
            n = n.masked_fill(unknown, 0)
        if n.dtype in (torch.float16, torch.bfloat16):  # torch has no half kernel
            draws = torch.binomial(n.float(), p.float(), generator=generator).to(n.dtype)
        else:
            draws = torch.binomial(n, p, generator=generator)
        return draws if unknown is None else draws.masked_fill_(unknown, math.nan)

    def _law_tables(self) -> tuple[LawTables, torch.Tensor | None] | None:
        """For parameters with few distinct laws (:func:`_samplers.counts.reduced_laws`):
        the tables of their laws (pmfs from the float64 ``_log_prob``) and the law index of
        each entry; None where that does not apply (not CPU eager, not float32/float64, a
        count that is not an integer in ``[0, 2^31]``)."""
        laws = distinct_laws([self.total_count, self._param], self.batch_shape)
        if laws is None:
            return None
        (n, t), reduced_shape = laws
        low, high = n.aminmax()
        if not (float(low) >= 0 and float(high) <= 2**31 and torch.equal(n, n.floor())):
            return None
        logits = self._given == "logits"
        p = torch.sigmoid(t) if logits else t
        grid = law_grid(n * p, (n * p * (1 - p)).clamp_(min=0).sqrt_())
        if grid is None:
            return None
        first, k = grid
        kwargs = {"logits" if logits else "probs": t[:, None]}
        law = Binomial(n[:, None], validate_args=False, **kwargs)
        param = self._param
        return law_tables(law._log_prob(k), first, param.dtype, reduced_shape, param.device)

    def _inverts(self) -> bool:
        """Whether sampling uses :func:`_samplers.counts.binomial_inversion` (vectorised,
        cheaper than torch.binomial's per-entry loop for many draws): CPU eager, float32 or
        float64, integer counts, and ``n min(p, 1 - p)`` in ``BINOMIAL_RANGE`` everywhere."""
        n, param = self.total_count.detach(), self._param.detach()
        if n.dtype not in _WIDE or param.dtype not in _WIDE or not _readable((n, param)):
            return False
        if not param.numel() or not torch.equal(n, n.floor()):
            return False
        if self._given == "logits":
            q = torch.sigmoid(param.double().abs().neg_())
        else:
            q = torch.minimum(param.double(), 1.0 - param.double())
        low, high = (float(x) for x in (q * n).aminmax())
        return BINOMIAL_RANGE[0] <= low and high <= BINOMIAL_RANGE[1]

    def _has_nan_count(self) -> bool:
        n = self.total_count
        if n.numel() <= _SMALL_NUMEL:  # Python floats: cheaper than two torch calls
            return any(v != v for v in _flat_list(n))
        return bool(n.isnan().any())

    def _log_prob(self, value):
        # Loader's saddle-point form (as R's dbinom): for 0 < k < n,
        #   log P = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n p) - bd0(n - k, n q)
        #           + log(n / (2 pi k (n - k))) / 2,
        # every term of the size of the result (the lgamma difference cancels: no digit is
        # left in float32 at n = 1e6). At k = 0 it is n log(1 - p), at k = n it is n log p.
        # Below float64 the terms are computed in float64 (n p is then exact) and rounded once.
        # For total counts up to 20 (CPU eager, utils.textbook_range) the lgamma form is as
        # accurate (its terms stay below ~45) and ~25x cheaper.
        out = self._listed_log_prob(value)
        if out is not None:
            return out
        work = self._textbook_work()
        if work is not None:  # counts up to 1e8 (float32) or 20: log C(n, k) from a table
            out = self._table_log_prob(value)
            if out is not None:
                return out
        if work is not None and work == self._param.dtype:
            return self._textbook_log_prob(value)
        if work is not None:  # float32 parameters, counts up to 1e8: lgamma in float64
            twin = self._cached("textbook_twin", self._textbook_twin)
            wide = twin._textbook_log_prob(value.to(torch.promote_types(work, value.dtype)))
            return wide.to(torch.promote_types(self._param.dtype, value.dtype))
        dtype = self._param.dtype
        if dtype != torch.float64 and value.dtype != torch.float64:
            wide = self._with_dtype(torch.float64)._log_prob(value.double())
            return wide.to(torch.promote_types(dtype, value.dtype))
        n = self.total_count
        p, q = self._success_failure_probs()
        log_p, log_q = self._log_success_failure()
        interior = (value > 0) & (value < n)
        k = torch.where(interior, value, torch.ones_like(value))
        n_in = torch.where(interior, n, torch.full_like(n, 2.0))
        rest = torch.where(interior, n - value, torch.ones_like(value))
        middle = (
            stirlerr(n_in)
            - stirlerr(k)
            - stirlerr(rest)
            - _deviance(k, n_in, p, log_p)
            - _deviance(rest, n_in, q, log_q, self._failure_rounding())
            + 0.5 * (torch.log(n_in) - torch.log(k) - torch.log(rest) - _LOG_2PI)
        )
        none = _times_log(n, log_q)  # k = 0
        every = _times_log(n, log_p)  # k = n
        edge = torch.where(value == 0, none, every)
        # (validation off) a value outside {0, ..., n} has probability 0
        edge = torch.where((value == 0) | (value == n), edge, torch.full_like(edge, -math.inf))
        edge = torch.where(value.isnan(), value, edge)
        return torch.where(interior, middle, edge)

    # Set on the float64 twin of float32 parameters (_textbook_twin), whose lgamma form is
    # exact to float32 rounding for counts up to 1e8 (utils.textbook_dtype).
    _lgamma_exact_enough = False

    def _textbook_work(self) -> torch.dtype | None:
        """The dtype of the lgamma form (utils.textbook_dtype), None for the exact one."""
        if self._lgamma_exact_enough:
            return self._param.dtype
        return self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_COUNT, self.total_count))

    def _textbook_twin(self) -> Binomial:
        twin = self._with_dtype(torch.float64)
        twin._lgamma_exact_enough = True
        return twin

    def _listed_log_prob(self, value):
        """The lgamma form in Python floats (double precision), rounded once, for at most
        ``_LISTED`` entries with integer values in ``{0, ..., n}``, counts in the range of
        :meth:`_textbook_work` and no gradient to carry: there a loop over Python floats
        costs less than the torch ops' dispatch (CPU eager only; else None)."""
        param, n = self._param, self.total_count
        if value.numel() > _LISTED or value.requires_grad or param.requires_grad:
            return None
        if not _readable((param, n, value)):
            return None
        shape = broadcast_shapes(value.shape, param.shape)
        if math.prod(shape) > _LISTED:
            return None
        ks, ns, ts = (
            _flat_list(t if t.shape == shape else t.expand(shape)) for t in (value, n, param)
        )
        top = max(map(abs, ns), default=0.0)
        if not (top <= _TEXTBOOK_COUNT or self._lgamma_exact_enough):  # (utils.textbook_dtype)
            if top > _TEXTBOOK_WIDENED or param.dtype == torch.float64:
                return None
        logits = self._given == "logits"
        lgamma, log = math.lgamma, math.log
        out = []
        for k, n, t in zip(ks, ns, ts, strict=True):
            if not (0 <= k <= n < math.inf and k == int(k)):
                return None
            if logits:
                if t != t:
                    return None
                log_p, log_q = -_softplus_float(-t), -_softplus_float(t)
            elif 0 < t < 1:
                log_p, log_q = log(t), math.log1p(-t)
            elif t == 0 or t == 1:
                log_p, log_q = (-math.inf, 0.0) if t == 0 else (0.0, -math.inf)
            else:
                return None
            rest = n - k
            x = lgamma(n + 1) - lgamma(k + 1) - lgamma(rest + 1)
            if k:  # 0 log 0 = 0
                x += k * log_p
            if rest:
                x += rest * log_q
            out.append(x)
        return _as_tensor(out, param, value, shape)

    def _table_terms(self):
        """For counts that are integers in ``[0, 2**20)``: ``(n as int32, max n, log n!,
        log p, log q, p == 0, p == 1)``, the logs in float64, with 0 for -inf and the two
        masks None where no p is 0 or 1; else None."""
        n = self.total_count
        if n.numel() == 0:
            return None
        counts = _as_counts(n, _LOG_FACTORIAL_MAX - 1.0)
        if counts is None:
            return None
        low, top = (int(x) for x in counts.aminmax())
        if low < 0:
            return None
        log_n_factorial = _gather(_log_factorials(top, n.device), counts)
        log_p, log_q = _log_success_failure(self._given, self._param.to(torch.float64))
        never = always = None
        with torch.no_grad():
            degenerate = bool((log_p + log_q).isinf().any())
        if degenerate:  # 0 log 0 = 0 (the -inf is put back where k > 0 by _table_log_prob)
            never, always = log_p == -math.inf, log_q == -math.inf
            log_p = torch.where(never, torch.zeros_like(log_p), log_p)
            log_q = torch.where(always, torch.zeros_like(log_q), log_q)
        return counts, top, log_n_factorial, log_p, log_q, never, always

    def _table_log_prob(self, value):
        """``log n! - log k! - log (n - k)! + k log p + (n - k) log q`` with ``log j!`` read
        from a float64 table (the lgamma form's numbers at a fraction of its cost), in float64,
        rounded once: for integer values in ``{0, ..., n}`` on CPU in eager mode (else None).
        Written with two large temporaries, updated in place (on CPU a fresh 8 MB buffer can
        cost more in page faults than the arithmetic written into it)."""
        if value.requires_grad or value.numel() == 0:
            return None
        if not _readable((self._param, self.total_count, value)):
            return None
        terms = self._cached("table", self._table_terms)
        if terms is None:
            return None
        counts, top, log_n_factorial, log_p, log_q, never, always = terms
        if never is not None and torch.is_grad_enabled() and log_p.requires_grad:
            return None  # the lgamma form keeps its gradients at p = 0 and 1
        shape = broadcast_shapes(value.shape, counts.shape)
        k = _as_counts(value.expand(shape), top + 1.0)
        if k is None:
            return None
        rest = counts - k
        if bool(torch.minimum(k.min(), rest.min()) < 0):  # some value outside {0, ..., n}
            return None
        # log C(n, k) first (exactly 0 at k = 0 and n, where the trial terms may be tiny)
        table = _log_factorials(top, value.device)
        out = torch.index_select(table, 0, k.view(-1))
        out.add_(torch.index_select(table, 0, rest.view(-1)))
        out = out.view(shape).neg_().add_(log_n_factorial)
        out.addcmul_(k, log_p).addcmul_(rest, log_q)
        if never is not None:  # probability 0: k > 0 successes at p = 0, failures at p = 1
            out.masked_fill_(((k > 0) & never) | ((rest > 0) & always), -math.inf)
        return out.to(torch.promote_types(self._param.dtype, value.dtype))

    def _table_entropy(self):
        """``-sum_k P(k) log P(k)`` over every ``k <= max n`` (counts up to
        ``_TABLE_ENTROPY_COUNT``), ``log P`` as in :meth:`_table_log_prob`, in float64, one
        pass over the batch per label, rounded once (CPU eager; else None)."""
        param = self._param
        if not _readable((param, self.total_count)):
            return None
        terms = self._cached("table", self._table_terms)
        if terms is None or terms[1] > _TABLE_ENTROPY_COUNT:
            return None
        counts, top, log_n_factorial, log_p, log_q, never, always = terms
        table = _log_factorials(top, param.device)
        log_factorials = table[: top + 1].tolist()
        low = int(counts.min())
        total = torch.zeros(counts.shape, dtype=torch.float64, device=param.device)
        for k in range(top + 1):
            rest = counts - k
            log_prob = torch.index_select(table, 0, rest.clamp(min=0).view(-1))
            log_prob = log_prob.view(rest.shape).neg_().add_(log_n_factorial)
            log_prob.sub_(log_factorials[k]).add_(log_p, alpha=k).addcmul_(rest, log_q)
            term = log_prob.exp() * log_prob
            if never is not None:  # p = 0 allows only k = 0, p = 1 only k = n
                term.masked_fill_((rest < 0) | (never & (k > 0)) | (always & (rest > 0)), 0.0)
            elif k > low:
                term.masked_fill_(rest < 0, 0.0)
            total.sub_(term)
        return total.to(param.dtype)

    def _textbook_log_prob(self, value):
        """``log C(n, k) + k log p + (n - k) log(1 - p)`` by lgamma; -inf outside 0..n."""
        n = self.total_count
        log_p, log_q = self._log_success_failure()
        log_binom = torch.lgamma(n + 1) - torch.lgamma(value + 1) - torch.lgamma(n - value + 1)
        out = log_binom + _times_log(value, log_p) + _times_log(n - value, log_q)
        inside = ((value >= 0) & (value <= n)) | value.isnan()
        return torch.where(inside, out, torch.full_like(out, -math.inf))

    def _log_rare_tail(self, value, upper: bool):
        """``(log P(X > k), mask)`` (``upper``) or ``(log P(X <= k), mask)`` for ``k =
        floor(value)``, where that tail is the rare side of a nearly degenerate law: its
        outcome probability (``p`` above, ``1 - p`` below) is near or under the smallest normal
        number of the working dtype, where the incomplete beta gets it rounded (subnormal, no
        digits left in float32 at logits 100) or as 0.

        The tail is then its first term: with ``r = k + 1`` rare outcomes above (``n - k``
        below), rare probability ``a`` and common ``c``, ``log C(n, r) + r log a + (n - r)
        log c``, in float64 from the logits (or probs). The mask requires ``n a / c <
        e^-42``, which bounds the relative size of the rest of the tail (a series in ``(n -
        r) a / ((r + 1) c)``) below float64 rounding; beyond it (float32 counts above ~1e17
        with such logits) the incomplete beta is used as before. Entries outside the mask get
        harmless finite values (safe-where pattern).
        """
        dtype = torch.promote_types(self._param.dtype, value.dtype)
        work = torch.promote_types(dtype, torch.float32)  # half computes in float32
        threshold = math.log(torch.finfo(work).tiny) + 5.0
        wide = self if dtype == torch.float64 else self._in_float64()
        n = wide.total_count
        log_p, log_q = wide._log_success_failure()
        k = value.to(torch.float64).floor()
        if upper:
            log_rare, log_common, rare = log_p, log_q, k + 1
        else:
            log_rare, log_common, rare = log_q, log_p, n - k
        with torch.no_grad():
            extreme = (
                (log_rare < threshold)
                & (torch.log(n) + log_rare - log_common < -42.0)
                & (k >= 0)
                & (k < n)
            )
        rare = torch.where(extreme, rare, torch.ones_like(rare))
        log_rare = torch.where(extreme, log_rare, torch.full_like(log_rare, -1.0))
        log_common = torch.where(extreme, log_common, torch.zeros_like(log_common))
        common = n - rare
        log_tail = (
            _log_choose(n, rare) + _times_log(rare, log_rare) + _times_log(common, log_common)
        )
        return log_tail, extreme

    def _masked(self, extreme: torch.Tensor) -> Binomial:
        """This law with ``p = 1/2`` where ``extreme``: the incomplete-beta tails are left
        finite there, with finite gradients (safe-where pattern)."""
        param = self._param
        safe = torch.zeros_like(param) if self._given == "logits" else torch.full_like(param, 0.5)
        param = torch.where(extreme, safe, param)
        return Binomial(self.total_count, **{self._given: param}, validate_args=False)

    def _rare_or(self, value, upper: bool, method: str, exp: bool):
        """The tail ``method`` of :class:`_Tails`, replaced by :meth:`_log_rare_tail` (or its
        exp) on the rare side of a nearly degenerate law."""
        log_rare, extreme = self._log_rare_tail(value, upper)
        base = getattr(_Tails, method)(self._masked(extreme), value)
        rare = log_rare.exp() if exp else log_rare
        return torch.where(extreme, rare.to(base.dtype), base)

    def _cdf(self, value):
        return self._rare_or(value, False, "_cdf", exp=True)

    def _log_cdf(self, value):
        return self._rare_or(value, False, "_log_cdf", exp=False)

    def _survival_function(self, value):
        return self._rare_or(value, True, "_survival_function", exp=True)

    def _log_survival_function(self, value):
        return self._rare_or(value, True, "_log_survival_function", exp=False)

    def _failure_rounding(self) -> torch.Tensor | None:
        """``(1 - p) - fl(1 - p)`` exactly when the probs were given (else None): for
        ``p < 1/2``, ``fl(1 - p)`` is rounded but ``1 - fl(1 - p)`` and the difference to ``p``
        are exact (Sterbenz)."""
        if self._given == "logits":
            return None
        p = self.probs
        return (1 - (1 - p)) - p

    def _log_success_failure(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p, log(1 - p))``: ``-softplus(-l), -softplus(l)`` from logits, else
        ``log p, log1p(-p)`` (never ``log`` of a rounded ``1 - p``)."""
        return _log_success_failure(self._given, self._param)

    def _entropy(self):
        # No closed form. Where the variance s^2 = n p q exceeds 3e5, the Edgeworth expansion
        # H = log(2 pi e s^2) / 2 - (1 - 2p)^2 / (12 s^2) (error ~0.05 / s^4, below 6e-13).
        # Elsewhere -sum P log P over the labels within 12 s + 20 of the mean (the mass beyond
        # is below 1e-31): see _strided_entropy (a fixed number of labels, so that it
        # compiles into one graph).
        # compile / torch.func: the same algorithm as one operator (._count_entropy).
        if opaque(self.total_count, self._param):
            return opaque_entropy(self, "Binomial")
        shared = _distinct_laws(self)
        if shared is not None:  # repeated parameters: each distinct law summed once
            law, inverse = shared
            return law._entropy().index_select(0, inverse).reshape(self.batch_shape)
        n = self.total_count
        if self._textbook_work() is not None:
            out = self._table_entropy()
            if out is not None:
                return out
        if not self._lgamma_exact_enough and textbook_range(_TEXTBOOK_COUNT, n):
            # at most 21 labels, each with the lgamma log_prob, in the parameters' dtype
            stop = (n + 1).expand(self._batch_shape)
            return _windowed_entropy(self, torch.zeros_like(stop), stop, stop - 1)
        if n.dtype != torch.float64:
            # one rounding at the end; the sum of many terms is kept in float64 (with the
            # lgamma log_prob where it is exact enough: utils.textbook_dtype)
            wide = self._textbook_twin() if self._textbook_work() else self._in_float64()
            return wide._entropy().to(n.dtype)
        start, stop, _, wide = self._entropy_window()
        summed = _strided_entropy(self, start, stop, n)
        return torch.where(wide, self._wide_entropy(wide), summed)

    def _entropy_window(self):
        """``(start, stop, stride, wide)``: the labels within 12 sd + 20 of the mean, the
        stride that walks them in at most 2048 steps (_strided_entropy), and the entries whose
        variance passes 3e5 (asymptotic expansion). Needs no gradient; NaN parameters give a
        NaN result."""
        n = self.total_count
        with torch.no_grad():
            p, q = self._success_failure_probs()
            variance = n * p * q
            wide = variance > _ASYMPTOTIC_ENTROPY_VARIANCE
            sd = torch.where(wide, torch.zeros_like(variance), variance).sqrt().nan_to_num()
            mean = (n * p).nan_to_num()
            start = (mean - 12 * sd - 20).floor().clamp(min=0)
            stop = torch.minimum(mean + 12 * sd + 21, n + 1)
            stride = torch.ceil((stop - start) / _ENTROPY_LABELS).clamp(min=1).nan_to_num(nan=1.0)
        return start, stop, stride, wide

    def _wide_entropy(self, wide: torch.Tensor) -> torch.Tensor:
        """``log(2 pi e s^2) / 2 - (1 - 2p)^2 / (12 s^2)`` where ``wide`` (else finite)."""
        p, q = self._success_failure_probs()
        variance = self.total_count * p * q
        safe_variance = torch.where(wide, variance, torch.ones_like(variance))
        return 0.5 * torch.log(_TWO_PI_E * safe_variance) - (p - q).pow(2) / (12 * safe_variance)

    def _entropy_slopes(self, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``d log P(k) / dn = psi(n + 1) - psi(n - k + 1) + log q`` (at fixed p) and
        ``n - k`` (the factor of ``log q``), for :mod:`._count_entropy`."""
        n = self.total_count
        log_q = self._log_success_failure()[1]
        return torch.digamma(n + 1) - torch.digamma(n - k + 1) + log_q, n - k

    def _in_float64(self) -> Binomial:
        return self._with_dtype(torch.float64)

    def _with_dtype(self, dtype: torch.dtype) -> Binomial:
        """The same law with its parameters in ``dtype`` (half precision computes in float32)."""
        kwargs = {self._given: self._param.to(dtype)}
        return Binomial(self.total_count.to(dtype), **kwargs, validate_args=False)

    def _success_failure_probs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, 1 - p)``, each accurate near 0 (from the logits when they were given)."""
        if self._given == "logits":
            return torch.sigmoid(self.logits), torch.sigmoid(-self.logits)
        return self.probs, 1 - self.probs

    def _icdf(self, value):
        """The smallest k in {0, ..., n} with P(X <= k) >= q (bisection on the log cdf or the
        log survival function, see Poisson); q = 1 gives n, or 0 where p = 0."""
        k = _discrete_icdf(self, value)
        n = self.total_count.detach().to(k.dtype)
        log_p = self._log_success_failure()[0].detach()
        top = torch.where(log_p == -math.inf, torch.zeros_like(n), n)
        return torch.where(value.to(k.dtype) >= 1, top, torch.minimum(k, n))

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


LAWS["Binomial"] = Binomial


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
    kl = p.total_count * binary_kl(p, q)  # each trial's KL, exact for nearly equal probs
    return torch.where(p.total_count > q.total_count, torch.full_like(kl, torch.inf), kl)
