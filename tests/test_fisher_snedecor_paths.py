"""FisherSnedecor's fast paths against mpmath: the float32 entropy (shifted Stirling series, no
lgamma/digamma) and the textbook log-density tiers (direct, and widened to float64 with
``log1p(d1 x / d2)``), values over a wide grid, edges, and gradients."""

import math

import mpmath
import pytest
import torch

import aleatorch as D
from aleatorch.distributions import fisher_snedecor as module

EPS32 = torch.finfo(torch.float32).eps
EPS64 = torch.finfo(torch.float64).eps

# degrees of freedom from the smallest the float32 entropy takes to the largest
DF = [
    2.0**-99,
    1e-20,
    1e-6,
    1e-3,
    0.1,
    0.5,
    1.0,
    1.5,
    2.0,
    3.0,
    7.0,
    8.0,
    9.5,
    19.9,
    20.0,
    40.0,
    1e3,
    1e5,
    3e7,
    1e8,
]


def _pairs(values):
    d1 = torch.tensor([x for x in values for _ in values], dtype=torch.float32)
    d2 = torch.tensor([y for _ in values for y in values], dtype=torch.float32)
    return d1, d2


def _mp_entropy(df1: float, df2: float):
    with mpmath.workdps(120):
        d1, d2 = mpmath.mpf(df1), mpmath.mpf(df2)
        a, b = d1 / 2, d2 / 2
        lb = mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
        return (
            mpmath.log(d2 / d1)
            + lb
            + (1 - a) * mpmath.digamma(a)
            - (1 + b) * mpmath.digamma(b)
            + (a + b) * mpmath.digamma(a + b)
        )


def _mp_log_prob(df1: float, df2: float, x: float):
    with mpmath.workdps(60):
        d1, d2, X = mpmath.mpf(df1), mpmath.mpf(df2), mpmath.mpf(x)
        a, b = d1 / 2, d2 / 2
        lb = mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
        return (
            a * mpmath.log(d1 / d2)
            + ((a - 1) * mpmath.log(X) if a != 1 else 0)
            - (a + b) * mpmath.log1p(d1 * X / d2)
            - lb
        )


def _log_error(ours: float, truth) -> float:
    return abs(ours - float(truth)) / max(1.0, abs(float(truth)))


def test_float32_entropy_matches_mpmath_over_a_wide_grid():
    d1, d2 = _pairs(DF)
    assert module._float32_entropy_applies(d1, d2)
    out = D.FisherSnedecor(d1, d2).entropy()
    assert out.dtype == torch.float32
    worst = max(
        _log_error(o, _mp_entropy(p, q))
        for o, p, q in zip(out.tolist(), d1.tolist(), d2.tolist(), strict=True)
    )
    assert worst <= 8 * EPS32, worst / EPS32  # measured 3 eps; the budget is 100


def test_float32_entropy_in_blocks_equals_one_call():
    g = torch.Generator().manual_seed(3)
    d1 = torch.exp(torch.randn(300_001, generator=g) * 4).clamp(1e-3, 1e7)
    d2 = torch.exp(torch.randn(300_001, generator=g) * 4).clamp(1e-3, 1e7)
    blocked = D.FisherSnedecor(d1, d2).entropy()
    whole = module._entropy_float32(d1, d2)
    assert torch.equal(blocked, whole)
    exact = D.FisherSnedecor(d1.double(), d2.double()).entropy()
    err = ((blocked.double() - exact).abs() / exact.abs().clamp(min=1)).max().item()
    # measured over 2M random pairs: <= 10 eps for df >= 1, up to 35 eps for nearly equal
    # df below 1 (terms ~30 cancel to ~1 there); the budget is 100
    assert err <= 48 * EPS32, err / EPS32


def test_float32_entropy_path_selection():
    inside = torch.tensor([0.5, 1e8])
    assert module._float32_entropy_applies(inside, inside)
    for outside in ([0.5, 2e8], [2.0**-101, 1.0], [0.5, math.nan]):
        t = torch.tensor(outside)
        assert not module._float32_entropy_applies(t, inside)
        assert not module._float32_entropy_applies(inside, t)
    assert not module._float32_entropy_applies(inside.double(), inside.double())
    # outside the range, the exact float64 form: still right
    d = D.FisherSnedecor(torch.tensor([2e8, 3.0]), torch.tensor([5.0, 1e9]))
    for o, p, q in zip(d.entropy().tolist(), [2e8, 3.0], [5.0, 1e9], strict=True):
        assert _log_error(o, _mp_entropy(p, q)) <= 4 * EPS32


