"""Hard points of Geometric, NegativeBinomial, ContinuousBernoulli and Multinomial that the
registry's moderate parameters do not reach: extreme logits (where torch loses digits),
degenerate parameters, lambda = 1/2 exactly, and the multinomial entropy against brute-force
enumeration."""

import itertools
import math

import mpmath
import pytest
import torch

import aleatorch as D
from aleatorch._generic_icdf import invert_cdf

F64 = torch.float64
mpmath.mp.dps = 50


def _sigmoid(l):
    return 1 / (1 + mpmath.exp(-mpmath.mpf(l)))


# ----------------------------------------------------------------- Geometric


@pytest.mark.parametrize("logit", [-800.0, -30.0, 30.0, 200.0])
def test_geometric_summaries_are_exact_for_extreme_logits(logit):
    d = D.Geometric(logits=torch.tensor(logit, dtype=F64))
    l = mpmath.mpf(logit)
    log_p, log_q = -mpmath.log1p(mpmath.exp(-l)), -mpmath.log1p(mpmath.exp(l))
    mean = mpmath.exp(-l)  # (1 - p) / p
    entropy = -log_p - mean * log_q
    assert float(d.mean) == pytest.approx(float(mean), rel=1e-14)
    assert float(d.variance) == pytest.approx(float(mean + mean**2), rel=1e-14)
    assert float(d.entropy()) == pytest.approx(float(entropy), rel=1e-13, abs=1e-300)


def test_geometric_icdf_matches_bisection_of_the_cdf():
    d = D.Geometric(probs=torch.tensor([1.0, 0.9, 0.3, 0.01, 1e-5], dtype=F64))
    q = torch.linspace(0, 1, 401, dtype=F64)[1:-1, None]
    torch.testing.assert_close(d.icdf(q), invert_cdf(d, q), rtol=0, atol=0)
    # and at the cdf's own values, where rounding of the ratio could overshoot
    k = torch.arange(0, 30, dtype=F64)[:, None]
    cdf = d.cdf(k)
    inside = cdf < 1
    torch.testing.assert_close(d.icdf(cdf)[inside], invert_cdf(d, cdf)[inside], rtol=0, atol=0)


def test_geometric_with_certain_success_is_a_point_mass_at_zero():
    d = D.Geometric(probs=torch.tensor(1.0, dtype=F64))
    assert (d.sample((100,)) == 0).all()
    assert float(d.log_prob(torch.tensor(0.0, dtype=F64))) == 0.0
    assert float(d.icdf(torch.tensor(1.0, dtype=F64))) == 0.0


# ----------------------------------------------------------------- NegativeBinomial


def test_negative_binomial_zero_count_is_a_point_mass_at_zero():
    d = D.NegativeBinomial(torch.tensor([0.0, 3.0], dtype=F64), probs=torch.tensor(0.4, dtype=F64))
    x = torch.tensor([[0.0], [2.0]], dtype=F64)
    lp = d.log_prob(x)
    assert lp[0, 0] == 0 and lp[1, 0] == -math.inf
    assert (d.cdf(x)[:, 0] == 1).all()
    assert (d.sample((50,))[:, 0] == 0).all()


@pytest.mark.parametrize("logit", [-40.0, 25.0])
def test_negative_binomial_mean_and_log_prob_for_extreme_logits(logit):
    r = 2.5
    d = D.NegativeBinomial(torch.tensor(r, dtype=F64), logits=torch.tensor(logit, dtype=F64))
    p = _sigmoid(logit)
    assert float(d.mean) == pytest.approx(float(r * mpmath.exp(logit)), rel=1e-14)
    assert float(d.variance) == pytest.approx(float(r * p / (1 - p) ** 2), rel=1e-12)
    k = 7.0
    exact = (
        mpmath.loggamma(k + r)
        - mpmath.loggamma(r)
        - mpmath.loggamma(k + 1)
        + r * mpmath.log(_sigmoid(-logit))
        + k * mpmath.log(p)
    )
    assert float(d.log_prob(torch.tensor(k, dtype=F64))) == pytest.approx(float(exact), rel=1e-13)


