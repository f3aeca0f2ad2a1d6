"""The numerator/denominator (Wallis) evaluation of the implicit-gradient fraction.

The eager path (adaptive depth) and the traced one (fixed depth, each entry keeping its values
from its first passed test) both run ``implicit._Wallis``; these check it against mpmath, against
the ratio (Lentz) evaluation, across its rescalings, and for an integer ``q``.
"""

from __future__ import annotations

import math

import pytest
import torch
from mp_beta_gradients import beta_sample_gradients as mp_gradients

from aleatorch._samplers import implicit

F64 = torch.float64


def _random_tails(n, seed):
    g = torch.Generator().manual_seed(seed)
    p = 10.0 ** torch.empty(n, dtype=F64).uniform_(-3, 3, generator=g)
    q = 10.0 ** torch.empty(n, dtype=F64).uniform_(-3, 3, generator=g)
    u = torch.rand(n, dtype=F64, generator=g) * (p + 1) / (p + q + 2)
    base_p, base_q = torch.randn(n, dtype=F64, generator=g), torch.randn(n, dtype=F64, generator=g)
    return p, q, u, base_p, base_q


@pytest.mark.parametrize("wrt", ["p", "q", "pq"])
def test_wallis_matches_the_ratio_evaluation(wrt):
    # The same convergents: g and the brackets after 12 pairs, to rounding.
    p, q, u, base_p, base_q = _random_tails(4000, 3)
    lentz = implicit._Lentz(p, q, u, base_p, base_q, wrt=wrt)
    for eager in (False, True):
        wallis = implicit._Wallis(p, q, u, base_p, base_q, wrt=wrt, eager=eager)
        for _ in range(12):
            wallis.pair()
        got = wallis.results()
        if not eager:
            for _ in range(12):
                lentz.pair()
            want = lentz.results()
        for x, y in zip(got, want):
            assert (x is None) == (y is None)
            if x is not None:
                err = ((x - y).abs() / y.abs().clamp(min=1.0)).max().item()
                assert err < 1e-12, err


def test_rescaling_leaves_the_results():
    p, q, u, base_p, base_q = _random_tails(2000, 4)
    results = []
    for every in (1, 3, 10**6):
        implicit_state = implicit._Wallis(p, q, u, base_p, base_q, eager=True)
        old = implicit._RESCALE_PAIRS
        implicit._RESCALE_PAIRS = every
        try:
            for _ in range(20):
                implicit_state.pair()
        finally:
            implicit._RESCALE_PAIRS = old
        results.append(implicit_state.results())
    for other in results[1:]:
        for x, y in zip(other, results[0]):
            assert torch.allclose(x, y, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "a, b, x",
    [
        (0.05, 3.0, 0.004),  # integer q: d_{2m+2} vanishes at m = 2
        (3.0, 0.05, 0.996),  # the same above the switch point (q = a = 3)
        (2.0, 5.0, 0.3),  # both integers, near the switch point 3/9
        (5e3, 1e-3, 1 - 2e-4),  # the slowest: many pairs, several rescalings
        (1e-3, 5e3, 2e-4),
        (30.0, 40.0, 31 / 72),  # right at the switch point
        (0.5, 20.5, 0.05),
    ],
)
@pytest.mark.parametrize("traced", [False, True])
def test_both_paths_match_mpmath(a, b, x, traced, monkeypatch):
    if traced:
        monkeypatch.setattr(implicit, "_has_values", lambda t: False)
    want = mp_gradients(a, b, x)
    at = [torch.tensor([v], dtype=F64) for v in (a, b, x)]
    d_a, d_b = implicit.beta_implicit_gradients(*at)
    for got, ref in ((d_a, want[0]), (d_b, want[1])):
        assert abs(got.item() / ref - 1) < 1e-10, (got.item(), ref)
    if not traced:
        first, _ = implicit._scaled_gradients(*at, 1 - at[2], F64, first_only=True)
        got = (at[2] * (1 - at[2]) * first).item()
        assert abs(got / want[0] - 1) < 1e-10, (got, want[0])


def test_traced_path_keeps_the_first_converged_values():
    # Run far past convergence, the traced values stay those of the eager path.
    p, q, u, base_p, base_q = _random_tails(3000, 5)
    tolerance = implicit._TOLERANCE[F64]
    traced = implicit._fraction_fixed(p, q, u, base_p, base_q, 150, tolerance)
    eager = implicit._fraction_adaptive([(p, q, u, base_p, base_q)], tolerance, "pq")
    for x, (y,) in zip(traced, eager):
        err = ((x - y).abs() / y.abs().clamp(min=1e-3)).max().item()
        assert err < 1e-12, err


def test_float32_first_only_against_mpmath():
    # float32 samples, float32 tolerance: within a few float32 ulps of mpmath.
    cases = [(0.05, 2.05, 0.01), (20.0, 1.5, 0.95), (0.5, 21.0, 0.02), (7.0, 2.05, 0.8)]
    a, b, x = (torch.tensor(c, dtype=torch.float32) for c in zip(*cases))
    x64 = x.double()
    args = (a.double(), b.double(), x64, 1 - x64, torch.float32)
    h, _ = implicit._scaled_gradients(*args, first_only=True)
    for i in range(len(cases)):
        want = mp_gradients(float(a[i]), float(b[i]), float(x64[i]))[0]
        got = (x64[i] * (1 - x64[i]) * h[i]).float().item()
        assert abs(got / want - 1) < 4 * 2.0**-24, (got, want)


