"""Bisection with a fixed trip count, over the floats of a dtype or over the integers.

Floats are bisected over their *bit patterns*: the map from a float to its ordered integer key
is monotone, so ``k`` steps over a ``k``-bit dtype find the exact float boundary anywhere in
``[lower, upper]`` (infinite bounds included) with no bracketing and no tolerance to choose.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["bisect_floats", "bisect_integers"]

_INT_OF_FLOAT = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}

Predicate = Callable[[torch.Tensor], torch.Tensor]


def _to_key(x: torch.Tensor) -> torch.Tensor:
    int_dtype = _INT_OF_FLOAT[x.dtype]
    bits = x.contiguous().view(int_dtype)
    magnitude = bits & torch.iinfo(int_dtype).max
    return torch.where(bits < 0, -magnitude, bits)


def _from_key(key: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    sign = torch.iinfo(key.dtype).min
    bits = torch.where(key < 0, (-key) | sign, key)
    return bits.view(dtype)


def _midpoint(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    # Overflow-free floor((lo + hi) / 2) for integers of any sign.
    return (lo >> 1) + (hi >> 1) + (lo & hi & 1)


def _bisect(lo, hi, steps: int, to_value, below):
    """Keep ``below(to_value(lo))`` true and ``below(to_value(hi))`` false; return ``hi``."""
    for _ in range(steps):
        mid = _midpoint(lo, hi)
        is_below = below(to_value(mid))
        lo = torch.where(is_below, mid, lo)
        hi = torch.where(is_below, hi, mid)
    return hi


def bisect_floats(below: Predicate, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """The smallest float ``x`` in ``(lower, upper]`` with ``below(x)`` false, entrywise.

    Args:
        below: a monotone test, true up to the boundary and false from it on.
        lower: where to start; ``below`` is assumed true there.
        upper: where to end; ``below`` is assumed false there (``upper`` is the answer when
            it is false nowhere before).

    Returns:
        The boundary, of the shape and floating dtype of ``lower`` and ``upper``.
    """
    lo, hi = _to_key(lower), _to_key(upper)
    steps = torch.iinfo(lo.dtype).bits
    hi = _bisect(lo, hi, steps, lambda key: _from_key(key, lower.dtype), below)
    return _from_key(hi, lower.dtype)


def bisect_integers(below: Predicate, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """The smallest integer ``x`` in ``[lower, upper]`` with ``below(x)`` false, entrywise.

    Args:
        below: a monotone test, true up to the boundary and false from it on; it receives
            integers in the floating dtype of ``lower``.
        lower: the smallest candidate (an integer, as a float tensor).
        upper: the largest candidate, possibly ``inf``.

    Returns:
        The boundary, in the floating dtype of ``lower``.
    """
    # Integers above 2**53 are not all representable in float64; searching below is enough
    # for any cdf that reaches 1 in floating point.
    # float16 stops at 65504.
    cap = 2.0**53 if lower.dtype == torch.float64 else min(2.0**24, torch.finfo(lower.dtype).max)
    lo = (lower - 1).to(torch.int64)
    hi = upper.clamp(max=cap).to(torch.int64)
    return _bisect(lo, hi, 64, lambda k: k.to(lower.dtype), below).to(lower.dtype)
