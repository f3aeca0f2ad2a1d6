"""Exactness of the fast structured samplers (issue 11): Wishart's elementwise Bartlett
product and its singular-sample prefilter, LKJCholesky's onion draws, GeneralizedPareto's
inversion and MixtureSameFamily's sampler, checked in law (Kolmogorov-Smirnov against exact
laws, moments against closed forms) and in their pathwise gradients, with fixed seeds."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions.generalized_pareto import _quantile_values
from aleatorch.distributions.wishart import _bartlett

_P_MIN = 1e-4  # smallest p-value accepted from a fixed-seed test


def _scale_tril(p: int, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(p)
    tril = torch.randn(p, p, dtype=torch.float64, generator=g).tril(-1) * 0.7
    return (tril + torch.diag(torch.linspace(0.5, 2.0, p, dtype=torch.float64))).to(dtype)


# ------------------------------------------------------------------------------- Wishart


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("p", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("offset", [0.7, 6.5])
def test_wishart_quadratic_forms_are_chi_square(p, offset, dtype):
    """``a^T X a / a^T Sigma a ~ chi^2(df)`` for every fixed ``a``: with the diagonal (``a``
    a unit vector) and a dense ``a`` this reads every entry of the Bartlett product. 20000
    draws (the elementwise product for p <= 4, the matmul above)."""
    df = p - 1 + offset
    tril = _scale_tril(p, dtype)
    d = D.Wishart(torch.tensor(df, dtype=dtype), scale_tril=tril)
    x = d.sample((20000,), generator=torch.Generator().manual_seed(11)).double()
    sigma = (tril @ tril.mT).double()
    g = torch.Generator().manual_seed(5)
    vectors = [torch.eye(p, dtype=torch.float64)[-1], torch.randn(p, generator=g).double()]
    for a in vectors:
        ratio = torch.einsum("i,nij,j->n", a, x, a) / (a @ sigma @ a)
        result = stats.kstest(ratio.numpy(), stats.chi2(df).cdf)
        assert result.pvalue > _P_MIN, (p, df, a, result)
    # E[log det X] = psi_p(df / 2) + p log 2 + log det Sigma, within 6 standard errors
    log_det = torch.linalg.slogdet(x)[1] - torch.logdet(sigma)
    expected = sum(torch.special.digamma(torch.tensor((df - j) / 2)).item() for j in range(p))
    expected += p * math.log(2)
    se = log_det.std().item() / math.sqrt(log_det.numel())
    assert abs(log_det.mean().item() - expected) < 6 * se


@pytest.mark.parametrize("p", [2, 3, 4])
def test_wishart_pathwise_gradients_match_the_mean(p):
    """``E[sum(W * X)] = df sum(W * L L^T)``: its gradients in ``df`` and ``L`` against the
    average of the pathwise ones over 32 batches of 4096 draws (6 standard errors)."""
    dtype = torch.float64
    tril0 = _scale_tril(p, dtype)
    weights = torch.randn(p, p, dtype=dtype, generator=torch.Generator().manual_seed(2))
    df0 = torch.tensor(p + 0.5, dtype=dtype)
    df, tril = df0.clone().requires_grad_(), tril0.clone().requires_grad_()
    (df * (weights * (tril @ tril.mT)).sum()).backward()
    exact = torch.cat([df.grad.reshape(1), tril.grad.tril().reshape(-1)])
    gen = torch.Generator().manual_seed(7)
    grads = []
    for _ in range(32):
        df, tril = df0.clone().requires_grad_(), tril0.clone().requires_grad_()
        x = D.Wishart(df, scale_tril=tril).rsample((4096,), generator=gen)
        ((weights * x).sum() / 4096).backward()
        grads.append(torch.cat([df.grad.reshape(1), tril.grad.tril().reshape(-1)]))
    grads = torch.stack(grads)
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert ((grads.mean(0) - exact).abs() <= 6 * se + 1e-12).all(), (grads.mean(0), exact, se)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [2, 3, 4])
def test_wishart_singular_prefilter_misses_no_failure(p, dtype):
    """Every Bartlett draw whose LAPACK Cholesky fails is among the suspects the prefilter
    sends to the exact check (df near p - 1, where many draws round to singular)."""
    n = 50000
    gen = torch.Generator().manual_seed(p)
    for offset in (0.01, 0.3, 1.0):
        df = torch.full((n,), p - 1 + offset, dtype=dtype)
        tril = torch.randn(n, p, p, dtype=dtype, generator=gen).tril(-1)
        tril = tril + torch.diag_embed(torch.rand(n, p, dtype=dtype, generator=gen) + 0.1)
        x, suspects = _bartlett(df, tril, torch.Size((n, p, p)), gen, suspects=True)
        failed = torch.linalg.cholesky_ex(x).info.ne(0)
        assert not (failed & ~suspects).any()
        assert failed.any() or offset == 1.0


def test_wishart_samples_near_p_minus_1_all_factorize():
    d = D.Wishart(torch.tensor(2.3), covariance_matrix=torch.eye(3))
    x = d.sample((20000,), generator=torch.Generator().manual_seed(0))
    assert not torch.linalg.cholesky_ex(x).info.any()
    assert torch.isfinite(d.log_prob(x)).all()


# --------------------------------------------------------------------- GeneralizedPareto

_XIS = [-50.0, -2.0, -1.0, -0.3, -1e-3, -1e-6, -1e-12, 0.0, 1e-12, 1e-6, 1e-3, 0.05, 0.3, 1.0]
_XIS += [2.0, 50.0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generalized_pareto_sample_is_the_exact_quantile_of_its_uniform(dtype):
    """A sample (values only, no graph) is ``mu + sigma ((1 - u)^(-xi) - 1) / xi`` at the
    uniform the generator gave, within a few ulps (mpmath), down to ``u = 0``; with a graph
    the other form gives the same values."""
    import mpmath

    draws = 400
    xi = torch.tensor(_XIS, dtype=dtype).repeat(draws, 1)
    loc, scale = torch.tensor(0.5, dtype=dtype), torch.tensor(2.0, dtype=dtype)
    d = D.GeneralizedPareto(loc, scale, xi)
    x = d.sample(generator=torch.Generator().manual_seed(4))
    u = torch.rand(xi.shape, dtype=dtype, generator=torch.Generator().manual_seed(4))
    u[0] = 0.0  # the edge u = 0 (s = 0 for every xi) through the same formula
    x[0] = _quantile_values(loc, scale, xi[0], torch.log1p(-u[0]).neg())
    eps = torch.finfo(dtype).eps
    worst = 0.0
    with mpmath.workdps(40):
        for i in range(draws):
            for j, c in enumerate(_XIS):
                r = mpmath.mpf(u[i, j].item())
                s = -mpmath.log1p(-r)
                exact = 0.5 + 2 * (s if c == 0 else mpmath.expm1(c * s) / c)
                got = x[i, j].item()
                assert not math.isnan(got), (u[i, j], c)
                big = torch.finfo(dtype).max
                if abs(exact) > big or (got == math.inf and abs(c * (exact - 0.5)) > big):
                    # beyond the range, or expm1(xi s) itself overflows (both forms)
                    assert got == math.inf
                    continue
                # relative to the distance from loc, plus half an ulp of the sum with loc, in
                # units of the conditioning 1 + |xi s| (the rounding of s is amplified by it)
                size = abs(float(exact) - 0.5) + 0.5 * abs(float(exact))
                err = abs(got - float(exact)) / size / (1 + abs(c * float(s)))
                worst = max(worst, err / eps)
    assert worst < 4, worst
    scale_g = scale.clone().requires_grad_()
    y = D.GeneralizedPareto(loc, scale_g, xi).rsample(generator=torch.Generator().manual_seed(4))
    close = torch.isclose(y.detach()[1:], x[1:], rtol=8 * eps, atol=0) | (y.detach()[1:] == x[1:])
    assert close.all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generalized_pareto_sample_law(dtype):
    """Kolmogorov-Smirnov against scipy's genpareto, 200000 draws per shape."""
    gen = torch.Generator().manual_seed(9)
    for c in (-0.7, -1e-7, 0.0, 0.2, 1.5):
        d = D.GeneralizedPareto(torch.tensor(-1.0, dtype=dtype), torch.tensor(3.0, dtype=dtype), c)
        x = d.sample((200000,), generator=gen).double().numpy()
        result = stats.kstest(x, stats.genpareto(c, loc=-1.0, scale=3.0).cdf)
        assert result.pvalue > _P_MIN, (c, result)


