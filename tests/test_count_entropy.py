"""Poisson entropy: the window of summed counts follows the largest rate, repeated rates are
summed once, and every path agrees with a 30-digit mpmath sum."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import aleatorch as D

RATES = [1e-6, 1e-3, 0.1, 0.7, 1.0, 2.5, 3.5, 9.99, 37.3, 99.5, 250.0, 499.0, 500.0, 501.0, 2e3]
EPS = torch.finfo(torch.float64).eps


def _mp_entropy(rate: float) -> float:
    """``-sum P(k) log P(k)`` over every count within 20 sd + 60 of the mean, at 30 digits."""
    with mpmath.workdps(30):
        lam = mpmath.mpf(rate)
        spread = 20 * math.sqrt(rate) + 60
        total = mpmath.mpf(0)
        for k in range(max(0, int(rate - spread)), int(rate + spread)):
            log_p = k * mpmath.log(lam) - lam - mpmath.loggamma(k + 1)
            total -= mpmath.exp(log_p) * log_p
        return float(total)


REFERENCE = {rate: _mp_entropy(rate) for rate in RATES}


def _close(values: torch.Tensor, rates: list[float], budget: float = 16.0) -> None:
    expected = torch.tensor([REFERENCE[r] for r in rates], dtype=torch.float64)
    error = ((values.double() - expected).abs() / expected / EPS).max().item()
    assert error <= budget, f"{error:.3g} eps"


def test_mixed_batch_matches_mpmath():
    h = D.Poisson(torch.tensor(RATES, dtype=torch.float64)).entropy()
    _close(h, RATES)


@pytest.mark.parametrize("rate", RATES)
def test_each_rate_alone_matches_mpmath(rate):
    # alone, the window is as narrow as this rate allows
    h = D.Poisson(torch.tensor([rate], dtype=torch.float64)).entropy()
    _close(h, [rate])


def test_small_rates_beside_a_large_one():
    small = [0.1, 3.5, 37.3]
    alone = D.Poisson(torch.tensor(small, dtype=torch.float64)).entropy()
    beside = D.Poisson(torch.tensor([*small, 499.0], dtype=torch.float64)).entropy()[:3]
    torch.testing.assert_close(alone, beside, rtol=4 * EPS, atol=0)
    _close(alone, small)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_repeated_rates_are_summed_once_with_the_same_values(dtype):
    rates = [0.1, 3.5, 99.5, 2e3]
    batch = torch.tensor(rates, dtype=dtype).repeat(2048)  # 8192 entries, 4 distinct
    h = D.Poisson(batch).entropy()
    one_each = D.Poisson(torch.tensor(rates, dtype=dtype)).entropy()
    torch.testing.assert_close(h, one_each.repeat(2048), rtol=0, atol=0)
    if dtype == torch.float64:
        _close(h[:4], rates)
    # with a gradient wanted every entry is summed (and the gradient is d H / d rate)
    leaf = batch.clone().requires_grad_()
    h_grad = D.Poisson(leaf).entropy()
    torch.testing.assert_close(h_grad.detach(), h, rtol=8 * torch.finfo(dtype).eps, atol=0)
    (grad,) = torch.autograd.grad(h_grad.sum(), leaf)
    assert torch.isfinite(grad).all() and (grad > 0).all()


def test_rate_zero_and_nan_in_a_repeated_batch():
    batch = torch.tensor([0.0, 2.0, math.nan], dtype=torch.float64).repeat(4096)
    h = D.Poisson(batch, validate_args=False).entropy()
    assert (h[0::3] == 0).all() and h[2::3].isnan().all()
    expected = torch.full((4096,), _mp_entropy(2.0), dtype=torch.float64)
    torch.testing.assert_close(h[1::3], expected, rtol=16 * EPS, atol=0)


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_binomial_repeated_laws_are_summed_once_with_the_same_values(kind):
    counts = torch.tensor([0.0, 5.0, 20.0, 100.0, 1e4, 3e6, 7.0], dtype=torch.float64)
    if kind == "probs":
        param = torch.tensor([0.3, 0.01, 0.5, 0.999, 0.2, 0.4, 1.0], dtype=torch.float64)
    else:
        param = torch.tensor([-3.0, 0.0, 2.0, 10.0, -0.5, 1.0, -40.0], dtype=torch.float64)
    batch_n, batch_param = counts.repeat(1200), param.repeat(1200)  # 8400 entries, 7 laws
    h = D.Binomial(batch_n, **{kind: batch_param}).entropy()
    one_each = D.Binomial(counts, **{kind: param}).entropy()
    torch.testing.assert_close(h, one_each.repeat(1200), rtol=0, atol=0)
    # with a gradient wanted every entry is summed: the same values to rounding
    leaf = batch_param.clone().requires_grad_()
    h_grad = D.Binomial(batch_n, **{kind: leaf}).entropy()
    torch.testing.assert_close(h_grad.detach(), h, rtol=16 * EPS, atol=1e-300)
