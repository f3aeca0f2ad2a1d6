"""The law-table samplers of Poisson, Binomial and NegativeBinomial (few distinct laws, many
draws: ``aleatorch._samplers.counts.LawTables``): exact in law, the same draws as inversion
of the same float64 uniforms, honouring ``generator=``.

Chi-square tests against scipy with fixed seeds (bins between quantiles, tails pooled), and a
draw-by-draw comparison with inversion by scipy's cdf of the same uniforms (which also checks
the tail cells that are searched exactly).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from count_chi_square import chi_square_p
from scipy import stats

import aleatorch as D
from aleatorch._samplers import counts

DRAWS = 100_000  # per law


def _check_laws(dist, laws, dtype, seed):
    """Draws of ``dist`` (batch ``(L,)``) by its law tables: chi-square per law."""
    assert dist._law_tables() is not None  # the table path
    x = dist.sample((DRAWS,), generator=torch.Generator().manual_seed(seed))
    assert x.dtype == dtype
    x = x.double().numpy()
    for j, law in enumerate(laws):
        assert chi_square_p(x[:, j], law, bins=100) > 1e-4, (j, law.args)


RATES = [0.0, 1e-3, 0.01, 0.4999, 0.5, 1.0, 7.0, 11.99, 12.0, 25.0, 40.0, 500.0, 1000.0, 1e5]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_poisson_law_tables_chi_square(dtype):
    rate = torch.tensor(RATES, dtype=dtype)
    _check_laws(D.Poisson(rate), [stats.poisson(r) for r in RATES], dtype, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binomial_law_tables_chi_square(dtype):
    n = [0.0, 1.0, 7.0, 20.0, 20.0, 20.0, 40.0, 1000.0, 1e6, 20.0, 1e4]
    p = [0.3, 0.5, 0.05, 0.0, 1.0, 0.99, 0.6, 1e-3, 0.5, 0.1, 1 - 1e-4]
    d = D.Binomial(torch.tensor(n, dtype=dtype), torch.tensor(p, dtype=dtype))
    laws = [stats.binom(int(a), float(torch.tensor(b, dtype=dtype))) for a, b in zip(n, p)]
    _check_laws(d, laws, dtype, 2)


def test_binomial_law_tables_from_logits():
    logits = [-30.0, -4.0, 0.0, 2.5, 30.0]
    d = D.Binomial(50, logits=torch.tensor(logits, dtype=torch.float64))
    _check_laws(d, [stats.binom(50, 1 / (1 + np.exp(-t))) for t in logits], torch.float64, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_negative_binomial_law_tables_chi_square(dtype):
    r = [0.0, 0.5, 1.0, 2.5, 10.0, 40.0, 1.0, 3.0]
    p = [0.3, 0.0, 0.3, 0.5, 0.8, 0.1, 0.99, 0.9]
    d = D.NegativeBinomial(torch.tensor(r, dtype=dtype), torch.tensor(p, dtype=dtype))
    laws = [
        stats.nbinom(a, 1 - float(torch.tensor(b, dtype=dtype))) if a > 0 else stats.poisson(0)
        for a, b in zip(r, p)
    ]
    _check_laws(d, laws, dtype, 4)


def test_law_tables_generator_and_shapes():
    rate = torch.tensor([[1.0, 30.0, 200.0]]).expand(3000, 3).contiguous()
    d = D.Poisson(rate)
    assert d._law_tables()[0].lo.numel() == 3 * d._law_tables()[0].cells  # three laws
    a = d.sample((2,), generator=torch.Generator().manual_seed(9))
    b = d.sample((2,), generator=torch.Generator().manual_seed(9))
    assert a.shape == (2, 3000, 3) and torch.equal(a, b)
    c = d.sample((2,), generator=torch.Generator().manual_seed(10))
    assert not torch.equal(a, c)
    # every column has its own law
    rates = torch.tensor([1.0, 30.0, 200.0], dtype=torch.float64)
    assert ((a.double().mean((0, 1)) - rates).abs() < 5 * (rates / 6000).sqrt()).all()


def test_reduced_laws():
    x = torch.tensor([1.0, 2.0, 3.0]).expand(4, 3).contiguous()
    (r,) = counts.reduced_laws([x], x.shape, 2)
    assert r.shape == (1, 3)
    y = torch.arange(12.0).view(4, 3)
    assert counts.reduced_laws([y], y.shape, 2)[0].shape == (4, 3)
    big = torch.arange(200.0)
    assert counts.reduced_laws([big], big.shape, 1) is None  # too many laws
    n, p = torch.tensor(5.0), torch.tensor([[0.1], [0.2]]).expand(2, 7)
    assert [t.shape for t in counts.reduced_laws([n, p], (2, 7), 2)] == [(2, 1), (2, 1)]


def test_law_tables_decline():
    """NaN parameters (validation off) and grids missing mass fall back (None)."""
    d = D.Poisson(torch.tensor([1.0, float("nan")]), validate_args=False)
    assert d._law_tables() is None
    log_pmf = torch.zeros(1, 4, dtype=torch.float64)  # uniform on 4 points, open upper end
    assert (
        counts.LawTables.build(log_pmf, torch.ones(1, dtype=torch.float64), torch.float32) is None
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_multinomial_law_tables_chi_square(dtype):
    """Every outcome's frequency against scipy's multinomial pmf (outcomes expected fewer
    than 20 times pooled), two laws, a zero-probability category included."""
    probs = torch.tensor([[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]], dtype=dtype)
    d = D.Multinomial(12, probs=probs)
    assert d._law_tables() is not None
    x = d.sample((DRAWS,), generator=torch.Generator().manual_seed(6))
    assert x.dtype == dtype and x.shape == (DRAWS, 2, 4)
    assert (x.sum(-1) == 12).all()
    for row in range(2):
        p = probs[row].double().numpy()
        law = stats.multinomial(12, p / p.sum())
        outcomes, observed = np.unique(x[:, row].numpy(), axis=0, return_counts=True)
        pmf = law.pmf(outcomes)
        assert (pmf > 0).all()  # no draw where the law has no mass
        every = counts_outcomes(12, 4)
        expected_all = law.pmf(every) * DRAWS
        big = expected_all >= 20
        lookup = {tuple(o): c for o, c in zip(outcomes.tolist(), observed.tolist())}
        obs_big = np.array([lookup.get(tuple(o), 0) for o in every[big].tolist()], float)
        obs = np.concatenate([obs_big, [DRAWS - obs_big.sum()]])
        exp = np.concatenate([expected_all[big], [DRAWS - expected_all[big].sum()]])
        keep = exp > 0
        assert stats.chisquare(obs[keep], exp[keep] * obs.sum() / exp[keep].sum()).pvalue > 1e-4


def counts_outcomes(n: int, k: int) -> np.ndarray:
    """Every ``x`` in ``{0..n}^k`` with sum ``n``."""
    if k == 1:
        return np.array([[n]])
    return np.concatenate(
        [
            np.column_stack([np.full(len(r), a), r])
            for a in range(n + 1)
            for r in [counts_outcomes(n - a, k - 1)]
        ]
    )


def test_multinomial_law_tables_reproducible_and_shapes():
    probs = torch.tensor([0.2, 0.3, 0.5])
    d = D.Multinomial(5, probs=probs)
    a = d.sample((4, 5000), generator=torch.Generator().manual_seed(7))
    b = d.sample((4, 5000), generator=torch.Generator().manual_seed(7))
    assert a.shape == (4, 5000, 3) and torch.equal(a, b)
    mean = a.double().mean((0, 1))
    assert ((mean - 5 * probs.double()).abs() < 0.03).all()
