"""The generic conformance suite: every registered example through every check.

References are scipy.stats or closed forms (see examples.py). Monte Carlo checks use fixed
seeds and tolerances of 6 standard errors estimated from the same samples, so a correct
implementation fails with probability well under 1e-6 per check.
"""

from __future__ import annotations

import contextlib
import math
import pickle

import numpy as np
import pytest
import torch
from examples import EXAMPLES, Example, case_id, example_cases, public_distribution_classes

import aleatorch as D
from aleatorch._generic_icdf import invert_cdf
from aleatorch.distribution import _overrides

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


@contextlib.contextmanager
def known_bug(ex, i, method):
    """Expect the comparison to fail where ``ex.known_bugs`` lists a library bug for it (and
    fail, asking for the entry to go, once it passes)."""
    if (i, method) not in ex.known_bugs:
        yield
        return
    with pytest.raises((AssertionError, NotImplementedError)):
        yield


def report_known_bugs(ex, i, methods):
    """At the end of a test whose other checks passed: xfail with the known bugs of the case
    among ``methods``."""
    bugs = [bug for (index, m), bug in ex.known_bugs.items() if index == i and m in methods]
    if bugs:
        pytest.xfail("known library bug: " + "; ".join(bugs))


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
def test_float32_results_are_float32_and_match_the_reference(case):
    """float32 log_prob, cdf, entropy, mean and variance against the float64 reference at the
    float32-rounded parameters and points: rtol ``ex.float32_rtol`` (default 1e-5, ~80 ulps)
    everywhere, plus atol ``ex.float32_atol`` (default 1e-5) on log-densities, entropies and
    cdfs, none on means and variances."""
    ex, i = case
    d = ex.build(i, torch.float32)
    ref = ex.reference(ex.numpy_params(i, rounded_to=torch.float32))
    x = points(d)
    if not d.support.is_discrete:
        assert x.dtype == torch.float32
    x64 = x.double().numpy()
    if d.support is D.constraints.simplex:
        # scipy insists on a sum of 1 to 1e-9: move the float32 point by ~1e-7 relative.
        x64 = x64 / x64.sum(-1, keepdims=True)
    rtol, atol = ex.float32_rtol, ex.float32_atol

    def check(actual, expected, what, atol=atol):
        assert actual.dtype == torch.float32, what
        actual = actual.detach().double().numpy()
        expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), actual.shape)
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)

    check(d.log_prob(x), ref.log_prob(x64), "float32 log_prob")
    if univariate(ex, d) and implements(ex, "cdf"):
        check(d.cdf(x), ref.cdf(x64), "float32 cdf")
    if implements(ex, "entropy"):
        check(d.entropy(), ref.entropy(), "float32 entropy")
    for name in ["mean", "variance"]:
        if implements(ex, name):
            with known_bug(ex, i, f"float32 {name}"):
                check(getattr(d, name), getattr(ref, name)(), f"float32 {name}", atol=0)
    report_known_bugs(ex, i, ["float32 mean", "float32 variance"])


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
        with known_bug(ex, i, name):
            assert_close(actual, getattr(ref, name)(), ex, name)
    if implements(ex, "variance"):
        torch.testing.assert_close(d.stddev, d.variance.sqrt(), equal_nan=True)
    if implements(ex, "entropy"):
        torch.testing.assert_close(d.perplexity(), d.entropy().exp())
    report_known_bugs(ex, i, ["mean", "variance", "entropy"])


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
    lower, upper = d.support.bounds
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


# ----------------------------------------------------------------- gradients (FD)


def fd_directions(leaf):
    """Unit perturbations of one parameter that keep it a parameter of its kind: symmetric
    pairs E_ij + E_ji (i >= j) of a positive-definite matrix, the lower triangle of a
    Cholesky factor, every entry of anything else. Yields (index, direction)."""
    value = leaf.value
    if leaf.constraint in (D.constraints.positive_definite, D.constraints.lower_cholesky):
        for batch in np.ndindex(*value.shape[:-2]):
            for r in range(value.shape[-1]):
                for c in range(r + 1):
                    v = torch.zeros_like(value)
                    v[batch + (r, c)] = 1.0
                    if leaf.constraint is D.constraints.positive_definite:
                        v[batch + (c, r)] = 1.0
                    yield batch + (r, c), v
        return
    for index in np.ndindex(*value.shape):
        v = torch.zeros_like(value)
        v[index] = 1.0
        yield index, v