@pytest.mark.parametrize(
    "a, b, x",
    [
        (0.33, 9430.0, 3.08784e-4),  # upper tail: p = b, u = 1 - x ~ 0.9997
        (9484.0, 0.203, 0.999848),  # lower tail: p = a, u = x ~ 0.9998
        (9967.0, 0.08408, 0.999686),
        (0.3123, 9953.0, 1.45272e-4),
        (7637.0, 336.3, 0.951557),  # u ~ 0.95
    ],
)
@pytest.mark.parametrize("traced", [False, True])
def test_float32_gradients_near_u_one_stay_at_their_rounding(a, b, x, traced, monkeypatch):
    # As u -> 1 the fraction converges slowly and its last step understates the error left:
    # an unscaled float32 tolerance left these up to 11 float32 ulps off mpmath.
    if traced:
        monkeypatch.setattr(implicit, "_has_values", lambda t: False)
    at = [torch.tensor([v], dtype=torch.float32) for v in (a, b, x)]
    want = mp_gradients(*(t.item() for t in at))
    for got, ref in zip(implicit.beta_implicit_gradients(*at), want):
        ulp = torch.finfo(torch.float32).eps * 2.0 ** math.floor(math.log2(abs(ref)))
        assert abs(got.item() - ref) <= ulp, (got.item(), ref, abs(got.item() - ref) / ulp)


def test_float32_tolerances_follow_their_entries_through_compaction():
    # The slow entries near u = 1 among many that converge at the first test: their own
    # (smaller) tolerances must follow them when the converged entries are dropped.
    slow = [(0.33, 9430.0, 3.08784e-4), (9484.0, 0.203, 0.999848), (9967.0, 0.08408, 0.999686)]
    cases = [slow[i % 3] if i % 7 == 0 else (2.0, 3.0, 0.01) for i in range(700)]
    a, b, x = (torch.tensor(c, dtype=torch.float32) for c in zip(*cases))
    d_a, d_b = implicit.beta_implicit_gradients(a, b, x)
    for i in range(0, 700, 7):
        want = mp_gradients(a[i].item(), b[i].item(), x[i].item())
        for got, ref in zip((d_a[i], d_b[i]), want):
            ulp = torch.finfo(torch.float32).eps * 2.0 ** math.floor(math.log2(abs(ref)))
            assert abs(got.item() - ref) <= ulp, (i, got.item(), ref)


def _dirichlet_vjp_full(alpha, x, grad):
    # The backward of implicit_dirichlet as full float64 tensors (the traced path's form).
    alpha64, x64, g = (t.to(F64) for t in (alpha, x, grad))
    y = implicit._exclusive_sum(x64)
    b = implicit._exclusive_sum(alpha64)
    h, _ = implicit._scaled_gradients(alpha64, b, x64, y, x.dtype, first_only=True)
    centered = g * y - implicit._exclusive_sum(x64 * g)
    return (x64 * h * centered).to(alpha.dtype)


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("shape", [(3000, 3), (400, 2, 7), (1, 2)])
def test_chunked_dirichlet_backward_is_the_full_one(shape, dtype, monkeypatch):
    # Chunks of rows: the same numbers, bit for bit, as the same formulas on full tensors. A
    # chunk of 1008 entries (whole rows of 2, 3 and 7: the same blocks both ways, as where
    # k divides _CHUNK; entries past convergence move by up to the tolerance) and several
    # chunks, whose survivors the fraction merges.
    monkeypatch.setattr(implicit, "_CHUNK", 1008)
    g = torch.Generator().manual_seed(3)
    alpha = 10.0 ** torch.empty(shape, dtype=F64).uniform_(-1, 2, generator=g)
    x = torch._sample_dirichlet(alpha, generator=g).clamp(min=1e-30).to(dtype)
    alpha, grad = alpha.to(dtype), torch.rand(shape, dtype=dtype, generator=g)
    want = _dirichlet_vjp_full(alpha, x, grad)
    assert want.isfinite().all()
    assert torch.equal(implicit._dirichlet_vjp_chunked(alpha, x, grad), want)
    a = alpha.clone().requires_grad_()
    (through_autograd,) = torch.autograd.grad((implicit.implicit_dirichlet(a, x) * grad).sum(), a)
    assert torch.equal(through_autograd, want)


def test_nan_and_endpoint_samples_end_the_fraction_at_once(monkeypatch):
    # A NaN, 0 or 1 sample makes its entry's terms NaN: it counts as converged at the first
    # test (it used to run all _MAX_PAIRS pairs, ~1 s per such entry per 1000) and stays NaN;
    # the other entries keep their gradients (checked against mpmath).
    g = torch.Generator().manual_seed(5)
    n = 3000
    a = 10.0 ** torch.empty(n, dtype=F64).uniform_(-1, 2, generator=g)
    b = 10.0 ** torch.empty(n, dtype=F64).uniform_(-1, 2, generator=g)
    x = torch.rand(n, dtype=F64, generator=g).clamp(1e-6, 1 - 1e-6)
    bad = torch.arange(0, n, 500)
    x[bad[0::3]], x[bad[1::3]], x[bad[2::3]] = 0.0, float("nan"), 1.0
    pairs = [0]
    pair = implicit._Wallis.pair

    def counted(self):
        pairs[0] += 1
        return pair(self)

    monkeypatch.setattr(implicit._Wallis, "pair", counted)
    d_a, d_b = implicit.beta_implicit_gradients(a, b, x)
    assert pairs[0] < 200  # ~1.2 sqrt(100) + 60 pairs reach 1e-13 at these parameters
    assert d_a[bad].isnan().all() and d_b[bad].isnan().all()
    good = torch.ones(n, dtype=torch.bool)
    good[bad] = False
    for i in good.nonzero().squeeze(1)[::300].tolist():
        want_a, want_b = mp_gradients(a[i].item(), b[i].item(), x[i].item())
        assert d_a[i].item() == pytest.approx(want_a, rel=1e-10)
        assert d_b[i].item() == pytest.approx(want_b, rel=1e-10)
