"""Vectorised exact inversion samplers of counts (Poisson, binomial) for CPU eager mode.

A draw is the smallest ``k`` with ``U <= F(k)``, the cdf in float64, ``U`` a float64
uniform (exact in law to float64 rounding). Three forms:

- a few distinct laws, many draws (:class:`LawTables`; per-entry parameters repeated along
  some dims, or a sample_shape): per-law cdf tables on a grid of counts from the family's
  own exact float64 log-pmf, and guides of equal cells; per draw one random 32-bit word,
  two gathers and a compare, ~5 ms per 1M draws whatever the laws (~1.8x the floor of one
  float32 uniform; torch's kernels 28-48 ms). Poisson, Binomial, NegativeBinomial (no
  gamma draw) and Multinomial (a table over every outcome) use it;
- per-entry parameters: a sequential search over ``k`` on the entries still searching (the
  arrays compacted when at most a third of them are). Its cost grows with the mean, and it
  has a fixed cost of ~20 float64 passes, so it beats torch's per-entry kernels only for
  moderate means (measured on 1M entries, one thread): Poisson rates in ``POISSON_RANGE``,
  binomial ``n min(p, 1 - p)`` in ``BINOMIAL_RANGE`` (1.3-2.5x); callers keep torch's
  kernels elsewhere. A vectorised PTRS/BTRS (Hörmann 1993) in torch ops was measured too:
  ~60 float64 passes per round (two uniforms, the squeeze, the compaction, the exact test
  on the rest), no faster than torch's kernel, so not used. (In float32 the transformation
  ``k = floor(f(U))`` and its derivative would carry ``eps |f|`` of rounding, 1e-4 of the
  law at rate 1000: not exact.)

Work is done in blocks of ``BLOCK`` entries: on CPU a fresh 1M-entry temporary costs more
in page faults than the arithmetic written into it. The functions read tensor values
(compaction): callers use them only where ``utils._readable`` holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..utils import _readable

__all__ = [
    "BINOMIAL_RANGE",
    "LAWS_FROM",
    "MAX_LAWS",
    "POISSON_RANGE",
    "LawTables",
    "binomial_inversion",
    "distinct_laws",
    "law_grid",
    "law_tables",
    "table_draws",
    "law_index",
    "word_thresholds",
    "words_below",
    "poisson_inversion",
    "reduced_laws",
]

POISSON_RANGE = (0.5, 12.0)  # rates [low, high) where poisson_inversion beats torch.poisson
BINOMIAL_RANGE = (1.0, 10.0)  # n min(p, 1 - p) [low, high] where binomial_inversion does
BLOCK = 1 << 18  # entries per block
# inversion steps at most: for means below 12 the cdf is 1 in float64 long before (P(X >
# 150) < 1e-100), and w(k) (at most (2 * 12)^k) and 1 / k! stay in float64's range
_SEARCH_STEPS = 150
_INVERSE_FACTORIALS = [1.0 / math.factorial(k) for k in range(_SEARCH_STEPS + 1)]

Tensor = torch.Tensor


def _search(u: Tensor, weight: Tensor, extras: list[Tensor], advance: Callable) -> Tensor:
    """The smallest ``k >= 0`` with ``u <= pmf(0) + ... + pmf(k)``, where ``pmf(k) =
    w(k) / k!`` and ``weight = w(0)``; ``advance(weight, extras)`` turns ``w(k - 1)`` into
    ``w(k)`` in place (``extras``: per-entry tensors it reads or updates). The ``1 / k!``
    rides on the cdf's accumulation. 1-D float64."""
    cdf = weight.clone()
    out = None
    index = None  # positions (in u) of the entries still searching; None: all of them
    count = torch.zeros(u.shape, dtype=torch.int16, device=u.device)
    going = torch.empty(u.shape, dtype=torch.bool, device=u.device)
    for step in range(1, _SEARCH_STEPS + 1):
        torch.gt(u, cdf, out=going)
        left = int(going.count_nonzero())
        if left == 0:
            break
        count.add_(going)
        if 3 * left <= going.numel():  # compact: keep only those still searching
            if index is None:
                out = count
            else:
                out.index_copy_(0, index, count)
            keep = going.nonzero().squeeze(1)
            index = keep if index is None else index.index_select(0, keep)
            u, weight, cdf, count = (t.index_select(0, keep) for t in (u, weight, cdf, count))
            extras = [t.index_select(0, keep) for t in extras]
            going = going[:left]
        advance(weight, extras)
        cdf.add_(weight, alpha=_INVERSE_FACTORIALS[step])
    if index is not None:
        count = out.index_copy_(0, index, count)
    return count.to(u.dtype)


