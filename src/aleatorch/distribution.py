"""The ``Distribution`` base class.

A distribution declares ``arg_constraints`` and ``support``, stores its parameters as
tensors and implements private, check-free methods (the template-method contract):

* required: ``_log_prob(value)`` and one of ``_rsample(shape, generator)`` /
  ``_sample(shape, generator)``, where ``shape`` is ``sample_shape + batch_shape + event_shape``;
* as available: ``_cdf``, ``_log_cdf``, ``_survival_function``, ``_log_survival_function``,
  ``_icdf``, ``_entropy``, ``_enumerate_support`` and the properties ``mean``, ``mode``,
  ``variance``.

The public methods validate once, then dispatch. Where a private method is missing, a
documented fallback is used: ``cdf <= exp(log_cdf)``, ``log_cdf <= log(cdf)``,
``log_survival_function <= log1mexp(log_cdf)``, ``icdf <= bisection on cdf``.

Custom distributions written the torch way (overriding public ``sample``/``log_prob``) work too.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from . import constraints
from .errors import (
    AleatorchError,
    DeviceError,
    MethodNotImplementedError,
    NoRsampleError,
    ParameterError,
    ShapeError,
    SupportError,
    _format_index,
    _format_number,
    describe_violation,
)
from .special.compile_safe import expm1
from .utils import lazy_property

_Dependent = constraints._Dependent

__all__ = ["Distribution", "validation"]

_Shape = torch.Size | tuple[int, ...] | list[int]


def _shape_str(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _cache_key(params: tuple[torch.Tensor, ...]) -> tuple | None:
    """What a cache entry is keyed on: each parameter's identity, version counter and
    ``requires_grad``; None for inference tensors, which have no version counter."""
    try:
        return tuple([(id(t), t._version, t.requires_grad) for t in params])
    except RuntimeError:
        return None


def _no_caching() -> bool:
    """Whether a cache must be bypassed: inside a compiled region, a torch.func transform or
    inference mode (see :meth:`Distribution._cached`)."""
    return (
        torch.compiler.is_compiling()
        or torch._C._are_functorch_transforms_active()
        or torch.is_inference_mode_enabled()
    )


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(Distribution, name)


#: What ``_after_failure`` returns to have the public method re-raise the original error.
_RERAISE = object()
_set_grad_enabled = torch._C._set_grad_enabled
_HALF = (torch.float16, torch.bfloat16)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _half_safe_property(name: str, prop: property) -> property:
    """``prop`` computed in float32 for half-precision instances of a family that sets
    ``_half_in_float32``, with the failure handling of the public methods."""
    fget = prop.fget

    def get(self: Distribution) -> Any:
        if self._run_in_float32:
            return self._in_float32(name, None, None)
        try:
            return fget(self)
        except Exception as exc:
            out = self._after_failure(name, exc, None, None)
            if out is _RERAISE:
                raise
            return out

    get._half_safe = True  # type: ignore[attr-defined]
    get.__doc__ = fget.__doc__
    get.__name__ = name
    return property(get, doc=prop.__doc__)


#: The default suggestion when ``rsample`` is missing (families may name alternatives).
SCORE_FUNCTION_HINT = "use .sample() with a score-function (REINFORCE) estimator"

#: The optional methods whose presence decides what an instance can do (see ``_implemented``).
_OPTIONAL_METHODS = (
    "_sample",
    "_rsample",
    "_cdf",
    "_log_cdf",
    "_survival_function",
    "_log_survival_function",
    "_icdf",
    "_entropy",
    "_enumerate_support",
    "sample",
    "rsample",
    "log_prob",
)


def _batch_dims(value: torch.Tensor, constraint: Any, default: int) -> int:
    """How many leading dims of a parameter stored with fewer batch dims than
    ``batch_shape`` (Pyro's OrderedLogistic cutpoints) are batch dims: all but its
    constraint's event dims; ``default`` where no constraint says."""
    try:
        return value.dim() - constraint.event_dim
    except (AttributeError, NotImplementedError):
        return default


def _devices_clash(param: torch.Tensor, value: torch.Tensor) -> bool:
    """Whether ``value`` cannot be checked against parameters on another device: torch's ops
    let a 0-dim CPU tensor mix with any device, but no value on the meta device can be
    checked."""
    if value.device == param.device:
        return False
    if value.device.type == "meta":
        return True
    return all(t.dim() or t.device.type != "cpu" for t in (param, value))


def _all_true(ok: torch.Tensor | bool) -> bool:
    """Whether a boolean tensor (or a bool) is True everywhere: read back in Python when
    small on CPU (cheaper than ``all()`` and ``bool()``)."""
    if not isinstance(ok, torch.Tensor):
        return bool(ok)
    flat = constraints._entries(ok)
    return all(flat) if flat is not None else bool(ok.all())


_LAZY: dict[tuple[type, str], bool] = {}


def _is_lazy(cls: type, name: str) -> bool:
    """Whether ``cls.name`` is a ``lazy_property`` (a derived parametrization), looked up once
    per class and name (reading it on the class builds a new property object each time)."""
    key = (cls, name)
    found = _LAZY.get(key)
    if found is None:
        if len(_LAZY) > 4096:  # classes made on the fly: keep the table bounded
            _LAZY.clear()
        found = _LAZY[key] = isinstance(getattr(cls, name, None), lazy_property)
    return found


#: The default of ``validate_args`` inside a ``with validation(...)`` block (None outside):
#: a context variable, so that the scope is per thread and per asyncio task.
_SCOPED_VALIDATION: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "aleatorch_validation", default=None
)


