"""Gamma, inverse-gamma and F tails at concentration 1e6, and the symmetric Beta median, against
mpmath at 50 digits (issue 9).

At concentration ``a`` the tails change by ``sqrt(a) z`` relative per unit of relative change
in their argument, so the rounding of ``rate * x`` (Gamma), ``rate / x`` (InverseGamma) or
``d1 x / (d1 x + d2)`` (FisherSnedecor) alone cost up to 2500 ulps at ``a = 1e6``. The
references are computed at the exact binary inputs: ``mpmath.gammainc`` and a 50-digit
continued fraction for the incomplete beta (tests/test_special.py's Lentz reference). The
tolerances here are a few tens of ulps (the incomplete functions' own error), well inside the
issue-9 budgets, and every case below was over them before the argument was carried as
``hi + lo`` (noted per test).
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from test_special import _mp_lower

import aleatorch as D

F64 = torch.float64
F32 = torch.float32


@pytest.fixture(autouse=True)
def _fifty_digits():
    with mpmath.workdps(50):
        yield


def ulps(ours: torch.Tensor, truth, log: bool = False) -> float:
    """Relative error in ulps of the dtype (for log forms relative to ``max(1, |truth|)``)."""
    value = float(ours)
    assert math.isfinite(value), (value, truth)
    scale = max(1, abs(truth)) if log else abs(truth)
    return float(abs(mpmath.mpf(value) - truth) / scale) / torch.finfo(ours.dtype).eps


def gamma_tails(a, y):
    """``(P(a, y), Q(a, y))`` at 50 digits (the smaller one computed directly)."""
    a, y = mpmath.mpf(a), mpmath.mpf(y)
    if y < a:
        p = mpmath.gammainc(a, 0, y, regularized=True)
        return p, 1 - p
    q = mpmath.gammainc(a, y, mpmath.inf, regularized=True)
    return 1 - q, q


def check_four(dist, x, lower, upper, tol, log_tol):
    """cdf, sf, log cdf and log sf of ``dist`` at ``x`` against ``(lower, upper)``."""
    errors = {
        "cdf": ulps(dist.cdf(x), lower),
        "sf": ulps(dist.survival_function(x), upper),
        "log_cdf": ulps(dist.log_cdf(x), mpmath.log(lower), log=True),
        "log_sf": ulps(dist.log_survival_function(x), mpmath.log(upper), log=True),
    }
    # only the smaller tail and the logs are tested at full relative precision: the larger
    # tail is 1 - (the smaller) and rounds to its own ulps near 1
    small = "cdf" if lower < upper else "sf"
    assert errors[small] <= tol, (float(x), errors)
    assert errors["log_cdf"] <= log_tol, (float(x), errors)
    assert errors["log_sf"] <= log_tol, (float(x), errors)


# --------------------------------------------------------------------------------------------
# Gamma(1e6, rate)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x", [989999936.0, 996999936.0, 998999936.0, 999899968.0, 1000499968.0, 1009999936.0]
)
def test_gamma_float32_tails_at_concentration_1e6(x):
    # before: rate * x rounded in float32: cdf(989999936) off by 1.7e-4 relative (1500 ulps),
    # log_cdf(998999936) = -1.8410219 for -1.8410472 (115 ulps)
    a, rate, xt = (torch.tensor(v, dtype=F32) for v in (1e6, 1e-3, x))
    lower, upper = gamma_tails(1e6, mpmath.mpf(float(rate)) * mpmath.mpf(float(xt)))
    check_four(D.Gamma(a, rate), xt, lower, upper, tol=4, log_tol=4)


@pytest.mark.parametrize("x", [9.95e6, 9.97e6, 9.99e6, 1.003e7, 1.005e7])
def test_gamma_float64_tails_at_concentration_1e6(x):
    # rate 0.1 is not a power of two: rate * x rounds; before: 380 to 1300 ulps
    a, rate, xt = (torch.tensor(v, dtype=F64) for v in (1e6, 0.1, x))
    lower, upper = gamma_tails(1e6, mpmath.mpf(float(rate)) * mpmath.mpf(float(xt)))
    check_four(D.Gamma(a, rate), xt, lower, upper, tol=30, log_tol=10)


# --------------------------------------------------------------------------------------------
# InverseGamma(1e6, 1): cdf = Q(a, 1 / x), sf = P(a, 1 / x)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        9.970090104616247e-07,
        9.990010312321829e-07,
        9.995002301366185e-07,
        1.0001000418924377e-06,
        1.0030090606960584e-06,
        1.0101009593199706e-06,
    ],
)
def test_inverse_gamma_float32_tails_at_concentration_1e6(x):
    # before: rate / x rounded in float32: sf(1.0101e-6) off by 1.3e-4 (1100 ulps)
    a, rate, xt = (torch.tensor(v, dtype=F32) for v in (1e6, 1.0, x))
    lower_y, upper_y = gamma_tails(1e6, 1 / mpmath.mpf(float(xt)))
    check_four(D.InverseGamma(a, rate), xt, upper_y, lower_y, tol=4, log_tol=4)


@pytest.mark.parametrize("k", [-10, -5, -3, 3, 5, 10])
def test_inverse_gamma_float64_tails_at_concentration_1e6(k):
    # x = 1 / (1e6 (1 + k / 1000)): before, cdf(9.900990099009902e-07) off by 4e-13 (1800
    # ulps) on 1.06e-23, and 390 to 1800 ulps at every point here
    x = float(1 / (mpmath.mpf(1e6) * (1 + mpmath.mpf(k) / 1000)))
    a, rate, xt = (torch.tensor(v, dtype=F64) for v in (1e6, 1.0, x))
    lower_y, upper_y = gamma_tails(1e6, 1 / mpmath.mpf(x))
    check_four(D.InverseGamma(a, rate), xt, upper_y, lower_y, tol=30, log_tol=15)


# --------------------------------------------------------------------------------------------
# FisherSnedecor(1e6, 1e6): cdf(x) = I_u(d1/2, d2/2), u = d1 x / (d1 x + d2)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [0.98, 0.99, 0.995, 1.006, 1.01])
def test_fisher_snedecor_float64_tails_at_1e6_degrees(x):
    # before: cdf(0.98) = 2.726699815436516e-24 for 2.72669981543500e-24 (2500 ulps), and
    # 400 to 700 ulps at the other points
    d = mpmath.mpf(1e6)
    u = d * mpmath.mpf(x) / (d * mpmath.mpf(x) + d)
    if u < 0.5:
        lower = _mp_lower(d / 2, d / 2, u)
        upper = 1 - lower
    else:
        upper = _mp_lower(d / 2, d / 2, 1 - u)
        lower = 1 - upper
    df = torch.tensor(1e6, dtype=F64)
    check_four(D.FisherSnedecor(df, df), torch.tensor(x, dtype=F64), lower, upper, 30, 10)


# --------------------------------------------------------------------------------------------
# The median of a symmetric Beta law
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a", [1e-3, 0.5, 3.0])
def test_symmetric_beta_median_is_one_half(a):
    # before: Beta(1e-3, 1e-3).icdf(0.5) = 0.5000000000003899 (the density there is 2e-3, so
    # the flat cdf's rounding came back multiplied by 500); off by an ulp or two at 0.5, 3
    c = torch.tensor(a, dtype=F64)
    half = torch.tensor(0.5, dtype=F64)
    assert float(D.Beta(c, c).icdf(half)) == 0.5
    assert float(D.special.betaincinv(c, c, half)) == 0.5
    assert float(D.special.betainccinv(c, c, half)) == 0.5


def test_symmetric_beta_median_gradients():
    # d x / d p = 1 / f(1/2); d x / d a = -(d/da I_{1/2}(a, b) + d/db I_{1/2}(a, b)) / f = 0
    # along a = b, and the parameters' gradients are each other's negatives there
    c1 = torch.tensor(0.7, dtype=F64, requires_grad=True)
    c0 = torch.tensor(0.7, dtype=F64, requires_grad=True)
    p = torch.tensor(0.5, dtype=F64, requires_grad=True)
    x = D.Beta(c1, c0).icdf(p)
    g1, g0, gp = torch.autograd.grad(x, (c1, c0, p))
    density = torch.exp(D.Beta(c1, c0).log_prob(torch.tensor(0.5, dtype=F64)))
    assert torch.allclose(gp, 1 / density, rtol=1e-12)
    assert torch.allclose(g1, -g0, rtol=1e-9)
    # against a mirrored finite difference of the quantile off the median
    h = 1e-6
    half, c = torch.tensor(0.5, dtype=F64), torch.tensor(0.7, dtype=F64)
    plus, minus = D.Beta(c + h, c).icdf(half), D.Beta(c - h, c).icdf(half)
    assert abs(float(g1) - float(plus - minus) / (2 * h)) < 1e-7


# --------------------------------------------------------------------------------------------
# Gradients of the corrected tails
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cdf", "survival_function", "log_cdf", "log_survival_function"])
def test_gamma_family_tail_gradients(method):
    # rate 0.1 and x = 0.3 ... are not exact products or quotients: the correction is active
    def gamma(a, rate, x):
        return getattr(D.Gamma(a, rate), method)(x)

    def inverse_gamma(a, rate, x):
        return getattr(D.InverseGamma(a, rate), method)(x)

    def fisher(d1, d2, x):
        return getattr(D.FisherSnedecor(d1, d2), method)(x)

    def args(*values):
        return tuple(torch.tensor(v, dtype=F64, requires_grad=True) for v in values)

    assert torch.autograd.gradcheck(gamma, args([3.5, 40.0], [0.1, 0.3], [30.1, 120.3]))
    assert torch.autograd.gradcheck(inverse_gamma, args([3.5, 40.0], [0.1, 0.3], [0.03, 0.0077]))
    assert torch.autograd.gradcheck(fisher, args([3.5, 40.0], [7.0, 30.0], [0.7, 1.3]))


@pytest.mark.parametrize("dtype", [F64, F32])
def test_tail_derivative_in_x_is_the_density_at_1e6(dtype):
    cases = [
        (D.Gamma(torch.tensor(1e6, dtype=dtype), torch.tensor(0.1, dtype=dtype)), 9.97e6),
        (D.InverseGamma(torch.tensor(1e6, dtype=dtype), torch.tensor(1.0, dtype=dtype)), 1.002e-6),
        (D.FisherSnedecor(torch.tensor(1e6, dtype=dtype), torch.tensor(1e6, dtype=dtype)), 0.995),
    ]
    for dist, x in cases:
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        (grad,) = torch.autograd.grad(dist.cdf(xt), xt)
        density = torch.exp(dist.log_prob(xt.detach()))
        assert torch.allclose(grad, density, rtol=1e-10 if dtype == F64 else 1e-5), (dist, x)


@pytest.mark.parametrize(
    "d1, d2, x", [(3.0, 7.0, 1e10), (1.0, 1.0, 1e10), (0.5, 40.0, 1e-30), (0.5, 40.0, 1e-8)]
)
def test_fisher_snedecor_correction_follows_the_smaller_side(d1, d2, x):
    # Far from the median, the kernel takes the smaller of u and 1 - u as the exact point; the
    # correction must shift that one (shifting u near 1 by its absolute rounding moved
    # sf(1e10) of F(3, 7) by 3e-7 relative). A guard for the correction, exact before it too.
    d1m, d2m, xm = mpmath.mpf(d1), mpmath.mpf(d2), mpmath.mpf(x)
    u = d1m * xm / (d1m * xm + d2m)
    if u < 0.5:
        lower = _mp_lower(d1m / 2, d2m / 2, u)
        upper = 1 - lower
    else:
        upper = _mp_lower(d2m / 2, d1m / 2, 1 - u)
        lower = 1 - upper
    dist = D.FisherSnedecor(torch.tensor(d1, dtype=F64), torch.tensor(d2, dtype=F64))
    # (the kernel's own error there is ~4e-16 |log I| relative: 140 ulps at I = 4.5e-34)
    check_four(dist, torch.tensor(x, dtype=F64), lower, upper, 300, 30)
