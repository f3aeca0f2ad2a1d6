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

Both are smooth in :math:`x` (autograd gives the derivative of the fit, within a few dozen
float32 ulps of the exact one where :math:`V` is small) and branch-free (clamped arguments,
and a ``lerp`` with a 0/1 weight to choose).
"""

from __future__ import annotations

import math

import torch

__all__ = ["circular_variance", "log_i0e"]

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
