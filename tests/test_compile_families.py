"""Every registered family under ``torch.compile`` and ``torch.func`` (issue 11, part 4).

For the first example of every family in the registry (tests/examples.py), with validation
off:

* ``log_prob``, ``sample``, ``rsample`` and ``entropy`` trace into one graph
  (``fullgraph=True``) and agree with eager; calling again with other parameter values does
  not recompile (a frame counter);
* ``torch.func.vmap`` over the parameters of ``log_prob`` agrees with a Python loop, and over
  ``rsample`` with ``randomness="different"`` gives independent draws per batch member.

With validation on, a compiled constructor (graph breaks allowed) still raises the example's
parameter errors. The eager-style backend keeps this module fast; the inductor backend runs
on a representative subset here and on every family under the ``inductor`` marker
(``make test-inductor``, not part of ``make test``: about a compile per family and method).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from examples import EXAMPLES
from torch._dynamo.testing import CompileCounter

from aleatorch.errors import AleatorchError

METHODS = ["log_prob", "sample", "rsample", "entropy"]
SAMPLE_SHAPE = (3,)


def _first_examples():
    seen = {}
    for ex in EXAMPLES:
        seen.setdefault(ex.cls.__name__, ex)
    return seen


FIRST = _first_examples()


def _values(ex):
    return [leaf.value for leaf in ex.leaves(0)]


def _perturbed(values):
    """Other parameter values in the same support (a positive factor keeps signs, order and
    positivity; validation is off, so simplex or matrix structure need not be kept)."""
    return [v * 1.0625 for v in values]


def _method_fn(ex, method, x):
    def fn(*values):
        d = ex.build_from_leaves(0, list(values), validate_args=False)
        if method == "log_prob":
            return d.log_prob(x)
        if method == "entropy":
            return d.entropy()
        return getattr(d, method)(SAMPLE_SHAPE)

    return fn


# Known gaps (issue 11), each a strict xfail: fixed, it fails until removed from here.
NOT_ONE_GRAPH: dict[tuple[str, str], str] = {}


def _cases():
    cases = []
    for name, ex in FIRST.items():
        d = ex.build(0, validate_args=False)
        for method in METHODS:
            if method == "rsample" and not d.has_rsample:
                continue
            if method == "entropy" and "entropy" in ex.missing:
                continue
            try:
                getattr(d, method)() if method != "log_prob" else None
            except NotImplementedError:
                continue
            cases.append(pytest.param(name, method, id=f"{name}-{method}"))
    return cases


def _one_graph_cases():
    cases = []
    for case in CASES:
        reason = NOT_ONE_GRAPH.get(tuple(case.values))
        if reason is not None:
            case = pytest.param(
                *case.values, id=case.id, marks=pytest.mark.xfail(strict=True, reason=reason)
            )
        cases.append(case)
    return cases


CASES = _cases()


def _setup(name, method):
    ex = FIRST[name]
    torch.manual_seed(0)
    x = ex.build(0, validate_args=False).sample()
    return ex, _method_fn(ex, method, x), _values(ex)


def _compare(method, compiled, eager):
    if method in ("log_prob", "entropy"):
        torch.testing.assert_close(compiled, eager, rtol=1e-10, atol=1e-12)
    else:
        assert compiled.shape == eager.shape and compiled.dtype == eager.dtype


@pytest.mark.parametrize("name, method", _one_graph_cases())
def test_one_graph_and_no_recompile(name, method):
    ex, fn, values = _setup(name, method)
    torch._dynamo.reset()
    counter = CompileCounter()
    compiled = torch.compile(fn, backend=counter, fullgraph=True)
    _compare(method, compiled(*values), fn(*values))
    other = _perturbed(values)
    _compare(method, compiled(*other), fn(*other))
    assert counter.frame_count == 1, f"{name}.{method} recompiled for new parameter values"


@pytest.mark.parametrize("name, method", [c for c in CASES if c.values[1] == "log_prob"])
def test_vmap_log_prob_over_parameters(name, method):
    ex, fn, values = _setup(name, method)
    stacked = [torch.stack([v, w]) for v, w in zip(values, _perturbed(values))]
    batched = torch.func.vmap(fn)(*stacked)
    looped = torch.stack([fn(*[s[i] for s in stacked]) for i in range(2)])
    torch.testing.assert_close(batched, looped, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, method", [c for c in CASES if c.values[1] == "rsample"])
def test_vmap_rsample_different_randomness(name, method):
    ex, fn, values = _setup(name, method)
    stacked = [torch.stack([v, v]) for v in values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # functorch's "no batching rule, slow fallback"
        draws = torch.func.vmap(fn, randomness="different")(*stacked)
    assert draws.shape[0] == 2 and draws.shape[1:] == fn(*values).shape
    # identical parameters, independent draws: the two members differ
    assert not torch.equal(draws[0], draws[1])


# vmap with only some inputs batched (the common use: one distribution, a batch of values;
# or one parameter swept): CPU eager shortcuts must not read or write in place what vmap
# batches, and fresh draws must differ per batch member ("different" randomness; 64 draws
# each, so that two members of a discrete family do not agree by chance).
DRAWS = (64,)


@pytest.mark.parametrize("name", list(FIRST))
def test_vmap_log_prob_over_values_with_fixed_parameters(name):
    ex = FIRST[name]
    values = _values(ex)
    torch.manual_seed(0)
    d = ex.build_from_leaves(0, values, validate_args=False)
    xs = torch.stack([d.sample(), d.sample()])
    batched = torch.func.vmap(lambda x: d.log_prob(x))(xs)
    torch.testing.assert_close(batched, torch.stack([d.log_prob(x) for x in xs]))


def _one_leaf_cases():
    cases = []
    for name, ex in FIRST.items():
        for i in range(len(_values(ex))):
            cases.append(pytest.param(name, i, id=f"{name}-{i}"))
    return cases


@pytest.mark.parametrize("name, leaf", _one_leaf_cases())
def test_vmap_over_one_parameter(name, leaf):
    ex = FIRST[name]
    values = _values(ex)
    torch.manual_seed(0)
    x = ex.build(0, validate_args=False).sample()

    def build(v):
        swapped = [*values[:leaf], v, *values[leaf + 1 :]]
        return ex.build_from_leaves(0, swapped, validate_args=False)

    swept = torch.stack([values[leaf], values[leaf] * 1.0625])
    batched = torch.func.vmap(lambda v: build(v).log_prob(x))(swept)
    torch.testing.assert_close(batched, torch.stack([build(v).log_prob(x) for v in swept]))
    methods = ["sample"] + (["rsample"] if build(values[leaf]).has_rsample else [])
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # functorch's "no batching rule, slow fallback"
            draws = torch.func.vmap(
                lambda v, method=method: getattr(build(v), method)(DRAWS), randomness="different"
            )(torch.stack([values[leaf], values[leaf]]))
        assert draws.shape[1:] == getattr(build(values[leaf]), method)(DRAWS).shape
        assert not torch.equal(draws[0], draws[1]), method  # independent draws


@pytest.mark.parametrize("name", list(FIRST))
def test_vmap_sample_with_nothing_batched(name):
    # randomness="different" with no batched input: each member still draws its own
    ex = FIRST[name]
    d = ex.build(0, validate_args=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draws = torch.func.vmap(lambda z: d.sample(DRAWS), randomness="different")(torch.zeros(2))
    assert draws.shape == (2, *d.sample(DRAWS).shape)
    assert not torch.equal(draws[0], draws[1])


BAD = [
    pytest.param(name, i, id=f"{name}-{i}")
    for name, ex in FIRST.items()
    for i in range(len(ex.bad_params))
]


@pytest.mark.parametrize("name, index", BAD)
def test_compiled_constructor_still_validates(name, index):
    from examples import to_tensors

    ex = FIRST[name]
    kwargs, words = ex.bad_params[index]
    tensors = to_tensors(kwargs, torch.float64)

    def build(params):
        return ex.cls(**params, validate_args=True).batch_shape

    torch._dynamo.reset()
    compiled = torch.compile(build, backend="eager")
    with pytest.raises((ValueError, AleatorchError)) as info:
        compiled(tensors)
    for word in words:
        assert word in str(info.value)


INDUCTOR_SUBSET = {
    ("Normal", "log_prob"),
    ("Gamma", "rsample"),
    ("Categorical", "sample"),
    ("Beta", "entropy"),
}


def _inductor(name, method):
    ex, fn, values = _setup(name, method)
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="inductor", fullgraph=True)
    _compare(method, compiled(*values), fn(*values))


@pytest.mark.parametrize("name, method", [c for c in CASES if tuple(c.values) in INDUCTOR_SUBSET])
def test_inductor_subset(name, method):
    _inductor(name, method)


@pytest.mark.inductor
@pytest.mark.parametrize("name, method", _one_graph_cases())  # fullgraph: the same gaps
def test_inductor_every_family(name, method):
    _inductor(name, method)
