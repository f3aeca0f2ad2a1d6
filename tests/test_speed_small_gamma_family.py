"""The small-tensor log_prob fast paths of the gamma family (Python floats, no gradient)
against mpmath, and against the tensor path they stand in for."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import aleatorch as D


def _dirichlet_mp(c: list[float], x: list[float]) -> float:
    mpmath.mp.dps = 40
    c = [mpmath.mpf(v) for v in c]
    x = [mpmath.mpf(v) for v in x]
    out = mpmath.loggamma(sum(c)) - sum(mpmath.loggamma(v) for v in c)
    return float(out + sum((a - 1) * mpmath.log(v) for a, v in zip(c, x)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3,), (3, 3), (2, 2, 4), (1, 30)])
def test_dirichlet_small_log_prob_matches_mpmath(dtype, shape):
    g = torch.Generator().manual_seed(1)
    c = (torch.rand(shape, generator=g, dtype=torch.float64) * 6 - 3).exp().to(dtype)
    c[..., 0] *= 10.0  # totals on both sides of the textbook limit (20)
    d = D.Dirichlet(c, validate_args=False)
    x = d.sample()
    x = x.clamp(min=1e-30 if dtype == torch.float64 else 1e-20)
    x = x / x.sum(-1, keepdim=True)
    lp = d.log_prob(x)
    assert lp.shape == shape[:-1] and lp.dtype == dtype
    k = shape[-1]
    eps = torch.finfo(dtype).eps
    budget = 1e2 if dtype == torch.float32 else 1e3
    for row, (cr, xr) in enumerate(zip(c.reshape(-1, k).tolist(), x.reshape(-1, k).tolist())):
        want = _dirichlet_mp(cr, xr)
        got = lp.reshape(-1)[row].item()
        assert abs(got - want) <= budget * eps * max(1.0, abs(want)), (cr, xr, got, want)
    # the tensor path (taken when a gradient is wanted) agrees
    cg = c.clone().requires_grad_()
    ref = D.Dirichlet(cg, validate_args=False).log_prob(x)
    torch.testing.assert_close(lp, ref.detach(), rtol=50 * eps, atol=50 * eps)


def test_dirichlet_small_log_prob_faces_and_fallbacks():
    c = torch.tensor([[0.5, 2.0, 1.0], [2.0, 3.0, 1.0]])
    x = torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    lp = D.Dirichlet(c, validate_args=False).log_prob(x)
    assert lp[0].item() == float("inf") and lp[1].item() == float("-inf")
    # NaN concentration: NaN, as in the tensor path
    c = torch.tensor([float("nan"), 1.0, 1.0])
    assert D.Dirichlet(c, validate_args=False).log_prob(torch.tensor([0.2, 0.3, 0.5])).isnan()
    # broadcast value: sample dims in front
    c = torch.tensor([1.0, 2.0, 3.0])
    x = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    lp = D.Dirichlet(c).log_prob(x)
    assert lp.shape == (2,)
    assert lp[0].item() == pytest.approx(_dirichlet_mp([1, 2, 3], [0.2, 0.3, 0.5]), rel=1e-6)
    # result is an ordinary tensor: in-place ops work
    lp = D.Dirichlet(c).log_prob(x[0])
    assert lp.shape == ()
    lp += 1.0


def test_dirichlet_small_log_prob_gradient_unchanged():
    c = torch.tensor([[0.7, 2.0, 3.5]], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    lp = D.Dirichlet(c).log_prob(x)
    (grad,) = torch.autograd.grad(lp.sum(), c)
    s = c.detach().sum()
    want = torch.digamma(s) - torch.digamma(c.detach()) + x.log()
    torch.testing.assert_close(grad, want)


def _gamma_mp(a: float, r: float, x: float) -> float:
    mpmath.mp.dps = 40
    a, r, x = mpmath.mpf(a), mpmath.mpf(r), mpmath.mpf(x)
    return float(a * mpmath.log(r) - mpmath.loggamma(a) + (a - 1) * mpmath.log(x) - r * x)


def _beta_mp(a: float, b: float, x: float) -> float:
    mpmath.mp.dps = 40
    a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
    log_beta = mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
    return float((a - 1) * mpmath.log(x) + (b - 1) * mpmath.log1p(-x) - log_beta)


def _check(lp, params, value, reference, dtype):
    eps = torch.finfo(dtype).eps
    budget = 1e2 if dtype == torch.float32 else 1e3
    cols = [t.reshape(-1).tolist() for t in (*params, value)]
    for got, args in zip(lp.reshape(-1).tolist(), zip(*cols)):
        want = reference(*args)
        assert abs(got - want) <= budget * eps * max(1.0, abs(want)), (args, got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (4, 8)])
def test_gamma_beta_small_log_prob_match_mpmath(dtype, shape):
    g = torch.Generator().manual_seed(2)

    def draw(spread):
        return (torch.randn(shape, generator=g, dtype=torch.float64) * spread).exp().to(dtype)

    a, r, b = draw(3.0), draw(3.0), draw(3.0)
    for dist, params, ref in (
        (D.Gamma(a, r, validate_args=False), (a, r), _gamma_mp),
        (D.Beta(a, b, validate_args=False), (a, b), _beta_mp),
    ):
        x = dist.sample().clamp(min=torch.finfo(dtype).tiny)
        if isinstance(dist, D.Beta):
            x = x.clamp(max=1 - torch.finfo(dtype).eps)
        lp = dist.log_prob(x)
        assert lp.shape == shape and lp.dtype == dtype
        _check(lp, params, x, ref, dtype)
        # the tensor path (taken when a gradient is wanted) agrees
        grad_params = [p.clone().requires_grad_() for p in params]
        ref_lp = type(dist)(*grad_params, validate_args=False).log_prob(x).detach()
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(lp, ref_lp, rtol=100 * eps, atol=100 * eps)


def test_gamma_beta_small_log_prob_edges():
    a = torch.tensor([0.5, 1.0, 2.0])
    lp = D.Gamma(a, torch.ones(3), validate_args=False).log_prob(torch.zeros(3))
    assert lp.tolist() == [float("inf"), 0.0, float("-inf")]
    lp = D.Beta(a, a, validate_args=False).log_prob(torch.tensor([0.0, 1.0, 1.0]))
    assert lp[0].item() == float("inf") and lp[1].item() == 0.0 and lp[2].item() == -math.inf
    # large concentrations: beyond the textbook range, the exact form
    a = torch.tensor([1e9, 3.0], dtype=torch.float32)
    lp = D.Gamma(a, a, validate_args=False).log_prob(torch.tensor([1.0, 1.0]))
    assert lp[0].item() == pytest.approx(_gamma_mp(1e9, 1e9, 1.0), rel=1e-6)
