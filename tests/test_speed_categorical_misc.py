"""Exactness of the fast paths of issue 11 in the categorical and small continuous families:
the written-out categorical sampler (labels against an inverse-cdf search on the same
uniforms, chi-square of the label counts, compile and vmap), the written-out sums over a
short last dim, and the closed forms reworked for speed, against scipy / mpmath."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch._samplers.draws import uniforms
from aleatorch.distributions.categorical import sum_last


def _rows(k: int, dtype: torch.dtype, n: int = 3000) -> torch.Tensor:
    """``n`` rows of ``k`` probabilities, some zero (first, last and inner labels)."""
    g = torch.Generator().manual_seed(k)
    p = torch.rand(n, k, dtype=dtype, generator=g) ** 3
    p[::2, 0] = 0
    p[::3, -1] = 0
    p[::5, k // 2] = 0
    p[:, (k - 1) // 2] += 0.01
    return p / p.sum(-1, keepdim=True)


def _searched(p: torch.Tensor, draws: int, seed: int) -> torch.Tensor:
    """The inverse cdf on the uniforms the sampler draws: the first cdf entry reaching
    ``(1 - u)`` times the total."""
    rows = p.reshape(-1, p.shape[-1])
    u = torch.rand(
        (rows.shape[0], draws), dtype=p.dtype, generator=torch.Generator().manual_seed(seed)
    )
    cdf = rows.double().cumsum(-1)
    target = (1 - u.double()) * cdf[:, -1:]
    labels = torch.searchsorted(cdf, target).clamp(max=p.shape[-1] - 1)
    return labels.T.reshape((draws,) + p.shape[:-1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [2, 3, 4, 7, 16])
def test_categorical_labels_are_the_inverse_cdf_of_the_same_uniforms(k, dtype):
    p = _rows(k, dtype)
    x = D.Categorical(probs=p).sample((5,), generator=torch.Generator().manual_seed(7))
    assert x.dtype == torch.long and x.shape == (5, 3000)
    assert (p.expand(5, -1, -1).gather(-1, x.unsqueeze(-1)) > 0).all()
    expected = _searched(p, 5, 7)
    # the sampler's running sums round differently from a float64 cdf only at a boundary
    assert (x != expected).float().mean() < 1e-3
    one_hot = D.OneHotCategorical(probs=p).sample((5,), generator=torch.Generator().manual_seed(7))
    assert one_hot.dtype == dtype and torch.equal(one_hot.argmax(-1), x)
    assert torch.equal(one_hot.sum(-1), torch.ones_like(one_hot[..., 0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [2, 3, 5, 16, 17])
def test_categorical_label_frequencies_chi_square(k, dtype):
    probs = torch.arange(1, k + 1, dtype=dtype)
    zero = k // 2 if k > 2 else None
    if zero is not None:
        probs[zero] = 0
    probs = probs / probs.sum()
    draws = 200_000
    for cls in (D.Categorical, D.OneHotCategorical):
        x = cls(probs=probs).sample((draws,), generator=torch.Generator().manual_seed(11))
        labels = x if cls is D.Categorical else x.argmax(-1)
        counts = torch.bincount(labels, minlength=k).double()
        assert zero is None or counts[zero] == 0
        keep = probs > 0
        expected = probs[keep].double() * draws
        stat = float(((counts[keep] - expected) ** 2 / expected).sum())
        assert stats.chi2.sf(stat, int(keep.sum()) - 1) > 1e-4, (cls, stat)


def test_categorical_sampler_compiles_and_vmaps():
    torch.manual_seed(0)
    p = _rows(3, torch.float32, n=5000)

    def draw(q):
        return D.Categorical(probs=q, validate_args=False).sample()

    out = torch.compile(draw, fullgraph=True, backend="eager")(p)
    assert out.shape == (5000,) and (p.gather(-1, out.unsqueeze(-1)) > 0).all()

    def one_hot(q):
        return D.OneHotCategorical(probs=q, validate_args=False).sample((2,))

    out = torch.compile(one_hot, fullgraph=True, backend="eager")(p)
    assert out.shape == (2, 5000, 3) and (out.sum(-1) == 1).all()
    batched = torch.func.vmap(draw, randomness="different")(p.expand(4, -1, -1))
    assert batched.shape == (4, 5000) and (p.gather(-1, batched.T) > 0).all()
    assert not torch.equal(batched[0], batched[1])
    batched = torch.func.vmap(one_hot, randomness="different")(p.expand(2, -1, -1))
    assert batched.shape == (2, 2, 5000, 3) and (batched.sum(-1) == 1).all()


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 9])
def test_sum_last_matches_sum_and_its_gradient(k):
    x = torch.randn(1000, 5, k, dtype=torch.float64, requires_grad=True)
    s = sum_last(x)
    torch.testing.assert_close(s, x.sum(-1), rtol=1e-15, atol=1e-15)
    (g,) = torch.autograd.grad((s * torch.arange(5.0, dtype=x.dtype)).sum(), x)
    torch.testing.assert_close(g, torch.arange(5.0, dtype=x.dtype)[:, None].expand_as(x))


@pytest.mark.parametrize("k", [2, 3, 4, 8])
def test_categorical_entropy_large_batch_against_scipy(k):
    g = torch.Generator().manual_seed(k)
    logits = torch.randn(2000, k, dtype=torch.float64, generator=g) * 3
    logits[::4, 0] = -math.inf
    d = D.Categorical(logits=logits)
    expected = torch.tensor(stats.entropy(d.probs.numpy(), axis=-1))
    torch.testing.assert_close(d.entropy(), expected, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(D.OneHotCategorical(logits=logits).entropy(), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("family", ["Normal", "Exponential", "Laplace", "Cauchy"])
def test_mixture_sample_of_the_chosen_component_ks(family, dtype):
    weights = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.0, 0.4]], dtype=dtype)
    a = torch.tensor([[-2.0, 0.5, 3.0], [1.0, 9.0, -1.0]], dtype=dtype)
    b = torch.tensor([[0.5, 1.0, 2.0], [1.5, 0.3, 0.7]], dtype=dtype)
    if family == "Exponential":
        comp, scipy_comp = D.Exponential(b), [stats.expon(scale=1 / v) for v in b.flatten()]
    else:
        comp = getattr(D, family)(a, b)
        law = {"Normal": stats.norm, "Laplace": stats.laplace, "Cauchy": stats.cauchy}[family]
        scipy_comp = [law(loc=m, scale=s) for m, s in zip(a.flatten(), b.flatten())]
    mix = D.MixtureSameFamily(D.Categorical(probs=weights), comp)
    x = mix.sample((40_000,), generator=torch.Generator().manual_seed(5))
    assert x.shape == (40_000, 2) and x.dtype == dtype
    again = mix.sample((40_000,), generator=torch.Generator().manual_seed(5))
    assert torch.equal(x, again)
    for row in range(2):
        w = weights[row].double().numpy()

        def cdf(v, row=row, w=w):
            return sum(w[k] * scipy_comp[3 * row + k].cdf(v) for k in range(3))

        assert stats.kstest(x[:, row].double().numpy(), cdf).pvalue > 1e-4


def test_mixture_picked_sample_broadcast_mixture_compile_and_vmap():
    torch.manual_seed(0)
    comp = D.Normal(torch.randn(4, 2, 3), torch.rand(4, 2, 3) + 0.5)
    mix = D.MixtureSameFamily(D.Categorical(logits=torch.randn(2, 3)), comp)
    assert mix.sample((5,)).shape == (5, 4, 2)

    def draw(loc):
        m = D.MixtureSameFamily(
            D.Categorical(logits=torch.zeros(3), validate_args=False),
            D.Normal(loc, torch.ones(3), validate_args=False),
            validate_args=False,
        )
        return m.sample((4096,))

    loc = torch.tensor([-50.0, 0.0, 50.0])
    out = torch.compile(draw, fullgraph=True, backend="eager")(loc)
    assert out.shape == (4096,) and ((out + 50).abs() < 10).sum() > 1000
    batched = torch.func.vmap(draw, randomness="different")(torch.stack([loc, loc + 1000]))
    assert batched.shape == (2, 4096) and (batched[1] > 900).all() and (batched[0] < 100).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tau", [0.02, 0.2, 0.3, 1.5, 5.0])
def test_relaxed_categorical_samples_at_fixed_uniforms(tau, dtype):
    eps = torch.finfo(dtype).eps
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3000, 4, dtype=dtype, generator=g) * 3
    logits[::7, 2] = -math.inf
    # the uniforms the sampler draws from this generator state (their law and grid are
    # tested in tests/test_sampler_paths_misc.py; which stream they come from is not a
    # contract: float32 takes them from random_ words, not torch.rand)
    u, _ = uniforms((2, 3000, 4), logits.dtype, logits.device, torch.Generator().manual_seed(3))
    w = (-u.clamp(min=torch.finfo(dtype).tiny).double().log()).log()
    scores = (logits.double().log_softmax(-1) - w) / tau
    for cls in (D.RelaxedOneHotCategorical, D.ExpRelaxedCategorical):
        d = cls(torch.tensor(tau, dtype=dtype), logits=logits)
        x = d.sample((2,), generator=torch.Generator().manual_seed(3)).double()
        assert x.isfinite().all() if cls is D.RelaxedOneHotCategorical else True
        if cls is D.RelaxedOneHotCategorical:
            ref = scores.softmax(-1).clamp(min=torch.finfo(dtype).tiny)
            error = ((x - ref).abs() / ref)[ref > 1e-30].max() / eps
            bound = 4 * (20 + 40 / tau)  # the exponents carry eps |logits + G| / tau
        else:
            ref = scores.log_softmax(-1)
            finite = ref.isfinite()
            assert torch.equal(finite, x.isfinite())
            error = ((x - ref).abs() / ref.abs().clamp(min=1))[finite].max() / eps
            bound = 4 * (20 + 40 / tau)
        assert error < bound, (cls, float(error))
