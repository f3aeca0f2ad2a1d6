r"""Vectorised Marsaglia–Tsang draws of :math:`\mathrm{Gamma}(a, 1)`.

Marsaglia & Tsang (2000): with :math:`d = a - 1/3`, :math:`c = 1/\sqrt{9d}`, a normal
:math:`x` and a uniform :math:`u`, the pair is accepted when :math:`t = cx > -1` and

.. math:: \log u < \tfrac12 x^2 + d - d v + d \log v, \qquad v = (1 + t)^3,

and then :math:`d v \sim \mathrm{Gamma}(a, 1)`. Since :math:`9 d t^2 = x^2`, the right-hand
side is :math:`3 d R(t)` with :math:`R(t) = \log(1 + t) - t + t^2/2 - t^3/3 \le 0`, whose
terms do not cancel against :math:`x^2/2` (the textbook form loses :math:`d \epsilon` to
rounding: all of it in float32 at :math:`a = 10^6`). :math:`R` is evaluated directly for
moderate :math:`d`, and by its series :math:`-\sum_{k \ge 4} (-t)^k / k` for large :math:`d`
(where :math:`|t| \le |x| / (3 \sqrt d)` is small). There the draw is :math:`d + d w` with
:math:`w = v - 1 = t (3 + t (3 + t))`, exact to rounding even where :math:`t` is below the
float spacing at 1; for moderate :math:`d` it is :math:`d (1 + t)^3`, or
:math:`d \exp(3 \log(1 + t))` with its boost (a few ulps, also as :math:`t \to -1`).

Every round draws one normal and one uniform per pending entry. On CPU in eager mode only the
rejected entries are drawn again, until none is left; elsewhere (compile, vmap, accelerators)
a fixed number of rounds runs on every entry, then ``torch._standard_gamma`` (the same
method, entry by entry) draws the entries still rejected, at concentration 0 (an immediate
0) for the others. Either way each entry is its first accepted pair: the law is exact. The
rounds' parameter terms (``d``, ``d^(-1/2)``, ``log d``, ``1/a``) are computed block by block,
or once (``prepare_rounds``) and kept by a distribution for its next draws: ~2 ms per 1M
entries, the same numbers either way.
Concentrations below 1 are boosted: :math:`G_a = G_{a+1} U^{1/a}` (ibid., §6). As
``torch._standard_gamma`` does, draws below the smallest normal float are returned as it.
"""

from __future__ import annotations

import array
import math
from typing import NamedTuple

import torch

from ..utils import _flat_list, _readable
from .draws import low_words

__all__ = [
    "Prepared",
    "log_marsaglia_tsang",
    "marsaglia_tsang",
    "marsaglia_tsang_with_uniform",
    "prepare_rounds",
]

# From this d on, 3 d R(t) is evaluated by its series (float32: the direct form's rounding,
# about 2 sqrt(d) eps |x|, exceeds 5e-6 beyond; the series' truncation, 3 d t^10 / 10, is
# below 5e-8 for |x| < 4 there). float64: the direct form stays within 1e-12 up to 1e6.
_SERIES_FROM = {torch.float32: 100.0, torch.float64: 1e6}
_SERIES_TERMS = 10  # t^4 ... t^9
# Rounds on every entry where values cannot be read, before the entry-by-entry fallback.
# Each round accepts at least 95% of the entries still pending (a >= 1).
TRACED_ROUNDS = 3
_BLOCK = 1 << 16
# Up to this many entries (CPU eager) torch's kernel, entry by entry, costs less than the
# fixed overhead of the vectorised rounds (~40 ns per entry against ~60 us).
_TORCH_UP_TO = 1024
# Up to this many entries (CPU eager, no graph) log draws are finished in Python floats.
_PYTHON_UP_TO = 64
# From this concentration on, ``log`` of torch's kernel (which boosts a < 1 itself, in double
# precision, and clamps the result to ``tiny``) is exact in law but for the clamp, whose
# probability ``P(G_a < tiny) <= tiny^a / Gamma(1 + a)`` is below 2^-64 (tiny = 2^-126 or
# 2^-1022): no boost, no uniforms of our own.
_KERNEL_LOG_FROM = {torch.float32: 0.52, torch.float64: 0.063}
# 1 as a 0-dim float32 tensor: ``1 - k 2^-24`` from int32 ``k`` is float32 whatever the
# default dtype, and an operand of float64 ops without promoting them
_ONE = torch.ones((), dtype=torch.float32, device="cpu")


