"""``expm1``, ``atanh``, ``erf`` that stay accurate under ``torch.compile``.

Inductor's CPU backend computes ``expm1(x)`` as ``exp(x) - 1`` and loses ``atanh``'s
relative accuracy the same way (relative error ~1 for ``|x| < eps``, float32 and float64),
and its float32 ``erf`` is ~1e7 eps off for ``|x| < 1e-7`` (7 eps at 0.01). In eager mode
these are torch's own functions, unchanged (one Python call more); while compiling they use
forms that inductor lowers accurately (against mpmath for ``|x|`` from ``tiny`` to ``1e3``,
float32 and float64, compiled: within 1 eps; gradients too):

* ``expm1(x) = 2 sinh(x/2) e^{x/2}`` (no cancellation; ``x`` clamped below at -80, where
  ``expm1`` is -1 to rounding in float64, so ``-inf`` gives -1, not ``-inf * 0``);
* ``atanh(x) = (log1p(x) - log1p(-x)) / 2`` (terms of opposite signs near 0, ``1 - |x|``
  exact near 1; ``±1 -> ±inf``, ``|x| > 1 -> nan``);
* ``erf(x)``: float64 ``erf`` rounded to the input dtype, on CPU.
"""

from __future__ import annotations

import torch

__all__ = ["atanh", "erf", "expm1"]

_is_compiling = torch.compiler.is_compiling


def expm1(x: torch.Tensor) -> torch.Tensor:
    """``e^x - 1`` to full relative precision, eager or compiled."""
    if not _is_compiling():
        return torch.expm1(x)
    half = x.clamp(min=-80.0) * 0.5
    return 2.0 * torch.sinh(half) * torch.exp(half)


def atanh(x: torch.Tensor) -> torch.Tensor:
    """``atanh(x) = (log1p(x) - log1p(-x)) / 2``, eager or compiled."""
    if not _is_compiling():
        return torch.atanh(x)
    return 0.5 * (torch.log1p(x) - torch.log1p(-x))


def erf(x: torch.Tensor) -> torch.Tensor:
    """``erf(x)``, eager or compiled (float64 under a compiled CPU graph)."""
    if not _is_compiling() or x.dtype == torch.float64 or x.device.type != "cpu":
        return torch.erf(x)
    return torch.erf(x.double()).to(x.dtype)