# --------------------------------------------------------------------------- LKJCholesky


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("dim", [2, 3, 4, 5])
@pytest.mark.parametrize("eta", [0.3, 1.0, 1.7, 6.0])
def test_lkj_cholesky_correlations_have_the_beta_marginal(dim, eta, dtype):
    """Each correlation ``C_ij`` of ``C = L L^T`` has ``(C_ij + 1) / 2 ~ Beta(beta, beta)``,
    ``beta = eta - 1 + d / 2`` (KS, 20000 draws, every pair); ``log det C = sum_i log(1 -
    y_i)`` with independent ``1 - y_i ~ Beta(b_i, i / 2)`` has mean ``sum_i psi(b_i) -
    psi(b_i + i / 2)`` (6 standard errors); rows have unit norm, diagonals are positive."""
    d = D.LKJCholesky(dim, torch.tensor(eta, dtype=dtype))
    x = d.sample((20000,), generator=torch.Generator().manual_seed(dim))
    assert x.dtype == dtype and x.shape == (20000, dim, dim)
    assert torch.equal(x, x.tril()) and (x.diagonal(dim1=-2, dim2=-1) > 0).all()
    eps = torch.finfo(dtype).eps
    assert ((x.square().sum(-1) - 1).abs() < 8 * eps).all()
    c = (x @ x.mT).double()
    beta = eta - 1 + dim / 2
    law = stats.beta(beta, beta)
    for i in range(dim):
        for j in range(i):
            result = stats.kstest(((c[:, i, j] + 1) / 2).numpy(), law.cdf)
            assert result.pvalue > _P_MIN, (i, j, result)
    log_det = 2 * x.double().diagonal(dim1=-2, dim2=-1).log().sum(-1)
    expected = 0.0
    for i in range(1, dim):
        b = eta + (dim - 2) / 2 - (i - 1) / 2
        expected += float(torch.special.digamma(torch.tensor(b)))
        expected -= float(torch.special.digamma(torch.tensor(b + i / 2)))
    se = log_det.std().item() / math.sqrt(log_det.numel())
    assert abs(log_det.mean().item() - expected) < 6 * se


