"""The CPU-eager fast paths of the structured samplers and their log-densities (issue 11):
Wishart's in-place Bartlett products and written-out log-density terms, Kumaraswamy's
int64-word uniforms, the relaxed categoricals' column-wise shifts, OneHotCategorical's
written-out argmax.
Each is checked against the general path (same numbers, or the same law by KS/chi-square
with fixed seeds) in float32 and float64."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions import wishart as wishart_module
from aleatorch.distributions.one_hot_categorical import _argmax_last

DTYPES = [torch.float32, torch.float64]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------ Wishart


def _spd(p: int, n: int, dtype, seed: int) -> torch.Tensor:
    a = torch.randn(n, p, p, dtype=torch.float64, generator=_gen(seed))
    return (a @ a.mT / p + 0.5 * torch.eye(p, dtype=torch.float64)).to(dtype)


def _lapack_path(monkeypatch):
    monkeypatch.setattr(wishart_module, "_ELEMENTWISE_MIN_BATCH", 10**12)


@pytest.mark.parametrize("p", [1, 2, 3, 4])
@pytest.mark.parametrize("given", ["covariance_matrix", "scale_tril"])
def test_wishart_written_out_log_prob_matches_the_factorization(monkeypatch, p, given):
    n = 5000
    cov = _spd(p, n, torch.float64, 1)
    param = cov if given == "covariance_matrix" else torch.linalg.cholesky(cov)
    # well-conditioned values (df >= p + 1): near-singular ones carry cond(X) eps in either
    # factorization (compared with mpmath, neither is consistently closer)
    df = torch.linspace(p + 1.0, p + 30.0, n, dtype=torch.float64)
    value = D.Wishart(df, **{given: param}).sample(generator=_gen(2))

    def run():
        leaves = (df.clone().requires_grad_(), param.clone().requires_grad_())
        d = D.Wishart(leaves[0], **{given: leaves[1]})
        x = value.clone().requires_grad_()
        out = d.log_prob(x)
        grads = torch.autograd.grad(out.sum(), (*leaves, x))
        return out.detach(), grads

    fast, fast_grads = run()
    _lapack_path(monkeypatch)
    slow, slow_grads = run()
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        # the factorization's gradient in X is not symmetrized: compare the symmetric parts
        if a.dim() >= 2 and a.shape[-1] == p and a.shape[-2] == p:
            a, b = a + a.mT, b + b.mT
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_wishart_float32_log_prob_of_near_singular_samples_is_accurate():
    # df near p - 1: samples with cond(X) up to ~1e6, whose float32 factorization would lose
    # its log-determinant; the written-out terms factor float32 values in float64.
    p, n = 3, 20000
    prec = _spd(p, 1, torch.float64, 3)[0]
    df = torch.tensor([3.2, 2.05]).repeat(n // 2)
    d32 = D.Wishart(df, precision_matrix=prec.float(), validate_args=False)
    value = d32.sample(generator=_gen(4))
    got = d32.log_prob(value).double()
    d64 = D.Wishart(df.double(), precision_matrix=prec, validate_args=False)
    ref = d64.log_prob(value.double())
    # values that are positive-definite in float64 (at df = 2.05 some float32 samples are
    # not: their log-density is finite, but has no float64 reference)
    ok = torch.linalg.cholesky_ex(value.double()).info.eq(0)
    assert ok[df == 3.2].all() and ok.float().mean() > 0.9
    assert torch.isfinite(got).all()
    err = ((got - ref).abs() / ref.abs().clamp(min=1))[ok].max().item()
    assert err < 1e-5, err


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 3, 4])
def test_wishart_in_place_bartlett_is_the_graph_path(dtype, p):
    n = 6000
    cov = _spd(p, n, dtype, 5)
    df = torch.linspace(p - 0.5, p + 20.0, n, dtype=dtype)
    plain = D.Wishart(df, covariance_matrix=cov).sample((2,), generator=_gen(6))
    leaf = df.clone().requires_grad_()
    graph = D.Wishart(leaf, covariance_matrix=cov).rsample((2,), generator=_gen(6))
    assert graph.requires_grad
    torch.testing.assert_close(plain, graph.detach(), rtol=0, atol=0)
    assert torch.equal(plain, plain.mT)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wishart_in_place_bartlett_law(dtype):
    # X_00 / Sigma_00 ~ chi2(df) and, with Sigma = I, X_10 / sqrt(X_00) ~ N(0, 1)
    p, n = 3, 100_000
    df = torch.tensor([2.3, 7.5], dtype=dtype).repeat(n // 2)
    scale = torch.tensor([2.0, 1.0, 0.5], dtype=dtype).diag()
    x = D.Wishart(df, covariance_matrix=scale).sample(generator=_gen(7)).double()
    for value in (2.3, 7.5):
        rows = x[df == value]
        chi = rows[:, 0, 0] / 2.0
        assert stats.kstest(chi.numpy(), stats.chi2(value).cdf).pvalue > 1e-3
        normal = rows[:, 1, 0] / rows[:, 0, 0].sqrt() / math.sqrt(1.0)
        assert stats.kstest(normal.numpy(), "norm").pvalue > 1e-3
        if value < 3:  # det X underflows float64's resolution for some draws
            continue
        # the Bartlett factors: det X / det Sigma ~ prod_i chi2(df - i)
        log_det = torch.logdet(rows)  # det Sigma = 2 * 1 * 0.5 = 1
        mean = sum(
            torch.special.digamma(torch.tensor((value - i) / 2, dtype=torch.float64)).item()
            + math.log(2)
            for i in range(p)
        )
        se = log_det.std().item() / math.sqrt(len(rows))
        assert abs(log_det.mean().item() - mean) < 5 * se


def test_wishart_float32_samples_near_p_minus_1_are_positive_definite():
    p, n = 3, 50_000
    prec = _spd(p, 1, torch.float32, 8)[0]
    x = D.Wishart(torch.tensor(2.3), precision_matrix=prec).sample((n,), generator=_gen(9))
    assert torch.linalg.cholesky_ex(x).info.eq(0).all()


# -------------------------------------------------------------------------- Kumaraswamy

KUMARASWAMY = [(0.3, 0.5), (2.0, 3.0), (5.0, 0.7), (0.3, 8.0), (40.0, 40.0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("a", "b"), KUMARASWAMY)
def test_kumaraswamy_law_on_both_paths(dtype, a, b):
    n = 200_000
    ca = torch.full((n,), a, dtype=dtype)
    cb = torch.full((n,), b, dtype=dtype)
    plain = D.Kumaraswamy(ca, cb).sample(generator=_gen(10))
    graph = D.Kumaraswamy(ca.requires_grad_(), cb.requires_grad_()).rsample(generator=_gen(10))
    assert graph.requires_grad
    assert torch.equal(plain, graph.detach())  # sample and rsample: the same numbers
    x = plain.double()
    assert x.min() > 0 and x.max() < 1
    # F(x) = 1 - (1 - x^a)^b is uniform
    cdf = -torch.expm1(b * torch.log1p(-(x**a))).numpy()
    assert stats.kstest(cdf, "uniform").pvalue > 1e-3


def test_kumaraswamy_rsample_gradient_is_the_inversion_derivative():
    a = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    x = D.Kumaraswamy(a, b).rsample((5000,), generator=_gen(11))
    ga, gb = torch.autograd.grad(x.sum(), (a, b))
    # x = (1 - v^(1/b))^(1/a) with v = (1 - x^a)^b, differentiated at fixed v
    xd = x.detach()
    v = (1 - xd**2.5) ** 1.5
    inner = 1 - v ** (1 / 1.5)
    da = (-(inner ** (1 / 2.5)) * inner.log() / 2.5**2).sum()
    db = ((1 / 2.5) * inner ** (1 / 2.5 - 1) * v ** (1 / 1.5) * v.log() / 1.5**2).sum()
    torch.testing.assert_close(ga, da, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gb, db, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ relaxed categoricals


def _relaxed_law(y: torch.Tensor, logits: torch.Tensor, t: float, log_space: bool):
    """Gumbel-max: argmax(y) ~ Categorical(softmax(logits)); and (y_0 - y_1) t - (l_0 - l_1)
    ~ Logistic(0, 1) (a difference of two standard Gumbels)."""
    y = y.double()
    if not log_space:
        y = y.log()
    k = logits.shape[-1]
    counts = torch.bincount(y.argmax(-1).reshape(-1), minlength=k).double()
    expected = logits.double().softmax(-1) * y[..., 0].numel()
    stat = float(((counts - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(stat, k - 1) > 1e-4, stat
    diff = ((y[..., 0] - y[..., 1]) * t - (logits[0] - logits[1]).double()).reshape(-1)
    assert stats.kstest(diff.numpy(), "logistic").pvalue > 1e-3


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("cls", [D.ExpRelaxedCategorical, D.RelaxedOneHotCategorical])
def test_relaxed_categorical_law_on_both_paths(dtype, t, cls):
    logits = torch.tensor([0.5, -1.0, 1.5, 0.0], dtype=dtype)
    n = 100_000
    d = cls(torch.tensor(t, dtype=dtype), logits=logits)
    plain = d.sample((n,), generator=_gen(13))
    leaf = logits.clone().requires_grad_()
    graph = cls(torch.tensor(t, dtype=dtype), logits=leaf).rsample((n,), generator=_gen(13))
    assert graph.requires_grad
    torch.testing.assert_close(plain, graph.detach(), rtol=0, atol=0)
    graph.sum().backward()
    assert torch.isfinite(leaf.grad).all()
    _relaxed_law(plain, logits, t, log_space=cls is D.ExpRelaxedCategorical)
    if cls is D.ExpRelaxedCategorical:
        # log softmax of scores z = (logits + G) / t, unshifted (as torch's): y = z - L loses
        # up to an ulp of |L| <= max |z| + log K, where |G| <= 17 (float32) or 37 (float64)
        g = 17.0 if dtype == torch.float32 else 37.0
        scale = (logits.abs().max().item() + g) / t + math.log(logits.numel())
        tol = 4 * torch.finfo(dtype).eps * max(1.0, scale)
        assert (plain.double().logsumexp(-1).abs() < tol).all()
    else:
        torch.testing.assert_close(plain.sum(-1), torch.ones(n, dtype=dtype))


# --------------------------------------------------------------------- OneHotCategorical


@pytest.mark.parametrize("k", [2, 3, 4, 8, 9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_written_out_argmax_is_argmax(k, dtype):
    g = _gen(14)
    x = torch.randint(-2, 3, (3000, 2, k), generator=g).to(dtype)  # many ties
    x[0, 0] = -math.inf
    x[1, 0, -1] = math.inf
    x[2] = torch.nn.functional.one_hot(torch.tensor([k - 1, 0]), k).to(dtype)
    assert torch.equal(_argmax_last(x).long(), x.argmax(-1))


def test_one_hot_log_prob_of_samples():
    probs = torch.tensor([[0.2, 0.0, 0.8], [0.5, 0.25, 0.25]]).repeat(3000, 1, 1)
    d = D.OneHotCategorical(probs=probs)
    x = d.sample(generator=_gen(15))
    expected = probs.gather(-1, x.argmax(-1, keepdim=True)).squeeze(-1).log()
    torch.testing.assert_close(d.log_prob(x), expected)
    x[0, 0] = torch.tensor([0.0, 1.0, 0.0])
    assert d.log_prob(x)[0, 0] == -math.inf


def test_wishart_written_out_log_prob_compiles_and_vmaps():
    p, n = 3, 5000
    cov = _spd(p, n, torch.float32, 16)
    df = torch.linspace(p + 0.5, p + 10.0, n)
    value = D.Wishart(df, covariance_matrix=cov).sample(generator=_gen(17))
    expected = D.Wishart(df, covariance_matrix=cov, validate_args=False).log_prob(value)

    def log_prob(x):
        return D.Wishart(df, covariance_matrix=cov, validate_args=False).log_prob(x)

    compiled = torch.compile(log_prob, fullgraph=True, backend="eager")(value)
    torch.testing.assert_close(compiled, expected, rtol=1e-6, atol=1e-5)
    batched = torch.func.vmap(log_prob)(torch.stack([value, value.flip(0)]))
    torch.testing.assert_close(batched[0], expected, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(batched[1], log_prob(value.flip(0)), rtol=1e-6, atol=1e-5)
