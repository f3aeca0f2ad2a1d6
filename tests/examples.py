"""The registry of example distributions that the generic conformance suite runs.

Each public distribution registers an :class:`Example`: parameter sets (scalar, batched,
broadcast, both parametrizations), a reference built from scipy or closed forms, and bad
parameters with the words the error must contain. A new distribution gets most of its
coverage by adding an Example here (in the ``examples_*.py`` file of its group). KL pairs are
registered here too: :data:`KL` merges every ``kl_examples_*.py`` group (see
:class:`KLExamples`).

Parameter conventions: in ``params`` a Python list or float becomes a float64 tensor (the
dtype of the reference comparisons), an int stays an int, a tensor is converted to float64.
``reference(numpy_params)`` returns an object with any of the methods ``log_prob(x)``,
``cdf(x)``, ``sf(x)``, ``icdf(q)``, ``entropy()``, ``mean()``, ``variance()``, each taking
and returning numpy arrays broadcast like the distribution's ``batch_shape``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import aleatorch as D


@dataclass
class Example:
    """Examples of one distribution class for the conformance suite.

    Attributes:
        cls: the distribution class.
        params: keyword-argument dicts, each building one instance.
        reference: ``numpy_params -> reference object`` (see the module docstring), or None.
        bad_params: ``(kwargs, words)`` pairs: building with kwargs must raise a ValueError
            whose message contains every string in ``words``.
        rtol: relative tolerance of the float64 comparisons with the reference.
        atol: absolute tolerance of the float64 comparisons with the reference.
        missing: methods the family does not have (yet), e.g. ``{"cdf", "icdf"}`` for a
            multivariate family: the suite checks that they raise NotImplementedError.
        float32_rtol: relative tolerance of float32 results against the float64 reference
            (evaluated at the float32-rounded parameters and points): about 80 float32 ulps.
        float32_atol: absolute tolerance of float32 log-densities and entropies (log scale,
            where a relative tolerance means nothing near 0), and of cdfs. Means and
            variances are compared with ``float32_rtol`` alone. Raise either one only for the
            example that needs it, with the reason.
        known_bugs: ``(params index, method) -> description`` of a known library bug that
            makes that comparison with the reference fail: the suite expects the failure and
            reports the case as xfailed (and fails once the bug is fixed, so that the entry
            is removed). Methods: the summaries ``mean``, ``variance``, ``entropy``, and
            ``float32 mean``, ``float32 variance`` and ``entropy gradient``.
    """

    cls: type
    params: list[dict[str, Any]]
    reference: Callable[[dict[str, np.ndarray]], Any] | None = None
    bad_params: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    rtol: float = 1e-6
    atol: float = 1e-9
    missing: set[str] = field(default_factory=set)
    float32_rtol: float = 1e-5
    float32_atol: float = 1e-5
    known_bugs: dict[tuple[int, str], str] = field(default_factory=dict)

    def build(self, index: int, dtype: torch.dtype = torch.float64, **kwargs: Any) -> Any:
        return self.cls(**to_tensors(self.params[index], dtype), **kwargs)

    def leaves(self, index: int) -> list[Leaf]:
        """The differentiable parameters of ``params[index]`` (nested ones included), as
        float64 tensors, in the order :meth:`build_from_leaves` takes them. Parameters with
        a discrete constraint (Binomial's total_count) are not differentiable."""
        return _leaves(self.cls, self.params[index], "")

    def build_from_leaves(self, index: int, values: list[torch.Tensor], **kwargs: Any) -> Any:
        """The distribution of ``params[index]`` with its :meth:`leaves` replaced by
        ``values`` (e.g. leaves that require grad, or perturbed ones); ``kwargs`` go to the
        outer constructor and to the nested ones."""
        it = iter(values)
        out = self.cls(**_assemble(self.cls, self.params[index], it, kwargs), **kwargs)
        assert next(it, None) is None, "more values than leaves"
        return out

    def grad_params(self, index: int) -> tuple[dict[str, Any], list[torch.Tensor]]:
        """float64 parameters whose floating tensors (nested ones included) are fresh leaves
        that require grad, and the list of those leaves."""
        return _grad_params(self.params[index])

    def numpy_params(self, index: int, rounded_to: torch.dtype | None = None) -> dict[str, Any]:
        """Parameters as float64 numpy arrays; a :func:`nested` distribution as ``(cls, its
        numpy params)``. ``rounded_to``: round floating parameters to that dtype first (the
        parameters a float32 instance really has), then widen them to float64 again."""
        out = {}
        for k, v in self.params[index].items():
            if v is None:
                continue
            if id(v) in _RECIPES:
                cls, params = _RECIPES[id(v)]
                v = (cls, Example(cls, [params]).numpy_params(0, rounded_to))
            elif _numbers(v) or (isinstance(v, torch.Tensor) and v.is_floating_point()):
                # scipy computes in the dtype it is given: compare against float64 always.
                v = torch.as_tensor(v, dtype=torch.float64).detach().cpu()
                v = (v if rounded_to is None else v.to(rounded_to).double()).numpy()
            elif isinstance(v, torch.Tensor):
                v = v.numpy()
            else:
                v = np.asarray(v)
            out[k] = v
        return out


@dataclass
class Leaf:
    """A differentiable parameter: its name (``base_distribution.loc`` for a nested one), its
    float64 value and its constraint (which says e.g. whether the matrix is symmetric)."""

    name: str
    value: torch.Tensor
    constraint: Any


def _leaves(cls: type, params: dict[str, Any], prefix: str) -> list[Leaf]:
    out = []
    for k, v in params.items():
        if id(v) in _RECIPES:
            inner_cls, inner = _RECIPES[id(v)]
            out += _leaves(inner_cls, inner, f"{prefix}{k}.")
            continue
        constraint = cls.arg_constraints.get(k)
        if constraint is None or constraint.is_discrete:
            continue
        if _numbers(v) or (isinstance(v, torch.Tensor) and v.is_floating_point()):
            out.append(
                Leaf(prefix + k, torch.as_tensor(v, dtype=torch.float64).detach(), constraint)
            )
    return out


def _assemble(cls: type, params: dict[str, Any], values: Any, kwargs: dict[str, Any]) -> dict:
    out = {}
    for k, v in params.items():
        if id(v) in _RECIPES:
            inner_cls, inner = _RECIPES[id(v)]
            v = inner_cls(**_assemble(inner_cls, inner, values, kwargs), **kwargs)
        elif (constraint := cls.arg_constraints.get(k)) is not None and not constraint.is_discrete:
            if _numbers(v) or (isinstance(v, torch.Tensor) and v.is_floating_point()):
                v = next(values)
        elif _numbers(v):
            v = torch.tensor(v, dtype=torch.float64)
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            v = v.detach().double()
        out[k] = v
    return out


# id(distribution) -> (class, params) of the distributions made by `nested`.
_RECIPES: dict[int, tuple[type, dict[str, Any]]] = {}


def nested(cls: type, **params: Any) -> Any:
    """A float64 ``cls(**params)`` to use as a parameter (e.g. Independent's base); the suite
    rebuilds it in other dtypes and with gradient leaves."""
    dist = cls(**to_tensors(params, torch.float64))
    _RECIPES[id(dist)] = (cls, params)
    return dist


def _grad_params(params: dict[str, Any]) -> tuple[dict[str, Any], list[torch.Tensor]]:
    out, leaves = {}, []
    for k, v in params.items():
        if id(v) in _RECIPES:
            cls, inner = _RECIPES[id(v)]
            inner, inner_leaves = _grad_params(inner)
            v = cls(**inner)
            leaves += inner_leaves
        elif _numbers(v):
            v = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            v = v.detach().double().requires_grad_()
        if isinstance(v, torch.Tensor) and v.requires_grad:
            leaves.append(v)
        out[k] = v
    return out, leaves


def _numbers(v: Any) -> bool:
    """A float or a list of numbers (not a list of transforms, which stays as it is)."""
    if isinstance(v, float):
        return True
    return isinstance(v, list) and not (v and isinstance(v[0], D.transforms.Transform))


def to_tensors(params: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if id(v) in _RECIPES:
            cls, inner = _RECIPES[id(v)]
            v = cls(**to_tensors(inner, dtype))
        elif _numbers(v):
            v = torch.tensor(v, dtype=dtype)
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v
    return out


class ScipyReference:
    """Adapt a frozen scipy.stats distribution to the reference protocol."""

    def __init__(self, frozen: Any, discrete: bool = False):
        self.frozen = frozen
        self.discrete = discrete

    def log_prob(self, x):
        return self.frozen.logpmf(x) if self.discrete else self.frozen.logpdf(x)

    def cdf(self, x):
        return self.frozen.cdf(x)

    def sf(self, x):
        return self.frozen.sf(x)

    def icdf(self, q):
        return self.frozen.ppf(q)

    def entropy(self):
        return self.frozen.entropy()

    def mean(self):
        return self.frozen.mean()

    def variance(self):
        return self.frozen.var()


def scipy_reference(make: Callable[[dict[str, np.ndarray]], Any], discrete: bool = False):
    """``reference`` for an Example from ``numpy_params -> frozen scipy distribution``."""
    return lambda p: ScipyReference(make(p), discrete=discrete)


def _all_examples() -> list[Example]:
    """Every ``tests/examples_*.py`` module's ``EXAMPLES``, in file-name order: a new group of
    families adds its file and nothing else."""
    import importlib
    import pathlib

    out: list[Example] = []
    for path in sorted(pathlib.Path(__file__).parent.glob("examples_*.py")):
        out += importlib.import_module(path.stem).EXAMPLES
    return out


EXAMPLES: list[Example] = _all_examples()


def public_distribution_classes() -> list[type]:
    """Every concrete public distribution class aleatorch exports."""
    abstract = {D.Distribution, D.ExponentialFamily}
    return [
        obj
        for name in D.__all__
        if isinstance(obj := getattr(D, name), type)
        and issubclass(obj, D.Distribution)
        and obj not in abstract
    ]


def example_cases() -> list[tuple[Example, int]]:
    return [(ex, i) for ex in EXAMPLES for i in range(len(ex.params))]


def case_id(case: tuple[Example, int]) -> str:
    ex, i = case
    return f"{ex.cls.__name__}-{i}"


# ------------------------------------------------------------------------ KL pairs


@dataclass
class KLExamples:
    """The KL examples of every ``tests/kl_examples_*.py`` group, merged (``tests/test_kl.py``
    runs them; ``scripts/feature_matrix.py`` counts them). Each group module defines
    ``FAMILIES``, ``EXAMPLES``, ``RANDOM``, ``ALWAYS_INFINITE`` and optionally
    ``MOMENT_INFINITE``, ``TORCH_LACKS``, ``TORCH_WRONG`` and ``REFERENCE_GRADIENT``.

    Attributes:
        families: class names whose pairs must include every pair torch registers among them.
        examples: ``(p name, q name) -> (D, t) -> (p, q)``, built with the module ``D``
            (aleatorch or torch.distributions) and the float64 leaf maker ``t``. A pair may
            be registered itself or reach a parent's pair by dispatch (Chi2 via Gamma).
        random: ``name -> (generator, batch shape) -> distribution`` with random parameters.
        always_infinite: pairs whose KL is ``+inf`` for every valid parameter.
        moment_infinite: pairs whose infinite entries come from an infinite moment of ``p``
            (every draw lies inside q's support), not from the supports.
        torch_lacks: pairs torch does not have (its ``kl_divergence`` raises): gradients are
            checked by finite differences.
        torch_wrong: ``pair -> reason``: torch answers, wrongly (the test expects the
            difference, and fails once torch is fixed).
        reference_gradient: ``pair -> (p, q) -> KL`` by an independent closed form, for the
            values and gradients where torch's are missing or wrong.
    """

    families: list[str] = field(default_factory=list)
    examples: dict[tuple[str, str], Callable] = field(default_factory=dict)
    random: dict[str, Callable] = field(default_factory=dict)
    always_infinite: set[tuple[str, str]] = field(default_factory=set)
    moment_infinite: set[tuple[str, str]] = field(default_factory=set)
    torch_lacks: set[tuple[str, str]] = field(default_factory=set)
    torch_wrong: dict[tuple[str, str], str] = field(default_factory=dict)
    reference_gradient: dict[tuple[str, str], Callable] = field(default_factory=dict)


def _all_kl_examples() -> KLExamples:
    """Every ``tests/kl_examples_*.py`` group, in file-name order (a later group's RANDOM
    entry for a name replaces an earlier one's); a pair may be defined by one group only."""
    import importlib
    import pathlib

    kl = KLExamples()
    for path in sorted(pathlib.Path(__file__).parent.glob("kl_examples_*.py")):
        group = importlib.import_module(path.stem)
        kl.families += [name for name in group.FAMILIES if name not in kl.families]
        twice = kl.examples.keys() & group.EXAMPLES.keys()
        assert not twice, f"{path.name} defines KL examples defined before: {sorted(twice)}"
        kl.examples.update(group.EXAMPLES)
        kl.random.update(group.RANDOM)
        kl.always_infinite |= group.ALWAYS_INFINITE
        kl.moment_infinite |= getattr(group, "MOMENT_INFINITE", set())
        kl.torch_lacks |= getattr(group, "TORCH_LACKS", set())
        kl.torch_wrong.update(getattr(group, "TORCH_WRONG", {}))
        kl.reference_gradient.update(getattr(group, "REFERENCE_GRADIENT", {}))
    return kl


KL: KLExamples = _all_kl_examples()