def test_negative_binomial_cdf_sums_the_pmf():
    d = D.NegativeBinomial(
        torch.tensor([0.7, 4.0, 30.0], dtype=F64), probs=torch.tensor([0.2, 0.6, 0.9], dtype=F64)
    )
    k = torch.arange(0, 400, dtype=F64)[:, None]
    torch.testing.assert_close(d.cdf(k), d.log_prob(k).exp().cumsum(0), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------- ContinuousBernoulli


def _cb_exact(logit):
    """log Z, mean, variance and entropy of the continuous Bernoulli at ``logit``, exactly."""
    eta = mpmath.mpf(logit)
    if eta == 0:
        return mpmath.mpf(0), mpmath.mpf(1) / 2, mpmath.mpf(1) / 12, mpmath.mpf(0)
    log_z = mpmath.log(mpmath.expm1(eta) / eta)
    mean = 1 / (1 - mpmath.exp(-eta)) - 1 / eta
    var = 1 / eta**2 - 1 / (4 * mpmath.sinh(eta / 2) ** 2)
    return log_z, mean, var, log_z - eta * mean


@pytest.mark.parametrize("logit", [-800.0, -30.0, -1.5, -1e-7, 0.0, 1e-7, 0.99, 1.01, 30.0, 800.0])
def test_continuous_bernoulli_is_accurate_everywhere(logit):
    d = D.ContinuousBernoulli(logits=torch.tensor(logit, dtype=F64))
    log_z, mean, var, entropy = _cb_exact(logit)
    x = torch.tensor(0.3, dtype=F64)
    assert float(d.log_prob(x)) == pytest.approx(float(logit * 0.3 - log_z), rel=1e-14, abs=1e-15)
    assert float(d.mean) == pytest.approx(float(mean), rel=1e-14)
    assert float(d.variance) == pytest.approx(float(var), rel=1e-13)
    assert float(d.entropy()) == pytest.approx(float(entropy), rel=1e-13, abs=1e-15)
    q = torch.tensor([1e-10, 0.3, 0.999], dtype=F64)
    back = d.cdf(d.icdf(q))
    torch.testing.assert_close(back, q, rtol=1e-12, atol=0)


@pytest.mark.parametrize("probs", [0.4999, 0.49999, 0.5, 0.50001, 0.5001])
def test_continuous_bernoulli_float32_near_one_half(probs):
    """torch switches to a 2-term Taylor expansion in (0.499, 0.501) and cuts probs; ours
    keeps float32 rounding accuracy through the switch."""
    d = D.ContinuousBernoulli(probs=torch.tensor(probs, dtype=torch.float32))
    lam = mpmath.mpf(float(torch.tensor(probs, dtype=torch.float32)))
    logit = mpmath.log(lam / (1 - lam))
    log_z, mean, var, entropy = _cb_exact(logit)
    x = 0.7
    exact_lp = logit * mpmath.mpf(float(torch.tensor(x, dtype=torch.float32))) - log_z
    assert float(d.log_prob(torch.tensor(x))) == pytest.approx(float(exact_lp), abs=3e-7)
    assert float(d.mean) == pytest.approx(float(mean), rel=3e-7)
    assert float(d.variance) == pytest.approx(float(var), rel=3e-7)


def test_continuous_bernoulli_gradients_at_one_half_are_right():
    """At eta = 0 exactly the closed forms are 0/0; the series gives the derivatives:
    d mean / d eta = 1/12, d log Z / d eta = 1/2, d icdf(q) / d eta = q (1 - q) / 2."""
    eta = torch.tensor(0.0, dtype=F64, requires_grad=True)
    d = D.ContinuousBernoulli(logits=eta)
    (g_mean,) = torch.autograd.grad(d.mean, eta)
    assert float(g_mean) == pytest.approx(1 / 12, rel=1e-14)
    (g_lp,) = torch.autograd.grad(d.log_prob(torch.tensor(0.3, dtype=F64)), eta)
    assert float(g_lp) == pytest.approx(0.3 - 0.5, rel=1e-14)
    q = torch.tensor(0.3, dtype=F64)
    (g_icdf,) = torch.autograd.grad(d.icdf(q), eta)
    assert float(g_icdf) == pytest.approx(0.3 * 0.7 / 2, rel=1e-12)


# ----------------------------------------------------------------- Multinomial


def _brute_force_entropy(n, probs):
    h = 0.0
    for x in itertools.product(range(n + 1), repeat=len(probs)):
        if sum(x) != n:
            continue
        log_p = math.lgamma(n + 1) - sum(math.lgamma(k + 1) for k in x)
        if any(k > 0 and p == 0 for k, p in zip(x, probs)):
            continue
        log_p += sum(k * math.log(p) for k, p in zip(x, probs) if k > 0)
        h -= math.exp(log_p) * log_p
    return h


@pytest.mark.parametrize("n", [0, 1, 2, 5, 9])
@pytest.mark.parametrize("probs", [[0.2, 0.3, 0.5], [0.7, 0.0, 0.3], [0.05, 0.05, 0.1, 0.8], [1.0]])
def test_multinomial_entropy_matches_enumeration(n, probs):
    d = D.Multinomial(n, probs=torch.tensor(probs, dtype=F64))
    assert float(d.entropy()) == pytest.approx(_brute_force_entropy(n, probs), rel=1e-13, abs=1e-14)


def test_multinomial_entropy_gradient_is_finite_with_a_zero_probability():
    logits = torch.tensor([0.3, -math.inf, 1.0], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(D.Multinomial(6, logits=logits).entropy(), logits)
    assert torch.isfinite(grad).all()


def test_multinomial_samples_sum_to_total_count():
    d = D.Multinomial(17, probs=torch.tensor([[0.1, 0.0, 0.9], [0.3, 0.3, 0.4]], dtype=F64))
    x = d.sample((200,))
    assert x.shape == (200, 2, 3)
    assert (x.sum(-1) == 17).all() and (x[:, 0, 1] == 0).all()


def test_multinomial_rejects_a_tensor_total_count():
    with pytest.raises(NotImplementedError, match="Multinomial"):
        D.Multinomial(torch.tensor(3), probs=torch.tensor([0.5, 0.5]))
