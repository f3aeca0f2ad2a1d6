"""VonMises: the sampler (exactness, small and huge concentrations, torch.compile), and the
circular moments that the generic suite's linear moment check cannot see."""

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from scipy import special, stats

import aleatorch as D

F64 = torch.float64


def circular_moments(x, loc):
    """Sample mean resultant length along ``loc`` and its standard error, and the sample mean
    of ``sin(x - loc)`` with its standard error (0 for a symmetric law)."""
    c, s = torch.cos(x - loc), torch.sin(x - loc)
    n = x.shape[0]
    return c.mean(0), c.std(0) / n**0.5, s.mean(0), s.std(0) / n**0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_circular_mean_and_variance_match_the_draws(dtype):
    loc = torch.tensor([0.5, -2.0, 3.0, 7.0, 1.0, 0.0], dtype=dtype)
    kappa = torch.tensor([1e-6, 1e-4, 0.5, 3.0, 80.0, 1e4], dtype=dtype)
    d = D.VonMises(loc, kappa)
    x = d.sample((200_000,), generator=torch.Generator().manual_seed(3)).double()
    assert x.dtype == F64 and (x >= -math.pi).all() and (x < math.pi).all()
    c, c_se, s, s_se = circular_moments(x, d.mean.double())
    resultant = 1 - d.variance.double()  # E cos(X - loc) = I_1 / I_0
    assert ((c - resultant).abs() <= 6 * c_se + 1e-7).all(), (c, resultant)
    assert (s.abs() <= 6 * s_se + 1e-7).all(), s


@pytest.mark.parametrize("kappa", [1e-3, 0.7, 4.0, 60.0])
def test_draws_follow_the_distribution(kappa):
    loc = 2.5
    x = D.VonMises(loc, kappa).sample((100_000,), generator=torch.Generator().manual_seed(8))
    wrapped = np.mod(x.double().numpy() - loc + np.pi, 2 * np.pi) - np.pi + loc
    assert stats.kstest(wrapped, stats.vonmises(kappa, loc=loc).cdf).pvalue > 1e-6


def test_draws_match_trigonometric_moments_and_a_uniform_probability_transform():
    """Smooth tests of fit, sharp enough to see a bias of 0.05 in Best and Fisher's exact
    acceptance test (``log(c / u) + 1 - c >= 0.05``, or ``-0.05``; tried: the largest |z|
    is then ~9 at concentrations 0.7 to 4, where the KS test above passes with 100k draws).
    The statistics: ``E cos(j (X - loc)) = I_j(k) / I_0(k)`` and ``E sin(j (X - loc)) = 0``
    for j = 1..4, and the first four Legendre components of ``2 cdf(X) - 1`` (0, with
    variance ``1 / (2j + 1)``: the exact cdf makes ``cdf(X)`` uniform), each as a z-score."""
    kappa = torch.tensor([0.3, 0.7, 1.5, 4.0, 10.0, 100.0], dtype=F64)
    loc = torch.tensor([2.5, -3.0, 0.0, 1.0, -1.5, 3.1], dtype=F64)
    d = D.VonMises(loc, kappa)
    n = 400_000
    x = d.sample((n,), generator=torch.Generator().manual_seed(11))
    z = []
    for j in range(1, 5):
        ratio = torch.from_numpy(special.ive(j, kappa.numpy()) / special.ive(0, kappa.numpy()))
        for moment, expected in [(torch.cos(j * (x - loc)), ratio), (torch.sin(j * (x - loc)), 0)]:
            z.append((moment.mean(0) - expected) / (moment.std(0) / n**0.5))
    u = 2 * d.cdf(x) - 1
    legendre = [u, (3 * u**2 - 1) / 2, (5 * u**3 - 3 * u) / 2, (35 * u**4 - 30 * u**2 + 3) / 8]
    for j, p in enumerate(legendre, start=1):
        z.append(p.mean(0) * (n * (2 * j + 1)) ** 0.5)
    z = torch.stack(z)  # 12 statistics x 6 concentrations: |z| > 5.5 has chance ~3e-6
    assert z.abs().max() < 5.5, z


