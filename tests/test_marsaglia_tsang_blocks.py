"""The eager Marsaglia–Tsang rounds' cheaper passes: the fused acceptance bound against its
float64 value, the reused block buffers against fresh temporaries (bit for bit, the same
generator), the boost's terms against their closed forms, Dirichlet's blocked
normalization against a float64 softmax, Beta's blocked shares against the ratio of
the gammas, and the boosted value draws' exp floor against the plain exp."""

from __future__ import annotations

import math

import pytest
import torch

from aleatorch._samplers import marsaglia_tsang as mt
from aleatorch._samplers.draws import low_words
from aleatorch._samplers.gamma import (
    _SIMPLEX_BLOCK,
    simplex_from_logs_,
    simplex_from_major_logs_,
)
from aleatorch.distributions.beta import _SHARES_BLOCK, _shares_from_logs_


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("d", [2 / 3, 1.0, 5.0, 40.0, 99.0])
def test_fused_bound_is_within_the_direct_regimes_rounding(d):
    # 3 d R(t) from the fused passes against float64: within 5e-6, the rounding the direct
    # regime is allowed below _SERIES_FROM (see its comment)
    x = torch.randn(400_000, generator=_gen(1), dtype=torch.float64)
    t = (x / (3 * math.sqrt(d))).float()
    r = mt._direct_from_log1p(t, torch.log1p(t))
    td = t.double()
    exact = torch.log1p(td) - td + td.square() / 2 - td.pow(3) / 3
    finite = td > -1
    err = (3 * d * (r.double() - exact))[finite].abs().max()
    assert float(err) < 5e-6
    assert bool(torch.isnan(r[~finite]).all() | torch.isneginf(r[~finite]).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", ["value", "log", "uniform"])
@pytest.mark.parametrize("boost", [False, True])
def test_reused_block_buffers_give_the_fresh_temporaries_numbers(dtype, mode, boost):
    boost = boost and mode != "uniform"
    low = 0.3 if boost else 1.0  # (unboosted rounds take a >= 1)
    a = torch.tensor([low, 1.0, 2.5, 7.0, 60.0], dtype=dtype).repeat(3001)
    d, inv = mt._setup(a, boost, False)
    m = a.numel()
    scratch = mt._Scratch.of(m + 17, dtype)  # (larger than the block, as for the last one)
    results = []
    for s in (None, scratch):
        out, log_u = torch.empty(m, dtype=dtype), torch.empty(m, dtype=dtype)
        accepted = mt._eager_round(
            out, d, "direct", _gen(2), inv, mode, log_u, d.rsqrt(), d.log(), scratch=s
        )
        results.append((out, log_u, accepted))
    for fresh, reused in zip(*results, strict=True):  # (NaN where t < -1: rejected)
        torch.testing.assert_close(reused, fresh, rtol=0, atol=0, equal_nan=True)
    assert 0.9 < float(results[0][2].float().mean()) < 1


def test_low_words_into_a_buffer_are_the_fresh_words():
    for m in (1, 2, 7, 4096):
        buffer = torch.zeros((m + 9) // 2, dtype=torch.int64)
        fresh = low_words(m, _gen(3))
        into = low_words(m, _gen(3), buffer)
        assert into.shape == (m,) and torch.equal(fresh, into)
        assert int(into.min()) >= 0 and int(into.max()) < 2**24


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_boost_terms_match_their_closed_forms(dtype):
    a = torch.tensor([1e-30, 0.05, 0.5, 1 - 2**-20, 1.0, 1.5, 30.0], dtype=dtype)
    d, inv = mt._setup(a, True, True)
    below = a < 1
    assert torch.equal(d, torch.where(below, a + 1, a) - 1 / 3)
    expected = torch.where(below, 1 / a, 0).clamp(max=torch.finfo(dtype).max)
    assert torch.equal(inv, expected)
    d, inv = mt._setup(a, False, False)
    assert inv is None and torch.equal(d, a - 1 / 3)


@pytest.mark.parametrize("k", [2, 3, 8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_blocked_simplex_from_major_logs_is_a_softmax(k, dtype):
    # several blocks and a short last one; batch dims kept, categories moved last
    rows = 2 * (_SIMPLEX_BLOCK // k) + 5
    logs = (torch.randn(k, rows, 1, generator=_gen(4), dtype=torch.float64) * 3).to(dtype)
    x = simplex_from_major_logs_(logs.clone())
    assert x.shape == (rows, 1, k) and x.dtype == dtype
    exact = torch.softmax(logs.double(), 0).movedim(0, -1)
    # (the rounding of l - max, |l - max| < 40, scaled by exp)
    finfo = torch.finfo(dtype)
    torch.testing.assert_close(x.double(), exact, rtol=32 * finfo.eps, atol=finfo.tiny)


def test_simplex_from_major_logs_on_one_row():
    logs = torch.tensor([0.0, math.log(3.0)])
    torch.testing.assert_close(simplex_from_major_logs_(logs), torch.tensor([0.25, 0.75]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_simplex_draws_are_clamped_to_tiny_in_their_blocks(dtype):
    # a category whose log is far below the others': its share underflows, kept at tiny
    # (0 has infinite log-density) by the blocks themselves; the rest a float64 softmax
    rows = 2 * _SIMPLEX_BLOCK + 3
    logs = torch.randn(3, rows, generator=_gen(5), dtype=torch.float64).to(dtype)
    logs[1, ::2] = -1e4
    tiny = torch.finfo(dtype).tiny
    for x in (simplex_from_major_logs_(logs.clone()), simplex_from_logs_(logs.t().clone())):
        assert float(x.min()) == tiny
        assert torch.equal(x[::2, 1], torch.full_like(x[::2, 1], tiny))
        exact = torch.softmax(logs.double(), 0).t()
        torch.testing.assert_close(
            x.double(),
            exact.clamp(min=tiny),
            rtol=32 * torch.finfo(dtype).eps,
            atol=0,
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_beta_shares_in_blocks_are_the_ratio_of_the_gammas(dtype):
    # G1 / (G1 + G2) from the logs, block by block, against the whole-tensor formula (the
    # same numbers) and against the ratio in float64 (logs wide enough to reach both edges)
    n = 2 * _SHARES_BLOCK + 7
    log_x = (torch.randn(n, generator=_gen(6), dtype=torch.float64) * 40).to(dtype)
    log_y = (torch.randn(n, generator=_gen(7), dtype=torch.float64) * 40).to(dtype)
    finfo = torch.finfo(dtype)
    whole = torch.sigmoid(log_x - log_y).clamp(finfo.tiny, 1 - finfo.eps / 2)
    blocked = _shares_from_logs_(log_x.clone(), log_y)
    assert torch.equal(blocked, whole)
    # (G1 / (G1 + G2) in float64 from the difference of the logs as rounded to the dtype)
    z = (log_x - log_y).double()
    g1, g2 = z.clamp(max=0).exp(), (-z).clamp(max=0).exp()
    expected = (g1 / (g1 + g2)).clamp(finfo.tiny, 1 - finfo.eps / 2)
    torch.testing.assert_close(blocked.double(), expected, rtol=4 * finfo.eps, atol=0)
    # a strided log_y (the whole-tensor form) gives the same numbers
    wide = torch.stack([log_y, log_y], 1)[:, 0]
    assert torch.equal(_shares_from_logs_(log_x.clone(), wide), whole)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_boosted_value_draws_below_tiny_are_the_same_with_the_exp_floor(dtype, monkeypatch):
    # the exponents of draws below tiny sent to -inf before exp (tiny concentrations): the
    # draws are bit for bit those of the plain exp, and many sit at the tiny clamp
    low = 0.02 if dtype == torch.float32 else 0.003
    a = torch.tensor([low, 2 * low, 0.5, 3.0, 12.0], dtype=dtype).repeat(40_001)
    assert mt._exp_floor(low, 12.0, dtype) is not None
    floored = mt.marsaglia_tsang(a, _gen(11))
    monkeypatch.setattr(mt, "_SUBNORMAL_CHANCE", 2.0)  # (the floor never pays)
    assert mt._exp_floor(low, 12.0, dtype) is None
    plain = mt.marsaglia_tsang(a, _gen(11))
    assert torch.equal(floored, plain)
    tiny = torch.finfo(dtype).tiny
    assert 100 < int((plain == tiny).sum()) < a.numel() // 10
    # draws just above tiny stay exact: those between tiny and tiny * 4 (near the floor)
    assert int(((plain > tiny) & (plain < 4 * tiny)).sum()) > 20


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_simplex_shares_near_tiny_are_those_of_the_plain_exp(dtype):
    # shifted logs around log(tiny), where the exp is replaced by 0 (its share below tiny):
    # the draws are bit for bit those of the plain exp, sum and product
    rows = _SIMPLEX_BLOCK + 5
    g = _gen(8)
    log_tiny = math.log(torch.finfo(dtype).tiny)
    logs = torch.zeros(3, rows, dtype=dtype)
    logs[1] = (torch.rand(rows, generator=g, dtype=torch.float64) * 4 - 2 + log_tiny).to(dtype)
    logs[2] = (torch.rand(rows, generator=g, dtype=torch.float64) * 60 - 30).to(dtype)
    e = (logs - logs.amax(0)).exp()
    plain = (e * (1 / (e[0] + e[1] + e[2]))).clamp(min=torch.finfo(dtype).tiny).t()
    assert torch.equal(simplex_from_major_logs_(logs.clone()), plain)
    assert torch.equal(simplex_from_logs_(logs.t().clone()), plain)