def _blockwise(params: tuple[Tensor, ...], invert: Callable[..., Tensor]) -> Tensor:
    """``invert`` over blocks of the 1-D ``params``, in the dtype of the first."""
    first = params[0]
    out = torch.empty_like(first, memory_format=torch.contiguous_format)
    for start in range(0, first.numel(), BLOCK):
        out[start : start + BLOCK] = invert(*(t[start : start + BLOCK] for t in params))
    return out


def poisson_inversion(rate: Tensor, generator: torch.Generator | None) -> Tensor:
    """Poisson draws (in ``rate``'s dtype) for a 1-D ``rate`` (``0 <= rate < 12``):
    ``pmf(k) = e^-rate rate^k / k!``."""

    def invert(r):
        r = r.to(torch.float64)
        u = torch.rand(r.shape, dtype=torch.float64, device=r.device, generator=generator)
        return _search(u, torch.neg(r).exp_(), [r], _poisson_advance)

    return _blockwise((rate,), invert)


def _poisson_advance(weight, extras):
    """``w(k) = w(k - 1) rate``."""
    weight.mul_(extras[0])


def binomial_inversion(
    n: Tensor, p: Tensor, generator: torch.Generator | None, logits: bool = False
) -> Tensor:
    """Binomial draws (in the dtype of ``n``) for 1-D counts ``n`` (integers ``>= 0``) and
    probabilities ``0 <= p <= 1`` (log-odds if ``logits``) with ``n min(p, 1 - p) < 12``:
    ``n - X(n, 1 - p)`` for ``p > 1/2``, and with ``q = min(p, 1 - p)``, ``pmf(k) = (1 -
    q)^n odds^k n! / (n - k)! / k!``, ``odds = q / (1 - q)``."""

    def invert(n, p):
        n = n.to(torch.float64)
        flip, q = _flip(p.to(torch.float64), logits)
        u = torch.rand(n.shape, dtype=torch.float64, device=n.device, generator=generator)
        first = torch.log1p(-q).mul_(n).exp_()
        odds = q / (1.0 - q)
        draws = torch.minimum(_search(u, first, [n.clone(), odds], _binomial_advance), n)
        return draws.lerp_(n - draws, flip.to(draws.dtype))  # n - draws where flipped

    return _blockwise((n, p), invert)


def _flip(p: Tensor, logits: bool) -> tuple[Tensor, Tensor]:
    """``(p > 1/2, min(p, 1 - p))``, from log-odds ``l`` as ``sigmoid(-|l|)`` if ``logits``
    (``1 - p`` is exact for ``p >= 1/2``: Sterbenz)."""
    if logits:
        return p > 0, torch.sigmoid(p.abs().neg_())
    return p > 0.5, torch.minimum(p, 1.0 - p)


def _binomial_advance(weight, extras):
    """``w(k) = w(k - 1) (n - k + 1) odds``; ``rest = n - k + 1`` (``w`` is 0 beyond
    ``n``)."""
    rest, odds = extras
    weight.mul_(rest).mul_(odds)
    rest.sub_(1.0)


# A few laws, many draws each: per-entry parameters that repeat along some dims (a batch
# expanded and materialised, or a sample_shape) hold few distinct laws. Each law gets a cdf
# table on a grid of counts and a guide of ``cells`` (a power of two) equal cells of the
# uniform: a draw's cell is ``j = floor(cells U)``, and where at most one cdf boundary lies
# inside the cell the answer is ``g(j) + (cells U > cells F(g(j)))``, with ``g(j)`` the
# smallest ``k`` with ``cells F(k) >= j``: two gathers and a compare per draw, no loop (the
# compare on the uniform's leading 32 bits, :meth:`LawTables.draw`). The cells holding
# several boundaries (the far tails, where the pmf is below ``1 / cells``) are marked NaN
# and their few draws searched exactly (``searchsorted``).
# draws from which the law tables are tried: building them costs 0.5-0.8 ms (measured, one
# law), what torch's per-entry kernels spend on ~20K draws
LAWS_FROM = 1 << 14
MAX_LAWS = 64  # distinct laws at most
_MAX_CELLS = 1 << 18  # guide cells of all laws together at most (a few MiB: in cache)
# guide cells per law at least: the draws in cells with several boundaries (a pmf below
# 1 / cells), searched apart, stay rare (~1e-4)
_MIN_CELL_BITS = 13
_MAX_GRID = 1 << 15  # grid points per law at most
_TAIL = 2.0**-80  # the pmf at an open end of a grid must be below this (normalised)
_DRAW_BLOCK = 1 << 17  # draws per block
_NAN_ROW = 128  # entries per row when looking for the NaNs of a block
LAW_GRID_WIDTH = 15.0  # grids reach mean +- (15 sd + 15): the rest is below 2^-64