def check_gradients_by_finite_differences(ex, i, function, what, rtol=1e-6):
    """Autograd gradients of ``sum(w * function(d))`` with respect to every differentiable
    parameter (``Example.leaves``) against central differences of the float64 values,
    Richardson-extrapolated (error O(h^4)). The values are checked against scipy elsewhere,
    so this checks the autograd path independently. A direction is skipped only where a
    value it moves is not finite (a parameter on the edge of its domain, e.g. probs = 0
    under the entropy); every parameter must have some direction compared."""
    leaves = ex.leaves(i)
    assert leaves, f"{ex.cls.__name__} has no differentiable parameter"
    base_values = [leaf.value for leaf in leaves]

    def evaluate(values):
        with torch.no_grad():
            return function(ex.build_from_leaves(i, values, validate_args=False)).double()

    def valid(k, step):
        values = list(base_values)
        values[k] = base_values[k] + step
        try:
            ex.build_from_leaves(i, values, validate_args=True)
        except ValueError:
            return False
        return True

    grad_leaves = [v.clone().requires_grad_() for v in base_values]
    out = function(ex.build_from_leaves(i, grad_leaves)).double()
    g = torch.Generator().manual_seed(5)
    w = torch.rand(out.shape, dtype=torch.float64, generator=g) + 0.5
    if out.requires_grad:
        grads = torch.autograd.grad((w * out).sum(), grad_leaves, allow_unused=True)
    else:  # independent of every leaf (LogitRelaxedBernoulli's entropy): differences say 0
        grads = (None,) * len(grad_leaves)
    base = out.detach()
    eps = torch.finfo(torch.float64).eps
    for k, leaf in enumerate(leaves):
        grad = grads[k] if grads[k] is not None else torch.zeros_like(leaf.value)
        compared = 0
        directions = list(fd_directions(leaf))
        # At most 12 directions per parameter (spread over the entries): enough to see a
        # wrong or missing gradient, and it keeps a batch of 3x3 matrices cheap.
        for index, v in directions[:: max(1, math.ceil(len(directions) / 12))]:
            theta = float(leaf.value[index])
            if not math.isfinite(theta):
                continue
            h = 1e-5 * max(abs(theta), 1e-2)
            moved = []
            for step in (h, -h, h / 2, -h / 2):
                values = list(base_values)
                values[k] = base_values[k] + step * v
                moved.append(evaluate(values))
            stack = torch.stack([base, *moved])
            affected = (stack != base).any(0) | ~torch.isfinite(base)
            if not torch.isfinite(stack[:, affected]).all():
                continue
            if not (valid(k, h * v) and valid(k, -h * v)):
                continue  # on the boundary of the domain (Poisson rate = 0): one-sided there
            d1 = (moved[0] - moved[1]) / (2 * h)
            d2 = (moved[2] - moved[3]) / h
            fd = float((w * (4 * d2 - d1) / 3).sum())
            ad = float((grad[v != 0] * v[v != 0]).sum())  # not NaN * 0 from elsewhere
            # Rounding: a thousand ulps of the values or of terms of size 1 that cancel in
            # them, amplified by 1/h.
            noise = 1e3 * eps * float((w * (stack.abs().amax(0) + 1)).sum()) / h
            tol = rtol * abs(fd) + noise
            assert abs(ad - fd) <= tol, (
                f"{what}: d/d {leaf.name}{list(index)}: autograd {ad!r}, finite differences "
                f"{fd!r} (tolerance {tol:.3g})"
            )
            compared += 1
        assert compared, f"{what}: no direction of {leaf.name} could be compared"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_log_prob_gradients_match_finite_differences(case):
    ex, i = case
    x = points(ex.build(i))
    check_gradients_by_finite_differences(ex, i, lambda d: d.log_prob(x), "log_prob")


