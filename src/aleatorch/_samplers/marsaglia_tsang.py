r"""Vectorised Marsaglia–Tsang draws of :math:`\mathrm{Gamma}(a, 1)`.

Marsaglia & Tsang (2000): with :math:`d = a - 1/3`, :math:`c = 1/\sqrt{9d}`, a normal
:math:`x` and a uniform :math:`u`, the pair is accepted when :math:`t = cx > -1` and

.. math:: \log u < \tfrac12 x^2 + d - d v + d \log v, \qquad v = (1 + t)^3,

and then :math:`d v \sim \mathrm{Gamma}(a, 1)`. Since :math:`9 d t^2 = x^2`, the right-hand
side is :math:`3 d R(t)` with :math:`R(t) = \log(1 + t) - t + t^2/2 - t^3/3 \le 0`, whose
terms do not cancel against :math:`x^2/2` (the textbook form loses :math:`d \epsilon` to
rounding: all of it in float32 at :math:`a = 10^6`). :math:`R` is evaluated directly for
moderate :math:`d`, and by its series :math:`-\sum_{k \ge 4} (-t)^k / k` for large :math:`d`
(where :math:`|t| \le |x| / (3 \sqrt d)` is small). The draw is :math:`d + d w` with
:math:`w = v - 1 = t (3 + t (3 + t))`, exact to rounding even where :math:`t` is below the
float spacing at 1.

Every round draws one normal and one uniform per pending entry. On CPU in eager mode only the
rejected entries are drawn again, until none is left; elsewhere (compile, vmap, accelerators)
a fixed number of rounds runs on every entry, then ``torch._standard_gamma`` (the same
method, entry by entry) draws the entries still rejected, at concentration 0 (an immediate
0) for the others. Either way each entry is its first accepted pair: the law is exact.
Concentrations below 1 are boosted: :math:`G_a = G_{a+1} U^{1/a}` (ibid., §6). As
``torch._standard_gamma`` does, draws below the smallest normal float are returned as it.
"""

from __future__ import annotations

import math

import torch

from ..utils import _readable

__all__ = ["marsaglia_tsang", "marsaglia_tsang_with_uniform"]

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


def _direct(t: torch.Tensor) -> torch.Tensor:
    """``3 R(t) = 3 log1p(t) - t (3 - t (3/2 - t))`` (NaN or -inf for ``t <= -1``)."""
    poly = (1.5 - t).mul_(t).neg_().add_(3).mul_(t)
    return torch.log1p(t).mul_(3).sub_(poly)


def _series(t: torch.Tensor) -> torch.Tensor:
    """``3 R(t) = -3 sum_{k=4}^{9} (-t)^k / k`` (small ``|t|``), Horner in ``t``."""
    last = _SERIES_TERMS - 1
    acc = torch.full_like(t, 3.0 * (-1) ** (last + 1) / last)
    for k in range(last - 1, 3, -1):
        acc = acc.mul_(t).add_(3.0 * (-1) ** (k + 1) / k)
    t2 = t * t
    return acc.mul_(t2).mul_(t2)


def _bound(t: torch.Tensor, d: torch.Tensor, regime: str) -> torch.Tensor:
    """``3 d R(t)``: the log of the acceptance probability of the pair."""
    if regime == "direct":
        return _direct(t).mul_(d)
    series = _series(t).masked_fill_(t <= -1, -float("inf"))
    if regime == "series":
        return series.mul_(d)
    direct = _direct(t)
    return torch.where(d < _SERIES_FROM[t.dtype], direct, series).mul_(d)


def _eager_ok(t: torch.Tensor) -> bool:
    """CPU eager (utils._readable) and outside every torch.func transform: under vmap even
    an unbatched tensor must get batched draws (``randomness="different"``)."""
    return _readable((t,)) and torch._C._functorch.maybe_current_level() is None


def _normals(like: torch.Tensor, generator) -> torch.Tensor:
    """Standard normals shaped like ``like``. float64 on CPU eager: Box–Muller from float64
    uniforms, ``sqrt(-2 log(1 - u1)) (cos, sin)(2 pi u2)`` (torch's own method, written as
    vectorised torch ops: ~1.7x cheaper than ``normal_``, whose float64 CPU loop is scalar)."""
    if like.dtype != torch.float64 or not _eager_ok(like) or like.dim() != 1:
        return torch.randn(like.shape, dtype=like.dtype, device=like.device, generator=generator)
    m = like.numel()
    half = (m + 1) // 2
    u = torch.empty(2 * half, dtype=like.dtype).uniform_(generator=generator)
    radius = u[:half].neg_().log1p_().mul_(-2).sqrt_()
    theta = u[half:].mul_(2 * math.pi)
    out = torch.empty(2 * half, dtype=like.dtype)
    torch.cos(theta, out=out[:half]).mul_(radius)
    torch.sin(theta, out=out[half:]).mul_(radius)
    return out[:m]


