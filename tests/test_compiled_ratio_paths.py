"""The CPU-eager fast paths written for issue 11's ratio to torch.compile: each against the
general path it replaces (bit for bit where the steps are the same) and against mpmath."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch.distributions import log_normal
from aleatorch.special import bessel_i0

EPS32 = torch.finfo(torch.float32).eps


def _scaled_variance(x: float) -> float:
    if x == 0:
        return 0.0
    with mp.workdps(30 + max(0, int(math.log10(x + 1)))):
        v = mp.mpf(x)
        return float(v * (1 - mp.besseli(1, v) / mp.besseli(0, v)))


@pytest.mark.parametrize("grad", [False, True], ids=["in place", "graph"])
def test_scaled_variance_fraction_matches_mpmath(grad):
    g = torch.Generator().manual_seed(11)
    xs = torch.cat(
        [
            torch.rand(600, generator=g, dtype=torch.float64) * 8,
            torch.logspace(-20, 38, 60, dtype=torch.float64),
            torch.tensor([0.0, 6 * (1 - 1e-6), 6.0, 6 * (1 + 1e-6)], dtype=torch.float64),
        ]
    ).float()
    want = torch.tensor([_scaled_variance(v) for v in xs.double().tolist()], dtype=torch.float64)
    x = xs.repeat(-(-3 * bessel_i0._WIDE_BLOCK // xs.numel()))  # several float64 blocks
    if grad:
        x.requires_grad_()
    got = bessel_i0.scaled_variance_fraction(x)
    assert torch.isfinite(got).all()
    got = got.detach().double().view(-1, xs.numel())
    assert (got == got[:1]).all()  # every block alike
    # within 1.5 float32 ulps of x V (as circular_variance with scaled)
    ulps = (got[0] - want).abs() / (EPS32 * want.abs().clamp(min=1e-30))
    assert ulps[want > 0].max() < 1.5
    assert got[0][want == 0].eq(0).all()


def test_von_mises_float32_entropy_gradient_is_finite():
    kappa = torch.cat([torch.logspace(-6, 30, 50), torch.linspace(1e-3, 12, 50)])
    kappa = kappa.repeat(100).requires_grad_()
    D.VonMises(torch.zeros_like(kappa), kappa).entropy().sum().backward()
    assert torch.isfinite(kappa.grad).all()


def _blocks_off(module, monkeypatch):
    monkeypatch.setattr(module, "_BLOCK", 10**12)


@pytest.mark.parametrize(
    ("loc_shape", "scale_shape"),
    [((3000, 100), (3000, 100)), ((3000, 1), (100,)), ((), (3000, 100))],
    ids=["full", "row and column", "scalar loc"],
)
def test_log_normal_first_blocked_log_prob_forms_no_cache_and_agrees(loc_shape, scale_shape):
    """The first blocked log_prob of a distribution forms its float64 terms block by block
    and keeps nothing; the second forms them whole and keeps them; the numbers are the same
    bit for bit, and the same as with a graph (the whole-tensor formula)."""
    g = torch.Generator().manual_seed(9)
    loc = torch.randn(loc_shape, generator=g) * 2
    scale = torch.rand(scale_shape, generator=g) + 1e-3
    x = D.LogNormal(loc, scale).sample(generator=g).expand(3000, 100).contiguous()
    assert x.numel() >= 2 * log_normal._BLOCK
    d = D.LogNormal(loc, scale, validate_args=False)
    first = d.log_prob(x)
    assert d._cached_if_formed("float64_standardizer") is None
    second = d.log_prob(x)
    assert d._cached_if_formed("float64_standardizer") is not None
    assert torch.equal(first, second) and torch.equal(first, d.log_prob(x))
    with_graph = D.LogNormal(loc.clone().requires_grad_(), scale, validate_args=False)
    assert torch.equal(first, with_graph.log_prob(x).detach())


def test_cached_if_formed_sees_only_valid_entries():
    d = D.Gamma(torch.rand(5000) + 1, torch.ones(5000))
    assert d._cached_if_formed("textbook") is None  # nothing formed yet
    d.log_prob(torch.ones(5000))
    held = d._cached_if_formed("textbook")
    assert held is not None and held == d._cached("textbook", lambda: None)
    with torch.no_grad():
        d.concentration.add_(1.0)  # an in-place update: the entry is stale
    assert d._cached_if_formed("textbook") is None


@pytest.mark.parametrize("loc_shape", [(300000,), (1,), ()], ids=["full", "one", "scalar"])
def test_log_normal_float32_log_prob_blocks_match_the_whole_tensor_path(loc_shape, monkeypatch):
    g = torch.Generator().manual_seed(4)
    loc = torch.randn(loc_shape, generator=g) * 2
    scale = torch.rand(loc_shape, generator=g) + 1e-3
    x = D.LogNormal(loc, scale).sample((300000,) if loc_shape != (300000,) else ())
    x = x.reshape(300000)
    d = D.LogNormal(loc, scale, validate_args=False)
    blocked = d.log_prob(x)
    _blocks_off(log_normal, monkeypatch)
    assert torch.equal(blocked, d.log_prob(x))
    lx = x.double().log()
    z = (lx - loc.double()) / scale.double()
    want = -0.5 * z * z - scale.double().log() - 0.5 * math.log(2 * math.pi) - lx
    err = (blocked.double() - want).abs() / want.abs().clamp(min=1)
    assert err.max() < 16 * EPS32  # float32 rounding of the inputs' terms
