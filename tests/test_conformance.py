"""The generic conformance suite: every registered example through every check.

References are scipy.stats or closed forms (see examples.py). Monte Carlo checks use fixed
seeds and tolerances of 6 standard errors estimated from the same samples, so a correct
implementation fails with probability well under 1e-6 per check.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from examples import EXAMPLES, Example, case_id, example_cases, public_distribution_classes

import aleatorch as D
from aleatorch.distribution import _overrides
from aleatorch.special.inverse import invert_cdf, support_bounds

CASES = example_cases()
N_POINTS = 50


def cases(predicate=lambda ex, d: True):
    """The (example, index) cases whose float64 instance satisfies ``predicate``."""
    return [c for c in CASES if predicate(c[0], c[0].build(c[1]))]


def univariate(ex, d):
    return d.event_shape == torch.Size()


def continuous_univariate(ex, d):
    return univariate(ex, d) and not d.support.is_discrete


def points(d, n=N_POINTS, seed=0):
    """Evaluation points: samples of the distribution (always inside the support)."""
    g = torch.Generator().manual_seed(seed)
    return d.sample((n,), generator=g)


def implements(ex, method):
    """Whether the example's distribution implements ``method`` (see ``Example.missing``)."""
    return method not in ex.missing


def raises_not_implemented(call):
    with pytest.raises(NotImplementedError):
        call()


def assert_close(actual, expected, ex: Example, what: str):
    actual = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else actual
    expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), np.shape(actual))
    np.testing.assert_allclose(actual, expected, rtol=ex.rtol, atol=ex.atol, err_msg=what)


def reference(ex, i):
    return ex.reference(ex.numpy_params(i)) if ex.reference else None


# ----------------------------------------------------------------- completeness


def test_every_public_distribution_has_an_example():
    covered = {ex.cls for ex in EXAMPLES}
    missing = [cls.__name__ for cls in public_distribution_classes() if cls not in covered]
    assert missing == [], f"distributions without an Example in tests/examples*.py: {missing}"


def test_every_example_has_bad_params_and_a_reference():
    for ex in EXAMPLES:
        assert ex.bad_params, f"{ex.cls.__name__} has no bad-parameter examples"
        assert ex.reference is not None, f"{ex.cls.__name__} has no reference"