def reduced_laws(params: list[Tensor], shape: torch.Size, dims: int) -> list[Tensor] | None:
    """``params`` broadcast to ``shape``, narrowed to one entry along each of the first
    ``dims`` dims along which every one of them is constant (stride 0, or equal entries:
    one pass each), then made contiguous; None if more than ``MAX_LAWS`` laws remain."""
    params = [p.detach().expand(shape) for p in params]
    for d in range(dims):
        size = params[0].shape[d]
        if size > 1 and all(
            p.stride(d) == 0 or torch.equal(p, p.narrow(d, 0, 1).expand_as(p)) for p in params
        ):
            params = [p.narrow(d, 0, 1) for p in params]
    if math.prod(params[0].shape[:dims]) > MAX_LAWS:
        return None
    return [p.contiguous() for p in params]


def distinct_laws(
    params: list[Tensor], shape: torch.Size
) -> tuple[list[Tensor], torch.Size] | None:
    """The few distinct laws of a family's ``params`` over its batch ``shape`` (float32 or
    float64, CPU eager; :func:`reduced_laws`): each parameter as a flat float64 tensor, one
    entry per law, and the reduced batch shape (for :func:`law_tables`); else None."""
    if not math.prod(shape) or not _readable(tuple(params)):
        return None
    if any(p.dtype not in (torch.float32, torch.float64) for p in params):
        return None
    reduced = reduced_laws(params, shape, len(shape))
    if reduced is None:
        return None
    return [x.to(torch.float64).reshape(-1) for x in reduced], reduced[0].shape


def law_tables(
    log_pmf: Tensor, first: Tensor, dtype: torch.dtype, reduced_shape: torch.Size, device
) -> tuple[LawTables, Tensor | None] | None:
    """:meth:`LawTables.build` from the laws' float64 ``log_pmf`` on their grids, with the
    law index of each batch entry (:func:`law_index`); None if the tables are refused."""
    tables = LawTables.build(log_pmf, first, dtype)
    return None if tables is None else (tables, law_index(reduced_shape, device))


def table_draws(shape: torch.Size, dist, generator) -> Tensor | None:
    """Draws of ``shape`` by the law tables of ``dist`` (its ``_law_tables()``, cached on it
    as ``"law_tables"``; None where it has none), where there are enough draws to be worth
    them; else None."""
    size = math.prod(shape)
    if size < LAWS_FROM:
        return None
    tables = dist._cached("law_tables", dist._law_tables)
    if tables is None or size < tables[0].worth:
        return None
    return tables[0].draw(shape, tables[1], generator)


def law_grid(mean: Tensor, sd: Tensor, extra: Tensor | float = 0.0) -> tuple[Tensor, Tensor] | None:
    """``(first, k)``: for each law (1-D float64 ``mean``, ``sd``) the grid start ``first =
    max(0, floor(mean - 15 sd - 15))`` and the common grid ``k = first + arange(size)``,
    ``size`` reaching every ``mean + 15 sd + 15 + extra``, ``(L, size)`` float64; None if a
    grid would be wider than ``_MAX_GRID`` (or NaN)."""
    reach = sd.mul(LAW_GRID_WIDTH).add_(LAW_GRID_WIDTH)
    first = (mean - reach).floor_().clamp_(min=0)
    top = (mean + reach).add_(extra).ceil_()
    span = float((top - first).max()) if mean.numel() else 0.0
    if not span < _MAX_GRID:  # NaN fails too
        return None
    k = first[:, None] + torch.arange(int(span) + 1, dtype=torch.float64, device=mean.device)
    return first, k


