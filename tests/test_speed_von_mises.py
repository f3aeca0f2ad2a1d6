"""VonMises sampling (issue 11): the CPU-eager sampler (compacted rejection rounds, in the
parameters' precision) stays exact in distribution at every concentration, across the switch
to the normal limit, with a batch, a sample shape, a location, and a generator."""

from __future__ import annotations

import math

import pytest
import torch

import aleatorch as D
from aleatorch.distributions.von_mises import _NORMAL_LIMIT, _envelope

N = 1_000_000
GRID = torch.linspace(-math.pi, math.pi, 4001, dtype=torch.float64)


def _ks(draws: torch.Tensor, kappa: float) -> float:
    """``sqrt(n) max |F_n - F|`` over a fine grid of the circle (F: our float64 cdf of
    VonMises(0, kappa), checked against quadrature elsewhere)."""
    x = draws.detach().double().reshape(-1).sort().values
    n = x.numel()
    empirical = torch.searchsorted(x, GRID, right=True).double() / n
    d = D.VonMises(torch.zeros((), dtype=torch.float64), float(kappa), validate_args=False)
    exact = d.cdf(GRID)
    return math.sqrt(n) * float((empirical - exact).abs().max())


KAPPAS = [1e-8, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e5, 0.99 * _NORMAL_LIMIT, _NORMAL_LIMIT, 1.5e6]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kappa", KAPPAS)
def test_draws_follow_the_cdf(kappa, dtype):
    """KS at 1e6 draws (``sqrt(n) D <= 2.7``: exceeded by chance with probability ~1e-6);
    float32 rounding in the acceptance test would show at small kappa first."""
    g = torch.Generator().manual_seed(11)
    d = D.VonMises(torch.zeros((), dtype=dtype), torch.tensor(kappa, dtype=dtype))
    x = d.sample((N,), generator=g)
    assert x.dtype == dtype
    assert bool(((x >= -math.pi) & (x <= math.pi)).all())
    assert _ks(x, kappa) <= 2.7


def test_batch_sample_shape_and_loc():
    """Mixed concentrations in one batch (the still-rejected entries of each round are
    matched to their parameters, ``i mod n`` with a sample shape), shifted locations."""
    kappas = [0.05, 2.0, 40.0, 3e4]
    loc = torch.tensor([2.5, -7.0, 0.0, 3.1])
    d = D.VonMises(loc, torch.tensor(kappas))
    x = d.sample((250_000,), generator=torch.Generator().manual_seed(3))
    assert x.shape == (250_000, 4)
    assert bool(((x >= -math.pi) & (x <= math.pi)).all())
    centred = torch.remainder(x.double() - loc.double() + math.pi, 2 * math.pi) - math.pi
    for j, kappa in enumerate(kappas):
        assert _ks(centred[:, j], kappa) <= 2.7, kappa


def test_zero_huge_and_invalid_concentrations():
    """Validation off: kappa = 0 is the uniform law, above the normal limit a normal, and a
    NaN or negative kappa gives NaN, beside ordinary entries."""
    kappa = torch.tensor([0.0, 4e6, math.nan, -1.0, 3.0, math.inf])
    d = D.VonMises(torch.zeros(6), kappa, validate_args=False)
    x = d.sample((200_000,), generator=torch.Generator().manual_seed(8))
    assert x[:, 2:4].isnan().all()
    assert not x[:, [0, 1, 4, 5]].isnan().any()
    assert (x[:, 5] == 0).all()
    assert _ks(x[:, 0], 0.0) <= 2.7
    assert _ks(x[:, 1], 4e6) <= 2.7
    assert _ks(x[:, 4], 3.0) <= 2.7


def test_generator_is_honoured():
    d = D.VonMises(torch.tensor([0.0, 1.0]), torch.tensor([0.5, 20.0]))
    a = d.sample((1000,), generator=torch.Generator().manual_seed(4))
    torch.manual_seed(0)
    b = d.sample((1000,), generator=torch.Generator().manual_seed(4))
    c = d.sample((1000,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_envelope_matches_best_fisher():
    """``q``, ``a``, ``b`` against Best and Fisher's ``rho``, ``r`` in float64 and mpmath-free
    closed forms: ``q = (1 - rho) / (1 + rho)``, ``a = kappa (r - 1)``, ``b = 2 kappa``."""
    kappa = torch.tensor([1e-6, 1e-3, 0.3, 1.0, 7.0, 300.0, 1e5], dtype=torch.float64)
    q, a, b = _envelope(kappa)
    tau = 1 + torch.sqrt(1 + 4 * kappa**2)
    rho = (tau - torch.sqrt(2 * tau)) / (2 * kappa)  # fine in float64 away from tiny kappa
    r = (1 + rho**2) / (2 * rho)
    mid = slice(2, None)
    torch.testing.assert_close(q[mid], ((1 - rho) / (1 + rho))[mid], rtol=1e-9, atol=0)
    torch.testing.assert_close(a[mid], (kappa * (r - 1))[mid], rtol=1e-9, atol=0)
    torch.testing.assert_close(b, 2 * kappa)
    # small kappa: rho ~ kappa / 2, so q ~ 1 - kappa and a ~ 1 - kappa
    torch.testing.assert_close(q[:2], 1 - kappa[:2], rtol=1e-5, atol=0)
    torch.testing.assert_close(a[:2], 1 - kappa[:2], rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_traced_path_follows_the_cdf(monkeypatch, dtype):
    """The compile / vmap / accelerator path (fixed full-size rounds, no host reads), forced
    on CPU: the same law, huge and invalid concentrations included."""
    from aleatorch.distributions import von_mises

    monkeypatch.setattr(von_mises, "_readable", lambda tensors: False)
    kappas = [1e-3, 1.0, 30.0, 0.99 * _NORMAL_LIMIT, 4e6, math.nan]
    d = D.VonMises(torch.zeros(6, dtype=dtype), torch.tensor(kappas, dtype=dtype), False)
    x = d.sample((200_000,), generator=torch.Generator().manual_seed(9))
    assert x[:, 5].isnan().all()
    for j, kappa in enumerate(kappas[:5]):
        assert _ks(x[:, j], kappa) <= 2.7, kappa
