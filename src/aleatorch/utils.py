"""Public helpers with the names and behaviour torch.distributions users import."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from functools import update_wrapper
from numbers import Number
from typing import Any

import torch

from .errors import DeviceError, ShapeError

#: The Euler-Mascheroni constant (torch's ``utils.euler_constant``).
euler_constant: float = 0.57721566490153286060

__all__ = [
    "broadcast_all",
    "clamp_probs",
    "lazy_property",
    "logits_to_probs",
    "probs_to_logits",
    "tril_matrix_to_vec",
    "vec_to_tril_matrix",
]


def _float_dtype(values: tuple[Any, ...]) -> torch.dtype:
    """The dtype torch ops would give: promote the tensors; integers become the default float."""
    dtype = None
    for v in values:
        if isinstance(v, torch.Tensor):
            dtype = v.dtype if dtype is None else torch.promote_types(dtype, v.dtype)
    if dtype is None or not (dtype.is_floating_point or dtype.is_complex):
        return torch.get_default_dtype()
    return dtype


def _common_device(values: tuple[Any, ...], owner: str = "") -> torch.device | None:
    device = None
    for v in values:
        if isinstance(v, torch.Tensor):
            if device is None:
                device = v.device
            elif v.device != device:
                prefix = f"{owner}: " if owner else ""
                raise DeviceError(
                    f"{prefix}parameters live on different devices ({device} and {v.device}); "
                    "move them to one device first, e.g. with .to(device)"
                )
    return device


def as_params(*values: Any, owner: str = "", broadcast: bool = True) -> tuple[torch.Tensor, ...]:
    """Convert parameters to tensors of one floating dtype and device, broadcast as views.

    The dtype is the one torch ops would give: the tensors' dtypes promoted, integer (and
    bool) tensors promoted to the default float dtype. Python numbers take that dtype and the
    tensors' device (the default dtype when no tensor is given). Nothing is copied when
    nothing must be: a tensor of the right dtype is returned as is, broadcast ones are views.

    Args:
        *values: numbers and tensors.
        owner: the name that prefixes error messages (the class the user built).
        broadcast: broadcast the results to one shape. Pass False for parameters whose event
            dims differ (a mean vector and a covariance matrix): they are converted only.

    Raises:
        DeviceError: if the tensors live on different devices.
        TypeError: if a value is neither a number nor a tensor.
    """
    if len(values) == 2 and broadcast:
        # Two floating tensors of one dtype on the CPU (the common case): checked and
        # broadcast with the fewest Python steps (construction is per call in a loop).
        a, b = values
        if (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype is b.dtype
            and a.dtype.is_floating_point
            and a.is_cpu
            and b.is_cpu
        ):
            if a.shape == b.shape:
                return values
            if not torch.compiler.is_compiling():
                try:
                    return tuple(_broadcast_tensors(values))
                except RuntimeError:
                    pass  # the general path below raises the ShapeError
    if _same_float_tensors(values):  # the common case, at a fraction of the cost
        tensors = values
    else:
        tensors = _converted(values, owner)
    if len(tensors) == 1 or not broadcast:
        return tuple(tensors)
    first = tensors[0].shape
    if all(t.shape == first for t in tensors[1:]):
        return tuple(tensors)
    try:
        if torch.compiler.is_compiling():
            _broadcast_shapes_python(tuple(t.shape for t in tensors))
            return tuple(torch.broadcast_tensors(*tensors))
        # The binding itself (~1.5 us less than torch's Python wrapper); it honours
        # __torch_function__ overrides and modes as the wrapper does.
        return tuple(_broadcast_tensors(tensors))
    except RuntimeError:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise ShapeError(
            f"{owner + ': ' if owner else ''}the parameters' shapes {shapes} do not broadcast "
            "to one batch_shape (each dim must be equal, or 1, or missing, counting from the "
            "right)"
        ) from None


_broadcast_tensors = torch._C._VariableFunctions.broadcast_tensors


def _same_float_tensors(values: tuple[Any, ...]) -> bool:
    """Whether every value is a floating tensor of the first one's dtype and device (then
    nothing is converted)."""
    if not values or not isinstance(first := values[0], torch.Tensor):
        return False
    dtype, device = first.dtype, first.device
    if not dtype.is_floating_point:
        return False
    for v in values[1:]:
        if not isinstance(v, torch.Tensor) or v.dtype != dtype or v.device != device:
            return False
    return True


def _converted(values: tuple[Any, ...], owner: str) -> list[torch.Tensor]:
    """``values`` as tensors of their promoted floating dtype on their common device."""
    dtype = _float_dtype(values)
    device = _common_device(values, owner)
    tensors = []
    for v in values:
        if isinstance(v, torch.Tensor):
            tensors.append(v if v.dtype == dtype else v.to(dtype))
        elif isinstance(v, Number):
            tensors.append(torch.tensor(v, dtype=dtype, device=device))
        else:
            raise TypeError(
                f"{owner + ': ' if owner else ''}expected a number or a torch.Tensor, "
                f"got {type(v).__name__}"
            )
    return tensors


def broadcast_shapes(*shapes: Any) -> torch.Size:
    """``torch.broadcast_shapes`` at C speed (~0.3 us instead of ~18 us on small shapes).

    Raises:
        RuntimeError: if the shapes do not broadcast, as ``torch.broadcast_shapes``.
    """
    if torch.compiler.is_compiling():
        return _broadcast_shapes_python(shapes)
    if not shapes:
        return torch.Size()
    out = shapes[0]
    if type(out) is not torch.Size:
        out = torch.Size(out)
    for shape in shapes[1:]:
        if shape != out:  # (an equal shape, the common case, needs no call)
            out = torch.Size(torch._C._infer_size(out, torch.Size(shape)))
    return out


def _broadcast_shapes_python(shapes: tuple[Any, ...]) -> torch.Size:
    """The broadcast rule in plain Python, for tracing: dynamo turns a RuntimeError from
    ``torch.broadcast_shapes`` into its own error type, which callers could not catch."""
    out: list[Any] = []
    for shape in shapes:
        shape = tuple(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for i, size in enumerate(shape, start=len(out) - len(shape)):
            if out[i] == 1:
                out[i] = size
            elif size != 1 and size != out[i]:
                raise RuntimeError(
                    f"shape mismatch: a dim of size {size} does not broadcast against {out[i]}"
                )
    return torch.Size(out)


def broadcast_all(*values: Any) -> tuple[torch.Tensor, ...]:
    """Broadcast numbers and tensors to one shape, as torch.distributions.utils.broadcast_all.

    Numbers are converted to tensors with the dtype and device of the first tensor argument
    (or the default dtype when there is none).

    Raises:
        ValueError: if an argument is neither a number nor a tensor.
    """
    if not all(isinstance(v, (torch.Tensor, Number)) or _is_tensor_like(v) for v in values):
        raise ValueError(
            "Input arguments must all be instances of numbers.Number, "
            "torch.Tensor or objects implementing __torch_function__."
        )
    if not all(isinstance(v, torch.Tensor) or _is_tensor_like(v) for v in values):
        options: dict[str, Any] = {"dtype": torch.get_default_dtype()}
        for value in values:
            if isinstance(value, torch.Tensor):
                options = {"dtype": value.dtype, "device": value.device}
                break
        values = tuple(
            v if isinstance(v, torch.Tensor) else torch.tensor(v, **options) for v in values
        )
    return tuple(torch.broadcast_tensors(*values))


def _is_tensor_like(v: Any) -> bool:
    return hasattr(v, "__torch_function__") and not isinstance(v, type)


def logits_to_probs(logits: torch.Tensor, is_binary: bool = False) -> torch.Tensor:
    """Convert logits to probabilities: sigmoid if binary, softmax over the last dim otherwise."""
    if is_binary:
        return torch.sigmoid(logits)
    return softmax_last(logits)


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """``softmax(x, dim=-1)``; written out (``exp(x - max) / sum``) over a last dim shorter
    than 16, where torch's CPU kernel does not vectorize and runs 2-5x slower (measured:
    250000x4 float32, 20 ms against 8 ms). Rows of -inf give NaN, as torch's."""
    if x.shape[-1] >= _SHORT_SOFTMAX or x.numel() < _SOFTMAX_WRITTEN_OUT_FROM:
        return torch.softmax(x, dim=-1)
    e = torch.exp(x - x.amax(-1, keepdim=True).detach())
    return e / e.sum(-1, keepdim=True)