def test_float32_entropy_gradients_match_the_float64_form():
    d1 = torch.tensor([1e-3, 0.5, 1.0, 3.0, 9.5, 40.0, 1e3, 1e6], requires_grad=True)
    d2 = torch.tensor([2e-3, 2.0, 1e5, 7.0, 9.5, 12.0, 5.0, 2e6], requires_grad=True)
    g1, g2 = torch.autograd.grad(D.FisherSnedecor(d1, d2).entropy().sum(), (d1, d2))
    e1 = d1.detach().double().requires_grad_()
    e2 = d2.detach().double().requires_grad_()
    h1, h2 = torch.autograd.grad(D.FisherSnedecor(e1, e2).entropy().sum(), (e1, e2))
    for ours, exact in ((g1, h1), (g2, h2)):
        assert torch.allclose(ours.double(), exact, rtol=1e-5, atol=1e-12), (ours, exact)
    # and by finite differences of the float64 truth at one point
    h = 1e-6
    f = lambda p, q: float(_mp_entropy(p, q))  # noqa: E731
    fd = (f(3.0 + h, 7.0) - f(3.0 - h, 7.0)) / (2 * h)
    assert abs(g1[3].item() - fd) < 1e-4 * max(1.0, abs(fd))


XS = [0.0, 1e-30, 1e-6, 0.3, 0.999, 1.0, 1.0009765625, 3.0, 1e6, 1e30, math.inf]
LOG_PROB_DF = [1e-3, 0.5, 1.0, 2.0, 3.0, 9.5, 20.0, 21.0, 40.0, 1e3, 1e6, 1e8]


def _edge(df1: float, x: float) -> float | None:
    if x == math.inf:
        return -math.inf
    if x == 0.0:
        a = df1 / 2
        return math.inf if a < 1 else (-math.inf if a > 1 else None)
    return None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_prob_tiers_match_mpmath(dtype):
    """df <= 20: the direct tier in the parameters' dtype; float32 up to 1e8: the widened
    tier (log1p of d1 x / d2 in float64); beyond or float64 over 20: the exact form."""
    # the direct float32 tier (df <= 20, lgamma in float32) measured <= 19 eps, as before
    budget = 32 * EPS32 if dtype == torch.float32 else 64 * EPS64
    d1, d2 = _pairs(LOG_PROB_DF)
    d1, d2 = d1.to(dtype), d2.to(dtype)
    xs = torch.tensor(XS, dtype=dtype)
    for _lo, hi in ((0, 7), (0, len(LOG_PROB_DF))):  # every df <= 20, then all of them
        keep = (d1 <= LOG_PROB_DF[hi - 1]) & (d2 <= LOG_PROB_DF[hi - 1])
        p, q = d1[keep], d2[keep]
        d = D.FisherSnedecor(p.unsqueeze(-1), q.unsqueeze(-1), validate_args=False)
        out = d.log_prob(xs)
        assert out.dtype == dtype
        for i, (df1, df2) in enumerate(zip(p.tolist(), q.tolist(), strict=True)):
            for j, x in enumerate(xs.tolist()):
                ours = out[i, j].item()
                edge = _edge(df1, x)
                if edge is not None:
                    assert ours == edge, (df1, df2, x, ours)
                    continue
                truth = _mp_log_prob(df1, df2, x)
                assert _log_error(ours, truth) <= budget, (df1, df2, x, ours, float(truth))


