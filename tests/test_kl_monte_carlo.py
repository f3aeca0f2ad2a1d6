"""``kl_divergence(p, q, n_samples=...)``: an opt-in Monte Carlo estimate for pairs without a
closed form, never chosen silently."""

import math

import pytest
import torch

import aleatorch as D


def test_a_pair_without_a_closed_form_raises_and_names_the_opt_in():
    p, q = D.Kumaraswamy(2.0, 3.0), D.Beta(2.0, 3.0)
    with pytest.raises(NotImplementedError, match=r"n_samples=1000"):
        D.kl_divergence(p, q)


def test_estimate_matches_a_closed_form_within_its_standard_error():
    # Kumaraswamy(1, b) is Beta(1, b): the estimate must agree with the Beta-Beta closed form.
    torch.manual_seed(0)
    b = torch.tensor([2.0, 5.0], dtype=torch.float64)
    p, q = D.Kumaraswamy(torch.ones(2, dtype=torch.float64), b), D.Beta(2.0, 3.0)
    n = 20000
    estimate = D.kl_divergence(p, q, n_samples=n)
    exact = D.kl_divergence(D.Beta(torch.ones(2, dtype=torch.float64), b), q)
    torch.manual_seed(0)
    x = p.sample((n,))
    stderr = (p.log_prob(x) - q.log_prob(x)).std(0) / math.sqrt(n)
    assert ((estimate - exact).abs() <= 6 * stderr).all(), (estimate, exact, stderr)


def test_estimate_is_differentiable_through_rsample():
    b = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    estimate = D.kl_divergence(D.Kumaraswamy(1.0, b), D.Beta(2.0, 3.0), n_samples=5000)
    (grad,) = torch.autograd.grad(estimate, b)
    exact_b = b.detach().requires_grad_()
    exact = D.kl_divergence(
        D.Beta(torch.tensor(1.0, dtype=torch.float64), exact_b), D.Beta(2.0, 3.0)
    )
    (expected,) = torch.autograd.grad(exact, exact_b)
    assert abs(float(grad - expected)) < 0.1 * abs(float(expected)) + 0.02


def test_a_closed_form_is_used_when_there_is_one():
    p, q = D.Normal(0.0, 1.0), D.Normal(1.0, 2.0)
    assert torch.equal(D.kl_divergence(p, q, n_samples=10), D.kl_divergence(p, q))


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n_samples_is_a_clear_error(n):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        D.kl_divergence(D.Kumaraswamy(2.0, 3.0), D.Beta(2.0, 3.0), n_samples=n)
