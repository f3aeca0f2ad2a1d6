"""biject_to / transform_to: every registered constraint, registration, errors, torch parity.

Each case builds a constraint from a spec that works on both constraint modules (ours and
torch's share the public names), draws unconstrained inputs of the right event shape and
checks: the image satisfies the constraint, the inverse recovers the input (``biject_to``
must be bijective), the log-det is finite with one entry per event and, where the map
keeps the event shape, equals the autograd Jacobian's; the domain is the real space with
the stated event dims; float32 stays float32. Against torch: the same transform classes
(recursively through compositions) and the same numbers.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.distributions.constraint_registry as torch_registry
import torch.distributions.constraints as torch_constraints

import aleatorch.constraint_registry as registry_module
from aleatorch import constraints
from aleatorch.constraint_registry import ConstraintRegistry, biject_to, transform_to
from aleatorch.transforms import Transform

REGISTRIES = {"biject_to": biject_to, "transform_to": transform_to}
TORCH_REGISTRIES = {
    "biject_to": torch_registry.biject_to,
    "transform_to": torch_registry.transform_to,
}


def _t(values, dtype):
    return torch.tensor(values, dtype=dtype)


@dataclass
class Case:
    """A constraint and the unconstrained event shape each registry maps from.

    Attributes:
        name: the test id.
        spec: ``(constraints module, dtype) -> constraint``; works for ours and torch's.
        value_event: the event shape of a constrained value.
        inputs: registry name -> the event shape of an unconstrained input (a registry
            absent here has no transform for the constraint).
        batch_shapes: batch shapes of the inputs (they broadcast with tensor bounds).
        ladj: registries whose transform has a log-det.
        square: whether the map keeps the event shape entry by entry, so its log-det is
            the log |det| of the plain Jacobian of the flattened event.
        domain_event_dim: the transform's ``domain.event_dim`` when it differs from the
            input's event dims (``cat``/``stack`` of univariate constraints are elementwise,
            as the constraint's own ``event_dim`` says).
        ladj_event: the trailing dims of the log-det beyond the batch (torch's
            ``StackTransform`` keeps one entry per slice even when ``dim`` is negative and
            its domain counts the stacked dim as an event dim; see its docstring).
    """

    name: str
    spec: Callable[[Any, torch.dtype], Any]
    value_event: tuple[int, ...]
    inputs: dict[str, tuple[int, ...]]
    batch_shapes: tuple[tuple[int, ...], ...] = ((), (5,), (2, 3))
    ladj: tuple[str, ...] = ("biject_to", "transform_to")
    square: bool = True
    scale: float = 2.0
    domain_event_dim: int | None = None
    ladj_event: tuple[int, ...] = ()

    def event_dim(self, name):
        if self.domain_event_dim is not None:
            return self.domain_event_dim
        return len(self.inputs[name])


def _both(shape):
    return {"biject_to": shape, "transform_to": shape}


TENSOR_BATCHES = ((3,), (2, 3))
LOW3 = [-1.0, 0.0, 2.5]
HIGH3 = [0.5, 4.0, 2.75]

CASES = [
    Case("real", lambda C, dt: C.real, (), _both(())),
    Case("real_vector", lambda C, dt: C.real_vector, (4,), _both((4,))),
    Case("positive", lambda C, dt: C.positive, (), _both(())),
    Case("nonnegative", lambda C, dt: C.nonnegative, (), _both(())),
    Case("greater_than", lambda C, dt: C.greater_than(-1.5), (), _both(())),
    Case("greater_than_int", lambda C, dt: C.greater_than(3), (), _both(())),
    Case(
        "greater_than_tensor",
        lambda C, dt: C.greater_than(_t(LOW3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case("greater_than_eq", lambda C, dt: C.greater_than_eq(2.0), (), _both(())),
    Case(
        "greater_than_eq_tensor",
        lambda C, dt: C.greater_than_eq(_t(LOW3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case("less_than", lambda C, dt: C.less_than(3.0), (), _both(())),
    Case("less_than_negative", lambda C, dt: C.less_than(-2), (), _both(())),
    Case(
        "less_than_tensor",
        lambda C, dt: C.less_than(_t(HIGH3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case("unit_interval", lambda C, dt: C.unit_interval, (), _both(())),
    Case("interval_0_1_ints", lambda C, dt: C.interval(0, 1), (), _both(())),
    Case("interval", lambda C, dt: C.interval(-2.0, 3.0), (), _both(())),
    Case("interval_0_2", lambda C, dt: C.interval(0.0, 2.0), (), _both(())),
    Case(
        "interval_tensor",
        lambda C, dt: C.interval(_t(LOW3, dt), _t(HIGH3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case(
        "interval_mixed_bounds",
        lambda C, dt: C.interval(-1.0, _t(HIGH3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case("half_open_unit", lambda C, dt: C.half_open_interval(0.0, 1.0), (), _both(())),
    Case("half_open", lambda C, dt: C.half_open_interval(-4.0, -1.0), (), _both(())),
    Case(
        "half_open_tensor",
        lambda C, dt: C.half_open_interval(_t(LOW3, dt), _t(HIGH3, dt)),
        (),
        _both(()),
        TENSOR_BATCHES,
    ),
    Case(
        "independent_positive",
        lambda C, dt: C.independent(C.positive, 1),
        (4,),
        _both((4,)),
    ),
    Case(
        "independent_interval_tensor_2",
        lambda C, dt: C.independent(C.interval(_t(LOW3, dt), _t(HIGH3, dt)), 2),
        (2, 3),
        _both((2, 3)),
        ((), (4,)),
    ),
    Case(
        "independent_simplex",
        lambda C, dt: C.independent(C.simplex, 1),
        (2, 4),
        {"biject_to": (2, 3), "transform_to": (2, 4)},
        ladj=("biject_to",),
        square=False,
    ),
    Case(
        "simplex",
        lambda C, dt: C.simplex,
        (4,),
        {"biject_to": (3,), "transform_to": (4,)},
        ladj=("biject_to",),
        square=False,
    ),
    Case(
        "corr_cholesky",
        lambda C, dt: C.corr_cholesky,
        (3, 3),
        _both((3,)),
        square=False,
        scale=0.7,
    ),
    Case(
        "lower_cholesky",
        lambda C, dt: C.lower_cholesky,
        (3, 3),
        {"transform_to": (3, 3)},
        ladj=(),
        square=False,
        scale=0.7,
    ),
    Case(
        "positive_definite",
        lambda C, dt: C.positive_definite,
        (3, 3),
        {"transform_to": (3, 3)},
        ladj=(),
        square=False,
        scale=0.7,
    ),
    Case(
        "positive_semidefinite",
        lambda C, dt: C.positive_semidefinite,
        (3, 3),
        {"transform_to": (3, 3)},
        ladj=(),
        square=False,
        scale=0.7,
    ),
    Case(
        "cat_last_dim",
        lambda C, dt: C.cat(
            [C.positive, C.real, C.interval(-1.0, 1.0), C.less_than(0.5)], -1, [2, 1, 3, 1]
        ),
        (7,),
        _both((7,)),
        domain_event_dim=0,
        ladj_event=(7,),
    ),
    Case(
        "cat_first_dim",
        lambda C, dt: C.cat([C.greater_than(1.0), C.unit_interval], 0, [2, 3]),
        (5, 4),
        _both((5, 4)),
        ((),),
        domain_event_dim=0,
        ladj_event=(5, 4),
    ),
    Case(
        "stack_last_dim",
        lambda C, dt: C.stack([C.positive, C.interval(-1.0, 1.0), C.less_than(0.0)], -1),
        (3,),
        _both((3,)),
        domain_event_dim=1,
        ladj_event=(3,),
    ),
    Case(
        "stack_first_dim",
        lambda C, dt: C.stack([C.nonnegative, C.half_open_interval(2.0, 3.0)], 0),
        (2, 4),
        _both((2, 4)),
        ((),),
        domain_event_dim=0,
        ladj_event=(2, 4),
    ),
]

RUNS = [
    (case, name, batch) for case in CASES for name in case.inputs for batch in case.batch_shapes
]


def run_id(run):
    case, name, batch = run
    return f"{name}-{case.name}-batch{list(batch)}"


def draw(case, name, batch, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = tuple(batch) + case.inputs[name]
    return case.scale * torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def is_real_space(constraint):
    """Whether a constraint is the unconstrained real space (possibly with event dims)."""
    if isinstance(constraint, constraints._Real):
        return True
    if isinstance(constraint, constraints._IndependentConstraint):
        return is_real_space(constraint.base_constraint)
    if isinstance(constraint, (constraints._Cat, constraints._Stack)):
        return all(is_real_space(c) for c in constraint.cseq)
    return False


def structure(t):
    """The transform's class name, recursively through compositions and wrappers."""
    name = type(t).__name__
    if name == "ComposeTransform":
        return name, tuple(structure(p) for p in t.parts)
    if name == "IndependentTransform":
        return name, structure(t.base_transform), t.reinterpreted_batch_ndims
    if name in ("CatTransform", "StackTransform"):
        return name, tuple(structure(p) for p in t.transforms), t.dim
    return name


