"""Dirichlet log-density in float64 blocks (large float32 inputs, no graph): the same numbers
as the one-call path, scipy's within float32 rounding, and the exact form's limits on the
faces of the simplex."""

import numpy as np
import pytest
import scipy.special
import torch

import aleatorch as D

ROWS, K = 60_000, 3  # 180k entries: past two blocks of 65536


def _params(seed: int, faces: bool) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    c = torch.rand(ROWS, K, generator=generator) * 20 + 0.05  # totals above 20: float64 terms
    c[:3] = torch.tensor([[1.0, 3.0, 30.0], [0.5, 2.0, 25.0], [2.0, 1.0, 40.0]])
    x = D.Dirichlet(c).sample()
    if faces:  # x_0 = 0: finite for c_0 = 1, +inf for c_0 < 1, -inf for c_0 > 1
        x[:3] = torch.tensor([[0.0, 0.4, 0.6], [0.0, 0.5, 0.5], [0.0, 0.3, 0.7]])
    return c, x


def _scipy(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    c64, x64 = c.double().numpy(), x.double().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = scipy.special.xlogy(c64 - 1, x64)
    normalizer = scipy.special.gammaln(c64.sum(-1)) - scipy.special.gammaln(c64).sum(-1)
    return torch.from_numpy(terms.sum(-1) + normalizer)


@pytest.mark.parametrize("faces", [False, True])
def test_blocks_equal_the_single_call_and_scipy(faces):
    c, x = _params(int(faces), faces)
    blocked = D.Dirichlet(c).log_prob(x)
    leaf = c.clone().requires_grad_()
    single = D.Dirichlet(leaf).log_prob(x).detach()  # a graph: one call
    assert torch.equal(blocked, single)
    expected = _scipy(c, x)
    finite = torch.isfinite(expected)
    assert torch.equal(finite, torch.isfinite(blocked))
    assert torch.equal(blocked[~finite], expected[~finite].float())
    error = (blocked.double() - expected)[finite].abs() / expected[finite].abs().clamp_min(1.0)
    assert error.max().item() < 8 * torch.finfo(torch.float32).eps
