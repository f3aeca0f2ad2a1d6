"""The CPU-eager Marsaglia–Tsang rounds in their log form (``log_marsaglia_tsang``: the
draws' logs straight from the rounds, boost included), the uniforms made from ``random_``
words, the Python-float path for a few draws, and the rounds with cached parameter terms
(``prepare_rounds``: Gamma, Chi2, Dirichlet categories first, Wishart): exact in law,
generator-driven."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

import aleatorch as D
from aleatorch._samplers import draws
from aleatorch._samplers import marsaglia_tsang as mt
from aleatorch._samplers.gamma import log_standard_gamma
from aleatorch._samplers.marsaglia_tsang import (
    log_marsaglia_tsang,
    marsaglia_tsang,
    prepare_rounds,
)
from tests.test_speed_gamma_sampler import KS_CRIT, _cdf_at_log, _ks_rounded

DTYPES = [torch.float32, torch.float64]


def _ks_log(log_g: torch.Tensor, a: float) -> float:
    y = np.sort(log_g.double().numpy())
    return float(stats.kstest(y, lambda v: _cdf_at_log(a, v)).statistic)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_log_rounds_follow_the_log_gamma_law_across_the_switch_points(dtype):
    # both sides of the boost (a < 1), of the series switch (d = 100 or 1e6) and tiny a
    switch = mt._SERIES_FROM[dtype] + 1 / 3
    values = [1e-3, 0.05, 0.5, 1.0, 1 + 1e-6, 7.0, switch * 0.999, switch * 1.001, 1e7]
    n = 40_000
    a = torch.tensor(values, dtype=dtype).repeat(n)
    log_g, _ = mt.log_marsaglia_tsang(a, torch.Generator().manual_seed(21))
    assert log_g.dtype == dtype and bool(torch.isfinite(log_g).all())
    for i, v in enumerate(values):
        assert _ks_log(log_g[i :: len(values)], v) < KS_CRIT / math.sqrt(n), v


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [1e-6, 0.3, 2.0, 150.0])
def test_value_rounds_follow_the_gamma_law_one_concentration(a, dtype):
    # a single distinct concentration (a 0-dim d in the rounds)
    n = 200_000
    draws = mt.marsaglia_tsang(
        torch.tensor(a, dtype=dtype).expand(n), torch.Generator().manual_seed(22)
    )
    assert _ks_rounded(draws, a) < KS_CRIT / math.sqrt(n)


def test_uniforms_from_random_words_are_torchs_grid_and_uniform():
    n = 400_000
    log_v = mt._log_complement_uniforms(n, torch.float32, torch.Generator().manual_seed(23))
    u = -torch.expm1(log_v.double())  # u = 1 - v
    k = u * 2.0**24
    # on the grid k 2^-24, k in [0, 2^24): log1p(-u) rounded in float32 maps back close
    assert float((k - k.round()).abs().max()) < 2.0**24 * 2e-7
    assert float(u.min()) >= 0 and float(u.max()) < 1
    assert stats.kstest(u.numpy(), "uniform").statistic < KS_CRIT / math.sqrt(n)
    # the two halves of each int64 word are independent
    first, second = u[0::2].numpy(), u[1::2].numpy()
    assert abs(np.corrcoef(first, second)[0, 1]) < 5 / math.sqrt(n / 2)
    # odd counts and the generator
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = mt._log_complement_uniforms(7, torch.float32, g1)
    assert a.shape == (7,) and torch.equal(a, mt._log_complement_uniforms(7, torch.float32, g2))


@pytest.mark.parametrize("m", [1, 7, 2 * draws._WORD_STEP, 5 * draws._WORD_STEP + 3])
def test_word_floats_in_blocks_are_the_whole_tensor_words(m):
    # uniforms and word integers converted block by block over their own words: the numbers
    # of the whole-tensor steps (the same words, in the same order), for every block split
    g = lambda: torch.Generator().manual_seed(31)  # noqa: E731
    k = draws.low_words(m, g()).to(torch.float32)
    assert torch.equal(draws._word_floats(m, g(), 1.0), k)
    integers, spare = draws.uniform_words(m, g())
    assert torch.equal(integers, k) and spare.shape == (m,) and spare.dtype == torch.float32
    if m >= draws._WORDS_FROM:
        u, spare = draws.uniforms((m,), torch.float32, "cpu", g())
        assert torch.equal(u, k * 2.0**-24) and spare.shape == (m,)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [1e-3, 0.05, 0.1, 0.5, 0.7, 3.0])
def test_python_path_for_few_draws_follows_the_law(a, dtype):
    # 4 entries per call (the Python-float path), 10000 calls from one generator
    gen = torch.Generator().manual_seed(24)
    c = torch.tensor([a, a, a, a], dtype=dtype)
    log_g = torch.cat([log_standard_gamma(c, torch.Size([4]), gen) for _ in range(10_000)])
    assert log_g.dtype == dtype and bool(torch.isfinite(log_g).all())
    assert _ks_log(log_g, a) < KS_CRIT / math.sqrt(log_g.numel())


def test_kernel_log_threshold_keeps_underflow_below_two_to_the_minus_64():
    for dtype, a in mt._KERNEL_LOG_FROM.items():
        tiny = torch.finfo(dtype).tiny
        assert a * math.log2(tiny) - math.lgamma(1 + a) / math.log(2) <= -64 + 1e-9


def test_log_paths_honour_the_generator_and_odd_values():
    for n in (3, 500, 5000):  # Python path, torch's kernel, the rounds
        c = torch.tensor([0.01, 0.5, 2.0, 300.0]).repeat(n)
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        x = log_standard_gamma(c, c.shape, g1)
        assert torch.equal(x, log_standard_gamma(c, c.shape, g2))
        assert not torch.equal(x, log_standard_gamma(c, c.shape, g2))
    odd = torch.tensor([0.0, float("nan"), 2.0])
    out = log_standard_gamma(odd, odd.shape)
    assert out[0] == -math.inf and bool(out[1].isnan()) and bool(torch.isfinite(out[2]))


def test_log_form_and_value_form_agree_on_the_same_draws():
    # the direct regime's log d + 3 log1p(t) against log(d (1 + t)^3) of the value rounds
    a = torch.tensor([0.2, 1.5, 40.0], dtype=torch.float64).repeat(2000)
    log_g, _ = mt.log_marsaglia_tsang(a, torch.Generator().manual_seed(8))
    g = mt.marsaglia_tsang(a, torch.Generator().manual_seed(8))
    torch.testing.assert_close(log_g, g.log(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3000])  # the Python path and the rounds
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_log_gamma_gradient_has_the_trigamma_mean(n, dtype):
    # E[log G_a] = psi(a), so the pathwise gradient d log G / da has mean psi'(a)
    values = [0.05, 0.3, 0.7, 2.0, 30.0]
    a = torch.tensor(values, dtype=dtype).repeat(n).requires_grad_()
    reps = max(1, 60_000 // a.numel())
    gen = torch.Generator().manual_seed(31)
    grads = []
    for _ in range(reps):
        (g,) = torch.autograd.grad(log_standard_gamma(a, a.shape, gen).sum(), a)
        grads.append(g.detach().double().view(-1, len(values)))
    grads = torch.cat(grads)
    assert bool(torch.isfinite(grads).all())
    mean, se = grads.mean(0), grads.std(0) / math.sqrt(grads.shape[0])
    for i, v in enumerate(values):
        expected = float(special.polygamma(1, v))
        assert abs(float(mean[i]) - expected) < 6 * float(se[i]), (v, float(mean[i]), expected)


@pytest.mark.parametrize("n", [1, 2000])
def test_sample_and_rsample_agree_when_parameters_require_grad(n):
    df = torch.tensor([0.3, 1.5, 7.0], dtype=torch.float64).repeat(n).requires_grad_()
    a = torch.tensor([0.05, 0.9, 3.0], dtype=torch.float64).repeat(n).requires_grad_()
    cases = [
        D.StudentT(df, torch.zeros_like(df), torch.ones_like(df)),
        D.Chi2(df),
        D.Beta(a, df),
        D.Dirichlet(torch.stack([a, df], -1)),
        D.FisherSnedecor(df, a),
    ]
    for d in cases:
        x = d.sample((2,), generator=torch.Generator().manual_seed(4))
        y = d.rsample((2,), generator=torch.Generator().manual_seed(4))
        assert torch.equal(x, y.detach()), type(d).__name__


# ------------------------------------------------ cached parameter terms (prepare_rounds)

# every regime: boosted (tiny, moderate), a = 1, direct, float32 series (a > 100)
CONCENTRATIONS = [0.003, 0.05, 0.5, 0.999, 1.0, 1.7, 20.0, 150.0, 1e5]
N = 100_000


def _grouped(dtype):
    """Every concentration repeated, interleaved (one tensor: mixed regimes)."""
    return torch.tensor(CONCENTRATIONS, dtype=dtype).repeat(N)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["value", "log"])
def test_prepared_rounds_give_the_same_draws(dtype, mode):
    a = _grouped(dtype)
    prepared = prepare_rounds(a, mode)
    assert prepared is not None
    draw = marsaglia_tsang if mode == "value" else log_marsaglia_tsang
    kw = {} if mode == "value" else {"keep_u": True}
    plain = draw(a, torch.Generator().manual_seed(7), **kw)
    cached = draw(a, torch.Generator().manual_seed(7), prepared=prepared, **kw)
    if mode == "log":
        assert (plain[1] is None) == (cached[1] is None)
        if plain[1] is not None:
            torch.testing.assert_close(plain[1], cached[1], rtol=0, atol=0)
        plain, cached = plain[0], cached[0]
    torch.testing.assert_close(plain, cached, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["value", "log"])
def test_prepared_rounds_law(dtype, mode):
    a = _grouped(dtype)
    prepared = prepare_rounds(a, mode)
    gen = torch.Generator().manual_seed(11)
    if mode == "value":
        x = marsaglia_tsang(a, gen, prepared=prepared).view(N, -1)
    else:
        x = log_marsaglia_tsang(a, gen, keep_u=False, prepared=prepared)[0].view(N, -1)
    for j, conc in enumerate(CONCENTRATIONS):
        # (the law rounded to the dtype, atoms at the clamp included; the logs' law)
        ks = _ks_rounded(x[:, j], conc) if mode == "value" else _ks_log(x[:, j], conc)
        assert ks < KS_CRIT / math.sqrt(N), (dtype, mode, conc, ks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_chi2_cached_law_and_generator(dtype):
    dfs = [0.1, 1.0, 2.0, 7.5, 250.0]
    df = torch.tensor(dfs, dtype=dtype).repeat(N // 2, 1)
    d = D.Chi2(df)
    first = d.sample(generator=torch.Generator().manual_seed(3))  # fills the cache
    assert "gamma_rounds" in d.__dict__.get("_cache", {})
    again = d.sample(generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    x = d.sample(generator=torch.Generator().manual_seed(4))
    assert not torch.equal(x, first)
    assert x.dtype == dtype and bool((x > 0).all())
    for j, v in enumerate(dfs):  # x / 2 ~ Gamma(df / 2) (the halving is exact)
        ks = _ks_rounded(x[:, j] / 2, v / 2)
        assert ks < KS_CRIT / math.sqrt(x.shape[0]), (dtype, v, ks)


def _ks_between(x: torch.Tensor, law, lo: float, hi: float) -> tuple[float, int]:
    """Kolmogorov distance of the draws in ``(lo, hi]`` to the law conditioned on it (away
    from the atoms of rounding at ``tiny`` and near 1)."""
    y = x.double().numpy()
    y = np.sort(y[(y > lo) & (y <= hi)])
    f_lo, f_hi = law.cdf(lo), law.cdf(hi)
    cdf = (law.cdf(y) - f_lo) / (f_hi - f_lo)
    n = y.size
    upto, below = np.arange(1, n + 1) / n, np.arange(n) / n
    return float(max(np.abs(upto - cdf).max(), np.abs(cdf - below).max())), n


@pytest.mark.parametrize("dtype", DTYPES)
def test_dirichlet_cached_law_and_generator(dtype):
    rows = [[0.05, 0.05, 0.05], [0.5, 1.0, 20.0], [0.01, 2.0, 150.0], [1.0, 1.0, 1.0]]
    c = torch.tensor(rows, dtype=dtype).repeat(N // 2, 1, 1)
    d = D.Dirichlet(c)
    first = d.sample(generator=torch.Generator().manual_seed(5))
    assert "gamma_rounds" in d.__dict__.get("_cache", {})
    again = d.sample(generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    x = d.rsample(generator=torch.Generator().manual_seed(6))
    assert x.shape == c.shape and x.dtype == dtype and x.is_contiguous()
    assert bool((x > 0).all())
    torch.testing.assert_close(x.sum(-1), torch.ones_like(x[..., 0]), rtol=0, atol=4e-7)
    lo = 4 * torch.finfo(dtype).tiny
    for r, row in enumerate(rows):
        total = sum(row)
        for i, conc in enumerate(row):
            law = stats.beta(conc, total - conc)
            ks, n = _ks_between(x[:, r, i], law, lo, 1 - 1e-4)
            assert ks < KS_CRIT / math.sqrt(n), (dtype, row, i, ks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wishart_cached_law(dtype):
    # every diagonal entry of Wishart(df, I) is chi^2(df); df near p - 1 (boosted gammas)
    dfs = [3.2, 9.0]
    df = torch.tensor(dfs, dtype=dtype).repeat(N // 2, 1)
    d = D.Wishart(df, scale_tril=torch.eye(3, dtype=dtype))
    first = d.sample(generator=torch.Generator().manual_seed(8))
    assert "gamma_rounds" in d.__dict__.get("_cache", {})
    again = d.sample(generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    x = d.sample(generator=torch.Generator().manual_seed(9))
    for j, v in enumerate(dfs):
        for i in range(3):
            ks = stats.kstest(x[:, j, i, i].double().numpy(), stats.chi2(v).cdf).statistic
            assert ks < KS_CRIT / math.sqrt(x.shape[0]), (dtype, v, i, ks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_cached_rounds_give_the_uncached_draws(dtype):
    # one cache entry per concentration; the draws are those of a distribution whose
    # parameters require grad (nothing cached), and follow Beta's law
    a = torch.tensor([0.03, 0.7, 1.0, 4.0, 300.0], dtype=dtype).repeat(N // 5)
    b = torch.tensor([0.5, 0.02, 1.0, 9.0, 2.0], dtype=dtype).repeat(N // 5)
    d = D.Beta(a, b)
    cached = d.sample(generator=torch.Generator().manual_seed(8))
    assert {"gamma_rounds_1", "gamma_rounds_0"} <= set(d.__dict__.get("_cache", {}))
    leaves = a.clone().requires_grad_(), b.clone().requires_grad_()
    plain = D.Beta(*leaves).rsample(generator=torch.Generator().manual_seed(8)).detach()
    torch.testing.assert_close(cached, plain, rtol=0, atol=0)
    lo = 4 * torch.finfo(dtype).tiny
    for i in range(5):
        law = stats.beta(a[i].item(), b[i].item())
        ks, n = _ks_between(cached[i::5], law, lo, 1 - 1e-4)
        assert ks < KS_CRIT / math.sqrt(n), (dtype, i, ks)
