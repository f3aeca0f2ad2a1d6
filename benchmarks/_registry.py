"""Benchmark inputs taken from the test registry (``tests/examples.py``).

Every ``Example`` of the registry becomes one benchmarked family: one of its parameter sets
(the one with the most entries), as a :class:`Spec` that builds the same distribution with
aleatorch or with ``torch.distributions`` (nested distributions and transforms included).
:func:`batched` repeats its parameters up to about ``n`` entries (materialised, contiguous)
for the large-tensor cases, and :func:`rng_floor` says which uniforms and normals a sampler
needs at least (the floor a sampler is compared with; see ``FLOORS``).
"""

from __future__ import annotations

import functools
import inspect
import math
import pathlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributions as T

_TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

import examples as _examples  # noqa: E402  (tests/ must be on the path first)

import aleatorch as D  # noqa: E402

__all__ = [
    "FLOORS",
    "Family",
    "Spec",
    "batched",
    "families",
    "float64_pair",
    "floor_description",
    "leaves",
    "rng_floor",
    "torch_class",
    "with_fresh_leaves",
]


@dataclass
class Spec:
    """A distribution as a class and its keyword arguments; a nested distribution is a Spec,
    a transform stays the aleatorch object (converted for torch by :func:`_torch_transform`).
    """

    cls: type
    kwargs: dict[str, Any]

    def build(self, side: str, validate_args: bool | None = None) -> Any:
        """``side``: ``"ours"`` (aleatorch) or ``"torch"``; raises LookupError when torch
        has no such family."""
        return self.builder(side)(validate_args)

    def builder(self, side: str) -> Callable[[bool | None], Any]:
        """``validate_args -> distribution``, with everything that a user would not redo
        per call (class look-up, transform conversion) done once: the timed constructor
        calls are the distribution's own (and those of its nested distributions)."""
        cls = self.cls if side == "ours" else torch_class(self.cls.__name__)
        static: dict[str, Any] = {}
        nested: dict[str, Callable[[bool | None], Any]] = {}
        for k, v in self.kwargs.items():
            if isinstance(v, Spec):
                nested[k] = v.builder(side)
            elif side == "torch" and _is_transforms(v):
                static[k] = [_torch_transform(t) for t in v]
            else:
                static[k] = v
        if not nested:
            return lambda validate_args=None: cls(**static, validate_args=validate_args)

        def build(validate_args: bool | None = None) -> Any:
            inner = {k: b(validate_args) for k, b in nested.items()}
            return cls(**static, **inner, validate_args=validate_args)

        return build

    def to(self, dtype: torch.dtype) -> Spec:
        """The same spec with its floating tensors (nested ones included) in ``dtype``."""
        kwargs = {}
        for k, v in self.kwargs.items():
            if isinstance(v, Spec):
                v = v.to(dtype)
            elif isinstance(v, torch.Tensor) and v.is_floating_point():
                v = v.to(dtype)
            kwargs[k] = v
        return Spec(self.cls, kwargs)

    def label(self) -> str:
        """``Independent(Normal)``, ``TransformedDistribution(Normal; Affine,Exp)``, ..."""
        inner = [v.label() for v in self.kwargs.values() if isinstance(v, Spec)]
        for v in self.kwargs.values():
            if _is_transforms(v):
                names = [type(t).__name__.removesuffix("Transform") for t in v]
                inner.append(",".join(names))
        name = self.cls.__name__
        return f"{name}({'; '.join(inner)})" if inner else name


@dataclass
class Family:
    """One registry Example: its label and the Spec of its chosen parameter set."""

    label: str
    spec: Spec


def _is_transforms(v: Any) -> bool:
    return isinstance(v, list | tuple) and bool(v) and isinstance(v[0], D.transforms.Transform)


@functools.cache
def torch_class(name: str) -> type:
    """The ``torch.distributions`` class of that name (some, like LogitRelaxedBernoulli,
    live only in a submodule)."""
    modules = [T] + [
        mod for mod_name, mod in list(sys.modules.items()) if mod_name.startswith(f"{T.__name__}.")
    ]
    for mod in modules:
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and issubclass(cls, T.Distribution):
            return cls
    raise LookupError(f"torch.distributions has no {name}")


