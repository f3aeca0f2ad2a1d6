"""Exactness of the issue-11 sampler paths of VonMises, the relaxed categoricals and the
MultivariateNormal mixture: uniforms drawn as random words (torch.rand's grid and law, the
generator honoured, reproducible), the exp form of the Best-Fisher test, draws strictly in
[-pi, pi), the relaxed samples without the row shift (Gumbel-max labels, logistic score
differences), and the rows the mixture picks."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch._samplers.draws import uniforms
from aleatorch.distributions import von_mises
from aleatorch.wrappers.mixture_same_family import _picked_normal


def _word_uniforms(shape, g):  # VonMises's and the relaxed categoricals' uniforms
    u, spare = uniforms(shape, torch.float32, torch.device("cpu"), g)
    assert spare is None or spare.shape == u.shape
    return u


def test_word_uniforms_grid_law_and_generator():
    """``k 2^-24`` with ``k`` uniform on ``[0, 2^24)``: chi-square of the top and bottom
    byte of ``k`` (256 cells each) and KS at 1e6 draws; an odd count; the same numbers from
    the same seed, others from another, and the global RNG untouched."""
    g = torch.Generator().manual_seed(5)
    state = torch.get_rng_state()
    u = _word_uniforms((1_000_001,), g)
    assert torch.equal(torch.get_rng_state(), state)
    assert u.dtype == torch.float32 and u.shape == (1_000_001,)
    k = u.double() * 2**24
    assert torch.equal(k, k.floor()) and float(k.min()) >= 0 and float(k.max()) < 2**24
    k = k.long()
    for byte in (k >> 16, k & 255):
        counts = torch.bincount(byte, minlength=256).double()
        stat = float(((counts - counts.mean()) ** 2 / counts.mean()).sum())
        assert stats.chi2.sf(stat, 255) > 1e-4, stat
    assert stats.kstest(u.double().numpy(), "uniform").pvalue > 1e-4
    again = _word_uniforms((1_000_001,), torch.Generator().manual_seed(5))
    assert torch.equal(u, again)
    other = _word_uniforms((1_000_001,), torch.Generator().manual_seed(6))
    assert not torch.equal(u, other)
    assert _word_uniforms((2, 3, 0), g).shape == (2, 3, 0)


def test_uniforms_of_other_dtypes_are_torch_rand():
    cpu = torch.device("cpu")
    for dtype, shape in ((torch.float64, (4, 5)), (torch.float32, (4, 5))):  # (few: rand)
        u, spare = uniforms(shape, dtype, cpu, torch.Generator().manual_seed(1))
        assert spare is None
        want = torch.rand(shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
        assert torch.equal(u, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_best_fisher_exp_test_is_the_log_test(dtype):
    """``u1 <= c e^(1 - c)`` (both samplers) decides as ``log(c / u1) >= c - 1`` except
    where the two sides agree to a few eps, for every concentration."""
    g = torch.Generator().manual_seed(2)
    kappa = torch.tensor([1e-6, 0.3, 3.0, 30.0, 1e3, 9e5], dtype=dtype).repeat_interleave(50_000)
    q, a, b = von_mises._envelope(kappa)
    u = torch.rand((2, kappa.numel()), dtype=dtype, generator=g)
    y, rejected = von_mises._propose_in_place(q, a, b, u.clone())
    y_traced, accepted = von_mises._propose(q, a, b, u.clone())
    assert torch.equal(y, y_traced) and torch.equal(rejected, ~accepted)
    y_spare, rejected_spare = von_mises._propose_in_place(q, a, b, u.clone(), torch.empty_like(u))
    assert torch.equal(y, y_spare) and torch.equal(rejected, rejected_spare)
    # the float64 reference on the same candidates
    y64 = y.double()
    c = a.double() + b.double() * (y64 * y64 / (1 + y64 * y64))
    bound = c * torch.exp(1 - c)
    margin = 16 * torch.finfo(dtype).eps * (1 + c) * bound
    sure = (bound - u[1].double()).abs() > margin
    assert torch.equal(rejected[sure], (torch.log(c / u[1].double()) < c - 1)[sure])
    assert float(sure.double().mean()) > 0.999
    # acceptance rate of each concentration: Best-Fisher's, at least ~65%
    rate = 1 - rejected.double().reshape(6, -1).mean(1)
    assert bool((rate > 0.64).all()), rate


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_von_mises_draws_lie_in_the_half_open_circle(dtype):
    """Near-uniform laws centred next to the cut put mass on the float at pi: never drawn
    (float32(pi) > pi), on the tensor path and the Python-float path (few draws)."""
    loc = torch.tensor([3.14159, -3.14159, math.pi, 0.0], dtype=dtype)
    kappa = torch.tensor([1e-6, 0.5, 1e-3, 1e-8], dtype=dtype)
    d = D.VonMises(loc, kappa)
    x = d.sample((400_000,), generator=torch.Generator().manual_seed(0)).double()
    assert bool((x >= -math.pi).all()) and bool((x < math.pi).all())
    edge = von_mises._PI_BELOW[dtype]
    assert float(x.max()) <= edge and float(x.min()) >= -edge
    small = torch.cat([d.sample((8,)) for _ in range(200)]).double()
    assert bool((small >= -math.pi).all()) and bool((small < math.pi).all())
    # a point mass at the float nearest pi (kappa = inf: the normal limit), both paths
    point = D.VonMises(torch.tensor([math.pi, -math.pi], dtype=dtype), math.inf)
    for shape in ((3,), (1000,)):
        x = point.sample(shape).double()
        assert bool((x >= -math.pi).all()) and bool((x < math.pi).all()), shape


def _ks_von_mises(x: torch.Tensor, kappa: float) -> float:
    return stats.kstest(x.double().numpy(), stats.vonmises(kappa).cdf).pvalue


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_von_mises_word_path_ks_across_concentrations(dtype):
    """KS at 2e5 draws per concentration in one batch (the rounds after the first pick
    their parameters by index), through the rejection and the normal-limit switch."""
    kappas = [1e-3, 0.3, 3.0, 30.0, 700.0, 0.9e6, 2e6]
    d = D.VonMises(torch.zeros(len(kappas), dtype=dtype), torch.tensor(kappas, dtype=dtype))
    x = d.sample((200_000,), generator=torch.Generator().manual_seed(9))
    for j, kappa in enumerate(kappas):
        assert _ks_von_mises(x[:, j], kappa) > 1e-4, kappa


def _relaxed(cls, tau, logits):
    return cls(torch.tensor(tau, dtype=logits.dtype), logits=logits)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.5, 8.0])
def test_relaxed_gumbel_max_labels_and_logistic_differences(tau, dtype):
    """Both families, with and without the row shift (the shift is left out above
    ``tau ~ 0.23`` in float32, ``~0.48`` in float64): the largest coordinate is a
    Categorical(probs) label (chi-square), and ``tau (y_i - y_j) - (l_i - l_j)`` is a
    standard logistic difference of two Gumbels (KS) for ``y`` the log of the sample."""
    logits = torch.tensor([0.3, -1.2, 1.0, 0.0], dtype=dtype)
    probs = logits.double().softmax(-1)
    n = 250_000
    rows = logits.expand(n // 50, 4).contiguous()  # large enough for the written-out path
    for cls in (D.ExpRelaxedCategorical, D.RelaxedOneHotCategorical):
        x = _relaxed(cls, tau, rows).sample((50,), generator=torch.Generator().manual_seed(4))
        x = x.reshape(-1, 4)
        assert x.dtype == dtype and bool(x.isfinite().all())
        y = x.double() if cls is D.ExpRelaxedCategorical else x.double().log()
        assert float((y.logsumexp(-1)).abs().max()) < 1e3 * torch.finfo(dtype).eps * (1 + 20 / tau)
        counts = torch.bincount(y.argmax(-1), minlength=4).double()
        stat = float(((counts - n * probs) ** 2 / (n * probs)).sum())
        assert stats.chi2.sf(stat, 3) > 1e-4, (cls, stat)
        if cls is D.RelaxedOneHotCategorical and tau < 1:
            continue  # coordinates clamped at the smallest normal float
        for i, j in ((0, 1), (2, 3)):
            diff = tau * (y[:, i] - y[:, j]) - float(logits[i] - logits[j])
            assert stats.kstest(diff.numpy(), "logistic").pvalue > 1e-4, (cls, i, j)


def test_relaxed_samples_reproducible_and_generator_honoured():
    logits = torch.randn(3000, 4, generator=torch.Generator().manual_seed(0))
    for cls in (D.ExpRelaxedCategorical, D.RelaxedOneHotCategorical):
        d = _relaxed(cls, 0.7, logits)
        state = torch.get_rng_state()
        x = d.sample((2,), generator=torch.Generator().manual_seed(1))
        assert torch.equal(torch.get_rng_state(), state)
        assert torch.equal(x, d.rsample((2,), generator=torch.Generator().manual_seed(1)))
        assert not torch.equal(x, d.sample((2,), generator=torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("shared", [True, False])
def test_mixture_picks_the_rows_of_the_labels(shared):
    """The picked MultivariateNormal's mean and factor are those of each draw's label, for
    a batch of several dims, a sample shape, and a factor shared or per component."""
    g = torch.Generator().manual_seed(0)
    batch, k, dim = (3, 2), 4, 2
    loc = torch.randn(*batch, k, dim, generator=g)
    tril = torch.tensor([[1.0, 0.0], [0.3, 0.8]])
    if not shared:
        tril = tril + 0.1 * torch.rand(*batch, k, dim, dim, generator=g).tril()
    comp = D.MultivariateNormal(loc, scale_tril=tril)
    index = torch.randint(0, k, (5, *batch), generator=g)
    picked = _picked_normal(comp, index)
    expected_loc = (
        loc.expand(5, *loc.shape)
        .gather(-2, index[..., None, None].expand(5, *batch, 1, dim))
        .squeeze(-2)
    )
    assert torch.equal(picked.loc, expected_loc)
    full = comp._unbroadcasted_scale_tril.expand(5, *batch, k, dim, dim)
    at = index[..., None, None, None].expand(5, *batch, 1, dim, dim)
    # (a shared factor is used as is, not gathered: compare the broadcast factors)
    assert torch.equal(picked.scale_tril, full.gather(-3, at).squeeze(-3))


def test_mixture_of_multivariate_normals_projection_ks():
    """``v . x`` of a mixture of 2-D normals is a mixture of normals: KS at 1e5 draws for
    each of a batch of 3 mixtures."""
    loc = torch.tensor(
        [[[0.0, 1.0], [-1.5, 0.5]], [[2.0, -1.0], [0.5, 0.5]], [[3.0, 3.0], [-3.0, 0.0]]]
    )
    tril = torch.tensor([[1.1, 0.0], [0.4, 0.7]])
    weights = torch.tensor([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]])
    mix = D.MixtureSameFamily(
        D.Categorical(probs=weights), D.MultivariateNormal(loc, scale_tril=tril)
    )
    x = mix.sample((100_000,), generator=torch.Generator().manual_seed(8)).double()
    v = torch.tensor([0.6, -0.8], dtype=torch.float64)
    proj = x @ v
    sd = float((tril.double().T @ v).norm())
    for b in range(3):
        means = (loc[b].double() @ v).tolist()
        w = weights[b].double().tolist()

        def cdf(t, means=means, w=w):
            return sum(wk * stats.norm.cdf(t, loc=m, scale=sd) for wk, m in zip(w, means))

        assert stats.kstest(proj[:, b].numpy(), cdf).pvalue > 1e-4, b
