"""VonMises draws of a few entries (the Python-float Best-Fisher path, up to 64 draws) are
von Mises in law: KS against scipy per concentration, on both sides of the size switch."""

import math

import pytest
import scipy.stats as st
import torch

import aleatorch as D
from aleatorch.distributions import von_mises


def _wrapped_near(x: torch.Tensor, loc: float) -> torch.Tensor:
    """``x`` moved by whole turns into ``[loc - pi, loc + pi)``, scipy's support."""
    return loc + torch.remainder(x - loc + math.pi, 2 * math.pi) - math.pi


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kappa", [1e-3, 0.3, 1.0, 5.0, 100.0, 1e5])
def test_few_draws_are_von_mises(kappa, dtype):
    g = torch.Generator().manual_seed(7)
    loc = 2.9
    d = D.VonMises(torch.full((8,), loc, dtype=dtype), torch.full((8,), kappa, dtype=dtype))
    draws = torch.cat([d.sample(generator=g) for _ in range(3000)])
    assert draws.dtype == dtype
    assert draws.abs().max() <= math.pi
    x = _wrapped_near(draws.double(), loc).numpy()
    assert st.kstest(x, st.vonmises(kappa, loc=loc).cdf).pvalue > 1e-3


def test_switch_point_shapes_agree_in_law():
    """64 draws (Python path) and 65 (tensor path) of the same law."""
    g = torch.Generator().manual_seed(3)
    d = D.VonMises(torch.tensor(-1.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
    assert von_mises._PYTHON_DRAWS == 64
    small = torch.cat([d.sample((64,), generator=g) for _ in range(400)])
    large = torch.cat([d.sample((65,), generator=g) for _ in range(400)])
    cdf = st.vonmises(2.0, loc=-1.0).cdf
    for x in (small, large):
        assert st.kstest(_wrapped_near(x, -1.0).numpy(), cdf).pvalue > 1e-3


def test_normal_limit_invalid_and_generator():
    kappa = torch.tensor([4e6, math.inf, -1.0, math.nan, 2.0])
    loc = torch.tensor([0.5, 0.5, 0.0, 0.0, math.inf])
    d = D.VonMises(loc, kappa, validate_args=False)
    x = d.sample((3,), generator=torch.Generator().manual_seed(0))
    assert torch.all((x[:, 0] - 0.5).abs() < 5e-3)  # sd 1 / sqrt(4e6) = 5e-4
    assert torch.all(x[:, 1] == 0.5)  # a point mass
    assert x[:, 2:].isnan().all()  # invalid concentration or location
    y = d.sample((3,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(x.nan_to_num(7.0), y.nan_to_num(7.0))
