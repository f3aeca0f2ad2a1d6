"""ContinuousBernoulli's no-graph entropy evaluated in blocks (issue 11): the same numbers
as the one-call form, and close to the graph path and to an mpmath integral."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D


def _truth(eta: float) -> float:
    # H = -E[log p(X)] with log p(x) = eta x + log C, C = eta / expm1(eta), and the mean
    # E[X] = 1 / (1 - e^-eta) - 1 / eta; at 60 digits
    with mp.workdps(60):
        eta = mp.mpf(eta)
        if eta == 0:
            return 0.0
        log_c = mp.log(eta / mp.expm1(eta))
        mean = 1 / (1 - mp.exp(-eta)) - 1 / eta
        return float(-(eta * mean + log_c))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_entropy_in_blocks(dtype):
    g = torch.Generator().manual_seed(4)
    n = 3 * (1 << 16) + 5  # several blocks and a ragged last one
    eta = torch.randn(n, generator=g, dtype=dtype) * 4
    eta[:8] = torch.tensor([0.0, 1.0, -1.0, 0.5, 30.0, -100.0, 1e30, math.nan], dtype=dtype)
    d = D.ContinuousBernoulli(logits=eta, validate_args=False)
    ours = d.entropy()
    assert math.isnan(ours[7])
    # the one-call form on every block's entries (the same numbers)
    parts = [D.ContinuousBernoulli(logits=eta[i : i + 5000]).entropy() for i in (8, 70000)]
    assert torch.equal(ours[8:5008], parts[0]) and torch.equal(ours[70000:75000], parts[1])
    graph = D.ContinuousBernoulli(logits=eta[8:].clone().requires_grad_()).entropy()
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(ours[8:], graph.detach(), rtol=8 * eps, atol=8 * eps)
    for i in range(7):
        assert ours[i].item() == pytest.approx(_truth(float(eta[i])), rel=16 * eps, abs=16 * eps)
