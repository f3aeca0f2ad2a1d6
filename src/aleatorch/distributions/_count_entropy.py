r"""Count entropies (Binomial, NegativeBinomial) under ``torch.compile`` and ``torch.func``.

The exact entropy sums ``-P(k) log P(k)`` over a window of labels whose width depends on the
parameters (and, eagerly, sums each distinct law once and reads small counts from tables):
traced, that is a data-dependent size, or thousands of unrolled label chunks that take
inductor minutes to compile. There the eager algorithm runs as one opaque operator (the same
numbers), and the gradient of the windowed entries comes from a second operator that sums the
window's slopes. With :math:`w_k = P(k) (1 + \log P(k))` and
:math:`\log P(k) = c(k, n) + k \log p + m(k) \log q`,

.. math::
    dH = -\sum_k w_k \, d \log P(k) = -\sum_k w_k (\partial_n \log P(k) \, dn
       + k \, d\log p + m(k) \, d\log q)

(:math:`\partial_n` at fixed :math:`p`. NegativeBinomial:
:math:`\partial_r \log P = \psi(k + r) - \psi(r) + \log q`, :math:`m = r`; Binomial:
:math:`\partial_n \log P = \psi(n + 1) - \psi(n - k + 1) + \log q`, :math:`m = n - k`),
attached to the value by an identity whose backward multiplies by these sums. The entries
past the window (asymptotic forms) are traced as in eager mode.
"""

from __future__ import annotations

import torch

from ..utils import _is_functorch_wrapped

# family name -> class, filled in by the family modules (no import cycle)
LAWS: dict[str, type] = {}

_CHUNK = 2**22  # labels x batch entries summed at once by the slopes


def opaque(*tensors: torch.Tensor) -> bool:
    """Whether the entropy must run as an operator: under ``torch.compile`` or on
    ``torch.func`` wrapped tensors (eagerly on CPU or an accelerator, the algorithm runs as
    it is)."""
    if torch.compiler.is_compiling():
        return True
    return any(_is_functorch_wrapped(t) for t in tensors)


def _law(family: str, count: torch.Tensor, param: torch.Tensor, given: str):
    return LAWS[family](count, **{given: param}, validate_args=False)


@torch.library.custom_op("aleatorch::count_entropy", mutates_args=())
def _entropy_op(count: torch.Tensor, param: torch.Tensor, family: str, given: str) -> torch.Tensor:
    with torch.no_grad():
        out = _law(family, count, param, given)._entropy()
    shape = torch.broadcast_shapes(count.shape, param.shape)
    return out if out.shape == shape else out.expand(shape).clone()


@_entropy_op.register_fake
def _(count, param, family, given):
    return param.new_empty(torch.broadcast_shapes(count.shape, param.shape))


def _batch_first(info, in_dims, tensors) -> list[torch.Tensor]:
    """``tensors`` with the vmapped dimension first (expanded where absent) and their own
    dimensions right-aligned after it, so that they broadcast as the unbatched ones did."""
    logical = [t.dim() - (d is not None) for t, d in zip(tensors, in_dims)]
    rank = max(logical)
    out = []
    for t, d, own in zip(tensors, in_dims, logical):
        t = t.movedim(d, 0) if d is not None else t.expand(info.batch_size, *t.shape)
        out.append(t.reshape(t.shape[:1] + (1,) * (rank - own) + t.shape[1:]))
    return out


@_entropy_op.register_vmap
def _(info, in_dims, count, param, family, given):
    count, param = _batch_first(info, in_dims[:2], (count, param))
    return _entropy_op(count, param, family, given), 0


@torch.library.custom_op("aleatorch::count_entropy_slopes", mutates_args=())
def _slopes_op(
    count: torch.Tensor,
    param: torch.Tensor,
    start: torch.Tensor,
    stop: torch.Tensor,
    stride: torch.Tensor,
    family: str,
    given: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    law = _law(family, count, param, given)
    return _window_slopes(law, start, stop, stride)


@_slopes_op.register_fake
def _(count, param, start, stop, stride, family, given):
    shape = torch.broadcast_shapes(count.shape, param.shape, start.shape)
    return tuple(start.new_empty(shape) for _ in range(3))


@_slopes_op.register_vmap
def _(info, in_dims, count, param, start, stop, stride, family, given):
    tensors = _batch_first(info, in_dims[:5], (count, param, start, stop, stride))
    return _slopes_op(*tensors, family, given), (0, 0, 0)


def _window_slopes(law, start, stop, stride):
    """``(-sum w d log P / dn, -sum w k, -sum w m(k))`` over the labels ``start + stride j < stop``
    (``k <= n`` for a binomial), times ``stride`` (the strided sum stands for the unit-step
    one, as in the value)."""
    shape = torch.broadcast_shapes(law.batch_shape, start.shape)
    start, stop, stride = (t.expand(shape) for t in (start, stop, stride))
    with torch.no_grad():
        steps = ((stop - start) / stride).ceil().nan_to_num(nan=1.0).clamp(min=1)
        width = int(steps.max()) if start.numel() else 1
    lead = (-1,) + (1,) * len(shape)
    chunk = max(1, _CHUNK // max(start.numel(), 1))
    sums = [torch.zeros(shape, dtype=start.dtype, device=start.device) for _ in range(3)]
    tiny = torch.finfo(start.dtype).min
    for first in range(0, width, chunk):
        offsets = torch.arange(
            first, min(width, first + chunk), dtype=start.dtype, device=start.device
        )
        k = start + stride * offsets.view(lead)
        inside = k < stop
        log_p = law._log_prob(torch.where(inside, k, start)).clamp(min=tiny)
        w = torch.where(inside, log_p.exp() * (1 + log_p), 0.0)
        slope, m = law._entropy_slopes(k)
        for i, factor in enumerate((slope, k, m)):
            sums[i] -= torch.where(w == 0, 0.0, w * factor).sum(0)
    return tuple((s * stride).clone() for s in sums)


class _WithSlopes(torch.autograd.Function):
    """Returns ``value``; the derivative in each input is the matching precomputed slope."""

    generate_vmap_rule = True

    @staticmethod
    def forward(value, count, log_p, log_q, *slopes):
        return value.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs[4:])

    @staticmethod
    def backward(ctx, grad):
        return None, *(grad * s for s in ctx.saved_tensors), None, None, None


def opaque_entropy(law, family: str) -> torch.Tensor:
    """The entropy of ``law`` by the eager algorithm as an operator, with its gradient.

    The family provides ``_entropy_window()`` (``start, stop, stride, wide``: the window of
    labels and the entries given by an asymptotic form), ``_wide_entropy(wide)`` (that form,
    traced) and ``_entropy_slopes(k)`` (``d log P(k) / dn`` and ``m(k)``)."""
    count, param = law.total_count, law._param
    value = _entropy_op(count.detach(), param.detach(), family, law._given)
    if not (torch.is_grad_enabled() and (count.requires_grad or param.requires_grad)):
        return value
    twin = law._with_dtype(torch.float64)
    with torch.no_grad():
        start, stop, stride, wide = twin._entropy_window()
    slopes = _slopes_op(
        count.detach().double(),
        param.detach().double(),
        start,
        stop,
        stride,
        family,
        law._given,
    )
    shape = value.shape
    log_p, log_q = twin._log_success_failure()
    inputs = tuple(t.expand(shape) for t in (twin.total_count, log_p, log_q))
    windowed = _WithSlopes.apply(value.double(), *inputs, *slopes)
    return torch.where(wide, twin._wide_entropy(wide), windowed).to(value.dtype)
