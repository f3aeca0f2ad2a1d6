"""Raw random draws shared by several families."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ..utils import _functorch_level


def fresh_uniforms(
    like: torch.Tensor, shape: torch.Size, generator: torch.Generator | None
) -> torch.Tensor:
    """Uniform draws on [0, 1) of ``shape``, with the dtype and device of ``like``, in a
    fresh buffer (the caller may write over it).

    The buffer is allocated from ``like`` expanded to ``shape`` (``like`` must broadcast to
    it), not by a factory call: under ``torch.func.vmap(..., randomness="different")`` a
    batched ``like`` then gives a batched buffer, which the in-place ``uniform_`` may fill.
    Inside any torch.func transform the draws come from ``torch.rand`` instead: filling an
    unbatched buffer in place is refused there, while a factory draw is batched.
    """
    if _functorch_level() is not None:
        return torch.rand(shape, dtype=like.dtype, device=like.device, generator=generator)
    if like.shape != shape:
        like = like.expand(shape)  # (~2 us on a small tensor: skipped when not needed)
    out = torch.empty_like(like, memory_format=torch.contiguous_format)
    return out.uniform_(generator=generator)


def standard_exponential(
    like: torch.Tensor, shape: torch.Size, generator: torch.Generator | None
) -> torch.Tensor:
    """Exp(1) draws of ``shape``, with the dtype and device of ``like`` (as
    :func:`fresh_uniforms`)."""
    # E = -log(1 - U), U uniform on [0, 1): exactly Exp(1) on the grid of U (largest draw
    # -log(eps / 2), as torch's exponential_), and ~4x cheaper than exponential_ on CPU.
    return fresh_uniforms(like, shape, generator).neg_().log1p_().neg_()


def low_words(
    m: int, generator: torch.Generator | None, buffer: torch.Tensor | None = None
) -> torch.Tensor:
    """``m`` CPU int32 integers ``k``, uniform on ``0 .. 2^24 - 1``: the low 24 bits of random
    32-bit words, as ``torch.rand`` makes its float32 uniform ``k 2^-24``, but two words come
    from each int64 of ``random_`` (~0.9 ms less per 1M than ``rand``). Their buffer may be
    overwritten by their float32 image (``out=k.view(torch.float32)``), saving a pass.
    ``buffer``: None, or int64 scratch of at least ``(m + 1) // 2`` entries to fill."""
    half = (m + 1) // 2
    words = torch.empty(half, dtype=torch.int64) if buffer is None else buffer[:half]
    return words.random_(generator=generator).view(torch.int32)[:m].bitwise_and_(0xFFFFFF)


# Words per block of _word_floats (512 KB, its floats in the same bytes): in a 2 MB cache.
_WORD_STEP = 1 << 16


