"""Multinomial's no-graph entropy (issue 11): log p's -inf at p = 0 made 0 by nan_to_num
instead of a mask and a where; checked against torch.distributions and the graph path."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.distributions as T

import aleatorch as D


def _enumerated(n: int, p: list[float]) -> float:
    p = [x / sum(p) for x in p]
    h = 0.0
    for c in itertools.product(range(n + 1), repeat=len(p)):
        if sum(c) != n or any(k and q == 0 for k, q in zip(c, p, strict=True)):
            continue
        log_pmf = math.lgamma(n + 1) + sum(
            k * math.log(q) - math.lgamma(k + 1) for k, q in zip(c, p, strict=True) if k
        )
        h -= math.exp(log_pmf) * log_pmf
    return h


@pytest.mark.parametrize("n", [1, 2, 12])
@pytest.mark.parametrize("rows", [50, 40000])  # one call, and the blocks
def test_entropy_with_zero_probabilities(n, rows):
    g = torch.Generator().manual_seed(2)
    probs = torch.rand(rows, 4, generator=g, dtype=torch.float64)
    probs[::3, 1] = 0.0
    probs[::5, 2:] = 0.0
    probs[7] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)  # a point mass
    ours = D.Multinomial(n, probs=probs).entropy()
    graph = D.Multinomial(n, probs=probs.clone().requires_grad_()).entropy()
    torch.testing.assert_close(ours, graph.detach(), rtol=1e-14, atol=1e-14)
    assert ours[7] == 0.0
    for i in range(12):  # the support enumerated in Python (torch's is off by ~5e-7 here)
        assert ours[i].item() == pytest.approx(_enumerated(n, probs[i].tolist()), abs=1e-12)
    theirs = T.Multinomial(n, probs=probs[:40]).entropy()
    torch.testing.assert_close(ours[:40], theirs, rtol=1e-6, atol=1e-6)


def test_entropy_nan_probability_stays_nan():
    probs = torch.tensor([[0.2, 0.3, 0.5, 0.0], [math.nan, 0.3, 0.5, 0.2]]).repeat(3000, 1)
    out = D.Multinomial(6, probs=probs, validate_args=False).entropy()
    assert bool(out[1::2].isnan().all()) and bool(out[0::2].isfinite().all())
