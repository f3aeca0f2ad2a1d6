"""The ``Transform`` contract, the inverse wrapper and composition.

A transform is a map ``y = f(x)`` from ``domain`` to ``codomain`` with, when it is
bijective, an inverse and ``log |det J_f(x)|``. A subclass implements (torch's names, so
torch-style subclasses from zuko and Pyro work unchanged):

* ``_call(x)`` and, if bijective, ``_inverse(y)``;
* ``log_abs_det_jacobian(x, y)``: ``log |det df/dx|`` at ``x`` (with ``y = f(x)``), of
  shape ``x.shape[:x.dim() - domain.event_dim]``;
* the class attributes ``domain``, ``codomain``, ``bijective`` and the property ``sign``
  (``+1``/``-1`` for monotone elementwise maps);
* ``forward_shape``/``inverse_shape`` when the event shape changes.

And, where computing both together is cheaper (a shared ``exp``, a shared softplus), the
value-and-log-det hooks ``_call_and_ladj(x) -> (y, ladj)`` and ``_inverse_and_ladj(y) ->
(x, ladj)`` (``ladj`` is always the *forward* log-det at ``x``). ``ComposeTransform`` and
``TransformedDistribution`` call the public ``call_and_ladj``/``inverse_and_ladj``, so a
composed flow evaluates each part once.

Caching follows torch: with ``cache_size=1`` a transform remembers its last ``(x, y)`` pair
and returns the partner when called with the *same tensor object* (so ``log_prob`` of a
value just sampled reuses the pre-image instead of inverting).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from .. import constraints

__all__ = ["ComposeTransform", "Transform", "_InverseTransform", "identity_transform"]


def _sum_rightmost(value: torch.Tensor, n: int) -> torch.Tensor:
    """Sum the rightmost ``n`` dims of ``value`` (``value`` itself when ``n`` is 0)."""
    if n <= 0:
        return value
    return value.reshape(value.shape[: value.dim() - n] + (-1,)).sum(-1)


class Transform:
    """Base class of invertible (or at least callable) maps with a log-det-Jacobian.

    Args:
        cache_size: 0 (no caching) or 1 (remember the last ``(x, y)`` pair, compared by
            identity). Caching lets ``log_prob`` of a value that came from ``rsample`` skip
            the inverse, which for some transforms is inexact at the edges (``tanh``).

    Attributes:
        domain: the constraint on inputs; ``domain.event_dim`` dims form one input.
        codomain: the constraint on outputs.
        bijective: whether the map is invertible on its domain.
    """

    bijective: bool = False
    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real

    def __init__(self, cache_size: int = 0) -> None:
        if cache_size not in (0, 1):
            raise ValueError(
                f"{type(self).__name__}: cache_size must be 0 or 1, got {cache_size!r}"
            )
        self._cache_size = cache_size
        if cache_size:
            self._cached_x_y: tuple[Any, Any] = (None, None)
        self._inv: Any = None
        # Cooperative, as torch: pyro's TransformModule(Transform, nn.Module) relies on this
        # to run nn.Module.__init__.
        super().__init__()

    # ------------------------------------------------------------------ metadata

    @property
    def cache_size(self) -> int:
        """0 or 1: whether the last ``(x, y)`` pair is remembered."""
        return self._cache_size

    @property
    def event_dim(self) -> int:
        """The number of rightmost dims of one input, when domain and codomain agree."""
        if self.domain.event_dim == self.codomain.event_dim:
            return self.domain.event_dim
        raise ValueError(
            f"{type(self).__name__} changes the event dim ({self.domain.event_dim} -> "
            f"{self.codomain.event_dim}): use .domain.event_dim or .codomain.event_dim"
        )

    @property
    def sign(self) -> int:
        """``+1`` if the map is increasing, ``-1`` if decreasing (elementwise maps only)."""
        raise NotImplementedError(f"{type(self).__name__} has no sign (it is not monotone)")

    @property
    def inv(self) -> Transform:
        """The inverse transform ``f^{-1}`` (one object per transform, held weakly)."""
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = _InverseTransform(self)
            self._inv = weakref.ref(inv)
        return inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        """This transform with the given ``cache_size`` (``self`` when it already has it)."""
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise NotImplementedError(f"{type(self).__name__}.with_cache is not implemented")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = object.__hash__

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_inv"] = None  # a weak reference cannot be pickled; rebuilt on demand
        if "_cached_x_y" in state:
            state["_cached_x_y"] = (None, None)
        return state

    def __repr__(self) -> str:
        return type(self).__name__ + "()"

    # ------------------------------------------------------------------- calling

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``y = f(x)``."""
        if not self._cache_size:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = (x, y)
        return y

    def _inv_call(self, y: torch.Tensor) -> torch.Tensor:
        """``x = f^{-1}(y)``, through the cache when it holds ``y``."""
        if not self._cache_size:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = (x, y)
        return x

    def call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(x), log |det J_f(x)|)`` computed together (cache honoured)."""
        if self._cache_size:
            x_old, y_old = self._cached_x_y
            if x is x_old:
                return y_old, self.log_abs_det_jacobian(x, y_old)
        y, ladj = self._call_and_ladj(x)
        if self._cache_size:
            self._cached_x_y = (x, y)
        return y, ladj

    def inverse_and_ladj(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f^{-1}(y), log |det J_f(f^{-1}(y))|)``: the pre-image and the *forward* log-det."""
        if self._cache_size:
            x_old, y_old = self._cached_x_y
            if y is y_old:
                return x_old, self.log_abs_det_jacobian(x_old, y)
        x, ladj = self._inverse_and_ladj(y)
        if self._cache_size:
            self._cached_x_y = (x, y)
        return x, ladj

    # ------------------------------------------------------- subclass contract

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement _call")

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement _inverse")

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``log |det df/dx|`` at ``x`` (``y = f(x)``), one value per input event."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_abs_det_jacobian")

    def _call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self._call(x)
        return y, self.log_abs_det_jacobian(x, y)

    def _inverse_and_ladj(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._inverse(y)
        return x, self.log_abs_det_jacobian(x, y)

    def forward_shape(self, shape: torch.Size | tuple[int, ...]) -> torch.Size | tuple[int, ...]:
        """The output shape for an input of ``shape``."""
        return shape

    def inverse_shape(self, shape: torch.Size | tuple[int, ...]) -> torch.Size | tuple[int, ...]:
        """The input shape for an output of ``shape``."""
        return shape


class _InverseTransform(Transform):
    """The inverse ``f^{-1}`` of a bijective transform ``f``, reached through ``f.inv``.

    It shares ``f``'s cache, so ``f.inv(y)`` after ``y = f(x)`` returns ``x`` itself.
    """

    def __init__(self, transform: Transform) -> None:
        super().__init__(cache_size=transform._cache_size)
        self._inv: Transform = transform  # a strong reference (the forward holds a weak one)

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.codomain

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.domain

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return self._inv.bijective

    @property
    def sign(self) -> int:
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        return self.inv.with_cache(cache_size).inv

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = object.__hash__

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inv!r})"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._inv._inv_call(x)

    def _inv_call(self, y: torch.Tensor) -> torch.Tensor:
        return self._inv(y)

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -self._inv.log_abs_det_jacobian(y, x)

    def call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, ladj = self._inv.inverse_and_ladj(x)
        return y, -ladj

    def inverse_and_ladj(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, ladj = self._inv.call_and_ladj(y)
        return x, -ladj

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)


