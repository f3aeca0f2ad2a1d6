"""The count samplers (aleatorch._samplers.counts and the torch kernels around them): exact in
law across both methods and their switch points, float32 and float64, honouring
``generator=``.

Chi-square tests of the pmf against scipy with fixed seeds (bins of at least ~50 expected
draws, the tails pooled), and mean/variance z-scores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from count_chi_square import chi_square_p
from scipy import stats

import aleatorch as D
from aleatorch._samplers import counts

DRAWS = 200_000


def _moments_z(
    draws: np.ndarray, mean: float, variance: float, excess_kurtosis: float | None = None
) -> tuple[float, float]:
    n = len(draws)
    if variance == 0:
        return float(np.abs(draws - mean).max()), 0.0
    z_mean = (draws.mean() - mean) / np.sqrt(variance / n)
    centred = draws - mean
    # var of (x - mu)^2 is mu4 - var^2; mu4 from the law's kurtosis where given, else estimated
    # from the draws (which may hold a single value: all zeros at a Poisson rate of 1e-6)
    if excess_kurtosis is None:
        fourth = (centred**4).mean()
    else:
        fourth = (excess_kurtosis + 3) * variance**2
    z_var = ((centred**2).mean() - variance) / np.sqrt(max(fourth - variance**2, 1e-300) / n)
    return float(z_mean), float(z_var)


class _ContinuityCorrected:
    """A continuous law as a law on the integers: ``P(X <= k) = F(k + 1/2)``."""

    def __init__(self, law):
        self.law = law

    def ppf(self, q):
        return np.floor(self.law.ppf(q))

    def cdf(self, k):
        return self.law.cdf(np.asarray(k) + 0.5)


POISSON_RATES = [1e-6, 0.1, 0.4999, 0.5, 1.0, 5.0, 9.99, 10.0, 10.01, 11.99, 12.0, 30.0, 1e3]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rate", POISSON_RATES)
def test_poisson_pmf_chi_square(rate, dtype):
    generator = torch.Generator().manual_seed(1234)
    d = D.Poisson(torch.full((DRAWS,), rate, dtype=dtype))
    x = d.sample(generator=generator)
    assert x.dtype == dtype
    draws = x.double().numpy()
    assert np.all(draws == np.floor(draws)) and draws.min() >= 0
    law = stats.poisson(float(torch.tensor(rate, dtype=dtype)))
    assert chi_square_p(draws, law) > 1e-4
    z_mean, z_var = _moments_z(draws, law.mean(), law.var(), float(law.stats(moments="k")))
    assert abs(z_mean) < 5 and abs(z_var) < 5


@pytest.mark.parametrize("rate", [1e6, 1e12])
def test_poisson_large_rates(rate):
    generator = torch.Generator().manual_seed(99)
    draws = D.Poisson(torch.full((DRAWS,), rate, dtype=torch.float64)).sample(generator=generator)
    draws = draws.numpy()
    law = stats.poisson(rate)
    if rate > 1e9:  # scipy's Poisson cdf rounds there: the normal limit (skewness 1e-6)
        law = _ContinuityCorrected(stats.norm(rate, np.sqrt(rate)))
    assert chi_square_p(draws, law) > 1e-4
    z_mean, z_var = _moments_z(draws, rate, rate)
    assert abs(z_mean) < 5 and abs(z_var) < 5


def test_poisson_mixed_rates_in_the_inversion_range():
    """Per-entry rates (one sample of a batch), every column against its own law."""
    rates = torch.tensor([0.5, 0.75, 1.0, 2.5, 6.0, 9.0, 11.5, 11.99], dtype=torch.float64)
    generator = torch.Generator().manual_seed(5)
    x = D.Poisson(rates).sample((DRAWS // 4,), generator=generator).numpy()
    for j, rate in enumerate(rates.tolist()):
        assert chi_square_p(x[:, j], stats.poisson(rate)) > 1e-4


BINOMIAL_CASES = [
    (20, 0.05),  # n q = 1: inversion
    (8, 0.5),
    (20, 0.25),
    (20, 0.5),  # n q = 10: the inversion's upper end
    (21, 0.5),  # 10.5: torch's kernel
    (100, 0.9),  # flipped, n q = 10
    (10, 0.95),  # flipped, n q = 0.5: torch's kernel
    (12, 0.99999),
    (2e7, 1e-7),  # p near 0
    (1e9, 5e-9),  # huge n, n q = 5
    (1e9, 0.5),  # huge n: torch's kernel
    (1e9, 1 - 5e-9),  # p near 1, flipped
    (0, 0.3),
    (15, 0.0),
    (15, 1.0),
]


# float32 counts only up to 2**24: above it not every count is representable.
BINOMIAL_DTYPE_CASES = [
    (n, p, dtype)
    for dtype in (torch.float64, torch.float32)
    for n, p in BINOMIAL_CASES
    if dtype == torch.float64 or n <= 2**24
]


@pytest.mark.parametrize(("n", "p", "dtype"), BINOMIAL_DTYPE_CASES)
def test_binomial_pmf_chi_square(n, p, dtype):
    generator = torch.Generator().manual_seed(4321)
    count = torch.full((DRAWS,), float(n), dtype=dtype)
    probs = torch.full((DRAWS,), p, dtype=dtype)
    x = D.Binomial(count, probs).sample(generator=generator)
    assert x.dtype == dtype
    draws = x.double().numpy()
    assert np.all(draws == np.floor(draws)) and draws.min() >= 0 and draws.max() <= n
    law = stats.binom(n, float(probs[0]))
    assert chi_square_p(draws, law) > 1e-4
    z_mean, z_var = _moments_z(draws, law.mean(), law.var())
    assert abs(z_mean) < 5 and abs(z_var) < 5


@pytest.mark.parametrize("logit", [-3.0, -0.2, 0.0, 1.5, 4.0])
def test_binomial_from_logits(logit):
    """From logits, ``q = sigmoid(-|l|)`` (no rounded ``1 - p``); n q in the inversion range
    for every logit here but the last."""
    n = 30.0 if abs(logit) < 3.5 else 400.0
    generator = torch.Generator().manual_seed(77)
    logits = torch.full((DRAWS,), logit, dtype=torch.float64)
    x = D.Binomial(torch.full((DRAWS,), n, dtype=torch.float64), logits=logits)
    draws = x.sample(generator=generator).numpy()
    law = stats.binom(n, 1 / (1 + np.exp(-logit)))
    assert chi_square_p(draws, law) > 1e-4


def test_binomial_mixed_parameters_in_the_inversion_range():
    n = torch.tensor([2.0, 5.0, 10.0, 20.0, 40.0, 40.0], dtype=torch.float64)
    p = torch.tensor([0.5, 0.9, 0.3, 0.5, 0.1, 0.8], dtype=torch.float64)
    generator = torch.Generator().manual_seed(8)
    x = D.Binomial(n, p).sample((DRAWS // 4,), generator=generator).numpy()
    for j in range(len(n)):
        assert chi_square_p(x[:, j], stats.binom(int(n[j]), float(p[j]))) > 1e-4


def test_inversion_range_gates_the_methods():
    """Inside the ranges sampling is the vectorised inversion, outside torch's kernels: the
    same generator state gives exactly their numbers."""

    def same(dist, reference, shape=(1000,)):
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        assert torch.equal(dist.sample(shape, generator=g1), reference(g2))

    rate = torch.tensor([0.5, 3.0, 11.0], dtype=torch.float64)
    wide = rate.expand(1000, 3).reshape(-1)
    same(D.Poisson(rate), lambda g: counts.poisson_inversion(wide, g).view(1000, 3))
    rate = torch.tensor([0.5, 3.0, 12.0], dtype=torch.float64)  # 12: torch's kernel
    same(D.Poisson(rate), lambda g: torch.poisson(rate.expand(1000, 3), generator=g))
    rate = torch.tensor([0.4, 3.0], dtype=torch.float64)
    same(D.Poisson(rate), lambda g: torch.poisson(rate.expand(1000, 2), generator=g))

    n, p = torch.tensor([20.0, 20.0]), torch.tensor([0.05, 0.5])
    flat_n, flat_p = n.expand(1000, 2).reshape(-1), p.expand(1000, 2).reshape(-1)
    same(D.Binomial(n, p), lambda g: counts.binomial_inversion(flat_n, flat_p, g).view(1000, 2))
    p = torch.tensor([0.04, 0.5])  # n q = 0.8: torch's kernel
    same(
        D.Binomial(n, p),
        lambda g: torch.binomial(n.expand(1000, 2), p.expand(1000, 2), generator=g),
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: D.Poisson(torch.tensor([0.7, 4.0, 11.0])),
        lambda: D.Binomial(torch.tensor([10.0, 30.0]), torch.tensor([0.3, 0.8])),
        lambda: D.Binomial(torch.tensor([10.0, 30.0]), logits=torch.tensor([-0.5, 1.0])),
    ],
)
def test_generator_determinism(make):
    d = make()
    a = d.sample((5000,), generator=torch.Generator().manual_seed(11))
    b = d.sample((5000,), generator=torch.Generator().manual_seed(11))
    c = d.sample((5000,), generator=torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    e = d.sample((5000,))
    torch.manual_seed(0)
    assert torch.equal(e, d.sample((5000,)))


def test_blocks_and_shapes(monkeypatch):
    """Several blocks (a small BLOCK), sample shapes and float32 parameters."""
    monkeypatch.setattr(counts, "BLOCK", 1000)
    generator = torch.Generator().manual_seed(21)
    d = D.Poisson(torch.tensor([[2.0], [9.0]]))
    x = d.sample((30_000,), generator=generator)
    assert x.shape == (30_000, 2, 1) and x.dtype == torch.float32
    for j, rate in enumerate((2.0, 9.0)):
        assert chi_square_p(x[:, j, 0].double().numpy(), stats.poisson(rate)) > 1e-4
    b = D.Binomial(torch.tensor(12.0), torch.tensor(0.6)).sample((30_000,), generator=generator)
    assert chi_square_p(b.double().numpy(), stats.binom(12, 0.6)) > 1e-4


def test_search_reaches_the_upper_end():
    """u above the cdf's float64 sum (rounding) stops at n for the binomial."""
    n = torch.tensor([3.0, 5.0], dtype=torch.float64)
    q = torch.tensor([0.5, 0.3], dtype=torch.float64)
    u = torch.tensor([1.0, 1.0], dtype=torch.float64)  # beyond every cdf value
    first = torch.log1p(-q).mul_(n).exp_()
    draws = counts._search(u, first, [n.clone(), q / (1 - q)], counts._binomial_advance)
    assert torch.equal(torch.minimum(draws, n), n)


