"""Gamma-family log-densities in wider-dtype blocks (large float32 inputs, no graph): the same
numbers as the one-call path, and scipy's."""

import pytest
import scipy.stats
import torch

import aleatorch as D

N = 300_000  # past two blocks of 65536


def _params(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    df = torch.rand(N, generator=generator) * 60 + 0.1
    df[:5] = torch.tensor([2.0, 0.1, 1.0, 60.0, 4.0])  # a - 1 = 0 at df = 2 (0 log 0)
    value = torch.rand(N, generator=generator) * 80
    value[:5] = torch.tensor([0.0, 1e-38, 3.0, 170.0, 0.0])
    return df, value


def _families(df):
    yield "Chi2", D.Chi2(df), lambda v: scipy.stats.chi2(df.double().numpy()).logpdf(v)
    yield (
        "Gamma",
        D.Gamma(df, df / 3 + 0.2),
        lambda v: scipy.stats.gamma(
            df.double().numpy(), scale=1 / (df.double() / 3 + 0.2).numpy()
        ).logpdf(v),
    )
    yield (
        "InverseGamma",
        D.InverseGamma(df, df / 3 + 0.2),
        lambda v: scipy.stats.invgamma(
            df.double().numpy(), scale=(df.double() / 3 + 0.2).numpy()
        ).logpdf(v),
    )


@pytest.mark.parametrize("index", [0, 1, 2])
def test_blocks_equal_the_single_call_and_scipy(index):
    df, value = _params(index)
    if index == 2:  # the inverse gamma's support excludes 0
        value = value.clamp_min(1e-30)
    name, dist, oracle = list(_families(df))[index]
    blocked = dist.log_prob(value)
    leaf = df.clone().requires_grad_()
    single = list(_families(leaf))[index][1].log_prob(value).detach()  # a graph: one call
    assert torch.equal(blocked, single), name
    expected = torch.from_numpy(oracle(value.double().numpy()))
    finite = torch.isfinite(expected)
    assert torch.equal(finite, torch.isfinite(blocked)), name
    assert torch.equal(blocked[~finite], expected[~finite].float()), name
    error = (blocked.double() - expected)[finite].abs() / expected[finite].abs().clamp_min(1.0)
    assert error.max().item() < 20 * torch.finfo(torch.float32).eps, name
