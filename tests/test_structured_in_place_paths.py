"""The CPU eager, no-graph sampling paths of Wishart, LKJCholesky, LogisticNormal and
MixtureSameFamily: the same numbers as the traced paths, or the right law (fixed seeds)."""

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions import wishart as wishart_module
from aleatorch.distributions.wishart import _bartlett
from aleatorch.wrappers.mixture_same_family import _picked_normal, _rows


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------- Wishart


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_wishart_in_place_blocks_match_the_traced_products(p, dtype, monkeypatch):
    """Blocks (several, a partial last one), a factor sliced with the batch or broadcast,
    a sample shape: the in-place draw and its suspects equal the traced path's, bit for bit
    (the same gammas and normals)."""
    monkeypatch.setattr(wishart_module, "_BLOCK", 1 << 12)
    cases = [((), (5000,)), ((2,), (3000, 2)), ((7000, 2), (7000, 2)), ((1, 3), (9001, 3))]
    for tril_batch, batch in cases:
        g = _gen(p)
        tril = torch.eye(p, dtype=dtype) + 0.3 * torch.randn(
            tril_batch + (p, p), dtype=dtype, generator=g
        ).tril(-1)
        df = torch.full(batch, p - 0.7, dtype=dtype)
        shape = torch.Size(batch + (p, p))
        x, suspects = _bartlett(df, tril, shape, _gen(2), True)
        traced, traced_suspects = _bartlett(df, tril.clone().requires_grad_(), shape, _gen(2), True)
        assert torch.equal(x, traced.detach())
        assert torch.equal(suspects, traced_suspects)


@pytest.mark.parametrize("p", [2, 3, 4])
def test_wishart_suspects_are_the_small_determinants_of_the_correlation(p):
    """``_det_correlation`` is det(C) (float64 reference), and every matrix whose smallest
    correlation eigenvalue is below the rounding bound tau is a suspect."""
    n = 20000
    g = _gen(18)
    m = torch.randn(n, p, p, dtype=torch.float64, generator=g).tril(-1)
    diag = 10 ** (-(7 - p) * torch.rand(n, p, dtype=torch.float64, generator=g))
    m = (m + torch.diag_embed(diag)).float()
    x = m @ m.mT
    x64 = m.double() @ m.double().mT
    scale = x64.diagonal(dim1=-2, dim2=-1).rsqrt()
    c = x64 * scale[..., :, None] * scale[..., None, :]
    det = wishart_module._det_correlation(
        [m[:, j, j].square() for j in range(p)], [x[:, j, j] for j in range(p)]
    )
    torch.testing.assert_close(det.double(), torch.linalg.det(c), rtol=1e-4, atol=1e-9)
    suspects = wishart_module._suspects(det, p)
    tau = 32 * p * (p + 1) * torch.finfo(torch.float32).eps
    small = torch.linalg.eigvalsh(c)[:, 0] <= tau
    assert small.any() and not (small & ~suspects).any()
    assert suspects.any() and not suspects.all()


# ------------------------------------------------------------------------- LKJCholesky


@pytest.mark.parametrize("dim, eta", [(3, 0.5), (4, 2.0), (5, 1.0)])
def test_lkj_correlations_have_the_beta_marginal(dim, eta):
    """Every off-diagonal correlation C_ij of LKJ(eta) in dimension d has (C_ij + 1) / 2 ~
    Beta(eta - 1 + d/2, eta - 1 + d/2): KS at 20000 draws, with a sample shape and a batch."""
    d = D.LKJCholesky(dim, torch.full((2,), eta))
    low = d.sample((10000,), generator=_gen(dim))
    assert low.shape == (10000, 2, dim, dim)
    assert torch.equal(low, d.sample((10000,), generator=_gen(dim)))
    assert (low.triu(1) == 0).all() and (low.diagonal(dim1=-2, dim2=-1) > 0).all()
    c = (low @ low.mT).reshape(-1, dim, dim)
    b = eta - 1 + dim / 2
    for i, j in [(1, 0), (dim - 1, 0), (dim - 1, dim - 2)]:
        r = ((c[:, i, j].double() + 1) / 2).numpy()
        assert stats.kstest(r, stats.beta(b, b).cdf).pvalue > 1e-3, (i, j)


def test_lkj_eager_and_traced_paths_agree_in_law():
    """The eager (entry-major) draw and the traced one (torch.compile) give the same mean of
    the correlations within 5 standard errors."""
    d = D.LKJCholesky(4, 1.5, validate_args=False)
    eager = d.sample((20000,), generator=_gen(3))
    traced = torch.compile(lambda: d.sample((20000,)), backend="eager", fullgraph=True)()
    c1, c2 = eager @ eager.mT, traced @ traced.mT
    se = (c1.var(0) / 20000 + c2.var(0) / 20000).sqrt() + 1e-12
    assert ((c1.mean(0) - c2.mean(0)).abs() <= 5 * se).all()