# softmax_last: written out below this last-dim length, for tensors of at least this size
_SHORT_SOFTMAX = 16
_SOFTMAX_WRITTEN_OUT_FROM = 4096


def clamp_probs(probs: torch.Tensor) -> torch.Tensor:
    """Clamp probabilities to ``[eps, 1 - eps]`` with ``eps`` the dtype's machine epsilon."""
    eps = torch.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: torch.Tensor, is_binary: bool = False) -> torch.Tensor:
    """Convert probabilities to logits: ``log p - log1p(-p)`` if binary, ``log p`` otherwise."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return torch.log(ps_clamped) - torch.log1p(-ps_clamped)
    return torch.log(ps_clamped)


class lazy_property:
    """A property computed on first access, then reused.

    On an aleatorch ``Distribution`` the value lives in the instance's version-keyed cache
    (``Distribution._cached``): it is recomputed after an in-place update of a parameter,
    and whenever a parameter requires grad, so it is never stale and never a graph from an
    earlier call. On any other object it is computed once, with grad enabled, and stored in
    ``__dict__`` (torch's behaviour).

    Read on the class it returns itself, so introspection (and generic ``expand``) can tell
    cached values from parameters.
    """

    def __init__(self, wrapped: Callable[[Any], Any]):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)  # type: ignore[arg-type]

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        cached = getattr(instance, "_cached", None)
        if cached is not None:
            return cached(self.wrapped.__name__, lambda: self.wrapped(instance))
        with torch.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


class _lazy_property_and_property(lazy_property, property):
    """What a lazy_property returns on the class: also a plain property, for Sphinx/inspect."""

    def __init__(self, wrapped: Callable[[Any], Any]):
        property.__init__(self, wrapped)


def tril_matrix_to_vec(mat: torch.Tensor, diag: int = 0) -> torch.Tensor:
    """Flatten the lower triangle (below diagonal ``diag``) of the last two dims, row by row."""
    n = mat.shape[-1]
    if not torch._C._get_tracing_state() and (diag < -n or diag >= n):
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    arange = torch.arange(n, device=mat.device)
    tril_mask = arange < arange.view(-1, 1) + (diag + 1)
    return mat[..., tril_mask]


def vec_to_tril_matrix(vec: torch.Tensor, diag: int = 0) -> torch.Tensor:
    """Inverse of :func:`tril_matrix_to_vec`: fill a lower-triangular matrix row by row."""
    # The vector holds n(n+1)/2 + n*diag entries; solve for n.
    n = (
        -(1 + 2 * diag)
        + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5
    ) / 2
    eps = torch.finfo(vec.dtype).eps
    if not torch._C._get_tracing_state() and (round(n) - n > eps):
        raise ValueError(
            f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
            "the lower triangular part of a square D x D matrix."
        )
    n = round(n.item()) if isinstance(n, torch.Tensor) else round(n)
    mat = vec.new_zeros(vec.shape[:-1] + torch.Size((n, n)))
    arange = torch.arange(n, device=vec.device)
    tril_mask = arange < arange.view(-1, 1) + (diag + 1)
    mat[..., tril_mask] = vec
    return mat


# ---------------------------------------------------------------- torch's private helpers
# Not in ``__all__``, but user code imports them from ``torch.distributions.utils``.


def _standard_normal(
    shape: Any, dtype: torch.dtype | None, device: torch.device | str | None
) -> torch.Tensor:
    """Standard normal draws of ``shape`` from the global generator (torch's helper)."""
    return torch.randn(shape, dtype=dtype, device=device)


def _sum_rightmost(value: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum out the ``dim`` rightmost dims of ``value`` (``value`` itself when ``dim`` is 0)."""
    if dim < 0:
        raise ValueError(f"_sum_rightmost: dim must be >= 0, but got {dim}")
    if dim == 0:
        return value
    return value.flatten(-dim).sum(-1) if value.dim() >= dim else value.sum()


def refuse_half_precision(owner: str, tensor: torch.Tensor, needs: str) -> None:
    """Raise a clear error for float16/bfloat16 parameters of a family whose math needs a
    kernel torch has only in float32 and float64 (``needs`` names it)."""
    if tensor.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(
            f"{owner}: {str(tensor.dtype)[6:]} parameters are not supported ({needs} has no "
            "half-precision kernel in torch); build it with float32 parameters (.float())"
        )


def textbook_range(limit: float, *params: torch.Tensor) -> bool:
    """Whether every entry of ``params`` lies in ``[-limit, limit]``, when that can be asked
    for free: in eager mode, on CPU, outside ``torch.func`` transforms (else False).

    The exact log-space forms of the gamma and beta families (Stirling remainders, deviance
    terms) cost tens of elementwise passes; where every parameter is moderate the textbook
    ``lgamma`` formula is as accurate (its terms are of the size of the result) and several
    times cheaper. On CPU reading one maximum back costs a reduction; on an accelerator it
    would be a device sync, and under compile or vmap a data-dependent branch, so there the
    exact form is always used (and fused by the compiler).
    """
    largest = _largest_magnitude(params)
    return largest is not None and largest <= limit


def textbook_dtype(limit: float, *params: torch.Tensor) -> torch.dtype | None:
    """The dtype in which the textbook ``lgamma`` formula meets the accuracy budget, or None
    where only the exact form does (or the parameters cannot be inspected for free, as in
    :func:`textbook_range`).

    - every ``|param| <= limit``: the parameters' own dtype (the direct formula);
    - float32 (or half) parameters up to ``1e8``: float64. Its terms, of size ``a log a``,
      then carry ``2**-53 a log a`` of rounding, below half an ulp of the float32 result
      (measured: Beta log_prob correctly rounded in float32 up to concentrations 1e7), and
      the few float64 passes cost less than the exact form's tens of passes;
    - otherwise None.
    """
    largest = _largest_magnitude(params)
    if largest is None:
        return None
    if largest <= limit:
        return params[0].dtype
    if largest <= _WIDENED_LIMIT and all(t.dtype != torch.float64 for t in params):
        return torch.float64
    return None


# float32 parameters up to this use the textbook formula in float64 (textbook_dtype)
_WIDENED_LIMIT = 1e8


def masked_compute(
    mask: torch.Tensor,
    compute: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    stand_ins: tuple[float, ...],
    otherwise: torch.Tensor,
) -> torch.Tensor:
    """``torch.where(mask, compute(*inputs), otherwise)``, for an expensive ``compute`` that
    only some entries need (a quadrature for nearly equal laws, say).

    On CPU in eager mode (outside torch.func) ``compute`` runs on the selected entries only
    and its results are scattered into ``otherwise``; elsewhere (compile, vmap, accelerators:
    no data-dependent shapes) it runs on every entry, with the unselected ones replaced by
    ``stand_ins`` (values where ``compute`` is finite, so no NaN gradient leaks through the
    unused branch). Differentiable in ``inputs`` and ``otherwise`` either way."""
    shape = broadcast_shapes(mask.shape, otherwise.shape, *(t.shape for t in inputs))
    if not _readable((mask, otherwise, *inputs)):
        safe = [torch.where(mask, t, s) for t, s in zip(inputs, stand_ins, strict=True)]
        return torch.where(mask, compute(*safe), otherwise)
    chosen = mask.expand(shape).reshape(-1).nonzero().squeeze(-1)
    subset = compute(*(t.expand(shape).reshape(-1)[chosen] for t in inputs))
    out = otherwise.expand(shape).reshape(-1).index_put((chosen,), subset.to(otherwise.dtype))
    return out.reshape(shape)


def _largest_magnitude(params: tuple[torch.Tensor, ...]) -> float | None:
    """``max |param|`` over every entry (NaN if any is NaN), or None where reading it back
    is not free: under compile, on an accelerator, inside torch.func transforms."""
    if not _readable(params):
        return None
    largest = 0.0
    for t in params:
        n = t.numel()
        if n == 0:
            continue
        if n <= _SMALL_NUMEL:  # a Python loop beats launching reductions here
            magnitudes = list(map(abs, _flat_list(t)))
            total = sum(magnitudes)
            if total != total:  # a NaN entry
                return math.nan
            m = max(magnitudes)
        elif t.is_floating_point():  # one aminmax: no |t| temporary (~40% less)
            low, high = t.detach().aminmax()
            m = max(-float(low), float(high))
            if m != m or low != low:  # (aminmax gives NaN at both ends if any is NaN)
                return math.nan
        else:
            m = float(t.detach().abs().amax())
        largest = max(largest, m)
    return largest


# Over a last dim this short, on tensors of at least _WRITTEN_OUT_FROM entries, sums are
# written out as running sums of the columns: torch's reductions over a short last dim do
# not vectorize (sum over 333333x3 float32: 1.4 ms, written out 0.26 ms).
_SHORT_SUM = 8
_WRITTEN_OUT_FROM = 4096


def sum_last(x: torch.Tensor) -> torch.Tensor:
    """``x.sum(-1)``, as a running sum over a short last dim of a large tensor."""
    k = x.shape[-1]
    if k < 2 or k > _SHORT_SUM or x.numel() < _WRITTEN_OUT_FROM:
        return x.sum(-1)
    cols = x.unbind(-1)
    total = cols[0] + cols[1]
    for col in cols[2:]:
        total.add_(col)
    return total


def _readable(tensors: tuple[torch.Tensor, ...]) -> bool:
    """Whether the values of ``tensors`` can steer Python for free: eager mode, CPU tensors,
    outside any torch.func transform (no device sync, no graph break, no data-dependent
    trace). Inside a transform nothing is readable, even an unwrapped tensor: the value or
    the output may be batched where the parameters are not (vmap over the data of one
    distribution), and vmap refuses in-place random fills of unbatched buffers."""
    if torch.compiler.is_compiling() or _functorch_level() is not None:
        return False
    for t in tensors:  # a loop: cheaper than all() over a generator on one or two tensors
        if not t.is_cpu:
            return False
    return True


_is_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
_functorch_level = torch._C._functorch.maybe_current_level


def _flat_list(t: torch.Tensor) -> list[float]:
    """The entries of a small tensor as a flat Python list (cheaper than reshape + tolist)."""
    values = t.tolist()
    if t.dim() == 0:
        return [values]
    for _ in range(t.dim() - 1):
        values = [v for row in values for v in row]
    return values


_SMALL_NUMEL = 16


def python_wanted(*tensors: torch.Tensor) -> bool:
    """Whether a small log_prob may run in Python floats: CPU eager (``_readable``), float32
    (Python's double arithmetic rounded once; float64 keeps torch's lgamma, a little more
    accurate than ``math.lgamma``), and no gradient wanted."""
    if not _readable(tensors) or tensors[0].dtype != torch.float32:
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))


_TYPECODES = {torch.float32: "f", torch.float64: "d"}


def from_floats(values: list[float], dtype: torch.dtype, shape: torch.Size) -> torch.Tensor:
    """A tensor of ``shape`` from Python floats, rounded once to ``dtype``: over an
    ``array`` of C floats or doubles (the same rounding), a third of ``torch.tensor``'s cost."""
    code = _TYPECODES.get(dtype)
    if code is None or not values:
        out = torch.tensor(values, dtype=dtype)
    else:
        out = torch.frombuffer(array(code, values), dtype=dtype)
    return out if len(shape) == 1 else out.view(shape)


#: Up to this many entries, log_prob without a gradient runs in Python floats (the gamma
#: family, the location-scale families), where each torch call costs more than the arithmetic.
PYTHON_NUMEL = 32


def python_location_scale(
    loc: torch.Tensor,
    scale: torch.Tensor,
    value: torch.Tensor,
    log_density: Callable[[float], float],
    pre_image: Callable[[float], tuple[float, float] | None] | None = None,
) -> torch.Tensor | None:
    """``log_density((x - loc) / scale) - log(scale)`` (``log_density``: the standardized
    law's) entry by entry in Python floats, rounded once, for a small log_prob: None (the
    tensor path) unless the three are float32 of one shape, at most ``PYTHON_NUMEL`` entries,
    no gradient wanted (``python_wanted``), every entry finite and every scale positive.
    With ``pre_image`` (``x -> (y, log|dy/dx|)``, or None outside its domain: the tensor
    path), the law of a monotone image: the same at ``y``, plus ``log|dy/dx|``."""
    shape = value.shape
    if not (loc.shape == scale.shape == shape) or not 0 < value.numel() <= PYTHON_NUMEL:
        return None
    if not (loc.dtype == scale.dtype == value.dtype) or not python_wanted(loc, scale, value):
        return None
    log, out = math.log, []
    for m, s, x in zip(_flat_list(loc), _flat_list(scale), _flat_list(value)):
        log_det = 0.0
        if pre_image is not None:
            image = pre_image(x)
            if image is None:
                return None
            x, log_det = image
        if not (0.0 < s < math.inf and abs(x - m) < math.inf):
            return None  # (NaN too)
        out.append(log_density((x - m) / s) - log(s) + log_det)
    return from_floats(out, value.dtype, shape)


_SCALAR_TENSORS: dict[tuple, torch.Tensor] = {}
#: Constants kept at most (numbers from user code, an affine map's, may vary per call).
_SCALAR_TENSORS_KEPT = 1024


def _scalar_tensor(value: float, dtype: torch.dtype) -> torch.Tensor:
    """``value`` as a 0-dim CPU tensor of ``dtype``, an operand that mixes with tensors on
    any device: on small tensors cheaper than a Python scalar, which torch wraps in a new
    tensor at every call. Kept for reuse outside compile and inference mode (``value`` must
    not be NaN: it is the key); never written to."""
    if torch.compiler.is_compiling():
        # a constant of the traced graph (a lookup would guard on the cache's keys, and a
        # later eager call adding this one would force a recompile)
        return torch.tensor(value, dtype=dtype)
    # (-0.0 == 0.0: a zero's sign is part of its key)
    key = (value, dtype) if value else (value, dtype, math.copysign(1.0, value))
    const = _SCALAR_TENSORS.get(key)
    if const is None:
        const = torch.tensor(value, dtype=dtype)
        if not torch.is_inference_mode_enabled():
            if len(_SCALAR_TENSORS) >= _SCALAR_TENSORS_KEPT:
                _SCALAR_TENSORS.clear()
            _SCALAR_TENSORS[key] = const
    return const


def _number_operand(value: Any, like: torch.Tensor) -> Any:
    """``value``, an operand of an op on ``like``: a Python number becomes a kept 0-dim
    constant (``_scalar_tensor``) where that gives the same numbers, for float32 and float64
    ``like`` (torch rounds a scalar operand to that dtype too); anything else is returned
    as is (half precision computes with a scalar in float32, a half constant would round
    it first)."""
    dtype = like.dtype
    if dtype is not torch.float32 and dtype is not torch.float64:
        return value
    if type(value) is float:
        return value if value != value else _scalar_tensor(value, dtype)  # (NaN is no key)
    if type(value) is int and abs(value) <= 1 << 53:  # (exact in float64: one rounding)
        return _scalar_tensor(float(value), dtype)
    return value


def _inplace_ok(*tensors: torch.Tensor) -> bool:
    """Whether a chain of elementwise ops on ``tensors`` may be written over its own fresh
    intermediates: no autograd graph is wanted (grad mode off, or no input requires grad)
    and the values are CPU eager tensors (``_readable``: no compile, no torch.func wrapper).
    Each fresh 1M-entry buffer costs allocation and page faults, often more than the
    arithmetic written into it. Callers keep an out-of-place path for the other cases and
    never write into an input or a cached tensor."""
    if torch.is_grad_enabled():
        for t in tensors:
            if t.requires_grad:
                return False
    return _readable(tensors)


def _min_at_least(value: torch.Tensor, bound: float, *others: torch.Tensor) -> bool:
    """Whether every entry of ``value`` is at least ``bound`` (a NaN fails), read where that
    is free (``_readable`` over ``value`` and ``others``): one reduction that lets a CPU-eager
    fast path drop a where guarding the entries below ``bound``. False when not readable or
    empty (the general path then runs)."""
    if value.numel() == 0 or not _readable((value, *others)):
        return False
    return value.min().item() >= bound
