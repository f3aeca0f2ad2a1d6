"""The eager paths of the implicit Beta/Dirichlet gradient kernel (aleatorch._samplers.implicit).

The eager kernel splits each chunk by tail for the Dirichlet gradient (only the derivative in
the first parameter: in p below the switch point, in q above it), lets each block take its
first pairs alone and then merges the slow entries of all blocks, and takes log x, log(1 - x)
directly when y = 1 - x is computed. Each is checked against a 40-digit mpmath reference
(central differences of the continued fraction), against the traced fixed-depth path, and at
the switch point x = (a + 1) / (a + b + 2) from both sides, in float32 and float64.
"""

from __future__ import annotations

import pytest
import torch
from mp_beta_gradients import beta_sample_gradients as mp_gradients

import aleatorch as D
from aleatorch._samplers import implicit

F64 = torch.float64


def _switch(a, b):
    return (a + 1) / (a + b + 2)


# (a, b, x): both tails, the switch point from both sides, tiny and large parameters
POINTS = [
    (2.0, 3.0, 0.4),
    (0.5, 0.5, 0.1),
    (0.5, 0.5, 0.9),
    (1e-3, 1.0, 0.3),
    (1e-3, 5.0, 0.9),
    (0.05, 0.1, 1e-12),
    (0.05, 0.1, 1 - 1e-6),
    (30.0, 40.0, 0.2),
    (30.0, 40.0, 0.6),
    (20.0, 1.5, 0.95),
    (200.0, 300.0, 0.4),
    (5.0, 2.0, 1e-5),
    (0.2, 3.0, 0.999),
    (1e4, 2.0, 0.9999),
    (1e-3, 1e4, 1e-6),
    (1e3, 0.7, 0.9993),
]
for _a, _b in [(2.0, 3.0), (0.5, 20.5), (30.0, 40.0), (1e3, 1e3)]:
    _s = _switch(_a, _b)
    POINTS += [(_a, _b, _s * (1 - 1e-9)), (_a, _b, _s * (1 + 1e-9))]


def _tensors(points, dtype=F64):
    return [torch.tensor(column, dtype=dtype) for column in zip(*points)]


@pytest.fixture(scope="module")
def reference():
    return [mp_gradients(*point) for point in POINTS]


def test_both_gradients_match_mpmath_in_float64(reference):
    a, b, x = _tensors(POINTS)
    d_a, d_b = implicit.beta_implicit_gradients(a, b, x)
    for got, column in ((d_a, 0), (d_b, 1)):
        want = torch.tensor([r[column] for r in reference], dtype=F64)
        err = ((got - want).abs() / want.abs()).max().item()
        assert err < 1e-10, err


def test_first_parameter_kernel_matches_mpmath_in_float64(reference):
    # The Dirichlet kernel: h_a alone (x y h_a = dx/da), with y given.
    a, b, x = _tensors(POINTS)
    h_a, h_b = implicit._scaled_gradients(a, b, x, 1 - x, F64, first_only=True)
    assert h_b is None
    want = torch.tensor([r[0] for r in reference], dtype=F64)
    got = x * (1 - x) * h_a
    err = ((got - want).abs() / want.abs()).max().item()
    assert err < 1e-10, err


@pytest.mark.parametrize("first_only", [False, True])
def test_float32_results_match_mpmath(first_only, reference):
    # Float32 samples (the common case): the float32 tolerance of the fraction, then one
    # rounding; within a few float32 ulps of the 40-digit value.
    points = [(a, b, float(torch.tensor(x).float())) for a, b, x in POINTS]
    points = [p for p in points if 0 < p[2] < 1]
    want = torch.tensor([mp_gradients(*p)[0] for p in points], dtype=F64)
    a, b, x = _tensors(points, torch.float32)
    if first_only:
        h_a, _ = implicit._scaled_gradients(a, b, x, None, torch.float32, first_only=True)
        got = (x.double() * (1 - x.double()) * h_a).float()
    else:
        got, _ = implicit.beta_implicit_gradients(a, b, x)
    assert got.dtype == torch.float32
    err = ((got.double() - want).abs() / want.abs()).max().item()
    assert err < 8 * 2.0**-24, err / 2.0**-24