class LawTables:
    """Guide tables of ``L`` laws on ``first[l] + {0, ..., S - 1}`` from their log-pmfs
    ``log_pmf`` (``(L, S)`` float64, ``-inf`` outside the support). Use :meth:`build`, which
    returns None where the grid misses mass (an open end with pmf above ``2^-80``; not
    checked if ``closed``: the grid is the whole support), a pmf is NaN, or the tables would
    be too large."""

    @classmethod
    def build(
        cls, log_pmf: Tensor, first: Tensor, dtype: torch.dtype, closed: bool = False
    ) -> LawTables | None:
        laws, size = log_pmf.shape
        if size > _MAX_GRID or laws == 0 or bool(log_pmf.isnan().any()):
            return None
        top = log_pmf.amax(1, keepdim=True)
        if not bool((top > -math.inf).all()):
            return None
        pmf = (log_pmf - top).exp_()
        pmf = pmf / pmf.sum(1, keepdim=True)
        if not closed and (
            bool(((pmf[:, 0] > _TAIL) & (first > 0)).any()) or bool((pmf[:, -1] > _TAIL).any())
        ):
            return None  # the grid misses mass at an open end
        cells = 1 << max(_MIN_CELL_BITS, (8 * size - 1).bit_length())
        while laws * cells > _MAX_CELLS and cells > 2 * size:
            cells //= 2
        if laws * cells > _MAX_CELLS:
            return None
        return cls(pmf, first, cells, dtype)

    def __init__(self, pmf: Tensor, first: Tensor, cells: int, dtype: torch.dtype) -> None:
        laws, size = pmf.shape
        arange = torch.arange(size, device=pmf.device)
        # start each grid at its first positive pmf: a draw U = 0 must not give a count of
        # probability 0
        lead = (pmf > 0).to(torch.int8).argmax(1, keepdim=True)
        shifted = arange + lead
        pmf = pmf.gather(1, shifted.clamp(max=size - 1)).masked_fill_(shifted >= size, 0.0)
        first = first + lead.squeeze(1)
        cdf = pmf.cumsum(1)
        scaled = cdf.div_(cdf[:, -1:].clone()).mul_(cells)  # cells F(k); the last is cells exactly
        j = torch.arange(cells, dtype=torch.float64, device=pmf.device).expand(laws, cells)
        g = torch.searchsorted(scaled, j.contiguous(), side="left")  # cells F(g) >= j
        thr = scaled.gather(1, g)
        after = scaled.gather(1, (g + 1).clamp_(max=size - 1))
        one_boundary = (g + 1 >= size) | (after >= j + 1)  # F(g + 1) past the cell's end
        lo = (first[:, None] + g).masked_fill_(~one_boundary, math.nan)
        self.lo = lo.to(dtype).reshape(-1)
        # the draws' 32-bit words s (cell j = s >> shift): the last word at or below the
        # cell's threshold, capped to the cell (a cell with several boundaries: its start),
        # less 2^31 to match the signed words
        shift = 32 - (cells.bit_length() - 1)
        start = j * 2.0**shift
        cut = torch.minimum(thr.mul(2.0**shift).floor_(), start + (2.0**shift - 1.0))
        cut = torch.where(one_boundary, cut, start).sub_(2.0**31)
        self.cut = cut.to(torch.int64).to(torch.int32).reshape(-1)
        self.scaled, self.first, self.cells, self.dtype = scaled, first, cells, dtype
        self.shift = shift
        self._last_offsets: tuple[tuple, tuple[Tensor, int]] | None = None
        # draws from which the tables pay for their build (not amortised when not cached;
        # ~20 ns per grid point or cell, a draw ~25 ns cheaper than torch's kernels)
        self.worth = max(4 * laws * size, laws * cells // 2)

    def draw(self, shape: torch.Size, law: Tensor | None, generator) -> Tensor:
        """Draws of ``shape``; ``law``: the law index of each entry (an int32 tensor that
        broadcasts to ``shape``), None for a single law.

        A draw's uniform is ``U = (s + W) / 2^32``, ``s`` a random 32-bit word (half of an
        int64 from ``random_``, ~1.6x cheaper per entry than a float32 uniform), ``W`` a
        float64 uniform drawn only where it matters: with ``t`` the cell's last word at or
        below its threshold, ``s > t`` gives ``g + 1`` and ``s < t`` gives ``g``, whatever
        ``W``; ``s = t`` (chance ``cells 2^-32``) and cells with several boundaries are
        searched exactly with ``W``. The sign of ``s - t`` is ``clamp(-inf (t - s), 0, 1)``,
        NaN at 0 (one check of the block's row sums). In blocks of ``_DRAW_BLOCK`` entries (the
        temporaries stay in cache)."""
        count = math.prod(shape)
        device = self.lo.device
        out = torch.empty(count, dtype=self.dtype, device=device)
        bias = 1 << (31 - self.shift)  # the signed word's cell index + bias: the cell
        offsets, block = (None, _DRAW_BLOCK) if law is None else self._offsets(shape, law, bias)
        periodic = offsets is not None and offsets.numel() == block
        block = min(block, count)
        words = torch.empty((block + 1) // 2, dtype=torch.int64, device=device)
        cell = torch.empty(block, dtype=torch.int32, device=device)
        cut = torch.empty(block, dtype=torch.int32, device=device)
        # s - t: over the cells once they are read, in float32
        if self.dtype == torch.float32:
            step = cell.view(torch.float32)
        else:
            step = torch.empty(block, dtype=self.dtype, device=device)
        found: list[tuple[Tensor, Tensor]] = []  # (positions, word) to search
        for start in range(0, count, block):
            size = min(block, count - start)
            word = _random_words(words[: (size + 1) // 2], generator).view(torch.int32)[:size]
            j = torch.bitwise_right_shift(word, self.shift, out=cell[:size])
            if offsets is None:
                j.add_(bias)
            else:
                j.add_(offsets[:size] if periodic else offsets[start : start + size])
            part = out[start : start + size]
            torch.index_select(self.lo, 0, j, out=part)
            t = torch.index_select(self.cut, 0, j, out=cut[:size])
            # t - s, exact (s and t share a cell), in int32 then converted: ~2x cheaper than
            # an int32 difference written into floats
            d = step[:size].copy_(t.sub_(word))
            part.add_(d.mul_(-math.inf).clamp_(0.0, 1.0))
            bad = _nan_positions(part)  # a tie, or several boundaries
            if bad is not None:
                found.append((bad + start, word.index_select(0, bad)))
        if found:  # their cells, all at once
            where, word = (torch.cat(parts) for parts in zip(*found))
            j = word.bitwise_right_shift(self.shift)
            if offsets is None:
                j.add_(bias)
            else:
                j.add_(offsets.index_select(0, where.remainder(block) if periodic else where))
            w = torch.rand(word.shape, dtype=torch.float64, device=device, generator=generator)
            v = word.to(torch.float64).add_(2.0**31).add_(w).mul_(2.0**-self.shift)
            self._search(out, where, v, j)
        return out.view(shape)

    def _search(self, out: Tensor, where: Tensor, v: Tensor, cell: Tensor) -> None:
        """Writes into ``out[where]`` the draws of ``v`` (``cells U``, in cells ``cell``) by
        an exact search of their law's table."""
        laws = cell.div(self.cells, rounding_mode="floor")
        for index in laws.unique().tolist():
            at = (laws == index).nonzero().squeeze(1)
            row = self.scaled[index]
            k = torch.searchsorted(row, v.index_select(0, at), side="left")
            k = k.clamp_(max=row.numel() - 1).to(torch.float64).add_(self.first[index])
            out.index_copy_(0, where.index_select(0, at), k.to(self.dtype))

    def _offsets(self, shape: torch.Size, law: Tensor, bias: int) -> tuple[Tensor, int]:
        """``(offsets, block)``: ``cells law + bias`` broadcast to ``shape``, flat (int32),
        and the draws per block. Where the law index repeats with a period ``P`` of at most
        ``_DRAW_BLOCK / 2`` entries (laws along the trailing dims), the block is a multiple
        of ``P`` and ``offsets`` one block of the pattern; else every entry's (the last
        shape's kept)."""
        key = (tuple(shape), law.data_ptr())
        if self._last_offsets is None or self._last_offsets[0] != key:
            law = law.view((1,) * (len(shape) - law.dim()) + tuple(law.shape))
            lead = next(d for d, n in enumerate(law.shape) if n > 1)  # law is not a scalar
            period = math.prod(shape[lead:])
            flat = law.mul(self.cells).add_(bias)
            if period <= _DRAW_BLOCK // 2:
                pattern = flat[(0,) * lead].expand(shape[lead:]).reshape(-1)
                block = period * (_DRAW_BLOCK // period)
                found = (pattern.repeat(block // period), block)
            else:
                found = (flat.expand(shape).reshape(-1), _DRAW_BLOCK)
            self._last_offsets = (key, found)
        return self._last_offsets[1]


# Bernoulli draws ``[U < p]`` from 32-bit words: with ``U = (s + W) / 2^32`` (``s`` a random
# word, ``W`` uniform on [0, 1)) and ``p 2^32`` an integer ``T``, ``U < p`` is ``s < T``
# whatever ``W``: P = p exactly, one word and one compare per draw (torch.bernoulli's
# kernel costs ~3x as much on CPU).
_WORD_BLOCK = 1 << 16  # draws per block (the words stay in cache)
_TOP_WORD = 2**31 - 1


def word_thresholds(p: Tensor) -> Tensor | None:
    """``p 2^32 - 2^31`` (the threshold of the signed words) as a flat int32 tensor, capped at
    ``2^31 - 1`` (``p = 1``: the top word is settled apart, :func:`words_below`), where every
    ``p 2^32`` is an integer in ``[0, 2^32]`` (every float32 ``p >= 2^-8``, and 0); else
    None (NaN, out of range, or finer than ``2^-32``)."""
    scaled = p.detach().reshape(-1).to(torch.float64).mul(2.0**32)
    if not scaled.numel() or not torch.equal(scaled, scaled.floor()):
        return None
    low, high = scaled.aminmax()
    if not (float(low) >= 0 and float(high) <= 2.0**32):
        return None
    return scaled.sub_(2.0**31).clamp_(max=_TOP_WORD).to(torch.int32)


def words_below(
    thresholds: Tensor, p: Tensor, shape: torch.Size, dtype: torch.dtype, generator
) -> Tensor:
    """Draws ``[s < T]`` of ``shape`` (in ``dtype``) for the flat ``thresholds``
    (:func:`word_thresholds` of the flat ``p``) repeated along the leading dims, in blocks of
    about ``_WORD_BLOCK``. The top word ``2^31 - 1`` (chance ``2^-32``) is below ``T``
    only at ``p = 1``: set apart where a block holds it."""
    count, period = math.prod(shape), thresholds.numel()
    out = torch.empty(count, dtype=dtype, device=thresholds.device)
    if period <= _WORD_BLOCK // 2:  # blocks of whole periods over one repeated pattern
        block = period * (_WORD_BLOCK // period)
        pattern = thresholds.repeat(block // period)
        starts = [(start, 0) for start in range(0, count, block)]
    else:  # blocks within each period
        block, pattern = _WORD_BLOCK, thresholds
        starts = [
            (row + at, at) for row in range(0, count, period) for at in range(0, period, block)
        ]
    words = torch.empty((block + 1) // 2, dtype=torch.int64, device=out.device)
    for start, at in starts:
        size = min(block, count - start, len(pattern) - at)
        word = _random_words(words[: (size + 1) // 2], generator).view(torch.int32)[:size]
        part = out[start : start + size]
        torch.lt(word, pattern[at : at + size], out=part)
        if int(word.max()) == _TOP_WORD:
            top = (word == _TOP_WORD).nonzero().squeeze(1)
            ones = p.index_select(0, top.add(at).remainder_(period)).eq(1)
            part.index_copy_(0, top, ones.to(dtype))
    return out.view(shape)


def _random_words(words: Tensor, generator) -> Tensor:
    """``words`` (int64) filled with random 64-bit words, in place."""
    return words.random_(-(2**63), None, generator=generator)


def _nan_positions(x: Tensor) -> Tensor | None:
    """The positions of the (few) NaNs of the 1-D ``x``, or None if it has none: rows of
    ``_NAN_ROW`` entries summed in one pass, their total read once (the check), the rows
    whose sum is NaN then searched (a sum is ~10x cheaper per entry than ``isnan`` and
    ``nonzero``)."""
    rows = x.numel() // _NAN_ROW
    head = x[: rows * _NAN_ROW].view(rows, _NAN_ROW)
    tail = x[rows * _NAN_ROW :]
    sums, rest = head.sum(1), tail.sum()
    if math.isfinite(float(sums.sum().add_(rest))):
        return None
    bad = sums.isnan().nonzero().squeeze(1)
    cols = head.index_select(0, bad).isnan().nonzero()
    found = bad.index_select(0, cols[:, 0]).mul_(_NAN_ROW).add_(cols[:, 1])
    if not math.isfinite(float(rest)):
        found = torch.cat([found, tail.isnan().nonzero().squeeze(1).add_(rows * _NAN_ROW)])
    return found


def law_index(reduced_shape: torch.Size, device: torch.device) -> Tensor | None:
    """The law index of each entry, as an int32 tensor of ``reduced_shape`` (broadcasting to
    the draws' shape), None for a single law."""
    count = math.prod(reduced_shape)
    if count == 1:
        return None
    return torch.arange(count, dtype=torch.int32, device=device).view(reduced_shape)
