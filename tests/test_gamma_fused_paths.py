"""The gamma draws finished block by block (``marsaglia_tsang(..., finish=)``: Gamma, Chi2,
InverseGamma, FisherSnedecor with cached rounds), the direct regime's draws from
``log d + 3 log1p(t)`` or ``d (1 + t)^3``, StudentT's rsample without a graph, and
InverseGamma's float32 entropy from Stirling's series at ``a >= 4``: against closed forms,
scipy, mpmath and the unfused formulas."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch._samplers import marsaglia_tsang as mt
from tests.test_speed_gamma_sampler import KS_CRIT, _ks_rounded

DTYPES = [torch.float32, torch.float64]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("prepared", [False, True])
def test_finish_sees_every_draw_once_blocks_pending_and_kernel(dtype, prepared):
    # 3 x the plain draws, bit for bit: the blocks, the redrawn entries and torch's kernel
    # for the last few all go through finish, each entry once
    a = torch.tensor([0.3, 1.0, 2.5, 40.0], dtype=dtype).repeat(50_000)
    p = mt.prepare_rounds(a, "value") if prepared else None
    seen = torch.zeros(a.numel(), dtype=torch.int64)

    def finish(x, index):
        seen[index] += 1
        x.mul_(3)

    plain = mt.marsaglia_tsang(a, _gen(1), prepared=p)
    tripled = mt.marsaglia_tsang(a, _gen(1), prepared=p, finish=finish)
    assert torch.equal(tripled, plain * 3)
    # every entry finished at least once; the rejected ones again when redrawn
    assert int(seen.min()) >= 1 and 0 < int((seen > 1).sum()) < a.numel() // 10


def test_finish_on_the_few_entries_and_odd_concentrations_paths():
    def finish(x, index):
        x.add_(1)

    few = torch.tensor([0.5, 2.0, 7.0])
    assert torch.equal(
        mt.marsaglia_tsang(few, _gen(2), finish=finish), mt.marsaglia_tsang(few, _gen(2)) + 1
    )
    odd = torch.tensor([1.0, float("nan")]).repeat(1000)  # torch's kernel (NaN: no rounds)
    x = mt.marsaglia_tsang(odd, _gen(3), finish=finish)
    plain = mt.marsaglia_tsang(odd, _gen(3))
    torch.testing.assert_close(x, plain + 1, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [0.05, 0.3, 1.0, 2.0, 7.5, 90.0])
def test_direct_regime_draws_follow_the_gamma_law(a, dtype):
    # d < _SERIES_FROM: boosted draws from exp(log d + 3 log1p(t) + log(U)/a), the others
    # from d (1 + t)^3 (accurate in the lower tail too, where d + d w was not)
    n = 200_000
    draws = mt.marsaglia_tsang(torch.full((n,), a, dtype=dtype), _gen(4))
    assert _ks_rounded(draws, a) < KS_CRIT / math.sqrt(n)
    # the lower tail, where v = (1 + t)^3 is small: P(G < q) against the law
    q = float(stats.gamma.ppf(1e-3, a))
    if q > 1e-30:  # (below: float32 draws are clamped to tiny)
        frac = float((draws < q).double().mean())
        assert abs(frac - 1e-3) < 5 * math.sqrt(1e-3 / n)


@pytest.mark.parametrize("family", ["Gamma", "Chi2", "InverseGamma"])
def test_fused_families_follow_their_laws_and_match_the_unfused_draws(family):
    n = 100_000
    conc = torch.tensor([0.3, 2.0, 6.0]).repeat(n)
    rate = torch.tensor([0.5, 4.0, 1.5]).repeat(n)
    if family == "Gamma":
        d, laws = (
            D.Gamma(conc, rate),
            [stats.gamma(a, scale=1 / r) for a, r in zip(conc[:3], rate[:3])],
        )
    elif family == "Chi2":
        d, laws = D.Chi2(2 * conc), [stats.chi2(float(2 * a)) for a in conc[:3]]
    else:
        d, laws = (
            D.InverseGamma(conc, rate),
            [stats.invgamma(a, scale=r) for a, r in zip(conc[:3], rate[:3])],
        )
    x = d.sample(generator=_gen(5))
    assert torch.equal(x, d.sample(generator=_gen(5)))  # the cached rounds: the same numbers
    assert torch.equal(x, d.rsample(generator=_gen(5)))
    assert float(x.min()) >= torch.finfo(x.dtype).tiny
    for i, law in enumerate(laws):
        assert stats.kstest(x[i::3].double().numpy(), law.cdf).statistic < KS_CRIT / math.sqrt(n)
    if family != "Chi2":
        # with a graph the draws are made unfused (standard_gamma, then the arithmetic)
        leaf = conc.clone().requires_grad_()
        cls = D.Gamma if family == "Gamma" else D.InverseGamma
        y = cls(leaf, rate).rsample(generator=_gen(5))
        assert torch.equal(x, y.detach())


def test_fisher_snedecor_fused_draws_are_the_unfused_ones_and_follow_the_law():
    n = 100_000
    df1 = torch.tensor([2.0, 6.0, 30.0]).repeat(n)
    df2 = torch.tensor([9.5, 20.0, 4.0]).repeat(n)
    d = D.FisherSnedecor(df1, df2)
    x = d.sample(generator=_gen(6))
    assert "df_ratio" in d._cache  # the fused path ran
    y = D.FisherSnedecor(df1.clone().requires_grad_(), df2).rsample(generator=_gen(6))
    assert torch.equal(x, y.detach())
    for i in range(3):
        law = stats.f(float(df1[i]), float(df2[i]))
        assert stats.kstest(x[i::3].double().numpy(), law.cdf).statistic < KS_CRIT / math.sqrt(n)


def test_student_t_rsample_without_a_graph_is_sample_and_the_graph_path():
    df = torch.tensor([1.2, 2.0, 30.0]).repeat(5000)
    loc, scale = torch.zeros(15000), torch.full((15000,), 2.0)
    d = D.StudentT(df, loc, scale)
    x = d.rsample((2,), generator=_gen(7))
    assert not x.requires_grad
    assert torch.equal(x, d.sample((2,), generator=_gen(7)))
    y = D.StudentT(df.clone().requires_grad_(), loc, scale).rsample((2,), generator=_gen(7))
    assert y.requires_grad and torch.equal(x, y.detach())


def test_student_t_draws_with_cached_rounds_are_the_graph_path_and_follow_the_law():
    n = 100_000
    df = torch.tensor([1.2, 2.0, 30.0]).repeat(n)
    loc, scale = torch.full((3 * n,), 1.5), torch.full((3 * n,), 2.0)
    d = D.StudentT(df, loc, scale)
    x = d.sample(generator=_gen(8))  # the draw's shape is the parameters': rounds cached
    assert "gamma_rounds" in d._cache and "log_half_df" in d._cache
    assert torch.equal(x, d.sample(generator=_gen(8)))
    y = D.StudentT(df.clone().requires_grad_(), loc, scale).rsample(generator=_gen(8))
    assert torch.equal(x, y.detach())
    for i in range(3):
        law = stats.t(float(df[i]), loc=1.5, scale=2.0)
        assert stats.kstest(x[i::3].double().numpy(), law.cdf).statistic < KS_CRIT / math.sqrt(n)


def _mp_inverse_gamma_entropy(a: float, r: float) -> float:
    a, r = mpmath.mpf(a), mpmath.mpf(r)
    return float(a + mpmath.log(r) + mpmath.loggamma(a) - (1 + a) * mpmath.digamma(a))


def test_inverse_gamma_float32_entropy_from_the_unshifted_series():
    # every a >= 4 (one block): P(1/a) - 3/2 log a + log r, within a few float32 ulps of
    # max(1, |H|) against mpmath, down to a = 4 and up to 1e8
    gen = _gen(8)
    a = torch.cat([torch.linspace(4.0, 4.5, 200), torch.logspace(0.61, 8, 400)])
    r = torch.logspace(-3, 3, a.numel())[torch.randperm(a.numel(), generator=gen)]
    h = D.InverseGamma(a, r).entropy().double()
    with mpmath.workdps(30):
        ref = torch.tensor([_mp_inverse_gamma_entropy(float(x), float(y)) for x, y in zip(a, r)])
    err = (h - ref.double()).abs() / ref.double().abs().clamp(min=1)
    assert float(err.max()) < 8 * 2.0**-24
    # a block with some a < 4 keeps the shifted form; the same values as entry by entry
    mixed = torch.tensor([0.5, 3.9, 4.0, 50.0])
    rr = torch.ones(4)
    whole = D.InverseGamma(mixed, rr).entropy()
    one_by_one = torch.cat([D.InverseGamma(mixed[i : i + 1], rr[:1]).entropy() for i in range(4)])
    expected = torch.tensor([_mp_inverse_gamma_entropy(float(v), 1.0) for v in mixed])
    for h_ in (whole, one_by_one):
        assert np.allclose(h_.double().numpy(), expected.numpy(), rtol=0, atol=1e-6)