def tolerance(dtype):
    return {"rtol": 1e-9, "atol": 1e-9} if dtype == torch.float64 else {"rtol": 2e-4, "atol": 2e-4}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_transform_maps_reals_into_the_constraint(run, dtype):
    case, name, batch = run
    constraint = case.spec(constraints, dtype)
    t = REGISTRIES[name](constraint)
    assert isinstance(t, Transform)

    x = draw(case, name, batch, dtype)
    assert is_real_space(t.domain), t.domain
    assert t.domain.event_dim == case.event_dim(name)
    assert bool(t.domain.check(x).all())

    y = t(x)
    assert y.dtype == dtype
    assert tuple(y.shape) == tuple(batch) + case.value_event
    assert bool(constraint.check(y).all()), f"{t} maps outside {constraint!r}"

    # Every registered transform has a right inverse; biject_to's is also a left inverse.
    if name == "biject_to":
        assert t.bijective
    x_back = t.inv(y)
    if t.bijective:
        torch.testing.assert_close(x_back, x, **tolerance(dtype))
    torch.testing.assert_close(t(x_back), y, **tolerance(dtype))

    if name in case.ladj:
        ladj = t.log_abs_det_jacobian(x, y)
        assert tuple(ladj.shape) == tuple(batch) + case.ladj_event
        assert ladj.dtype == dtype
        assert bool(torch.isfinite(ladj).all())