# ----------------------------------------------------------------- shapes and sampling


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_sample_shape_dtype_and_support(case):
    ex, i = case
    d = ex.build(i)
    for sample_shape in [(), (2,), (3, 2)]:
        x = d.sample(sample_shape)
        assert x.shape == torch.Size(sample_shape) + d.batch_shape + d.event_shape
        assert bool(d.support.check(x).all()), f"samples outside the support: {x}"
    assert d.log_prob(x).shape == torch.Size((3, 2)) + d.batch_shape


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_generator_makes_sampling_reproducible(case):
    ex, i = case
    d = ex.build(i)
    a = d.sample((4,), generator=torch.Generator().manual_seed(7))
    b = d.sample((4,), generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    if d.has_rsample:
        c = d.rsample((4,), generator=torch.Generator().manual_seed(7))
        assert torch.equal(a, c.detach())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_float32_parameters_give_float32_results(case):
    ex, i = case
    d = ex.build(i, torch.float32)
    x = d.sample((3,))
    if not d.support.is_discrete:
        assert x.dtype == torch.float32
    assert d.log_prob(x).dtype == torch.float32
    assert torch.isfinite(d.log_prob(x)).all()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_expand_matches_the_original(case):
    ex, i = case
    d = ex.build(i)
    new_batch = torch.Size((2,)) + d.batch_shape
    e = d.expand(new_batch)
    assert type(e) is type(d)
    assert e.batch_shape == new_batch and e.event_shape == d.event_shape
    x = points(d, 5)
    torch.testing.assert_close(
        e.log_prob(x.unsqueeze(1)), d.log_prob(x).unsqueeze(1).expand(5, *new_batch)
    )
    assert e.sample((3,)).shape == (3,) + new_batch + d.event_shape
    if implements(ex, "mean"):
        torch.testing.assert_close(e.mean, d.mean.expand(new_batch + d.event_shape), equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pickle_round_trip(case):
    ex, i = case
    d = ex.build(i)
    x = points(d, 5)
    restored = pickle.loads(pickle.dumps(d))
    torch.testing.assert_close(restored.log_prob(x), d.log_prob(x))
    assert repr(d).startswith(type(d).__name__ + "(")


# ----------------------------------------------------------------- against the reference


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_log_prob_matches_reference(case):
    ex, i = case
    d, ref = ex.build(i), reference(ex, i)
    x = points(d)
    assert_close(d.log_prob(x), ref.log_prob(x.numpy()), ex, "log_prob")
    torch.testing.assert_close(d.prob(x), d.log_prob(x).exp())


@pytest.mark.parametrize("case", cases(univariate), ids=case_id)
def test_cdf_family_matches_reference(case):
    ex, i = case
    d, ref = ex.build(i), reference(ex, i)
    x = points(d).numpy()
    xt = torch.from_numpy(x)
    if not implements(ex, "cdf"):
        for method in [d.cdf, d.survival_function, d.log_cdf, d.log_survival_function]:
            raises_not_implemented(lambda m=method: m(xt))
        return
    cdf, sf = ref.cdf(x), ref.sf(x)
    assert_close(d.cdf(xt), cdf, ex, "cdf")
    assert_close(d.survival_function(xt), sf, ex, "survival_function")
    with np.errstate(divide="ignore"):
        assert_close(d.log_cdf(xt), np.log(cdf), ex, "log_cdf")
        assert_close(d.log_survival_function(xt), np.log(sf), ex, "log_survival_function")


@pytest.mark.parametrize("case", cases(univariate), ids=case_id)
def test_icdf_matches_reference(case):
    ex, i = case
    d, ref = ex.build(i), reference(ex, i)
    q = np.array([0.001, 0.05, 0.3, 0.5, 0.77, 0.99, 0.999999]).reshape(
        (-1,) + (1,) * len(d.batch_shape)
    )
    q = np.broadcast_to(q, (7,) + tuple(d.batch_shape)).copy()
    if not implements(ex, "icdf"):
        raises_not_implemented(lambda: d.icdf(torch.from_numpy(q)))
        return
    assert_close(d.icdf(torch.from_numpy(q)), ref.icdf(q), ex, "icdf")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_summaries_match_reference(case):
    ex, i = case
    d, ref = ex.build(i), reference(ex, i)
    for name in ["mean", "variance", "entropy"]:
        if not implements(ex, name):
            raises_not_implemented(lambda n=name: d.entropy() if n == "entropy" else getattr(d, n))
            continue
        actual = d.entropy() if name == "entropy" else getattr(d, name)
        assert_close(actual, getattr(ref, name)(), ex, name)
    if implements(ex, "variance"):
        torch.testing.assert_close(d.stddev, d.variance.sqrt(), equal_nan=True)
    if implements(ex, "entropy"):
        torch.testing.assert_close(d.perplexity(), d.entropy().exp())


# ----------------------------------------------------------------- internal consistency


def has_cdf(ex, d):
    return continuous_univariate(ex, d) and implements(ex, "cdf")


@pytest.mark.parametrize("case", cases(has_cdf), ids=case_id)
def test_cdf_derivative_is_the_density(case):
    ex, i = case
    d = ex.build(i)
    x = points(d).requires_grad_()
    (grad,) = torch.autograd.grad(d.cdf(x).sum(), x)
    torch.testing.assert_close(grad, d.log_prob(x.detach()).exp(), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("case", cases(has_cdf), ids=case_id)
def test_icdf_inverts_cdf(case):
    ex, i = case
    d = ex.build(i)
    x = points(d)
    cdf = d.cdf(x)
    keep = (cdf > 1e-8) & (cdf < 1 - 1e-8)
    back = d.icdf(cdf)
    torch.testing.assert_close(back[keep], x[keep], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", cases(univariate), ids=case_id)
def test_closed_forms_match_generic_fallbacks(case):
    ex, i = case
    d = ex.build(i)
    cls = type(d)
    x = points(d)
    if _overrides(cls, "_cdf") and _overrides(cls, "_log_cdf"):
        torch.testing.assert_close(d._log_cdf(x).exp(), d._cdf(x), rtol=1e-9, atol=1e-12)
    if _overrides(cls, "_cdf") and _overrides(cls, "_log_survival_function"):
        torch.testing.assert_close(
            d._log_survival_function(x).exp(), 1 - d._cdf(x), rtol=1e-9, atol=1e-12
        )
    if _overrides(cls, "_icdf") and not d.support.is_discrete:
        q = torch.tensor([1e-6, 0.1, 0.5, 0.9, 0.999], dtype=torch.float64)
        q = q.reshape((-1,) + (1,) * len(d.batch_shape))
        torch.testing.assert_close(
            invert_cdf(d, q), d._icdf(q).expand(invert_cdf(d, q).shape), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("case", cases(lambda ex, d: d.has_enumerate_support), ids=case_id)
def test_enumerate_support_sums_to_one(case):
    ex, i = case
    d = ex.build(i)
    if not implements(ex, "enumerate_support"):
        raises_not_implemented(d.enumerate_support)
        return
    values = d.enumerate_support()
    assert values.shape[1:] == d.batch_shape + d.event_shape
    total = d.log_prob(values).exp().sum(0)
    torch.testing.assert_close(total, torch.ones_like(total))
    compact = d.enumerate_support(expand=False)
    assert compact.shape[1:] == (1,) * len(d.batch_shape) + d.event_shape


@pytest.mark.parametrize("case", cases(univariate), ids=case_id)
def test_log_prob_rejects_values_outside_the_support(case):
    ex, i = case
    d = ex.build(i)
    lower, upper = support_bounds(d.support)
    bad = []
    if isinstance(lower, (int, float)) and lower > -float("inf"):
        bad.append(lower - 1.0)
    if isinstance(upper, (int, float)) and upper < float("inf"):
        bad.append(upper + 1.0)
    if d.support.is_discrete:
        bad.append((lower if isinstance(lower, (int, float)) else 0) + 0.5)
    for value in bad:
        with pytest.raises(D.SupportError, match=type(d).__name__):
            d.log_prob(torch.full(d.batch_shape, value, dtype=torch.float64))


@pytest.mark.parametrize(
    "case", cases(lambda ex, d: len(d.batch_shape) > 0 and d.batch_shape[-1] > 1), ids=case_id
)
def test_log_prob_explains_shape_mismatch(case):
    ex, i = case
    d = ex.build(i)
    x = points(d, 1)[0]
    wrong = torch.cat([x, x.narrow(len(d.batch_shape) - 1, 0, 1)], dim=len(d.batch_shape) - 1)
    with pytest.raises(D.ShapeError, match="batch_shape"):
        d.log_prob(wrong)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda ex: ex.cls.__name__)
def test_bad_parameters_raise_kind_errors(ex):
    for kwargs, words in ex.bad_params:
        with pytest.raises(ValueError) as info:
            ex.cls(**kwargs)
        message = str(info.value)
        for word in words:
            assert word in message, f"{word!r} not in the message:\n{message}"


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda ex: ex.cls.__name__)
def test_validation_can_be_switched_off(ex):
    constraint_violations = [
        kw
        for kw, words in ex.bad_params
        if "exactly one" not in " ".join(words) and "neither" not in words
    ]
    assert constraint_violations
    with D.validation(False):
        ex.cls(**constraint_violations[0])
    ex.cls(**constraint_violations[0], validate_args=False)
    with pytest.raises(ValueError):
        ex.cls(**constraint_violations[0])


# ----------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize(
    "case", cases(lambda ex, d: implements(ex, "mean") and implements(ex, "variance")), ids=case_id
)
def test_sample_moments_match(case):
    ex, i = case
    d = ex.build(i)
    n = 20000
    x = d.sample((n,), generator=torch.Generator().manual_seed(1)).double()
    mean, var = d.mean.double(), d.variance.double()
    finite = torch.isfinite(mean) & torch.isfinite(var)
    sample_mean = x.mean(0)
    se_mean = (var / n).sqrt()
    assert ((sample_mean - mean).abs() <= 6 * se_mean + 1e-9)[finite].all()
    centered = x - mean
    sample_var = centered.pow(2).mean(0)
    m4 = centered.pow(4).mean(0)
    se_var = ((m4 - var.pow(2)).clamp(min=0) / n).sqrt()
    assert ((sample_var - var).abs() <= 8 * se_var + 1e-9)[finite].all()


@pytest.mark.parametrize(
    "case", cases(lambda ex, d: d.has_rsample and implements(ex, "mean")), ids=case_id
)
def test_rsample_gradient_matches_gradient_of_mean(case):
    ex, i = case
    params, leaves = ex.grad_params(i)
    d = ex.cls(**params)
    # retain_graph: parameters derived in __init__ (e.g. normalized probs) are shared by calls.
    exact = torch.autograd.grad(d.mean.sum(), leaves, allow_unused=True, retain_graph=True)
    batches = 16
    g = torch.Generator().manual_seed(3)
    estimates = []
    for _ in range(batches):
        loss = d.rsample((2000,), generator=g).mean(0).sum()
        estimates.append(torch.autograd.grad(loss, leaves, allow_unused=True, retain_graph=True))
    for k, leaf in enumerate(leaves):
        if exact[k] is None:
            continue
        est = torch.stack([e[k] if e[k] is not None else torch.zeros_like(leaf) for e in estimates])
        se = est.std(0) / batches**0.5
        torch.testing.assert_close(est.mean(0), exact[k], rtol=0, atol=float((6 * se).max()) + 1e-6)


@pytest.mark.parametrize("case", cases(lambda ex, d: d.has_rsample), ids=case_id)
def test_rsample_gradients_are_finite(case):
    ex, i = case
    params, leaves = ex.grad_params(i)
    d = ex.cls(**params)
    x = d.rsample((100,))
    grads = torch.autograd.grad(x.sum(), leaves, allow_unused=True)
    for grad in grads:
        assert grad is None or torch.isfinite(grad).all()
