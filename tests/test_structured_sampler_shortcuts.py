"""Shortcuts of the CPU eager samplers of Wishart, LogisticNormal and VonMises: the same
numbers as the general forms (fixed seeds), checked against independent computations."""

import math

import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions.wishart import _bartlett


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_wishart_draw_with_cached_rounds_is_the_plain_bartlett_draw():
    """A batch of matrices (the gamma rounds' terms cached, their concentrations taken from
    them): bit for bit the Bartlett draw made from df itself, twice (the second draw
    reuses the cache); the mean is df Sigma within 5 standard errors."""
    n, p = 6000, 3
    tril = torch.tensor([[1.0, 0.0, 0.0], [0.4, 0.9, 0.0], [-0.2, 0.3, 0.7]])
    df = torch.linspace(3.5, 9.0, n)
    d = D.Wishart(df, scale_tril=tril, validate_args=False)
    shape = torch.Size((n, p, p))
    for seed in (1, 2):
        x = d.sample(generator=_gen(seed))
        assert torch.equal(x, _bartlett(df, tril, shape, _gen(seed)))
    sigma = tril @ tril.mT
    scaled = x / df[:, None, None]  # mean Sigma, variance (Sigma_ij^2 + Sigma_ii Sigma_jj) / df
    var = (sigma.square() + sigma.diagonal()[:, None] * sigma.diagonal()[None, :]) / df[
        :, None, None
    ]
    se = var.sum(0).sqrt() / n
    assert ((scaled.mean(0) - sigma).abs() <= 5 * se).all()


def test_logistic_normal_two_sticks_in_place_is_the_float64_stick_breaking():
    """K = 2 (one add for the cumulative sum), no graph, enough draws for the in-place path:
    the draws are the float64 stick breaking of the same normals (rounded), and bit for bit
    the draws with a graph."""
    loc = torch.tensor([[0.3, -1.2], [2.0, 0.5]]).repeat(2000, 1)
    scale = torch.tensor([[0.7, 1.5], [0.2, 3.0]]).repeat(2000, 1)
    x = D.LogisticNormal(loc, scale).sample((2,), generator=_gen(7))
    eps = torch.randn((2, 4000, 2), generator=_gen(7)).double()
    z = loc.double() + scale.double() * eps - torch.tensor([2.0, 1.0]).double().log()
    sticks = torch.sigmoid(z)
    kept = (1 - sticks).cumprod(-1)
    y = torch.cat([sticks[..., :1], sticks[..., 1:] * kept[..., :-1], kept[..., -1:]], -1)
    torch.testing.assert_close(x.double(), y, rtol=2e-5, atol=1e-30)
    graph = D.LogisticNormal(loc.requires_grad_(), scale).rsample((2,), generator=_gen(7))
    assert torch.equal(x, graph.detach())


def test_von_mises_large_draw_follows_its_law_and_the_generator():
    """A draw large enough for the word uniforms (their spare buffer wraps the angles):
    reproducible, in [-pi, pi), and each concentration's angles follow the von Mises cdf
    (KS)."""
    kappa = torch.tensor([0.3, 3.0, 30.0]).repeat(20000)
    loc = torch.tensor([7.0, -4.0, 1.0]).repeat(20000)
    d = D.VonMises(loc, kappa)
    x = d.sample(generator=_gen(3))
    assert torch.equal(x, d.sample(generator=_gen(3)))
    assert (x >= -math.pi).all() and (x < math.pi).all()
    for j, (k, m) in enumerate([(0.3, 7.0), (3.0, -4.0), (30.0, 1.0)]):
        centred = torch.remainder(x[j::3].double() - m + math.pi, 2 * math.pi) - math.pi
        assert stats.kstest(centred.numpy(), stats.vonmises(k).cdf).pvalue > 1e-3, k
