"""Chi2.log_prob on large batches takes Gamma's cached parameter-only terms without
forming ``concentration`` and ``rate`` from ``df`` at each call: checked against scipy, in
both textbook dtypes (float32 terms for df <= 20, float64 above), across an in-place update
of ``df``, and with a graph."""

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D


def _df_and_value(n: int, top: float, dtype: torch.dtype):
    generator = torch.Generator().manual_seed(11)
    df = torch.rand(n, generator=generator, dtype=torch.float64) * top + 0.05
    value = torch.distributions.Chi2(df).sample()
    return df.to(dtype), value.clamp(min=1e-6).to(dtype)


@pytest.mark.parametrize("top", [15.0, 150.0])  # within / beyond the textbook limit
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_batch_against_scipy(top, dtype):
    df, value = _df_and_value(1 << 17, top, dtype)
    d = D.Chi2(df, validate_args=False)
    expected = stats.chi2(df.double().numpy()).logpdf(value.double().numpy())
    for _ in range(2):  # the second call reads the cached terms
        got = d.log_prob(value)
        assert got.dtype == dtype
        rtol = 2e-6 if dtype is torch.float32 else 1e-12
        np.testing.assert_allclose(got.double().numpy(), expected, rtol=rtol, atol=rtol)


def test_in_place_update_of_df_is_seen():
    df, value = _df_and_value(1 << 13, 150.0, torch.float32)
    d = D.Chi2(df, validate_args=False)
    d.log_prob(value)
    df.mul_(0.5)
    expected = stats.chi2(df.double().numpy()).logpdf(value.double().numpy())
    np.testing.assert_allclose(d.log_prob(value).double().numpy(), expected, rtol=2e-6)


def test_gradient_in_df_with_a_graph():
    df, value = _df_and_value(1 << 13, 150.0, torch.float64)
    df.requires_grad_()
    D.Chi2(df).log_prob(value).sum().backward()
    # d/d(df) log p = (log x - log 2 - digamma(df / 2)) / 2
    expected = (value.log() - np.log(2) - torch.digamma(df.detach() / 2)) / 2
    torch.testing.assert_close(df.grad, expected)
