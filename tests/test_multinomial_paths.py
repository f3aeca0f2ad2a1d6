"""Multinomial's fast paths against exact references: log_prob with log j! read from a table,
the entropy by Horner's rule, and the sampler's tally of Python labels (few draws)."""

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions import multinomial

F32, F64 = torch.float32, torch.float64
BUDGET = {F64: 1e3, F32: 1e2}  # eps, relative to max(1, |truth|) (log-scale values)

PROBS = [
    [0.5, 0.5],
    [0.25, 0.75],
    [0.1, 0.0, 0.9, 0.0],
    [0.4, 0.3, 0.2, 0.1],
    [1.0],
    [1.0, 0.0],
    [1 - 1e-6, 1e-6],
    [1e-30, 1.0],
    [1e-3, 1e-3, 1 - 2e-3],
    [1 / 3, 1 / 3, 1 / 3],
    [0.05, 0.15, 0.2, 0.25, 0.35],
]


def _exact_log_prob(x, p):
    """log n! - sum log x_i! + sum x_i log p_i in mpmath (p normalized exactly)."""
    p = [mpmath.mpf(v) for v in p]
    total = sum(p)
    out = mpmath.loggamma(sum(x) + 1)
    for xi, pi in zip(x, p, strict=True):
        out -= mpmath.loggamma(xi + 1)
        if xi:
            if pi == 0:
                return -math.inf
            out += xi * mpmath.log(pi / total)
    return out


def _exact_entropy(n, p):
    mpmath.mp.dps = 40
    p = [mpmath.mpf(v) for v in p]
    total = sum(p)
    p = [v / total for v in p]
    h = -mpmath.loggamma(n + 1) - n * sum(v * mpmath.log(v) for v in p if v > 0)
    for v in p:
        if v == 0:
            continue
        for k in range(2, n + 1):
            h += mpmath.binomial(n, k) * v**k * (1 - v) ** (n - k) * mpmath.loggamma(k + 1)
    return h


def _assert_within(got, truth, dtype, what):
    eps = torch.finfo(dtype).eps
    for g, t in zip(got, truth, strict=True):
        if t == -math.inf:
            assert g == -math.inf, what
            continue
        err = abs(g - float(t)) / max(1.0, abs(float(t))) / eps
        assert err <= BUDGET[dtype], f"{what}: {g} vs {float(t)} ({err:.1f} eps)"


@pytest.fixture
def table_always(monkeypatch):
    """The table path on tensors of any size (not in Python floats)."""
    monkeypatch.setattr(multinomial, "_TABLE_FROM", 0)
    monkeypatch.setattr(multinomial, "_PYTHON_ENTRIES", 0)


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("probs", PROBS)
def test_python_log_prob_matches_mpmath(probs, dtype):
    mpmath.mp.dps = 40
    p = torch.tensor(probs, dtype=dtype)
    d = D.Multinomial(7, probs=p, validate_args=False)
    rows = d.sample((20,), generator=torch.Generator().manual_seed(1))
    rows = torch.cat([rows, torch.eye(len(probs), dtype=dtype), torch.full_like(p[None], 2.0)])
    got, truth = [], []
    for x in rows:
        assert d._python_log_prob(x) is not None
        got.append(float(d.log_prob(x)))
        truth.append(_exact_log_prob(x.long().tolist(), p.double().tolist()))
    _assert_within(got, truth, dtype, f"python log_prob {probs}")
    # not counts: the lgamma form; NaN stays NaN
    half = torch.full_like(p, 0.5)
    assert d._python_log_prob(half) is not None
    torch.testing.assert_close(d.log_prob(half), _lgamma_form(d, half))
    nan = torch.full_like(p, math.nan)
    assert d._python_log_prob(nan) is None and d.log_prob(nan).isnan()


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("probs", PROBS)
def test_table_log_prob_matches_mpmath(probs, dtype, table_always):
    mpmath.mp.dps = 40
    k = len(probs)
    p = torch.tensor(probs, dtype=dtype)
    d = D.Multinomial(7, probs=p)
    x = d.sample((40,), generator=torch.Generator().manual_seed(1))
    # counts in zero-probability categories, n below total_count, all in one category
    extra = torch.zeros((3, k), dtype=dtype)
    extra[0] = 1.0
    extra[1, 0] = 3.0
    extra[2, -1] = 7.0
    x = torch.cat([x, extra])
    assert d._table_log_prob(x) is not None
    got = d.log_prob(x).tolist()
    truth = [_exact_log_prob(row, p.double().tolist()) for row in x.long().tolist()]
    _assert_within(got, truth, dtype, f"log_prob {probs}")