def _torch_transform(t: Any) -> Any:
    """The torch transform of the same class, built from the attributes its constructor
    names (ComposeTransform's parts converted too)."""
    cls = getattr(T.transforms, type(t).__name__, None)
    if cls is None:
        raise LookupError(f"torch.distributions.transforms has no {type(t).__name__}")
    kwargs = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not hasattr(t, p.name):
            continue
        v = getattr(t, p.name)
        if isinstance(v, D.transforms.Transform):
            v = _torch_transform(v)
        elif _is_transforms(v):
            v = [_torch_transform(x) for x in v]
        kwargs[p.name] = v
    return cls(**kwargs)


def _spec(cls: type, params: dict[str, Any], dtype: torch.dtype) -> Spec:
    recipes = _examples._RECIPES
    kwargs = {}
    for k, v in params.items():
        if id(v) in recipes:
            inner_cls, inner = recipes[id(v)]
            v = _spec(inner_cls, inner, dtype)
        else:
            v = _examples.to_tensors({k: v}, dtype)[k]
            if isinstance(v, torch.Tensor):
                v = v.detach().to(torch.get_default_device())
        kwargs[k] = v
    return Spec(cls, kwargs)


def _size(spec: Spec) -> int:
    """Entries of the distribution (batch x event) or of its largest parameter, once
    broadcast to the batch shape."""
    d = spec.build("ours", validate_args=False)
    one = _materialise(spec, d.expand(d.batch_shape))
    sizes = [math.prod(d.batch_shape + d.event_shape)]
    sizes += [t.numel() for t in leaves(one, differentiable=False)]
    return max(sizes)


def families(dtype: torch.dtype = torch.float32) -> list[Family]:
    """One Family per registry Example, labelled by class (and nested classes/transforms);
    the parameter set with the most entries (ties: the first)."""
    out: list[Family] = []
    seen: dict[str, int] = {}
    for ex in _examples.EXAMPLES:
        specs = [_spec(ex.cls, p, dtype) for p in ex.params]
        sizes = []
        for s in specs:
            try:
                sizes.append(_size(s))
            except Exception:  # an invalid set: never chosen
                sizes.append(-1)
        spec = specs[max(range(len(specs)), key=lambda i: (sizes[i], -i))]
        label = spec.label()
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        out.append(Family(label, spec))
    return out


def float64_pair(spec: Spec, method: str, value: torch.Tensor | None = None) -> tuple:
    """``(ours, torch)``: ``method`` (``log_prob`` of ``value``, or ``entropy``) computed in
    float64 on both sides (the arbiter when the float32 results disagree); None for a side
    that raises."""
    if value is not None and value.is_floating_point():
        value = value.double()
    args = () if value is None else (value,)
    out = []
    for side in ("ours", "torch"):
        try:
            d = spec.to(torch.float64).build(side, validate_args=False)
            out.append(getattr(d, method)(*args))
        except Exception:  # noqa: BLE001  (no arbiter from that side)
            out.append(None)
    return tuple(out)


def leaves(spec: Spec, differentiable: bool = True) -> list[torch.Tensor]:
    """The floating tensors of the spec (nested ones included); with ``differentiable``,
    only those whose constraint is continuous (not Binomial's total_count)."""
    out = []
    for k, v in spec.kwargs.items():
        if isinstance(v, Spec):
            out += leaves(v, differentiable)
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            constraint = spec.cls.arg_constraints.get(k)
            if not differentiable or (constraint is not None and not constraint.is_discrete):
                out.append(v)
    return out


def with_fresh_leaves(spec: Spec) -> tuple[Spec, list[torch.Tensor]]:
    """The same spec whose differentiable tensors are new leaves requiring grad."""
    fresh: list[torch.Tensor] = []
    return _fresh_copy(spec, {id(t) for t in leaves(spec)}, fresh), fresh