@pytest.mark.parametrize("run", [r for r in RUNS if r[0].square and r[1] in r[0].ladj], ids=run_id)
def test_log_abs_det_jacobian_matches_autograd(run):
    case, name, batch = run
    t = REGISTRIES[name](case.spec(constraints, torch.float64))
    x = draw(case, name, batch, torch.float64)
    events = math.prod(batch)
    # One total per input event (the log-det of cat/stack is per entry; sum it).
    ladj = t.log_abs_det_jacobian(x, t(x)).reshape(events, -1).sum(-1)
    n = math.prod(case.inputs[name])
    # Bounds are batched, so differentiate the whole (small) tensor and read each event's
    # diagonal block: entries of different events do not interact.
    jac = torch.autograd.functional.jacobian(lambda v: t(v), x).reshape(x.numel(), x.numel())
    for i in range(events):
        block = jac[i * n : (i + 1) * n, i * n : (i + 1) * n]
        expected = torch.linalg.slogdet(block).logabsdet
        torch.testing.assert_close(ladj[i], expected, rtol=1e-9, atol=1e-9)
    off_block = jac.clone()
    for i in range(events):
        off_block[i * n : (i + 1) * n, i * n : (i + 1) * n] = 0
    assert bool((off_block == 0).all())


@pytest.mark.parametrize("name", ["biject_to", "transform_to"])
def test_float32_matches_float64(name):
    for case in CASES:
        if name not in case.inputs:
            continue
        batch = case.batch_shapes[-1]
        t64 = REGISTRIES[name](case.spec(constraints, torch.float64))
        t32 = REGISTRIES[name](case.spec(constraints, torch.float32))
        x = draw(case, name, batch, torch.float64)
        torch.testing.assert_close(
            t32(x.float()), t64(x).float(), rtol=1e-4, atol=1e-5, msg=case.name
        )


# --------------------------------------------------------------------------- torch parity


@pytest.mark.parametrize("run", RUNS, ids=run_id)
def test_same_transform_and_values_as_torch(run):
    case, name, batch = run
    ours = REGISTRIES[name](case.spec(constraints, torch.float64))
    theirs = TORCH_REGISTRIES[name](case.spec(torch_constraints, torch.float64))
    assert structure(ours) == structure(theirs)

    x = draw(case, name, batch, torch.float64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-9, atol=1e-12)
    if name in case.ladj:
        y = theirs(x)
        torch.testing.assert_close(
            ours.log_abs_det_jacobian(x, y),
            theirs.log_abs_det_jacobian(x, y),
            rtol=1e-9,
            atol=1e-9,
        )


