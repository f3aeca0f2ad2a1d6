"""Shared pieces of families parametrized by a location and a scale."""

from __future__ import annotations

from typing import Any

import torch

from ..utils import _inplace_ok, _readable, _scalar_tensor, as_params, broadcast_shapes

# From this many entries a pass over a tensor costs more (DRAM) than the ~50 us of Python
# that a custom autograd Function adds to a forward and backward.
_FUSED_MIN_NUMEL = 1 << 18


def _fused(draws: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether a sample built from ``draws`` and parameters ``a``, ``b`` takes a Function
    below: a large graph is wanted and the tensors are CPU eager (``_readable``: no
    compile, no torch.func wrapper, where the plain ops keep their own rules)."""
    return (
        draws.numel() >= _FUSED_MIN_NUMEL
        and torch.is_grad_enabled()
        and (a.requires_grad or b.requires_grad)
        and _readable((a, b, draws))
    )


def holds_result(value: torch.Tensor, *params: torch.Tensor) -> bool:
    """Whether an elementwise result of ``value`` and ``params`` may be written over
    ``value`` (a ``_log_prob_over`` argument): the same dtype, the broadcast shape is
    ``value``'s, no graph wanted, CPU eager (``_inplace_ok``)."""
    return (
        all(p.dtype == value.dtype for p in params)
        and broadcast_shapes(value.shape, *(p.shape for p in params)) == value.shape
        and _inplace_ok(value, *params)
    )


class _AffineInDraws(torch.autograd.Function):
    """A sample ``f(a, b, draws)`` affine in the parameters ``a``, ``b``, the ``draws``
    carrying no gradient: keeps the draws (all the backward and jvp need) and the
    parameters' shapes (to sum the gradients back to); subclasses give the rest."""

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, draws = inputs
        ctx.save_for_backward(draws)
        ctx.save_for_forward(draws)
        ctx.shapes = a.shape, b.shape


class _LocScaleShift(_AffineInDraws):
    """``loc + eps * scale`` in one op whose backward is one product, ``grad * eps``:
    addcmul's own backward forms ``eps * 1`` first, a full pass more."""

    @staticmethod
    def forward(loc, scale, eps):
        return torch.addcmul(loc, eps, scale)

    @staticmethod
    def backward(ctx, grad):
        (eps,) = ctx.saved_tensors
        loc_shape, scale_shape = ctx.shapes
        grad_loc = grad.sum_to_size(loc_shape) if ctx.needs_input_grad[0] else None
        grad_scale = (grad * eps).sum_to_size(scale_shape) if ctx.needs_input_grad[1] else None
        return grad_loc, grad_scale, None

    @staticmethod
    def jvp(ctx, loc_tangent, scale_tangent, eps_tangent):
        (eps,) = ctx.saved_tensors
        out = torch.zeros_like(eps) if scale_tangent is None else eps * scale_tangent
        return out if loc_tangent is None else out + loc_tangent


class _Lerp(_AffineInDraws):
    """``low + u (high - low)`` (``lerp``) whose backward is two passes, ``grad u`` and
    ``grad (1 - u)``; lerp's own forms ``1 - u`` first, a full pass more."""

    @staticmethod
    def forward(low, high, u):
        return torch.lerp(low, high, u)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        low_shape, high_shape = ctx.shapes
        grad_low = grad_high = None
        if ctx.needs_input_grad[0]:
            # grad (1 - u) as lerp(grad, 0, u), which forms 1 - u exactly for u >= 1/2
            zero = _scalar_tensor(0.0, grad.dtype)
            grad_low = torch.lerp(grad, zero, u).sum_to_size(low_shape)
        if ctx.needs_input_grad[1]:
            grad_high = (grad * u).sum_to_size(high_shape)
        return grad_low, grad_high, None

    @staticmethod
    def jvp(ctx, low_tangent, high_tangent, u_tangent):
        (u,) = ctx.saved_tensors
        low_tangent = torch.zeros_like(u) if low_tangent is None else low_tangent
        high_tangent = torch.zeros_like(u) if high_tangent is None else high_tangent
        return torch.lerp(low_tangent.expand_as(u), high_tangent.expand_as(u), u)


def loc_scale_shift(loc: torch.Tensor, scale: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``loc + eps * scale`` for a reparameterized sample (``eps`` carries no gradient)."""
    if _fused(eps, loc, scale):
        return _LocScaleShift.apply(loc, scale, eps)
    return torch.addcmul(loc, eps, scale)


def lerp_sample(low: torch.Tensor, high: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``low + u (high - low)`` for a reparameterized sample (``u`` carries no gradient)."""
    if _fused(u, low, high):
        return _Lerp.apply(low, high, u)
    return torch.lerp(low, high, u)


class SymmetricLocationScale:
    """Mixin for a family symmetric and unimodal about ``loc``, with a ``scale > 0``.

    Stores the two parameters (promoted and broadcast as views) and gives ``mean``, ``mode``
    and ``median``, which all equal ``loc``. Each family writes its own ``__init__`` (so its
    signature and TypeErrors name it) and calls :meth:`_set_location_scale` there.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def _set_location_scale(self, loc: Any, scale: Any) -> None:
        """Store ``loc`` and ``scale`` as tensors of one dtype and device, broadcast as views."""
        self.loc, self.scale = as_params(loc, scale, owner=type(self).__name__)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def median(self) -> torch.Tensor:
        return self.loc