def _round_into(out, a, regime, generator, inv=None, uniform=False):
    """One round for the entries of ``out`` (concentration ``a >= 1``): the candidates
    ``d (1 + cx)^3`` and which are accepted. With ``out`` a buffer (CPU eager) the candidates
    are written into it; else a tensor like ``out`` (vmap has no ``out=`` rule).

    With ``inv`` (``1/a'`` where the concentration ``a' = a - 1 < 1`` was boosted, else 0)
    the candidates are multiplied by ``U^inv``. ``U`` comes from the pair itself: given
    acceptance, ``v = 1 - u`` is uniform on ``(0, e^h)`` whatever ``x``, so ``v e^(-h)`` is a
    uniform independent of the draw (no third random number). With ``uniform`` its log is
    returned too (else None)."""
    d = a - 1 / 3
    c = (d * 9).rsqrt_()
    x = _normals(out, generator)
    # factories, not in-place fills: under vmap an unbatched ``out`` gets batched draws
    u = torch.rand(out.shape, dtype=out.dtype, device=out.device, generator=generator)
    t = x * c  # (out of place: under vmap x may be unbatched and c batched)
    log_v = u.neg_().log1p_()  # log(1 - u), u on [0, 1): finite
    bound = _bound(t, d, regime)
    accepted = log_v < bound
    w = (t + 3).mul_(t).add_(3).mul_(t)
    if _eager_ok(out):
        out = torch.addcmul(d, d, w, out=out)
    else:
        out = torch.addcmul(d, d, w)
    log_uniform = log_v - bound if inv is not None or uniform else None
    if inv is not None:  # U^inv = exp((log v - h) inv): exp(0) = 1 where inv = 0
        out.mul_((log_uniform * inv if uniform else log_uniform.mul_(inv)).exp_())
    return out, accepted, log_uniform


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


def _inverse_below_one(a: torch.Tensor) -> torch.Tensor:
    """``1/a`` where ``a < 1``, else 0 (clamped: ``a = 0`` gives a finite factor)."""
    return _below_one(a).div_(a).clamp_(max=torch.finfo(a.dtype).max)


def _fresh_log_uniform(like: torch.Tensor, generator) -> torch.Tensor:
    u = torch.rand(like.shape, dtype=like.dtype, device=like.device, generator=generator)
    return u.neg_().log1p_()


def _eager(a: torch.Tensor, generator, uniform: bool):
    base = _compact(a)
    few = a.numel() <= _TORCH_UP_TO
    lowest, highest = (0.0, 0.0) if few else (float(v) for v in torch.aminmax(base))
    if few or not 0 < lowest <= highest < float("inf"):
        # few entries, or odd ones (NaN too): torch's kernel (the same method), as before
        out = torch._standard_gamma(a, generator=generator)
        return (out, _fresh_log_uniform(out, generator)) if uniform else out
    boost = lowest < 1 and not uniform
    regime = _regime(lowest, highest + 1 if highest < 1 else highest, a.dtype)
    n, dtype = a.numel(), a.dtype
    flat = base.reshape(()) if base.numel() == 1 else a.reshape(-1)
    out = torch.empty(n, dtype=dtype)
    log_u = torch.empty(n, dtype=dtype) if uniform else None
    rejected = torch.empty(n, dtype=torch.bool)
    # Blocks of _BLOCK entries: the temporaries stay in cache and are reused by the
    # allocator (1M-entry temporaries cost more in page faults than in arithmetic).
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        a_block = flat if flat.dim() == 0 else flat[start : start + m]
        out_block = out[start : start + m]
        # G_a = G_{a+1} U^(1/a) where a < 1
        boosted = _below_one(a_block).add_(a_block) if boost else a_block
        inv = _inverse_below_one(a_block) if boost else None
        _, accepted, log_v = _round_into(
            out_block, boosted.expand(m), regime, generator, inv, uniform
        )
        if uniform:
            log_u[start : start + m] = log_v
        torch.logical_not(accepted, out=rejected[start : start + m])
    pending = rejected.nonzero().squeeze(1)  # one call: ~1% to 5% of the entries
    while pending.numel():
        a_pending = (flat if flat.dim() == 0 else flat[pending]).expand(pending.shape)
        boosted = _below_one(a_pending).add_(a_pending) if boost else a_pending
        draws = torch.empty(pending.numel(), dtype=dtype)
        inv = _inverse_below_one(a_pending) if boost else None
        _, accepted, log_v = _round_into(draws, boosted, regime, generator, inv, uniform)
        out.index_put_((pending[accepted],), draws[accepted])
        if uniform:
            log_u.index_put_((pending[accepted],), log_v[accepted])
        pending = pending[accepted.logical_not_()]
    out = out.clamp_(min=torch.finfo(dtype).tiny).view(a.shape)
    return (out, log_u.view(a.shape)) if uniform else out


def _traced(a: torch.Tensor, generator, rounds: int, uniform: bool):
    if uniform:
        boosted, inv = a, None
    else:
        boosted = torch.where(a < 1, a + 1, a)
        inv = torch.where(a < 1, a, float("inf")).reciprocal()
        inv = inv.clamp(max=torch.finfo(a.dtype).max)
    out = done = log_u = None
    for _ in range(rounds):
        like = torch.empty_like(a, memory_format=torch.contiguous_format)
        draws, accepted, log_v = _round_into(like, boosted, "mixed", generator, inv, uniform)
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
    a: torch.Tensor, generator: torch.Generator | None = None, rounds: int | None = None
) -> torch.Tensor:
    """Draws of ``Gamma(a, 1)`` (float32 or float64 ``a > 0``), one per entry of ``a``,
    without a graph; ``G_a = G_{a+1} U^(1/a)`` where ``a < 1``. ``rounds``: force the
    fixed-round path with this many rounds (tests)."""
    a = a.detach()
    if rounds is None and _eager_ok(a):
        if a.numel() <= _TORCH_UP_TO:  # first: the small-tensor case is all call overhead
            return torch._standard_gamma(a, generator=generator)
        return _eager(a, generator, False)
    return _traced(a, generator, TRACED_ROUNDS if rounds is None else rounds, False)


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
        return _eager(a, generator, True)
    return _traced(a, generator, TRACED_ROUNDS if rounds is None else rounds, True)