@pytest.mark.parametrize("dtype", [F32, F64])
def test_table_log_prob_agrees_with_lgamma_form(dtype, table_always):
    """The table path against the lgamma form (the general path) on every kind of input:
    logits, broadcast and non-contiguous values, zero probabilities."""
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 5, dtype=dtype, generator=gen)
    logits[1, 2] = -math.inf
    d = D.Multinomial(30, logits=logits, validate_args=False)
    x = d.sample((4,), generator=gen)
    x[0, 1, 2] = 1.0  # a count where p = 0: -inf
    lp = d.log_prob(x)
    ref = _lgamma_form(d, x)
    assert lp[0, 1] == -math.inf and ref[0, 1] == -math.inf
    torch.testing.assert_close(lp, ref, rtol=1e-5 if dtype == F32 else 1e-12, atol=1e-5)
    # a value broadcast over the batch, and a transposed (non-contiguous) one
    row = x[1, 0]
    torch.testing.assert_close(d.log_prob(row), _lgamma_form(d, row.expand(6, 5)))
    xt = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert not xt.is_contiguous()
    torch.testing.assert_close(d.log_prob(xt), lp)


def _lgamma_form(d, x):
    logits = d.logits
    powers = torch.where(x == 0, torch.zeros_like(x), x * logits).sum(-1)
    return torch.lgamma(x.sum(-1) + 1) - torch.lgamma(x + 1).sum(-1) + powers


def test_log_prob_fallbacks(table_always):
    d = D.Multinomial(4, probs=torch.tensor([0.2, 0.3, 0.5]), validate_args=False)
    half = torch.tensor([1.5, 2.0, 0.5])  # not counts: the lgamma form
    assert d._table_log_prob(half) is None
    torch.testing.assert_close(d.log_prob(half), _lgamma_form(d, half))
    nan = torch.tensor([math.nan, 2.0, 2.0])
    assert d._table_log_prob(nan) is None and d.log_prob(nan).isnan()
    x = torch.tensor([1.0, 2.0, 1.0], requires_grad=True)
    assert d._table_log_prob(x) is None
    d.log_prob(x).backward()
    assert torch.isfinite(x.grad).all()


def test_log_prob_large_batch_takes_the_table():
    p = torch.tensor([[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]]).repeat(2000, 1, 1)
    d = D.Multinomial(12, probs=p)
    x = d.sample(generator=torch.Generator().manual_seed(5))
    assert x.numel() >= multinomial._TABLE_FROM and d._table_log_prob(x) is not None
    torch.testing.assert_close(d.log_prob(x), _lgamma_form(d, x))


def test_table_log_prob_gradient(table_always):
    """With logits requiring grad, the table path's gradient is x - n p (the value's n)."""
    logits = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.5, -0.5]], dtype=F64, requires_grad=True)
    d = D.Multinomial(6, logits=logits)
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 4.0, 2.0]], dtype=F64)
    assert d._table_log_prob(x) is not None
    (grad,) = torch.autograd.grad(d.log_prob(x).sum(), logits)
    p = torch.softmax(logits.detach(), -1)
    torch.testing.assert_close(grad, x - x.sum(-1, keepdim=True) * p)
    # p = 0 with a gradient wanted: the where form (finite gradient, -inf only where x > 0)
    probs = torch.tensor([0.5, 0.0, 0.5], dtype=F64, requires_grad=True)
    d = D.Multinomial(4, probs=probs)
    out = d.log_prob(torch.tensor([[2.0, 0.0, 2.0], [1.0, 1.0, 2.0]], dtype=F64))
    assert out[1] == -math.inf and torch.isfinite(out[0])
    (grad,) = torch.autograd.grad(out[0], probs)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("n", [2, 3, 5, 12, 20, 50])
def test_horner_entropy_matches_mpmath(n, dtype):
    p = torch.tensor([[*row, *[0.0] * (5 - len(row))] for row in PROBS], dtype=dtype)
    got = D.Multinomial(n, probs=p).entropy().tolist()
    truth = [_exact_entropy(n, row) for row in p.double().tolist()]
    _assert_within(got, truth, dtype, f"entropy n={n}")
    graph = D.Multinomial(n, probs=p.clone().requires_grad_()).entropy()  # out of place
    _assert_within(graph.tolist(), truth, dtype, f"entropy n={n} (graph)")


def test_entropy_small_counts_and_degenerate():
    p = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]], dtype=F64)
    h = D.Multinomial(9, probs=p).entropy()
    assert h[0] == 0 and h[1] == 0  # one outcome: exactly 0
    for n in (0, 1):
        h = D.Multinomial(n, probs=p).entropy()
        torch.testing.assert_close(h, torch.special.entr(p).sum(-1) * n)