def test_lkj_cholesky_sample_under_vmap_matches_the_law():
    """``torch.func.vmap(randomness="different")`` takes the functional assembly."""
    eta = torch.tensor([0.5, 2.0])

    def draw(e):
        return D.LKJCholesky(3, e, validate_args=False).sample((4000,))

    x = torch.func.vmap(draw, randomness="different")(eta)
    assert x.shape == (2, 4000, 3, 3)
    for k, e in enumerate(eta.tolist()):
        c = x[k] @ x[k].mT
        law = stats.beta(e - 1 + 1.5, e - 1 + 1.5)
        assert stats.kstest(((c[:, 2, 0] + 1) / 2).double().numpy(), law.cdf).pvalue > _P_MIN
        assert ((x[k].square().sum(-1) - 1).abs() < 1e-5).all()


# --------------------------------------------------------------------- MixtureSameFamily


def _mixture_of_normals(d: int, shared: bool, dtype: torch.dtype):
    g = torch.Generator().manual_seed(d)
    k = 3
    loc = (3 * torch.randn(2, k, d, generator=g)).to(dtype)
    tril = torch.randn(2, k, d, d, generator=g).tril(-1) * 0.5
    tril = (tril + torch.diag_embed(torch.rand(2, k, d, generator=g) + 0.3)).to(dtype)
    if shared:
        tril = tril[0]  # (k, d, d), broadcast over the batch
    logits = torch.randn(2, k, generator=g).to(dtype)
    comp = D.MultivariateNormal(loc, scale_tril=tril)
    return D.MixtureSameFamily(D.Categorical(logits=logits), comp), loc, tril, logits


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_mixture_of_multivariate_normals_projections_have_the_mixture_law(d, shared, dtype):
    """``a^T x`` of a mixture of MultivariateNormals is the mixture of the normals
    ``N(a^T mu_k, a^T Sigma_k a)`` with the same weights (KS, 30000 draws of a (3, 2) batch
    via sample_shape, for a unit and a dense ``a``)."""
    mix, loc, tril, logits = _mixture_of_normals(d, shared, dtype)
    x = mix.sample((3, 10000), generator=torch.Generator().manual_seed(1)).double()
    assert x.shape == (3, 10000, 2, d) and x.dtype == torch.float64
    cov = (tril @ tril.mT).double().expand(2, 3, d, d)
    weights = torch.softmax(logits.double(), -1)
    g = torch.Generator().manual_seed(2)
    for a in (torch.eye(d, dtype=torch.float64)[0], torch.randn(d, generator=g).double()):
        for b in range(2):
            means = (loc.double()[b] @ a).numpy()
            sds = torch.einsum("i,kij,j->k", a, cov[b], a).sqrt().numpy()
            w = weights[b].numpy()

            def cdf(t, means=means, sds=sds, w=w):
                return sum(w[j] * stats.norm.cdf(t, means[j], sds[j]) for j in range(3))

            result = stats.kstest((x[..., b, :] @ a).reshape(-1).numpy(), cdf)
            assert result.pvalue > _P_MIN, (a, b, result)


