"""VonMises cdf, survival function and their logs against 50-digit mpmath quadrature (issue 9):
far tails in log space (masses like e^-1881 at concentration 1e3, which underflow float64),
relative accuracy of small cdf and sf values at moderate concentrations, and gradients there
(d cdf/dx = density by autograd, loc and concentration by finite differences)."""

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D

F64 = torch.float64


def log_arc(a, b, loc, kappa):
    """log P(a <= X <= b) for X ~ VonMises(loc, kappa), a <= b <= a + 2 pi, by 50-digit
    quadrature: the arc (centred on loc) is cut at the multiples of pi, and each monotone
    piece is integrated from its denser end d0 as int exp(k (cos(d0 +- v) - cos(d0))) dv
    (geometric sub-intervals from v = 0), weighted by exp(k (cos d0 - 1))."""
    with mp.workdps(50):
        k = mp.mpf(kappa)
        # "pi" / "-pi" stand for the exact ends of the window (built at 50 digits here)
        ends = {"pi": +mp.pi, "-pi": -mp.pi}
        lo = (ends[a] if isinstance(a, str) else mp.mpf(a)) - mp.mpf(loc)
        hi = (ends[b] if isinstance(b, str) else mp.mpf(b)) - mp.mpf(loc)
        cuts = [lo] + [mp.pi * j for j in range(-6, 7) if lo < mp.pi * j < hi] + [hi]
        logs = []
        for p, q in zip(cuts[:-1], cuts[1:]):
            if q <= p:
                continue
            d0, sign = (p, 1) if mp.cos(p) >= mp.cos(q) else (q, -1)
            span = q - p
            rate = max(k * abs(mp.sin(d0)), mp.sqrt(k), 1)
            points = sorted(
                {mp.mpf(0), span} | {min(span, mp.mpf(2) ** j / rate) for j in range(-4, 90)}
            )

            def f(v, d0=d0, sign=sign):
                return mp.exp(k * (mp.cos(d0 + sign * v) - mp.cos(d0)))

            logs.append(k * (mp.cos(d0) - 1) + mp.log(mp.quad(f, points)))
        top = max(logs)
        total = top + mp.log(mp.fsum(mp.exp(x - top) for x in logs))
        return total - mp.log(2 * mp.pi * mp.besseli(0, k) * mp.exp(-k))


def log_cdf_ref(x, loc, kappa):
    return log_arc("-pi", x, loc, kappa)


def log_sf_ref(x, loc, kappa):
    return log_arc(x, "pi", loc, kappa)


def dist(loc, kappa, dtype=F64):
    return D.VonMises(torch.tensor(loc, dtype=dtype), torch.tensor(kappa, dtype=dtype))


# Far tails at kappa = 1e3: arcs near the antimode (loc + pi) and arcs on either side of it.
FAR = [
    (0.5, 1e3, -3.1),  # log_cdf -1881.2 (torch-free reference: docs/accuracy.md)
    (0.5, 1e3, -2.0),
    (0.5, 1e3, 2.0),  # log_sf -933.6
    (0.5, 1e3, 3.1),
    (0.0, 1e3, -2.0),
    (0.0, 1e3, 1.5),
    (-2.0, 5e4, 2.0),
    (3.0, 1e6, -3.0),
    (1.0, 300.0, -3.1),
]


@pytest.mark.parametrize("loc, kappa, x", FAR)
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_log_tails_far_below_the_smallest_float(loc, kappa, x, dtype):
    d = dist(loc, kappa, dtype)
    xt = torch.tensor(x, dtype=dtype)
    # the reference at the inputs rounded to the dtype
    args = [float(torch.tensor(v, dtype=dtype)) for v in (x, loc, kappa)]
    budget = 1e3 * 2.2e-16 if dtype == F64 else 1e2 * 1.2e-7
    for method, ref in [("log_cdf", log_cdf_ref), ("log_survival_function", log_sf_ref)]:
        expected = float(ref(*args))
        ours = float(getattr(d, method)(xt))
        assert math.isfinite(ours), (method, ours, expected)
        assert abs(ours - expected) <= budget * max(1.0, abs(expected)), (method, ours, expected)


# Small cdf and sf values at moderate concentrations, where a difference of two tails (or
# 1 - F near 1) loses digits: relative accuracy required.
SMALL = [
    (-2.0, 10.0, 3.1),  # sf 1.25e-4 (was 2e-12 relative)
    (-2.0, 10.0, 1.1622776601683795),
    (1.0, 20.0, -3.1),  # cdf 1e-15 between two upper tails of loc
    (0.0, 20.0, -2.5),  # cdf 1e-16
    (0.0, 24.0, 3.0),
    (2.0, 15.0, -3.0),
    (0.0, 1e-3, -3.14159),
    (0.0, 10.0, 3.141592653589793),  # sf = 0 exactly at pi... and cdf 1 - tiny
    (-1.0, 8.0, 0.5),
]


