"""Hard points of the gamma family (Gamma, Beta, Dirichlet) and of the simple continuous ones.

Monte Carlo checks use seeded generators and tolerances of 6 standard errors estimated from
the same samples (or computed from the binomial variance for empirical cdfs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributions as TD
from scipy import stats

import aleatorch as D
from aleatorch._samplers import log_standard_gamma

DTYPES = [torch.float64, torch.float32]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _t(*values):
    return torch.tensor(values, dtype=torch.float64)


def assert_ecdf_matches(samples, points, expected_cdf):
    """Empirical cdf at ``points`` within 6 binomial standard errors of ``expected_cdf``."""
    n = samples.shape[0]
    for x, p in zip(points, expected_cdf):
        empirical = (samples <= x).double().mean(0).numpy()
        se = math.sqrt(max(p * (1 - p), 1 / n) / n)
        np.testing.assert_allclose(empirical, p, rtol=0, atol=6 * se, err_msg=f"cdf at {x}")


# ----------------------------------------------------------------- tiny concentrations


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_standard_gamma_matches_the_log_gamma_law_for_tiny_concentration(dtype):
    a = torch.tensor([1e-3, 0.05, 0.7, 1.0, 3.0], dtype=dtype)
    n = 100_000
    log_g = log_standard_gamma(a, torch.Size((n, 5)), gen(1)).double()
    assert torch.isfinite(log_g).all()
    # E[log G] = digamma(a), Var[log G] = trigamma(a).
    expected = torch.special.digamma(a.double())
    se = (torch.special.polygamma(1, a.double()) / n).sqrt()
    assert ((log_g.mean(0) - expected).abs() <= 6 * se).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_with_tiny_concentrations_matches_scipy(dtype):
    a, b = 1e-3, 2e-3
    d = D.Beta(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype))
    x = d.sample((100_000,), generator=gen(2))
    assert x.dtype == dtype
    assert not torch.isnan(x).any()
    assert ((x > 0) & (x < 1)).all()
    assert torch.isfinite(d.log_prob(x)).all()
    points = [1e-30, 1e-5, 0.5, 1 - 2**-20]
    xd = x.double()
    assert_ecdf_matches(xd, points, stats.beta(a, b).cdf(points))
    se = xd.std() / len(xd) ** 0.5
    assert abs(xd.mean() - a / (a + b)) <= 6 * se


def test_beta_tiny_concentrations_in_the_lower_tail_of_float64():
    # Half of Beta(1e-3, 1e-3) lies below 1e-200: the log-space sampler keeps those draws.
    a = 1e-3
    concentration = torch.tensor(a, dtype=torch.float64)
    x = D.Beta(concentration, concentration).sample((50_000,), generator=gen(3))
    points = [1e-300, 1e-200, 1e-100]
    assert_ecdf_matches(x.double(), points, stats.beta(a, a).cdf(points))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dirichlet_with_tiny_concentrations(dtype):
    alpha = torch.full((3,), 1e-3, dtype=dtype)
    x = D.Dirichlet(alpha).sample((100_000,), generator=gen(4))
    assert x.dtype == dtype
    assert not torch.isnan(x).any()
    assert (x > 0).all()
    tol = 4 * torch.finfo(dtype).eps
    assert ((x.sum(-1) - 1).abs() <= tol).all()
    assert torch.isfinite(D.Dirichlet(alpha).log_prob(x)).all()
    xd = x.double()
    se = xd.std(0) / len(xd) ** 0.5
    assert ((xd.mean(0) - 1 / 3).abs() <= 6 * se).all()
    # Each component is Beta(a_i, a_0 - a_i).
    points = [1e-20, 1e-3, 0.5, 0.999]
    assert_ecdf_matches(xd[:, 0], points, stats.beta(1e-3, 2e-3).cdf(points))


def _pathwise_beta_mean_gradient(a, b, dtype, batches=20, n=50_000):
    a = torch.tensor(a, dtype=dtype, requires_grad=True)
    b = torch.tensor(b, dtype=dtype, requires_grad=True)
    g = gen(5)
    estimates = []
    for _ in range(batches):
        x = D.Beta(a, b).rsample((n,), generator=g)
        estimates.append(torch.stack(torch.autograd.grad(x.double().mean(), [a, b])).double())
    est = torch.stack(estimates)
    return est.mean(0), est.std(0) / batches**0.5


@pytest.mark.parametrize("a, b", [(1e-3, 1e-3), (0.01, 0.02), (0.05, 3.0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_pathwise_gradient_of_the_mean_at_small_concentrations(a, b, dtype):
    mean, se = _pathwise_beta_mean_gradient(a, b, dtype)
    # d/da a/(a+b) = b/(a+b)^2, d/db = -a/(a+b)^2 (at the parameters as rounded to dtype).
    a_, b_ = float(torch.tensor(a, dtype=dtype)), float(torch.tensor(b, dtype=dtype))
    exact = torch.tensor([b_, -a_], dtype=torch.float64) / (a_ + b_) ** 2
    assert (se < 0.1 * exact.abs()).all(), "the estimate is too noisy to test anything"
    assert ((mean - exact).abs() <= 6 * se).all(), (mean, se, exact)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_rsample_gradient_is_finite_and_unbiased_at_tiny_concentration(dtype):
    a = torch.tensor(1e-3, dtype=dtype, requires_grad=True)
    rate = torch.tensor(2.0, dtype=dtype, requires_grad=True)
    g = gen(6)
    estimates = []
    for _ in range(20):
        x = D.Gamma(a, rate).rsample((20_000,), generator=g)
        assert (x > 0).all() and torch.isfinite(D.Gamma(a, rate).log_prob(x)).all()
        grads = torch.autograd.grad(x.mean(), [a, rate])
        assert all(torch.isfinite(gr) for gr in grads)
        estimates.append(torch.stack(grads).double())
    est = torch.stack(estimates)
    mean, se = est.mean(0), est.std(0) / 20**0.5
    # E[X] = a / rate: d/da = 1/rate, d/drate = -a/rate^2.
    a_ = float(a.detach())
    exact = torch.tensor([0.5, -a_ / 4], dtype=torch.float64)
    assert ((mean - exact).abs() <= 6 * se + 1e-12).all(), (mean, se, exact)


def test_dirichlet_pathwise_gradient_at_small_concentration():
    alpha = torch.tensor([0.01, 0.05, 2.0], dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    exact = torch.autograd.grad((alpha / alpha.sum() * weights).sum(), alpha)[0]
    g = gen(7)
    estimates = []
    for _ in range(20):
        x = D.Dirichlet(alpha).rsample((20_000,), generator=g)
        estimates.append(torch.autograd.grad((x.mean(0) * weights).sum(), alpha)[0])
    est = torch.stack(estimates)
    se = est.std(0) / 20**0.5
    assert (se < 0.1 * exact.abs()).all()
    assert ((est.mean(0) - exact).abs() <= 6 * se).all()


# ----------------------------------------------------------------- closed forms


def test_beta_log_prob_at_the_ends_of_the_support():
    d = D.Beta(torch.tensor([1.0, 2.0, 1.0, 0.5]), torch.tensor([1.0, 1.0, 3.0, 0.5]))
    x = torch.tensor([[0.0], [1.0]])
    expected = TD.Beta(d.concentration1, d.concentration0, validate_args=False).log_prob(x)
    torch.testing.assert_close(d.log_prob(x), expected)
    # log(1 - x) for tiny x through log1p: log(1 - x) would cost b * eps ~ 1e-6 here. The
    # difference of two log-densities cancels log B(a, b), whose lgamma form loses ~1e-5 at
    # b = 1e10 (as torch's does).
    x, b = 1e-12, 1e10
    d = D.Beta(_t(2.0), _t(b))
    expected = math.log(0.5) + (b - 1) * (math.log1p(-x) - math.log1p(-2 * x))
    actual = float(d.log_prob(_t(x)) - d.log_prob(_t(2 * x)))
    assert actual == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["Gamma", "Beta", "Dirichlet"])
def test_log_prob_gradients_match_torch_including_concentration_one(name):
    # log_prob works in place on its buffers: the gradients must still be exact, also at a
    # concentration of 1 where (a - 1) log x is formed as 0 * log x.
    if name == "Dirichlet":
        params = [_t(1.0, 0.5, 3.0, 1.0, 1.0, 2.0).reshape(2, 3).requires_grad_()]
        x = torch.softmax(torch.randn(4, 2, 3, generator=gen(9), dtype=torch.float64), -1)
    else:
        params = [_t(1.0, 0.5, 3.0).requires_grad_(), _t(2.0, 1.0, 1.0).requires_grad_()]
        x = torch.rand(4, 3, generator=gen(9), dtype=torch.float64)
    x.requires_grad_()
    ours = getattr(D, name)(*params).log_prob(x)
    theirs = getattr(TD, name)(*params).log_prob(x)
    torch.testing.assert_close(ours, theirs)
    weights = torch.rand(ours.shape, generator=gen(10), dtype=torch.float64)
    inputs = [*params, x]
    expected = torch.autograd.grad((theirs * weights).sum(), inputs)
    for actual, exp in zip(torch.autograd.grad((ours * weights).sum(), inputs), expected):
        torch.testing.assert_close(actual, exp)


@pytest.mark.parametrize(
    "a, b, mode",
    [
        (3.0, 2.0, 2 / 3),
        (1.0, 3.0, 0.0),
        (3.0, 1.0, 1.0),
        (0.5, 2.0, 0.0),
        (2.0, 0.5, 1.0),
        (0.5, 0.3, 1.0),
        (0.3, 0.5, 0.0),
        (1.0, 0.5, 1.0),
        (0.5, 1.0, 0.0),
        (1.0, 1.0, math.nan),
    ],
)
def test_beta_mode(a, b, mode):
    actual = float(D.Beta(_t(a), _t(b)).mode)
    assert actual == pytest.approx(mode, rel=1e-15, nan_ok=True)
    if 1.0 in (a, b) and min(a, b) < 1:
        return  # Dirichlet keeps torch's NaN there: (alpha - 1)_+ is all zero.
    # The Beta is the first coordinate of Dirichlet([a, b]); both use the same convention.
    dirichlet = float(D.Dirichlet(_t(a, b)).mode[0])
    assert dirichlet == pytest.approx(mode, rel=1e-15, nan_ok=True)


def test_dirichlet_mode():
    alpha = _t(2.0, 3.0, 5.0, 0.5, 4.0, 3.0).reshape(2, 3)
    # (alpha - 1)_+ normalized, as torch.
    torch.testing.assert_close(D.Dirichlet(alpha).mode, TD.Dirichlet(alpha).mode)
    # All alpha_i < 1: the vertex of the largest alpha_i. (torch 2.13 takes the argmax of a
    # row of NaN there and so always returns the first vertex.)
    alpha = _t(0.5, 0.2, 0.7, 0.3, 0.9, 0.1, 0.4, 0.4, 0.2).reshape(3, 3)
    expected = _t(0, 0, 1, 0, 1, 0, 1, 0, 0).reshape(3, 3)
    torch.testing.assert_close(D.Dirichlet(alpha).mode, expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda: D.Exponential(torch.tensor([0.3, 2.0, 7.0], dtype=torch.float64)),
        lambda: D.Gamma(
            torch.tensor([0.05, 1.0, 30.0], dtype=torch.float64),
            torch.tensor([2.0, 0.5, 3.0], dtype=torch.float64),
        ),
    ],
)
def test_natural_parameters_give_the_closed_form_entropy(make):
    d = make()
    torch.testing.assert_close(D.ExponentialFamily._entropy(d), d.entropy())


def test_exponential_tails():
    d = D.Exponential(torch.tensor(3.0, dtype=torch.float64))
    x = torch.tensor([1e-20, 1e-5, 300.0], dtype=torch.float64)
    torch.testing.assert_close(d.log_survival_function(x), -3 * x, rtol=0, atol=0)
    expected = [math.log(-math.expm1(-3 * v)) for v in x.tolist()]
    torch.testing.assert_close(d.log_cdf(x), torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(d.cdf(x), torch.tensor([3e-20, -math.expm1(-3e-5), 1.0]).double())
    q = torch.tensor([1e-18, 0.5], dtype=torch.float64)
    torch.testing.assert_close(d.icdf(q), torch.tensor([1e-18 / 3, math.log(2) / 3]).double())


def test_laplace_tails():
    d = D.Laplace(torch.tensor(1.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
    z = torch.tensor([-400.0, -30.0, 0.0, 30.0, 400.0], dtype=torch.float64)
    x = 1.0 + 2.0 * z
    half = math.log(0.5)
    below = torch.where(z < 0, half + z, torch.log1p(-0.5 * torch.exp(-z.abs())))
    torch.testing.assert_close(d.log_cdf(x), below, rtol=1e-15, atol=0)
    torch.testing.assert_close(d.log_survival_function(x), below.flip(0), rtol=1e-15, atol=0)
    assert float(d.cdf(x[1])) == pytest.approx(0.5 * math.exp(-30), rel=1e-14)
    assert float(d.survival_function(x[3])) == pytest.approx(0.5 * math.exp(-30), rel=1e-14)
    q = torch.tensor([1e-300, 0.25, 0.5, 0.75, 1 - 2**-52], dtype=torch.float64)
    expected = [1 + 2 * math.log(2e-300), 1 + 2 * math.log(0.5), 1.0, 1 - 2 * math.log(0.5)]
    expected.append(1 - 2 * math.log(2 * 2**-52))
    torch.testing.assert_close(d.icdf(q), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_laplace_rsample_follows_the_laplace_law(dtype):
    # Kolmogorov-Smirnov against scipy (no knowledge of the sampler's formula), and the
    # pathwise gradients of E[X] = loc and E[|X - loc|] = scale: 1 and 1.
    loc = torch.tensor(1.5, dtype=dtype, requires_grad=True)
    scale = torch.tensor(0.7, dtype=dtype, requires_grad=True)
    x = D.Laplace(loc, scale).rsample((50_000,), generator=gen(11))
    assert x.dtype == dtype and torch.isfinite(x).all()
    xd = x.detach().double().numpy()
    assert stats.kstest(xd, stats.laplace(1.5, float(scale)).cdf).pvalue > 1e-6
    (d_loc,) = torch.autograd.grad(x.mean(), loc, retain_graph=True)
    (d_scale,) = torch.autograd.grad((x - loc.detach()).abs().mean(), scale)
    torch.testing.assert_close(d_loc.double(), torch.tensor(1.0, dtype=torch.float64))
    assert abs(float(d_scale) - 1) <= 6 * float(np.std(np.abs(xd - 1.5) / 0.7)) / 50_000**0.5


def test_laplace_float16_rsample_is_finite_and_symmetric():
    # float16 parameters are sampled in float32 (Laplace._half_in_float32) and rounded back:
    # 200k draws reach far into both tails; none may overflow or vanish to NaN.
    d = D.Laplace(torch.tensor(0.0, dtype=torch.float16), torch.tensor(1.0, dtype=torch.float16))
    x = d.rsample((200_000,), generator=gen(12))
    assert x.dtype == torch.float16 and torch.isfinite(x).all()
    # Symmetric law: the share of negative draws is 1/2 within 5 standard errors.
    share = float((x < 0).double().mean())
    assert abs(share - 0.5) <= 5 * (0.25 / x.numel()) ** 0.5


def test_uniform_support_is_closed_and_log_prob_outside_is_minus_inf():
    d = D.Uniform(torch.tensor([0.0, -1.0]), torch.tensor([1.0, 1.0]), validate_args=False)
    lp = d.log_prob(torch.tensor([1.5, -1.0]))
    assert lp[0] == -math.inf and lp[1] == -math.log(2)
    with pytest.raises(D.SupportError, match="Uniform"):
        D.Uniform(0.0, 1.0).log_prob(torch.tensor(1.5))
    assert bool(D.Uniform(0.0, 1.0).support.check(torch.tensor(0.0)))
    assert bool(D.Uniform(0.0, 1.0).support.check(torch.tensor(1.0)))
    assert math.isnan(float(D.Uniform(0.0, 1.0).mode))


def test_uniform_upper_bound_has_the_density_and_cdf_one():
    d = D.Uniform(torch.tensor([0.0, -1.0], dtype=torch.float64), 3.0)
    high = torch.tensor([3.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(d.log_prob(high), -torch.tensor([3.0, 4.0]).double().log())
    assert torch.equal(d.cdf(high), torch.ones(2, dtype=torch.float64))
    assert torch.equal(d.survival_function(high), torch.zeros(2, dtype=torch.float64))


# ----------------------------------------------------------------- KL


def _mc_kl(p, q, n=200_000, seed=8):
    x = p.sample((n,), generator=gen(seed))
    diff = p.log_prob(x) - q.log_prob(x)
    return diff.mean(0), diff.std(0) / n**0.5


KL_PAIRS = [
    (D.Uniform(_t(0.0, -1.0), _t(1.0, 1.0)), D.Uniform(_t(-0.5, -2.0), _t(2.0, 1.0))),
    (D.Exponential(_t(0.5, 2.0, 3.0)), D.Exponential(_t(1.0, 2.0, 0.1))),
    (
        D.Laplace(_t(0.0, 1.0, -2.0), _t(1.0, 0.5, 3.0)),
        D.Laplace(_t(1.0, 1.0, 0.0), _t(2.0, 0.5, 1.0)),
    ),
    (D.Gamma(_t(0.5, 2.0, 5.0), _t(1.0, 3.0, 0.5)), D.Gamma(_t(1.5, 2.0, 0.3), _t(2.0, 1.0, 0.7))),
    (D.Beta(_t(0.5, 2.0, 5.0), _t(1.0, 3.0, 0.5)), D.Beta(_t(1.5, 2.0, 0.8), _t(2.0, 1.0, 0.7))),
    (
        D.Dirichlet(_t(0.5, 2.0, 5.0).expand(2, 3) * _t(1.0, 2.0).unsqueeze(-1)),
        D.Dirichlet(_t(1.5, 2.0, 0.8).expand(2, 3)),
    ),
]


@pytest.mark.parametrize("pair", KL_PAIRS, ids=lambda pair: type(pair[0]).__name__)
def test_kl_matches_monte_carlo_and_torch(pair):
    p, q = pair
    kl = D.kl_divergence(p, q)
    estimate, se = _mc_kl(p, q)
    assert ((kl - estimate).abs() <= 6 * se + 1e-12).all(), (kl, estimate, se)
    torch_p = getattr(TD, type(p).__name__)(*[getattr(p, k) for k in p.arg_constraints])
    torch_q = getattr(TD, type(q).__name__)(*[getattr(q, k) for k in q.arg_constraints])
    torch.testing.assert_close(kl, TD.kl_divergence(torch_p, torch_q))


def test_kl_uniform_is_infinite_when_the_support_is_not_nested():
    p = D.Uniform(_t(0.0, 0.0), _t(1.0, 1.0))
    q = D.Uniform(_t(0.5, -1.0), _t(2.0, 0.5))
    assert torch.isinf(D.kl_divergence(p, q)).all()
    assert D.kl_divergence(p, p).abs().max() == 0
