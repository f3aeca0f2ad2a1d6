"""VonMises cdf, survival function and icdf: accuracy against 30-digit mpmath quadrature and
scipy, the convention (the cdf of the draws on [-pi, pi), continued by one unit per turn),
both sides of the switch from the Bessel series to the asymptotic expansion, and gradients
where the asymptotic expansion changes sides (x = loc) and at the ends of the window."""

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D

F64 = torch.float64
KAPPAS = [1e-3, 0.1, 1.0, 5.0, 20.0, 24.999, 25.0, 60.0, 300.0, 1e4]


def centered_cdf(t, kappa):
    """P(T <= t) for T ~ VonMises(0, kappa) on [-pi, pi], by 30-digit quadrature of the density
    over the shorter tail, split towards the mode."""
    mp.mp.dps = 30
    k, t = mp.mpf(kappa), mp.mpf(t)

    def density(s):
        return mp.exp(-2 * k * mp.sin(s / 2) ** 2)

    norm = 2 * mp.pi * mp.besseli(0, k) * mp.exp(-k)
    lo, hi, sign = (-mp.pi, t, 1) if t <= 0 else (t, mp.pi, -1)
    mode_side = hi if t <= 0 else lo
    cuts = [mode_side - sign * mp.mpf(10) ** -e for e in range(0, 6)]
    points = sorted({lo, hi, *[c for c in cuts if lo < c < hi]})
    tail = mp.quad(density, points) / norm
    return float(tail) if t <= 0 else float(1 - tail)


def grid(kappa):
    sd = min(1 / math.sqrt(kappa), 1.0)
    t = np.concatenate([np.linspace(-6 * sd, 6 * sd, 9), [-3.0, -1.0, 1.0, 3.0]])
    return np.unique(np.clip(t, -math.pi, math.pi))