class _DefaultValidation:
    """``Distribution._validate_args`` where no instance or subclass sets it: the
    process-wide default (``set_default_validate_args``, as torch's class attribute), unless
    a ``with validation(...)`` block of this thread or task says otherwise. A non-data
    descriptor, so an instance's own ``_validate_args`` (``validate_args=`` given) wins, and
    ``Distribution._validate_args`` still reads as a bool."""

    __slots__ = ("default",)

    def __init__(self, default: bool) -> None:
        self.default = default

    def __get__(self, obj: object, owner: type | None = None) -> bool:
        scoped = _SCOPED_VALIDATION.get()
        return self.default if scoped is None else scoped


class Distribution:
    """Base class of all probability distributions.

    Args:
        batch_shape: shape over which parameters are batched.
        event_shape: shape of a single sample (without batching).
        validate_args: whether to validate parameters and values; ``None`` uses the default
            (on unless Python runs with ``-O``; see :func:`set_default_validate_args` and
            :func:`validation`).
    """

    has_rsample: bool = False
    has_enumerate_support: bool = False
    _validate_args: bool = _DefaultValidation(__debug__)  # type: ignore[assignment]
    arg_constraints: dict[str, constraints.Constraint] = {}
    #: cached terms (lazy properties) that do not depend on ``batch_shape`` (MultivariateNormal's
    #: unbroadcast Cholesky factor): ``expand`` hands them to the new instance.
    _cache_kept_by_expand: tuple[str, ...] = ()
    #: parameters smaller than this are not cached: on them recomputing a term (a few
    #: elementwise ops) costs about as much as checking a cache key (~2 us).
    _cache_min_numel: int = 4096
    #: ``value -> log_prob`` for a value that validation has just found in the support (or
    #: None where it cannot help, e.g. another dtype), for a family whose ``_log_prob`` must
    #: otherwise test every entry (Uniform); only the public ``log_prob`` calls it, after
    #: a successful check. None: no such form.
    _log_prob_in_support: Callable[[torch.Tensor], torch.Tensor | None] | None = None
    #: what to suggest when ``rsample`` is called and ``has_rsample`` is False.
    _rsample_hint = SCORE_FUNCTION_HINT

    #: The optional methods (of ``_OPTIONAL_METHODS``) this instance implements. A class
    #: attribute computed once per class from its overrides; wrappers whose capabilities
    #: depend on their parts (``Independent``) make it a property, decided per instance.
    _implemented: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(getattr(cls, "_implemented", None), property):
            cls._implemented = frozenset(n for n in _OPTIONAL_METHODS if _overrides(cls, n))
        # A flag inherited as a property (a wrapper's, decided per instance) stays one.
        if "has_rsample" not in cls.__dict__ and not isinstance(
            getattr(cls, "has_rsample", None), property
        ):
            cls.has_rsample = _overrides(cls, "_rsample") or _overrides(cls, "rsample")
        if cls.__dict__.get("_half_in_float32"):
            for name in ("mean", "mode", "variance", "median"):
                prop = getattr(cls, name, None)
                if isinstance(prop, property) and not getattr(prop.fget, "_half_safe", False):
                    setattr(cls, name, _half_safe_property(name, prop))
        if "has_enumerate_support" not in cls.__dict__ and not isinstance(
            getattr(cls, "has_enumerate_support", None), property
        ):
            cls.has_enumerate_support = cls.has_enumerate_support or _overrides(
                cls, "_enumerate_support"
            )

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Set whether validation is on by default for all distributions."""
        if value not in (True, False):
            raise ValueError("set_default_validate_args expects True or False")
        Distribution._validate_args = _DefaultValidation(bool(value))

    def __init__(
        self,
        batch_shape: _Shape = torch.Size(),
        event_shape: _Shape = torch.Size(),
        validate_args: bool | None = None,
    ) -> None:
        # (the type tests skip a copy of the torch.Size that the families pass)
        self._batch_shape = (
            batch_shape if type(batch_shape) is torch.Size else torch.Size(batch_shape)
        )
        self._event_shape = (
            event_shape if type(event_shape) is torch.Size else torch.Size(event_shape)
        )
        if validate_args is None:
            validate_args = self._validate_args
        else:
            self._validate_args = validate_args
        if self._half_in_float32 and self._dtype() in _HALF:
            self._run_in_float32 = True
        if validate_args:
            if type(self).arg_constraints is Distribution.arg_constraints:
                # As torch: validation is on but the subclass never said what to check.
                warnings.warn(
                    f"{self._name} does not define `arg_constraints`: set "
                    "`arg_constraints = {}` if it has no parameters to check, or build it with "
                    "`validate_args=False` to turn validation off",
                    UserWarning,
                    stacklevel=2,
                )
            self._validate_parameters()
        # Cooperative, as torch: a subclass that also derives from nn.Module (or another
        # mixin) gets its __init__ run.
        super().__init__()

    # ------------------------------------------------------------------ shapes

    @property
    def batch_shape(self) -> torch.Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> torch.Size:
        """The shape of a single sample."""
        return self._event_shape

    def _extended_shape(self, sample_shape: _Shape = torch.Size()) -> torch.Size:
        if not isinstance(sample_shape, torch.Size):
            sample_shape = torch.Size(sample_shape)
        return sample_shape + self._batch_shape + self._event_shape

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _where(self, method: str) -> str:
        return (
            f"{self._name}(batch_shape={_shape_str(self._batch_shape)}, "
            f"event_shape={_shape_str(self._event_shape)}).{method}"
        )

    # -------------------------------------------------------------- validation

    def _parameters_to_check(self) -> Iterator[tuple[str, constraints.Constraint]]:
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if name not in self.__dict__ and isinstance(
                getattr(type(self), name, None), lazy_property
            ):
                continue  # the other parametrization was given
            yield name, constraint

    def _validate_parameters(self) -> None:
        state = self.__dict__
        cls = type(self)
        for name, constraint in self.arg_constraints.items():
            # (_parameters_to_check inlined: this runs at every construction)
            if isinstance(constraint, constraints._Dependent):
                continue
            if name not in state and _is_lazy(cls, name):
                continue  # the other parametrization was given
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or constraint.all_ok(value):
                continue
            ok = constraint.check(value)
            if not bool(ok.all()):
                raise ParameterError(
                    describe_violation(
                        self._name,
                        "parameter",
                        name,
                        constraint.description,
                        value,
                        ok,
                        event_dim=constraint.event_dim,
                    )
                )
        for name, rule, ok, others in self._parameter_relations():
            if not _all_true(ok):
                raise ParameterError(self._describe_relation(name, rule, ok, others))

    def _parameter_relations(
        self,
    ) -> Iterable[tuple[str, str, torch.Tensor, dict[str, torch.Tensor]]]:
        """Checks between parameters, which ``arg_constraints`` cannot express.

        Yields ``(parameter, rule in words, ok, others)``: ``ok`` is a boolean tensor, True
        where ``parameter`` satisfies the rule, and ``others`` names the tensors the rule
        involves, shown at the offending entries (``Uniform``: ``"high"``, ``"greater than
        'low'"``, ``low < high``, ``{"low": low}``). Evaluated only when validating, after
        each parameter passed its own constraint. ``ok`` may also be ``True``, for a rule a
        cheaper test has already passed (``positive.all_ok(t) or t > 0``: the elementwise
        comparison is then only computed to explain a failure).
        """
        return ()

    def _describe_relation(
        self, name: str, rule: str, ok: torch.Tensor, others: dict[str, torch.Tensor]
    ) -> str:
        value = getattr(self, name)
        message = describe_violation(self._name, "parameter", name, rule, value, ok)
        bad = [tuple(i) for i in (~ok).nonzero().tolist()[:3]]
        shown = []
        for other, tensor in others.items():
            tensor = tensor.expand(ok.shape)
            for i in bad:
                where = _format_index(i) if i else ""
                shown.append(f"{other}{where} = {_format_number(tensor[i].item())}")
        return f"{message}\n  where {', '.join(shown)}" if shown else message

    def _validate_sample(self, value: torch.Tensor, method: str = "log_prob") -> None:
        """Check that ``value`` fits the shapes and lies in the support."""
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{self._where(method)}: the value must be a torch.Tensor")
        param = self._first_param()
        if (
            param is not None
            and not (value.is_cpu and param.is_cpu)
            and _devices_clash(param, value)
        ):
            device = param.device
            raise DeviceError(
                f"{self._where(method)}: the value is on {value.device}, but the parameters "
                f"are on {device}: move one of them (value.to('{device}'))"
            )
        # (the common cases inline: an exact shape, an independent support; this runs at
        # every validated call)
        event = self._event_shape
        if value.shape != (self._batch_shape + event if event else self._batch_shape):
            self._check_value_shape(value, method)
        support = self.support
        if support is None or isinstance(support, _Dependent) or support.all_ok(value):
            return
        ok = support.check(value)
        if not bool(ok.all()):
            raise SupportError(
                describe_violation(
                    f"{self._where(method)}",
                    "value",
                    "value",
                    f"in the support, {support.description}",
                    value,
                    ok,
                    event_dim=support.event_dim,
                )
            )

    def _check_value_shape(self, value: torch.Tensor, method: str) -> None:
        shape = value.shape
        event = self._event_shape
        if shape == (self._batch_shape + event if event else self._batch_shape):
            return
        if torch.jit.is_tracing():  # shapes are traced values there (Pyro jit-traces models)
            return
        event_ndim = len(self._event_shape)
        event_start = len(shape) - event_ndim
        rule = (
            f"The value's rightmost dims must equal event_shape {_shape_str(self._event_shape)} "
            "and the rest must broadcast with batch_shape."
        )
        if event_start < 0 or shape[event_start:] != self._event_shape:
            raise ShapeError(
                f"{self._where(method)}: value of shape {_shape_str(shape)} does not end with "
                f"event_shape {_shape_str(self._event_shape)}. {rule}"
            )
        batch = shape[:event_start]
        for actual, expected in zip(reversed(batch), reversed(self._batch_shape)):
            if actual != 1 and expected != 1 and actual != expected:
                raise ShapeError(
                    f"{self._where(method)}: value of shape {_shape_str(shape)} does not "
                    f"broadcast with batch_shape {_shape_str(self._batch_shape)}. {rule}"
                )

    #: Whether values may stay integer tensors (Categorical's indices); otherwise integer and
    #: bool values become the parameters' floating dtype, as torch's type promotion does.
    _integer_values = False

    def _as_value(self, value: Any, method: str = "log_prob") -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            kind = value.dtype
            if kind is torch.float32 or kind is torch.float64:
                return value  # torch's ops promote float32 and float64 as needed
            if value.is_floating_point():
                dtype = self._dtype()
                if torch.promote_types(kind, dtype) != dtype:
                    return value  # half-precision parameters too
            elif self._integer_values and kind is not torch.bool:
                return value
            return value.to(self._dtype())  # bool, integer, or a narrower float
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(
                f"{self._where(method)}: the value must be a tensor or a number, got "
                f"{type(value).__name__} {value!r}"
            )
        try:
            return torch.as_tensor(value, dtype=self._dtype(), device=self._device())
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                f"{self._where(method)}: the value must be a tensor or a number (or a nested "
                f"list of numbers), got {type(value).__name__}: {exc}"
            ) from exc

    def _first_param(self) -> torch.Tensor | None:
        for name in self.arg_constraints:
            v = self.__dict__.get(name)
            if isinstance(v, torch.Tensor):
                return v
        return None

    def _dtype(self) -> torch.dtype:
        p = self._first_param()
        return p.dtype if p is not None and p.is_floating_point() else torch.get_default_dtype()

    def _device(self) -> torch.device | None:
        p = self._first_param()
        return p.device if p is not None else None

    # ---------------------------------------------------------------- sampling

    def sample(
        self, sample_shape: _Shape = torch.Size(), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw a sample of shape ``sample_shape + batch_shape + event_shape`` (no gradient)."""
        shape = self._sample_shape(sample_shape, "sample")
        if self._run_in_float32:
            return self._in_float32("sample", None, (shape, generator))
        if torch.compiler.is_compiling():
            return self._sample_no_grad(shape, generator)
        # no_grad by hand: its context manager costs ~1.2 us, a tenth of a small sample
        grad_was_enabled = torch.is_grad_enabled()
        _set_grad_enabled(False)
        try:
            return self._sample(shape, generator)
        except Exception as exc:
            _set_grad_enabled(grad_was_enabled)
            out = self._after_failure("sample", exc, None, (shape, generator))
            if out is _RERAISE:
                raise
            return out
        finally:
            _set_grad_enabled(grad_was_enabled)

    def _sample_no_grad(self, shape: torch.Size, generator) -> torch.Tensor:
        """``sample`` as traced under torch.compile (the ``no_grad`` context dynamo knows)."""
        try:
            with torch.no_grad():
                return self._sample(shape, generator)
        except Exception as exc:
            out = self._after_failure("sample", exc, None, (shape, generator))
            if out is _RERAISE:
                raise
            return out

    def rsample(
        self, sample_shape: _Shape = torch.Size(), *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw a reparameterized sample: gradients flow back to the parameters."""
        if not self.has_rsample:
            raise NoRsampleError(
                f"{self._name} has no reparameterized sampler (has_rsample is False): "
                f"{self._rsample_hint}."
            )
        shape = self._sample_shape(sample_shape, "rsample")
        if self._run_in_float32:
            return self._in_float32("rsample", None, (shape, generator))
        try:
            return self._rsample(shape, generator)
        except Exception as exc:
            out = self._after_failure("rsample", exc, None, (shape, generator))
            if out is _RERAISE:
                raise
            return out

    # ------------------------------------------------- when a computation fails

    def _after_failure(
        self, method: str, exc: Exception, value: torch.Tensor | None, sampling: Any
    ) -> Any:
        """What a public method does when its computation raised ``exc``: raise a clearer
        error, return a result computed another way, or ``_RERAISE`` (re-raise ``exc``).

        Runs only on the failure path, so the success path costs nothing. In order:

        1. With validation off, torch's kernels are the first to meet invalid input and fail
           with messages that name no distribution (``torch.multinomial``: "probability tensor
           contains either inf, nan or element < 0"). The checks validation would have made
           are run now, and a parameter (or value) that breaks its constraint is reported as
           validation would have reported it, chained to torch's error.
        2. In float16/bfloat16, a torch kernel without a half-precision version, or a step
           that overflows the half range, is retried on a float32 copy of the distribution;
           the result comes back in the input dtype.
        3. A parameter with an infinite entry that its constraint allows (``real``: a
           ``cov_factor`` of inf) but the computation cannot handle is named.
        """
        if isinstance(exc, AleatorchError) or torch.jit.is_tracing():
            return _RERAISE
        if not self._validate_args:
            try:
                self._validate_parameters()
                if value is not None and method == "icdf":
                    self._validate_probability(value)
                elif value is not None:
                    self._validate_sample(value, method)
            except (ParameterError, SupportError) as found:
                raise type(found)(
                    f"{found}\n  (validate_args is off, so this was found only after torch "
                    f"failed in {method}: {_first_line(exc)})"
                ) from exc
            except Exception:  # a check that cannot run on these inputs: keep torch's error
                return _RERAISE
        dtype = self._dtype()
        if dtype in _HALF and not getattr(self, "_in_float32_twin", False):
            if isinstance(exc, (RuntimeError, TypeError)):  # NotImplementedError included
                return self._in_float32(method, value, sampling)
        if isinstance(exc, NotImplementedError):
            self._raise_if_no_kernel(method, exc)
        if isinstance(exc, (RuntimeError, ValueError, IndexError)):
            for name, param in self._float_parameters():
                infinite = param.isinf()
                if bool(infinite.any()):
                    raise ParameterError(
                        f"{self._name}: parameter '{name}' has {int(infinite.sum())} infinite "
                        f"entries (of {param.numel()}), which {method} cannot handle: torch "
                        f"failed with {_first_line(exc)}"
                    ) from exc
            for name, param in self._float_parameters():
                limit = torch.finfo(param.dtype).max ** 0.5
                huge = param.abs() > limit
                if bool(huge.any()):  # squares overflow: a factorization fails
                    raise ParameterError(
                        f"{self._name}: parameter '{name}' has {int(huge.sum())} entries (of "
                        f"{param.numel()}) above {limit:.3g} in magnitude, whose squares "
                        f"overflow {str(param.dtype).removeprefix('torch.')} in {method} "
                        f"(torch failed with {_first_line(exc)}); rescale the problem"
                    ) from exc
        return _RERAISE

    def _float_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self.arg_constraints:
            param = self.__dict__.get(name)
            if isinstance(param, torch.Tensor) and param.is_floating_point():
                yield name, param

    #: Whether float16/bfloat16 parameters are computed with in float32 (the result comes
    #: back in the input dtype): set by families whose math overflows the half range
    #: (65504 in float16) or underflows it. Any family gets the same retry when a torch
    #: kernel has no half version (see ``_after_failure``).
    _half_in_float32: bool = False
    #: Set per instance by ``__init__``: whether this instance computes in float32.
    _run_in_float32: bool = False

    def _float32_twin(self) -> Distribution:
        """A copy of this distribution with its half-precision tensors (nested
        distributions' too) in float32; derived terms are recomputed."""
        twin = type(self).__new__(type(self))
        drop = {"_cache"}
        if getattr(type(self), "_is_family", False):  # a transformed family's lazy parts
            drop.update(getattr(type(self), "_LAZY", ()), ("_capabilities",))
        for key, item in self.__dict__.items():
            if key in drop:
                continue
            if isinstance(item, torch.Tensor) and item.dtype in _HALF:
                item = item.float()
            elif isinstance(item, Distribution) and item._dtype() in _HALF:
                item = item._float32_twin()
            twin.__dict__[key] = item
        twin.__dict__["_in_float32_twin"] = True
        twin.__dict__["_run_in_float32"] = False
        return twin

    def _in_float32(self, method: str, value: torch.Tensor | None, sampling: Any) -> Any:
        """``method`` computed on the float32 twin, its floating result in the dtype the
        half-precision computation would have given."""
        dtype = self._dtype()
        twin = self._float32_twin()
        if sampling is not None:
            shape, generator = sampling
            out = getattr(twin, method)(shape, generator=generator)
        elif value is not None:
            if value.is_floating_point():
                dtype = torch.promote_types(dtype, value.dtype)
            out = getattr(twin, method)(value.float() if value.dtype in _HALF else value)
        elif method == "entropy":
            out = twin.entropy()
        else:  # a property
            out = getattr(twin, method)
        if isinstance(out, torch.Tensor) and out.is_floating_point() and out.dtype != dtype:
            out = out.to(dtype)
        return out

    def _raise_if_no_kernel(self, method: str, exc: NotImplementedError) -> None:
        """Raise a clear TypeError if ``exc`` is torch saying it has no kernel for a dtype
        (``"erfinv_vml_cpu" not implemented for 'Half'``); return otherwise."""
        if isinstance(exc, AleatorchError) or "not implemented for" not in str(exc):
            return
        dtype = str(self._dtype()).removeprefix("torch.")
        raise TypeError(
            f"{self._where(method)}: torch has no {dtype} kernel for an operation this needs "
            f"({exc}); use float32 parameters (.float())"
        ) from exc

    def _sample_shape(
        self, sample_shape: Any, method: str, what: str = "sample_shape"
    ) -> torch.Size:
        """``sample_shape`` (or expand's ``batch_shape``: ``what``) as a ``torch.Size``, or a
        clear error for an int or a negative size."""
        try:
            shape = torch.Size(sample_shape)
        except TypeError:
            hint = (
                f"; for {sample_shape} draws write {method}(({sample_shape},))"
                if what == "sample_shape"
                else f"; write {method}(({sample_shape},))"
            )
            raise TypeError(
                f"{self._where(method)}: {what} must be a tuple of sizes (a torch.Size), "
                f"got {type(sample_shape).__name__} {sample_shape!r}"
                + (hint if isinstance(sample_shape, int) else "")
            ) from None
        if shape and min(shape) < 0:
            raise ShapeError(f"{self._where(method)}: {what} {tuple(shape)} has a negative size")
        return shape

    def sample_n(self, n: int) -> torch.Tensor:
        """Deprecated torch alias of ``sample((n,))``."""
        return self.sample(torch.Size((n,)))

    def _sample(self, sample_shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_rsample"):
            return self._rsample(sample_shape, generator)
        if has("rsample"):
            return self.rsample(sample_shape)
        raise self._missing("sample")

    def _rsample(self, sample_shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        raise self._missing("rsample")

    # ---------------------------------------------------------------- densities

    def log_prob(self, value: Any) -> torch.Tensor:
        """Log of the density (or mass) at ``value``."""
        value = self._as_value(value, "log_prob")
        if self._validate_args:
            self._validate_sample(value, "log_prob")
            if self._log_prob_in_support is not None:
                out = self._log_prob_in_support(value)
                if out is not None:
                    return out
        else:  # a shape check costs nothing and turns torch's broadcasting error into ours
            self._check_value_shape(value, "log_prob")
        if self._run_in_float32:
            return self._in_float32("log_prob", value, None)
        try:
            return self._log_prob(value)
        except Exception as exc:
            out = self._after_failure("log_prob", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _log_prob(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("log_prob")

    def prob(self, value: Any) -> torch.Tensor:
        """Density (or mass) at ``value``: ``exp(log_prob(value))``."""
        return self.log_prob(value).exp()

    def _checked(self, value: Any, method: str) -> torch.Tensor:
        value = self._as_value(value, method)
        if self._validate_args:
            self._validate_sample(value, method)
        else:
            self._check_value_shape(value, method)
        return value

    def cdf(self, value: Any) -> torch.Tensor:
        """Cumulative distribution function ``P(X <= value)``."""
        value = self._checked(value, "cdf")
        if self._run_in_float32:
            return self._in_float32("cdf", value, None)
        try:
            return self._cdf_dispatch(value)
        except Exception as exc:
            out = self._after_failure("cdf", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _cdf_dispatch(self, value: torch.Tensor) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_cdf"):
            return self._cdf(value)
        if has("_log_cdf"):
            return self._log_cdf(value).exp()
        raise self._missing("cdf")

    def log_cdf(self, value: Any) -> torch.Tensor:
        """``log P(X <= value)``, accurate where the cdf is tiny."""
        value = self._checked(value, "log_cdf")
        if self._run_in_float32:
            return self._in_float32("log_cdf", value, None)
        try:
            return self._log_cdf_dispatch(value)
        except Exception as exc:
            out = self._after_failure("log_cdf", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _log_cdf_dispatch(self, value: torch.Tensor) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_log_cdf"):
            return self._log_cdf(value)
        if has("_cdf"):
            return self._cdf(value).log()
        raise self._missing("log_cdf")

    def survival_function(self, value: Any) -> torch.Tensor:
        """``P(X > value) = 1 - cdf(value)``."""
        value = self._checked(value, "survival_function")
        if self._run_in_float32:
            return self._in_float32("survival_function", value, None)
        try:
            return self._survival_function_dispatch(value)
        except Exception as exc:
            out = self._after_failure("survival_function", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _survival_function_dispatch(self, value: torch.Tensor) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_survival_function"):
            return self._survival_function(value)
        if has("_log_survival_function"):
            return self._log_survival_function(value).exp()
        if has("_cdf"):
            return 1 - self._cdf(value)
        if has("_log_cdf"):
            return -expm1(self._log_cdf(value))
        raise self._missing("survival_function")

    def log_survival_function(self, value: Any) -> torch.Tensor:
        """``log P(X > value)``, accurate where the survival function is tiny."""
        value = self._checked(value, "log_survival_function")
        if self._run_in_float32:
            return self._in_float32("log_survival_function", value, None)
        try:
            return self._log_survival_function_dispatch(value)
        except Exception as exc:
            out = self._after_failure("log_survival_function", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _log_survival_function_dispatch(self, value: torch.Tensor) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_log_survival_function"):
            return self._log_survival_function(value)
        if has("_survival_function"):
            return self._survival_function(value).log()
        if has("_log_cdf"):
            from .special import log1mexp

            return log1mexp(self._log_cdf(value))
        if has("_cdf"):
            return torch.log1p(-self._cdf(value))
        raise self._missing("log_survival_function")

    def icdf(self, value: Any) -> torch.Tensor:
        """Inverse cdf (quantile function): the smallest ``x`` with ``cdf(x) >= value``."""
        value = self._as_value(value, "icdf")
        self._check_value_shape(value, "icdf")
        if self._validate_args:
            self._validate_probability(value)
        if self._run_in_float32:
            return self._in_float32("icdf", value, None)
        try:
            return self._icdf_dispatch(value)
        except Exception as exc:
            out = self._after_failure("icdf", exc, value, None)
            if out is _RERAISE:
                raise
            return out

    def _validate_probability(self, value: torch.Tensor) -> None:
        """Check that ``value`` (icdf's argument) lies in [0, 1]."""
        if constraints.unit_interval.all_ok(value):
            return
        ok = constraints.unit_interval.check(value)
        raise SupportError(
            describe_violation(
                self._where("icdf"), "value", "value", "a probability in [0, 1]", value, ok, 0
            )
        )

    def _icdf_dispatch(self, value: torch.Tensor) -> torch.Tensor:
        has = self._implemented.__contains__
        if has("_icdf"):
            return self._icdf(value)
        if has("_cdf") or has("_log_cdf"):
            from ._generic_icdf import invert_cdf

            return invert_cdf(self, value)
        raise self._missing("icdf")

    # Defaults of the optional private methods: the public methods test whether a subclass
    # overrides them and otherwise use a fallback (or raise a clear NotImplementedError).
    def _cdf(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("cdf")

    def _log_cdf(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("log_cdf")

    def _survival_function(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("survival_function")

    def _log_survival_function(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("log_survival_function")

    def _icdf(self, value: torch.Tensor) -> torch.Tensor:
        raise self._missing("icdf")

    # ------------------------------------------------------------- summaries

    def entropy(self) -> torch.Tensor:
        """Differential (or Shannon) entropy, in nats, of shape ``batch_shape``."""
        if self._run_in_float32:
            return self._in_float32("entropy", None, None)
        try:
            return self._entropy()
        except Exception as exc:
            out = self._after_failure("entropy", exc, None, None)
            if out is _RERAISE:
                raise
            return out

    def _entropy(self) -> torch.Tensor:
        raise self._missing("entropy")

    def perplexity(self) -> torch.Tensor:
        """``exp(entropy())``."""
        return torch.exp(self.entropy())

    @property
    def mean(self) -> torch.Tensor:
        """The mean."""
        raise self._missing("mean")

    @property
    def mode(self) -> torch.Tensor:
        """The mode (a most likely value)."""
        raise self._missing("mode")

    @property
    def variance(self) -> torch.Tensor:
        """The variance."""
        raise self._missing("variance")

    @property
    def stddev(self) -> torch.Tensor:
        """The standard deviation, ``sqrt(variance)``."""
        return self.variance.sqrt()

    @property
    def median(self) -> torch.Tensor:
        """The median, ``icdf(0.5)`` unless the family has a closed form."""
        if self._event_shape:
            raise self._missing("median")
        half = torch.full(self._batch_shape, 0.5, dtype=self._dtype(), device=self._device())
        return self.icdf(half)

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All values of a discrete, finite support, stacked along a new leading dim.

        The result has shape ``(n,) + batch_shape + event_shape`` (or ``(n,) + (1,) * len(
        batch_shape) + event_shape`` when ``expand`` is False).
        """
        values = self._enumerate_support()
        if expand:
            values = values.expand((values.shape[0],) + self._batch_shape + self._event_shape)
        return values

    def _enumerate_support(self) -> torch.Tensor:
        raise self._missing("enumerate_support")

    # --------------------------------------------------------------- expand

    def expand(self, batch_shape: _Shape, _instance: Distribution | None = None) -> Distribution:
        """A new distribution whose parameters are expanded (as views) to ``batch_shape``."""
        batch_shape = self._sample_shape(batch_shape, "expand", "batch_shape")
        new = _instance if _instance is not None else type(self).__new__(type(self))
        extra = len(batch_shape) - len(self._batch_shape)
        if extra < 0:
            raise ShapeError(
                f"{self._where('expand')}: cannot expand to batch_shape "
                f"{_shape_str(batch_shape)} with fewer dims than batch_shape"
            )
        given = self.__dict__.get("_given")  # probs or logits, whichever was given
        for key, value in self.__dict__.items():
            if isinstance(value, torch.Tensor) and (key in self.arg_constraints or key == given):
                split = len(self._batch_shape)
                if value.shape[:split] != self._batch_shape:  # stored with fewer batch dims
                    split = _batch_dims(value, self.arg_constraints.get(key), default=split)
                param_event = value.shape[split:]
                try:
                    value = value.expand(batch_shape + param_event)
                except RuntimeError as exc:
                    raise ShapeError(
                        f"{self._where('expand')}: cannot expand batch_shape "
                        f"{_shape_str(self._batch_shape)} to {_shape_str(batch_shape)}: each "
                        "dim must be equal or 1 in the original"
                    ) from exc
            elif key == "_cache" or isinstance(getattr(type(self), key, None), lazy_property):
                continue  # cached derived values: recomputed from the expanded parameters
            new.__dict__[key] = value
        new._batch_shape = batch_shape
        for name in self._cache_kept_by_expand:
            if name in self.__dict__.get("_cache", ()):
                value = getattr(self, name)
                new._cached(name, lambda value=value: value)
        return new

    def _get_checked_instance(self, cls: type, _instance: Distribution | None = None) -> Any:
        """torch-compatible helper for hand-written ``expand`` methods of subclasses."""
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {self._name} of {cls.__name__} that defines a custom __init__ "
                "method must also define a custom .expand() method."
            )
        return self.__new__(type(self)) if _instance is None else _instance

    # -------------------------------------------------------------- helpers

    def _cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused while the parameters are unchanged, never stale.

        For parameter-only terms reused by every call (``log Gamma(a)``, ``log B(a, b)``,
        ``1 - p``, logits derived from probs). The rule (see ``docs/design.md``): a cached
        value gives the same numbers and gradients as recomputing. So nothing is reused

        * when a parameter requires grad: a cached graph would be missing under ``no_grad``
          and fail on a second ``backward``; the term is recomputed at every call;
        * after an in-place update of a parameter: entries are keyed on each parameter's
          identity and version counter (``_version``);
        * under ``torch.compile``, ``torch.func`` transforms and ``inference_mode``, where
          the trace, wrapped tensors or inference tensors must not outlive the call;
        * for parameters of fewer than ``_cache_min_numel`` entries, where recomputing costs
          no more than checking the key.
        """
        first = self._first_param()
        if first is None or first.numel() < self._cache_min_numel or _no_caching():
            return compute()
        params = self._cache_sources()
        key = _cache_key(params)
        if key is None:
            return compute()
        cache = self.__dict__.setdefault("_cache", {})
        entry = cache.get(name)
        if entry is not None and entry[0] == key:
            return entry[1]
        if any(t.requires_grad for t in params):
            return compute()
        # A term may read more than the parameters (a subclass's own attributes): computing
        # with grad on tells whether it carries a graph, and then it is not kept.
        with torch.enable_grad():
            value = compute()
        leaves = value if isinstance(value, tuple) else (value,)
        if not any(getattr(v, "requires_grad", False) for v in leaves):
            # The parameters are kept with the entry, so their ids cannot be reused.
            cache[name] = (key, value, params)
        return value

    def _cached_if_formed(self, name: str) -> Any:
        """What ``_cached(name, ...)`` holds for the parameters as they are now, or None
        where it holds nothing valid (or would not keep it): a look that computes nothing, so
        that a caller may form the term in cache-sized pieces for a single use instead."""
        cache = self.__dict__.get("_cache")
        entry = cache.get(name) if cache else None
        if entry is None or _no_caching():
            return None
        key = _cache_key(self._cache_sources())
        return entry[1] if key is not None and entry[0] == key else None

    def _cache_sources(self) -> tuple[torch.Tensor, ...]:
        """The tensors cached terms derive from: the parameters given at construction."""
        state = self.__dict__
        return tuple(
            [v for k in self.arg_constraints if isinstance(v := state.get(k), torch.Tensor)]
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)  # recomputed on demand; not worth pickling
        return state

    @property
    def support(self) -> constraints.Constraint | None:  # type: ignore[override]
        """The set of values this distribution puts its mass on."""
        return None

    def _missing(self, method: str) -> MethodNotImplementedError:
        hint = {
            "rsample": self._rsample_hint,
            "icdf": "implement _cdf to get the generic icdf",
            "median": "the median of a multivariate distribution is not defined here",
        }.get(method)
        suffix = f" ({hint})" if hint else ""
        return MethodNotImplementedError(f"{self._name} does not implement {method}{suffix}")

    def __repr__(self) -> str:
        parts = []
        for name in self.arg_constraints:
            if name not in self.__dict__:
                continue
            value = self.__dict__[name]
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                parts.append(
                    f"{name}: Tensor(shape={_shape_str(value.shape)}, dtype={value.dtype})"
                )
            elif isinstance(value, torch.Tensor):
                parts.append(f"{name}: {value.item():.6g}")
            else:
                parts.append(f"{name}: {value!r}")
        parts.append(f"batch_shape={_shape_str(self._batch_shape)}")
        parts.append(f"event_shape={_shape_str(self._event_shape)}")
        return f"{self._name}(" + ", ".join(parts) + ")"


def will_validate(validate_args: bool | None) -> bool:
    """Whether a distribution built now with ``validate_args`` validates (for checks that a
    constructor makes before ``Distribution.__init__``)."""
    return Distribution._validate_args if validate_args is None else validate_args


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Scope the default of ``validate_args`` for the distributions built in the block.

    In the block, every distribution without its own ``validate_args`` (those built before
    the block too) validates or not as ``enabled`` says. The scope is local to the thread
    (and to the asyncio task): other threads keep the process-wide default of
    :meth:`Distribution.set_default_validate_args` meanwhile.

    Example:
        >>> import aleatorch as D
        >>> with D.validation(False):
        ...     d = D.Normal(0.0, -1.0)  # no error: validation is off in this block
    """
    if enabled not in (True, False):
        raise ValueError("validation expects True or False")
    default = Distribution.__dict__["_validate_args"]
    if not isinstance(default, _DefaultValidation):  # assigned a plain bool from outside
        Distribution.set_default_validate_args(bool(default))
    token = _SCOPED_VALIDATION.set(bool(enabled))
    try:
        yield
    finally:
        _SCOPED_VALIDATION.reset(token)
