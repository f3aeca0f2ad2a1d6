"""Functions returned as ``hi + lo`` pairs, to about twice the working precision.

Where a method amplifies the rounding of an intermediate (``(log x - mu) / sigma`` with a
small ``sigma`` turns half an ulp of ``log x`` into ``1 / sigma`` ulps of the result), the
intermediate is computed as an unevaluated sum ``hi + lo`` and the method corrects to first
order, ``F(hi + lo) ~ F(hi) + lo * F'(hi)``. Built on the error-free transformations of
:mod:`.double_float`; plain tensor ops, branch-free, compile-friendly.
"""

from __future__ import annotations

import decimal
import math

import torch

from .double_float import _SPLITTER

__all__ = ["log_pair"]


def _ln2_pair(bits: int) -> tuple[float, float]:
    """``ln 2 = hi + lo`` with ``hi`` on a grid of ``2**-bits`` (so ``k * hi`` is exact for
    the exponents ``k`` of the dtype) and ``lo`` the rest, rounded."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ln2 = decimal.Decimal(2).ln()
        hi = math.ldexp(float(round(ln2 * (2**bits))), -bits)
        return hi, float(ln2 - decimal.Decimal(hi))


# float64: hi has 32 bits, |k| <= 1075 needs 11 more (53 in all); float32: 16 + 8 <= 24.
_LN2 = {torch.float64: _ln2_pair(32), torch.float32: _ln2_pair(16)}
# 2 atanh(s) = 2 s + 2 s^3 sum_n s^(2n) / (2n + 3); |s| <= 3 - 2 sqrt 2 = 0.1716, s^2 <= 0.0295:
# 11 terms leave 2e-19 (float64), 6 leave 4e-13 (float32): below the tail's own rounding.
_TERMS = {torch.float64: 11, torch.float32: 6}
_SQRT_2 = math.sqrt(2.0)
# integer view, stored mantissa bits, exponent bias, smallest normal exponent
_LAYOUT = {
    torch.float64: (torch.int64, 52, 1023, -1022),
    torch.float32: (torch.int32, 23, 127, -126),
}


def log_pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``log(x) = hi + lo`` for ``x > 0`` (float64 or float32), ``|lo|`` at most half an
    ulp of ``hi``, the sum good to ``6e-18`` relative in float64 (``3e-9`` in
    float32): about 1/40 of an ulp, and far better (``eps * s^2 / 3``) where ``m`` is near 1.

    ``x = m 2^k`` with ``m`` in :math:`[\sqrt{1/2}, \sqrt 2]` (exact, from the bits), then
    :math:`\log x = k \ln 2 + 2\,\mathrm{atanh}(s)`, :math:`s = (m - 1)/(m + 1)`:
    ``k ln 2`` with ``ln 2`` as a pair, ``s`` as a pair (``m - 1`` is exact), and the series
    tail :math:`2 s^3 / 3 + \dots` (under 1% of the total) in plain arithmetic.
    Not differentiable (computed from the bits): use ``lo`` as a detached correction.
    ``hi`` is ``-inf`` at 0 and ``inf`` at ``inf`` (``lo`` is then 0), NaN below 0.

    Example:
        >>> hi, lo = log_pair(torch.tensor(10.0, dtype=torch.float64))
        >>> hi, lo
        (tensor(2.3026, dtype=torch.float64), tensor(-2.1707e-16, dtype=torch.float64))
    """
    if x.dtype not in _LN2:
        raise TypeError(f"log_pair: float64 or float32 expected, got {x.dtype}")
    ln2_hi, ln2_lo = _LN2[x.dtype]
    int_dtype, mant_bits, bias, tiny_exp = _LAYOUT[x.dtype]
    # In-place arithmetic on fresh buffers throughout (no autograd here): with ~60 steps,
    # allocating a new tensor for each would cost more than the arithmetic itself.
    with torch.no_grad():
        x = x.detach()
        bad = ~((x > 0) & (x < math.inf))
        # x = m 2^k from the bits (frexp's int32 exponent trips inductor's float64
        # kernels): subnormals are first scaled into the normal range; m set to [1, 2).
        sub = (x < math.ldexp(1.0, tiny_exp)).to(x.dtype)
        xs = (sub * (math.ldexp(1.0, mant_bits + 1) - 1)).add_(1).mul_(x).masked_fill_(bad, 1.0)
        bits = xs.view(int_dtype)
        k = (bits >> mant_bits).to(x.dtype).sub_(bias).sub_(sub, alpha=mant_bits + 1)
        m = (bits & ((1 << mant_bits) - 1)).bitwise_or_(bias << mant_bits).view(x.dtype)
        # m > sqrt 2: halve it (by arithmetic: a data-dependent torch.where is slow on CPU)
        above = (m > _SQRT_2).to(x.dtype)
        k.add_(above)
        m.mul_(above.mul_(-0.5).add_(1))
        # s = (m - 1) / (m + 1) = s + s_lo: m - 1 exact (Sterbenz), m + 1 = a + a_lo exactly
        a = m + 1
        a_lo = (a - 1).neg_().add_(m)  # fast two-sum: 1 has the larger exponent
        num = m.sub_(1)
        s = num / a
        # num - s a exactly (Dekker's product with Veltkamp's split), then / a
        splitter = _SPLITTER[x.dtype]
        p = s * a
        s_hi = s * splitter
        s_lo_part = s_hi - s
        s_hi.sub_(s_lo_part)
        torch.sub(s, s_hi, out=s_lo_part)
        a_hi = a * splitter
        a_lo_part = a_hi - a
        a_hi.sub_(a_lo_part)
        torch.sub(a, a_hi, out=a_lo_part)
        err = (s_hi * a_hi).sub_(p)
        err.addcmul_(s_hi, a_lo_part).addcmul_(s_lo_part, a_hi).addcmul_(s_lo_part, a_lo_part)
        s_lo = num.sub_(p).sub_(err).div_(a).sub_(a_lo.mul_(s).div_(a))
        # the series tail 2 s^3 (1/3 + s^2/5 + ...), plain arithmetic
        w = torch.mul(s, s, out=p)
        tail = err.fill_(1.0 / (2 * _TERMS[x.dtype] + 1))
        for n in range(_TERMS[x.dtype] - 2, -1, -1):
            tail.mul_(w).add_(1.0 / (2 * n + 3))
        tail.mul_(w).mul_(s).mul_(2)
        # hi + err = k ln2_hi + 2 s (two-sum; k ln2_hi is exact)
        kh = torch.mul(k, ln2_hi, out=s_hi)
        s.mul_(2)
        hi = torch.add(kh, s, out=a_hi)
        bb = torch.sub(hi, kh, out=a_lo_part)
        kh.sub_(torch.sub(hi, bb, out=w))
        lo = kh.add_(s.sub_(bb))
        lo.add_(tail.add_(k, alpha=ln2_lo).add_(s_lo, alpha=2))
        # renormalize (the tail can be 1% of hi): fast two-sum, |hi| > |lo|
        total = torch.add(hi, lo, out=bb)
        lo.sub_(hi.neg_().add_(total))
        hi = torch.where(bad, torch.log(x), total)
        return hi, lo.masked_fill_(bad, 0.0)
