"""Shortcuts taken on small tensors (issue 11) give the numbers of the general path."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D


def test_lognormal_small_float32_log_prob_matches_scipy():
    # Fewer than 64 entries: z is formed as (log x - mu) / sigma in float64 directly.
    loc = torch.tensor([[-1.0, 0.5, 2.0], [0.0, 3.0, -2.5]])
    scale = torch.tensor([[0.5, 1.5, 1e-3], [2.0, 0.25, 1.0]])
    x = torch.tensor([[0.3, 2.0, 7.389], [1.0, 20.0, 0.08]])
    ours = D.LogNormal(loc, scale).log_prob(x)
    assert ours.dtype == torch.float32
    d = x.double()
    expected = stats.lognorm(scale.double().numpy(), scale=loc.double().exp().numpy()).logpdf(
        d.numpy()
    )
    torch.testing.assert_close(ours.double(), torch.from_numpy(expected), rtol=1e-5, atol=1e-5)
    # The same entries through the general (standardizer) path: 64 copies of each.
    many = D.LogNormal(loc.repeat(32, 1), scale.repeat(32, 1)).log_prob(x.repeat(32, 1))
    torch.testing.assert_close(many[:2], ours, rtol=4 * torch.finfo().eps, atol=0)


def test_categorical_probs_validated_once_still_refuses_bad_probs():
    with pytest.raises(ValueError):
        D.Categorical(probs=torch.tensor([0.5, -0.2, 0.7]), validate_args=True)
    with pytest.raises(ValueError, match="sum to 0"):
        D.Categorical(probs=torch.zeros(2, 3), validate_args=True)
    d = D.Categorical(probs=torch.tensor([0.0, 2.0, 2.0]), validate_args=True)
    assert "_given_checked" not in d.__dict__  # consumed at construction
    assert d.log_prob(torch.tensor(0)).item() == -math.inf
    assert d.logits[0].item() == -math.inf


def test_categorical_logits_of_zero_probs_have_a_finite_gradient():
    p = torch.tensor([0.0, 0.25, 0.75], requires_grad=True)
    logits = D.Categorical(probs=p).logits
    assert logits[0].item() == -math.inf
    (g,) = torch.autograd.grad(logits[1:].sum(), p)
    assert torch.isfinite(g).all()


def test_wishart_large_df_still_takes_the_stirling_branch():
    scale = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64)
    x = torch.tensor([[1.5, 0.2], [0.2, 0.9]], dtype=torch.float64) * 1e9
    df = torch.tensor([5.0, 1e9], dtype=torch.float64)
    lp = D.Wishart(df, covariance_matrix=scale).log_prob(x)
    alone = torch.stack([D.Wishart(df[i], covariance_matrix=scale).log_prob(x) for i in range(2)])
    torch.testing.assert_close(lp, alone, rtol=1e-12, atol=0)
    expected = stats.wishart(df=1e9, scale=scale.numpy()).logpdf(x.numpy())
    assert abs(lp[1].item() - expected) <= 1e-6 * abs(expected)