# ------------------------------------------------------------------------- LogisticNormal


def test_logistic_normal_rsample_without_grad_is_the_traced_draw():
    loc = torch.randn(1000, 3, generator=_gen(0))
    scale = torch.rand(1000, 3, generator=_gen(1)) + 0.2
    x = D.LogisticNormal(loc, scale).rsample((2,), generator=_gen(4))
    y = D.LogisticNormal(loc.requires_grad_(), scale).rsample((2,), generator=_gen(4))
    assert y.requires_grad
    torch.testing.assert_close(x, y.detach(), rtol=0, atol=0)
    assert torch.equal(x, D.LogisticNormal(loc.detach(), scale).sample((2,), generator=_gen(4)))


# ------------------------------------------------------------------------- MixtureSameFamily


def test_mixture_rows_from_small_labels():
    """``_rows`` from uint8 labels (the Categorical's own) is int32 ``b K + label``."""
    labels = torch.randint(0, 3, (4, 5, 2), generator=_gen(0)).to(torch.uint8)
    rows = _rows(labels, torch.Size((5, 2, 3)))
    assert rows.dtype == torch.int32
    expected = (torch.arange(10).reshape(5, 2) * 3 + labels.long()).reshape(-1)
    assert torch.equal(rows.long(), expected)


@pytest.mark.parametrize("tril_shape", [(2, 2), (3, 1, 2, 2)])
def test_mixture_shared_factor_is_not_gathered(tril_shape):
    g = _gen(1)
    loc = torch.randn(3, 4, 2, generator=g)
    tril = torch.tensor([[1.0, 0.0], [0.3, 0.8]]) + 0.1 * torch.rand(tril_shape, generator=g).tril()
    comp = D.MultivariateNormal(loc, scale_tril=tril)
    index = torch.randint(0, 4, (5, 3), generator=g).to(torch.uint8)
    picked = _picked_normal(comp, index)
    full = comp.scale_tril.expand(5, 3, 4, 2, 2)
    at = index.long()[..., None, None, None].expand(5, 3, 1, 2, 2)
    assert torch.equal(picked.scale_tril, full.gather(-3, at).squeeze(-3))
    assert picked._unbroadcasted_scale_tril.dim() == len(tril_shape) - (len(tril_shape) > 2)


def test_mixture_of_normals_with_a_shared_factor_ks():
    """A mixture of 2-D normals sharing one factor: ``v . x`` is a mixture of normals, KS at
    1e5 draws."""
    loc = torch.tensor([[-2.0, 1.0], [1.5, -0.5], [0.0, 3.0]])
    tril = torch.tensor([[1.0, 0.0], [0.6, 0.5]])
    probs = torch.tensor([0.2, 0.5, 0.3])
    d = D.MixtureSameFamily(D.Categorical(probs), D.MultivariateNormal(loc, scale_tril=tril))
    v = torch.tensor([0.7, -0.4])
    x = d.sample((100000,), generator=_gen(5)) @ v
    means = (loc @ v).double()
    sd = (tril.double().mT @ v.double()).norm()

    def cdf(t):
        z = (torch.as_tensor(t).double()[:, None] - means) / sd
        return (probs.double() * torch.special.ndtr(z)).sum(-1).numpy()

    assert stats.kstest(x.double().numpy(), cdf).pvalue > 1e-3


def test_mixture_log_prob_keeps_a_validating_components_check():
    """A mixture built without validation on components that validate: the components'
    own check of the value still runs (the private form is used only where it adds none)."""
    comp = D.Exponential(torch.tensor([1.0, 2.0]), validate_args=True)
    mix = D.MixtureSameFamily(D.Categorical(torch.ones(2)), comp, validate_args=False)
    with pytest.raises(ValueError):
        mix.log_prob(torch.tensor(-1.0))
    off = D.Exponential(torch.tensor([1.0, 2.0]), validate_args=False)
    quiet = D.MixtureSameFamily(D.Categorical(torch.ones(2)), off, validate_args=False)
    expected = torch.logsumexp(off.log_prob(torch.tensor([[0.5]])) + math.log(0.5), -1)
    torch.testing.assert_close(quiet.log_prob(torch.tensor([0.5])), expected)


@pytest.mark.parametrize("family", ["LKJCholesky", "Wishart"])
def test_unbatched_parameters_under_vmap_draw_differently(family):
    """Under vmap (randomness="different") with parameters that are not batched, the
    draws are batched: the traced path, never the eager in-place one."""

    def draw(x):
        if family == "LKJCholesky":
            d = D.LKJCholesky(3, torch.tensor([1.0, 2.0]), validate_args=False)
        else:
            d = D.Wishart(torch.tensor(5.0), covariance_matrix=torch.eye(3), validate_args=False)
        return d.sample((5000,)) + x

    out = torch.func.vmap(draw, randomness="different")(torch.zeros(2))
    assert out.shape[0] == 2 and not torch.equal(out[0], out[1])
