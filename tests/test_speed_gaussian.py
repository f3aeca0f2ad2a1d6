"""The fast paths of the Gaussian families, against the general paths, scipy and closed forms.

MultivariateNormal: the elementwise Cholesky factorization of many small matrices and the
column-by-column sampler; LogisticNormal: the sampler and the float32 log-density.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

import aleatorch as D
from aleatorch.distributions import multivariate_normal as mvn_module
from aleatorch.errors import ParameterError


def _spd(batch: int, d: int, dtype: torch.dtype, seed: int = 0, ridge: float = 0.1):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, d, d, dtype=torch.float64, generator=g)
    return (a @ a.mT + ridge * torch.eye(d, dtype=torch.float64)).to(dtype)


@pytest.fixture
def small_path(monkeypatch):
    """Every batch of d <= 4 matrices takes the elementwise factorization."""
    monkeypatch.setattr(mvn_module, "_SMALL_MIN_BATCH", 1)


@pytest.fixture
def lapack_path(monkeypatch):
    monkeypatch.setattr(mvn_module, "_SMALL_MIN_BATCH", 10**12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_small_cholesky_matches_lapack(d, dtype):
    cov = _spd(300, d, torch.float64, seed=d)
    # an ill-conditioned batch too: condition numbers up to ~1e6
    cov = torch.cat([cov, _spd(300, d, torch.float64, seed=10 + d, ridge=1e-6)])
    reference = torch.linalg.cholesky(cov)
    factor = mvn_module._small_cholesky(cov.to(dtype)).double()
    eps = torch.finfo(dtype).eps
    # backward stable like LAPACK's: L L^T reproduces the matrix to a few eps of |L|^2
    rebuilt = factor @ factor.mT
    scale = (reference * reference).sum(-1).amax(-1)[..., None, None]
    assert ((rebuilt - cov).abs() / scale).max() < 20 * eps
    assert torch.equal(factor.triu(1), torch.zeros_like(factor.triu(1)))
    if dtype == torch.float64:
        well = slice(0, 300)
        rel = (factor[well] - reference[well]).abs().max() / reference[well].abs().max()
        assert rel < 100 * eps


def test_small_cholesky_gradient_is_the_symmetric_one():
    cov = _spd(50, 3, torch.float64, seed=3)
    weights = torch.randn(50, 3, 3, dtype=torch.float64)
    a = cov.clone().requires_grad_()
    (mvn_module._small_cholesky(a) * weights).sum().backward()
    b = cov.clone().requires_grad_()
    (torch.linalg.cholesky(b) * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a.grad, a.grad.mT)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_small_path_log_prob_entropy_and_gradients_match_lapack(d, monkeypatch):
    cov = _spd(40, d, torch.float64, seed=d)
    loc = torch.randn(40, d, dtype=torch.float64)
    value = torch.randn(5, 40, d, dtype=torch.float64)
    out = {}
    for name, limit in (("small", 1), ("lapack", 10**12)):
        monkeypatch.setattr(mvn_module, "_SMALL_MIN_BATCH", limit)
        c, m = cov.clone().requires_grad_(), loc.clone().requires_grad_()
        dist = D.MultivariateNormal(m, covariance_matrix=c)
        assert mvn_module._uses_small_cholesky(c) == (name == "small")
        lp, ent = dist.log_prob(value), dist.entropy()
        x = dist.rsample((3,), generator=torch.Generator().manual_seed(5))
        (lp.sum() + ent.sum() + (x * x).sum()).backward()
        out[name] = (lp, ent, x, c.grad, m.grad)
    for a, b in zip(out["small"], out["lapack"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_small_path_against_scipy_at_benchmark_size():
    batch, d = 4096, 3
    cov = _spd(batch, d, torch.float64, seed=7)
    loc = torch.randn(batch, d, dtype=torch.float64)
    assert mvn_module._uses_small_cholesky(cov)
    dist = D.MultivariateNormal(loc, covariance_matrix=cov)
    value = torch.randn(batch, d, dtype=torch.float64)
    lp = dist.log_prob(value)
    for i in (0, 1, 2000, batch - 1):
        expected = scipy.stats.multivariate_normal(loc[i].numpy(), cov[i].numpy()).logpdf(
            value[i].numpy()
        )
        assert abs(lp[i].item() - expected) < 1e-12 * max(1.0, abs(expected))
        ent = scipy.stats.multivariate_normal(loc[i].numpy(), cov[i].numpy()).entropy()
        assert abs(dist.entropy()[i].item() - ent) < 1e-12 * max(1.0, abs(ent))


def test_small_path_rejects_a_matrix_that_is_not_positive_definite(small_path):
    cov = _spd(6, 3, torch.float64, seed=1)
    cov[4] = torch.tensor([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ParameterError, match="covariance_matrix"):
        D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=cov)
    cov[4] = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ParameterError, match="covariance_matrix"):
        D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=cov)
    cov[4] = torch.eye(3, dtype=torch.float64)
    D.MultivariateNormal(torch.zeros(3, dtype=torch.float64), covariance_matrix=cov)


def _standardized(dist, x):
    """``L^{-1} (x - mu)``: independent standard normals when x ~ dist."""
    factor = dist.scale_tril.expand(x.shape[:-1] + dist.event_shape * 2)
    z = torch.linalg.solve_triangular(factor, (x - dist.loc).unsqueeze(-1), upper=False)
    return z.squeeze(-1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_rsample_law(d, dtype):
    # d <= 4: the column-by-column sampler; d = 5: the bmm one
    cov = _spd(3, d, torch.float64, seed=20 + d).to(dtype)
    loc = torch.randn(3, d, dtype=dtype)
    dist = D.MultivariateNormal(loc, covariance_matrix=cov)
    g = torch.Generator().manual_seed(123)
    x = dist.rsample((40000,), generator=g)
    assert x.shape == (40000, 3, d) and x.dtype == dtype
    z = _standardized(dist, x).double()
    for b in range(3):
        for i in range(d):
            p = scipy.stats.kstest(z[:, b, i].numpy(), "norm").pvalue
            assert p > 1e-4, (b, i, p)
        # independent coordinates: sample correlations within 5 standard errors of 0
        corr = np.corrcoef(z[:, b].numpy().T) if d > 1 else np.ones((1, 1))
        off = corr[~np.eye(d, dtype=bool)]
        assert np.all(np.abs(off) < 5 / math.sqrt(40000))
    again = dist.rsample((40000,), generator=torch.Generator().manual_seed(123))
    assert torch.equal(x, again)


def test_rsample_pathwise_gradient_matches_closed_form():
    # E[sum x^T A x] = sum tr(A Sigma) + mu^T A mu, through the column sampler.
    d = 3
    cov = _spd(4, d, torch.float64, seed=2)
    loc = torch.randn(4, d, dtype=torch.float64)
    a = _spd(1, d, torch.float64, seed=9)[0]
    c, m = cov.clone().requires_grad_(), loc.clone().requires_grad_()
    x = D.MultivariateNormal(m, covariance_matrix=c).rsample(
        (200000,), generator=torch.Generator().manual_seed(0)
    )
    estimate = torch.einsum("...i,ij,...j->...", x, a, x).mean(0).sum()
    estimate.backward()
    c2, m2 = cov.clone().requires_grad_(), loc.clone().requires_grad_()
    exact = (a * c2).sum() + torch.einsum("bi,ij,bj->", m2, a, m2)
    exact.backward()
    torch.testing.assert_close(m.grad, m2.grad, rtol=0.05, atol=0.05)
    sym = 0.5 * (c.grad + c.grad.mT)
    torch.testing.assert_close(sym, c2.grad.expand_as(sym), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rank", [1, 2, 5])
def test_low_rank_rsample_law(rank, dtype):
    # rank <= 4: W eps added column by column; rank 5: the batched matmul
    g = torch.Generator().manual_seed(rank)
    n = 3
    w = torch.randn(2, n, rank, dtype=torch.float64, generator=g).to(dtype)
    diag = (torch.rand(2, n, dtype=torch.float64, generator=g) + 0.3).to(dtype)
    loc = torch.randn(2, n, dtype=dtype, generator=g)
    dist = D.LowRankMultivariateNormal(loc, w, diag)
    x = dist.rsample((40000,), generator=torch.Generator().manual_seed(11))
    assert x.shape == (40000, 2, n) and x.dtype == dtype
    cov = w.double() @ w.double().mT + torch.diag_embed(diag.double())
    factor = torch.linalg.cholesky(cov)
    z = torch.linalg.solve_triangular(
        factor, (x.double() - loc.double()).unsqueeze(-1), upper=False
    )
    z = z.squeeze(-1)
    for b in range(2):
        for i in range(n):
            assert scipy.stats.kstest(z[:, b, i].numpy(), "norm").pvalue > 1e-4
        corr = np.corrcoef(z[:, b].numpy().T)
        assert np.all(np.abs(corr[~np.eye(n, dtype=bool)]) < 5 / math.sqrt(40000))


def test_low_rank_rsample_gradients_match_the_matmul_form():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, 2, dtype=torch.float64, generator=g).requires_grad_()
    diag = (torch.rand(4, 3, dtype=torch.float64, generator=g) + 0.3).requires_grad_()
    loc = torch.randn(3, dtype=torch.float64, generator=g).requires_grad_()
    x = D.LowRankMultivariateNormal(loc, w, diag).rsample(
        (5,), generator=torch.Generator().manual_seed(3)
    )
    weights = torch.randn(5, 4, 3, dtype=torch.float64)
    grads = torch.autograd.grad((x * weights).sum(), (loc, w, diag))
    # the same draws, in the order the sampler takes them
    g2 = torch.Generator().manual_seed(3)
    eps_w = torch.randn((5, 4, 2), dtype=torch.float64, generator=g2)
    eps_d = torch.randn((5, 4, 3), dtype=torch.float64, generator=g2)
    y = loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + diag.sqrt() * eps_d
    torch.testing.assert_close(x, y, rtol=1e-14, atol=1e-14)
    expected = torch.autograd.grad((y * weights).sum(), (loc, w, diag))
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _families():
    g = torch.Generator().manual_seed(0)
    loc = torch.randn(6, 3, dtype=torch.float64, generator=g)
    scale = torch.rand(6, 3, dtype=torch.float64, generator=g) + 0.2
    a = torch.randn(6, 3, 3, dtype=torch.float64, generator=g)
    cov = a @ a.mT + torch.eye(3, dtype=torch.float64)
    w = torch.randn(6, 3, 2, dtype=torch.float64, generator=g)
    return [
        lambda dt: D.Normal(loc.to(dt), scale.to(dt)),
        lambda dt: D.LogNormal(loc.to(dt), scale.to(dt)),
        lambda dt: D.HalfNormal(scale.to(dt)),
        lambda dt: D.LogisticNormal(loc.to(dt), scale.to(dt)),
        lambda dt: D.MultivariateNormal(loc.to(dt), covariance_matrix=cov.to(dt)),
        lambda dt: D.LowRankMultivariateNormal(loc.to(dt), w.to(dt), scale.to(dt)),
        lambda dt: D.TransformedDistribution(
            D.Normal(loc.to(dt), scale.to(dt)), [D.transforms.AffineTransform(0.5, -3.0)]
        ),
    ]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("index", range(7))
def test_sample_equals_rsample_with_the_same_generator(index, dtype):
    dist = _families()[index](dtype)
    a = dist.sample((4,), generator=torch.Generator().manual_seed(1))
    b = dist.rsample((4,), generator=torch.Generator().manual_seed(1))
    assert a.dtype == dtype and not a.requires_grad
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_logistic_normal_sample_law(dtype):
    # The stick-breaking pre-image of a sample is N(loc, scale): x_k = log(y_k / rest_k)
    # + log(K - k), with rest_k the sum of the later coordinates.
    loc = torch.tensor([[0.0, 1.0, -2.0], [-0.5, 0.3, 3.0]], dtype=dtype)
    scale = torch.tensor([0.7, 1.5, 4.0], dtype=dtype)
    dist = D.LogisticNormal(loc, scale)
    y = dist.sample((50000,), generator=torch.Generator().manual_seed(2)).double()
    assert torch.all(y > 0)
    torch.testing.assert_close(y.sum(-1), torch.ones_like(y[..., 0]), rtol=0, atol=1e-5)
    rest = y.flip(-1).cumsum(-1).flip(-1)[..., 1:]
    k = loc.shape[-1]
    x = (y[..., :-1] / rest).log() + torch.arange(k, 0, -1, dtype=torch.float64).log()
    z = (x - loc.double()) / scale.double()
    for b in range(2):
        for i in range(k):
            assert scipy.stats.kstest(z[:, b, i].numpy(), "norm").pvalue > 1e-4, (b, i)


def test_logistic_normal_sample_keeps_tiny_sticks_positive():
    # x of +-60 puts a stick far below float32's smallest normal number: clamped to it.
    dist = D.LogisticNormal(torch.tensor([60.0, -60.0]), torch.tensor([1e-3, 1e-3]))
    for y in (dist.sample((100,)), dist.rsample((100,))):
        assert torch.all(y >= torch.finfo(torch.float32).tiny)
        assert torch.isfinite(dist.log_prob(y)).all()
    loc = torch.tensor([60.0, -60.0], requires_grad=True)
    D.LogisticNormal(loc, torch.tensor([1e-3, 1e-3])).rsample((10,)).sum().backward()
    assert torch.isfinite(loc.grad).all()


def test_affine_transform_with_number_parameters():
    t = D.transforms.AffineTransform(0.5, -3.0)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = t(x)
    torch.testing.assert_close(y, 0.5 - 3.0 * x, rtol=0, atol=0)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.full_like(x, -3.0))
    assert t(torch.tensor([1, 2])).tolist() == [-2.5, -5.5]  # integers: promoted as before
    t2 = D.transforms.AffineTransform(torch.tensor(1.0), 2.0)
    torch.testing.assert_close(t2(torch.ones(3)), torch.full((3,), 3.0))


@pytest.mark.parametrize("cls", ["Normal", "LogNormal", "HalfNormal"])
def test_entropy_against_scipy_and_its_gradient(cls):
    loc = torch.tensor([-1.0, 0.0, 2.5], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([0.1, 1.0, 30.0], dtype=torch.float64, requires_grad=True)
    if cls == "HalfNormal":
        dist, ref = D.HalfNormal(scale), scipy.stats.halfnorm(scale=scale.detach().numpy())
        expected_grad = [None, 1 / scale.detach()]
    elif cls == "Normal":
        dist, ref = D.Normal(loc, scale), scipy.stats.norm(loc.detach().numpy(), scale.detach())
        expected_grad = [None, 1 / scale.detach()]  # no dependence on loc
    else:
        dist = D.LogNormal(loc, scale)
        ref = scipy.stats.lognorm(scale.detach().numpy(), scale=np.exp(loc.detach().numpy()))
        expected_grad = [torch.ones(3, dtype=torch.float64), 1 / scale.detach()]
    h = dist.entropy()
    np.testing.assert_allclose(h.detach().numpy(), ref.entropy(), rtol=1e-14, atol=1e-14)
    grads = torch.autograd.grad(h.sum(), (loc, scale), allow_unused=True)
    for got, want in zip(grads, expected_grad):
        if want is not None:
            torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_low_rank_log_prob_and_entropy_against_scipy(dtype):
    g = torch.Generator().manual_seed(4)
    w = torch.randn(2, 1, 3, 2, dtype=torch.float64, generator=g)
    diag = torch.rand(3, 3, dtype=torch.float64, generator=g) + 0.5
    loc = torch.randn(3, dtype=torch.float64, generator=g)
    value = torch.randn(5, 2, 3, 3, dtype=torch.float64, generator=g) * 3
    dist = D.LowRankMultivariateNormal(loc.to(dtype), w.to(dtype), diag.to(dtype))
    lp, ent = dist.log_prob(value.to(dtype)).double(), dist.entropy().double()
    cov = (w @ w.mT + torch.diag_embed(diag)).expand(2, 3, 3, 3)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for b in np.ndindex(2, 3):
        ref = scipy.stats.multivariate_normal(loc.numpy(), cov[b].numpy())
        np.testing.assert_allclose(
            lp[(slice(None), *b)], ref.logpdf(value[(slice(None), *b)]), rtol=tol
        )
        np.testing.assert_allclose(ent[b].item(), ref.entropy(), rtol=tol)