def _direct(t: torch.Tensor) -> torch.Tensor:
    """``3 R(t) = 3 log1p(t) + t (t (3/2 - t) - 3)`` (NaN or -inf for ``t <= -1``)."""
    return (1.5 - t).mul_(t).sub_(3).mul_(t).add_(torch.log1p(t), alpha=3)


def _direct_from_log1p(t: torch.Tensor, l1p: torch.Tensor, out=None) -> torch.Tensor:
    """``R(t) = log1p(t) - t (1 + t (t - 3/2) / 3)`` from ``l1p = log1p(t)``, into ``out`` (or
    a fresh tensor): three passes, two of them fused multiply-adds (CPU eager: ``out=``)."""
    tm = torch.sub(t, 1.5, out=out)
    q = torch.addcmul(_ONE, t, tm, value=1 / 3, out=tm)
    return torch.addcmul(l1p, t, q, value=-1, out=q)


def _series(t: torch.Tensor) -> torch.Tensor:
    """``3 R(t) = -3 sum_{k=4}^{9} (-t)^k / k`` (small ``|t|``), Horner in ``t``."""
    last = _SERIES_TERMS - 1
    acc = torch.full_like(t, 3.0 * (-1) ** (last + 1) / last)
    for k in range(last - 1, 3, -1):
        acc = acc.mul_(t).add_(3.0 * (-1) ** (k + 1) / k)
    t2 = t * t
    return acc.mul_(t2).mul_(t2)


def _bound3(t: torch.Tensor, d: torch.Tensor, regime: str) -> torch.Tensor:
    """``3 R(t)``, a fresh tensor (the regime chosen by ``d``)."""
    if regime == "direct":
        return _direct(t)
    series = _series(t).masked_fill_(t <= -1, -float("inf"))
    if regime == "series":
        return series
    return torch.where(d < _SERIES_FROM[t.dtype], _direct(t), series)


def _bound(t: torch.Tensor, d: torch.Tensor, regime: str) -> torch.Tensor:
    """``3 d R(t)``: the log of the acceptance probability of the pair."""
    return _bound3(t, d, regime).mul_(d)


def _eager_ok(t: torch.Tensor) -> bool:
    """CPU eager (utils._readable: also outside every torch.func transform, where even an
    unbatched tensor must get batched draws, ``randomness="different"``)."""
    return _readable((t,))


def _normals(like: torch.Tensor, generator, std: float = 1.0, buffer=None) -> torch.Tensor:
    """Normals of standard deviation ``std`` shaped like ``like``. float64 on CPU eager:
    Box–Muller from float64 uniforms, ``sqrt(-2 log(1 - u1)) (cos, sin)(2 pi u2)`` (torch's
    own method, written as vectorised torch ops: ~1.7x cheaper than ``normal_``, whose float64
    CPU loop is scalar). Else ``buffer`` (flat scratch like ``like``, or None) is filled."""
    if like.dtype != torch.float64 or not _eager_ok(like) or like.dim() != 1:
        if buffer is not None:
            return buffer.normal_(0.0, std, generator=generator)
        if std == 1.0:
            return torch.randn(
                like.shape, dtype=like.dtype, device=like.device, generator=generator
            )
        out = torch.empty(like.shape, dtype=like.dtype, device=like.device)
        return out.normal_(0.0, std, generator=generator)
    m = like.numel()
    half = (m + 1) // 2
    u = torch.empty(2 * half, dtype=like.dtype).uniform_(generator=generator)
    radius = u[:half].neg_().log1p_().mul_(-2 * std * std).sqrt_()
    theta = u[half:].mul_(2 * math.pi)
    out = torch.empty(2 * half, dtype=like.dtype)
    torch.cos(theta, out=out[:half]).mul_(radius)
    torch.sin(theta, out=out[half:]).mul_(radius)
    return out[:m]


