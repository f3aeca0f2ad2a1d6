"""Special functions against independent references (scipy, and mpmath at high precision)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

from aleatorch.special import incomplete_beta as ib
from aleatorch.special import x_log1p_y, x_log_y
from aleatorch.special.incomplete_beta import betainc, betaincc, log_betainc
from aleatorch.special.xlogy import _FUSED_BELOW

# --------------------------------------------------------------------------------------------
# An independent reference: Numerical Recipes' continued fraction with modified Lentz, run to
# convergence in 40-digit arithmetic (mpmath's own betainc fails to converge for a, b ~ 1e5).
# --------------------------------------------------------------------------------------------


def _mp_fraction(a, b, x):
    tiny = mpmath.mpf(10) ** -120
    eps = mpmath.mpf(10) ** -35
    c, d = mpmath.mpf(1), 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        for coefficient in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + coefficient * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + coefficient / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1) < eps:
            return h
    raise RuntimeError("reference continued fraction did not converge")


def _mp_lower(a, b, x):
    if x == 0:
        return mpmath.mpf(0)
    log_kernel = a * mpmath.log(x) + b * mpmath.log1p(-x) - mpmath.log(mpmath.beta(a, b))
    return mpmath.exp(log_kernel) * _mp_fraction(a, b, x) / a


def reference(a: float, b: float, x: float):
    """``(I_x(a, b), 1 - I_x(a, b))`` for exact binary inputs, to ~35 digits."""
    with mpmath.workdps(40):
        a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
        if x * (a + b + 2) > a + 1:
            w = _mp_lower(b, a, 1 - x)
            return 1 - w, w
        w = _mp_lower(a, b, x)
        return w, 1 - w


def _tolerance(value) -> float:
    """Relative tolerance in float64: the log-space kernel costs a few ulps of ``|log I|``."""
    return 1e-13 + 4e-16 * abs(float(mpmath.log(value)))


def _hard_points() -> list[tuple[float, float, float]]:
    """Points across every method and every switch between them (float64-exact)."""
    points = []
    grid = [1e-3, 0.05, 0.7, 3.5, 40.0, 600.0, 1e4, 1e5]
    for a in grid:
        for b in grid:
            mean = a / (a + b)
            sd = math.sqrt(a * b / (a + b) ** 2 / (a + b + 1))
            for z in (-12.0, -3.0, 0.0, 2.0):
                x = min(max(mean + z * sd, 0.0), 1.0)
                if 0 < x < 1:
                    points.append((a, b, x))
            points += [(a, b, 1e-300), (a, b, 1e-5), (a, b, 0.3), (a, b, 1 - 2**-52)]
    # Temme's expansion at the edges of its domain (min(a, b) = 300, |z| = 4)
    for a, b in [(300.0, 300.0), (299.0, 1e5), (301.0, 1e5), (1e5, 1e5), (2e3, 7e4)]:
        mean = a / (a + b)
        sd = math.sqrt(a * b / (a + b) ** 2 / (a + b + 1))
        points += [(a, b, mean + z * sd) for z in (-4.2, -3.9, -1.0, 0.3, 3.9, 4.2)]
    # large a, small b: the continued fraction's slow corner a (1 - x) ~ 1 + b
    for a in (50.0, 1e4, 1e5):
        for b in (1e-3, 0.3, 0.97, 1.5, 2.5):
            points += [(a, b, 1 - z / a) for z in (0.5, 1.0, 1.9, 2.1, 3.0, 6.0)]
            points += [(b, a, z / a) for z in (0.5, 1.9, 2.1)]
    # a small: I_x(a, b) close to 1 at moderate x, where 1 - I would cancel
    for a in (1e-3, 0.02):
        for b in (1e-3, 0.4, 3.0, 80.0, 1e5):
            points += [(a, b, x) for x in (1e-8, 0.01, 0.24, 0.26, 0.6)]
    # the power series at the edge of its domain (x = 1/4, b x = 2)
    points += [(0.99, 0.995, 0.25), (0.6, 0.7, 0.2499), (0.3, 8.0, 0.25), (0.01, 1e3, 2e-3)]
    return points


@pytest.fixture(scope="module")
def hard_points():
    points = _hard_points()
    a, b, x = (torch.tensor(v, dtype=torch.float64) for v in zip(*points))
    return a, b, x, [reference(*p) for p in points]


def test_float64_matches_high_precision_reference(hard_points):
    a, b, x, truth = hard_points
    lower, upper, log_lower = betainc(a, b, x), betaincc(a, b, x), log_betainc(a, b, x)
    worst = 0.0
    for i, (t_lower, t_upper) in enumerate(truth):
        for ours, t in ((lower[i], t_lower), (upper[i], t_upper)):
            if t > mpmath.mpf("1e-300"):  # representable without underflow
                err = float(abs(mpmath.mpf(ours.item()) / t - 1))
                worst = max(worst, err / _tolerance(t))
                assert err <= _tolerance(t), (a[i].item(), b[i].item(), x[i].item(), err)
        if t_lower > 0:
            # log I relative to |log I|; near I = 1, log I ~ -(1 - I) has 1 - I's accuracy
            t_log = mpmath.log(t_lower) if t_upper > 0.5 else mpmath.log1p(-t_upper)
            if abs(t_log) < 1e-300:  # underflows
                assert abs(log_lower[i].item()) < 1e-300
                continue
            err = float(abs(mpmath.mpf(log_lower[i].item()) - t_log) / abs(t_log))
            assert err <= _tolerance(min(t_lower, t_upper)), (a[i].item(), b[i].item(), x[i].item())
    assert worst > 0  # the comparison did run


def test_float32_matches_high_precision_reference(hard_points):
    a, b, x, _ = hard_points
    a, b, x = a.float(), b.float(), x.float()
    lower, upper = betainc(a, b, x), betaincc(a, b, x)
    assert lower.dtype == upper.dtype == torch.float32
    # the reference at the float32 inputs themselves (exact in float64)
    for i in range(0, len(x), 3):
        t_lower, t_upper = reference(a[i].item(), b[i].item(), x[i].item())
        for ours, t in ((lower[i], t_lower), (upper[i], t_upper)):
            if t > mpmath.mpf("1e-37"):  # normal float32 range
                assert abs(mpmath.mpf(ours.item()) / t - 1) <= 2e-7, (a[i], b[i], x[i])


def test_broad_grid_matches_scipy():
    p = np.logspace(-3, 5, 9)
    xs = [0.0, 1e-300, 1e-100, 1e-10, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1 - 1e-10, 1 - 2**-53]
    a, b, x = (v.ravel() for v in np.meshgrid(p, p, xs + [1.0], indexing="ij"))
    ours = betainc(*(torch.tensor(v) for v in (a, b, x))).numpy()
    ours_c = betaincc(*(torch.tensor(v) for v in (a, b, x))).numpy()
    for value, ref in (
        (ours, scipy.special.betainc(a, b, x)),
        (ours_c, scipy.special.betaincc(a, b, x)),
    ):
        # scipy (Boost) itself is off by up to ~2e-12 in places on this grid
        np.testing.assert_allclose(value, ref, rtol=5e-12, atol=0)
    assert np.all(ours[x == 0] == 0) and np.all(ours[x == 1] == 1)


def test_log_betainc_where_betainc_underflows():
    a = torch.tensor([2.0, 50.0, 1e3, 7.5], dtype=torch.float64)
    b = torch.tensor([3.0, 0.5, 1e3, 1e4], dtype=torch.float64)
    x = torch.tensor([1e-300, 1e-30, 0.1, 1e-3], dtype=torch.float64)
    ours = log_betainc(a, b, x)
    assert torch.all(betainc(a, b, x)[:3] == 0)  # underflows
    for i in range(len(x)):
        truth = mpmath.log(reference(a[i].item(), b[i].item(), x[i].item())[0])
        assert abs(ours[i].item() / float(truth) - 1) < 1e-14


def test_complement_uses_one_minus_x():
    # x = 1 - 1e-20 is 1.0 in float64; its complement is only available through one_minus_x
    a = torch.tensor([2.0, 0.5, 30.0], dtype=torch.float64)
    b = torch.tensor([3.0, 4.0, 0.7], dtype=torch.float64)
    y = torch.tensor([1e-20, 1e-60, 3e-7], dtype=torch.float64)
    ours = betaincc(a, b, 1 - y, one_minus_x=y)
    for i in range(3):
        truth = reference(b[i].item(), a[i].item(), y[i].item())[0]  # I_y(b, a)
        assert abs(ours[i].item() / float(truth) - 1) < _tolerance(truth)
    assert torch.equal(betaincc(a, b, 1 - y)[:2], torch.zeros(2, dtype=torch.float64))


def test_symmetry():
    g = torch.Generator().manual_seed(0)
    a = 10 ** (torch.rand(2000, generator=g, dtype=torch.float64) * 8 - 3)
    b = 10 ** (torch.rand(2000, generator=g, dtype=torch.float64) * 8 - 3)
    x = torch.rand(2000, generator=g, dtype=torch.float64)
    y = 1 - x
    x = 1 - y  # now 1 - x is exact both ways
    torch.testing.assert_close(
        betainc(a, b, x) + betainc(b, a, y), torch.ones_like(x), rtol=0, atol=4e-16
    )
    torch.testing.assert_close(betainc(a, b, x), betaincc(b, a, y), rtol=0, atol=0)


def test_derivative_in_x_is_the_beta_density():
    a = torch.tensor([0.5, 2.0, 30.0, 1e3, 0.01, 4e4], dtype=torch.float64)
    b = torch.tensor([0.7, 3.0, 40.0, 2e3, 50.0, 4.5e4], dtype=torch.float64)
    x = torch.tensor([0.3, 0.5, 0.45, 0.34, 1e-3, 0.4701], dtype=torch.float64, requires_grad=True)
    density = scipy.stats.beta.pdf(x.detach().numpy(), a.numpy(), b.numpy())
    cdf = scipy.stats.beta.cdf(x.detach().numpy(), a.numpy(), b.numpy())
    for fn, expected in ((betainc, density), (betaincc, -density), (log_betainc, density / cdf)):
        (grad,) = torch.autograd.grad(fn(a, b, x).sum(), x)
        np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-11)


def test_derivative_at_the_edges():
    a = torch.tensor([0.5, 1.0, 3.0, 2.0], dtype=torch.float64)
    b = torch.tensor([2.0, 4.0, 1.0, 0.5], dtype=torch.float64)
    x = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(betainc(a, b, x).sum(), x)
    torch.testing.assert_close(grad, torch.tensor([math.inf, 4.0, 3.0, math.inf]).double())


def test_gradient_in_x_alongside_the_parameters():
    # (the parameter derivatives themselves: tests/test_special_incomplete_beta_gradients.py)
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    x = torch.tensor([0.2, 0.7], requires_grad=True)
    grad_x, grad_a = torch.autograd.grad(betainc(a, 1.5, x).sum(), (x, a))
    expected = scipy.stats.beta.pdf([0.2, 0.7], [2.0, 3.0], 1.5)
    np.testing.assert_allclose(grad_x.numpy(), expected, rtol=1e-6)
    assert (grad_a < 0).all()  # I_x(a, b) decreases in a


def test_shapes_dtypes_and_domain():
    a = torch.tensor([[1.0], [2.0]])
    out = betainc(a, torch.tensor([1.0, 2.0, 3.0]), 0.5)
    assert out.shape == (2, 3) and out.dtype == torch.float32
    assert betainc(2.0, 3.0, 0.5).dtype == torch.get_default_dtype()
    bad = betainc(
        torch.tensor([-1.0, 1.0, 1.0, 1.0, math.nan]),
        torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0]),
        torch.tensor([0.5, 0.5, -0.1, 1.1, 0.5]),
    )
    assert torch.isnan(bad).all()


def test_chunked_evaluation_matches(monkeypatch):
    g = torch.Generator().manual_seed(1)
    a = 10 ** (torch.rand(3000, generator=g, dtype=torch.float64) * 8 - 3)
    b = 10 ** (torch.rand(3000, generator=g, dtype=torch.float64) * 8 - 3)
    x = torch.rand(3000, generator=g, dtype=torch.float64)
    whole = betainc(a, b, x)
    monkeypatch.setattr(ib, "_CHUNK", 512)
    assert torch.equal(betainc(a, b, x), whole)


def test_vmap():
    a = torch.tensor([0.5, 2.0, 30.0], dtype=torch.float64)
    x = torch.rand(4, 3, dtype=torch.float64)
    batched = torch.func.vmap(lambda v: betainc(a, 3.0, v))(x)
    torch.testing.assert_close(batched, betainc(a, 3.0, x), rtol=0, atol=0)
    grads = torch.func.vmap(torch.func.grad(lambda v: betainc(a, 3.0, v).sum()))(x)
    expected = scipy.stats.beta.pdf(x.numpy(), a.numpy(), 3.0)
    np.testing.assert_allclose(grads.numpy(), expected, rtol=1e-11)


def test_temme_coefficients():
    # sum_j f_j(theta) zeta^j = zeta / v where, with t = x0 + sqrt(x0 y0) v and rho^2 = x0 / y0,
    # zeta^2 / 2 = -x0 log(1 + v / rho) - y0 log(1 - rho v): check the truncated series there.
    f = ib._temme_polynomials(12)
    with mpmath.workdps(40):
        for x0 in (mpmath.mpf("0.5"), mpmath.mpf("0.1"), mpmath.mpf("0.97")):
            y0 = 1 - x0
            rho = mpmath.sqrt(x0 / y0)
            theta = rho - 1 / rho
            for v in (mpmath.mpf("0.02"), mpmath.mpf("-0.03")):
                half_square = -x0 * mpmath.log1p(v / rho) - y0 * mpmath.log1p(-rho * v)
                zeta = mpmath.sign(v) * mpmath.sqrt(2 * half_square)
                series = sum(
                    sum(c * theta**k for k, c in enumerate(fj)) * zeta**j for j, fj in enumerate(f)
                )
                assert abs(series / (zeta / v) - 1) < 1e-17
    assert f[1] == [0, ib.Fraction(1, 3)]  # f_1 = theta / 3


@pytest.mark.slow
def test_torch_compile_fullgraph():
    a = torch.tensor([0.5, 2.0, 30.0, 1e3], dtype=torch.float64)
    b = torch.tensor([0.7, 3.0, 40.0, 2e3], dtype=torch.float64)
    x = torch.tensor([0.3, 0.5, 0.4, 0.33], dtype=torch.float64, requires_grad=True)
    compiled = torch.compile(lambda a, b, x: log_betainc(a, b, x), fullgraph=True)
    value = compiled(a, b, x)
    torch.testing.assert_close(value, log_betainc(a, b, x), rtol=0, atol=0)
    (grad,) = torch.autograd.grad(value.sum(), x)
    expected = (
        scipy.stats.beta.pdf(x.detach().numpy(), a.numpy(), b.numpy())
        / value.exp().detach().numpy()
    )
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-11)


# x_log_y / x_log1p_y: torch.special.xlogy / xlog1py are the oracle, on both sides of the
# size threshold where the fused call gives way to a log and a multiply.
XLOG = [
    ("x_log_y", x_log_y, torch.special.xlogy, torch.log, [0.0, 1e-300, 0.3, 1.0, 7.0]),
    ("x_log1p_y", x_log1p_y, torch.special.xlog1py, torch.log1p, [-1.0, -0.7, 0.0, 1e-20, 3.0]),
]
XLOG_SIZES = {"fused": 15, "two_passes": 15 * (_FUSED_BELOW // 15 + 1)}


def _xlog_inputs(ys, n, dtype):
    """Every pair of a coefficient in (0, 2.5, -1.5) and a ``y`` in ``ys``, repeated to n."""
    c, y = torch.meshgrid(torch.tensor([0.0, 2.5, -1.5]), torch.tensor(ys), indexing="ij")
    repeats = n // c.numel()
    return c.reshape(-1).repeat(repeats).to(dtype), y.reshape(-1).repeat(repeats).to(dtype)


@pytest.mark.parametrize("size", XLOG_SIZES.values(), ids=XLOG_SIZES.keys())
@pytest.mark.parametrize("name, ours, oracle, log, ys", XLOG, ids=[x[0] for x in XLOG])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_x_log_y_values_match_torch(name, ours, oracle, log, ys, size, dtype):
    c, y = _xlog_inputs(ys, size, dtype)
    assert (y.numel() < _FUSED_BELOW) == (size == XLOG_SIZES["fused"])
    # Rounding the log before multiplying may differ from the fused op by an ulp.
    tol = {"rtol": 2 * torch.finfo(dtype).eps, "atol": 0}
    torch.testing.assert_close(ours(c, y), oracle(c, y), **tol)
    # 0 * log 0 = 0, not NaN; a nonzero coefficient times log 0 is infinite.
    edge = log(y) == -math.inf
    assert bool(edge.any()) and bool((ours(c, y)[edge & (c == 0)] == 0).all())
    assert bool(ours(c, y)[edge & (c != 0)].isinf().all())
    # A coefficient that broadcasts into y, and one that y broadcasts into.
    torch.testing.assert_close(ours(c[1:2], y), oracle(c[1:2], y), **tol)
    wide = torch.stack([c, c + 1])
    torch.testing.assert_close(ours(wide, y), oracle(wide, y), **tol)


@pytest.mark.parametrize("size", XLOG_SIZES.values(), ids=XLOG_SIZES.keys())
@pytest.mark.parametrize("name, ours, oracle, log, ys", XLOG, ids=[x[0] for x in XLOG])
def test_x_log_y_gradient_in_the_coefficient_is_the_log(name, ours, oracle, log, ys, size):
    c, y = _xlog_inputs(ys, size, torch.float64)
    finite = log(y) > -math.inf
    c, y = c[finite].requires_grad_(), y[finite].requires_grad_()
    grad_c, grad_y = torch.autograd.grad(ours(c, y).sum(), (c, y))
    # Also where the coefficient is 0: d/dc (c log y) = log y.
    torch.testing.assert_close(grad_c, log(y.detach()), rtol=1e-15, atol=0)
    expected_y = torch.autograd.grad(oracle(c, y).sum(), y)[0]
    torch.testing.assert_close(grad_y, expected_y, rtol=1e-15, atol=0)
