"""Elementwise bijections of the real line: exp, affine, tanh, sigmoid.

Each acts entry by entry (``event_dim`` 0 unless stated), is monotone (it has a ``sign``)
and computes its value and log-det together where they share work.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

import torch
import torch.nn.functional as F

from .. import constraints
from ._base import Transform, _sum_rightmost

__all__ = ["AffineTransform", "ExpTransform", "SigmoidTransform", "TanhTransform"]


def _below_one(dtype: torch.dtype) -> float:
    """The largest number below 1 in ``dtype``: ``1 - eps / 2``."""
    return 1.0 - torch.finfo(dtype).eps / 2


class ExpTransform(Transform):
    r"""``y = exp(x)``, from the real line onto ``(0, inf)``; ``log |dy/dx| = x``."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExpTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x

    def _call_and_ladj(self, x):
        return x.exp(), x

    def _inverse_and_ladj(self, y):
        x = y.log()
        return x, x


class AffineTransform(Transform):
    r"""``y = loc + scale * x``, ``log |det J| = sum log |scale|`` over the event dims.

    Args:
        loc: a number or a tensor, broadcast against ``x``.
        scale: a number or a tensor (nonzero for the inverse to exist).
        event_dim: how many rightmost dims form one event (the log-det sums over them).
        cache_size: 0 or 1.
    """

    bijective = True

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.loc = loc
        self.scale = scale
        self._event_dim = event_dim

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self._event_dim

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return (
            constraints.independent(constraints.real, self._event_dim)
            if self._event_dim
            else constraints.real
        )

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return (
            constraints.independent(constraints.real, self._event_dim)
            if self._event_dim
            else constraints.real
        )

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AffineTransform) or self._event_dim != other._event_dim:
            return False
        return _same(self.loc, other.loc) and _same(self.scale, other.scale)

    __hash__ = Transform.__hash__

    @property
    def sign(self) -> Any:
        if isinstance(self.scale, Number):
            return 1 if float(self.scale) > 0 else -1 if float(self.scale) < 0 else 0
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale
        if isinstance(scale, Number):
            log_scale = torch.full_like(x, math.log(abs(scale)))
        else:
            log_scale = scale.abs().log()
        event_dim = self._event_dim
        shape = x.shape[: x.dim() - event_dim] if event_dim else x.shape
        if event_dim:
            log_scale = _sum_rightmost(log_scale, event_dim)
        return log_scale.expand(shape)

    def forward_shape(self, shape):
        return torch.broadcast_shapes(
            shape, getattr(self.loc, "shape", ()), getattr(self.scale, "shape", ())
        )

    def inverse_shape(self, shape):
        return torch.broadcast_shapes(
            shape, getattr(self.loc, "shape", ()), getattr(self.scale, "shape", ())
        )

    def __repr__(self) -> str:
        return (
            f"AffineTransform(loc={self.loc!r}, scale={self.scale!r}, event_dim={self._event_dim})"
        )


def _same(a: Any, b: Any) -> bool:
    """Equality of two numbers or tensors, as one boolean (tensors: every entry equal)."""
    if isinstance(a, Number) and isinstance(b, Number):
        return a == b
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return False
        return bool((a == b).all())
    return False


class TanhTransform(Transform):
    r"""``y = tanh(x)``, from the real line onto ``(-1, 1)``.

    The log-det is the stable ``log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))``,
    finite for every finite ``x``. The inverse clamps ``y`` to the largest values of its
    dtype inside ``(-1, 1)``, so ``atanh`` never meets ``+-1``: the pre-image of a sample
    that rounded to 1 in float32 is 9.0 instead of inf, and a squashed Gaussian's
    ``log_prob`` of its own samples stays finite. (With ``cache_size=1`` the exact pre-image
    is reused instead.)
    """

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TanhTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        bound = _below_one(y.dtype)
        return y.clamp(-bound, bound).atanh()

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))


class SigmoidTransform(Transform):
    r"""``y = 1 / (1 + exp(-x))``, from the real line onto ``(0, 1)``.

    ``log |dy/dx| = -softplus(-x) - softplus(x)``. Outputs and inverse inputs are clamped
    to ``[tiny, 1 - eps/2]`` of their dtype, so neither end ever rounds to exactly 0 or 1.
    """

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigmoidTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return _clamp_probability(torch.sigmoid(x))

    def _inverse(self, y):
        y = _clamp_probability(y)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x) - F.softplus(x)


def _clamp_probability(p: torch.Tensor) -> torch.Tensor:
    finfo = torch.finfo(p.dtype)
    return p.clamp(finfo.tiny, 1.0 - finfo.eps / 2)
