"""The CPU-eager no-graph paths of GeneralizedPareto, Gumbel and TransformedDistribution
``log_prob`` (issue 11): each against mpmath and against the graph path it sits beside
(the same law, computed with a parameter that requires grad), both dtypes, every branch."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch import transforms as T
from aleatorch.distributions import gumbel

DTYPES = [torch.float32, torch.float64]


def _tol(dtype):
    # in eps of the result's magnitude (at least 1): well inside issue 9's budgets
    return 16 * torch.finfo(dtype).eps


def _close(got, want, dtype, factor=1):
    want = torch.as_tensor(want, dtype=torch.float64)
    got = got.detach().to(torch.float64)
    both_inf = torch.isinf(want) & (got == want)
    err = (got - want).abs() / want.abs().clamp(min=1)
    err = torch.where(both_inf, 0.0, err)
    assert torch.isnan(got).eq(torch.isnan(want)).all(), (got, want)
    worst = torch.nan_to_num(err, nan=0.0).max().item()
    assert worst <= factor * _tol(dtype), (worst, got, want)


def _graph_values(cls, value, **params):
    """``log_prob`` with a parameter that requires grad: the out-of-place path."""
    first = next(iter(params))
    params = dict(params)
    params[first] = params[first].clone().requires_grad_(True)
    return cls(**params, validate_args=False).log_prob(value).detach()


# ----------------------------------------------------------------- GeneralizedPareto


def _gp_mp(x, mu, sigma, xi):
    with mp.workdps(50):
        x, mu, sigma, xi = (mp.mpf(float(t)) for t in (x, mu, sigma, xi))
        if mp.isnan(x):
            return math.nan
        z = (x - mu) / sigma
        if z < 0 or (xi < 0 and z > -1 / xi):
            return -math.inf
        if mp.isinf(z):
            return -math.inf
        if xi == 0:
            return float(-z - mp.log(sigma))
        return float(-(1 + 1 / xi) * mp.log1p(xi * z) - mp.log(sigma))


def _gp_log_prob_matches_mpmath(x, mu, sigma, xi, dtype, checked=None):
    """GeneralizedPareto's log_prob (validation off), its first ``checked`` entries (all if
    None) compared with mpmath; returns the whole result."""
    got = D.GeneralizedPareto(mu, sigma, xi, validate_args=False).log_prob(x)
    rows = zip(*(t[:checked] for t in (x, mu, sigma, xi)), strict=True)
    _close(got[:checked], [_gp_mp(*row) for row in rows], dtype)
    return got


def _gp_case(dtype):
    """Entries of every kind: ordinary, w = 0 (xi = 0 or x = mu), a subnormal w, |w| tiny,
    near the upper end (w < -3/4), at and beyond it, below mu."""
    tiny = torch.finfo(dtype).tiny
    rows = [
        (1.0, 0.0, 1.0, 0.1),
        (2.5, 1.0, 0.5, 0.0),  # xi = 0
        (1.0, 1.0, 2.0, 0.3),  # x = mu: w = 0
        (tiny / 8, 0.0, 1.0, 0.5),  # z subnormal: w subnormal
        (1e-30, 0.0, 1.0, 1e-3),  # |w| tiny
        (3.0, 0.0, 1.0, -1e-6),
        (3.2, 0.0, 1.0, -0.3),  # w = -0.96: near the end
        (3.3333, 0.0, 1.0, -0.3),  # 1 + w ~ 1e-5: only b - x keeps its digits
        (2.9, 0.1, 0.3, -0.1),  # w = -0.93
        (2.0, 0.0, 1.0, -0.4),  # w = -0.8
        (2.5, 0.0, 1.0, -0.4),  # w = -1: the end
        (4.0, 0.0, 1.0, -0.4),  # beyond
        (-0.5, 0.0, 1.0, 0.2),  # below mu
        (50.0, -1.0, 3.0, 2.0),  # heavy tail
        (7.0, 2.0, 0.1, -0.01),
    ]
    cols = list(zip(*rows, strict=True))
    return [torch.tensor(c, dtype=dtype) for c in cols]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gp_in_place_every_branch_matches_mpmath(dtype):
    x, mu, sigma, xi = _gp_case(dtype)
    _gp_log_prob_matches_mpmath(x, mu, sigma, xi, dtype)
    graph = _graph_values(D.GeneralizedPareto, x, loc=mu, scale=sigma, concentration=xi)
    _close(graph, [_gp_mp(*row) for row in zip(x, mu, sigma, xi, strict=True)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gp_in_place_all_ordinary_and_large(dtype):
    # no entry needs the general path (the screen's early exit), and a large batch
    g = torch.Generator().manual_seed(3)
    n = 4000
    mu = torch.randn(n, generator=g, dtype=dtype)
    sigma = torch.rand(n, generator=g, dtype=dtype) + 0.2
    xi = torch.rand(n, generator=g, dtype=dtype) * 0.6 - 0.1
    x = mu + sigma * torch.rand(n, generator=g, dtype=dtype) * 2
    got = _gp_log_prob_matches_mpmath(x, mu, sigma, xi, dtype, checked=300)
    graph = _graph_values(D.GeneralizedPareto, x, loc=mu, scale=sigma, concentration=xi)
    scale = graph.abs().clamp(min=1)
    assert ((got - graph).abs() <= 8 * torch.finfo(dtype).eps * scale).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gp_in_place_nan_inf_and_broadcast(dtype):
    mu = torch.tensor([0.0, 0.0, 1.0], dtype=dtype)
    sigma = torch.tensor([1.0, 2.0, 0.5], dtype=dtype)
    xi = torch.tensor([0.2, -0.2, 0.0], dtype=dtype)
    d = D.GeneralizedPareto(mu, sigma, xi, validate_args=False)
    # NaN and inf values (the split path), a value of fewer dims, one wider than the params
    value = torch.tensor([math.nan, math.inf, 2.0], dtype=dtype)
    lp = d.log_prob(value)
    graph = _graph_values(D.GeneralizedPareto, value, loc=mu, scale=sigma, concentration=xi)
    assert torch.equal(lp[:2], graph[:2]) and lp[1] == -math.inf
    _close(lp[2:], [_gp_mp(2.0, 1.0, 0.5, 0.0)], dtype)
    scalar = d.log_prob(torch.tensor(1.5, dtype=dtype))
    _close(scalar, [_gp_mp(1.5, *row) for row in zip(mu, sigma, xi, strict=True)], dtype)
    wide = torch.tensor([[0.5], [3.0], [6.0]], dtype=dtype)
    got = d.log_prob(wide)
    want = [[_gp_mp(v, *row) for row in zip(mu, sigma, xi, strict=True)] for v in (0.5, 3.0, 6.0)]
    _close(got, want, dtype)
    # parameters wider than value and loc: scale and concentration of shape (2, 3)
    d2 = D.GeneralizedPareto(0.0, sigma.expand(2, 3), xi.expand(2, 3), validate_args=False)
    got = d2.log_prob(torch.tensor(1.0, dtype=dtype))
    want = [[_gp_mp(1.0, 0.0, s, c) for s, c in zip(sigma, xi, strict=True)]] * 2
    _close(got, want, dtype)


def test_gp_gradients_unchanged_by_the_no_graph_path():
    x, mu, sigma, xi = _gp_case(torch.float64)
    keep = torch.isfinite(D.GeneralizedPareto(mu, sigma, xi, validate_args=False).log_prob(x))
    x, mu, sigma, xi = x[keep], mu[keep], sigma[keep], xi[keep]
    params = [t.clone().requires_grad_(True) for t in (mu, sigma, xi)]
    lp = D.GeneralizedPareto(*params, validate_args=False).log_prob(x)
    grads = torch.autograd.grad(lp.sum(), params)
    for g in grads:
        assert torch.isfinite(g).all()
    # d/dmu of log p = (1 + xi) / (sigma (1 + w)), w = xi z
    z = (x - mu) / sigma
    want = (1 + xi) / (sigma * (1 + xi * z))
    torch.testing.assert_close(grads[0], want, rtol=1e-9, atol=0)


# ----------------------------------------------------------------------------- Gumbel


def _gumbel_mp(x, mu, beta):
    with mp.workdps(40):
        z = (mp.mpf(float(x)) - mp.mpf(float(mu))) / mp.mpf(float(beta))
        return float(-z - mp.exp(-z) - mp.log(mp.mpf(float(beta))))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [7, 3 * gumbel._BLOCK + 5], ids=["one piece", "blocks"])
def test_gumbel_in_place_matches_mpmath(dtype, n):
    g = torch.Generator().manual_seed(5)
    mu = torch.randn(n, generator=g, dtype=dtype) * 3
    beta = torch.rand(n, generator=g, dtype=dtype) * 2 + 0.05
    x = mu + beta * torch.randn(n, generator=g, dtype=dtype) * 2
    x[0] = mu[0] - 1000 * beta[0]  # exp(-z) overflows: -inf
    got = D.Gumbel(mu, beta, validate_args=False).log_prob(x)
    assert got[0] == -math.inf
    picks = sorted({*range(1, 7), n - 1, n // 2, min(n - 1, gumbel._BLOCK), gumbel._BLOCK - 1})
    picks = [i for i in picks if i < n]
    want = [_gumbel_mp(x[i], mu[i], beta[i]) for i in picks]
    _close(got[picks], want, dtype)
    graph = _graph_values(D.Gumbel, x, loc=mu, scale=beta)
    torch.testing.assert_close(got, graph, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gumbel_in_place_shapes(dtype):
    g = torch.Generator().manual_seed(6)
    rows = 2 * gumbel._BLOCK // 3 + 1
    mu = torch.randn(rows, 3, generator=g, dtype=dtype)
    beta = torch.rand(rows, 3, generator=g, dtype=dtype) + 0.1
    d = D.Gumbel(mu, beta, validate_args=False)
    x = torch.randn(3, rows, generator=g, dtype=dtype).t()  # not contiguous
    got = d.log_prob(x)
    for i in (0, rows - 1):
        _close(got[i], [_gumbel_mp(x[i, j], mu[i, j], beta[i, j]) for j in range(3)], dtype)
    # scale wider than value and loc
    d2 = D.Gumbel(torch.tensor(0.5, dtype=dtype), beta[:4], validate_args=False)
    got = d2.log_prob(torch.tensor(1.0, dtype=dtype))
    _close(got.reshape(-1), [_gumbel_mp(1.0, 0.5, b) for b in beta[:4].reshape(-1)], dtype)


# ----------------------------------------------------------------- TransformedDistribution


def _lognormal_affine_mp(y, mu, sigma, a, b):
    """log p of ``exp(a + b X)``, ``X ~ Normal(mu, sigma)``."""
    with mp.workdps(40):
        y, mu, sigma, a, b = (mp.mpf(float(t)) for t in (y, mu, sigma, a, b))
        x = (mp.log(y) - a) / b
        return float(mp.npdf(x, mu, sigma) and mp.log(mp.npdf(x, mu, sigma)) - mp.log(abs(b) * y))


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformed_owned_log_det_matches_mpmath(dtype):
    g = torch.Generator().manual_seed(7)
    n = 1000
    mu = torch.randn(n, generator=g, dtype=dtype)
    sigma = torch.rand(n, generator=g, dtype=dtype) + 0.3
    a, b = 0.3, -2.0
    d = D.TransformedDistribution(
        D.Normal(mu, sigma), [T.AffineTransform(a, b), T.ExpTransform()], validate_args=False
    )
    y = d.sample(generator=g)
    got = d.log_prob(y)
    want = [_lognormal_affine_mp(y[i], mu[i], sigma[i], a, b) for i in range(0, n, 37)]
    _close(got[::37], want, dtype)
    graph_base = D.Normal(mu.clone().requires_grad_(True), sigma)
    graph = D.TransformedDistribution(
        graph_base, [T.AffineTransform(a, b), T.ExpTransform()], validate_args=False
    ).log_prob(y)
    torch.testing.assert_close(got, graph.detach(), rtol=0, atol=0)
    # three transforms: the owned sum takes the third term in place
    d3 = D.TransformedDistribution(
        D.Normal(mu, sigma),
        [T.AffineTransform(a, b), T.ExpTransform(), T.AffineTransform(0.0, 3.0)],
        validate_args=False,
    )
    got3 = d3.log_prob(3 * y)
    _close(got3, got.double() - math.log(3.0), dtype)


def test_transformed_owned_log_det_leaves_inputs_alone():
    mu, sigma = torch.zeros(5), torch.ones(5)
    d = D.TransformedDistribution(
        D.Normal(mu, sigma), [T.AffineTransform(0.5, 2.0), T.ExpTransform()], validate_args=False
    )
    y = torch.rand(5) + 0.5
    before = y.clone()
    first = d.log_prob(y)
    second = d.log_prob(y)
    assert torch.equal(y, before) and torch.equal(first, second)
    # a float64 base under a float32 log-det: no in-place write across dtypes
    d64 = D.TransformedDistribution(
        D.Normal(mu.double(), sigma.double()), [T.ExpTransform(), T.ExpTransform()]
    )
    out = d64.log_prob(torch.full((5,), 3.0))
    want = D.Normal(0.0, 1.0).log_prob(torch.tensor(math.log(math.log(3.0)), dtype=torch.float64))
    want = want - math.log(math.log(3.0)) - math.log(3.0)
    torch.testing.assert_close(out, want.expand(5), rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gp_in_place_near_end_only(dtype):
    # the only entries off the plain form are near the upper end (-1 < w < -3/4): the screen
    # alone must send them to the end form
    x = torch.tensor([0.5, 3.3333, 3.2, 1.0], dtype=dtype)
    mu, sigma = torch.zeros(4, dtype=dtype), torch.ones(4, dtype=dtype)
    xi = torch.full((4,), -0.3, dtype=dtype)
    _gp_log_prob_matches_mpmath(x, mu, sigma, xi, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformed_spent_pre_image(dtype):
    # one affine map: the result is written over the pre-image the base has read
    g = torch.Generator().manual_seed(8)
    n = 2000
    mu = torch.randn(n, generator=g, dtype=dtype)
    sigma = torch.rand(n, generator=g, dtype=dtype) + 0.3
    d = D.TransformedDistribution(D.Normal(mu, sigma), [T.AffineTransform(0.5, -3.0)])
    y = d.sample(generator=g)
    before = y.clone()
    got = d.log_prob(y)
    assert torch.equal(y, before)
    with mp.workdps(40):
        want = [
            float(mp.log(mp.npdf((mp.mpf(float(y[i])) - 0.5) / -3, float(mu[i]), float(sigma[i]))))
            - math.log(3.0)
            for i in range(0, n, 41)
        ]
    _close(got[::41], want, dtype)
    graph = D.TransformedDistribution(
        D.Normal(mu.clone().requires_grad_(True), sigma), [T.AffineTransform(0.5, -3.0)]
    ).log_prob(y)
    torch.testing.assert_close(got, graph.detach(), rtol=0, atol=0)
    # Exponential base, tensor scale; an exp map last (its pre-image is the log-det: kept)
    rate = torch.rand(n, generator=g, dtype=dtype) + 0.5
    scale = torch.rand(n, generator=g, dtype=dtype) + 0.5
    e = D.TransformedDistribution(D.Exponential(rate), [T.AffineTransform(1.0, scale)])
    x = e.sample(generator=g)
    want = D.Exponential(rate.double()).log_prob((x.double() - 1) / scale) - scale.double().log()
    _close(e.log_prob(x), want, dtype)
    ln = D.TransformedDistribution(D.Normal(mu, sigma), [T.ExpTransform()])
    v = ln.sample(generator=g)
    want = D.LogNormal(mu.double(), sigma.double()).log_prob(v.double())
    _close(ln.log_prob(v), want, dtype)


def test_transformed_spent_pre_image_not_taken_for_event_sums():
    # the base sums over an event dim: its log_prob is narrower than the pre-image
    base = D.Independent(D.Normal(torch.zeros(4, 3), torch.ones(4, 3)), 1)
    d = D.TransformedDistribution(base, [T.AffineTransform(1.0, 2.0, event_dim=1)])
    y = torch.randn(4, 3)
    got = d.log_prob(y)
    want = D.Normal(0.0, 1.0).log_prob((y - 1) / 2).sum(-1) - 3 * math.log(2.0)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformed_spent_pre_image_sums_the_log_dets_alike(dtype):
    # affine maps around an exp map, a narrower second log-det (tensor scale of one column
    # broadcast): the sum written over the spent pre-image, the same numbers as the graph
    g = torch.Generator().manual_seed(9)
    mu = torch.randn(300, 3, generator=g, dtype=dtype)
    sigma = torch.rand(300, 3, generator=g, dtype=dtype) + 0.3
    scale = torch.rand(300, 1, generator=g, dtype=dtype) + 0.5
    maps = [
        T.AffineTransform(0.2, scale),
        T.ExpTransform(),
        T.AffineTransform(1.0, 2.0),
        T.AffineTransform(0.0, -1.5),
    ]
    d = D.TransformedDistribution(D.Normal(mu, sigma), maps)
    y = d.sample(generator=g)
    got = d.log_prob(y)
    graph = D.TransformedDistribution(D.Normal(mu.clone().requires_grad_(True), sigma), maps)
    torch.testing.assert_close(got, graph.log_prob(y).detach(), rtol=0, atol=0)
    x = (torch.log((y.double() / -1.5 - 1) / 2) - 0.2) / scale.double()
    log_det = (
        math.log(1.5)
        + math.log(2.0)
        + torch.log((y.double() / -1.5 - 1) / 2)
        + scale.double().log()
    )
    want = D.Normal(mu.double(), sigma.double()).log_prob(x) - log_det
    # four maps: float32 rounding of each pre-image step, amplified (the graph path's too)
    _close(got, want, dtype, factor=8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transformed_owned_log_det_when_the_pre_image_is_kept(dtype):
    # an exp map first: the base's argument is also a log-det term, so the result goes
    # over the fresh sum of the log-dets instead
    g = torch.Generator().manual_seed(10)
    mu = torch.randn(500, generator=g, dtype=dtype)
    sigma = torch.rand(500, generator=g, dtype=dtype) + 0.3
    maps = [T.ExpTransform(), T.AffineTransform(-1.0, 2.5), T.AffineTransform(0.5, -1.0)]
    d = D.TransformedDistribution(D.Normal(mu, sigma), maps)
    y = d.sample(generator=g)
    got = d.log_prob(y)
    u = (-(y.double() - 0.5) + 1.0) / 2.5  # exp(x)
    want = D.LogNormal(mu.double(), sigma.double()).log_prob(u) - math.log(2.5)
    _close(got, want, dtype)
    graph = D.TransformedDistribution(D.Normal(mu.clone().requires_grad_(True), sigma), maps)
    torch.testing.assert_close(got, graph.log_prob(y).detach(), rtol=0, atol=0)