def test_widened_log_prob_float64_values_take_the_exact_form():
    d = D.FisherSnedecor(torch.tensor([3.0, 50.0]), torch.tensor([40.0, 7.0]), validate_args=False)
    x = torch.tensor([0.0, 2.5, math.inf], dtype=torch.float64)
    out = d.log_prob(x.unsqueeze(-1))
    assert out.dtype == torch.float64
    assert out[0].tolist() == [-math.inf, -math.inf]
    assert out[2].tolist() == [-math.inf, -math.inf]
    for j, (df1, df2) in enumerate([(3.0, 40.0), (50.0, 7.0)]):
        assert _log_error(out[1, j].item(), _mp_log_prob(df1, df2, 2.5)) <= 64 * EPS64


def test_log_prob_at_zero_with_d1_two_is_the_constant():
    for df2 in (1.0, 12.0, 40.0, 1e4):
        for dtype in (torch.float32, torch.float64):
            d = D.FisherSnedecor(
                torch.tensor(2.0, dtype=dtype), torch.tensor(df2, dtype=dtype), validate_args=False
            )
            # p(0) = d1/d2 / B(1, b) = (2/d2) b = 1 for d1 = 2
            assert d.log_prob(torch.tensor(0.0, dtype=dtype)).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("df", [(3.0, 7.0), (0.7, 15.0), (30.0, 45.0), (2.0, 1e4)])
def test_log_prob_gradients_match_finite_differences(df):
    df1 = torch.tensor(df[0], dtype=torch.float64, requires_grad=True)
    df2 = torch.tensor(df[1], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.2, 1.0, 3.5], dtype=torch.float64, requires_grad=True)
    grads = torch.autograd.grad(D.FisherSnedecor(df1, df2).log_prob(x).sum(), (df1, df2, x))
    h = 1e-6

    def f(p, q, xs):
        return sum(float(_mp_log_prob(p, q, v)) for v in xs)

    base = [df[0], df[1]]
    for k in range(2):
        up, down = list(base), list(base)
        up[k] += h
        down[k] -= h
        fd = (f(*up, x.tolist()) - f(*down, x.tolist())) / (2 * h)
        assert abs(grads[k].item() - fd) < 1e-6 * max(1.0, abs(fd)), (k, grads[k], fd)
    for j, v in enumerate(x.tolist()):
        fd = (f(*base, [v + h]) - f(*base, [v - h])) / (2 * h)
        assert abs(grads[2][j].item() - fd) < 1e-6 * max(1.0, abs(fd))
    # the float32 widened tier gives the float64 gradients to float32 rounding
    p = torch.tensor(df[0], requires_grad=True)
    q = torch.tensor(df[1], requires_grad=True)
    x32 = x.detach().float().requires_grad_()
    g32 = torch.autograd.grad(D.FisherSnedecor(p, q).log_prob(x32).sum(), (p, q, x32))
    for ours, exact in zip(g32, grads, strict=True):
        assert torch.allclose(ours.double(), exact, rtol=1e-5, atol=1e-6)


def test_widened_log_prob_in_place_path_equals_the_differentiable_one():
    """float32 degrees over 20 and float32 values of the result's shape, nothing to
    differentiate: computed in place on the float64 copy; the same numbers as with grad."""
    df1 = torch.tensor([0.5, 2.0, 3.0, 50.0, 1e6])
    df2 = torch.tensor([40.0, 30.0, 1e8, 7.0, 2.0])
    xs = torch.tensor([0.0, 1e-30, 0.3, 1.0, 3.0, 1e30, math.inf])
    value = xs.unsqueeze(-1).expand(-1, 5).contiguous()
    d = D.FisherSnedecor(df1, df2, validate_args=False)
    fast = d.log_prob(value)
    with torch.enable_grad():
        slow = D.FisherSnedecor(df1.requires_grad_(), df2, validate_args=False).log_prob(value)
    assert torch.equal(fast, slow.detach())
    for i, x in enumerate(xs.tolist()):
        for j, (p, q) in enumerate(zip(df1.tolist(), df2.tolist(), strict=True)):
            edge = _edge(p, x)
            if x == 0.0 and edge is None:
                edge = float(_mp_log_prob(p, q, 0.0))
            if edge is not None:
                assert fast[i, j].item() == pytest.approx(edge, abs=1e-6), (p, q, x)
            else:
                truth = _mp_log_prob(p, q, x)
                assert _log_error(fast[i, j].item(), truth) <= 8 * EPS32, (p, q, x)