@pytest.mark.parametrize("case", cases(lambda ex, d: implements(ex, "entropy")), ids=case_id)
def test_entropy_gradients_match_finite_differences(case):
    ex, i = case
    with known_bug(ex, i, "entropy gradient"):
        check_gradients_by_finite_differences(ex, i, lambda d: d.entropy(), "entropy")
    report_known_bugs(ex, i, ["entropy gradient"])


@pytest.mark.parametrize(
    "case", cases(lambda ex, d: continuous_univariate(ex, d) and implements(ex, "cdf")), ids=case_id
)
def test_cdf_gradients_match_finite_differences(case):
    ex, i = case
    d = ex.build(i)
    # Interior quantiles, away from the kinks at the ends of a bounded support (a
    # finite-difference step must not cross them).
    q = torch.linspace(0.2, 0.8, 6, dtype=torch.float64).reshape((6,) + (1,) * len(d.batch_shape))
    x = d.icdf(q).detach() if implements(ex, "icdf") else points(d)
    with known_bug(ex, i, "cdf gradient"):
        # rtol 1e-5: on a narrow support (Uniform of width 1e-4) the step is a few percent
        # of the width, and the extrapolated difference is good to ~1e-6 only.
        check_gradients_by_finite_differences(ex, i, lambda d: d.cdf(x), "cdf", rtol=1e-5)
    report_known_bugs(ex, i, ["cdf gradient"])


@pytest.mark.parametrize(
    "case",
    cases(lambda ex, d: continuous_univariate(ex, d) and implements(ex, "icdf")),
    ids=case_id,
)
def test_icdf_gradients_match_finite_differences(case):
    ex, i = case
    q = torch.linspace(0.05, 0.95, 7, dtype=torch.float64).reshape(
        (7,) + (1,) * len(ex.build(i).batch_shape)
    )
    with known_bug(ex, i, "icdf gradient"):
        check_gradients_by_finite_differences(ex, i, lambda d: d.icdf(q), "icdf")
    report_known_bugs(ex, i, ["icdf gradient"])


# ----------------------------------------------------------------- Monte Carlo


def finite_moments(ex, d):
    """Mean and variance implemented and not infinite everywhere (HalfCauchy's are: no
    sample moment converges, and no expectation of a quadratic exists)."""
    return (
        implements(ex, "mean")
        and implements(ex, "variance")
        and not bool(torch.isinf(d.mean).all() or torch.isinf(d.variance).all())
        # VonMises' mean and variance are circular (torch's definition): its draws are
        # checked by E[cos(X - mu)] = 1 - variance in tests/distributions/test_von_mises.py.
        and not isinstance(d, D.VonMises)
    )


@pytest.mark.parametrize("case", cases(finite_moments), ids=case_id)
def test_sample_moments_match(case):
    ex, i = case
    d = ex.build(i)
    n = 20000
    x = d.sample((n,), generator=torch.Generator().manual_seed(1)).double()
    mean, var = d.mean.double(), d.variance.double()
    if univariate(ex, d) and d.has_enumerate_support and torch.isnan(mean).all():
        # Categorical: no mean (NaN, as torch), but its labels 0..K-1 have one: take the
        # moments of the label from the reference pmf.
        values = d.enumerate_support().double()
        pmf = torch.from_numpy(np.exp(reference(ex, i).log_prob(values.numpy())))
        mean = (pmf * values).sum(0)
        var = (pmf * (values - mean).pow(2)).sum(0)
    finite = torch.isfinite(mean) & torch.isfinite(var)
    assert finite.any(), "no finite moment to compare"
    sample_mean = x.mean(0)
    se_mean = (var / n).sqrt()
    assert ((sample_mean - mean).abs() <= 6 * se_mean + 1e-9)[finite].all()
    centered = x - mean
    sample_var = centered.pow(2).mean(0)
    m4 = centered.pow(4).mean(0)
    se_var = ((m4 - var.pow(2)).clamp(min=0) / n).sqrt()
    assert ((sample_var - var).abs() <= 8 * se_var + 1e-9)[finite].all()


