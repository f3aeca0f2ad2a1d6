"""The caching rule: a cached term gives the same numbers and gradients as recomputing.

Whatever the grad mode of the first call (``no_grad``, ``inference_mode``), after in-place
updates of the parameters, and under ``torch.func``/``torch.compile`` (see
``Distribution._cached`` and ``docs/design.md``). The oracle is always a fresh instance built
from the same tensors: it has nothing cached.
"""

from __future__ import annotations

import pytest
import torch
from examples import EXAMPLES, case_id, example_cases, to_tensors

import aleatorch as D

CASES = example_cases()


@pytest.fixture(autouse=True)
def cache_everything(monkeypatch):
    """Exercise the cache on the registry's small parameters too (by default, parameters of
    fewer than ``_cache_min_numel`` entries are recomputed, never cached)."""
    monkeypatch.setattr(D.Distribution, "_cache_min_numel", 0)


# Families that normalize their parameters into new tensors at construction, as torch does:
# an in-place update of the caller's tensor is not seen, cached or not.
NORMALIZING = {
    "Categorical",
    "Multinomial",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "ExpRelaxedCategorical",
    "RelaxedOneHotCategorical",
    # its mixture_distribution is a Categorical
    "MixtureSameFamily",
}


def _methods(d):
    """Calls of ``d`` that read parameter-only terms, each returning a tensor (or None)."""
    x = d.sample((3,), generator=torch.Generator().manual_seed(1))
    calls = {"log_prob": lambda dist: dist.log_prob(x)}
    for name in ("entropy", "cdf", "log_cdf", "log_survival_function"):
        if name == "entropy":
            calls[name] = lambda dist: dist.entropy()
        else:
            calls[name] = lambda dist, name=name: getattr(dist, name)(x)
    for name in ("mean", "variance"):
        calls[name] = lambda dist, name=name: getattr(dist, name)
    return calls


def _outputs(d, calls):
    """Each call's result, or None where the family does not implement it."""
    out = {}
    for name, call in calls.items():
        try:
            out[name] = call(d)
        except NotImplementedError:
            out[name] = None
    return out


def _grads(value, leaves, retain_graph=False):
    if value is None or not value.requires_grad:
        return None
    try:
        grads = torch.autograd.grad(
            value.sum(), leaves, allow_unused=True, retain_graph=retain_graph
        )
    except NotImplementedError:  # torch's igamma has no derivative in the shape parameter
        return "no derivative"
    return [torch.zeros_like(l) if g is None else g for g, l in zip(grads, leaves)]


def _fresh_with_grad(ex, i):
    params, leaves = ex.grad_params(i)
    return ex.cls(**params), leaves


def _has_grad_leaves(case):
    ex, i = case
    return bool(ex.grad_params(i)[1])


GRAD_CASES = [c for c in CASES if _has_grad_leaves(c)]


