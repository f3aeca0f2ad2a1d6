"""The vectorised Marsaglia–Tsang gamma sampler (issue 11): exact in law, generator-driven,
with torch's implicit gradient (``aleatorch._samplers.marsaglia_tsang`` and ``.gamma``)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import special, stats

import aleatorch as D
from aleatorch._samplers import marsaglia_tsang as mt
from aleatorch._samplers.gamma import _ImplicitGamma, log_standard_gamma, standard_gamma

GRID = [1e-6, 1e-3, 0.1, 0.5, 1.0, 1 + 1e-6, 2.0, 10.0, 1e3, 1e6, 1e12]
DTYPES = [torch.float32, torch.float64]
N = 200_000
# KS critical value at level 1e-3 (asymptotic: sqrt(-log(alpha / 2) / 2) / sqrt(n))
KS_CRIT = math.sqrt(-math.log(5e-4) / 2)


def _cdf_at_log(a: float, log_x: np.ndarray) -> np.ndarray:
    """``P(G <= e^log_x)``: ``x^a / Gamma(1 + a)`` (its leading term) below ``x = 1e-200``."""
    with np.errstate(over="ignore"):
        x = np.exp(log_x)
    tiny = np.exp(np.minimum(a * log_x - special.gammaln(1 + a), 0.0))
    return np.where(log_x < -460, tiny, special.gammainc(a, x))


def _cell_cdf(a: float, values: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``F`` at the lower and upper ends of the rounding cells of ``values`` (distinct, sorted,
    positive) in ``dtype``: the law of ``Gamma(a, 1)`` rounded to that dtype, the cell of
    ``tiny`` reaching down to 0. The ends are formed in log space."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    v = values.astype(np_dtype)
    up = np.nextafter(v, np_dtype(np.inf)).astype(np.float64)
    down = np.nextafter(v, np_dtype(0)).astype(np.float64)
    v64 = v.astype(np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_hi = np.log(v64) + np.log1p((up / v64 - 1) / 2)
        log_lo = np.log(v64) + np.log1p((down / v64 - 1) / 2)
    # every draw below the smallest normal float is returned as it (torch's behaviour)
    log_lo = np.where(v64 <= float(torch.finfo(dtype).tiny), -np.inf, log_lo)
    return _cdf_at_log(a, log_lo), _cdf_at_log(a, log_hi)


def _ks_rounded(draws: torch.Tensor, a: float) -> float:
    """Kolmogorov distance between the draws and ``Gamma(a, 1)`` rounded to the draws' dtype
    (exact for atoms such as the underflow to 0 at tiny ``a``, or the coarse float32 grid at
    ``a = 1e12``)."""
    x = np.sort(draws.double().numpy())
    values, counts = np.unique(x, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]]) / x.size
    upto = np.cumsum(counts) / x.size
    f_lo, f_hi = _cell_cdf(a, values, draws.dtype)
    return float(max(np.abs(below - f_lo).max(), np.abs(upto - f_hi).max()))


def _draw(a: float, dtype, seed: int, rounds=None, n: int = N) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return mt.marsaglia_tsang(torch.full((n,), a, dtype=dtype), gen, rounds=rounds)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", GRID)
def test_eager_draws_follow_the_gamma_law(a, dtype):
    draws = _draw(a, dtype, seed=1)
    assert draws.dtype == dtype and bool((draws >= 0).all())
    assert _ks_rounded(draws, a) < KS_CRIT / math.sqrt(N)


@pytest.mark.parametrize("rounds", [0, 1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [1e-3, 0.5, 1.0, 2.0, 1e3, 1e12])
def test_fixed_rounds_then_fallback_follow_the_gamma_law(a, dtype, rounds):
    # rounds=1 sends ~1-5% of the entries to the fallback (torch._standard_gamma); 0: all
    draws = _draw(a, dtype, seed=2, rounds=rounds, n=100_000)
    assert _ks_rounded(draws, a) < KS_CRIT / math.sqrt(100_000)


def test_the_fallback_is_used_and_only_for_rejected_entries(monkeypatch):
    calls = []
    real = torch._standard_gamma

    def spy(a, generator=None):
        calls.append(int((a > 0).sum()))
        return real(a, generator=generator)

    monkeypatch.setattr(torch, "_standard_gamma", spy)
    _draw(1.0, torch.float64, seed=3, rounds=1, n=100_000)
    # one call, on the rejected entries only: 1 - P(accept) is about 4.6% at a = 1
    assert len(calls) == 1 and 2_000 < calls[0] < 8_000


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mixed_concentrations_and_series_switch(dtype):
    # entries on both sides of a < 1 (boost) and of the series switch (d = 100 or 1e6)
    switch = mt._SERIES_FROM[dtype]
    values = [0.3, 1.0, 7.0, switch * 0.999, switch * 1.001 + 1, 3 * switch]
    a = torch.tensor(values, dtype=dtype).repeat(40_000)
    for rounds in (None, 1):
        draws = mt.marsaglia_tsang(a, torch.Generator().manual_seed(4), rounds=rounds)
        for i, v in enumerate(values):
            assert _ks_rounded(draws[i :: len(values)], v) < KS_CRIT / math.sqrt(40_000)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [0.1, 1.0, 3.0, 150.0, 1e6])
def test_tail_probabilities(a, dtype):
    n = 1_000_000
    draws = _draw(a, dtype, seed=5, n=n).double().numpy()
    tiny = float(torch.finfo(dtype).tiny)
    for p in (1e-4, 1e-3):
        low, high = stats.gamma(a).ppf(p), stats.gamma(a).isf(p)
        for count in ((draws < low).sum() if low > tiny else n * p, (draws > high).sum()):
            assert abs(count - n * p) < 5 * math.sqrt(n * p), (p, low, high)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_tiny_concentrations_are_clamped_to_tiny_as_torch_does(dtype):
    # a = 1e-3: P(G < x) = x^a / Gamma(1 + a): a fixed share of the draws is below the
    # smallest normal float, returned as it (torch._standard_gamma's behaviour), never 0
    a, n = 1e-3, 200_000
    draws = standard_gamma(torch.full((n,), a, dtype=dtype), torch.Generator().manual_seed(6))
    tiny = float(torch.finfo(dtype).tiny)
    assert float(draws.min()) == tiny
    expected = float(_cdf_at_log(a, np.array([math.log(tiny)]))[0])
    share = float((draws == tiny).double().mean())
    assert abs(share - expected) < 5 * math.sqrt(expected * (1 - expected) / n)
    # and log_standard_gamma keeps the logarithm of every draw (no underflow)
    log_g = log_standard_gamma(torch.tensor(1e-6, dtype=dtype), torch.Size([n]))
    assert bool(torch.isfinite(log_g).all()) and float(log_g.min()) < math.log(tiny)


def test_bound_matches_mpmath_in_both_regimes():
    # the direct form carries about 2 sqrt(d) eps |x| of rounding (|x| <= 6); the series
    # (from d = 100 in float32, 1e6 in float64) its truncation, 3 d t^10 / 10: below 2e-7 for
    # |x| <= 4 (3.6e-6 at |x| = 6, a probability of 2e-9)
    mpmath.mp.dps = 40
    tolerances = {torch.float32: (1e-5, 2e-7), torch.float64: (1e-11, 1e-13)}
    for dtype, (atol_direct, atol_series) in tolerances.items():
        for d in (2 / 3, 1.5, 9.0, 60.0, 99.0, 101.0, 1e3, 1e5, 1e6 - 1, 1e6 + 1, 1e9, 1e14):
            series = d >= mt._SERIES_FROM[dtype]
            reach = 4 if series else 6
            x = torch.linspace(-reach, reach, 49, dtype=torch.float64)
            c = 1 / math.sqrt(9 * d)
            t = (c * x).to(dtype)
            t = t[t > -1]
            dd = torch.tensor(d, dtype=dtype)
            atol = atol_series if series else atol_direct
            for regime in ("series" if series else "direct", "mixed"):
                got = mt._bound(t.clone(), dd, regime).double()
                for ti, gi in zip(t.double().tolist(), got.tolist(), strict=True):
                    tm = mpmath.mpf(ti)
                    ref = 3 * mpmath.mpf(d) * (mpmath.log1p(tm) - tm + tm**2 / 2 - tm**3 / 3)
                    assert abs(gi - float(ref)) <= atol * max(1.0, abs(float(ref))), (d, ti)


def test_regime_switch():
    for dtype in DTYPES:
        switch = mt._SERIES_FROM[dtype] + 1 / 3
        assert mt._regime(0.5, switch * 0.99, dtype) == "direct"
        assert mt._regime(switch, 1e30, dtype) == "series"
        assert mt._regime(0.5, switch, dtype) == "mixed"


def test_bound_rejects_t_at_or_below_minus_one():
    t = torch.tensor([-1.0, -1.5, -0.5], dtype=torch.float64)
    for regime in ("direct", "series", "mixed"):
        got = mt._bound(t.clone(), torch.tensor(2.0, dtype=torch.float64), regime)
        assert not bool(got[0] > -1e300) and not bool(got[1] > -1e300)


@pytest.mark.parametrize("rounds", [None, 1])
def test_generator_determinism(rounds):
    a = torch.tensor([0.2, 1.0, 5.0, 500.0]).repeat(1000)

    def draw(seed):
        return mt.marsaglia_tsang(a, torch.Generator().manual_seed(seed), rounds=rounds)

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
    # the generator, not the global state, drives the draws
    torch.manual_seed(0)
    first = draw(7)
    torch.manual_seed(1)
    assert torch.equal(first, draw(7))


def test_distribution_sample_honours_the_generator():
    d = D.Gamma(torch.tensor([0.5, 2.0, 200.0]), torch.tensor([1.0, 3.0, 0.5]))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(d.sample((1000,), generator=g1), d.rsample((1000,), generator=g2))


def test_gradient_is_torchs_implicit_gradient_bit_for_bit():
    a = torch.tensor([1e-3, 0.05, 0.5, 1.0, 3.0, 100.0, 1e5], dtype=torch.float64)
    a = a.repeat(50).requires_grad_()
    x = torch._standard_gamma(a)
    g = torch.randn(a.shape, dtype=torch.float64)
    (torch_grad,) = torch.autograd.grad(x, a, g)
    (ours,) = torch.autograd.grad(_ImplicitGamma.apply(a, x.detach()), a, g)
    assert torch.equal(ours, torch_grad)
    # and standard_gamma's own draws get exactly grad * _standard_gamma_grad(a, x)
    y = standard_gamma(a)
    (ours,) = torch.autograd.grad(y, a, g)
    assert torch.equal(ours, g * torch._standard_gamma_grad(a.detach(), y.detach()))


def test_gradient_through_an_expanded_concentration_and_no_second_order():
    a = torch.tensor([0.7, 4.0], requires_grad=True)
    y = standard_gamma(a.expand(1000, 2))
    (grad,) = torch.autograd.grad(y.sum(), a)
    expected = torch._standard_gamma_grad(a.detach().expand(1000, 2), y.detach()).sum(0)
    torch.testing.assert_close(grad, expected)
    y = standard_gamma(a)
    (grad,) = torch.autograd.grad(y.sum(), a, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(grad.sum(), a)


def test_compiled_and_vmapped_draws_with_gradients():
    def f(c):
        return standard_gamma(c.expand(64, 3)).sum()

    c = torch.tensor([0.4, 2.0, 300.0], requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend="eager")
    compiled(c).backward()
    assert bool(torch.isfinite(c.grad).all())
    stacked = torch.tensor([[0.4, 2.0, 300.0], [0.4, 2.0, 300.0]])
    grads = torch.func.vmap(torch.func.grad(f), randomness="different")(stacked)
    assert grads.shape == (2, 3) and not torch.equal(grads[0], grads[1])


def test_odd_concentrations_behave_as_torch():
    a = torch.tensor([float("nan"), float("inf"), 0.0, 2.0])
    for rounds in (None, 1):
        out = mt.marsaglia_tsang(a, rounds=rounds)
        tiny = torch.finfo(a.dtype).tiny
        assert not out[0] < tiny  # NaN (torch: tiny)
        assert out[1] == math.inf and out[2] == tiny and out[3] > 0


def test_half_precision_and_empty():
    for dtype in (torch.float16, torch.bfloat16):
        out = standard_gamma(torch.full((1000,), 3.0, dtype=dtype))
        assert out.dtype == dtype and bool((out > 0).all())
    assert standard_gamma(torch.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("a", [1e-6, 1e-3, 0.1, 0.5, 0.9])
def test_log_standard_gamma_follows_the_log_gamma_law(a, dtype):
    n = 200_000
    gen = torch.Generator().manual_seed(11)
    log_g = log_standard_gamma(torch.tensor([a, 2.0], dtype=dtype), torch.Size([n // 2, 2]), gen)
    for column, value in ((log_g[:, 0], a), (log_g[:, 1], 2.0)):
        y = np.sort(column.double().numpy())
        ks = stats.kstest(y, lambda v, value=value: _cdf_at_log(value, v)).statistic
        assert ks < KS_CRIT / math.sqrt(y.size)


@pytest.mark.parametrize("rounds", [None, 1])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_uniform_from_the_accepted_pair_is_uniform_and_independent(dtype, rounds):
    n = 200_000
    a = torch.full((n,), 1.3, dtype=dtype)
    g, log_u = mt.marsaglia_tsang_with_uniform(a, torch.Generator().manual_seed(12), rounds)
    u = log_u.exp().double().numpy()
    assert stats.kstest(u, "uniform").statistic < KS_CRIT / math.sqrt(n)
    # independence: the draws below and above the median of u follow the same gamma law
    low = u < 0.5
    for part in (g[torch.from_numpy(low)], g[torch.from_numpy(~low)]):
        assert _ks_rounded(part, 1.3) < KS_CRIT / math.sqrt(part.numel())


def test_vmap_over_the_rate_only_gives_batched_draws():
    # the concentration is a plain tensor inside vmap: its draws must still differ per member
    def f(rate):
        return D.Gamma(torch.tensor([2.0, 0.5]), rate, validate_args=False).rsample((3,))

    rates = torch.ones(2, 2)
    draws = torch.func.vmap(f, randomness="different")(rates)
    assert draws.shape == (2, 3, 2) and not torch.equal(draws[0], draws[1])

    def g(shift):
        return log_standard_gamma(torch.tensor([2.0, 0.5]), torch.Size([3, 2])) + shift

    draws = torch.func.vmap(g, randomness="different")(torch.zeros(2, 3, 2))
    assert not torch.equal(draws[0], draws[1])
