"""Error-free transformations: sums, products and quotients carried as ``hi + lo`` pairs.

A number computed in floating point is exact to half an ulp; where a method then amplifies
that rounding (a quantile of a narrow law, a tail of a gamma law of shape 1e6), carrying the
rounding error ``lo`` beside the rounded value ``hi`` and correcting to first order,
``F(hi + lo) ~ F(hi) + lo * F'(hi)``, restores the digits. The transformations are Knuth's
two-sum and Dekker's two-product (with Veltkamp's split), written in plain tensor ops, so they
work on any device and under ``torch.compile``; they assume round-to-nearest and no overflow
(operands below ``finfo.max / 2**27`` for the product).
"""

from __future__ import annotations

import torch

# Veltkamp's splitting constant 2**s + 1, s = ceil(mantissa bits / 2).
_SPLITTER = {
    torch.float64: 134217729.0,  # 2**27 + 1
    torch.float32: 4097.0,  # 2**12 + 1
    torch.float16: 65.0,  # 2**6 + 1
    torch.bfloat16: 17.0,  # 2**4 + 1
}


def two_sum(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hi, lo)`` with ``a = hi + lo`` and each half holding at most half the mantissa."""
    c = _SPLITTER[a.dtype] * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p, e)`` with ``p = fl(a * b)`` and ``a * b = p + e`` exactly (Dekker)."""
    p = a * b
    a_hi, a_lo = split(a)
    b_hi, b_lo = split(b)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def div_residual(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, r)`` with ``q = fl(a / b)`` and ``a / b = q + r`` to about twice the precision."""
    q = a / b
    p, e = two_prod(q, b)
    return q, ((a - p) - e) / b