def _random_case(n, seed, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    log_a, log_b = (torch.empty(n, dtype=F64).uniform_(-3, 4, generator=g) for _ in range(2))
    a, b = 10.0**log_a, 10.0**log_b
    x = D.Beta(a, b).sample(generator=g).to(dtype).double()
    # half of the entries right at the switch point (the slowest convergence)
    switch = _switch(a, b)
    x = torch.where(torch.arange(n) % 2 == 0, x, switch * (1 + 1e-12 * (torch.arange(n) % 4 - 2)))
    tiny = torch.finfo(dtype).tiny
    x = x.to(dtype).double().clamp(tiny, 1 - torch.finfo(dtype).eps / 2)
    return a, b, x


def test_eager_adaptive_path_matches_the_traced_fixed_depth_path(monkeypatch):
    # Small chunks: many blocks, each alone for _SOLO_PAIRS pairs, then merged.
    monkeypatch.setattr(implicit, "_CHUNK", 512)
    a, b, x = _random_case(6000, 0)
    a, b = a.clamp(max=1e4), b.clamp(max=1e4)  # the traced depth covers parameters <= 1e4
    eager = implicit._scaled_gradients(a, b, x, None, F64)
    monkeypatch.setattr(implicit, "_has_values", lambda t: False)
    traced = implicit._scaled_gradients(a, b, x, None, F64)
    for got, want in zip(eager, traced):
        assert torch.isfinite(got).all()
        err = ((got - want).abs() / want.abs()).max().item()
        assert err < 1e-11, err


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_first_only_kernel_matches_the_kernel_of_both(dtype, monkeypatch):
    # The tail split (p-derivative below the switch point, q-derivative above it) against the
    # kernel of both derivatives at float64's tolerance, with y given (as Dirichlet passes it).
    # Float32's tolerance (1e-9 per term) leaves up to ~15 float32 ulps where the fraction
    # converges slowest (the switch point of a ~ 1e4 with b ~ 0.1, or the reverse), for either
    # kernel.
    monkeypatch.setattr(implicit, "_CHUNK", 1024)
    a, b, x = _random_case(8000, 1, dtype)
    y = 1 - x
    want, _ = implicit._scaled_gradients(a, b, x, y, F64)
    first, none = implicit._scaled_gradients(a, b, x, y, dtype, first_only=True)
    both, _ = implicit._scaled_gradients(a, b, x, y, dtype)
    assert none is None
    for got in (first, both):
        assert torch.isfinite(got).all()
        err = ((got - want).abs() / want.abs()).max().item()
        assert err < (1e-11 if dtype == F64 else 32 * 2.0**-24), err


def test_given_y_and_computed_y_agree_for_float32_samples():
    # log x and log1p(-x) directly when y is computed, the where pair when it is given: the
    # same values where y = 1 - x is exact (float32 samples in float64).
    a, b, x = _random_case(4000, 2, torch.float32)
    computed = implicit._scaled_gradients(a, b, x, None, F64)
    given = implicit._scaled_gradients(a, b, x, 1 - x, F64)
    for c, g in zip(computed, given):
        # log1p(x - 1) and log x differ in the last bit, which the bracket's cancellation
        # lifts to ~1e-12
        assert ((c - g).abs() / g.abs()).max().item() < 1e-11


def test_log_tail_brackets_follow_the_tail_split():
    a, b, x = _random_case(3000, 3)
    lower, d_a, d_b = implicit.beta_log_tail_gradients(a, b, x, None, F64)
    assert lower.any() and (~lower).any()
    h_a, h_b = implicit._scaled_gradients(a, b, x, None, F64)
    # h = -(F / p) bracket with the tail's sign: same sign pattern as the brackets
    assert torch.equal(torch.where(lower, -d_a, d_a).sign(), h_a.sign())
    assert torch.equal(torch.where(lower, -d_b, d_b).sign(), h_b.sign())


ALPHA = [[0.05, 2.0, 7.0], [0.5, 1.0, 20.0], [30.0, 40.0, 0.3]]


def _dirichlet_diagonal(alpha, x):
    # dx_i/dalpha_i of the samples x (held fixed) through the implicit Dirichlet gradient
    leaf = alpha.clone().requires_grad_()
    out = implicit.implicit_dirichlet(leaf, x)
    grads = [torch.autograd.grad(out[:, i].sum(), leaf, retain_graph=True)[0] for i in range(3)]
    return torch.stack([grads[i][:, i] for i in range(3)], 1)


def test_dirichlet_backward_matches_mpmath_marginals():
    # dx_i/dalpha_i of Dirichlet samples is the marginal Beta(alpha_i, s - alpha_i) gradient.
    alpha = torch.tensor(ALPHA, dtype=F64).repeat(4, 1)
    x = D.Dirichlet(alpha).sample(generator=torch.Generator().manual_seed(4))
    got = _dirichlet_diagonal(alpha, x)
    for s in range(alpha.shape[0]):
        for i in range(3):
            a, rest = float(alpha[s, i]), float(alpha[s].sum()) - float(alpha[s, i])
            want = mp_gradients(a, rest, float(x[s, i]))[0]
            assert float(got[s, i]) == pytest.approx(want, rel=1e-10), (a, rest, float(x[s, i]))


def test_dirichlet_float32_backward_is_the_float64_one_rounded():
    # Float32 samples: the same kernel at float32's tolerance, then one rounding.
    alpha = torch.tensor(ALPHA).repeat(50, 1)
    x = D.Dirichlet(alpha).sample(generator=torch.Generator().manual_seed(5))
    got = _dirichlet_diagonal(alpha, x)
    want = _dirichlet_diagonal(alpha.double(), x.double())
    assert got.dtype == torch.float32
    err = ((got.double() - want).abs() / want.abs()).max().item()
    assert err < 8 * 2.0**-24, err / 2.0**-24


def test_vmap_of_the_implicit_gradient_with_given_samples():
    # Under vmap the traced fixed-depth path runs: per-sample gradients as in eager mode.
    a = torch.tensor([0.5, 2.0, 30.0], dtype=F64)
    b = torch.tensor([2.0, 0.3, 40.0], dtype=F64)
    x = torch.tensor([0.2, 0.97, 0.45], dtype=F64)

    def grad_a(a, b, x):
        return torch.func.grad(lambda s: implicit.implicit_beta(s, b, x))(a)

    got = torch.func.vmap(grad_a)(a, b, x)
    want, _ = implicit.beta_implicit_gradients(a, b, x)
    torch.testing.assert_close(got, want, rtol=1e-11, atol=0)


def test_empty_and_single_entry_inputs():
    for n in (0, 1):
        a = torch.full((n,), 2.0)
        d_a, d_b = implicit.beta_implicit_gradients(a, a, torch.full((n,), 0.3))
        assert d_a.shape == (n,) and d_b.shape == (n,)
        h, _ = implicit._scaled_gradients(a, a, torch.full((n,), 0.3), None, F64, first_only=True)
        assert h.shape == (n,)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_dirichlet_gradient_through_broadcast_concentrations(dtype):
    # alpha broadcast over samples: the digamma differences at alpha's shape (all four, one
    # picked per tail) against alpha expanded to every sample.
    alpha = torch.tensor([0.05, 2.0, 7.0, 30.0], dtype=dtype)
    x = D.Dirichlet(alpha).sample((3000,), generator=torch.Generator().manual_seed(6))
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=dtype)
    grads = []
    for leaf in (alpha.clone(), alpha.expand(3000, 4).clone()):
        leaf.requires_grad_()
        (implicit.implicit_dirichlet(leaf, x) * weights).sum().backward()
        grads.append(leaf.grad.sum_to_size(alpha.shape))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-11 if dtype == F64 else 1e-6, atol=0)