def test_mixture_rsample_carries_gradients_exactly_when_a_parameter_requires_grad():
    """With no parameter requiring grad, rsample is sample (same numbers, no graph); with the
    weights or a component parameter requiring grad, both get a gradient."""
    loc, scale, logits = torch.randn(4, 3), torch.rand(4, 3) + 0.5, torch.randn(4, 3)

    def build(loc=loc, scale=scale, logits=logits):
        return D.MixtureSameFamily(D.Categorical(logits=logits), D.Normal(loc, scale))

    a = build().sample((5,), generator=torch.Generator().manual_seed(3))
    b = build().rsample((5,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not b.requires_grad
    for name in ("loc", "scale", "logits"):
        leaf = {"loc": loc, "scale": scale, "logits": logits}[name].clone().requires_grad_()
        y = build(**{name: leaf}).rsample((5,), generator=torch.Generator().manual_seed(3))
        assert torch.equal(y.detach(), a)
        y.sum().backward()
        assert leaf.grad is not None and leaf.grad.abs().sum() > 0, name
    # a parameter held by a transform of a TransformedDistribution component
    shift = torch.zeros(4, 3, requires_grad=True)
    comp = D.TransformedDistribution(D.Normal(loc, scale), [D.transforms.AffineTransform(shift, 1)])
    y = D.MixtureSameFamily(D.Categorical(logits=logits), comp).rsample((5,))
    y.sum().backward()
    assert shift.grad is not None and shift.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generalized_pareto_rsample_gradients_at_a_fixed_uniform(dtype):
    """``dx/dxi``, ``dx/dsigma``, ``dx/dmu`` of a draw at its uniform against mpmath, for
    shapes on both sides of the series switch of ``r'(v)`` (``|xi s| = 1/4``) and at 0."""
    import mpmath

    xis = [-3.0, -0.6, -0.3, -0.1, -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 0.1, 0.2, 0.3, 0.7, 2.0]
    draws = 60
    xi = torch.tensor(xis, dtype=dtype).repeat(draws, 1).requires_grad_()
    scale = torch.tensor(1.5, dtype=dtype, requires_grad=True)
    loc = torch.tensor(-0.5, dtype=dtype, requires_grad=True)
    x = D.GeneralizedPareto(loc, scale, xi).rsample(generator=torch.Generator().manual_seed(6))
    x.sum().backward()
    assert torch.isfinite(xi.grad).all()
    assert loc.grad.item() == xi.numel()
    u = torch.rand(xi.shape, dtype=dtype, generator=torch.Generator().manual_seed(6))
    eps = torch.finfo(dtype).eps
    worst = 0.0
    grad_scale = mpmath.mpf(0)
    with mpmath.workdps(40):
        for i in range(draws):
            for j, c in enumerate(xis):
                s = -mpmath.log1p(-mpmath.mpf(u[i, j].item()))

                def q(e, s=s):
                    return s if e == 0 else mpmath.expm1(e * s) / e

                grad_scale += q(mpmath.mpf(c))
                exact = 1.5 * mpmath.diff(q, mpmath.mpf(c))
                # relative, in ulps, counted against the size of the derivative and
                # the conditioning 1 + |xi s| of the draw itself
                err = abs(xi.grad[i, j].item() - float(exact)) / abs(float(exact))
                worst = max(worst, err / eps / (1 + abs(c * float(s))))
    assert worst < 16, worst
    assert abs(scale.grad.item() - float(grad_scale)) <= 64 * eps * float(grad_scale)


# ------------------------------------------------------- compile and torch.func, large batches


def _compiled(fn):
    torch._dynamo.reset()
    return torch.compile(fn, backend="aot_eager", fullgraph=True)


def test_large_batch_samplers_trace_into_one_graph():
    """The elementwise Bartlett product, the onion assembly, the picked MultivariateNormal
    component and the GeneralizedPareto quantile (with its gradient Function) under
    ``torch.compile(fullgraph=True)``, at batch sizes that take the fast paths."""
    df = torch.full((5000,), 4.5)
    wishart = _compiled(lambda df: D.Wishart(df, torch.eye(3), validate_args=False).rsample())
    x = wishart(df)
    assert x.shape == (5000, 3, 3) and torch.equal(x, x.mT)
    assert (x.diagonal(dim1=-2, dim2=-1).mean(0) - 4.5).abs().max() < 0.5
    lkj = _compiled(lambda e: D.LKJCholesky(4, e, validate_args=False).sample())
    y = lkj(torch.full((5000,), 2.0))
    assert y.shape == (5000, 4, 4) and ((y.square().sum(-1) - 1).abs() < 1e-5).all()
    mix, *_ = _mixture_of_normals(3, False, torch.float32)
    z = _compiled(lambda: mix.sample((3000,)))()
    assert z.shape == (3000, 2, 3)

    def gp(c):
        return D.GeneralizedPareto(0.0, 1.0, c, validate_args=False).rsample((2000,)).sum()

    c = torch.tensor([-0.2, 0.0, 0.3], requires_grad=True)
    _compiled(gp)(c).backward()
    eager = c.grad.clone()
    assert torch.isfinite(eager).all()


def test_large_batch_samplers_under_torch_func():
    """``vmap(randomness="different")`` over the elementwise Bartlett product, and
    ``torch.func.grad`` through the GeneralizedPareto quantile Function."""
    df = torch.tensor([3.5, 8.0])

    def draw(df):
        return D.Wishart(df, torch.eye(2), validate_args=False).rsample((5000,))

    x = torch.func.vmap(draw, randomness="different")(df)
    assert x.shape == (2, 5000, 2, 2)
    assert ((x.diagonal(dim1=-2, dim2=-1).mean((1, 2)) - df).abs() < 0.3).all()

    def mean_draw(c):
        d = D.GeneralizedPareto(torch.tensor(0.0), torch.tensor(1.0), c, validate_args=False)
        return d.rsample((200000,), generator=torch.Generator().manual_seed(0)).mean()

    # E[x] = 1 / (1 - xi): d/dxi = 1 / (1 - xi)^2
    grad = torch.func.grad(mean_draw)(torch.tensor(0.2, dtype=torch.float64))
    assert abs(grad.item() - 1 / 0.8**2) < 0.05


def test_wishart_batched_parameters_with_sample_shape_keep_their_own_laws():
    """A batch of two Wisharts (own df and factor) drawn with a sample shape, on the
    elementwise path: each member's ``a^T X a / a^T Sigma a`` is chi^2 of its own df."""
    df = torch.tensor([3.5, 7.0])
    tril = torch.stack([_scale_tril(3, torch.float32), 2 * torch.eye(3)])
    x = D.Wishart(df, scale_tril=tril).sample((3000,), generator=torch.Generator().manual_seed(8))
    assert x.shape == (3000, 2, 3, 3)
    a = torch.tensor([0.3, -1.0, 0.6], dtype=torch.float64)
    for b in range(2):
        sigma = (tril[b] @ tril[b].mT).double()
        ratio = torch.einsum("i,nij,j->n", a, x[:, b].double(), a) / (a @ sigma @ a)
        assert stats.kstest(ratio.numpy(), stats.chi2(df[b].item()).cdf).pvalue > _P_MIN