@pytest.mark.parametrize("loc, kappa, x", SMALL)
def test_small_cdf_and_sf_keep_relative_accuracy(loc, kappa, x):
    d = dist(loc, kappa)
    xt = torch.tensor(x, dtype=F64)
    cdf = mp.exp(log_cdf_ref(x, loc, kappa))
    sf = mp.exp(log_sf_ref(x, loc, kappa)) if x < math.pi else mp.mpf(0)
    for method, expected in [("cdf", cdf), ("survival_function", sf)]:
        ours = float(getattr(d, method)(xt))
        expected = float(expected)
        assert abs(ours - expected) <= 1e-13 * abs(expected) + 1e-300, (method, ours, expected)
    lc, ls = float(d.log_cdf(xt)), float(d.log_survival_function(xt))
    assert abs(lc - float(log_cdf_ref(x, loc, kappa))) <= 1e-13 * max(1.0, abs(lc))
    if x < math.pi:
        assert abs(ls - float(log_sf_ref(x, loc, kappa))) <= 1e-13 * max(1.0, abs(ls))


@pytest.mark.parametrize("loc, kappa, x", [(0.5, 1e3, -3.1), (0.5, 1e3, 2.0), (0.0, 60.0, 2.9)])
def test_log_tail_gradients(loc, kappa, x):
    """In the far tails: d log_cdf/dx = density / cdf and d log_sf/dx = -density / sf (by
    autograd, against the log density), and the loc and concentration derivatives by central
    differences of the 50-digit reference."""
    d = dist(loc, kappa)
    for method, ref, sign in [
        ("log_cdf", log_cdf_ref, 1.0),
        ("log_survival_function", log_sf_ref, -1.0),
    ]:
        xt = torch.tensor(x, dtype=F64, requires_grad=True)
        lt = torch.tensor(loc, dtype=F64, requires_grad=True)
        kt = torch.tensor(kappa, dtype=F64, requires_grad=True)
        value = getattr(D.VonMises(lt, kt), method)(xt)
        gx, gl, gk = torch.autograd.grad(value, [xt, lt, kt])
        slope = sign * torch.exp(d.log_prob(xt.detach()) - value.detach())
        torch.testing.assert_close(gx, slope, rtol=1e-10, atol=0)
        with mp.workdps(50):
            h = mp.mpf(10) ** -12
            fl = (ref(x, loc + h, kappa) - ref(x, loc - h, kappa)) / (2 * h)
            hk = h * kappa
            fk = (ref(x, loc, kappa + hk) - ref(x, loc, kappa - hk)) / (2 * hk)
        assert abs(float(gl) - float(fl)) <= 1e-9 * abs(float(fl)) + 1e-15, (method, gl, fl)
        assert abs(float(gk) - float(fk)) <= 1e-9 * abs(float(fk)) + 1e-15, (method, gk, fk)


@pytest.mark.parametrize("kappa", [10.0, 30.0, 100.0])
def test_cdf_slope_is_the_density_in_both_tails(kappa):
    """d cdf/dx and -d sf/dx by autograd equal the density to 1e-12 relative, also far in the
    tails, where the density is tiny next to the mass of the arc it ends (the rule's
    derivative alone would be accurate only next to that mass)."""
    loc = 0.3
    d = dist(loc, kappa)
    sd = min(1.0, 1 / math.sqrt(kappa))
    x = torch.tensor(
        [loc - 6 * sd, loc - sd, loc, loc + 2 * sd, loc + 6 * sd, 3.0, -3.0], dtype=F64
    )
    x = x.clamp(-3.1, 3.1).requires_grad_()
    (g_cdf,) = torch.autograd.grad(d.cdf(x).sum(), x)
    (g_sf,) = torch.autograd.grad(d.survival_function(x).sum(), x)
    density = d.log_prob(x.detach()).exp()
    torch.testing.assert_close(g_cdf, density, rtol=1e-12, atol=0)
    torch.testing.assert_close(-g_sf, density, rtol=1e-12, atol=0)


def test_tail_values_are_finite_and_ordered_for_huge_concentrations():
    # mass e^-(2 kappa sin^2) ~ e^-4e9 at kappa = 1e9: only its log is representable
    d = dist(0.0, 1e9)
    x = torch.tensor([-3.0, -1.0, 1.0, 3.0], dtype=F64)
    lc, ls = d.log_cdf(x), d.log_survival_function(x)
    assert torch.isfinite(lc).all() and torch.isfinite(ls).all()
    assert (lc[:2] < -1e8).all() and (ls[2:] < -1e8).all()
    assert lc[0] < lc[1] and ls[3] < ls[2]
    expected = float(log_cdf_ref(-1.0, 0.0, 1e9))
    assert abs(float(lc[1]) - expected) <= 1e3 * 2.2e-16 * abs(expected)
