"""Gamma and inverse-gamma tails at an argument carried as ``hi + lo``.

``P(a, y)`` changes by ``y f(y) / P`` relative per unit of relative change in ``y`` (``f`` the
gamma density), about ``sqrt(a) z`` at ``z`` standard deviations: the rounding of
``y = rate * x`` (or ``rate / x``) alone costs ``1e3`` ulps of the result at ``a = 1e6``. The
argument is formed in float64 (exact from float32 operands, so nothing more is needed there)
and in float64 its rounding error ``lo`` is added back to first order,
``P(a, hi + lo) ~ P(a, hi) + lo f(hi)`` (``log P`` by ``lo f / P``), outside the autograd graph
(the derivative in ``x`` stays that of ``P(a, rate x)``: the density).
"""

from __future__ import annotations

import torch

from ..special.double_float import div_residual, two_prod
from ..special.incomplete_gamma import (
    gammainc,
    gammaincc,
    log_gammainc,
    log_gammaincc,
)

_FUNCTIONS = {"P": gammainc, "Q": gammaincc, "log P": log_gammainc, "log Q": log_gammaincc}
# Beyond these magnitudes Veltkamp's split overflows or the residual underflows: no correction.
_SAFE_MAX = 1e290
_SAFE_MIN = 1e-290


def _in_range(*tensors: torch.Tensor) -> torch.Tensor:
    ok = torch.ones_like(tensors[0], dtype=torch.bool)
    for t in tensors:
        ok = ok & (t.abs() < _SAFE_MAX) & (t.abs() > _SAFE_MIN)
    return ok


def _argument(rate: torch.Tensor, x: torch.Tensor, inverse: bool):
    """``hi = fl(rate * x)`` (``fl(rate / x)``) and its rounding error ``lo`` (0 where the
    error-free transformation could overflow or underflow), float64, ``lo`` detached."""
    y = rate / x if inverse else rate * x
    with torch.no_grad():
        r, xd = rate.detach(), x.detach()
        ok = _in_range(r, xd, y)
        one = torch.ones_like(y)
        r, xd = torch.where(ok, r, one), torch.where(ok, xd, one)
        lo = div_residual(r, xd)[1] if inverse else two_prod(r, xd)[1]
        lo = torch.where(ok & torch.isfinite(lo), lo, torch.zeros_like(lo))
    return y, lo


def incomplete_gamma_tail(kind: str, a, rate, x, inverse: bool = False) -> torch.Tensor:
    """``kind`` (``"P"``, ``"Q"``, ``"log P"``, ``"log Q"``) of ``(a, rate * x)``, or of
    ``(a, rate / x)`` if ``inverse``, in the promoted dtype of the inputs."""
    dtype = torch.promote_types(torch.promote_types(a.dtype, rate.dtype), x.dtype)
    a, rate, x = a.to(torch.float64), rate.to(torch.float64), x.to(torch.float64)
    function = _FUNCTIONS[kind]
    exact = torch.finfo(dtype).eps >= torch.finfo(torch.float32).eps
    if exact:
        # float32 and narrower: rate * x is exact in float64, rate / x within 1e-16 relative
        # (times sqrt(a) z: still far below a float32 ulp).
        y = rate / x if inverse else rate * x
        return function(a, y).to(dtype)
    y, lo = _argument(rate, x, inverse)
    out = function(a, y)
    with torch.no_grad():
        # the density only scales a correction of ~1e-13 relative: the direct formula's
        # rounding (eps a log a, 1e-9 relative at a = 1e6) does not show
        ad, yd = a.detach(), y.detach()
        log_f = torch.xlogy(ad - 1, yd) - yd - torch.lgamma(ad)
        if kind.startswith("log"):
            log_f = log_f - out.detach()
        slope = torch.exp(log_f)
        if kind.endswith("Q"):
            slope = -slope
        correction = torch.where(lo != 0, lo * slope, torch.zeros_like(lo))
        correction = torch.where(torch.isfinite(correction), correction, torch.zeros_like(lo))
    return (out + correction).to(dtype)
