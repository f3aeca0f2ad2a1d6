"""Constraints: the set a parameter or a value must lie in.

A constraint answers three questions:

* ``check(value)``: a boolean tensor, True where ``value`` is in the set. Its shape is
  ``value.shape[:value.dim() - event_dim]``: an event of ``event_dim`` dims is one entry.
* ``all_ok(value)``: one Python bool for the whole tensor, computed with as few passes as
  possible (usually one reduction). Validation calls this first and only computes the
  elementwise ``check`` to explain a failure.
* ``description``: the rule in plain words, used in error messages.

A univariate interval (``real``, ``positive``, ``integer_interval(a, b)``, ...) also has
``lower_bound``, ``upper_bound`` and ``bounds``, its closed hull; generic algorithms (the
inverse cdf by bisection, truncation) read these instead of testing the constraint's class.

The public names match ``torch.distributions.constraints``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from operator import le, lt
from typing import Any

import torch

from .utils import sum_last

__all__ = [
    "Constraint",
    "MixtureSameFamilyConstraint",
    "boolean",
    "cat",
    "corr_cholesky",
    "dependent",
    "dependent_property",
    "greater_than",
    "greater_than_eq",
    "half_open_interval",
    "independent",
    "integer_interval",
    "interval",
    "is_dependent",
    "less_than",
    "lower_cholesky",
    "lower_triangular",
    "multinomial",
    "nonnegative",
    "nonnegative_integer",
    "one_hot",
    "positive",
    "positive_definite",
    "positive_integer",
    "positive_semidefinite",
    "real",
    "real_vector",
    "simplex",
    "square",
    "stack",
    "symmetric",
    "unit_interval",
]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fmt(bound: Any) -> str:
    if _is_number(bound):
        return f"{bound:g}" if isinstance(bound, float) else str(bound)
    if isinstance(bound, torch.Tensor) and bound.numel() == 1:
        return f"{bound.item():g}"
    return "the distribution's bound"


#: Tensors of at most this many entries are checked in Python: reading a few dozen entries
#: back (``tolist``, ~0.3 us) and a Python ``min``/``sum`` cost less than one torch reduction
#: with its ``.item()`` (~1.5-3 us each).
_PY_NUMEL = 32

_is_compiling = torch.compiler.is_compiling
_is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
_ZERO_ONE = frozenset((0, 1))


def _entries(value: torch.Tensor, limit: int = _PY_NUMEL) -> list | None:
    """The entries of ``value`` as a flat Python list when reading them is free and cheap: at
    most ``limit`` entries of a CPU tensor, in eager mode (no compile, no torch.func
    wrapper; as ``utils._readable``). None otherwise: the caller uses torch reductions."""
    if value.numel() > limit or not value.is_cpu or _is_compiling() or _is_wrapped(value):
        return None
    try:
        flat = value.tolist()
    except RuntimeError:  # a sparse tensor (no strided storage)
        return None
    if type(flat) is not list:  # a 0-dim tensor
        return [flat]
    while flat and type(flat[0]) is list:
        flat = sum(flat, [])  # one level of nesting (quadratic, but a few dozen entries)
    return flat


def _aligned(value: torch.Tensor, bounds: tuple[Any, ...]) -> list | None:
    """``[entries of value, bound, ...]`` broadcast to one shape, as flat lists (a number
    bound becomes an endless ``repeat``), for a small CPU value and tensor bounds; or None
    where ``_entries`` would give None."""
    shape = value.shape
    tensors = [b for b in bounds if isinstance(b, torch.Tensor)]
    if any(b.shape != shape for b in tensors):
        try:
            shape = torch.Size(_broadcast_shapes(shape, *(b.shape for b in tensors)))
        except RuntimeError:
            return None
    out = []
    for t in (value, *bounds):
        if isinstance(t, torch.Tensor):
            if t.shape != shape:
                t = t.expand(shape)
            flat = _entries(t)
            if flat is None:
                return None
            out.append(flat)
        else:
            out.append(repeat(t))
    return out


def _broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """``torch.broadcast_shapes`` in plain Python (the torch function costs ~10 us)."""
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != 1:
                if out[i] != 1 and out[i] != n:
                    raise RuntimeError(f"shapes {shapes} do not broadcast")
                out[i] = n
    return tuple(out)


_TRIANGLES: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}


def _triangle_indices(shape: torch.Size) -> tuple[list[int], list[int]]:
    """Flat indices of the entries above the diagonal, and of the diagonal, of every matrix
    of a tensor of ``shape`` (computed once per shape)."""
    key = tuple(shape)
    found = _TRIANGLES.get(key)
    if found is None:
        rows, cols = key[-2:]
        size = rows * cols
        count = math.prod(key[:-2])
        upper = [
            k * size + i * cols + j
            for k in range(count)
            for i in range(rows)
            for j in range(i + 1, cols)
        ]
        diagonal = [k * size + i * cols + i for k in range(count) for i in range(min(rows, cols))]
        found = (upper, diagonal)
        if len(_TRIANGLES) < 256:
            _TRIANGLES[key] = found
    return found


def _rows(flat: list, n: int) -> list[list]:
    """``flat`` cut into consecutive rows of ``n`` entries (the last dim of the tensor)."""
    return [flat[i : i + n] for i in range(0, len(flat), n)]


class Constraint:
    """Base class: a set of admissible values.

    Attributes:
        is_discrete: whether the set is discrete (integers, one-hot vectors, ...).
        event_dim: how many rightmost dims form one element of the set.
    """

    is_discrete = False
    event_dim = 0
    description = "valid"

    @property
    def bounds(self) -> tuple[Any, Any]:
        """The closed hull ``(lower, upper)`` of a univariate interval.

        Each bound is a number or a tensor (for bounds given as parameters), ``-inf`` or
        ``inf`` where the set is unbounded; for an open or half-open interval it is the
        closure, e.g. ``positive.bounds == (0.0, inf)``.

        Raises:
            NotImplementedError: the set is not a univariate interval (a simplex, matrices,
                ``independent(...)`` with event dims, a dependent constraint, ...).
        """
        raise NotImplementedError(f"{self!r} is not a univariate interval: it has no bounds")

    def check(self, value: torch.Tensor) -> torch.Tensor:
        """Return a boolean tensor: True where ``value`` satisfies the constraint."""
        raise NotImplementedError

    def all_ok(self, value: torch.Tensor) -> bool:
        """Return whether every entry of ``value`` satisfies the constraint."""
        return bool(self.check(value).all())

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Univariate(Constraint):
    """A univariate interval: ``bounds`` is ``(lower_bound, upper_bound)``.

    A subclass sets only the bounds it has, as torch's classes do (``real`` has neither,
    ``positive`` only ``lower_bound``: code such as zuko's tests checks ``hasattr``); a
    missing bound is infinite in ``bounds``.
    """

    def _tensor_bounds_ok(self, value, bounds, entries_ok) -> bool:
        """``all_ok`` against tensor bounds: ``entries_ok(flat value, *flat bounds)`` on the
        broadcast entries of a small CPU value (``_aligned``), else the elementwise check."""
        lists = _aligned(value, bounds)
        if lists is None:
            return bool(self.check(value).all())
        return entries_ok(*lists)

    @property
    def bounds(self) -> tuple[Any, Any]:
        return getattr(self, "lower_bound", -math.inf), getattr(self, "upper_bound", math.inf)


class _Dependent(Constraint):
    """Placeholder for a set that depends on other parameters; it cannot be checked."""

    def __init__(self, *, is_discrete: Any = NotImplemented, event_dim: Any = NotImplemented):
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete: Any = NotImplemented, event_dim: Any = NotImplemented):
        if is_discrete is NotImplemented:
            is_discrete = self._is_discrete
        if event_dim is NotImplemented:
            event_dim = self._event_dim
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value: torch.Tensor) -> torch.Tensor:
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint: Any) -> bool:
    """Whether ``constraint`` is a (non-checkable) dependent constraint."""
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property that, read on the class, acts as a dependent constraint.

    Used for a ``support`` that depends on the parameters::

        @constraints.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return constraints.interval(self.low, self.high)
    """

    def __init__(
        self,
        fn: Any = None,
        *,
        is_discrete: Any = NotImplemented,
        event_dim: Any = NotImplemented,
    ):
        property.__init__(self, fn)
        _Dependent.__init__(self, is_discrete=is_discrete, event_dim=event_dim)

    def __call__(self, fn: Any) -> _DependentProperty:  # type: ignore[override]
        return _DependentProperty(fn, is_discrete=self._is_discrete, event_dim=self._event_dim)


