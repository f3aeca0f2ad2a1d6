"""Binomial, Geometric and RelaxedBernoulli given logits so large that ``sigmoid`` of them is
subnormal or 0 in the dtype (issue 9): tails, moments and quantiles taken in log space,
against 50-digit mpmath references at the parameters and points rounded to the dtype.

Budget: relative error <= 1e3 eps in float64 and 1e2 eps in float32; log-scale values
relative to ``max(1, |value|)``, others to ``max(|value|, tiny)`` (a subnormal truth is judged
absolutely, so it must come back as the right subnormal, not as 0).
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import aleatorch as D


@pytest.fixture(autouse=True)
def _fifty_digits():
    with mpmath.workdps(50):
        yield


BUDGET = {torch.float64: 1e3, torch.float32: 1e2}


def rounded(x, dtype) -> float:
    """``x`` as the dtype holds it, back as a Python float."""
    return float(torch.tensor(x, dtype=torch.float64).to(dtype))


def assert_close(ours, truth, dtype, what, log_scale=False):
    """``ours`` (a tensor) against the mpmath number ``truth`` within the budget."""
    finfo = torch.finfo(dtype)
    ours = float(ours)
    truth = mpmath.mpf(truth)
    assert math.isfinite(ours), f"{what}: {ours}, truth {mpmath.nstr(truth, 20)}"
    if log_scale:
        scale = max(mpmath.mpf(1), abs(truth))
    else:
        scale = max(abs(truth), mpmath.mpf(finfo.tiny))
    error = float(abs(mpmath.mpf(ours) - truth) / scale)
    assert error <= BUDGET[dtype] * finfo.eps, (
        f"{what}: ours {ours!r}, truth {mpmath.nstr(truth, 20)}, {error / finfo.eps:.3g} eps"
    )


def sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


# ------------------------------------------------------------------------------------------
# Binomial
# ------------------------------------------------------------------------------------------


def binomial_terms(n, logits, first, last):
    """The exact probabilities P(X = j), j = first..last (at most ~60 of them)."""
    p, q = sigmoid(mpmath.mpf(logits)), sigmoid(-mpmath.mpf(logits))
    return [mpmath.binomial(n, j) * p**j * q ** (n - j) for j in range(first, last + 1)]


def binomial_cdf(n, logits, k):
    """P(X <= k), summed from the k end (the terms fall by ~e^-|logits| each)."""
    return mpmath.fsum(binomial_terms(n, logits, max(0, k - 40), k))


def binomial_sf(n, logits, k):
    """P(X > k), summed from the k + 1 end."""
    return mpmath.fsum(binomial_terms(n, logits, k + 1, min(int(n), k + 41)))


# (n, logits, dtype, k): the rare lower tail (logits >> 0) and rare upper tail (logits << 0)
LOWER = [(20, 100.0, torch.float32, k) for k in (0, 1, 10, 19)] + [
    (20, 95.0, torch.float32, 19),
    (1000, 90.0, torch.float32, 998),
    (20, 800.0, torch.float64, 19),
    (20, 800.0, torch.float64, 3),
]
UPPER = [(50, -100.0, torch.float32, k) for k in (0, 1, 10, 49)] + [
    (10**6, -95.0, torch.float32, 0),
    (10**6, -95.0, torch.float32, 3),
    (30, -800.0, torch.float64, 0),
    (30, -800.0, torch.float64, 7),
]


def _binomial(n, logits, dtype, requires_grad=False):
    logits = torch.tensor(logits, dtype=dtype, requires_grad=requires_grad)
    return D.Binomial(torch.tensor(float(n), dtype=dtype), logits=logits), logits


@pytest.mark.parametrize("n, logits, dtype, k", LOWER)
def test_binomial_rare_lower_tail(n, logits, dtype, k):
    d, _ = _binomial(n, logits, dtype)
    truth = binomial_cdf(n, rounded(logits, dtype), k)
    value = torch.tensor(float(k), dtype=dtype)
    what = f"Binomial({n}, logits={logits}, {dtype})"
    assert_close(d.log_cdf(value), mpmath.log(truth), dtype, what + f".log_cdf({k})", True)
    assert_close(d.cdf(value), truth, dtype, what + f".cdf({k})")
    # the common side stays 1 - tiny
    assert_close(d.survival_function(value), 1 - truth, dtype, what + f".sf({k})")


@pytest.mark.parametrize("n, logits, dtype, k", UPPER)
def test_binomial_rare_upper_tail(n, logits, dtype, k):
    d, _ = _binomial(n, logits, dtype)
    truth = binomial_sf(n, rounded(logits, dtype), k)
    value = torch.tensor(float(k), dtype=dtype)
    what = f"Binomial({n}, logits={logits}, {dtype})"
    assert_close(
        d.log_survival_function(value), mpmath.log(truth), dtype, what + f".log_sf({k})", True
    )
    assert_close(d.survival_function(value), truth, dtype, what + f".sf({k})")
    assert_close(d.cdf(value), 1 - truth, dtype, what + f".cdf({k})")


@pytest.mark.parametrize("n, logits", [(50, -100.0), (20, 100.0), (10**6, -95.0), (7, -90.0)])
def test_binomial_moments_from_logits(n, logits):
    dtype = torch.float32
    d, _ = _binomial(n, logits, dtype)
    p = sigmoid(mpmath.mpf(rounded(logits, dtype)))
    what = f"Binomial({n}, logits={logits})"
    assert_close(d.mean, n * p, dtype, what + ".mean")
    assert_close(d.variance, n * p * (1 - p), dtype, what + ".variance")


@pytest.mark.parametrize(
    "n, logits, k, method",
    [
        (20, 100.0, 10, "log_cdf"),
        (20, 100.0, 19, "log_cdf"),
        (50, -100.0, 0, "log_survival_function"),
        (50, -100.0, 3, "log_survival_function"),
    ],
)
def test_binomial_rare_tail_gradient(n, logits, k, method):
    """d/dlogits of the log tail: the exact derivative of the mpmath sum."""
    dtype = torch.float32
    d, x = _binomial(n, logits, dtype, requires_grad=True)
    getattr(d, method)(torch.tensor(float(k), dtype=dtype)).backward()
    tail = binomial_cdf if method == "log_cdf" else binomial_sf
    truth = mpmath.diff(lambda t: mpmath.log(tail(n, t, k)), mpmath.mpf(rounded(logits, dtype)))
    assert_close(x.grad, truth, dtype, f"d/dlogits Binomial({n}, {logits}).{method}({k})")


def test_binomial_rare_tail_batched_gradients_finite():
    """Rare-side entries next to ordinary ones: values and gradients all finite."""
    logits = torch.tensor([100.0, -100.0, 90.0, 3.0, -2.0], requires_grad=True)
    d = D.Binomial(torch.tensor([20.0, 50.0, 20.0, 20.0, 8.0]), logits=logits)
    value = torch.tensor([5.0, 0.0, 3.0, 20.0, 0.0])
    for method in ("cdf", "log_cdf", "survival_function", "log_survival_function"):
        logits.grad = None
        out = getattr(d, method)(value)
        out.sum().backward()
        assert not out.isnan().any(), method
        assert logits.grad.isfinite().all(), (method, logits.grad)


# ------------------------------------------------------------------------------------------
# Geometric
# ------------------------------------------------------------------------------------------


def geometric_log_cdf(logits, k):
    """log(1 - (1 - p)^(k + 1))."""
    log_q = -mpmath.log1p(mpmath.exp(mpmath.mpf(logits)))  # log(1 - p)
    return mpmath.log(-mpmath.expm1((k + 1) * log_q))


def geometric_icdf(logits, q):
    """The smallest k >= 0 with 1 - (1 - p)^(k + 1) >= q."""
    log_q = -mpmath.log1p(mpmath.exp(mpmath.mpf(logits)))
    return max(mpmath.ceil(mpmath.log1p(-mpmath.mpf(q)) / log_q) - 1, 0)


@pytest.mark.parametrize(
    "logits, k, dtype",
    [
        (-100.0, 0, torch.float32),
        (-100.0, 1, torch.float32),
        (-100.0, 1e6, torch.float32),
        (-100.0, 1e30, torch.float32),
        (-101.0, 7, torch.float32),
        (-72.0, 2e30, torch.float32),  # -log(1 - p) below tiny / eps, t = 0.1
        (-72.0, 2e29, torch.float32),
        (-800.0, 1, torch.float64),
        (-800.0, 1e300, torch.float64),
    ],
)
def test_geometric_log_cdf_from_logits(logits, k, dtype):
    d = D.Geometric(logits=torch.tensor(logits, dtype=dtype))
    k = rounded(k, dtype)
    truth = geometric_log_cdf(rounded(logits, dtype), k)
    ours = d.log_cdf(torch.tensor(k, dtype=dtype))
    assert_close(ours, truth, dtype, f"Geometric(logits={logits}).log_cdf({k})", True)


@pytest.mark.parametrize("logits, k", [(-100.0, 1.0), (-90.0, 0.0), (-30.0, 5.0)])
def test_geometric_log_cdf_gradient(logits, k):
    dtype = torch.float32
    x = torch.tensor(logits, dtype=dtype, requires_grad=True)
    D.Geometric(logits=x).log_cdf(torch.tensor(k, dtype=dtype)).backward()
    truth = mpmath.diff(lambda t: geometric_log_cdf(t, k), mpmath.mpf(rounded(logits, dtype)))
    assert_close(x.grad, truth, dtype, f"d/dlogits Geometric({logits}).log_cdf({k})")


@pytest.mark.parametrize(
    "logits, q, dtype",
    [
        (-100.0, 1e-8, torch.float32),
        (-100.0, 1e-20, torch.float32),
        (-100.0, 1e-38, torch.float32),
        (-98.0, 1e-5, torch.float32),
        (-740.0, 1e-300, torch.float64),
    ],
)
def test_geometric_icdf_from_logits(logits, q, dtype):
    d = D.Geometric(logits=torch.tensor(logits, dtype=dtype))
    q = rounded(q, dtype)
    truth = geometric_icdf(rounded(logits, dtype), q)
    ours = d.icdf(torch.tensor(q, dtype=dtype))
    assert ours.dtype == dtype
    assert_close(ours, truth, dtype, f"Geometric(logits={logits}).icdf({q})")


@pytest.mark.parametrize("logits", [-100.0, -90.0, -30.0, 3.0])
def test_geometric_float32_icdf_is_the_float64_one_rounded(logits):
    q = torch.tensor([1e-38, 1e-20, 1e-8, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-6])
    ours = D.Geometric(logits=torch.tensor(logits)).icdf(q)
    wide = D.Geometric(logits=torch.tensor(logits, dtype=torch.float64)).icdf(q.double())
    assert torch.equal(ours, wide.float())


def test_geometric_icdf_top_is_in_the_dtype_asked_for():
    """q = 1 gives the first k whose upper tail underflows in float32, not in float64 (a guard
    on the float64 working precision of the float32 icdf, not a fixed case)."""
    d = D.Geometric(probs=torch.tensor(0.5))
    finfo = torch.finfo(torch.float32)
    top = math.ceil((math.log(finfo.tiny) + math.log(finfo.eps) - math.log(2)) / math.log(0.5)) - 1
    assert float(d.icdf(torch.tensor(1.0))) == top


# ------------------------------------------------------------------------------------------
# RelaxedBernoulli
# ------------------------------------------------------------------------------------------


def relaxed_icdf(temperature, logits, q):
    t = (mpmath.log(q) - mpmath.log1p(-q) + logits) / temperature
    return sigmoid(t)


@pytest.mark.parametrize(
    "temperature, probs, q",
    [(0.5, 0.3, 1e-20), (0.5, 0.3, 1e-19), (0.25, 0.5, 1e-10), (0.9, 0.9, 1e-38)],
)
def test_relaxed_bernoulli_icdf_subnormal(temperature, probs, q):
    dtype = torch.float32
    probs_t = torch.tensor(probs, dtype=dtype)
    d = D.RelaxedBernoulli(torch.tensor(temperature, dtype=dtype), probs=probs_t)
    p = mpmath.mpf(float(probs_t))
    logits = mpmath.log(p) - mpmath.log1p(-p)
    q = rounded(q, dtype)
    truth = relaxed_icdf(mpmath.mpf(temperature), logits, mpmath.mpf(q))
    ours = d.icdf(torch.tensor(q, dtype=dtype))
    assert_close(ours, truth, dtype, f"RelaxedBernoulli({temperature}, {probs}).icdf({q})")


def test_relaxed_bernoulli_icdf_gradient_far_tail():
    """d icdf / d logits = y (1 - y) / tau, a subnormal here: it must not come back as 0."""
    dtype = torch.float32
    x = torch.tensor(-0.5, dtype=dtype, requires_grad=True)
    d = D.RelaxedBernoulli(torch.tensor(0.5, dtype=dtype), logits=x)
    q = rounded(1e-20, dtype)
    d.icdf(torch.tensor(q, dtype=dtype)).backward()
    truth = mpmath.diff(lambda t: relaxed_icdf(mpmath.mpf(0.5), t, mpmath.mpf(q)), -0.5)
    assert truth > 1.4e-43  # a subnormal float32 can hold it
    assert_close(x.grad, truth, dtype, "d/dlogits RelaxedBernoulli.icdf")


@pytest.mark.parametrize(
    "temperature, logits, value, method",
    [
        (1.0, 45.0, 1e-20, "cdf"),
        (1.0, -77.0, 1 - 2**-24, "survival_function"),
    ],
)
def test_relaxed_bernoulli_tails_subnormal(temperature, logits, value, method):
    dtype = torch.float32
    d = D.RelaxedBernoulli(torch.tensor(temperature, dtype=dtype), logits=torch.tensor(logits))
    y = mpmath.mpf(rounded(value, dtype))
    t = temperature * (mpmath.log(y) - mpmath.log1p(-y)) - mpmath.mpf(logits)
    truth = sigmoid(t) if method == "cdf" else sigmoid(-t)
    ours = getattr(d, method)(torch.tensor(value, dtype=dtype))
    assert_close(ours, truth, dtype, f"RelaxedBernoulli({temperature}, {logits}).{method}")


def test_relaxed_bernoulli_median_subnormal():
    dtype = torch.float32
    d = D.RelaxedBernoulli(torch.tensor(0.01), logits=torch.tensor(-0.9))
    truth = sigmoid(mpmath.mpf(rounded(-0.9, dtype)) / mpmath.mpf(rounded(0.01, dtype)))
    assert_close(d.median, truth, dtype, "RelaxedBernoulli(0.01, -0.9).median")