def _public_constraints(C):
    """Every public constraint of a constraints module: the singletons and an instance of
    each parametrized family."""
    return {
        "boolean": C.boolean,
        "corr_cholesky": C.corr_cholesky,
        "dependent": C.dependent,
        "dependent_property": C.dependent_property(lambda self: None),
        "lower_cholesky": C.lower_cholesky,
        "lower_triangular": C.lower_triangular,
        "nonnegative": C.nonnegative,
        "nonnegative_integer": C.nonnegative_integer,
        "one_hot": C.one_hot,
        "positive": C.positive,
        "positive_definite": C.positive_definite,
        "positive_integer": C.positive_integer,
        "positive_semidefinite": C.positive_semidefinite,
        "real": C.real,
        "real_vector": C.real_vector,
        "simplex": C.simplex,
        "square": C.square,
        "symmetric": C.symmetric,
        "unit_interval": C.unit_interval,
        "greater_than": C.greater_than(1.0),
        "greater_than_eq": C.greater_than_eq(1.0),
        "less_than": C.less_than(1.0),
        "interval": C.interval(-1.0, 2.0),
        "half_open_interval": C.half_open_interval(-1.0, 2.0),
        "integer_interval": C.integer_interval(0, 3),
        "multinomial": C.multinomial(3),
        "independent": C.independent(C.positive, 2),
        "independent_boolean": C.independent(C.boolean, 1),
        "cat": C.cat([C.positive, C.real], 0, [2, 3]),
        "cat_lower_cholesky": C.cat([C.lower_cholesky, C.lower_cholesky], 0),
        "stack": C.stack([C.positive, C.real], 0),
        "mixture": C.MixtureSameFamilyConstraint(C.positive),
    }


def test_public_constraint_lists_agree():
    ours = set(_public_constraints(constraints))
    public = {n for n in constraints.__all__ if n not in ("Constraint", "is_dependent")}
    # Every public constraint name is exercised (some under more than one instance).
    assert public <= ours | {"MixtureSameFamilyConstraint"}


@pytest.mark.parametrize("name", ["biject_to", "transform_to"])
@pytest.mark.parametrize("key", sorted(_public_constraints(constraints)))
def test_registered_exactly_where_torch_is(name, key):
    ours = _public_constraints(constraints)[key]
    theirs = _public_constraints(torch_constraints)[key]
    try:
        expected = structure(TORCH_REGISTRIES[name](theirs))
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match=name):
            REGISTRIES[name](ours)
        return
    assert structure(REGISTRIES[name](ours)) == expected


@pytest.mark.parametrize("name", ["biject_to", "transform_to"])
def test_registered_classes_match_torch(name):
    ours = {kind.__name__ for kind in REGISTRIES[name]._registry}
    theirs = {kind.__name__ for kind in TORCH_REGISTRIES[name]._registry}
    assert ours == theirs


def test_signatures_match_torch():
    for attr in ("__init__", "register", "__call__"):
        ours = inspect.signature(getattr(ConstraintRegistry, attr))
        theirs = inspect.signature(getattr(torch_registry.ConstraintRegistry, attr))
        assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
            (p.name, p.kind, p.default) for p in theirs.parameters.values()
        ], attr
    assert registry_module.__all__ == ["ConstraintRegistry", "biject_to", "transform_to"]


def test_unit_interval_is_sigmoid_alone_but_tensor_unit_bounds_are_not():
    assert structure(biject_to(constraints.unit_interval)) == "SigmoidTransform"
    assert structure(transform_to(constraints.half_open_interval(0, 1))) == "SigmoidTransform"
    t = biject_to(constraints.interval(torch.tensor(0.0), torch.tensor(1.0)))
    assert structure(t) == ("ComposeTransform", ("SigmoidTransform", "AffineTransform"))


# ------------------------------------------------------------------ registration, errors


class _OddConstraint(constraints.Constraint):
    """A user constraint: reals above ``lower`` (a stand-in for any new class)."""

    def __init__(self, lower):
        self.lower = lower

    def check(self, value):
        return value > self.lower

    def __repr__(self):
        return f"OddConstraint(lower={self.lower})"


def test_register_as_decorator_passes_the_instance():
    registry = ConstraintRegistry()
    seen = []

    @registry.register(_OddConstraint)
    def factory(constraint):
        seen.append(constraint)
        return registry_module.transform_to(constraints.greater_than(constraint.lower))

    assert callable(factory) and factory.__name__ == "factory"
    constraint = _OddConstraint(2.5)
    t = registry(constraint)
    assert seen == [constraint] and seen[0] is constraint
    y = t(torch.linspace(-5, 5, 11, dtype=torch.float64))
    assert bool(constraint.check(y).all())