@pytest.mark.parametrize("kappa", KAPPAS)
def test_cdf_matches_mpmath_in_float64(kappa):
    t = grid(kappa)
    expected = np.array([centered_cdf(v, kappa) for v in t])
    d = D.VonMises(torch.tensor(0.0, dtype=F64), torch.tensor(kappa, dtype=F64))
    x = torch.from_numpy(t)
    cdf, sf = d.cdf(x).numpy(), d.survival_function(x).numpy()
    # ~2e-16 absolute measured everywhere; relative to the smaller tail (where it is above
    # 1e-3) ~1e-13 (measured 2.6e-13 at most)
    np.testing.assert_allclose(cdf, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(sf, 1 - expected, rtol=0, atol=1e-15)
    small = np.minimum(expected, 1 - expected)
    ours = np.where(expected < 0.5, cdf, sf)
    keep = small > 1e-3
    np.testing.assert_allclose(ours[keep], small[keep], rtol=1e-12)


@pytest.mark.parametrize("kappa", [100.0, 1e3, 1e4])
def test_lower_tail_keeps_relative_accuracy_for_large_concentrations(kappa):
    # The asymptotic expansion sums positive terms: F ~ 1e-15 to 1e-30 to 1e-13 relative.
    t = np.array([-4.0, -8.0, -10.0]) / math.sqrt(kappa)
    expected = np.array([centered_cdf(v, kappa) for v in t])
    d = D.VonMises(torch.tensor(0.0, dtype=F64), torch.tensor(kappa, dtype=F64))
    np.testing.assert_allclose(d.cdf(torch.from_numpy(t)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        d.survival_function(torch.from_numpy(-t)).numpy(), expected, rtol=1e-12
    )


def test_cdf_is_scipys_shifted_to_start_at_minus_pi():
    # scipy anchors its cdf at loc - pi (and is a normal approximation from kappa = 50 on);
    # ours is the cdf of the draws, anchored at -pi: the difference is scipy's cdf at -pi.
    loc = np.array([0.0, 2.5, -3.0, 7.0, -4.0, 0.4])
    kappa = np.array([0.3, 2.0, 8.0, 0.9, 24.0, 40.0])
    x = np.linspace(-9.0, 9.0, 41)[:, None]
    expected = stats.vonmises.cdf(x, kappa, loc=loc) - stats.vonmises.cdf(-np.pi, kappa, loc=loc)
    d = D.VonMises(torch.from_numpy(loc), torch.from_numpy(kappa))
    np.testing.assert_allclose(d.cdf(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=1e-12)


def test_cdf_is_the_distribution_of_the_draws():
    d = D.VonMises(
        torch.tensor([3.0, -2.0, 0.5], dtype=F64), torch.tensor([0.5, 3.0, 40.0], dtype=F64)
    )
    ends = torch.tensor([-math.pi, math.pi], dtype=F64)[:, None]
    torch.testing.assert_close(
        d.cdf(ends), torch.tensor([[0.0], [1.0]], dtype=F64).expand(2, 3), atol=1e-15, rtol=0
    )
    x = torch.linspace(-10, 10, 31, dtype=F64)[:, None]
    torch.testing.assert_close(d.cdf(x + 2 * math.pi), d.cdf(x) + 1, atol=1e-14, rtol=0)
    torch.testing.assert_close(d.survival_function(x), 1 - d.cdf(x), atol=1e-14, rtol=0)
    draws = d.sample((3000,), generator=torch.Generator().manual_seed(4))
    u = d.cdf(draws)
    for j in range(3):
        assert stats.kstest(u[:, j].numpy(), "uniform").pvalue > 1e-4
    q = torch.rand(3000, 3, dtype=F64, generator=torch.Generator().manual_seed(5))
    x = d.icdf(q)
    assert ((x >= -math.pi) & (x <= math.pi)).all()
    for j in range(3):  # icdf(U) is distributed as the draws
        assert stats.ks_2samp(x[:, j].numpy(), draws[:, j].numpy()).pvalue > 1e-4


def test_switch_between_series_and_asymptotic_is_seamless():
    x = torch.linspace(-math.pi, math.pi, 101, dtype=F64)
    switch = torch.tensor(25.0, dtype=F64)
    below = D.VonMises(torch.tensor(0.3, dtype=F64), torch.nextafter(switch, torch.zeros(())))
    above = D.VonMises(torch.tensor(0.3, dtype=F64), switch)
    torch.testing.assert_close(below.cdf(x), above.cdf(x), atol=1e-15, rtol=0)


@pytest.mark.parametrize("kappa", [1e-3, 0.1, 1.0, 5.0, 20.0, 60.0, 300.0, 1e4])
def test_float32_cdf_is_the_float64_one_rounded(kappa):
    loc, x = torch.tensor(0.7), torch.linspace(-math.pi, math.pi, 201)
    ours = D.VonMises(loc, torch.tensor(kappa)).cdf(x).double()
    exact = D.VonMises(loc.double(), torch.tensor(kappa).double()).cdf(x.double())
    assert ((ours - exact).abs() <= 6e-8).all()  # half an ulp of 1 is 6e-8


@pytest.mark.parametrize("kappa", [0.5, 24.0, 25.0, 80.0, 1e4])
def test_gradients_at_the_mode_and_the_window_ends(kappa):
    # x = loc is where the asymptotic expansion switches between its lower and upper halves;
    # -pi and pi are the ends of the window.
    loc = torch.tensor(0.4, dtype=F64)
    kappa_t = torch.tensor(kappa, dtype=F64)
    x = torch.stack(
        [loc, loc - 1e-3, loc + 2 / math.sqrt(kappa), torch.tensor(-math.pi + 1e-9, dtype=F64)]
    )

    def cdf(x, loc, kappa):
        return D.VonMises(loc, kappa).cdf(x)

    assert torch.autograd.gradcheck(
        cdf,
        (
            x.clone().requires_grad_(),
            loc.clone().requires_grad_(),
            kappa_t.clone().requires_grad_(),
        ),
        eps=1e-7 * max(1.0, kappa**0.5) / max(1.0, kappa**0.5),
        atol=1e-7,
        rtol=1e-5,
    )
    xg = x.clone().requires_grad_()
    d = D.VonMises(loc, kappa_t)
    (grad,) = torch.autograd.grad(d.cdf(xg).sum(), xg)
    torch.testing.assert_close(grad, d.log_prob(x).exp(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kappa", [1e-3, 2.0, 30.0, 1e4])
def test_icdf_is_exact_and_differentiable(kappa):
    loc = torch.tensor([-2.0, 0.0, 3.0, 9.0], dtype=F64, requires_grad=True)
    k = torch.full((4,), kappa, dtype=F64, requires_grad=True)
    q = torch.tensor(
        [[1e-9], [0.001], [0.3], [0.5], [0.77], [1 - 1e-9]], dtype=F64, requires_grad=True
    )
    d = D.VonMises(loc, k)
    x = d.icdf(q)
    assert ((x >= -math.pi) & (x <= math.pi)).all()
    cdf = d.cdf(x.detach())
    # the smallest float with cdf(x) >= q, to the cdf's accuracy (absolute: it is anchored at
    # -pi, not at the start of the lower tail of loc, whose value it subtracts)
    torch.testing.assert_close(cdf, q.detach().expand_as(cdf), atol=4e-15, rtol=1e-12)
    gq, gloc = torch.autograd.grad(x.sum(), [q, loc])
    density = d.log_prob(x.detach()).exp()
    # dx/dq = 1/f(x); dx/dloc = 1 - f(-pi)/f(x) (the anchor at -pi moves with loc)
    torch.testing.assert_close(gq, (1 / density).sum(1, keepdim=True), rtol=1e-10, atol=0)
    at_start = d.log_prob(torch.tensor(-math.pi, dtype=F64)).exp()
    torch.testing.assert_close(gloc, (1 - at_start / density).sum(0), rtol=1e-9, atol=1e-12)
    # d/dkappa by central differences, away from q = 1e-9 and 1 - 1e-9 (where the cdf's
    # absolute accuracy over the tiny density makes the differences noisy)
    bulk = q[1:-1].detach()
    (gk,) = torch.autograd.grad(d.icdf(bulk).sum(), k)
    h = 1e-6 * max(kappa, 1.0)
    with torch.no_grad():
        up = D.VonMises(loc, k + h).icdf(bulk)
        down = D.VonMises(loc, k - h).icdf(bulk)
    torch.testing.assert_close(gk, ((up - down) / (2 * h)).sum(0), rtol=1e-5, atol=1e-8)