def test_vmap_with_different_randomness():
    """Under vmap sampling keeps torch's kernels (no host reads): shapes and rough means."""
    rates = torch.tensor([0.7, 3.0, 11.0, 40.0])
    draw = torch.func.vmap(
        lambda r: D.Poisson(r, validate_args=False).sample((4000,)), randomness="different"
    )
    x = draw(rates)
    assert x.shape == (4, 4000)
    assert torch.allclose(x.mean(1), rates, rtol=0.1)
    assert not torch.equal(x[0], draw(rates)[0])
    n, p = torch.tensor([10.0, 30.0, 5.0]), torch.tensor([0.3, 0.8, 0.5])
    draw = torch.func.vmap(
        lambda n, p: D.Binomial(n, p, validate_args=False).sample((4000,)),
        randomness="different",
    )
    assert torch.allclose(draw(n, p).mean(1), n * p, rtol=0.1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("rate", [0.3, 0.5, 1.0, 7.5, 12.0, 30.0, 499.0, 500.0, 501.0])
def test_poisson_single_rate_by_table(rate, dtype):
    """One rate, many draws: the cdf table with its guide (rates 0.5 to 500)."""
    generator = torch.Generator().manual_seed(31)
    x = D.Poisson(torch.tensor(rate, dtype=dtype)).sample((DRAWS,), generator=generator)
    assert x.dtype == dtype and x.shape == (DRAWS,)
    draws = x.double().numpy()
    law = stats.poisson(float(torch.tensor(rate, dtype=dtype)))
    assert chi_square_p(draws, law) > 1e-4
    z_mean, z_var = _moments_z(draws, law.mean(), law.var())
    assert abs(z_mean) < 5 and abs(z_var) < 5


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("n", "p"),
    [(1, 0.5), (20, 0.5), (100, 0.9), (1000, 0.3), (10, 0.05), (3, 0.01), (5e4, 0.99), (2e7, 1e-6)],
)
def test_binomial_single_law_by_table(n, p, dtype):
    generator = torch.Generator().manual_seed(32)
    d = D.Binomial(torch.tensor(float(n), dtype=dtype), torch.tensor(p, dtype=dtype))
    x = d.sample((DRAWS,), generator=generator)
    assert x.dtype == dtype and x.shape == (DRAWS,)
    draws = x.double().numpy()
    assert draws.min() >= 0 and draws.max() <= n
    law = stats.binom(n, float(torch.tensor(p, dtype=dtype)))
    assert chi_square_p(draws, law) > 1e-4
    z_mean, z_var = _moments_z(draws, law.mean(), law.var())
    assert abs(z_mean) < 5 and abs(z_var) < 5


@pytest.mark.parametrize("logit", [-4.0, 0.0, 2.5])
def test_binomial_single_law_by_table_from_logits(logit):
    generator = torch.Generator().manual_seed(33)
    d = D.Binomial(torch.tensor(40.0, dtype=torch.float64), logits=torch.tensor(logit))
    draws = d.sample((DRAWS,), generator=generator).numpy()
    assert chi_square_p(draws, stats.binom(40, 1 / (1 + np.exp(-logit)))) > 1e-4


def test_table_gating_and_generator():
    """Below the law tables' size a rate outside the inversion range gives torch.poisson's
    numbers; draws are reproducible."""
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    x = D.Poisson(torch.tensor(600.0)).sample((10_000,), generator=g1)
    assert torch.equal(x, torch.poisson(torch.full((10_000,), 600.0), generator=g2))
    d = D.Binomial(torch.tensor(30.0), torch.tensor(0.7))
    a = d.sample((10_000,), generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, d.sample((10_000,), generator=torch.Generator().manual_seed(9)))
