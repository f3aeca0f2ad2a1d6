"""From unconstrained reals to a constraint: ``biject_to`` and ``transform_to``.

Both registries map a constraint object to a transform whose domain is the real space
(``real``, or ``independent(real, k)`` for vector or matrix inputs) and whose image lies in
the constraint. They differ in what they promise:

* ``biject_to(c)`` returns a *bijection* onto ``c``: its ``inv`` recovers the unconstrained
  point, and its ``log_abs_det_jacobian`` is defined, as change-of-variables densities
  (HMC, variational inference in an unconstrained space) need. A constraint without such a
  bijection (``lower_cholesky``, ``positive_definite``) is not registered here.
* ``transform_to(c)`` returns any transform into ``c``, chosen for well-behaved
  optimization rather than invertibility (``SoftmaxTransform`` for the simplex, which is
  overparametrized but symmetric), for example to keep a parameter constrained while
  running an unconstrained optimizer on its pre-image.

The mappings (the same as ``torch.distributions.constraint_registry``):

===================================  =====================================================
constraint                           transform
===================================  =====================================================
``real``                             ``identity_transform``
``positive``, ``nonnegative``,       ``ExpTransform`` then ``AffineTransform(lower, 1)``
``greater_than``, ``greater_than_eq``
``less_than``                        ``ExpTransform`` then ``AffineTransform(upper, -1)``
``interval``, ``half_open_interval``  ``SigmoidTransform`` then ``AffineTransform(lower,
                                     upper - lower)``; ``SigmoidTransform`` alone when the
                                     bounds are the numbers 0 and 1 (``unit_interval``)
``simplex``                          ``StickBreakingTransform`` (``biject_to``),
                                     ``SoftmaxTransform`` (``transform_to``)
``corr_cholesky``                    ``CorrCholeskyTransform``
``lower_cholesky``                   ``LowerCholeskyTransform`` (``transform_to`` only)
``positive_definite``,               ``PositiveDefiniteTransform`` (``transform_to`` only)
``positive_semidefinite``
``independent(c, n)``                ``IndependentTransform(registry(c), n)``
``cat``, ``stack``                   ``CatTransform``/``StackTransform`` of the parts'
                                     transforms from the same registry
===================================  =====================================================

Lookup is by the constraint's exact class, as in torch: registering an instance registers
its class, and the factory receives the instance being transformed, so it can read its
bounds. A new constraint class is supported with::

    @aleatorch.constraint_registry.biject_to.register(MyConstraint)
    def _(constraint):
        return MyTransform(constraint.param)
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

from . import constraints
from . import transforms as _t

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]

Factory = Callable[[constraints.Constraint], _t.Transform]


class ConstraintRegistry:
    """A table from constraint classes to functions that build a transform for an instance.

    Example:
        >>> import torch
        >>> from aleatorch import constraints
        >>> from aleatorch.constraint_registry import biject_to
        >>> t = biject_to(constraints.interval(-2.0, 3.0))
        >>> y = t(torch.tensor([-50.0, 0.0, 50.0]))
        >>> bool(constraints.interval(-2.0, 3.0).check(y).all())
        True
    """

    def __init__(self) -> None:
        self._registry: dict[type, Factory] = {}
        # How error messages refer to the registry; set for biject_to and transform_to.
        self._name = "ConstraintRegistry"
        self._path: str | None = None

    def register(self, constraint: Any, factory: Factory | None = None) -> Any:
        """Register ``factory`` for a constraint class (or the class of a constraint instance).

        Usable as a call, ``registry.register(MyConstraint, factory)``, or as a decorator,
        ``@registry.register(MyConstraint)``. A later registration for the same class
        replaces the earlier one.

        Args:
            constraint: a subclass of ``aleatorch.constraints.Constraint``, or an instance
                of one (its class is registered: every instance of that class then uses
                ``factory``, which reads the instance's own parameters).
            factory: a callable taking the constraint instance and returning a
                ``Transform`` into it.

        Returns:
            ``factory`` (the decorator returned when ``factory`` is omitted returns it too,
            so the decorated function stays usable).

        Raises:
            TypeError: ``constraint`` is neither a constraint class nor a constraint.
        """
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, constraints.Constraint)):
            raise TypeError(
                f"{self._name}.register: expected a subclass of aleatorch.constraints.Constraint "
                f"or an instance of one, but got {constraint!r}"
            )
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint: Any) -> _t.Transform:
        """Return a transform from unconstrained reals into ``constraint``.

        Raises:
            NotImplementedError: no factory is registered for the constraint's class.
        """
        factory = self._registry.get(type(constraint))
        if factory is None:
            raise NotImplementedError(self._missing_message(constraint))
        return factory(constraint)

    def _missing_message(self, constraint: Any) -> str:
        kind = type(constraint)
        if not isinstance(constraint, constraints.Constraint):
            if kind.__module__.startswith("torch.distributions"):
                hint = "use the aleatorch.constraints object of the same name"
            else:
                hint = "pass an aleatorch.constraints object"
            return (
                f"{self._name} expects an aleatorch.constraints.Constraint, but got "
                f"{_short_repr(constraint)} ({kind.__module__}.{kind.__qualname__}): {hint}."
            )
        hint = ""
        if self is biject_to and kind in transform_to._registry:
            hint = (
                " transform_to has a (non-bijective) transform for it: use "
                "aleatorch.constraint_registry.transform_to if no inverse is needed."
            )
        where = self._path or "registry"
        return (
            f"{self._name} has no transform for the constraint {_short_repr(constraint)}."
            f"{hint} Register a factory that builds one from the constraint with "
            f"{where}.register({kind.__name__}, factory) (the class or any instance of it), "
            f"or as a decorator: @{where}.register({kind.__name__})."
        )

    def __repr__(self) -> str:
        names = ", ".join(sorted(kind.__name__ for kind in self._registry))
        return f"ConstraintRegistry({self._name!r}: {names})"


def _short_repr(obj: Any, limit: int = 200) -> str:
    """``repr(obj)`` cut to ``limit`` characters (tensor bounds can print at length)."""
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _named_registry(name: str) -> ConstraintRegistry:
    registry = ConstraintRegistry()
    registry._name = name
    registry._path = f"aleatorch.constraint_registry.{name}"
    return registry


biject_to = _named_registry("biject_to")
transform_to = _named_registry("transform_to")


# The transform classes are read from the transforms package when a factory runs, so this
# module imports whatever subset of them exists yet.


@biject_to.register(constraints.real)
@transform_to.register(constraints.real)
def _to_real(constraint: constraints.Constraint) -> _t.Transform:
    return _t.identity_transform


def _independent_factory(registry: ConstraintRegistry) -> Factory:
    def factory(constraint: Any) -> _t.Transform:
        base = registry(constraint.base_constraint)
        return _t.IndependentTransform(base, constraint.reinterpreted_batch_ndims)

    factory.__name__ = f"_{registry._name}_independent"
    return factory


biject_to.register(constraints.independent, _independent_factory(biject_to))
transform_to.register(constraints.independent, _independent_factory(transform_to))


@biject_to.register(constraints.greater_than)
@biject_to.register(constraints.greater_than_eq)
@transform_to.register(constraints.greater_than)
@transform_to.register(constraints.greater_than_eq)
def _to_greater_than(constraint: Any) -> _t.Transform:
    # positive and nonnegative land here too (their class is greater_than(_eq)), as in
    # torch: exp then a shift by the bound.
    return _t.ComposeTransform([_t.ExpTransform(), _t.AffineTransform(constraint.lower_bound, 1)])


@biject_to.register(constraints.less_than)
@transform_to.register(constraints.less_than)
def _to_less_than(constraint: Any) -> _t.Transform:
    return _t.ComposeTransform([_t.ExpTransform(), _t.AffineTransform(constraint.upper_bound, -1)])


def _is_number_equal(bound: Any, value: float) -> bool:
    return isinstance(bound, Number) and not isinstance(bound, bool) and bound == value


@biject_to.register(constraints.interval)
@biject_to.register(constraints.half_open_interval)
@transform_to.register(constraints.interval)
@transform_to.register(constraints.half_open_interval)
def _to_interval(constraint: Any) -> _t.Transform:
    lower, upper = constraint.lower_bound, constraint.upper_bound
    if _is_number_equal(lower, 0) and _is_number_equal(upper, 1):
        return _t.SigmoidTransform()
    return _t.ComposeTransform([_t.SigmoidTransform(), _t.AffineTransform(lower, upper - lower)])


@biject_to.register(constraints.simplex)
def _biject_to_simplex(constraint: Any) -> _t.Transform:
    return _t.StickBreakingTransform()


@transform_to.register(constraints.simplex)
def _transform_to_simplex(constraint: Any) -> _t.Transform:
    return _t.SoftmaxTransform()


@transform_to.register(constraints.lower_cholesky)
def _transform_to_lower_cholesky(constraint: Any) -> _t.Transform:
    return _t.LowerCholeskyTransform()


@transform_to.register(constraints.positive_definite)
@transform_to.register(constraints.positive_semidefinite)
def _transform_to_positive_definite(constraint: Any) -> _t.Transform:
    return _t.PositiveDefiniteTransform()


@biject_to.register(constraints.corr_cholesky)
@transform_to.register(constraints.corr_cholesky)
def _to_corr_cholesky(constraint: Any) -> _t.Transform:
    return _t.CorrCholeskyTransform()


def _cat_factory(registry: ConstraintRegistry) -> Factory:
    def factory(constraint: Any) -> _t.Transform:
        parts = [registry(c) for c in constraint.cseq]
        return _t.CatTransform(parts, constraint.dim, constraint.lengths)

    factory.__name__ = f"_{registry._name}_cat"
    return factory


def _stack_factory(registry: ConstraintRegistry) -> Factory:
    def factory(constraint: Any) -> _t.Transform:
        parts = [registry(c) for c in constraint.cseq]
        return _t.StackTransform(parts, constraint.dim)

    factory.__name__ = f"_{registry._name}_stack"
    return factory


for _registry in (biject_to, transform_to):
    _registry.register(constraints.cat, _cat_factory(_registry))
    _registry.register(constraints.stack, _stack_factory(_registry))
del _registry