def _word_floats(m: int, generator: torch.Generator | None, scale: float) -> torch.Tensor:
    """``k scale`` for ``m`` integers ``k`` of :func:`low_words` (the same words, in the same
    order), as CPU float32, written over the words themselves block by block while in cache:
    one pass to memory (the words), where whole-tensor steps cost four and a fresh buffer
    (on a machine whose only cache is a 2 MB L2, 1M entries: 1.35-1.6x ``torch.rand``'s
    time, against 0.9-1.0x)."""
    words = torch.empty((m + 1) // 2, dtype=torch.int64)
    for start in range(0, words.numel(), _WORD_STEP):
        low = words[start : start + _WORD_STEP].random_(generator=generator).view(torch.int32)
        k = low.bitwise_and_(0xFFFFFF)
        # k as float32 (exact: k < 2^24); copy_ then mul_ cost less than one mixed-dtype mul
        f = k.view(torch.float32).copy_(k)
        if scale != 1:
            f.mul_(scale)
    return words.view(torch.float32)[:m]


def uniform_words(m: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` CPU float32 integers ``k`` of :func:`low_words` (``k 2^-24`` is exactly
    ``torch.rand``'s float32 uniform, its grid and law), and a spare buffer of ``m`` float32
    entries (scratch for the caller)."""
    return _word_floats(m, generator, 1.0), torch.empty(m, dtype=torch.float32)


# From this many entries uniforms come from words (the word path's ~7 calls cost ~15 us).
_WORDS_FROM = 1 << 14


def uniforms(
    shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Uniforms on ``[0, 1)`` of ``shape``, on torch.rand's grid and with its law, and a spare
    float32 buffer of their shape or None: from the words of :func:`uniform_words`, scaled
    in their blocks (``_word_floats``: at most ``torch.rand``'s time, less where the cache is
    larger) for float32 on CPU eager outside torch.func, from ``_WORDS_FROM`` entries on; else
    ``torch.rand`` and no spare."""
    m = math.prod(shape)
    if (
        m < _WORDS_FROM
        or dtype != torch.float32
        or torch.device(device).type != "cpu"
        or torch.compiler.is_compiling()
        or _functorch_level() is not None
    ):
        return torch.rand(shape, dtype=dtype, device=device, generator=generator), None
    u = _word_floats(m, generator, 2.0**-24)
    return u.view(shape), torch.empty(shape, dtype=torch.float32)


# Bytes per block of a blocked sampler: a few temporaries of this size stay in a 2 MB L2
# cache (a pass over data in DRAM costs ~4x one in cache), and 8 blocks per million float32
# entries keep the per-block cost of the torch calls (~1-2 us each) small.
_BLOCK_BYTES = 1 << 19


def blocks_wanted(like: torch.Tensor, shape: torch.Size) -> bool:
    """Whether :func:`uniform_blocks` applies to draws of ``shape`` like ``like``: CPU eager
    outside torch.func, at least two blocks of entries (fewer: the plain draws cost no
    more). The caller checks that no gradient is to be recorded."""
    return (
        math.prod(shape) * like.dtype.itemsize >= 2 * _BLOCK_BYTES
        and like.is_cpu
        and not torch.compiler.is_compiling()
        and _functorch_level() is None
    )


def uniform_blocks(
    shape: torch.Size,
    dtype: torch.dtype,
    generator,
    params: tuple[torch.Tensor, ...] = (),
    per_entry: int = 1,
    normal: bool = False,
) -> Iterator[tuple[slice, torch.Tensor, list[torch.Tensor]]]:
    """``(rows, u, blocks)`` for consecutive blocks of rows of ``shape``'s first dimension.

    ``u``: CPU uniforms on ``[0, 1)`` with ``torch.rand``'s grid and law (float32 blocks of
    ``_WORDS_FROM`` entries on from words, as :func:`uniform_words`), or with ``normal``
    standard normals (``normal_``), of shape ``(per_entry, rows, *shape[1:])`` (no leading
    dimension for ``per_entry=1``), in one scratch buffer that the next block overwrites: a
    sampler transforms it in cache (in place if it likes) into ``out[rows]``. ``blocks``:
    each of ``params`` broadcast to the block (one element as it is; one that repeats along
    the first dimension copied out once, as the contiguous operand that vectorises).
    """
    inner = math.prod(shape[1:])
    step = max(1, _BLOCK_BYTES // (max(inner * per_entry, 1) * dtype.itemsize))
    size = min(step, shape[0]) * inner * per_entry
    from_words = not normal and dtype == torch.float32 and size >= _WORDS_FROM
    if from_words:
        words = torch.empty((size + 1) // 2, dtype=torch.int64)
    else:
        buffer = torch.empty(size, dtype=dtype)
    lead = (per_entry,) if per_entry > 1 else ()
    full = [p if p.numel() == 1 else p.expand(shape) for p in params]
    fixed = [p.numel() > 1 and p.stride(0) == 0 and not p[:1].is_contiguous() for p in full]
    full = [
        p[: min(step, shape[0])].contiguous() if f else p for p, f in zip(full, fixed, strict=True)
    ]
    for start in range(0, shape[0], step):
        rows = min(step, shape[0] - start)
        m = rows * inner * per_entry
        if from_words:
            # k 2^-24 from the low 24 bits of each word, written over the words themselves
            low = words[: (m + 1) // 2].random_(generator=generator).view(torch.int32)[:m]
            u = torch.mul(low.bitwise_and_(0xFFFFFF), 2.0**-24, out=low.view(torch.float32))
        elif normal:
            u = buffer[:m].normal_(generator=generator)
        else:
            u = buffer[:m].uniform_(generator=generator)
        blocks = [
            p if p.numel() == 1 else p[:rows] if f else p[start : start + rows]
            for p, f in zip(full, fixed, strict=True)
        ]
        yield slice(start, start + rows), u.view(*lead, rows, *shape[1:]), blocks