class ComposeTransform(Transform):
    """The composition ``f_n o ... o f_1`` of ``parts = [f_1, ..., f_n]`` (applied in order).

    ``log |det J|`` is the sum of the parts' log-dets, each summed over the event dims the
    composition has at that stage. An empty list is the identity.

    Args:
        parts: the transforms, applied first to last.
        cache_size: 0 or 1; with 1 every part caches too.
    """

    def __init__(self, parts: list[Transform], cache_size: int = 0) -> None:
        parts = list(parts)
        for part in parts:
            if not isinstance(part, Transform):
                raise TypeError(
                    f"ComposeTransform: every part must be a Transform, got {type(part).__name__}"
                )
        if cache_size:
            parts = [part.with_cache(cache_size) for part in parts]
        super().__init__(cache_size=cache_size)
        self.parts = parts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    __hash__ = object.__hash__

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        domain = self.parts[0].domain
        # Walk back from the output: an earlier part may see more event dims than it owns.
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        if event_dim > domain.event_dim:
            domain = constraints.independent(domain, event_dim - domain.event_dim)
        return domain

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.parts:
            return constraints.real
        codomain = self.parts[-1].codomain
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        if event_dim > codomain.event_dim:
            codomain = constraints.independent(codomain, event_dim - codomain.event_dim)
        return codomain

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(part.bijective for part in self.parts)

    @property
    def sign(self) -> int:
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    @property
    def inv(self) -> Transform:
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = ComposeTransform([part.inv for part in reversed(self.parts)])
            self._inv = weakref.ref(inv)
            inv._inv = weakref.ref(self)
        return inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return ComposeTransform(self.parts, cache_size=cache_size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for part in self.parts:
            x = part(x)
        return x

    def _inv_call(self, y: torch.Tensor) -> torch.Tensor:
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def _ladj_dims(self) -> list[int]:
        """For each part, how many dims of its log-det belong to the composition's event."""
        dims = []
        event_dim = self.domain.event_dim
        for part in self.parts:
            dims.append(event_dim - part.domain.event_dim)
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return dims

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.parts:
            return torch.zeros_like(x)
        # The intermediate values: from the parts' caches when they hold them.
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        total = None
        for part, extra, a, b in zip(self.parts, self._ladj_dims(), xs[:-1], xs[1:]):
            term = _sum_rightmost(part.log_abs_det_jacobian(a, b), extra)
            total = term if total is None else total + term
        return total

    def call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.parts:
            return x, torch.zeros_like(x)
        total = None
        for part, extra in zip(self.parts, self._ladj_dims()):
            x, ladj = part.call_and_ladj(x)
            term = _sum_rightmost(ladj, extra)
            total = term if total is None else total + term
        return x, total

    def inverse_and_ladj(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.parts:
            return y, torch.zeros_like(y)
        total = None
        for part, extra in zip(reversed(self.parts), reversed(self._ladj_dims())):
            y, ladj = part.inverse_and_ladj(y)
            term = _sum_rightmost(ladj, extra)
            total = term if total is None else total + term
        return y, total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def __repr__(self) -> str:
        if not self.parts:
            return f"{type(self).__name__}([])"
        inner = ",\n    ".join(repr(part) for part in self.parts)
        return f"{type(self).__name__}(\n    {inner}\n)"


#: The identity map (a composition of nothing).
identity_transform = ComposeTransform([])