def test_horner_entropy_gradient():
    """The gradient (through probs and logits, at ties p = 1/2 and p = 0) against finite
    differences; never NaN."""
    probs = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], dtype=F64, requires_grad=True)

    def entropy(p):
        return D.Multinomial(7, probs=p).entropy()

    (grad,) = torch.autograd.grad(entropy(probs).sum(), probs)
    assert torch.isfinite(grad).all()
    logits = torch.tensor([[0.3, -0.2, 1.1], [0.0, 0.0, -2.0]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: D.Multinomial(7, logits=z).entropy(), (logits,))
    assert torch.autograd.gradcheck(lambda z: D.Multinomial(3, logits=z).entropy(), (logits,))
    assert torch.autograd.gradcheck(lambda z: D.Multinomial(2, logits=z).entropy(), (logits,))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_blockwise_entropy_equals_one_call(dtype):
    """Over 2 ** 17 entries the entropy runs in blocks: the same numbers as a small batch."""
    p = torch.tensor([[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]], dtype=dtype)
    small = D.Multinomial(12, probs=p).entropy()
    big = D.Multinomial(12, probs=p.repeat(40000, 1, 1)).entropy()
    assert torch.equal(big, small.repeat(40000, 1))


def test_entropy_beyond_horner_uses_pmf_sum():
    n = multinomial._HORNER_COUNT + 1
    p = torch.tensor([0.3, 0.7], dtype=F64)
    h = D.Multinomial(n, probs=p).entropy()
    # a binomial law in disguise: the entropy of Binomial(n, 0.3)
    expected = stats.binom(n, 0.3).entropy()
    assert abs(float(h) - expected) < 1e-8 * expected


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize(
    ("n", "probs"),
    [(3, [0.2, 0.0, 0.3, 0.5]), (5, [0.05, 0.95]), (2, [1 / 3, 1 / 3, 1 / 3]), (1, [0.6, 0.4])],
)
def test_python_tally_law(n, probs, dtype):
    """Few draws are tallied from the Python labels: every outcome's frequency against
    scipy's pmf (chi-square, fixed seed), no mass where the law has none."""
    p = torch.tensor(probs, dtype=dtype)
    d = D.Multinomial(n, probs=p)
    gen = torch.Generator().manual_seed(11)
    shape = (max(1, 64 // (n * 1)) // 2,)
    assert multinomial.python_labels(d, (n, *shape), torch.Generator()) is not None
    draws = torch.cat([d.sample(shape, generator=gen) for _ in range(4000)])
    assert draws.dtype == dtype and (draws.sum(-1) == n).all()
    law = stats.multinomial(n, p.double().numpy() / p.double().sum().item())
    outcomes, observed = np.unique(draws.long().numpy(), axis=0, return_counts=True)
    assert (law.pmf(outcomes) > 0).all()
    expected = law.pmf(outcomes) * len(draws)
    missing = len(draws) - expected.sum()  # outcomes never drawn
    obs = np.append(observed, 0.0)
    exp = np.append(expected, missing)
    keep = exp > 0
    assert stats.chisquare(obs[keep], exp[keep] * obs.sum() / exp[keep].sum()).pvalue > 1e-4


def test_python_tally_reproducible_and_shaped():
    p = torch.tensor([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    d = D.Multinomial(4, probs=p)
    assert multinomial.python_labels(d, (4, 1, 5), torch.Generator()) is not None
    a = d.sample((1, 5), generator=torch.Generator().manual_seed(3))
    b = d.sample((1, 5), generator=torch.Generator().manual_seed(3))
    assert a.shape == (1, 5, 3, 2) and torch.equal(a, b)
    assert (a.sum(-1) == 4).all()
    labels = D.Categorical(probs=p).sample((4, 1, 5), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, torch.nn.functional.one_hot(labels, 2).sum(0).float())


def test_vmap_and_compile_agree_with_eager():
    """The traced paths (no table, no Python floats, no blocks) give eager's numbers; the
    sampler runs under vmap with different randomness (the labels' scatter, out of place)."""
    probs = torch.softmax(torch.randn(6, 4, dtype=F64, generator=torch.Generator()), -1)
    probs[0] = torch.tensor([0.5, 0.0, 0.25, 0.25], dtype=F64)
    x = D.Multinomial(7, probs=probs).sample(generator=torch.Generator().manual_seed(0))
    for n in (0, 1, 2, 3, 7):

        def entropy(p, n=n):
            return D.Multinomial(n, probs=p, validate_args=False).entropy()

        eager = entropy(probs)
        torch.testing.assert_close(torch.func.vmap(entropy)(probs), eager)
        torch.testing.assert_close(torch.compile(entropy, fullgraph=True)(probs), eager)

    def log_prob(p, v):
        return D.Multinomial(7, probs=p, validate_args=False).log_prob(v)

    eager = D.Multinomial(7, probs=probs).log_prob(x)
    torch.testing.assert_close(torch.func.vmap(log_prob)(probs, x), eager)
    torch.testing.assert_close(torch.compile(log_prob, fullgraph=True)(probs, x), eager)

    def sample(p):
        return D.Multinomial(7, probs=p, validate_args=False).sample()

    draws = torch.func.vmap(sample, randomness="different")(probs)
    assert draws.shape == (6, 4) and (draws.sum(-1) == 7).all()
    assert (draws[0, 1] == 0).all()
