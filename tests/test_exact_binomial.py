"""The binomial family (Bernoulli, Binomial, NegativeBinomial, Geometric) at extreme parameters,
against 50-digit mpmath references (issue 9, parts 2-3; issue 10).

Budget: relative error <= 1e3 eps in float64 and 1e2 eps in float32 (log-densities and
entropies relative to max(1, |value|)); a finite true value never comes back as inf or NaN,
a tiny one never as 0. The references are evaluated at the parameters and points rounded to
the dtype under test, so only the library's own error is measured.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from scipy import stats

import aleatorch as D

mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
mp.dps = 50


@pytest.fixture(autouse=True)
def _fifty_digits():
    """50-digit references whatever precision another test module left set."""
    with mpmath.workdps(50):
        yield


DTYPES = [torch.float64, torch.float32]
BUDGET = {torch.float64: 1e3, torch.float32: 1e2}


def budget(dtype):
    return BUDGET[dtype] * torch.finfo(dtype).eps


def rounded(x, dtype):
    """``x`` as the dtype holds it, back as a Python float."""
    return float(torch.tensor(x, dtype=torch.float64).to(dtype))


def log_sigmoid(x):
    return -mp.log1p(mp.exp(-x))


def log_tails(probs=None, logits=None):
    """``(log p, log(1 - p))`` in mpmath, from exactly what was given."""
    if logits is not None:
        x = mp.mpf(logits)
        return log_sigmoid(x), log_sigmoid(-x)
    p = mp.mpf(probs)
    return (mp.log(p) if p > 0 else -mp.inf), (mp.log1p(-p) if p < 1 else -mp.inf)


def _digits(*numbers):
    """Working digits for lgamma differences of these sizes: 50 beyond their magnitude."""
    return 60 + max(int(math.log10(max(abs(float(x)), 1.0))) for x in numbers)


def binomial_log_pmf(n, k, log_p, log_q):
    with mp.workdps(_digits(n)):
        n, k = mp.mpf(n), mp.mpf(k)
        out = mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1)
        if k > 0:
            out += k * log_p
        if n - k > 0:
            out += (n - k) * log_q
    return +out


def negative_binomial_log_pmf(r, k, log_p, log_q):
    with mp.workdps(_digits(r, k)):
        r, k = mp.mpf(r), mp.mpf(k)
        out = mp.loggamma(k + r) - mp.loggamma(r) - mp.loggamma(k + 1) + r * log_q
        out = out + k * log_p if k > 0 else out
    return +out


def assert_log_close(actual, expected, dtype, what):
    actual, expected = float(actual), float(expected)
    assert math.isfinite(actual), f"{what}: {actual} (true {expected})"
    error = abs(actual - expected) / max(1.0, abs(expected))
    assert error <= budget(dtype), f"{what}: {actual} vs {expected}, {error / 2**-52:.3g} eps64"


def assert_relative(actual, expected, dtype, what):
    actual, expected = float(actual), float(expected)
    assert math.isfinite(actual), f"{what}: {actual} (true {expected})"
    if expected == 0:
        assert actual == 0, f"{what}: {actual} (true 0)"
        return
    assert actual != 0, f"{what}: 0 (true {expected})"
    error = abs(actual - expected) / abs(expected)
    assert error <= budget(dtype), f"{what}: {actual} vs {expected} (relative {error:.3g})"


# ------------------------------------------------------------------ log-densities


def _binomial_cases():
    cases = []
    for n in [1.0, 10.0, 1000.0, 1e6]:
        for probs in [1e-30, 1e-7, 0.3, 0.5, 1 - 1e-6]:
            mean = n * probs
            sd = math.sqrt(n * probs * (1 - probs))
            ks = {0.0, n, math.floor(mean), math.floor(n / 2), min(n, math.floor(mean + 5 * sd))}
            ks |= {max(0.0, math.floor(mean - 5 * sd)), min(n, 1.0)}
            cases += [(n, {"probs": probs}, k) for k in sorted(ks)]
        for logits in [-100.0, -50.0, -5.0, 0.0, 5.0, 50.0, 100.0]:
            cases += [(n, {"logits": logits}, k) for k in sorted({0.0, 1.0, n // 2, n})]
    return cases


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_binomial_log_prob_at_extreme_parameters(dtype):
    for n, given, k in _binomial_cases():
        ((name, value),) = given.items()
        d = D.Binomial(torch.tensor(n, dtype=dtype), **{name: torch.tensor(value, dtype=dtype)})
        got = d.log_prob(torch.tensor(k, dtype=dtype))
        log_p, log_q = log_tails(**{name: rounded(value, dtype)})
        true = binomial_log_pmf(rounded(n, dtype), rounded(k, dtype), log_p, log_q)
        assert_log_close(got, true, dtype, f"Binomial({n}, {given}).log_prob({k})")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_binomial_log_prob_at_huge_counts_stays_finite_and_exact(dtype):
    n = torch.finfo(dtype).max
    for probs, frac in [(0.5, 0.5), (0.3, 0.3), (1e-20, 0.0)]:
        d = D.Binomial(torch.tensor(n, dtype=dtype), probs=torch.tensor(probs, dtype=dtype))
        k = torch.tensor(n * frac, dtype=dtype)
        got = d.log_prob(k)
        with mp.workdps(400):  # (n - k) log(1 - p) needs log(1 - p) to 330 digits
            true = binomial_log_pmf(n, float(k), *log_tails(probs=rounded(probs, dtype)))
        assert_log_close(got, true, dtype, f"Binomial(max, {probs}).log_prob({float(k)})")
    for logits in [torch.finfo(dtype).max, -torch.finfo(dtype).max]:
        d = D.Binomial(torch.tensor([0.0, 5.0, 1e6], dtype=dtype), logits=torch.tensor(logits))
        for k in [0.0, 5.0]:
            got = d.log_prob(torch.tensor([0.0, k, k], dtype=dtype))
            assert not got.isnan().any(), (logits, k, got)
        assert torch.isfinite(d.entropy()).all(), d.entropy()


def test_binomial_log_prob_beyond_float32_counts_in_float64():
    # n p is rounded by up to |k - n p| eps; the two-product correction keeps it exact.
    for n, probs, k in [(1e15, 0.3, 299999956525869.0), (1e9, 0.7, 700012345.0)]:
        f64 = torch.float64
        d = D.Binomial(torch.tensor(n, dtype=f64), probs=torch.tensor(probs, dtype=f64))
        true = binomial_log_pmf(n, k, *log_tails(probs=probs))
        got = d.log_prob(torch.tensor(k, dtype=f64))
        assert_log_close(got, true, torch.float64, f"n={n}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_negative_binomial_log_prob_at_extreme_parameters(dtype):
    for r in [1e-3, 0.5, 10.0, 1000.0, 1e6]:
        for given in [
            {"probs": 1e-12},
            {"probs": 0.01},
            {"probs": 0.5},
            {"probs": 0.9},
            {"logits": -60.0},
            {"logits": 3.0},
        ]:
            ((name, value),) = given.items()
            log_p, log_q = log_tails(**{name: rounded(value, dtype)})
            mean = float(r * mp.exp(log_p - log_q))
            for k in sorted({0.0, 1.0, math.floor(mean), math.floor(2 * mean + 3)}):
                d = D.NegativeBinomial(
                    torch.tensor(r, dtype=dtype), **{name: torch.tensor(value, dtype=dtype)}
                )
                got = d.log_prob(torch.tensor(k, dtype=dtype))
                true = negative_binomial_log_pmf(rounded(r, dtype), rounded(k, dtype), log_p, log_q)
                assert_log_close(got, true, dtype, f"NegativeBinomial({r}, {given}).log_prob({k})")


def test_log_prob_gradients_at_extreme_parameters():
    # d/dl log P = k - n sigmoid(l) (Binomial), k - (r + k) sigmoid(l) (NegativeBinomial);
    # d/dp log P = k/p - (n - k)/(1 - p).
    for n, logits, k in [(1e6, 0.3, 500123.0), (1e6, -12.0, 3.0), (50.0, 20.0, 49.0)]:
        lt = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        D.Binomial(torch.tensor(n, dtype=torch.float64), logits=lt).log_prob(
            torch.tensor(k)
        ).backward()
        expected = k - n * float(1 / (1 + mp.exp(-logits)))
        assert lt.grad.item() == pytest.approx(expected, rel=1e-9, abs=1e-9)
        pt = torch.tensor(1 / (1 + math.exp(-logits)), dtype=torch.float64, requires_grad=True)
        D.Binomial(torch.tensor(n, dtype=torch.float64), probs=pt).log_prob(
            torch.tensor(k)
        ).backward()
        p = pt.item()
        assert pt.grad.item() == pytest.approx(k / p - (n - k) / (1 - p), rel=1e-9)
    for r, logits, k in [(1e6, 0.3, 1349000.0), (0.5, -30.0, 2.0), (40.0, 8.0, 1e5)]:
        lt = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        rt = torch.tensor(r, dtype=torch.float64, requires_grad=True)
        D.NegativeBinomial(rt, logits=lt).log_prob(torch.tensor(k)).backward()
        expected = k - (r + k) * float(1 / (1 + mp.exp(-logits)))
        assert lt.grad.item() == pytest.approx(expected, rel=1e-9, abs=1e-9)
        # d/dr log P = digamma(k + r) - digamma(r) + log(1 - p)
        dr = mp.digamma(k + r) - mp.digamma(r) + log_sigmoid(-mp.mpf(logits))
        assert rt.grad.item() == pytest.approx(float(dr), rel=1e-8, abs=1e-12)


# ------------------------------------------------------------------ moments and entropies


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_bernoulli_and_binomial_variance_and_entropy_from_logits(dtype):
    # float32 stops at |logits| = 80: e^-100 is subnormal there.
    top = 100.0 if dtype == torch.float64 else 80.0
    for logits in [-top, -50.0, -20.0, 0.7, 20.0, 50.0, top]:
        x = mp.mpf(rounded(logits, dtype))
        p, q = 1 / (1 + mp.exp(-x)), 1 / (1 + mp.exp(x))
        log_p, log_q = log_sigmoid(x), log_sigmoid(-x)
        d = D.Bernoulli(logits=torch.tensor(logits, dtype=dtype))
        assert_relative(d.variance, p * q, dtype, f"Bernoulli(logits={logits}).variance")
        assert_relative(d.entropy(), -(p * log_p + q * log_q), dtype, f"H(logits={logits})")
        n = 10.0
        b = D.Binomial(torch.tensor(n, dtype=dtype), logits=torch.tensor(logits, dtype=dtype))
        assert_relative(b.variance, n * p * q, dtype, f"Binomial(logits={logits}).variance")
        log_pmf = [binomial_log_pmf(n, k, log_p, log_q) for k in range(11)]
        entropy = -mp.fsum(mp.exp(lp) * lp for lp in log_pmf)
        assert_relative(b.entropy(), entropy, dtype, f"Binomial(10, logits={logits}).entropy")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_binomial_entropy_at_tiny_probs_and_large_counts(dtype):
    for n, probs in [(30.0, 1e-9), (1000.0, 1e-6), (200.0, 0.3), (5.0, 1 - 1e-7)]:
        log_p, log_q = log_tails(probs=rounded(probs, dtype))
        log_pmf = [binomial_log_pmf(n, k, log_p, log_q) for k in range(int(n) + 1)]
        entropy = -mp.fsum(mp.exp(lp) * lp for lp in log_pmf)
        d = D.Binomial(torch.tensor(n, dtype=dtype), probs=torch.tensor(probs, dtype=dtype))
        assert_relative(d.entropy(), entropy, dtype, f"Binomial({n}, {probs}).entropy")
    # issue 9: 5.54 in float32 once; scipy sums the pmf in float64 (error ~1e-13 here).
    d = D.Binomial(torch.tensor(1e6, dtype=dtype), probs=torch.tensor(0.5, dtype=dtype))
    assert float(d.entropy()) == pytest.approx(float(stats.binom(10**6, 0.5).entropy()), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_geometric_entropy_at_tiny_probs(dtype):
    tiny = 1e-300 if dtype == torch.float64 else 1e-37
    for given in [
        {"probs": tiny},
        {"probs": 1e-10},
        {"probs": 0.5},
        {"probs": 0.999},
        {"logits": -600.0 if dtype == torch.float64 else -80.0},
        {"logits": 30.0},
    ]:
        ((name, value),) = given.items()
        log_p, log_q = log_tails(**{name: rounded(value, dtype)})
        p, q = mp.exp(log_p), mp.exp(log_q)
        entropy = -log_p - q * log_q / p
        d = D.Geometric(**{name: torch.tensor(value, dtype=dtype)})
        assert_relative(d.entropy(), entropy, dtype, f"Geometric({given}).entropy")


# ------------------------------------------------------------------ tails and quantiles


def _binomial_tail(n, log_p, log_q, ks):
    """``log sum_{k in ks} P(k)`` in mpmath."""
    return mp.log(mp.fsum(mp.exp(binomial_log_pmf(n, k, log_p, log_q)) for k in ks))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_binomial_log_cdf_and_log_sf_in_both_tails(dtype):
    for n, probs, k in [
        (1000, 0.5, 0),
        (1000, 0.5, 999),
        (1000, 0.5, 700),
        (1000, 0.5, 300),
        (50, 1e-6, 3),
        (50, 1e-6, 0),
        (40, 1 - 1e-6, 1),
        (10, 0.3, 3),
        (200, 0.01, 15),
    ]:
        log_p, log_q = log_tails(probs=rounded(probs, dtype))
        d = D.Binomial(torch.tensor(float(n), dtype=dtype), probs=torch.tensor(probs, dtype=dtype))
        x = torch.tensor(float(k), dtype=dtype)
        log_cdf = _binomial_tail(n, log_p, log_q, range(k + 1))
        log_sf = _binomial_tail(n, log_p, log_q, range(k + 1, n + 1))
        what = f"Binomial({n}, {probs}) at {k}"
        assert_log_close(d.log_cdf(x), log_cdf, dtype, "log_cdf " + what)
        assert_log_close(d.log_survival_function(x), log_sf, dtype, "log_sf " + what)


def test_bernoulli_tails_at_tiny_probs():
    for probs in [1e-300, torch.finfo(torch.float64).tiny, 1e-20, 0.3]:
        d = D.Bernoulli(probs=torch.tensor(probs, dtype=torch.float64))
        zero = torch.tensor(0.0, dtype=torch.float64)
        assert d.log_survival_function(zero).item() == pytest.approx(math.log(probs), rel=1e-15)
        assert d.survival_function(zero).item() == probs
        assert d.log_cdf(zero).item() == pytest.approx(math.log1p(-probs), rel=1e-15, abs=0)
    d = D.Bernoulli(logits=torch.tensor([-800.0, 800.0], dtype=torch.float64))
    zero = torch.zeros(2, dtype=torch.float64)
    torch.testing.assert_close(d.log_survival_function(zero), torch.tensor([-800.0, 0.0]).double())
    torch.testing.assert_close(d.log_cdf(zero), torch.tensor([0.0, -800.0]).double())


def test_discrete_icdf_at_zero_and_one_is_in_the_support():
    # Smallest k with F(k) >= q: 0 at q = 0; at q = 1 the top of a finite support (0 for a
    # point mass at 0), and for an infinite one the first k where P(X > k) underflows.
    q = torch.tensor([0.0, 1.0], dtype=torch.float64).unsqueeze(-1)
    dists = [
        D.Bernoulli(probs=torch.tensor([0.0, 1e-300, 0.5, 1.0], dtype=torch.float64)),
        D.Binomial(
            torch.tensor([10.0, 1000.0, 5.0, 0.0]), probs=torch.tensor([0.3, 0.5, 0.0, 0.5])
        ),
        D.NegativeBinomial(torch.tensor([3.0, 0.0, 2.0]), probs=torch.tensor([0.4, 0.4, 0.0])),
        D.Geometric(probs=torch.tensor([1e-30, 0.5, 1.0], dtype=torch.float64)),
    ]
    expected_top = [[0.0, 1.0, 1.0, 1.0], [10.0, 1000.0, 0.0, 0.0], None, None]
    for d, top in zip(dists, expected_top):
        k = d.icdf(q)
        assert (k[0] == 0).all(), (d, k)
        assert torch.isfinite(k).all(), (d, k)
        assert (d.cdf(k[1]) == 1).all(), (d, k)
        assert torch.isfinite(d.log_prob(k[1])).all() | (d.log_prob(k[1]) == -math.inf).all()
        if top is not None:
            assert k[1].tolist() == top
        else:  # infinite support: below it the upper tail has not underflowed yet
            below = (k[1] - 1).clamp(min=0)
            positive = k[1] > 0
            assert (d.survival_function(below)[positive] > 0).all(), (d, k)


def test_float16_tails_are_finite():
    for dtype in [torch.float16, torch.bfloat16]:
        d = D.Binomial(
            torch.tensor([10.0, 100.0, 5.0], dtype=dtype),
            probs=torch.tensor([0.3, 0.5, 0.01], dtype=dtype),
        )
        x = torch.tensor([2.0, 50.0, 0.0], dtype=dtype)
        for method in ["log_prob", "cdf", "log_cdf", "log_survival_function", "survival_function"]:
            out = getattr(d, method)(x)
            assert out.dtype == dtype and torch.isfinite(out).all(), (method, out)


# ------------------------------------------------------------------ KL of nearly equal members


def _bernoulli_kl(a, b):
    return a * mp.log(a / b) + (1 - a) * mp.log((1 - a) / (1 - b))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_kl_between_nearly_equal_members(dtype, given):
    for p, dp in [(0.3, 1e-9), (0.3, 1e-4), (1e-5, 1e-12), (0.9, 1e-7), (0.5, -3e-6)]:
        if given == "probs":
            a_t, b_t = torch.tensor(p, dtype=dtype), torch.tensor(p + dp, dtype=dtype)
            a, b = mp.mpf(float(a_t)), mp.mpf(float(b_t))
        else:
            la, lb = math.log(p / (1 - p)), math.log((p + dp) / (1 - p - dp))
            a_t, b_t = torch.tensor(la, dtype=dtype), torch.tensor(lb, dtype=dtype)
            a, b = (1 / (1 + mp.exp(-mp.mpf(float(t)))) for t in (a_t, b_t))
        if a == b:
            continue
        kl = _bernoulli_kl(a, b)
        what = f"{given} {p} vs {p + dp}"
        bern = D.kl_divergence(D.Bernoulli(**{given: a_t}), D.Bernoulli(**{given: b_t}))
        assert_relative(bern, kl, dtype, "Bernoulli " + what)
        seven = torch.tensor(7.0, dtype=dtype)
        binom = D.kl_divergence(
            D.Binomial(seven, **{given: a_t}), D.Binomial(seven, **{given: b_t})
        )
        assert_relative(binom, 7 * kl, dtype, "Binomial " + what)
        geom = D.kl_divergence(D.Geometric(**{given: a_t}), D.Geometric(**{given: b_t}))
        assert_relative(geom, kl / a, dtype, "Geometric " + what)


def test_kl_is_never_negative_and_exact_at_the_edges():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2000, generator=g, dtype=torch.float64)
    b = a + (torch.rand(2000, generator=g, dtype=torch.float64) - 0.5) * 1e-12
    b = b.clamp(0, 1)
    for build in [D.Bernoulli, lambda probs: D.Geometric(probs=probs.clamp(min=1e-3))]:
        assert (D.kl_divergence(build(probs=a), build(probs=b)) >= 0).all()
    la = torch.randn(2000, generator=g, dtype=torch.float64) * 20
    lb = la + torch.randn(2000, generator=g, dtype=torch.float64) * 1e-10
    assert (D.kl_divergence(D.Bernoulli(logits=la), D.Bernoulli(logits=lb)) >= 0).all()
    # p = 0 or 1 against an interior q: -log(1 - q) and -log q; against q = 0: inf.
    p = D.Bernoulli(probs=torch.tensor([0.0, 1.0, 0.5, 0.0], dtype=torch.float64))
    q = D.Bernoulli(probs=torch.tensor([0.25, 0.25, 0.0, 0.0], dtype=torch.float64))
    expected = torch.tensor([-math.log(0.75), -math.log(0.25), math.inf, 0.0], dtype=torch.float64)
    torch.testing.assert_close(D.kl_divergence(p, q), expected)
    # far apart from logits: no overflow in expm1(l_p - l_q).
    p = D.Bernoulli(logits=torch.tensor([-800.0, 800.0, 30.0], dtype=torch.float64))
    q = D.Bernoulli(logits=torch.tensor([800.0, -800.0, -30.0], dtype=torch.float64))
    kl = D.kl_divergence(p, q)
    assert kl.tolist() == pytest.approx([800.0, 800.0, 30.0 * float(1 - 2 / (1 + mp.exp(30)))])


def test_kl_gradients_between_nearly_equal_members():
    # d KL / d q = (q - p) / (q (1 - q)), which the cancelling textbook form gets wrong.
    p = torch.tensor(0.3, dtype=torch.float64)
    q = torch.tensor(0.3 + 1e-7, dtype=torch.float64, requires_grad=True)
    D.kl_divergence(D.Bernoulli(probs=p), D.Bernoulli(probs=q)).backward()
    qv = mp.mpf(q.item())
    expected = (qv - mp.mpf(p.item())) / (qv * (1 - qv))
    assert q.grad.item() == pytest.approx(float(expected), rel=1e-8)


# ------------------------------------------------------------------ negative binomial entropy


def _negative_binomial_entropy(r, log_p, log_q, stop):
    terms = (negative_binomial_log_pmf(r, k, log_p, log_q) for k in range(stop))
    return -mp.fsum(mp.exp(t) * t for t in terms)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_negative_binomial_entropy(dtype):
    for r, given, stop in [
        (3.0, {"probs": 0.4}, 200),
        (0.5, {"probs": 0.9}, 1500),
        (1e-3, {"probs": 0.5}, 200),
        (10.0, {"probs": 1e-9}, 30),
        (200.0, {"logits": -2.0}, 400),
        (1.5, {"logits": 3.0}, 3000),
    ]:
        ((name, value),) = given.items()
        log_p, log_q = log_tails(**{name: rounded(value, dtype)})
        with mp.workdps(30):
            true = _negative_binomial_entropy(rounded(r, dtype), log_p, log_q, stop)
        d = D.NegativeBinomial(
            torch.tensor(r, dtype=dtype), **{name: torch.tensor(value, dtype=dtype)}
        )
        assert_relative(d.entropy(), true, dtype, f"NegativeBinomial({r}, {given}).entropy")


def test_negative_binomial_entropy_beyond_the_window(monkeypatch):
    # Past the widest window: Edgeworth for large r p, the Gamma continuum limit for a heavy
    # tail (p near 1, small r p); each against the exact window sum where both apply.
    import aleatorch.distributions.negative_binomial as module

    cases = [(2e5, 0.5, 1e-9), (5e4, 0.9, 1e-9), (0.5, 1 - 1e-4, 1e-4), (3.0, 1 - 2e-4, 3e-4)]
    for r, probs, rtol in cases:
        f64 = torch.float64
        d = D.NegativeBinomial(torch.tensor(r, dtype=f64), probs=torch.tensor(probs, dtype=f64))
        exact = d.entropy().item()
        with monkeypatch.context() as patch:
            patch.setattr(module, "_MAX_ENTROPY_WINDOW", 2**10)
            assert d.entropy().item() == pytest.approx(exact, rel=rtol), (r, probs)


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_negative_binomial_textbook_tiers_agree_with_the_exact_form(given):
    # utils.textbook_dtype picks lgamma directly (r, k <= 20), lgamma in float64 (float32
    # inputs up to 1e8) or Loader's form: each tier against Loader's form in float64.
    g = torch.Generator().manual_seed(3)
    r = torch.cat([torch.tensor([0.0, 0.5, 1.0, 20.0]), torch.rand(60, generator=g) * 20])
    param = torch.rand(64, generator=g) * 0.98 + 0.01
    if given == "logits":
        param = torch.logit(param)
    k = torch.cat([torch.tensor([0.0, 0.0, 3.0, 20.0]), torch.randint(0, 21, (60,), generator=g)])
    for scale, dtype, tol in [
        (1.0, torch.float64, 64),
        (1.0, torch.float32, 64),
        (50.0, torch.float32, 1),
    ]:
        d_work = D.NegativeBinomial(
            (r * scale).to(dtype), **{given: param.to(dtype)}, validate_args=False
        )
        got = d_work.log_prob((k * scale).to(dtype)).double()
        d64 = D.NegativeBinomial(
            (r * scale).to(dtype).double(), **{given: param.to(dtype).double()}, validate_args=False
        )
        exact = d64._exact_log_prob((k * scale).to(dtype).double())
        eps = torch.finfo(dtype).eps
        err = ((got - exact).abs() / exact.abs().clamp(min=1)).max().item()
        assert err <= tol * eps, (scale, dtype, err / eps)


@pytest.mark.parametrize("method", ["log_prob", "entropy"])
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_binomial_textbook_tiers_agree_with_the_exact_form(monkeypatch, method, given):
    import aleatorch.distributions.binomial as module

    g = torch.Generator().manual_seed(5)
    n = torch.randint(0, 21, (40,), generator=g).double()
    p = torch.rand(40, generator=g, dtype=torch.float64) * 0.98 + 0.01
    param = p if given == "probs" else torch.logit(p)
    for scale, dtype, tol in [
        (1, torch.float64, 64),
        (1, torch.float32, 64),
        (50, torch.float32, 1),
    ]:
        d = D.Binomial((n * scale).to(dtype), **{given: param.to(dtype)}, validate_args=False)
        with torch.no_grad():
            k = d.sample()
        got = (d.entropy() if method == "entropy" else d.log_prob(k)).double()
        with monkeypatch.context() as patch:
            patch.setattr(module, "textbook_dtype", lambda *a, **kw: None)
            patch.setattr(module, "textbook_range", lambda *a, **kw: False)
            d64 = D.Binomial(
                (n * scale).to(dtype).double(),
                **{given: param.to(dtype).double()},
                validate_args=False,
            )
            exact = d64.entropy() if method == "entropy" else d64.log_prob(k.double())
        eps = torch.finfo(dtype).eps
        err = ((got - exact).abs() / exact.abs().clamp(min=1)).max().item()
        assert err <= tol * eps, (scale, dtype, err / eps)