def _fresh_copy(s: Spec, grads: set[int], fresh: list[torch.Tensor]) -> Spec:
    # A module-level function, not a closure that calls itself: such a closure is a reference
    # cycle holding ``fresh`` (the leaves and, after backward, their grads) until the cyclic
    # collector runs, which the timing loops disable, so every timed call leaked its buffers
    # and the next call's came from fresh pages (page faults on both sides, unequally).
    kwargs = {}
    for k, v in s.kwargs.items():
        if isinstance(v, Spec):
            v = _fresh_copy(v, grads, fresh)
        elif isinstance(v, torch.Tensor) and id(v) in grads:
            v = v.detach().requires_grad_()
            fresh.append(v)
        kwargs[k] = v
    return Spec(s.cls, kwargs)


def batched(spec: Spec, n: int) -> Spec:
    """The spec with a new leading batch dimension so that it holds about ``n`` entries:
    aleatorch's ``expand`` gives the parameters their batched shapes, which are then
    materialised (``contiguous``) so that every entry is really read."""
    d = spec.build("ours", validate_args=False)
    m = max(1, round(n / _size(spec)))
    big = d.expand(torch.Size([m]) + d.batch_shape)
    out = _materialise(spec, big)
    check = out.build("ours", validate_args=False)
    if check.batch_shape != big.batch_shape:
        raise RuntimeError(f"batched {spec.label()}: {check.batch_shape} != {big.batch_shape}")
    return out


# constructor argument -> attribute, where they differ
_ATTRIBUTE = {"base_distribution": "base_dist"}


def _materialise(spec: Spec, big: Any) -> Spec:
    kwargs = {}
    for k, v in spec.kwargs.items():
        if isinstance(v, Spec):
            v = _materialise(v, getattr(big, _ATTRIBUTE.get(k, k)))
        elif isinstance(v, torch.Tensor):
            v = getattr(big, _ATTRIBUTE.get(k, k)).detach().contiguous()
        kwargs[k] = v
    return Spec(spec.cls, kwargs)


# ------------------------------------------------------------------------- sampler floors

# A floor is a list of draws, (kind, count) with kind "rand" or "randn", for ``draws``
# samples of a distribution ``d`` (each sample has d.event_shape entries); plus, for the
# families that must read a whole probability vector per draw, one read of it ("read", the
# tensor), and for those whose output is much larger than their draws, one write of it
# ("write", the number of entries).
Draws = list[tuple[str, Any]]


def _entries(d: Any, draws: int) -> int:
    return draws * math.prod(d.event_shape)


def _per_entry(*kinds: str) -> Callable[[Any, int], Draws]:
    return lambda d, draws: [(k, _entries(d, draws)) for k in kinds]


_GAMMA = ("randn", "rand")  # Marsaglia-Tsang: one normal and one uniform per round


def _categorical(d: Any, draws: int) -> Draws:
    return [("rand", draws), ("read", d.probs)]


def _one_hot(d: Any, draws: int) -> Draws:
    """A categorical draw, and writing its one-hot vector (K entries per draw)."""
    return _categorical(d, draws) + [("write", _entries(d, draws))]


def _multinomial(d: Any, draws: int) -> Draws:
    k = d.event_shape[-1]
    return [("rand", draws * max(k - 1, 1)), ("read", d.probs)]


