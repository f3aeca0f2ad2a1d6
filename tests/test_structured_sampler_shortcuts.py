"""Shortcuts of the CPU eager samplers of Wishart, LogisticNormal and VonMises: the same
numbers as the general forms (fixed seeds), checked against independent computations."""

import math

import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions.wishart import _bartlett

F64 = torch.float64


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


def test_wishart_redraws_take_each_matrix_own_df_and_factor():
    """The redraw of matrices that rounded to singular ones: each redrawn matrix is the
    Bartlett draw from its own df and factor (an expanded, column-major factor; a sample
    shape; a single matrix), in the order of the flat batch."""
    g = _gen(11)
    cov = torch.randn(4, 3, 3, generator=g)
    cov = cov @ cov.mT + torch.eye(3)
    df = torch.tensor([[3.5], [6.0]]).expand(2, 4)
    for d, sample_shape in (
        (D.Wishart(df, covariance_matrix=cov), (5,)),
        (D.Wishart(torch.tensor(4.0), covariance_matrix=cov[0]), ()),
    ):
        shape = d._extended_shape(torch.Size(sample_shape))
        x = d.sample(sample_shape, generator=_gen(1))
        flat = x.view(-1, 3, 3)
        rows = torch.tensor([0]) if flat.shape[0] == 1 else torch.tensor([1, 6, 17, 38])
        flat[rows] = 0.0  # singular: redrawn
        out = d._redraw_singular(x, shape, _gen(5))
        expected = _bartlett(
            d.df.expand(shape[:-2]).reshape(-1)[rows],
            d.scale_tril.expand(shape).reshape(-1, 3, 3)[rows],
            torch.Size((rows.numel(), 3, 3)),
            _gen(5),
        )
        assert torch.equal(out.view(-1, 3, 3)[rows], expected)


def _scipy_wishart_entropy(df: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """scipy's entropy at the parameters as given (float64 arithmetic)."""
    scale = cov.double().numpy()
    return torch.tensor([stats.wishart(df=v, scale=scale).entropy() for v in df.tolist()])


def test_wishart_entropy_matches_scipy_at_every_p():
    """The entropy, whose lgamma and digamma sums below ``a - 1/2`` come from recurrences:
    scipy's entropy at the parameters rounded to the dtype (float64: 1e-10; float32: 2e-6
    relative), df from near p - 1 to 40, and with a df in the Stirling range beside them
    (the where-path)."""
    for p in range(1, 6):
        g = _gen(p)
        a = torch.randn(p, p, dtype=torch.float64, generator=g)
        cov = a @ a.mT + p * torch.eye(p, dtype=torch.float64)
        df = torch.tensor([p - 1 + 1e-3, p - 0.5, p + 0.5, 2.0 * p + 0.3, 40.0], dtype=F64)
        df = df[df > 0]
        for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 2e-6)):
            d = D.Wishart(df.to(dtype), covariance_matrix=cov.to(dtype))
            expected = _scipy_wishart_entropy(df.to(dtype), cov.to(dtype))
            torch.testing.assert_close(d.entropy().double(), expected, rtol=rtol, atol=rtol)
        mixed = D.Wishart(torch.cat([df, torch.tensor([1e12], dtype=F64)]), covariance_matrix=cov)
        expected = _scipy_wishart_entropy(df, cov)
        torch.testing.assert_close(mixed.entropy()[:-1], expected, rtol=1e-10, atol=1e-10)
