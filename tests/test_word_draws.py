"""Bernoulli draws from 32-bit words (``aleatorch._samplers.counts.words_below``): ``[s < p
2^32]`` for a random word ``s``, where every ``p 2^32`` is an integer; the top word (chance
``2^-32``) forced in to check the ``p = 1`` fix-up; the float64-uniform path kept elsewhere.
Also the small-tensor Geometric sampler and the blocked NegativeBinomial log_prob, each
against an independent truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch._samplers import counts
from aleatorch._samplers.counts import words_below
from aleatorch.distributions import bernoulli

PROBS = [0.1, 0.5, 0.9, 0.0, 1.0, 2.0**-8, 0.3]


def _binomial_p(successes: int, draws: int, p: float) -> float:
    return stats.binomtest(successes, draws, p).pvalue


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("layout", ["batch", "sample_shape"])
def test_word_draws_frequencies(monkeypatch, dtype, layout):
    """Each entry's frequency of ones is p (binomial test), across both block layouts
    (a batch longer than a block, and a short batch repeated by a sample_shape)."""
    calls = []
    monkeypatch.setattr(bernoulli, "words_below", lambda *a: calls.append(1) or words_below(*a))
    probs = torch.tensor(PROBS).to(dtype)  # through float32: on the 2^-32 grid
    exact = [float(x) for x in probs.double()]
    if layout == "batch":
        rows = 40_000
        d = D.Bernoulli(probs=probs.expand(rows, len(PROBS)).contiguous(), validate_args=False)
        sample_shape = ()
    else:
        rows = 40_000
        d = D.Bernoulli(probs=probs, validate_args=False)
        sample_shape = (rows,)
    x = d.sample(sample_shape, generator=torch.Generator().manual_seed(7))
    assert calls  # the word path is the one tested
    assert x.dtype == dtype and x.shape == (rows, len(PROBS))
    ones = x.double().sum(0)
    for j, p in enumerate(exact):
        if p in (0.0, 1.0):
            assert ones[j] == p * rows
        else:
            assert _binomial_p(int(ones[j]), rows, p) > 1e-4


def test_word_draws_honour_generator():
    d = D.Bernoulli(probs=torch.full((5000,), 0.5), validate_args=False)
    a = d.sample(generator=torch.Generator().manual_seed(3))
    b = d.sample(generator=torch.Generator().manual_seed(3))
    c = d.sample(generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_top_word_gives_one_only_at_p_one(monkeypatch):
    """The word ``2^31 - 1`` (unsigned ``2^32 - 1``) is below ``p 2^32`` only for p = 1."""
    probs = torch.tensor([1.0, 0.5, 0.0, 1.0 - 2.0**-24])  # the last: the largest float32 below 1
    real = counts._random_words

    def fill(words, generator):
        real(words, generator)
        words.view(torch.int32)[::3] = 2**31 - 1  # the top word on every third draw
        return words

    monkeypatch.setattr(counts, "_random_words", fill)
    thresholds = counts.word_thresholds(probs)
    x = counts.words_below(thresholds, probs, torch.Size([3000, 4]), torch.float32, None)
    top = torch.zeros(3000 * 4, dtype=torch.bool)
    top[::3] = True
    top = top.view(3000, 4)
    expected = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(3000, 4)
    assert torch.equal(x[top], expected[top])
    assert (x[:, 2] == 0).all() and (x[:, 0] == 1).all()


@pytest.mark.parametrize(
    "probs",
    [
        torch.tensor([0.1, 0.3], dtype=torch.float64),  # float64: finer than 2^-32
        torch.tensor([1e-4, 0.5]),  # float32 below 2^-8: finer than 2^-32
        torch.tensor([0.5, float("nan")]),
        torch.tensor([0.5, 1.5]),  # out of range (validation off)
    ],
)
def test_word_thresholds_refuse(probs):
    assert counts.word_thresholds(probs) is None


def test_fine_probs_keep_float64_path():
    """float64 p not on the 2^-32 grid: still exact to 2^-53 (the float64 uniform path)."""
    p = 0.1 + 2.0**-40
    d = D.Bernoulli(probs=torch.full((200_000,), p, dtype=torch.float64), validate_args=False)
    x = d.sample(generator=torch.Generator().manual_seed(11))
    assert _binomial_p(int(x.sum()), x.numel(), p) > 1e-4


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_small_geometric_sample(given):
    """Small batches (no cache): floor(log(1 - U) / log(1 - p)) against scipy's geom."""
    probs = torch.tensor([0.9, 0.5, 0.1, 0.01], dtype=torch.float64)
    param = probs if given == "probs" else torch.log(probs) - torch.log1p(-probs)
    d = D.Geometric(**{given: param}, validate_args=False)
    x = d.sample((50_000,), generator=torch.Generator().manual_seed(5)).numpy()
    for j, p in enumerate(probs.tolist()):
        law = stats.geom(p, loc=-1)
        edges = np.unique(law.ppf(np.linspace(0, 1, 21)[1:-1]))
        cdf = np.concatenate([[0.0], law.cdf(edges), [1.0]])
        observed = np.bincount(np.searchsorted(edges, x[:, j]), minlength=len(cdf) - 1)
        expected = np.diff(cdf) * len(x)
        keep = expected > 0
        assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-4


def test_small_geometric_sample_no_grad_and_p_one():
    p = torch.tensor([1.0, 0.5], requires_grad=True)
    x = D.Geometric(probs=p, validate_args=False).sample((7,))
    assert not x.requires_grad and (x[:, 0] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_negative_binomial_blocked_log_prob(dtype):
    """The blocked textbook log_prob (no graph, > 2 blocks) against scipy's nbinom."""
    r = torch.tensor([0.5, 1.0, 2.5, 10.0, 40.0], dtype=dtype).repeat(20_000)
    p = torch.tensor([0.0, 0.3, 0.5, 0.8, 0.1], dtype=dtype).repeat(20_000)
    d = D.NegativeBinomial(r, probs=p, validate_args=False)
    k = d.sample(generator=torch.Generator().manual_seed(2))
    k[:7] = torch.tensor([0.0, 3.0, 0.0, 4100.0, 1.0, 2.0, 0.0], dtype=dtype)  # one past the table
    out = d.log_prob(k)
    assert out.dtype == dtype
    truth = stats.nbinom.logpmf(k.double().numpy(), r.double().numpy(), 1 - p.double().numpy())
    tol = 1e-5 if dtype == torch.float32 else 1e-11
    np.testing.assert_allclose(out.double().numpy(), truth, rtol=tol, atol=tol)
    with torch.enable_grad():
        rg = r.clone().requires_grad_()
        graph = D.NegativeBinomial(rg, probs=p, validate_args=False).log_prob(k)
    assert graph.requires_grad and torch.equal(graph.detach(), out)
