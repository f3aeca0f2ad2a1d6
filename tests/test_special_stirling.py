"""Stirling-type log-space terms (aleatorch.special.stirling) against 50-digit mpmath."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import torch

from aleatorch.special import bd0, lbeta, log1pmx, log_minus_digamma, stirlerr

mp.mp.dps = 50


@pytest.fixture(autouse=True)
def _fifty_digits():
    """50-digit references whatever precision another test module left set."""
    with mp.workdps(50):
        yield


EPS = {torch.float64: torch.finfo(torch.float64).eps, torch.float32: torch.finfo(torch.float32).eps}
# relative budget in eps (issue 9: 1e3 eps in float64, 1e2 eps in float32)
BUDGET = {torch.float64: 1e3, torch.float32: 1e2}
POSITIVE = np.geomspace(1e-3, 1e8, 97)


def _mp_stirlerr(x):
    x = mp.mpf(x)
    return mp.loggamma(x + 1) - (x + mp.mpf(0.5)) * mp.log(x) + x - mp.log(2 * mp.pi) / 2


def _mp_log_minus_digamma(x):
    return mp.log(x) - mp.digamma(x)


def _mp_log1pmx(x):
    return mp.log1p(x) - x


def _mp_bd0(x, m):
    x, m = mp.mpf(x), mp.mpf(m)
    if x == 0:
        return m
    return x * mp.log(x / m) + m - x


def _mp_lbeta(a, b):
    return mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)


def _check(ours: torch.Tensor, args: list[np.ndarray], reference, dtype, scale=None):
    """Relative error of ``ours`` against ``reference`` at the dtype-rounded arguments."""
    truth = np.array([float(reference(*(mp.mpf(float(v)) for v in vals))) for vals in zip(*args)])
    got = ours.double().numpy()
    denominator = np.abs(truth) if scale is None else np.maximum(scale, np.abs(truth))
    exact_zero = denominator == 0
    error = np.where(exact_zero, np.where(got == 0, 0.0, np.inf), np.abs(got - truth))
    error = error / np.where(exact_zero, 1.0, denominator)
    worst = int(np.argmax(error))
    assert error[worst] <= BUDGET[dtype] * EPS[dtype], (
        f"worst relative error {error[worst]:.3g} at {[a[worst] for a in args]}: "
        f"{got[worst]!r} vs {truth[worst]!r}"
    )
    assert np.all(np.isfinite(got))


def _rounded(values, dtype):
    t = torch.as_tensor(values, dtype=torch.float64).to(dtype)
    return t, t.double().numpy()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_stirlerr(dtype):
    x, xs = _rounded(POSITIVE, dtype)
    _check(stirlerr(x), [xs], _mp_stirlerr, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_log_minus_digamma(dtype):
    x, xs = _rounded(POSITIVE, dtype)
    _check(log_minus_digamma(x), [xs], _mp_log_minus_digamma, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_log1pmx(dtype):
    grid = np.concatenate([-np.geomspace(0.999, 1e-12, 40), np.geomspace(1e-12, 1e6, 60)])
    x, xs = _rounded(grid, dtype)
    _check(log1pmx(x), [xs], _mp_log1pmx, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_bd0(dtype):
    rng = np.random.default_rng(0)
    m = np.geomspace(1e-3, 1e8, 60)
    relative = np.concatenate([[0.0], 10.0 ** rng.uniform(-9, 1, 59)])
    sign = np.where(rng.uniform(size=60) < 0.5, -1.0, 1.0)
    x = np.clip(m * (1 + sign * relative), 0, None)
    x[rng.uniform(size=60) < 0.1] = 0.0
    xt, xs = _rounded(x, dtype)
    mt, ms = _rounded(m, dtype)
    _check(bd0(xt, mt), [xs, ms], _mp_bd0, dtype)
    assert (bd0(xt, mt) >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lbeta(dtype):
    rng = np.random.default_rng(1)
    a = 10.0 ** rng.uniform(-3, 8, 120)
    b = np.concatenate([10.0 ** rng.uniform(-3, 8, 100), a[:20] * (1 + 1e-3)])
    at, as_ = _rounded(a, dtype)
    bt, bs = _rounded(b, dtype)
    _check(lbeta(at, bt), [as_, bs], _mp_lbeta, dtype, scale=1.0)


def test_half_precision_computes_in_float32():
    x = torch.tensor([0.5, 20.0, 3e4], dtype=torch.float16)
    out = stirlerr(x)
    assert out.dtype == torch.float16
    expected = stirlerr(x.float()).half()
    assert torch.equal(out, expected)


@pytest.mark.parametrize(
    "fn, args",
    [
        (stirlerr, [torch.tensor([0.3, 4.0, 9.99, 10.01, 250.0], dtype=torch.float64)]),
        (log_minus_digamma, [torch.tensor([0.3, 4.0, 9.99, 10.01, 250.0], dtype=torch.float64)]),
        (log1pmx, [torch.tensor([-0.9, -0.29, -1e-3, 0.1, 0.31, 7.0], dtype=torch.float64)]),
        (
            bd0,
            [
                torch.tensor([0.5, 10.0, 10.5, 300.0, 2.0], dtype=torch.float64),
                torch.tensor([3.0, 10.2, 10.0, 20.0, 2.0 + 1e-6], dtype=torch.float64),
            ],
        ),
        (
            lbeta,
            [
                torch.tensor([0.5, 3.0, 12.0, 1e4, 0.01], dtype=torch.float64),
                torch.tensor([0.7, 50.0, 15.0, 2e4, 1e5], dtype=torch.float64),
            ],
        ),
    ],
)
def test_gradients(fn, args):
    args = [a.requires_grad_() for a in args]
    assert torch.autograd.gradcheck(fn, args)
    assert torch.autograd.gradgradcheck(fn, args)


def test_bd0_near_the_largest_float_and_near_m():
    # close to m at the top of the range: no overflow of x + m or 2 x
    x = torch.tensor([1.7e308, 3e38], dtype=torch.float64)
    m = x * 0.99
    got = bd0(x, m)
    truth = [float(_mp_bd0(a, b)) for a, b in zip(x.tolist(), m.tolist())]
    assert torch.allclose(got, torch.tensor(truth, dtype=torch.float64), rtol=1e-13)
    # between m/2 and 2m, outside the series region: log1p of the relative gap
    x = torch.tensor([130.0, 2e6, 0.6], dtype=torch.float64)
    m = torch.tensor([100.0, 1.5e6, 1.0], dtype=torch.float64)
    truth = [float(_mp_bd0(a, b)) for a, b in zip(x.tolist(), m.tolist())]
    truth = torch.tensor(truth, dtype=torch.float64)
    assert ((bd0(x, m) - truth).abs() / truth).max() <= 8 * EPS[torch.float64]