@pytest.mark.parametrize("first_call", ["no_grad", "inference_mode", "grad"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
def test_gradients_do_not_depend_on_earlier_calls(case, first_call):
    """A first call under no_grad/inference_mode must not leave a graph-less term behind,
    and a first call with grad must not leave a graph a second backward would trip on."""
    ex, i = case
    d, leaves = _fresh_with_grad(ex, i)
    calls = _methods(d)
    mode = {
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
        "grad": torch.enable_grad,
    }[first_call]
    # Families that normalize their parameters at construction share that graph between
    # calls, as in torch; the others must build a new graph at each call.
    retain = ex.cls.__name__ in NORMALIZING
    with mode():
        first = _outputs(d, calls)
    if first_call == "grad":  # backpropagate once through everything
        for value in first.values():
            _grads(value, leaves, retain)
    again = _outputs(d, calls)
    fresh, fresh_leaves = _fresh_with_grad(ex, i)
    expected = _outputs(fresh, calls)
    for name, value in again.items():
        if expected[name] is None:
            assert value is None
            continue
        torch.testing.assert_close(value, expected[name], equal_nan=True, msg=name)
        got = _grads(value, leaves, retain)
        want = _grads(expected[name], fresh_leaves, retain)
        assert (got is None) == (want is None), name
        assert isinstance(got, str) == isinstance(want, str), name
        for g, w in zip(got or [], want or []) if not isinstance(got, str) else ():
            torch.testing.assert_close(g, w, equal_nan=True, msg=f"d {name}")


def _float_tensors(params):
    """The floating-point parameter tensors of a float64 build (nested bases included), but
    counts, which must stay integers."""
    out = {}
    for name, v in params.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and name != "total_count":
            out[id(v)] = v
        elif isinstance(v, D.Distribution):
            # A nested base stores broadcast views: update the tensors they view.
            roots = (t if t._base is None else t._base for t in _float_tensors(v.__dict__).values())
            out.update({id(t): t for t in roots})
    return out


def _shares_memory(d, tensors):
    """Whether ``d`` stores a view of each of the given tensors."""
    stored = {t.untyped_storage().data_ptr() for t in d._cache_sources()}
    return all(t.untyped_storage().data_ptr() in stored for t in tensors)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_in_place_parameter_updates_are_seen(case):
    ex, i = case
    params = to_tensors(ex.params[i], torch.float64)
    tensors = list(_float_tensors(params).values())
    assert tensors, "every example has a floating-point parameter"
    d = ex.cls(**params, validate_args=False)
    if ex.cls.__name__ in NORMALIZING:
        assert not _shares_memory(d, tensors)
        return
    if not isinstance(d, D.Independent):
        assert _shares_memory(d, tensors), "a parameter was copied: is it in NORMALIZING?"
    calls = _methods(d)
    before = _outputs(d, calls)  # fills every cache
    # The tensors may be the registry's own (float64 ones come back from to_tensors as the
    # same objects, and nested bases keep them): restore them for the tests that follow.
    saved = [t.detach().clone() for t in tensors]
    try:
        with torch.no_grad():
            for t in tensors:
                t.mul_(0.8)  # keeps positive, (0, 1), ordered and positive-definite values
        after = _outputs(d, calls)
        expected = _outputs(ex.cls(**params, validate_args=False), calls)
    finally:
        with torch.no_grad():
            for t, value in zip(tensors, saved):
                t.copy_(value)
    for name, value in after.items():
        if expected[name] is not None:
            torch.testing.assert_close(value, expected[name], equal_nan=True, msg=name)
    assert not torch.equal(after["log_prob"], before["log_prob"]), "the update changed nothing"


def test_gamma_reproducer_from_the_issue():
    a = torch.tensor(2.0, requires_grad=True)
    r = torch.tensor(1.0, requires_grad=True)
    d = D.Gamma(a, r)
    with torch.no_grad():
        d.log_prob(torch.tensor(1.5))
    grads = torch.autograd.grad(d.log_prob(torch.tensor(1.5)), [a, r])
    # d/da [a log r - lgamma(a) + (a - 1) log x - r x] = log r - digamma(a) + log x
    expected_a = torch.log(r) - torch.digamma(a) + torch.log(torch.tensor(1.5))
    torch.testing.assert_close(grads[0], expected_a.detach())
    torch.testing.assert_close(grads[1], (a / r - 1.5).detach())


def test_requires_grad_switched_on_after_a_cached_call():
    rate = torch.tensor([1.0, 2.0])
    d = D.Poisson(rate)
    x = torch.tensor([1.0, 3.0])
    d.log_prob(x)  # cached without a graph
    rate.requires_grad_()
    (grad,) = torch.autograd.grad(d.log_prob(x).sum(), rate)
    torch.testing.assert_close(grad, (x / rate - 1).detach())


def test_terms_are_cached_while_the_parameters_are_unchanged():
    d = D.Beta(torch.tensor([2.0, 3.0]), torch.tensor([1.5, 0.5]))
    x = torch.tensor([0.3, 0.6])
    d.log_prob(x)
    key, value, _ = d.__dict__["_cache"]["log_beta"]
    d.log_prob(x)
    assert d.__dict__["_cache"]["log_beta"][1] is value  # reused, not recomputed


def test_no_cache_is_filled_under_torch_func_or_compile_or_inference_mode():
    rate = torch.tensor([1.0, 2.0])
    x = torch.tensor([1.0, 3.0])
    d = D.Poisson(rate, validate_args=False)
    with torch.inference_mode():
        d.log_prob(x)
    assert not d.__dict__.get("_cache")
    torch.func.vmap(d.log_prob)(x.unsqueeze(-1).expand(2, 2))
    assert not d.__dict__.get("_cache")
    grad = torch.func.grad(lambda r: D.Poisson(r).log_prob(x).sum())(rate)
    torch.testing.assert_close(grad, x / rate - 1)


def test_pickling_drops_the_cache():
    import pickle

    d = D.Gamma(torch.tensor([2.0]), torch.tensor([1.0]))
    d.log_prob(torch.tensor([1.0]))
    assert "_cache" in d.__dict__
    e = pickle.loads(pickle.dumps(d))
    assert "_cache" not in e.__dict__
    torch.testing.assert_close(e.log_prob(torch.tensor([1.0])), d.log_prob(torch.tensor([1.0])))


def test_expand_keeps_only_shape_free_terms():
    cov = torch.eye(3, dtype=torch.float64) * 2
    d = D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=cov)
    factor = d._unbroadcasted_scale_tril
    e = d.expand((4,))
    assert e._unbroadcasted_scale_tril is factor
    with torch.no_grad():
        cov.mul_(4)  # seen by both, through the shared version counter
    torch.testing.assert_close(e._unbroadcasted_scale_tril, torch.linalg.cholesky(cov))
    torch.testing.assert_close(d._unbroadcasted_scale_tril, torch.linalg.cholesky(cov))


def test_lazy_property_on_other_objects_keeps_torch_behaviour():
    from aleatorch.utils import lazy_property

    class Holder:
        def __init__(self, t):
            self.t = t

        @lazy_property
        def doubled(self):
            return self.t * 2

    h = Holder(torch.tensor(1.0, requires_grad=True))
    with torch.no_grad():
        value = h.doubled
    assert value.requires_grad and h.__dict__["doubled"] is value


def test_registry_has_cases_with_gradients():
    assert {ex.cls for ex, _ in GRAD_CASES} == {ex.cls for ex in EXAMPLES}


def test_small_parameters_are_recomputed_large_ones_cached(monkeypatch):
    monkeypatch.undo()  # the default threshold
    x = torch.tensor(1.5)
    small = D.Gamma(torch.full((10,), 2.0), 1.0)
    small.log_prob(x)
    assert not small.__dict__.get("_cache")
    n = D.Distribution._cache_min_numel
    large = D.Gamma(torch.full((n,), 2.0), 1.0)
    large.log_prob(x)
    assert {"log_normalizer", "textbook_const"} & set(large.__dict__["_cache"])


def test_compiled_calls_fill_no_cache_and_give_eager_gradients():
    a = torch.tensor([2.0, 0.5], requires_grad=True)
    r = torch.tensor([1.0, 3.0], requires_grad=True)
    x = torch.tensor([1.5, 0.2])
    d = D.Beta(a, r, validate_args=False)
    compiled = torch.compile(lambda value: d.log_prob(value), backend="eager", fullgraph=True)
    with torch.no_grad():
        compiled(x)
    assert not d.__dict__.get("_cache")
    got = torch.autograd.grad(compiled(x.clamp(max=0.9)).sum(), [a, r])
    fresh_a, fresh_r = a.detach().requires_grad_(), r.detach().requires_grad_()
    fresh = D.Beta(fresh_a, fresh_r, validate_args=False).log_prob(x.clamp(max=0.9)).sum()
    for g, w in zip(got, torch.autograd.grad(fresh, [fresh_a, fresh_r])):
        torch.testing.assert_close(g, w)
