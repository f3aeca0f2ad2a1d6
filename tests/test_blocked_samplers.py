"""The blocked CPU sampler paths of issue 11 (``_samplers.draws.uniform_blocks``): the draws
of each block (torch.rand's grid and law, or normals), the parameters cut to the blocks, and
the laws of the samplers that use them (GeneralizedPareto, ContinuousBernoulli, Cauchy,
Weibull and the relaxed Bernoullis) at sizes of several blocks, against scipy or closed-form
cdfs; the one-hot rows of OneHotCategorical, and the written-out backwards of the relaxed
categoricals against autograd through softmax."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch._samplers import draws

# several blocks of float32 (and of float64) entries
_N = 3 * draws._BLOCK_BYTES // 4 + 7


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _collect(shape, dtype, seed, params=(), per_entry=1, normal=False):
    lead = (per_entry,) if per_entry > 1 else ()
    out = torch.empty(*lead, *shape, dtype=dtype)
    seen = []
    for rows, u, blocks in draws.uniform_blocks(
        torch.Size(shape), dtype, _gen(seed), params, per_entry, normal
    ):
        out.narrow(len(lead), rows.start, rows.stop - rows.start).copy_(u)
        seen.append((rows, [b.clone() for b in blocks]))
    return out, seen


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_block_uniforms_grid_law_generator(dtype):
    shape = (_N // 3, 3)
    u, seen = _collect(shape, dtype, 5, per_entry=2)
    assert len(seen) > 2 and seen[-1][0].stop == shape[0]
    assert u.shape == (2, *shape) and u.dtype == dtype
    assert float(u.min()) >= 0 and float(u.max()) < 1
    if dtype == torch.float32:  # k 2^-24, as torch.rand
        k = u.double() * 2**24
        assert torch.equal(k, k.floor())
    assert stats.kstest(u.double().reshape(-1).numpy(), "uniform").pvalue > 1e-4
    assert torch.equal(u, _collect(shape, dtype, 5, per_entry=2)[0])
    assert not torch.equal(u, _collect(shape, dtype, 6, per_entry=2)[0])


def test_block_normals():
    z, _ = _collect((_N,), torch.float32, 3, normal=True)
    assert stats.kstest(z.double().numpy(), "norm").pvalue > 1e-4


def test_block_params_are_the_broadcast_slices():
    shape = (_N // 6, 2, 3)
    full = torch.randn(shape)
    inner = torch.randn(2, 3)  # repeats along the first dim: copied out once
    column = torch.randn(shape[0], 1, 1)  # varies along it: sliced
    scalar = torch.tensor(0.7)
    _, seen = _collect(shape, torch.float32, 1, (full, inner, column, scalar))
    for rows, (f, i, c, s) in seen:
        assert torch.equal(f, full[rows])
        assert torch.equal(i.expand(f.shape), inner.expand(shape)[rows])
        assert torch.equal(c.expand(f.shape), column.expand(shape)[rows])
        assert s.numel() == 1 and float(s) == pytest.approx(0.7)


def _ks(x: torch.Tensor, cdf) -> float:
    return stats.kstest(x.double().reshape(-1).numpy(), cdf).pvalue


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_generalized_pareto_blocks(dtype):
    xi = torch.tensor([-0.3, 0.0, 0.05, 0.8], dtype=dtype)
    d = D.GeneralizedPareto(torch.tensor(1.0, dtype=dtype), torch.tensor(2.0, dtype=dtype), xi)
    x = d.sample((_N // 4,), generator=_gen(2))
    assert x.dtype == dtype and torch.equal(x, d.sample((_N // 4,), generator=_gen(2)))
    for j, c in enumerate(xi.tolist()):
        assert _ks(x[:, j], stats.genpareto(c, loc=1.0, scale=2.0).cdf) > 1e-4, c


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_continuous_bernoulli_blocks(dtype):
    """Every regime of the sampler, eta = 0 (the rate floor) included, against the cdf
    ``expm1(eta x) / expm1(eta)``."""
    etas = [-12.0, -1.0, -1e-4, 0.0, 1e-9, 0.5, 3.0]
    d = D.ContinuousBernoulli(logits=torch.tensor(etas, dtype=dtype))
    x = d.rsample((_N // len(etas),), generator=_gen(3))
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    for j, eta in enumerate(etas):
        if abs(eta) < 1e-6:  # uniform to float64 rounding
            cdf = stats.uniform.cdf
        else:
            cdf = lambda v, e=eta: np.expm1(e * v) / math.expm1(e)  # noqa: E731
        assert _ks(x[:, j], cdf) > 1e-4, eta


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cauchy_blocks(dtype):
    loc = torch.tensor([0.0, 2.0, -1.0], dtype=dtype)
    scale = torch.tensor([[0.5], [3.0]], dtype=dtype)
    d = D.Cauchy(loc, scale)
    x = d.rsample((_N // 6,), generator=_gen(4))
    assert x.shape == (_N // 6, 2, 3) and bool(x.isfinite().all())
    for i in range(2):
        for j in range(3):
            law = stats.cauchy(float(loc[j]), float(scale[i, 0]))
            assert _ks(x[:, i, j], law.cdf) > 1e-4, (i, j)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_weibull_blocks(dtype):
    """One (scale, concentration) per column; the same generator gives the same draws. At
    concentration 0.05 a share ``F(tiny)`` (1.3% in float32) is kept at ``tiny``: that atom's
    size against the cdf (5 binomial standard errors), the rest against the cdf above it."""
    scale = torch.tensor([1.0, 0.3, 5.0, 2.0, 1.0], dtype=dtype)
    k = torch.tensor([0.3, 0.7, 1.0, 4.5, 0.05], dtype=dtype)
    d = D.Weibull(scale, k)
    n = _N // 5
    x = d.sample((n,), generator=_gen(12))
    assert x.dtype == dtype and torch.equal(x, d.sample((n,), generator=_gen(12)))
    tiny = torch.finfo(dtype).tiny
    assert float(x.min()) >= tiny and bool(x.isfinite().all())
    for j in range(4):
        law = stats.weibull_min(float(k[j]), scale=float(scale[j]))
        assert _ks(x[:, j], law.cdf) > 1e-4, j
    law = stats.weibull_min(0.05)
    at_tiny = x[:, 4] <= tiny
    p = law.cdf(tiny)
    assert abs(float(at_tiny.double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)
    above = x[:, 4][~at_tiny]
    assert _ks(above, lambda v: (law.cdf(v) - p) / (1 - p)) > 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relaxed_bernoulli_blocks(dtype):
    """The logit (``LogitRelaxedBernoulli``) is logistic with location ``logits / tau`` and
    scale ``1 / tau``; ``RelaxedBernoulli`` is its sigmoid, kept inside (0, 1). One
    temperature per column (a broadcast operand copied out once per call)."""
    logits = torch.tensor([[1.0, 0.0, -2.5]], dtype=dtype)
    tau = torch.tensor([0.6, 1.5, 3.0], dtype=dtype)
    n = _N // 3
    t = D.LogitRelaxedBernoulli(tau, logits=logits).sample((n,), generator=_gen(5))
    y = D.RelaxedBernoulli(tau, logits=logits).sample((n,), generator=_gen(5))
    assert t.shape == y.shape == (n, 1, 3)
    tiny = torch.finfo(dtype).tiny
    assert float(y.min()) >= tiny and float(y.max()) < 1
    for j in range(3):
        law = stats.logistic(float(logits[0, j] / tau[j]), float(1 / tau[j]))
        assert _ks(t[:, 0, j], law.cdf) > 1e-4, j
    # the same uniforms: y is the sigmoid of t, to rounding
    torch.testing.assert_close(y, torch.sigmoid(t).clamp(min=tiny))


@pytest.mark.parametrize(
    ("k", "dtype"), [(3, torch.float32), (5, torch.float64), (2, torch.float32)]
)
def test_one_hot_rows(k, dtype):
    probs = torch.softmax(torch.randn(k, generator=_gen(6)), -1).to(dtype)
    d = D.OneHotCategorical(probs=probs.expand(1000, k))
    x = d.sample((300,), generator=_gen(7))
    assert x.shape == (300, 1000, k) and x.dtype == dtype
    assert bool(((x == 0) | (x == 1)).all()) and bool((x.sum(-1) == 1).all())
    counts = x.reshape(-1, k).sum(0).double()
    expected = probs.double() * counts.sum()
    stat = float(((counts - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(stat, k - 1) > 1e-4


@pytest.mark.parametrize("batched_t", [False, True])
@pytest.mark.parametrize("log", [False, True])
def test_relaxed_categorical_backward_is_softmax_autograd(batched_t, log):
    """The written-out backwards (RelaxedOneHotCategorical; ExpRelaxedCategorical with
    ``log``) against autograd through ``softmax((logits + G) / tau)`` (or its log) with the
    Gumbel noise ``G`` read back from the sample (``tau log x - logits`` up to a shift per
    row, which softmax ignores)."""
    dtype = torch.float64
    logits = torch.randn(20_000, 4, dtype=dtype, generator=_gen(8)).requires_grad_()
    if batched_t:
        tau = torch.rand(20_000, 1, dtype=dtype, generator=_gen(11)).add_(0.5)
    else:
        tau = torch.tensor(0.7, dtype=dtype)
    tau.requires_grad_()
    cls = D.ExpRelaxedCategorical if log else D.RelaxedOneHotCategorical
    x = cls(tau, logits=logits).rsample((2,), generator=_gen(9))
    w = torch.rand(x.shape, dtype=dtype, generator=_gen(10))
    got = torch.autograd.grad((x * w).sum(), (logits, tau))
    noise = (tau * (x if log else x.log()) - logits).detach()
    scores = (logits + noise) / tau
    y = torch.log_softmax(scores, -1) if log else torch.softmax(scores, -1)
    torch.testing.assert_close(y, x.detach())
    want = torch.autograd.grad((y * w).sum(), (logits, tau))
    for g, h in zip(got, want, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-12)
