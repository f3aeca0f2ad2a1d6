r"""The von Mises normalizer in float32 without torch's scalar ``i0e`` kernel.

On CPU, torch's float32 ``i0e`` is not vectorized (~24 ms per 1M entries, ``i1e`` ~2.5 ms),
so the float32 log-density and entropy of a fresh von Mises spent most of their time there.
Both functions below are polynomials evaluated in the input's precision (float32 or half,
in float32); float64 keeps torch's kernels, which are accurate to a few ulps.

* :math:`\log i_0(x) = \log I_0(x) - x`:

  - :math:`x \le 6`: the power series :math:`I_0(x) = 1 + y Q(y)`, :math:`y = x^2/4`,
    :math:`Q(y) = \sum_{k \ge 1} y^{k-1} / (k!)^2` (14 positive terms, truncation below
    :math:`10^{-9}`), as ``log1p(y Q) - x``: no rounding of :math:`1 + y Q` for small
    :math:`x`, where the result is :math:`-x + x^2/4 + \dots`;
  - :math:`x > 6`: :math:`\sqrt{x}\, i_0(x) = R(6/x)`, :math:`R` a degree-9 polynomial fitted
    to 50-digit values (relative error below :math:`10^{-9}`; ``scripts/fit_bessel_i0.py``
    regenerates it), as ``log R - log(x)/2``.

* The circular variance :math:`V(x) = 1 - I_1(x)/I_0(x)`:

  - :math:`x \le 6`: :math:`1 - (x/2) P_1(y) / I_0(x)` with the power series
    :math:`I_1(x) = (x/2) P_1(y)` (15 terms), in float64: :math:`V \ge 0.087`, so the
    subtraction loses up to a factor 11, more than float32 could spare;
  - :math:`x > 6`: :math:`2 x V(x) = W(6/x)`, a degree-12 fit (relative error below
    :math:`10^{-9}`), so :math:`V \approx 1/(2x)` keeps its digits where ``1 - A`` cancels.

* :math:`x V(x)` for the entropy (``scaled_variance_fraction``): for :math:`x \le 6`,
  :math:`V = 1 - x / r_1`, :math:`r_1 = x I_0/I_1` by Gauss's continued fraction, its first
  steps in float32 and the last four in float64 (two buffers, not two float64 series of 29
  terms); the tail as above.

Both are smooth in :math:`x` (autograd gives the derivative of the fit, within a few dozen
float32 ulps of the exact one where :math:`V` is small) and branch-free (clamped arguments,
and a ``lerp`` with a 0/1 weight to choose).
"""

from __future__ import annotations

import math

import torch

from ..utils import _inplace_ok

__all__ = ["circular_variance", "log_i0e", "scaled_variance_fraction"]

SPLIT = 6.0
POLYNOMIAL_FROM = 4096

# 1 / (k!)^2 for k = 1..14: I_0(x) = 1 + y (1 + y / 4 + ...), y = x^2 / 4.
I0_TAYLOR = [
    1.0,
    0.25,
    0.027777777777777776,
    0.001736111111111111,
    6.944444444444444e-05,
    1.9290123456790124e-06,
    3.936759889140842e-08,
    6.151187326782565e-10,
    7.594058428126624e-12,
    7.594058428126623e-14,
    6.276081345559193e-16,
    4.358389823304995e-18,
    2.5789288895295828e-20,
    1.3157800456783586e-22,
]
# 1 / (k! (k + 1)!) for k = 0..14: I_1(x) = (x / 2) (1 + y / 2 + ...).
I1_TAYLOR = [1 / (math.factorial(k) * math.factorial(k + 1)) for k in range(15)]
# sqrt(x) i0e(x) = sum_k I0E_TAIL[k] u^k, u = 6 / x, x >= 6 (scripts/fit_bessel_i0.py).
I0E_TAIL = [
    0.3989422803230156,
    0.008311310472433086,
    0.0007788546462570564,
    0.0001381349553787512,
    2.52072628891863e-05,
    1.1666905035914409e-05,
    7.77078586213559e-05,
    -0.00017803691128163589,
    0.00017928503825197453,
    -6.073897376340894e-05,
]
# 2 x (1 - I1(x) / I0(x)) = sum_k VARIANCE_TAIL[k] u^k, u = 6 / x, x >= 6.
VARIANCE_TAIL = [
    0.9999999993197574,
    0.04166689314216527,
    0.006932051086087962,
    0.0020720897259714887,
    -0.0022459447711481446,
    0.018549995105018105,
    -0.07263872517216613,
    0.1875615790089755,
    -0.31490680391646325,
    0.33931576838637695,
    -0.22326917973675864,
    0.08107924914483071,
    -0.012428623131033979,
]