@pytest.mark.parametrize("case", cases(has_cdf), ids=case_id)
def test_samples_follow_the_cdf(case):
    """Kolmogorov-Smirnov, per batch entry: ``sqrt(n) sup |F_n - F|`` stays below 2.7
    (exceeded by chance with probability about 1e-6). It sees what moments cannot in
    heavy-tailed families, hence 320000 draws shared by the batch entries there (at least
    40000 each): a 5% scale error in a Cauchy draw moves its cdf by up to 0.0078, above
    2.7 / sqrt(n) = 0.0068 at n = 160000 (a half-Cauchy's by twice that); n = 10000
    elsewhere. F is our float64
    cdf (checked against the reference by test_cdf_family_matches_reference; scipy's von
    Mises cdf would take minutes here), taken at both ends of each draw's rounding cell
    (draws that tie share one cell): a Beta(2, 0.05) puts 16% of its mass within 1e-16 of
    1, and those draws all round to the float below 1."""
    ex, i = case
    d = ex.build(i)
    n = 10000 if finite_moments(ex, d) else max(40000, 320000 // d.batch_shape.numel())
    x = d.sample((n,), generator=torch.Generator().manual_seed(5)).sort(0).values
    upper = torch.nextafter(x, torch.tensor(math.inf, dtype=x.dtype))
    bound = getattr(d.support, "upper_bound", None)
    if bound is not None:
        upper = torch.minimum(upper, torch.as_tensor(bound, dtype=x.dtype))
    with torch.no_grad():
        top = d.cdf(upper).double()
    # bottom of a draw's cell: the top of the last smaller draw (ties share one cell)
    previous = torch.cat([torch.zeros_like(top[:1]), top[:-1]])
    index = torch.arange(n).reshape((-1,) + (1,) * (x.dim() - 1)).expand(x.shape)
    starts = torch.ones_like(x, dtype=torch.bool)
    starts[1:] = x[1:] != x[:-1]
    bottom = previous.gather(0, torch.where(starts, index, 0).cummax(0).values)
    above = torch.arange(1, n + 1, dtype=torch.float64).reshape((-1,) + (1,) * (x.dim() - 1)) / n
    stat = math.sqrt(n) * torch.maximum(above - top, bottom - (above - 1 / n)).amax(0)
    assert (stat <= 2.7).all(), f"KS statistic sqrt(n) D = {stat} (threshold 2.7)"


def full_covariance(d):
    """The covariance matrix over the last event dim where the family has one (Gaussians)."""
    if isinstance(d, D.Independent):
        return full_covariance(d.base_dist)
    if isinstance(d, D.MultivariateNormal):
        return d.covariance_matrix
    return None


def unbiased_rsample(ex, d):
    """Families whose pathwise gradient the closed-form mean and variance can check (those
    without them, e.g. the relaxed ones, are checked in tests/distributions/)."""
    return (
        d.has_rsample
        and not isinstance(d, D.OneHotCategoricalStraightThrough)
        and finite_moments(ex, d)
    )


@pytest.mark.parametrize(
    "case",
    cases(lambda ex, d: d.has_enumerate_support and implements(ex, "enumerate_support")),
    ids=case_id,
)
def test_sample_frequencies_match_the_reference_pmf(case):
    """Empirical frequency of every support value within 6 binomial standard errors of the
    reference pmf; values of probability 0 never drawn."""
    ex, i = case
    d = ex.build(i)
    n = 20000
    x = d.sample((n,), generator=torch.Generator().manual_seed(4))
    values = d.enumerate_support().to(x.dtype)
    pmf = np.exp(reference(ex, i).log_prob(values.double().numpy()))
    dims = tuple(range(-len(d.event_shape), 0))
    for value, p in zip(values, pmf):
        hit = (x == value).all(dim=dims) if dims else x == value
        freq = hit.double().mean(0).numpy()
        se = np.sqrt(np.maximum(p * (1 - p), 1 / n) / n)
        assert (freq[p == 0] == 0).all(), f"a value of probability 0 was drawn: {value}"
        assert (np.abs(freq - p) <= 6 * se).all(), (value, freq, p, se)


@pytest.mark.parametrize("case", cases(unbiased_rsample), ids=case_id)
def test_rsample_gradient_matches_gradient_of_expectation(case):
    """The pathwise gradient of E[f(X)] for the quadratic f(x) = sum(a x + b x^2) (plus
    x^T A x over the event dim where the family has a covariance matrix), with respect to
    every differentiable parameter, against autograd through the exact expectation
    a mean + b (variance + mean^2) (+ tr(A Sigma) + mean^T A mean) from the closed-form
    mean, variance and covariance, which the suite checks against scipy separately. The
    estimate: 32 seeded batches of 1000 draws; tolerance 6 standard errors of the batch
    means (t with 31 dof: a false alarm ~1e-6). Every parameter must get a gradient large
    enough against its standard error that a detached parameter (gradient 0) fails."""
    ex, i = case
    leaves = ex.leaves(i)
    params = [leaf.value.clone().requires_grad_() for leaf in leaves]
    d = ex.build_from_leaves(i, params)
    g = torch.Generator().manual_seed(11)
    shape = d.batch_shape + d.event_shape
    a = torch.randn(shape, dtype=torch.float64, generator=g)
    b = torch.rand(shape, dtype=torch.float64, generator=g) + 0.5
    cov = full_covariance(d)
    if cov is not None:
        k = cov.shape[-1]
        m = torch.randn(k, k, dtype=torch.float64, generator=g)
        quad = m + m.T  # symmetric: the gradient w.r.t. a symmetric matrix is unambiguous

    def f(x):
        out = (a * x + b * x.pow(2)).sum()
        if cov is not None:
            out = out + torch.einsum("...i,ij,...j->", x, quad, x)
        return out

    mean = d.mean
    expectation = (a * mean + b * (d.variance + mean.pow(2))).sum()
    if cov is not None:
        mean_quad = torch.einsum("...i,ij,...j->", mean, quad, mean)
        expectation = expectation + (cov * quad).sum() + mean_quad
    exact = torch.autograd.grad(expectation, params, retain_graph=True)
    batches, n = 32, 1000
    estimates = []
    for _ in range(batches):
        x = d.rsample((n,), generator=g)
        grads = torch.autograd.grad(f(x) / n, params, retain_graph=True, allow_unused=True)
        estimates.append([torch.zeros_like(p) if e is None else e for p, e in zip(params, grads)])
    for k, leaf in enumerate(leaves):
        est = torch.stack([e[k] for e in estimates])
        se = est.std(0) / batches**0.5
        err = (est.mean(0) - exact[k]).abs()
        assert (err <= 6 * se + 1e-12 * exact[k].abs()).all(), (
            f"d E[f] / d {leaf.name}: pathwise {est.mean(0)}, exact {exact[k]}, se {se}"
        )
        # Sensitivity: somewhere the exact gradient is > 6 standard errors away from 0.
        assert (exact[k].abs() > 6 * se).any(), f"{leaf.name}: gradient not resolved"


@pytest.mark.parametrize(
    "case",
    cases(lambda ex, d: isinstance(d, D.OneHotCategoricalStraightThrough)),
    ids=case_id,
)
def test_straight_through_gradient_is_the_gradient_of_probs(case):
    """Straight-through rsample is biased by design: its value is a one-hot draw and its
    gradient is that of the normalized probabilities, computed here from the parameter."""
    ex, i = case
    (leaf,) = ex.leaves(i)
    param = leaf.value.clone().requires_grad_()
    d = ex.build_from_leaves(i, [param])
    x = d.rsample((7,), generator=torch.Generator().manual_seed(2))
    assert ((x == 0) | (x == 1)).all() and (x.detach().sum(-1) == 1).all()
    w = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    (actual,) = torch.autograd.grad((w * x).sum(), param)
    if leaf.name == "logits":
        probs = torch.softmax(param, -1)
    else:
        probs = param / param.sum(-1, keepdim=True)
    (expected,) = torch.autograd.grad((w * probs.expand(x.shape)).sum(), param)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", cases(lambda ex, d: d.has_rsample), ids=case_id)
def test_rsample_gradients_are_finite(case):
    ex, i = case
    params, leaves = ex.grad_params(i)
    d = ex.cls(**params)
    x = d.rsample((100,))
    grads = torch.autograd.grad(x.sum(), leaves, allow_unused=True)
    for grad in grads:
        assert grad is None or torch.isfinite(grad).all()