class _IndependentConstraint(Constraint):
    """Reinterpret ``reinterpreted_batch_ndims`` batch dims of a constraint as event dims."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int):
        assert isinstance(base_constraint, Constraint)
        assert isinstance(reinterpreted_batch_ndims, int) and reinterpreted_batch_ndims >= 0
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.base_constraint.description

    def check(self, value: torch.Tensor) -> torch.Tensor:
        result = self.base_constraint.check(value)
        if result.dim() < self.reinterpreted_batch_ndims:
            expected = self.base_constraint.event_dim + self.reinterpreted_batch_ndims
            raise ValueError(f"Expected value.dim() >= {expected} but got {value.dim()}")
        if self.reinterpreted_batch_ndims:
            result = result.reshape(
                result.shape[: result.dim() - self.reinterpreted_batch_ndims] + (-1,)
            )
            result = result.all(-1)
        return result

    def all_ok(self, value: torch.Tensor) -> bool:
        return self.base_constraint.all_ok(value)

    @property
    def bounds(self) -> tuple[Any, Any]:
        # With no reinterpreted dims each entry is still one univariate value.
        if self.reinterpreted_batch_ndims:
            return super().bounds
        return self.base_constraint.bounds

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


class MixtureSameFamilyConstraint(Constraint):
    """The support of a mixture whose components share ``base_constraint``.

    A value is valid when it lies in the component support; the component dim of a
    component-batched constraint (e.g. ``interval`` with per-component bounds) is reduced
    with ``all``, since a mixture value must be admissible for the family.
    """

    def __init__(self, base_constraint: Constraint):
        assert isinstance(base_constraint, Constraint)
        self.base_constraint = base_constraint

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.base_constraint.description

    def all_ok(self, value: torch.Tensor) -> bool:
        if value.dim() < self.event_dim:
            return bool(self.check(value).all())  # raises the check's error
        return self.base_constraint.all_ok(value.unsqueeze(-1 - self.event_dim))

    def check(self, value: torch.Tensor) -> torch.Tensor:
        if value.dim() < self.event_dim:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got {value.dim()}")
        # Insert the component dim just left of the event dims, check, then reduce it away.
        result = self.base_constraint.check(value.unsqueeze(-1 - self.event_dim))
        kept = value.dim() - self.event_dim
        return result.reshape(result.shape[:kept] + (-1,)).all(-1)

    def __repr__(self) -> str:
        return f"MixtureSameFamilyConstraint({self.base_constraint!r})"


class _Boolean(_Univariate):
    is_discrete = True
    description = "0 or 1"
    bounds = (0, 1)  # torch's boolean has no lower_bound/upper_bound attributes

    def check(self, value):
        return (value == 0) | (value == 1)

    def all_ok(self, value):
        flat = _entries(value)
        if flat is not None:
            return _ZERO_ONE.issuperset(flat)  # NaN is neither (bools equal 0 and 1)
        # In [0, 1] (NaN fails the comparisons) and integral: 0 or 1, with one temporary.
        if value.numel() == 0:
            return True
        low, high = torch.aminmax(value)
        if low.item() < 0 or high.item() > 1:  # (False at NaN: the next test fails it)
            return False
        return not value.is_floating_point() or torch.equal(value, value.round())


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1
    description = "a one-hot vector (0s with a single 1 along the last dim)"

    def check(self, value):
        is_boolean = (value == 0) | (value == 1)
        return is_boolean.all(-1) & value.sum(-1).eq(1)

    def all_ok(self, value):
        flat = _entries(value) if value.dim() else None
        if flat:  # 0s and 1s (sums of them are exact), each row summing to 1.
            return _ZERO_ONE.issuperset(flat) and all(
                sum(row) == 1 for row in _rows(flat, value.shape[-1])
            )
        if not _reducible(value) or value.dtype == torch.bool:
            return bool(self.check(value).all())  # (an empty row sums to 0: the check says so)
        # Entries in [0, 1] and integral, so 0 or 1 (NaN fails the bounds), then every row
        # sum exactly 1: three reductions, where the elementwise check builds two masks.
        low, high = torch.aminmax(value)
        if not (low.item() >= 0 and high.item() <= 1 and _all_integral(value)):
            return False
        low, high = torch.aminmax(sum_last(value))
        return low.item() == 1 and high.item() == 1


def _reducible(value: torch.Tensor) -> bool:
    """Whether a non-empty tensor with rows can be checked by reductions read in Python (not
    under compile or a torch.func transform, where ``.item()`` is unavailable)."""
    return bool(value.dim() and value.numel()) and not (_is_compiling() or _is_wrapped(value))


def _no_nan(flat: list) -> bool:
    """Whether a flat list has no NaN: its sum is NaN if it has (or if +inf meets -inf, a
    false alarm that sends the caller to the exact elementwise check)."""
    total = sum(flat)
    return total == total


def _integral(flat: list) -> bool:
    """Whether every entry of a flat list is a finite integer (``float.is_integer`` is False
    at inf and NaN; ints and bools are integers)."""
    if flat and isinstance(flat[0], float):  # a tensor's entries share one Python type
        return all(map(float.is_integer, flat))
    return True


def _all_integral(value: torch.Tensor) -> bool:
    """Whether every entry is a finite integer: frac() is 0 there, NaN at inf and NaN."""
    if not value.is_floating_point():
        return True
    low, high = torch.aminmax(value.frac())
    return low.item() == 0 and high.item() == 0


class _IntegerInterval(_Univariate):
    is_discrete = True

    def __init__(self, lower_bound: Any, upper_bound: Any):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"an integer in [{_fmt(self.lower_bound)}, {_fmt(self.upper_bound)}]"

    def check(self, value):
        return (value % 1 == 0) & (self.lower_bound <= value) & (value <= self.upper_bound)

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not (_is_number(self.lower_bound) and _is_number(self.upper_bound)):
            return self._tensor_bounds_ok(
                value,
                (self.lower_bound, self.upper_bound),
                lambda flat, low, high: (
                    all(map(le, low, flat)) and all(map(le, flat, high)) and _integral(flat)
                ),
            )
        flat = _entries(value)
        if flat is not None:  # NaN fails is_integer
            return (
                self.lower_bound <= min(flat)
                and max(flat) <= self.upper_bound
                and (_integral(flat))
            )
        low, high = torch.aminmax(value)
        return (
            low.item() >= self.lower_bound
            and high.item() <= self.upper_bound
            and _all_integral(value)
        )

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerLessThan(_Univariate):
    is_discrete = True

    def __init__(self, upper_bound: Any):
        self.upper_bound = upper_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"an integer <= {_fmt(self.upper_bound)}"

    def check(self, value):
        return (value % 1 == 0) & (value <= self.upper_bound)

    def __repr__(self):
        return f"IntegerLessThan(upper_bound={self.upper_bound})"


class _IntegerGreaterThan(_Univariate):
    is_discrete = True

    def __init__(self, lower_bound: Any):
        self.lower_bound = lower_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.lower_bound == 0:
            return "a nonnegative integer (0, 1, 2, ...)"
        if self.lower_bound == 1:
            return "a positive integer (1, 2, 3, ...)"
        return f"an integer >= {_fmt(self.lower_bound)}"

    def check(self, value):
        return (value % 1 == 0) & (value >= self.lower_bound)

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not _is_number(self.lower_bound):
            return self._tensor_bounds_ok(
                value,
                (self.lower_bound,),
                lambda flat, low: all(map(le, low, flat)) and _integral(flat),
            )
        flat = _entries(value)
        if flat is not None:  # NaN fails is_integer
            return min(flat) >= self.lower_bound and _integral(flat)
        if not value.is_floating_point():
            return bool(value.min() >= self.lower_bound)
        return value.min().item() >= self.lower_bound and _all_integral(value)

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Real(_Univariate):
    description = "a real number (not NaN)"

    def check(self, value):
        return value == value

    def all_ok(self, value):
        # One reduction: the sum is NaN if any entry is NaN (or if +inf meets -inf, in which
        # case the exact elementwise check decides).
        if not value.is_floating_point():
            return True
        flat = _entries(value)
        total = sum(flat) if flat is not None else value.sum().item()
        if total == total:
            return True
        return bool(self.check(value).all())

    def __repr__(self):
        return "Real()"


class _GreaterThan(_Univariate):
    def __init__(self, lower_bound: Any):
        self.lower_bound = lower_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        if _is_number(self.lower_bound) and self.lower_bound == 0:
            return "positive (> 0)"
        return f"greater than {_fmt(self.lower_bound)}"

    def check(self, value):
        return self.lower_bound < value

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not _is_number(self.lower_bound):
            # (NaN fails the comparison)
            return self._tensor_bounds_ok(
                value, (self.lower_bound,), lambda flat, low: all(map(lt, low, flat))
            )
        flat = _entries(value)
        if flat is not None:  # Python's min skips a NaN after the first entry; sum does not
            return min(flat) > self.lower_bound and _no_nan(flat)
        # min() propagates NaN, and NaN > bound is False: one reduction covers both.
        return value.min().item() > self.lower_bound

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_Univariate):
    def __init__(self, lower_bound: Any):
        self.lower_bound = lower_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        if _is_number(self.lower_bound) and self.lower_bound == 0:
            return "nonnegative (>= 0)"
        return f"greater than or equal to {_fmt(self.lower_bound)}"

    def check(self, value):
        return self.lower_bound <= value

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not _is_number(self.lower_bound):
            return self._tensor_bounds_ok(
                value, (self.lower_bound,), lambda flat, low: all(map(le, low, flat))
            )
        flat = _entries(value)
        if flat is not None:
            return min(flat) >= self.lower_bound and _no_nan(flat)
        return value.min().item() >= self.lower_bound

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(_Univariate):
    def __init__(self, upper_bound: Any):
        self.upper_bound = upper_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"less than {_fmt(self.upper_bound)}"

    def check(self, value):
        return value < self.upper_bound

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not _is_number(self.upper_bound):
            return self._tensor_bounds_ok(
                value, (self.upper_bound,), lambda flat, high: all(map(lt, flat, high))
            )
        flat = _entries(value)
        if flat is not None:
            return max(flat) < self.upper_bound and _no_nan(flat)
        return value.max().item() < self.upper_bound

    def __repr__(self):
        return f"LessThan(upper_bound={self.upper_bound})"


class _Bounded(_Univariate):
    """An interval ``[lower_bound, upper_bound]`` or ``[lower_bound, upper_bound)``: the
    shared part of ``interval`` and ``half_open_interval`` (siblings, as in torch, so that a
    half-open interval is not an ``interval``)."""

    _closing = "]"

    def __init__(self, lower_bound: Any, upper_bound: Any):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def _below_upper(self, value: Any) -> Any:
        raise NotImplementedError

    @property
    def description(self) -> str:  # type: ignore[override]
        if not (_is_number(self.lower_bound) and _is_number(self.upper_bound)):
            return f"within the distribution's bounds [low, high{self._closing}"
        return f"in [{_fmt(self.lower_bound)}, {_fmt(self.upper_bound)}{self._closing}"

    def check(self, value):
        return (self.lower_bound <= value) & self._below_upper(value)

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if not (_is_number(self.lower_bound) and _is_number(self.upper_bound)):
            return self._tensor_bounds_ok(
                value,
                (self.lower_bound, self.upper_bound),
                lambda flat, low, high: (
                    all(map(le, low, flat)) and all(map(self._below_upper_op, flat, high))
                ),
            )
        flat = _entries(value)
        if flat is not None:
            return (
                min(flat) >= self.lower_bound
                and bool(self._below_upper(max(flat)))
                and _no_nan(flat)
            )
        low, high = torch.aminmax(value)
        return low.item() >= self.lower_bound and bool(self._below_upper(high.item()))

    def __repr__(self):
        name = type(self).__name__.lstrip("_")
        return f"{name}(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Interval(_Bounded):
    _below_upper_op = staticmethod(le)

    def _below_upper(self, value):
        return value <= self.upper_bound


class _HalfOpenInterval(_Bounded):
    _closing = ")"
    _below_upper_op = staticmethod(lt)

    def _below_upper(self, value):
        return value < self.upper_bound


_EPS: dict[torch.dtype, float] = {}


def _eps(dtype: torch.dtype) -> float:
    """``torch.finfo(dtype).eps`` (0 for integer dtypes), looked up once per dtype."""
    eps = _EPS.get(dtype)
    if eps is None:
        eps = _EPS[dtype] = torch.finfo(dtype).eps if dtype.is_floating_point else 0.0
    return eps


def _sum_tolerance(value: torch.Tensor) -> float:
    """Tolerance on ``sum(-1) == 1`` that scales with the dtype's epsilon and the length.

    A fixed 1e-6 rejects half-precision vectors that were normalized in that precision.
    """
    eps = _eps(value.dtype)
    n = value.shape[-1] if value.dim() else 1
    return max(1e-6, 2.0 * n * eps)


class _Simplex(Constraint):
    event_dim = 1
    description = "a probability vector (nonnegative entries summing to 1 along the last dim)"

    def check(self, value):
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() <= _sum_tolerance(value))

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        flat = _entries(value) if value.dim() else None
        if flat is not None:
            # Sums in double are more exact than torch's: half the tolerance keeps this
            # test no looser than the elementwise check. A NaN makes its row's sum NaN.
            n = value.shape[-1]
            tol = 0.5 * _sum_tolerance(value)
            low, high = 1.0 - tol, 1.0 + tol
            return min(flat) >= 0 and all(
                [low <= sum(flat[i : i + n]) <= high for i in range(0, len(flat), n)]
            )
        return bool((value.min() >= 0) & ((value.sum(-1) - 1).abs().max() <= _sum_tolerance(value)))


class _Multinomial(Constraint):
    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound: Any):
        self.upper_bound = upper_bound

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"a vector of nonnegative counts summing to at most {_fmt(self.upper_bound)}"

    def check(self, x):
        return (x >= 0).all(dim=-1) & (x.sum(dim=-1) <= self.upper_bound)

    def all_ok(self, value):
        flat = _entries(value) if value.dim() and _is_number(self.upper_bound) else None
        # Integer counts: Python's sums equal torch's (a fraction, NaN or inf: the check).
        if flat is None and self._by_reductions(value):
            return self._counts_ok(value)
        if not flat or not (min(flat) >= 0 and _integral(flat)):
            return bool(self.check(value).all())
        return all(sum(row) <= self.upper_bound for row in _rows(flat, value.shape[-1]))

    def _by_reductions(self, value: torch.Tensor) -> bool:
        # Integer counts up to the bound sum exactly in any order below 1/eps (2^23 in float32).
        bound = self.upper_bound
        if not (_is_number(bound) and _reducible(value) and value.is_floating_point()):
            return False
        return 0 <= bound < 1.0 / torch.finfo(value.dtype).eps

    def _counts_ok(self, value: torch.Tensor) -> bool:
        """The check by reductions: nonnegative (NaN fails), integral (else the elementwise
        check decides, its sum's order then mattering), every row sum within the bound."""
        if not value.amin().item() >= 0:
            return False
        if not _all_integral(value):
            return bool(self.check(value).all())
        return sum_last(value).amax().item() <= self.upper_bound


class _LowerTriangular(Constraint):
    event_dim = 2
    description = "a lower-triangular matrix"

    def check(self, value):
        return (value.tril() == value).view(value.shape[:-2] + (-1,)).min(-1)[0]

    def all_ok(self, value):
        flat = _entries(value) if value.dim() >= 2 else None
        if flat is not None:  # torch.equal fails at a NaN
            upper, _ = _triangle_indices(value.shape)
            return not any([flat[i] for i in upper]) and _no_nan(flat)
        return torch.equal(value.tril(), value)


class _LowerCholesky(Constraint):
    event_dim = 2
    description = "a lower-triangular matrix with a positive diagonal"

    def check(self, value):
        lower = (value.tril() == value).view(value.shape[:-2] + (-1,)).min(-1)[0]
        positive_diagonal = (value.diagonal(dim1=-2, dim2=-1) > 0).min(-1)[0]
        return lower & positive_diagonal

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        flat = _entries(value) if value.dim() >= 2 else None
        if flat is not None:
            upper, diagonal = _triangle_indices(value.shape)
            return (
                not any([flat[i] for i in upper])
                and min([flat[i] for i in diagonal]) > 0
                and _no_nan(flat)
            )
        return torch.equal(value.tril(), value) and bool(value.diagonal(dim1=-2, dim2=-1).min() > 0)


class _CorrCholesky(Constraint):
    event_dim = 2
    description = (
        "the lower Cholesky factor of a correlation matrix (positive diagonal, unit-norm rows)"
    )

    def check(self, value):
        tol = torch.finfo(value.dtype).eps * value.size(-1) * 10
        row_norm = torch.linalg.norm(value.detach(), dim=-1)
        unit_row_norm = (row_norm - 1.0).abs().le(tol).all(dim=-1)
        return _LowerCholesky().check(value) & unit_row_norm

    def all_ok(self, value):
        flat = _entries(value) if value.dim() >= 2 and value.numel() else None
        if flat is None:
            return bool(self.check(value).all())
        if not lower_cholesky.all_ok(value):
            return False
        # Norms in double: half the tolerance keeps this no looser than the check.
        tol = 0.5 * _eps(value.dtype) * value.size(-1) * 10
        return all(
            abs(math.sqrt(sum([x * x for x in row])) - 1.0) <= tol
            for row in _rows(flat, value.size(-1))
        )


class _Square(Constraint):
    event_dim = 2
    description = "a square matrix"

    def check(self, value):
        return torch.full(
            size=value.shape[:-2],
            fill_value=(value.shape[-2] == value.shape[-1]),
            dtype=torch.bool,
            device=value.device,
        )


class _Symmetric(_Square):
    description = "a symmetric matrix"

    def check(self, value):
        square_check = super().check(value)
        if not square_check.all():
            return square_check
        return torch.isclose(value, value.mT, atol=1e-6).all(-2).all(-1)


class _PositiveSemidefinite(_Symmetric):
    description = "a symmetric positive-semidefinite matrix"

    def check(self, value):
        sym_check = super().check(value)
        if not sym_check.all():
            return sym_check
        return torch.linalg.eigvalsh(value).ge(0).all(-1)


class _PositiveDefinite(_Symmetric):
    description = "a symmetric positive-definite matrix"

    def check(self, value):
        sym_check = super().check(value)
        if not sym_check.all():
            return sym_check
        return torch.linalg.cholesky_ex(value).info.eq(0)

    def all_ok(self, value):
        if value.numel() == 0:
            return True
        if value.shape[-1] != value.shape[-2]:
            return False
        if not torch.allclose(value, value.mT, atol=1e-6, equal_nan=False):
            return False
        return not bool(torch.linalg.cholesky_ex(value).info.any())


class _Cat(Constraint):
    """Apply a sequence of constraints to consecutive slices along ``dim``."""

    def __init__(
        self, cseq: Sequence[Constraint], dim: int = 0, lengths: Sequence[int] | None = None
    ):
        assert all(isinstance(c, Constraint) for c in cseq)
        self.cseq = list(cseq)
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.cseq)
        assert len(self.lengths) == len(self.cseq)
        self.dim = dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return max(c.event_dim for c in self.cseq)

    @property
    def description(self) -> str:  # type: ignore[override]
        return "; ".join(f"slice {i}: {c.description}" for i, c in enumerate(self.cseq))

    def check(self, value):
        assert -value.dim() <= self.dim < value.dim()
        checks = []
        start = 0
        for constr, length in zip(self.cseq, self.lengths):
            v = value.narrow(self.dim, start, length)
            checks.append(constr.check(v))
            start += length
        return torch.cat(checks, self.dim)


class _Stack(Constraint):
    """Apply a sequence of constraints to the slices of ``value`` along ``dim``."""

    def __init__(self, cseq: Sequence[Constraint], dim: int = 0):
        assert all(isinstance(c, Constraint) for c in cseq)
        self.cseq = list(cseq)
        self.dim = dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return any(c.is_discrete for c in self.cseq)

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        dim = max(c.event_dim for c in self.cseq)
        if self.dim + dim < 0:
            dim += 1
        return dim

    @property
    def description(self) -> str:  # type: ignore[override]
        return "; ".join(f"slice {i}: {c.description}" for i, c in enumerate(self.cseq))

    def check(self, value):
        assert -value.dim() <= self.dim < value.dim()
        vs = [value.select(self.dim, i) for i in range(value.size(self.dim))]
        return torch.stack([c.check(v) for v, c in zip(vs, self.cseq)], self.dim)


dependent = _Dependent()
dependent_property = _DependentProperty
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
multinomial = _Multinomial
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
square = _Square()
symmetric = _Symmetric()
positive_semidefinite = _PositiveSemidefinite()
positive_definite = _PositiveDefinite()
cat = _Cat
stack = _Stack