def _wishart(d: Any, draws: int) -> Draws:
    p = d.event_shape[-1]
    return [("randn", draws * p * (p + 1) // 2), ("rand", draws * p)]


def _lkj(d: Any, draws: int) -> Draws:
    p = d.event_shape[-1]
    return [("randn", draws * (p * (p - 1) // 2 + 2 * (p - 1))), ("rand", draws * 2 * (p - 1))]


def _low_rank(d: Any, draws: int) -> Draws:
    return [("randn", draws * (d.cov_factor.shape[-2] + d.cov_factor.shape[-1]))]


def _logistic_normal(d: Any, draws: int) -> Draws:
    return [("randn", draws * (d.event_shape[-1] - 1))]


def _base(d: Any, draws: int) -> Draws:
    """Independent, TransformedDistribution: the base's floor, for as many base samples."""
    base = d.base_dist
    per_draw = math.prod(base.batch_shape) // max(math.prod(d.batch_shape), 1)
    return rng_floor(base, draws * per_draw)


def _mixture(d: Any, draws: int) -> Draws:
    # one component per draw: the component family's floor for ``draws`` samples
    return _categorical(d.mixture_distribution, draws) + rng_floor(d.component_distribution, draws)


#: family -> (draws function, what the floor is, in words).
FLOORS: dict[str, tuple[Callable[[Any, int], Draws], str]] = {}


def _register(names: str, fn: Callable[[Any, int], Draws], words: str) -> None:
    for name in names.split():
        FLOORS[name] = (fn, words)


_register(
    "Uniform Exponential Laplace Cauchy HalfCauchy Gumbel Weibull Pareto Kumaraswamy "
    "GeneralizedPareto Bernoulli Geometric ContinuousBernoulli",
    _per_entry("rand"),
    "one uniform per entry (inversion)",
)
_register("Poisson Binomial", _per_entry("rand"), "one uniform per entry (inversion)")
_register(
    "RelaxedBernoulli LogitRelaxedBernoulli RelaxedOneHotCategorical ExpRelaxedCategorical",
    _per_entry("rand"),
    "one uniform per entry (the logistic or Gumbel noise)",
)
_register(
    "Normal LogNormal HalfNormal MultivariateNormal",
    _per_entry("randn"),
    "one normal per entry",
)
_register("Gamma Chi2 InverseGamma Dirichlet", _per_entry(*_GAMMA), "one gamma per entry")
_register("Beta FisherSnedecor", _per_entry(*_GAMMA, *_GAMMA), "two gammas per entry")
_register("StudentT", _per_entry("randn", *_GAMMA), "one normal and one gamma per entry")
_register("NegativeBinomial", _per_entry(*_GAMMA, "rand"), "one gamma and one uniform per entry")
_register("VonMises", _per_entry("rand", "rand", "rand"), "three uniforms per entry")
_register("Categorical", _categorical, "one uniform per draw and one read of the probabilities")
_register(
    "OneHotCategorical OneHotCategoricalStraightThrough",
    _one_hot,
    "one uniform per draw, one read of the probabilities, one write of the one-hot output",
)
_register("Multinomial", _multinomial, "k-1 uniforms per draw and one read of the probabilities")
_register("Wishart", _wishart, "p(p+1)/2 normals and p uniforms per matrix (Bartlett)")
_register("LKJCholesky", _lkj, "the normals and the p-1 betas of the onion method")
_register("LowRankMultivariateNormal", _low_rank, "d + rank normals per draw")
_register("LogisticNormal", _logistic_normal, "k-1 normals per draw")
_register("Independent", _base, "the base's")
_register("TransformedDistribution", _base, "the base's")
_register("MixtureSameFamily", _mixture, "a categorical draw and one component's floor")

_DEFAULT = (_per_entry("rand"), "default: one uniform per entry")


def rng_floor(d: Any, draws: int | None = None) -> Draws:
    """The draws of the floor of ``d.sample()`` (``draws`` samples; default one batch)."""
    if draws is None:
        draws = math.prod(d.batch_shape)
    fn, _ = FLOORS.get(type(d).__name__, _DEFAULT)
    return fn(d, draws)


def floor_op(d: Any, dtype: torch.dtype) -> Callable[[], None]:
    """The floor of ``d.sample()`` as one call: each draw of :func:`rng_floor` made (in
    ``dtype``), each read done (a reduction), each write done (a zero-filled output)."""
    ops = []
    for kind, x in rng_floor(d):
        if kind == "read":
            ops.append(lambda t=x: t.sum())
        elif kind == "write":
            ops.append(lambda n=x: torch.zeros(n, dtype=dtype))
        else:
            ops.append(lambda n=x, f=getattr(torch, kind): f(n, dtype=dtype))

    def floor() -> None:
        for op in ops:
            op()

    return floor


def floor_description(d: Any) -> str:
    """What the floor of ``d.sample()`` is, in words."""
    words = FLOORS.get(type(d).__name__, _DEFAULT)[1]
    if hasattr(d, "base_dist") and words == "the base's":
        return f"the base's: {floor_description(d.base_dist)}"
    return words