def test_sampling_compiles_into_one_graph():
    d = D.VonMises(torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 4.0, 200.0]))
    compiled = torch.compile(lambda: d.sample((1000,)), fullgraph=True, backend="eager")
    x = torch.cat([compiled() for _ in range(20)]).double()
    assert x.shape == (20_000, 3)
    c, c_se, s, s_se = circular_moments(x, d.loc.double())
    resultant = 1 - d.variance.double()
    assert ((c - resultant).abs() <= 6 * c_se).all(), (c, resultant)
    assert (s.abs() <= 6 * s_se).all(), s


def test_log_prob_is_accurate_for_huge_concentrations_in_float32():
    # k cos(d) - log I_0(k) cancels two terms of size k; we never form them.
    kappa, x = 2000.0, torch.tensor([0.0, 0.01, 0.03], dtype=torch.float32)
    ours = D.VonMises(0.0, kappa).log_prob(x).double().numpy()
    expected = stats.vonmises(kappa).logpdf(x.double().numpy())
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=2e-6)
    assert np.isfinite(D.VonMises(0.0, 1e6).log_prob(torch.tensor(0.0)).item())


def test_entropy_and_variance_at_extremes():
    # 50-digit values of 1 - I_1(k)/I_0(k) and of the entropy (mpmath): 1 - i1e/i0e in
    # float64 (scipy's and torch's form) loses ~2 k eps relative, 1e-8 at k = 1e8.
    kappa = torch.tensor([1e-8, 1e3, 1e8], dtype=F64)
    d = D.VonMises(torch.zeros(3, dtype=F64), kappa)
    mp.mp.dps = 50
    variance = [float(1 - mp.besseli(1, k) / mp.besseli(0, k)) for k in kappa.tolist()]
    entropy = [
        float(mp.log(2 * mp.pi * mp.besseli(0, k)) - k * mp.besseli(1, k) / mp.besseli(0, k))
        for k in map(mp.mpf, kappa.tolist())
    ]
    np.testing.assert_allclose(d.variance.numpy(), variance, rtol=1e-13)
    np.testing.assert_allclose(d.entropy().numpy(), entropy, rtol=1e-13)
    f32 = D.VonMises(torch.zeros(3), kappa.float())
    np.testing.assert_allclose(f32.variance.double().numpy(), variance, rtol=1e-6)
    np.testing.assert_allclose(f32.entropy().double().numpy(), entropy, rtol=1e-6)


@pytest.mark.parametrize("batched", ["loc", "concentration"])
def test_vmap_over_one_parameter_draws_the_law(batched):
    # The other parameter unbatched: a readable concentration must not send a batched loc
    # down the in-place path, and the rounds' loop must end under vmap.
    torch.manual_seed(11)
    locs = torch.tensor([2.5, -1.0, 0.3])
    kappas = torch.tensor([0.7, 4.0, 60.0])
    n = 20_000
    if batched == "loc":
        kappa = torch.tensor(4.0)

        def draw(loc):
            return D.VonMises(loc, kappa, validate_args=False).sample((n,))

        x = torch.func.vmap(draw, randomness="different")(locs)
        laws = [(loc, 4.0) for loc in locs.tolist()]
    else:
        loc = torch.tensor(2.5)

        def draw(kappa):
            return D.VonMises(loc, kappa, validate_args=False).sample((n,))

        x = torch.func.vmap(draw, randomness="different")(kappas)
        laws = [(2.5, k) for k in kappas.tolist()]
    assert x.shape == (3, n)
    for row, (mu, kappa) in zip(x.double().numpy(), laws, strict=True):
        assert (row >= -math.pi).all() and (row < math.pi).all()
        wrapped = np.mod(row - mu + np.pi, 2 * np.pi) - np.pi + mu
        assert stats.kstest(wrapped, stats.vonmises(kappa, loc=mu).cdf).pvalue > 1e-6
