"""Derivatives of the incomplete beta function in a and b, and its inverse betaincinv.

References: mpmath (numerical derivatives of its hypergeometric betainc at 40 digits) and
scipy.special.betaincinv; round trips through our betainc, which tests/test_special.py checks
against a 40-digit reference.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

import aleatorch as D
from aleatorch.special import betainc, betaincc, betainccinv, betaincinv, log_betainc
from aleatorch.special.incomplete_beta_inverse import betaincinv_log_odds

F64 = torch.float64

# (a, b, x): tiny and large parameters, both tails, the middle, the slow corner a (1 - x) ~ 1
POINTS = [
    (2.0, 3.0, 0.4),
    (0.5, 0.5, 0.1),
    (1e-3, 1.0, 0.3),
    (1e-3, 1e-3, 0.5),
    (1e-3, 5.0, 0.9),
    (30.0, 40.0, 0.2),
    (200.0, 300.0, 0.4),
    (1e3, 1e3, 0.49),
    (5.0, 2.0, 1e-5),
    (0.2, 3.0, 0.999),
    (1e4, 2.0, 0.9999),
    (1e5, 1e-3, 0.99999),
    (1e-3, 1e5, 1e-6),
]


def _mp_derivatives(a, b, x):
    """``(I, dI/da, dI/db)`` at 40 digits (mpmath.diff of the regularized betainc)."""
    with mpmath.workdps(40):
        a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)

        def cdf(s, t):
            return mpmath.betainc(s, t, 0, x, regularized=True)

        value = cdf(a, b)
        d_a = mpmath.diff(lambda s: cdf(s, b), a)
        d_b = mpmath.diff(lambda t: cdf(a, t), b)
        return value, d_a, d_b


@pytest.fixture(scope="module")
def mp_reference():
    return {point: _mp_derivatives(*point) for point in POINTS}


def _grads(fn, a, b, x, *extra):
    a = torch.tensor(a, dtype=F64, requires_grad=True)
    b = torch.tensor(b, dtype=F64, requires_grad=True)
    value = fn(a, b, torch.tensor(x, dtype=F64), *extra)
    return value, *torch.autograd.grad(value, (a, b))


@pytest.mark.parametrize("point", POINTS, ids=str)
def test_parameter_derivatives_match_mpmath(point, mp_reference):
    value, d_a, d_b = mp_reference[point]
    a, b, x = point
    # I, 1 - I and log I: the same derivatives, divided by I for the log; 1 - I in log
    # space through log_betainc(b, a, 1 - x) where it is tiny.
    for fn, scale, sign in (
        (betainc, 1, 1),
        (betaincc, 1, -1),
        (log_betainc, value, 1),
    ):
        _, grad_a, grad_b = _grads(fn, a, b, x)
        for ours, ref in ((grad_a, d_a), (grad_b, d_b)):
            expected = float(sign * ref / scale)
            assert ours.item() == pytest.approx(expected, rel=3e-10, abs=1e-300), fn.__name__


def test_log_survival_derivatives_keep_relative_accuracy():
    # d log(1 - I)/da where 1 - I = 3e-69 (Beta(50, 60) at x = 0.5): through
    # log_betainc(b, a, 1 - x, x), against mpmath's log of the upper integral.
    a, b, x = 50.0, 60.0, 0.1
    with mpmath.workdps(50):
        expected = mpmath.diff(
            lambda t: mpmath.log(mpmath.betainc(b, t, 0, 1 - mpmath.mpf(x), regularized=True)),
            mpmath.mpf(a),
        )
    a_t = torch.tensor(a, dtype=F64, requires_grad=True)
    value = log_betainc(torch.tensor(b, dtype=F64), a_t, torch.tensor(1 - x, dtype=F64), x)
    (grad,) = torch.autograd.grad(value, a_t)
    assert grad.item() == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("fn", [betainc, betaincc, log_betainc], ids=lambda f: f.__name__)
def test_gradcheck(fn):
    a = torch.tensor([0.3, 2.0, 30.0, 1e-3, 5e3, 0.8], dtype=F64, requires_grad=True)
    b = torch.tensor([0.7, 3.0, 40.0, 2.0, 1e-2, 1e4], dtype=F64, requires_grad=True)
    x = torch.tensor([0.2, 0.6, 0.45, 0.4, 0.9999, 1e-4], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, b, x), eps=1e-7, atol=1e-7, rtol=1e-5)


def test_gradients_finite_over_the_whole_range_and_zero_at_the_edges():
    values = [1e-3, 0.03, 0.5, 1.0, 2.5, 30.0, 1e3, 3e4, 1e5]
    a, b = (torch.tensor(v, dtype=F64) for v in zip(*itertools.product(values, values)))
    x = torch.tensor([0.0, 1e-300, 1e-30, 1e-5, 0.2, 0.5, 0.99, 1 - 1e-9, 1.0], dtype=F64)
    a, b = a[:, None].expand(-1, len(x)), b[:, None].expand(-1, len(x))
    mean = a / (a + b)
    x = torch.cat([x.expand(len(a), -1), mean[:, :1], 0.999 * mean[:, :1]], 1)
    a, b = (t[:, :1].expand_as(x).clone().requires_grad_() for t in (a, b))
    y = 1 - x
    for fn in (
        lambda a, b: betainc(a, b, x),
        lambda a, b: betaincc(a, b, x),
        lambda a, b: log_betainc(a, b, x),
        lambda a, b: log_betainc(b, a, y, x),
    ):
        grad_a, grad_b = torch.autograd.grad(fn(a, b).sum(), (a, b))
        assert torch.isfinite(grad_a).all() and torch.isfinite(grad_b).all()
        edge = (x == 0) | (x == 1)
        assert (grad_a[edge] == 0).all() and (grad_b[edge] == 0).all()
    # the sign: I_x(a, b) decreases in a and increases in b
    grad_a, grad_b = torch.autograd.grad(betainc(a, b, x).sum(), (a, b))
    assert (grad_a <= 0).all() and (grad_b >= 0).all()


def test_float32_gradients_match_float64():
    a = torch.tensor([1e-3, 0.5, 4.0, 300.0, 2e4])
    b = torch.tensor([2.0, 1e-3, 0.7, 500.0, 3.0])
    x = torch.tensor([0.3, 0.6, 0.01, 0.4, 0.9999])
    grads = {}
    for dtype in (torch.float32, F64):
        a_, b_ = (t.to(dtype).requires_grad_() for t in (a, b))
        grads[dtype] = torch.autograd.grad(log_betainc(a_, b_, x.to(dtype)).sum(), (a_, b_))
    for g32, g64 in zip(grads[torch.float32], grads[F64]):
        assert g32.dtype == torch.float32
        np.testing.assert_allclose(g32.numpy(), g64.numpy(), rtol=1e-5)


def test_gradients_broadcast_and_vmap():
    a = torch.tensor([[0.5], [3.0]], dtype=F64, requires_grad=True)
    b = torch.tensor(2.0, dtype=F64, requires_grad=True)
    x = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    grad_a, grad_b = torch.autograd.grad(betainc(a, b, x).sum(), (a, b))
    assert grad_a.shape == (2, 1) and grad_b.shape == ()
    one_by_one = sum(
        torch.autograd.grad(betainc(a[i, 0], b, x[j]), b)[0] for i in range(2) for j in range(3)
    )
    torch.testing.assert_close(grad_b, one_by_one)
    per_row = torch.func.vmap(torch.func.grad(lambda s: betainc(s, 2.0, x).sum()))(a.detach()[:, 0])
    torch.testing.assert_close(per_row, grad_a[:, 0])


# --------------------------------------------------------------------------------------------
# betaincinv
# --------------------------------------------------------------------------------------------

CONCENTRATIONS = [1e-3, 0.03, 0.5, 1.0, 2.5, 30.0, 1e3, 3e4, 1e5]
PROBS = [1e-300, 1e-30, 1e-10, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999, 1 - 1e-10]


def _grid(dtype=F64):
    a, b = (
        torch.tensor(v, dtype=dtype)
        for v in zip(*itertools.product(CONCENTRATIONS, CONCENTRATIONS))
    )
    p = torch.tensor(PROBS, dtype=F64)
    shape = (len(a), len(p))
    return a[:, None].expand(shape), b[:, None].expand(shape), p.to(dtype)


def test_betaincinv_round_trip():
    a, b, p = _grid()
    p = p.expand_as(a)
    for inverse, log_tail, target in (
        (betaincinv, lambda x: log_betainc(a, b, x), p),
        (betainccinv, lambda x: log_betainc(b, a, 1 - x, x), p),
    ):
        x = inverse(a, b, target)
        assert not x.isnan().any()
        # the residual in log space over |d log I / d log x| = x f / I: the relative error of
        # x (to first order), allowed 1e-13 times the condition number I / (x f) (>= 1)
        inside = (x > 1e-300) & (x < 1)
        log_tail_x = log_tail(x)
        log_density = torch.from_numpy(scipy.stats.beta.logpdf(x.numpy(), a.numpy(), b.numpy()))
        log_slope = log_density + torch.log(x) - log_tail_x
        error = (log_tail_x - torch.log(target)).abs() * torch.exp(-log_slope)
        condition = torch.exp(-log_slope).clamp(min=1)
        assert (error[inside] <= 1e-13 * condition[inside]).all()


def test_betaincinv_matches_scipy():
    # where scipy's own inverse is accurate: moderate parameters and probabilities
    values = [0.05, 0.5, 1.0, 2.5, 30.0, 400.0]
    a, b = (torch.tensor(v, dtype=F64) for v in zip(*itertools.product(values, values)))
    p = torch.tensor([1e-8, 0.01, 0.3, 0.5, 0.8, 0.99], dtype=F64)
    a, b = a[:, None].expand(-1, len(p)), b[:, None].expand(-1, len(p))
    expected = scipy.special.betaincinv(a.numpy(), b.numpy(), p.numpy())
    ours = betaincinv(a, b, p).numpy()
    ok = expected > 1e-280
    np.testing.assert_allclose(ours[ok], expected[ok], rtol=1e-11)
    expected_c = scipy.special.betainccinv(a.numpy(), b.numpy(), p.numpy())
    np.testing.assert_allclose(betainccinv(a, b, p).numpy()[ok], expected_c[ok], rtol=1e-11)


def test_betaincinv_extreme_points_against_mpmath():
    # x from betaincinv, checked by mpmath's own integral at 40 digits
    for a, b, p in [
        (1e-3, 1.0, 0.5),  # x = 0.5^1000 = 9.3e-302
        (1e-3, 1e-3, 0.25),
        (1.0, 1e5, 1e-100),
        (0.03, 1e4, 0.999),
        (1e3, 30.0, 1e-300),
        (5e3, 1e-3, 0.3),
    ]:
        x = betaincinv(torch.tensor(a, dtype=F64), b, torch.tensor(p, dtype=F64)).item()
        with mpmath.workdps(40):
            value = mpmath.betainc(a, b, 0, x, regularized=True)
            density = mpmath.exp(
                (a - 1) * mpmath.log(x) + (b - 1) * mpmath.log1p(-x) - mpmath.log(mpmath.beta(a, b))
            )
            relative_x_error = abs(value - p) / (density * x)  # |dx| / x to first order
            condition = p / (density * x)
        assert float(relative_x_error) <= 1e-13 * max(1.0, float(condition)), (a, b, p, x)


def test_betaincinv_edges_and_domain():
    a = torch.tensor([2.0, 0.5, 1.0, -1.0, 1.0, 1.0], dtype=F64)
    b = torch.tensor([3.0, 0.5, 1.0, 1.0, 1.0, 0.0], dtype=F64)
    p = torch.tensor([0.0, 1.0, 0.25, 0.5, 1.5, 0.5], dtype=F64)
    x = betaincinv(a, b, p)
    torch.testing.assert_close(x[:3], torch.tensor([0.0, 1.0, 0.25], dtype=F64))
    assert x[3:].isnan().all()
    torch.testing.assert_close(
        betainccinv(a[:3], b[:3], p[:3]), torch.tensor([1.0, 0.0, 0.75], dtype=F64)
    )
    assert betaincinv(2.0, 3.0, torch.tensor([0.5, 0.2])).dtype == torch.float32


def test_betaincinv_float32_small_concentrations():
    a, b, p = _grid(torch.float32)
    p = p.expand_as(a).clone()
    p[p == 0] = 1e-38  # 1e-300 is 0 in float32
    for inverse in (betaincinv, betainccinv):
        x32 = inverse(a, b, p)
        x64 = inverse(a.double(), b.double(), p.double())
        assert x32.dtype == torch.float32
        normal = x64 > torch.finfo(torch.float32).tiny
        error = ((x32.double() - x64).abs() / x64)[normal]
        assert error.max() < 2 * torch.finfo(torch.float32).eps


def test_betaincinv_underflow_is_zero():
    # the quantile 0.4^1000 ~ 1e-398 is below the subnormals: 0, with a zero gradient
    a = torch.tensor([1e-3, 1e-3], dtype=F64, requires_grad=True)
    x = betaincinv(a, torch.tensor([1.0, 2.0], dtype=F64), torch.tensor(0.4, dtype=F64))
    assert (x == 0).all()
    (grad,) = torch.autograd.grad(x.sum(), a)
    assert (grad == 0).all()
    y = betainccinv(torch.tensor(2.0), 1e-3, torch.tensor(0.4))  # 1 - x ~ 1e-398
    assert y.item() == 1.0


def test_betaincinv_gradcheck():
    a = torch.tensor([0.3, 2.0, 30.0, 0.05, 50.0], dtype=F64, requires_grad=True)
    b = torch.tensor([0.7, 3.0, 40.0, 2.0, 0.5], dtype=F64, requires_grad=True)
    p = torch.tensor([0.2, 0.6, 0.1, 0.4, 0.9], dtype=F64, requires_grad=True)
    for fn in (betaincinv, betainccinv, betaincinv_log_odds):
        assert torch.autograd.gradcheck(fn, (a, b, p), eps=1e-7, atol=1e-6, rtol=1e-5)


def test_betaincinv_derivatives_are_the_implicit_ones():
    # dx/dp = 1 / f(x); dx/da = -(dI/da) / f(x) with dI/da from betainc's own backward
    a = torch.tensor([0.5, 4.0, 1e-2, 2e3], dtype=F64, requires_grad=True)
    b = torch.tensor([1.5, 0.2, 3.0, 1e3], dtype=F64, requires_grad=True)
    p = torch.tensor([0.3, 1e-6, 0.7, 0.999], dtype=F64, requires_grad=True)
    x = betaincinv(a, b, p)
    dx_da, dx_db, dx_dp = torch.autograd.grad(x.sum(), (a, b, p))
    x = x.detach()
    density = torch.from_numpy(scipy.stats.beta.pdf(x.numpy(), a.detach(), b.detach()))
    torch.testing.assert_close(dx_dp, 1 / density, rtol=1e-10, atol=0)
    dI_da, dI_db = torch.autograd.grad(betainc(a, b, x).sum(), (a, b))
    torch.testing.assert_close(dx_da, -dI_da / density, rtol=1e-9, atol=0)
    torch.testing.assert_close(dx_db, -dI_db / density, rtol=1e-9, atol=0)


# --------------------------------------------------------------------------------------------
# The families
# --------------------------------------------------------------------------------------------


def test_beta_icdf_is_betaincinv_with_gradients():
    a = torch.tensor([0.02, 0.5, 40.0], dtype=F64, requires_grad=True)
    b = torch.tensor([2.0, 0.01, 30.0], dtype=F64, requires_grad=True)
    q = torch.tensor([0.3, 0.7, 0.999], dtype=F64)
    x = D.Beta(a, b).icdf(q)
    np.testing.assert_allclose(
        x.detach().numpy(),
        scipy.special.betaincinv(a.detach().numpy(), b.detach().numpy(), q.numpy()),
        rtol=1e-12,
    )
    dx_da, dx_db = torch.autograd.grad(x.sum(), (a, b))
    assert (dx_da > 0).all() and (dx_db < 0).all()  # quantiles move up with a, down with b


def test_fisher_snedecor_icdf_in_the_upper_tail():
    # u = betaincinv rounds to 1 long before x = (d2/d1) u / (1 - u) overflows
    d = D.FisherSnedecor(torch.tensor(3.0, dtype=F64), torch.tensor(4.0, dtype=F64))
    q = torch.tensor([1e-10, 0.5, 1 - 1e-9, 1 - 1e-15], dtype=F64)
    lower = q.numpy() < 0.5
    expected = np.where(
        lower, scipy.stats.f.ppf(q.numpy(), 3.0, 4.0), scipy.stats.f.isf(1 - q.numpy(), 3.0, 4.0)
    )
    np.testing.assert_allclose(d.icdf(q).numpy(), expected, rtol=1e-10)
    assert math.isinf(d.icdf(torch.tensor(1.0, dtype=F64)).item())


@pytest.mark.slow
def test_torch_compile_parameter_gradients_and_inverse():
    # the derivative kernel and the inverse's evaluations run as opaque operators: seconds
    a = torch.tensor([0.5, 2.0, 30.0], dtype=F64, requires_grad=True)
    b = torch.tensor([0.7, 3.0, 40.0], dtype=F64)
    p = torch.tensor([0.3, 0.5, 0.01], dtype=F64)
    compiled = torch.compile(lambda a, b, p: log_betainc(a, b, p), fullgraph=True)
    (grad,) = torch.autograd.grad(compiled(a, b, p).sum(), a)
    (expected,) = torch.autograd.grad(log_betainc(a, b, p).sum(), a)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=0)
    inverse = torch.compile(lambda a, b, p: betaincinv(a, b, p), fullgraph=True)
    x = inverse(a, b, p)
    # (to an ulp: the steps around the opaque evaluations are compiled code, which may round
    # differently from eager: one ulp at a = 30, b = 40 on one of our machines)
    torch.testing.assert_close(x, betaincinv(a, b, p), rtol=2 * torch.finfo(F64).eps, atol=0)
    (grad,) = torch.autograd.grad(x.sum(), a)
    (expected,) = torch.autograd.grad(betaincinv(a, b, p).sum(), a)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=0)