def test_register_call_form_with_an_instance_registers_its_class():
    registry = ConstraintRegistry()

    def factory(constraint):
        return registry_module.biject_to(constraints.less_than(constraint.lower))

    assert registry.register(_OddConstraint(0.0), factory) is factory
    # A different instance of the same class uses the factory with its own parameter.
    t = registry(_OddConstraint(-3.0))
    assert structure(t) == ("ComposeTransform", ("ExpTransform", "AffineTransform"))
    assert bool((t(torch.zeros(4)) < -3.0).all())


def test_register_on_the_global_registries():
    try:
        biject_to.register(_OddConstraint, lambda c: biject_to(constraints.greater_than(c.lower)))
        t = biject_to(_OddConstraint(1.0))
        y = t(torch.randn(6, dtype=torch.float64))
        assert bool((y > 1.0).all())
        torch.testing.assert_close(t.inv(y), t.inv(y))
        # transform_to is a separate table.
        with pytest.raises(NotImplementedError, match="transform_to"):
            transform_to(_OddConstraint(1.0))
    finally:
        biject_to._registry.pop(_OddConstraint, None)
    with pytest.raises(NotImplementedError):
        biject_to(_OddConstraint(1.0))


def test_later_registration_replaces_earlier():
    registry = ConstraintRegistry()
    registry.register(_OddConstraint, lambda c: biject_to(constraints.positive))
    registry.register(_OddConstraint, lambda c: biject_to(constraints.unit_interval))
    assert structure(registry(_OddConstraint(0.0))) == "SigmoidTransform"


def test_lookup_is_by_exact_class_as_in_torch():
    class _SubInterval(constraints._Interval):
        pass

    with pytest.raises(NotImplementedError, match="_SubInterval"):
        biject_to(_SubInterval(0.0, 1.0))


@pytest.mark.parametrize("bad", [3, "positive", int, torch.zeros(2)])
def test_register_rejects_non_constraints(bad):
    with pytest.raises(TypeError, match="Constraint"):
        ConstraintRegistry().register(bad, lambda c: None)


@pytest.mark.parametrize("name", ["biject_to", "transform_to"])
def test_unregistered_constraint_error_says_what_and_how(name):
    constraint = _OddConstraint(1.25)
    with pytest.raises(NotImplementedError) as info:
        REGISTRIES[name](constraint)
    message = str(info.value)
    assert repr(constraint) in message
    assert f"{name} has no transform" in message
    assert f"aleatorch.constraint_registry.{name}.register(_OddConstraint" in message


def test_biject_to_points_to_transform_to_when_only_that_exists():
    with pytest.raises(NotImplementedError) as info:
        biject_to(constraints.lower_cholesky)
    assert "LowerCholesky()" in str(info.value) and "transform_to" in str(info.value)
    with pytest.raises(NotImplementedError) as info:
        biject_to(constraints.boolean)
    assert "transform_to has" not in str(info.value)


def test_nested_unregistered_constraint_is_named():
    with pytest.raises(NotImplementedError, match=r"Boolean\(\)"):
        transform_to(constraints.independent(constraints.boolean, 1))
    with pytest.raises(NotImplementedError, match=r"LowerCholesky\(\)"):
        biject_to(constraints.cat([constraints.positive, constraints.lower_cholesky], 0))


def test_error_for_torch_constraints_and_other_objects():
    with pytest.raises(NotImplementedError, match="aleatorch.constraints"):
        biject_to(torch_constraints.positive)
    with pytest.raises(NotImplementedError, match="'positive'"):
        transform_to("positive")


def test_error_message_summarizes_large_bounds():
    constraint = _OddConstraint(torch.arange(900.0))
    with pytest.raises(NotImplementedError) as info:
        biject_to(constraint)
    assert len(str(info.value)) < 600


def test_tensor_bounds_are_used_not_copied():
    low = torch.tensor([0.0, 1.0], requires_grad=True)
    t = biject_to(constraints.greater_than(low))
    y = t(torch.zeros(2))
    y.sum().backward()
    torch.testing.assert_close(low.grad, torch.ones(2))


def test_module_never_imports_torch_distributions():
    tree = ast.parse(inspect.getsource(registry_module))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not any(n.startswith("torch.distributions") for n in names), names


def test_docstring_example_runs():
    result = doctest.testmod(registry_module, verbose=False)
    assert result.attempted >= 1 and result.failed == 0


def test_error_from_a_user_registry_points_to_its_register():
    with pytest.raises(NotImplementedError) as info:
        ConstraintRegistry()(constraints.positive)
    message = str(info.value)
    assert "GreaterThan(lower_bound=0.0)" in message
    assert "registry.register(_GreaterThan, factory)" in message
