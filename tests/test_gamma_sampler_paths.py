"""The CPU-eager Marsaglia–Tsang rounds in their log form (``log_marsaglia_tsang``: the
draws' logs straight from the rounds, boost included), the uniforms made from ``random_``
words, and the Python-float path for a few draws: exact in law, generator-driven."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from aleatorch._samplers import marsaglia_tsang as mt
from aleatorch._samplers.gamma import log_standard_gamma
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
    import aleatorch as D

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