def _log_complement_uniforms(m: int, dtype: torch.dtype, generator, buffer=None) -> torch.Tensor:
    """``log(1 - u)`` for ``m`` uniforms ``u`` on torch's grid (CPU eager). ``1 - u`` is exact
    on that grid, so ``log`` serves (~3x cheaper than ``log1p`` in float32, ~6x in float64).
    float32: ``u`` is ``k 2^-24`` with ``k`` from ``low_words`` (as ``torch.rand`` makes it,
    ~0.8 ms less per 1M), and ``1 - u`` is written over the words' buffer. ``buffer``: None,
    or scratch to fill (``_Scratch.words``)."""
    if dtype != torch.float32:
        u = torch.empty(m, dtype=dtype) if buffer is None else buffer[:m]
        return u.uniform_(generator=generator).neg_().add_(1).log_()
    k = low_words(m, generator, buffer)
    return torch.add(_ONE, k, alpha=-(2.0**-24), out=k.view(torch.float32)).log_()


class _Scratch(NamedTuple):
    """Buffers of one block, reused by every block of a call: in cache when the next block
    starts (fresh temporaries each block cost more than a pass over them)."""

    normals: torch.Tensor
    words: torch.Tensor  # int64 words (float32), or the uniforms (float64)
    logs: torch.Tensor  # log1p(t)
    terms: torch.Tensor  # the bound's polynomial

    @classmethod
    def of(cls, m: int, dtype: torch.dtype) -> _Scratch:
        normals, logs, terms = torch.empty(3, m, dtype=dtype).unbind(0)
        if dtype == torch.float32:
            words = torch.empty((m + 1) // 2, dtype=torch.int64)
        else:
            words = torch.empty(m, dtype=dtype)
        return cls(normals, words, logs, terms)


def _eager_round(
    out, d, regime, generator, inv, mode, log_u=None, c=None, log_d=None, scratch=None, floor=None
):
    """One round (see ``_round_into``) for CPU eager, on ``d = a - 1/3`` (``a >= 1``), in
    fewer passes: normals of deviation 1/3 (``t = x / (3 sqrt d)``), the uniforms from
    ``random_`` words, and in the direct regime the draw from the ``log1p(t)`` of the bound
    (log mode: ``log d + 3 log1p(t)``; boosted draws: ``d exp(3 log1p(t) + log(U) / a)``;
    else ``d (1 + t)^3``).
    ``c = d^(-1/2)`` and ``log d``: computed here unless given (``Prepared``). Writes the
    draws (or their logs) into ``out``, and ``log U`` into ``log_u`` when given; returns
    which pairs are accepted. ``scratch``: a ``_Scratch`` of at least ``out``'s size, or
    None (fresh temporaries). ``floor``: None, or the exponent of a boosted draw below which
    the draw is below ``tiny`` (sent to ``-inf`` before the ``exp``: see ``_exp_floor``)."""
    m = out.numel()
    s = (None,) * 4 if scratch is None else [b[:m] for b in scratch]
    t = _normals(out, generator, 1 / 3, s[0]).mul_(d.rsqrt() if c is None else c)
    log_v = _log_complement_uniforms(m, out.dtype, generator, s[1])
    l1p = None
    if regime == "direct":
        l1p = torch.log1p(t, out=s[2])
        bound, weight = _direct_from_log1p(t, l1p, s[3]), -3  # (R, -3)
    else:
        bound, weight = _bound3(t, d, regime), -1  # (3 R, -1)
        w = (t + 3).mul_(t).add_(3).mul_(t)
        torch.addcmul(d, d, w, out=out)
        if mode == "log":
            out.log_()
    # log(1 - u) - 3 d R(t): negative exactly on acceptance, and then log U
    if log_u is None:
        log_uniform = log_v.addcmul_(d, bound, value=weight)
    else:
        log_uniform = torch.addcmul(log_v, d, bound, value=weight, out=log_u)
    # a float mask cast to bool: ~3x cheaper than a compare into bool (NaN: rejected)
    accepted = torch.lt(log_uniform, 0, out=bound).to(torch.bool)
    if l1p is not None and mode == "log":
        # log(d v) = log d + 3 log1p(t) (+ log(U) / a, the boost)
        torch.add(d.log() if log_d is None else log_d, l1p, alpha=3, out=out)
        if inv is not None:
            out.addcmul_(log_uniform, inv)
        return accepted
    if l1p is not None and inv is not None:
        # d v U^(1/a) = d exp(3 log1p(t) + log(U) / a): one exp for the draw and its boost,
        # and no log d to read (the draw's relative error is that of the exponent)
        e = torch.addcmul(l1p.mul_(3), log_uniform, inv, out=out)
        if floor is not None:
            torch.nn.functional.threshold_(e, floor, -math.inf)
        e.exp_().mul_(d)
        return accepted
    if l1p is not None:
        # d (1 + t)^3: within 3 ulps (1 + t is exact or off by half an ulp of 1, far below
        # the draw's spread while d < _SERIES_FROM); d + d w loses all digits as t -> -1
        torch.add(t, 1, out=out).pow_(3).mul_(d)
    elif inv is not None:
        if mode == "log":
            out.addcmul_(log_uniform, inv)
        else:
            out.mul_(log_uniform.mul_(inv).exp_())
    return accepted


def _round_into(out, a, regime, generator, inv=None, mode="value"):
    """One round for the entries of ``out`` (concentration ``a >= 1``), traced (compile,
    vmap, accelerators): the candidates ``d (1 + cx)^3`` and which are accepted, as a tensor
    like ``out`` (vmap has no ``out=`` rule).

    ``h = 3 d R(t)`` is the log of the acceptance probability and ``log v - h`` (``v = 1 - u``)
    is negative exactly on acceptance. Given acceptance, ``v`` is uniform on ``(0, e^h)``
    whatever ``x``, so ``v e^(-h)`` is a uniform independent of the draw (no third random
    number). With ``inv`` (``1/a'`` where the concentration ``a' = a - 1 < 1`` was boosted,
    else 0) the candidates are multiplied by ``U^inv``. ``mode``: ``"value"`` (the draws) or
    ``"uniform"`` (the draws, and ``log U`` is returned; else None)."""
    d = a - 1 / 3
    c = (d * 9).rsqrt_()
    x = _normals(out, generator)
    # factories, not in-place fills: under vmap an unbatched ``out`` gets batched draws
    u = torch.rand(out.shape, dtype=out.dtype, device=out.device, generator=generator)
    t = x * c  # (out of place: under vmap x may be unbatched and c batched)
    # log(1 - u) - 3 d R(t), u on [0, 1): +inf or NaN where t <= -1 (rejected)
    log_uniform = torch.addcmul(u.neg_().log1p_(), d, _bound3(t, d, regime), value=-1)
    accepted = log_uniform < 0
    w = (t + 3).mul_(t).add_(3).mul_(t)
    out = torch.addcmul(d, d, w)
    if inv is not None:  # U^inv = exp(log U inv): exp(0) = 1 where inv = 0
        out = out.mul_(log_uniform.mul_(inv).exp_())
    return out, accepted, log_uniform if mode == "uniform" else None


def _regime(lowest: float, highest: float, dtype: torch.dtype) -> str:
    start = _SERIES_FROM[dtype] + 1 / 3
    if highest < start:
        return "direct"
    return "series" if lowest >= start else "mixed"


def _compact(t: torch.Tensor) -> torch.Tensor:
    """The distinct entries of ``t`` (an expanded view shrunk back along its 0-stride dims)."""
    sizes = [1 if s == 0 else n for n, s in zip(t.shape, t.stride())]
    return t.as_strided(sizes, t.stride(), t.storage_offset())


def _below_one(a: torch.Tensor) -> torch.Tensor:
    """1 where ``a < 1``, else 0, in ``a``'s dtype (three cheap passes; a bool mask costs
    more to promote)."""
    return (1 - a).clamp_(0, 1).ceil_()


def _fresh_log_uniform(like: torch.Tensor, generator) -> torch.Tensor:
    u = torch.rand(like.shape, dtype=like.dtype, device=like.device, generator=generator)
    return u.neg_().log1p_()


def _torch_kernel(a: torch.Tensor, generator, mode: str):
    """``torch._standard_gamma`` (the same method, entry by entry): for few entries, and odd
    ones (NaN, 0, inf). In log mode ``log G_a = log G_{a+1} + log(U) / a`` where ``a < 1``
    (``-inf`` at ``a = 0``)."""
    if mode == "log":  # (the logs, and log U where the boost was used, else None)
        if a.numel() and float(a.min()) >= _KERNEL_LOG_FROM.get(a.dtype, 1.0):
            return torch._standard_gamma(a, generator=generator).log_(), None
        small = _below_one(a)
        g = torch._standard_gamma(a + small, generator=generator)
        log_u = _fresh_log_uniform(g, generator)
        return torch.addcmul(g.log_(), log_u, small.div_(a)), log_u
    out = torch._standard_gamma(a, generator=generator)
    return (out, _fresh_log_uniform(out, generator)) if mode == "uniform" else out


def _kernel_finish(a: torch.Tensor, generator, mode: str, boost: bool):
    """Draws for the entries still rejected (a few), from ``torch._standard_gamma`` (the same
    method, entry by entry: a rejected pair says nothing of the draw that replaces it), as
    ``_eager`` returns them. With ``boost`` (log or value mode) as the rounds make them,
    ``G_{a'} U^(1/a)`` where ``a < 1`` (``a' = a + 1``), or its log and ``log U`` for every
    entry: log and value mode then use the same random numbers. Else the draws (or their
    logs) and, in uniform mode, ``log U`` of a fresh uniform."""
    if boost:
        small = _below_one(a)
        g = torch._standard_gamma(a + small, generator=generator)
        log_u = _fresh_log_uniform(g, generator)
        inv = small.div_(a).clamp_(max=torch.finfo(a.dtype).max)
        if mode == "log":
            return torch.addcmul(g.log_(), log_u, inv), log_u
        return g.mul_(log_u.mul(inv).exp_()), None
    g = torch._standard_gamma(a, generator=generator)
    if mode == "log":  # (every a >= 1)
        return g.log_(), None
    return g, _fresh_log_uniform(g, generator) if mode == "uniform" else None


class Prepared(NamedTuple):
    """The parameter terms of the eager rounds for one flat concentration (``prepare_rounds``),
    worth keeping where the same concentrations are drawn again (a distribution's cache)."""

    a: torch.Tensor  # the concentrations, flat
    lowest: float
    highest: float
    d: torch.Tensor  # a' - 1/3, a' = a + [a < 1] (boost) or a
    c: torch.Tensor  # d^(-1/2)
    log_d: torch.Tensor | None  # log d (direct regime, log mode), else None
    inv: torch.Tensor | None  # 1/a where a < 1, else 0 (boost), else None


# Boosted value-mode draws d exp(e) below tiny (clamped to it) leave exp as subnormals, ~10x
# slower there and in the products after it: from this chance of one, ~tiny^a at the lowest
# concentration a, the exponents of such draws are sent to -inf first (one cheap pass).
_SUBNORMAL_CHANCE = 1e-3


def _exp_floor(lowest: float, highest: float, dtype: torch.dtype) -> float | None:
    """The exponent ``e`` below which a boosted draw ``d exp(e)`` is below ``tiny`` for every
    ``d`` of concentrations in ``[lowest, highest]`` (``lowest < 1``), with a margin for the
    rounding of ``exp`` and the product: such draws are clamped to ``tiny`` either way, so
    ``exp(-inf) = 0`` gives the same numbers. None where they are too rare to pay."""
    tiny = torch.finfo(dtype).tiny
    if tiny**lowest < _SUBNORMAL_CHANCE:
        return None
    largest_d = (highest + 1 if highest < 1 else highest) - 1 / 3
    return math.log(tiny) - math.log(largest_d) - 0.01


def _span(base: torch.Tensor) -> tuple[float, float]:
    return tuple(float(v) for v in torch.aminmax(base))


def _plan(lowest: float, highest: float, mode: str, dtype: torch.dtype):
    """``(boost, regime, clamp_inv)`` of the rounds for concentrations in [lowest, highest]."""
    boost = lowest < 1 and mode != "uniform"
    regime = _regime(lowest, highest + 1 if highest < 1 else highest, dtype)
    # 1/a overflows below 1 / max (a subnormal float32 a)
    return boost, regime, lowest * torch.finfo(dtype).max < 1


def _setup(a_part, boost: bool, clamp_inv: bool):
    """``d = a' - 1/3`` for the boosted ``a' = a + [a < 1]``, and ``1/a`` where ``a < 1``
    (else 0): ``G_a = G_{a+1} U^(1/a)``."""
    if not boost:
        return a_part - 1 / 3, None
    # 1 where a < 1, else 0, as _below_one, in one pass (a compare into a float buffer)
    below = torch.lt(a_part, 1, out=torch.empty_like(a_part))
    inv = below.div(a_part)
    if clamp_inv:
        inv = inv.clamp_(max=torch.finfo(a_part.dtype).max)
    return below.add_(a_part).sub_(1 / 3), inv


def prepare_rounds(a: torch.Tensor, mode: str) -> Prepared | None:
    """The parameter terms (``Prepared``) of ``_eager`` in ``mode`` (``"value"`` or ``"log"``)
    for the concentrations ``a`` (detached, CPU eager), drawn in the order of
    ``a.reshape(-1)``; None where the rounds would not use them (few entries, an entry not
    finite and positive, or not CPU eager)."""
    a = a.detach()
    if a.numel() <= _TORCH_UP_TO or a.dtype not in _SERIES_FROM or not _eager_ok(a):
        return None
    flat = a.reshape(-1)
    lowest, highest = _span(flat)
    if not 0 < lowest <= highest < float("inf"):
        return None
    boost, regime, clamp_inv = _plan(lowest, highest, mode, a.dtype)
    d, inv = _setup(flat, boost, clamp_inv)
    log_d = d.log() if regime == "direct" and mode == "log" else None
    return Prepared(flat, lowest, highest, d, d.rsqrt(), log_d, inv)


def _eager(a: torch.Tensor, generator, mode: str, keep_u: bool = False, prepared=None, finish=None):
    """The CPU eager rounds (see ``marsaglia_tsang``, ``log_marsaglia_tsang``); in value
    mode each block's draws are clamped to ``tiny`` and given to ``finish`` (if any) while in
    cache."""
    if prepared is not None:  # (of a's shape, from prepare_rounds in this mode)
        lowest, highest, flat = prepared.lowest, prepared.highest, prepared.a
    else:
        base = _compact(a)
        few = a.numel() <= _TORCH_UP_TO
        lowest, highest = (0.0, 0.0) if few else _span(base)
        if few or not 0 < lowest <= highest < float("inf"):
            # few entries, or odd ones (NaN too): torch's kernel (the same method), as before
            out = _torch_kernel(a, generator, mode)
            if finish is not None:
                finish(out.view(-1), slice(None))
            return out
        flat = base.reshape(()) if base.numel() == 1 else a.reshape(-1)
    boost, regime, clamp_inv = _plan(lowest, highest, mode, a.dtype)
    n, dtype = a.numel(), a.dtype
    floor = None
    if boost and mode == "value" and regime == "direct":
        floor = _exp_floor(lowest, highest, dtype)
    tiny = torch.finfo(dtype).tiny
    out = torch.empty(n, dtype=dtype)
    keep_u = mode == "uniform" or (keep_u and boost)
    log_u = torch.empty(n, dtype=dtype) if keep_u else None
    rejected = torch.empty(n, dtype=torch.bool)

    def terms(index):
        """``(d, inv, c, log_d)`` of the entries ``index`` (a slice or indices): for indices
        recomputed from the concentrations (one gather, not four; the same numbers)."""
        if prepared is None or not isinstance(index, slice):
            a_part = flat
            if flat.dim():
                a_part = flat[index] if isinstance(index, slice) else flat.index_select(0, index)
            d, inv = _setup(a_part, boost, clamp_inv)
            return d, inv, None, None
        p = prepared
        inv = None if p.inv is None else p.inv[index]
        return p.d[index], inv, p.c[index], None if p.log_d is None else p.log_d[index]

    def done(draws, index):
        """The draws of the entries ``index``, made final in place (value mode)."""
        if mode != "log":
            draws.clamp_(min=tiny)
            if finish is not None:
                finish(draws, index)
        return draws

    # Blocks of _BLOCK entries: the temporaries stay in cache, in buffers reused by every
    # block (1M-entry temporaries cost more in page faults than in arithmetic).
    scratch = _Scratch.of(min(_BLOCK, n), dtype)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        d, inv, c, log_d = terms(slice(start, start + m))
        log_u_block = None if log_u is None else log_u[start : start + m]
        block = out[start : start + m]
        accepted = _eager_round(
            block, d, regime, generator, inv, mode, log_u_block, c, log_d, scratch, floor
        )
        done(block, slice(start, start + m))  # (the rejected ones are overwritten below)
        torch.logical_not(accepted, out=rejected[start : start + m])
    pending = rejected.nonzero().squeeze(1)  # one call: ~1% to 5% of the entries
    while pending.numel():
        if pending.numel() <= _TORCH_UP_TO:  # the last few: torch's kernel, ~10x cheaper
            a_part = flat if flat.dim() == 0 else flat.index_select(0, pending)
            draws, log_v = _kernel_finish(a_part.expand(pending.shape), generator, mode, boost)
            out.index_copy_(0, pending, done(draws, pending))
            if log_u is not None:
                log_u.index_copy_(0, pending, log_v)
            break
        d, inv, c, log_d = terms(pending)
        draws = torch.empty(pending.numel(), dtype=dtype)
        log_v = None if log_u is None else torch.empty(pending.numel(), dtype=dtype)
        accepted = _eager_round(
            draws, d, regime, generator, inv, mode, log_v, c, log_d, floor=floor
        )
        # every candidate written, as in the blocks (a later round overwrites the rejected)
        out.index_copy_(0, pending, done(draws, pending))
        if log_u is not None:
            log_u.index_copy_(0, pending, log_v)
        pending = pending.masked_select(accepted.logical_not_())
    out = out.view(a.shape)
    log_u = None if log_u is None else log_u.view(a.shape)
    return out if mode == "value" else (out, log_u)


def _traced(a: torch.Tensor, generator, rounds: int, uniform: bool):
    mode = "uniform" if uniform else "value"
    if uniform:
        boosted, inv = a, None
    else:
        boosted = torch.where(a < 1, a + 1, a)
        inv = torch.where(a < 1, a, float("inf")).reciprocal()
        inv = inv.clamp(max=torch.finfo(a.dtype).max)
    out = done = log_u = None
    for _ in range(rounds):
        like = torch.empty_like(a, memory_format=torch.contiguous_format)
        draws, accepted, log_v = _round_into(like, boosted, "mixed", generator, inv, mode)
        if out is None:
            out, done, log_u = draws, accepted, log_v
        else:
            out = torch.where(done, out, draws)
            log_u = torch.where(done, log_u, log_v) if uniform else None
            done = done | accepted
    # torch's kernel (boosting included) for the entries still rejected; concentration 0
    # returns 0 at once
    if out is None:
        out = torch._standard_gamma(a, generator=generator)
        return (out, _fresh_log_uniform(out, generator)) if uniform else out
    rest = torch._standard_gamma(torch.where(done, torch.zeros_like(a), a), generator=generator)
    out = torch.where(done, out, rest).clamp(min=torch.finfo(a.dtype).tiny)
    if uniform:
        return out, torch.where(done, log_u, _fresh_log_uniform(out, generator))
    return out


def marsaglia_tsang(
    a: torch.Tensor,
    generator: torch.Generator | None = None,
    rounds: int | None = None,
    prepared: Prepared | None = None,
    finish=None,
) -> torch.Tensor:
    """Draws of ``Gamma(a, 1)`` (float32 or float64 ``a > 0``), one per entry of ``a``,
    without a graph; ``G_a = G_{a+1} U^(1/a)`` where ``a < 1``. ``rounds``: force the
    fixed-round path with this many rounds (tests). ``prepared``: ``prepare_rounds(a,
    "value")``, or None. ``finish``: None, or ``finish(x, index)`` that turns the flat draws
    ``x`` (at least ``tiny``) of the entries ``index`` (a slice or indices into
    ``a.reshape(-1)``) into what is returned, in place; each entry's draw is given to it once
    (CPU eager: block by block, in cache)."""
    a = a.detach()
    if rounds is None and _eager_ok(a):
        if a.numel() > _TORCH_UP_TO:
            return _eager(a, generator, "value", prepared=prepared, finish=finish)
        # the small-tensor case is all call overhead
        out = torch._standard_gamma(a, generator=generator)
    else:
        out = _traced(a, generator, TRACED_ROUNDS if rounds is None else rounds, False)
    if finish is not None:
        finish(out.view(-1), slice(None))
    return out


def marsaglia_tsang_with_uniform(
    a: torch.Tensor, generator: torch.Generator | None = None, rounds: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draws of ``Gamma(a, 1)`` for ``a >= 1`` (no boosting) and the logs of uniforms
    independent of them, ``log(v e^(-h))`` from each accepted pair (see ``_round_into``): what
    the boost ``log G_a' = log G_{a'+1} + log(U) / a'`` needs, with no third random number."""
    a = a.detach()
    if rounds is None and _eager_ok(a):
        if not a.numel():
            return torch.empty_like(a), torch.empty_like(a)
        return _eager(a, generator, "uniform")
    return _traced(a, generator, TRACED_ROUNDS if rounds is None else rounds, True)


def log_marsaglia_tsang(
    a: torch.Tensor,
    generator: torch.Generator | None = None,
    keep_u: bool = True,
    prepared: Prepared | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``log G`` for ``G ~ Gamma(a, 1)``, one per entry of ``a``, without a graph, CPU eager
    only (``_eager_ok``): ``log G_a = log G_{a+1} + log(U) / a`` where ``a < 1``, with ``U``
    from the accepted pair, in the same pass (exact for tiny ``a``, where ``G_a`` underflows).
    Also returns ``log U`` where the boost was used (for the gradient), else None (every
    entry drawn at its own ``a``; or ``keep_u`` false and more than a few entries).
    ``prepared``: ``prepare_rounds(a, "log")``, or None."""
    a = a.detach()
    if not a.numel():
        return torch.empty_like(a), None
    if a.numel() <= _PYTHON_UP_TO:
        out = _python_log(a, generator)
        if out is not None:
            return out
    return _eager(a, generator, "log", keep_u=keep_u, prepared=prepared)


def _python_log(a: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``log_marsaglia_tsang`` for a few entries: ``log`` of torch's kernel where every entry
    is at least ``_KERNEL_LOG_FROM``; else the kernel at ``a' = a + [a < 1]``, one uniform per
    entry, and ``log G_a' + log(1 - u) / a`` in Python floats (double precision, rounded
    once): fewer torch calls than the tensor form. None where an entry is not finite and
    positive (NaN too)."""
    values = _flat_list(a)
    for v in values:
        if not 0.0 < v < math.inf:
            return None
    if min(values) >= _KERNEL_LOG_FROM.get(a.dtype, 1.0):
        return torch._standard_gamma(a, generator=generator).log_(), None
    dtype = a.dtype
    boosted = _from_floats([v + 1.0 if v < 1.0 else v for v in values], dtype)
    g = torch._standard_gamma(boosted, generator=generator).tolist()
    log, log1p = math.log, math.log1p
    log_u = [log1p(-u) for u in torch.rand(len(values), dtype=dtype, generator=generator).tolist()]
    out = [
        log(gi) + lu / v if v < 1.0 else log(gi) for gi, lu, v in zip(g, log_u, values, strict=True)
    ]
    out, log_u = _from_floats(out, dtype), _from_floats(log_u, dtype)
    return (out, log_u) if a.dim() == 1 else (out.view(a.shape), log_u.view(a.shape))


def _from_floats(values: list[float], dtype: torch.dtype) -> torch.Tensor:
    """A 1-D CPU tensor of Python floats, each rounded once to ``dtype`` (float32 or float64)
    (through an ``array``: ~1 us against ~3 us for ``torch.tensor``)."""
    return torch.frombuffer(
        array.array("f" if dtype == torch.float32 else "d", values), dtype=dtype
    )