def _polynomial(coefficients: list[float], t: torch.Tensor) -> torch.Tensor:
    """``sum_k coefficients[k] t^k`` by Horner's scheme, in place on one fresh buffer."""
    result = t * coefficients[-1]
    result.add_(coefficients[-2])
    for c in reversed(coefficients[:-2]):
        result.mul_(t).add_(c)
    return result


def _in_float32(fn, x: torch.Tensor) -> torch.Tensor:
    if x.dtype in (torch.float16, torch.bfloat16):
        return fn(x.float()).to(x.dtype)
    return fn(x)


def _log_i0e_near(near: torch.Tensor) -> torch.Tensor:
    y = near * near * 0.25
    return torch.log1p(_polynomial(I0_TAYLOR, y).mul_(y)).sub_(near)


def _choose(x: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """``where(x <= 6, near, far)`` for finite ``near`` and ``far``, as ``lerp`` with a 0/1
    weight: exact for such weights, and ~0.5 ms per 1M against ~4 ms for a ``where`` whose
    mask splits the entries at random (the CPU ``where`` kernel is not vectorized)."""
    return torch.lerp(near, far, (x - SPLIT).sign_().clamp_(min=0))


def _log_i0e(x: torch.Tensor) -> torch.Tensor:
    small = _log_i0e_near(x.clamp(max=SPLIT))
    far = x.clamp(min=SPLIT)
    # log R - log(x) / 2, not log(R / sqrt(x)): d/dx x^(-1/2) underflows in float32 past 1e25.
    large = _polynomial(I0E_TAIL, torch.div(SPLIT, far)).log_().sub_(far.log().mul_(0.5))
    return _choose(x, small, large)


def polynomial_wanted(x: torch.Tensor) -> bool:
    """Whether the polynomials pay: float32 or half with at least ``POLYNOMIAL_FROM`` entries.
    They take ~35 torch calls (~50 us of call overhead), torch's scalar ``i0e`` ~24 ns an
    entry: below ~2000 entries the kernel is cheaper. (A shape test: fine under compile.)"""
    return x.dtype != torch.float64 and x.numel() >= POLYNOMIAL_FROM


def log_i0e(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log(I_0(x) e^{-x})` for :math:`x \ge 0` (see the module docstring)."""
    if not polynomial_wanted(x):
        return torch.special.i0e(x).log()
    return _in_float32(_log_i0e, x)


def _variance_near(near: torch.Tensor) -> torch.Tensor:
    """``1 - I_1/I_0`` for ``0 <= x <= 6`` in float64: the subtraction loses up to a factor 11,
    more than float32 could spare; the float64 quotient of the series keeps ~1e-15."""
    x = near.double()
    y = x * x * 0.25
    i0 = _polynomial(I0_TAYLOR, y).mul_(y).add_(1)
    i1_over_half_x = _polynomial(I1_TAYLOR, y)
    return (1 - i1_over_half_x.mul_(x * 0.5).div_(i0)).to(near.dtype)


def _circular_variance(x: torch.Tensor, scaled: bool) -> torch.Tensor:
    near = x.clamp(max=SPLIT)
    direct = _variance_near(near)
    far = x.clamp(min=SPLIT)
    tail = _polynomial(VARIANCE_TAIL, torch.div(SPLIT, far))
    if scaled:  # x V(x): W / 2 far out, never the product of an overflow and an underflow
        return _choose(x, direct * near, tail * 0.5)
    return _choose(x, direct, tail / (2 * far))


def circular_variance(x: torch.Tensor, scaled: bool = False) -> torch.Tensor:
    r""":math:`V(x) = 1 - I_1(x)/I_0(x)` for :math:`x \ge 0` (:math:`x V(x)` if ``scaled``),
    float32 and half only (float64 keeps the exact forms of ``distributions/von_mises.py``)."""
    if x.dtype == torch.float64:
        raise TypeError("circular_variance: float32 and half only")
    return _in_float32(lambda t: _circular_variance(t, scaled), x)


# V = 1 - x / r_1 with r_k = 2k + x^2 / r_(k+1) (Gauss's continued fraction for I_1 / I_0),
# from r_12 = 24 (truncation below 2e-9 for x <= 6; positive terms: errors damp): r_11..r_5 in
# float32, r_4..r_1 and V in float64 with x^2 exact; V rounded to float32 as the float64
# quotient of the series is (``_variance_near``: the same float32 V but for ~1% of entries,
# one ulp apart; x V within 0.4 float32 ulps of 1 of 40-digit values).
_FRACTION_DEPTH = 12
_FRACTION_WIDE_FROM = 4
_WIDE_BLOCK = 65536


def _fraction_narrow(x2: torch.Tensor) -> torch.Tensor:
    """``r_(_FRACTION_WIDE_FROM + 1)`` in the dtype of ``x2``."""
    r = x2 / (2 * _FRACTION_DEPTH) + (2 * _FRACTION_DEPTH - 2)
    for k in range(_FRACTION_DEPTH - 2, _FRACTION_WIDE_FROM, -1):
        r = x2 / r + 2 * k
    return r


def _fraction_wide(near: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``V = 1 - x / r_1`` in float64 from float64 ``near`` (x) and ``r`` (the narrow part)."""
    x2 = near * near
    for k in range(_FRACTION_WIDE_FROM, 0, -1):
        r = x2 / r + 2 * k
    return (r - near) / r


def _scaled_variance_fraction(x: torch.Tensor) -> torch.Tensor:
    near = x.clamp(max=SPLIT)
    r = _fraction_narrow(near * near)
    direct = _fraction_wide(near.double(), r.double()).to(x.dtype) * near
    tail = _polynomial(VARIANCE_TAIL, torch.div(SPLIT, x.clamp(min=SPLIT)))
    return _choose(x, direct, tail.mul_(0.5))


def _scaled_variance_fraction_in_place(x: torch.Tensor) -> torch.Tensor:
    """:func:`_scaled_variance_fraction` with no graph: three fresh float32 buffers (each fresh
    1M buffer costs more in page faults than the arithmetic written into it), the float64
    steps on blocks of ``_WIDE_BLOCK`` entries in three reused buffers."""
    near = x.clamp(max=SPLIT)
    x2 = torch.mul(near, near)
    r = torch.div(x2, 2 * _FRACTION_DEPTH).add_(2 * _FRACTION_DEPTH - 2)
    for k in range(_FRACTION_DEPTH - 2, _FRACTION_WIDE_FROM, -1):
        torch.div(x2, r, out=r).add_(2 * k)
    flat_near, flat_r = near.view(-1), r.view(-1)
    n = flat_r.numel()
    a, b, w = (torch.empty(min(n, _WIDE_BLOCK), dtype=torch.float64) for _ in "abc")
    for i in range(0, n, _WIDE_BLOCK):
        j = min(n, i + _WIDE_BLOCK)
        nb, sb, wb = a[: j - i], b[: j - i], w[: j - i]
        nb.copy_(flat_near[i:j])
        torch.mul(nb, nb, out=sb)
        wb.copy_(flat_r[i:j])
        for k in range(_FRACTION_WIDE_FROM, 0, -1):
            torch.div(sb, wb, out=wb).add_(2 * k)
        flat_r[i:j].copy_(torch.sub(wb, nb, out=sb).div_(wb))
    direct = r.mul_(near)
    u = torch.clamp(x, min=SPLIT, out=x2).reciprocal_().mul_(SPLIT)
    tail = torch.mul(u, VARIANCE_TAIL[-1], out=near).add_(VARIANCE_TAIL[-2])
    for c in reversed(VARIANCE_TAIL[:-2]):
        tail.mul_(u).add_(c)
    weight = torch.sub(x, SPLIT, out=u).sign_().clamp_(min=0)
    return torch.lerp(direct, tail.mul_(0.5), weight, out=direct)


def scaled_variance_fraction(x: torch.Tensor) -> torch.Tensor:
    r""":math:`x V(x)` for :math:`x \ge 0`, float32 and half only: ``circular_variance`` with
    ``scaled``, near 0 by a continued fraction instead of two float64 series (~3x cheaper)."""
    if x.dtype == torch.float64:
        raise TypeError("scaled_variance_fraction: float32 and half only")
    if x.dtype == torch.float32 and x.is_contiguous() and _inplace_ok(x):
        return _scaled_variance_fraction_in_place(x)
    return _in_float32(_scaled_variance_fraction, x)
