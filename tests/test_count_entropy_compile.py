"""Binomial and NegativeBinomial entropies under torch.compile and torch.func.

There the eager algorithm runs as one operator (distributions/_count_entropy.py), its gradient
from the window's slopes: compiled values equal eager ones, gradients agree with eager
autograd (windowed, strided and asymptotic entries), vmap and torch.func.grad work, new values
do not recompile, and the graph stays small however many labels the windows hold.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from torch._dynamo.testing import CompileCounter

import aleatorch as D

# (total_count, probs, logits): windows of a few labels, strided binomial windows (n p q up
# to 2.5e5), NegativeBinomial's Edgeworth (r p > 1e3) and Gamma-limit (p near 1) entries.
BINOMIAL = [
    (0.0, 0.3),
    (1.0, 0.5),
    (5.0, 0.3),
    (20.0, 0.9),
    (300.0, 0.5),
    (1e4, 0.01),
    (1e5, 0.5),
    (1e6, 0.5),
    (1e7, 0.4),
    (3e9, 1e-3),
]
NEGATIVE_BINOMIAL = [
    (0.5, 0.3),
    (3.0, 0.9),
    (40.0, 0.5),
    (1e-3, 0.2),
    (1e4, 0.99),
    (1e4, 0.999),
    (2.0, 0.999999),
    (0.5, 0.99999),
    (1e6, 1e-4),
]
FAMILIES = {
    "Binomial": (D.Binomial, BINOMIAL),
    "NegativeBinomial": (D.NegativeBinomial, NEGATIVE_BINOMIAL),
}
CASES = [(f, g, dt) for f in FAMILIES for g in ("probs", "logits") for dt in ("float64", "float32")]


def _params(family, given, dtype, requires_grad=False):
    cls, rows = FAMILIES[family]
    dtype = getattr(torch, dtype)
    count = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    probs = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    param = probs if given == "probs" else torch.log(probs) - torch.log1p(-probs)
    count, param = count.to(dtype), param.to(dtype)
    if requires_grad:
        param.requires_grad_()
        if family == "NegativeBinomial":  # Binomial's total_count is discrete
            count.requires_grad_()
    return cls, count, param


def _entropy_fn(cls, given):
    def entropy(count, param):
        return cls(count, **{given: param}, validate_args=False).entropy()

    return entropy


@pytest.mark.parametrize("family, given, dtype", CASES)
def test_compiled_values_equal_eager_and_do_not_recompile(family, given, dtype):
    cls, count, param = _params(family, given, dtype)
    fn = _entropy_fn(cls, given)
    torch._dynamo.reset()
    counter = CompileCounter()
    compiled = torch.compile(fn, backend=counter, fullgraph=True)
    torch.testing.assert_close(compiled(count, param), fn(count, param), rtol=0, atol=0)
    other = param * 0.75 if given == "probs" else param - 0.5
    torch.testing.assert_close(compiled(count * 2, other), fn(count * 2, other), rtol=0, atol=0)
    assert counter.frame_count == 1


def _mp_binomial_entropy(n: int, p: float) -> float:
    with mpmath.workdps(30):
        p = mpmath.mpf(p)
        total = mpmath.mpf(0)
        for k in range(n + 1):
            prob = mpmath.binomial(n, k) * p**k * (1 - p) ** (n - k)
            if prob:
                total -= prob * mpmath.log(prob)
        return float(total)


def _mp_negative_binomial_entropy(r: float, p: float) -> float:
    with mpmath.workdps(30):
        r, p = mpmath.mpf(r), mpmath.mpf(p)
        total, k = mpmath.mpf(0), 0
        while True:
            log_prob = (
                mpmath.loggamma(k + r)
                - mpmath.loggamma(r)
                - mpmath.loggamma(k + 1)
                + r * mpmath.log1p(-p)
                + k * mpmath.log(p)
            )
            term = mpmath.exp(log_prob) * log_prob
            total -= term
            if k > r * p / (1 - p) + 10 and abs(term) < 1e-40:
                return float(total)
            k += 1


def test_compiled_inductor_matches_mpmath():
    counts = [2.5, 17.0, 150.0]
    probs = [0.35, 0.8, 0.6]
    expected = [_mp_negative_binomial_entropy(r, p) for r, p in zip(counts, probs)]
    binomial = [_mp_binomial_entropy(int(n), p) for n, p in zip(counts[1:], probs[1:])]

    def both(r, p, n, q):
        return (
            D.NegativeBinomial(r, probs=p, validate_args=False).entropy(),
            D.Binomial(n, probs=q, validate_args=False).entropy(),
        )

    torch._dynamo.reset()
    compiled = torch.compile(both, backend="inductor", fullgraph=True)
    for dtype, budget in ((torch.float64, 1e3), (torch.float32, 1e2)):
        t = (torch.tensor(v, dtype=dtype) for v in (counts, probs, counts[1:], probs[1:]))
        nb, bi = compiled(*t)
        eps = torch.finfo(dtype).eps
        for got, want in ((nb, expected), (bi, binomial)):
            want = torch.tensor(want, dtype=torch.float64)
            error = ((got.double() - want).abs() / want / eps).max().item()
            assert error <= budget, f"{dtype}: {error:.3g} eps"


@pytest.mark.parametrize("family, given, dtype", CASES)
def test_compiled_gradients_match_eager(family, given, dtype):
    cls, count, param = _params(family, given, dtype, requires_grad=True)
    leaves = [t for t in (count, param) if t.requires_grad]
    fn = _entropy_fn(cls, given)
    eager = torch.autograd.grad(fn(count, param).sum(), leaves)
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="eager", fullgraph=True)
    got = torch.autograd.grad(compiled(count, param).sum(), leaves)
    rtol = 1e-8 if dtype == "float64" else 1e-5
    for g, e in zip(got, eager):
        assert torch.isfinite(g).all()
        # gradients near 0 (p = 1/2) compare absolutely, on the scale of the terms (~count)
        scale = torch.maximum(e.abs(), 1e-6 * (1 + count.detach().to(e.dtype)))
        assert ((g - e).abs() / scale).max().item() <= rtol


@pytest.mark.parametrize("family", FAMILIES)
def test_vmap_and_func_grad(family):
    cls, count, param = _params(family, "probs", "float64")
    fn = _entropy_fn(cls, "probs")
    stacked = torch.stack([param, param * 0.5])
    batched = torch.func.vmap(fn, in_dims=(None, 0))(count, stacked)
    looped = torch.stack([fn(count, stacked[0]), fn(count, stacked[1])])
    # (a batch sums as many labels as its widest window: the rounding of the sums may move)
    torch.testing.assert_close(batched, looped, rtol=1e-14, atol=0)
    # a scalar count against batched probabilities, both vmapped
    counts = count[:2].unsqueeze(1)
    both = torch.func.vmap(fn)(counts, stacked[:2])
    torch.testing.assert_close(both[1], fn(counts[1], stacked[1]), rtol=1e-14, atol=0)
    grad = torch.func.grad(lambda p: fn(count, p).sum())(param)
    leaf = param.clone().requires_grad_()
    (expected,) = torch.autograd.grad(fn(count, leaf).sum(), leaf)
    # (at p = 1/2 the gradient is 0 up to the rounding of terms of size ~count)
    torch.testing.assert_close(grad, expected, rtol=1e-8, atol=1e-14 * count.max().item())


def test_gradient_matches_finite_differences_on_strided_windows():
    # Binomial windows of ~3800 and ~12000 labels, summed with strides 2 and 6
    n = torch.tensor([1e5, 1e6], dtype=torch.float64)
    p = torch.tensor([0.5, 0.3], dtype=torch.float64, requires_grad=True)
    fn = _entropy_fn(D.Binomial, "probs")
    torch._dynamo.reset()
    (got,) = torch.autograd.grad(torch.compile(fn, backend="eager", fullgraph=True)(n, p).sum(), p)
    h = 1e-6
    with torch.no_grad():
        fd = (fn(n, p + h) - fn(n, p - h)) / (2 * h)
    # d/dp of log(2 pi e n p q) / 2 is (1 - 2p) / (2 p q): 0 at p = 1/2
    assert abs(got[0].item()) < 1e-6 and abs(fd[0].item()) < 1e-4
    assert math.isclose(got[1].item(), fd[1].item(), rel_tol=1e-6)


def test_graph_holds_the_operator_not_the_window():
    # 2^11 entries, windows of up to 1221 labels (traced, 1 chunk of 2048 labels): the
    # graph stays a few dozen nodes
    n = torch.full((2**11,), 1e4, dtype=torch.float64)
    p = torch.rand(2**11, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sizes = []

    def backend(gm, example_inputs):
        sizes.append(len(gm.graph.nodes))
        return gm

    torch._dynamo.reset()
    fn = _entropy_fn(D.Binomial, "probs")
    out = torch.compile(fn, backend=backend, fullgraph=True)(n, p)
    assert sizes and max(sizes) < 50
    torch.testing.assert_close(out, fn(n, p), rtol=0, atol=0)
