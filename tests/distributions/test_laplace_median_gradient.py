"""At the median of a Laplace the cdf family has the density as its derivative (``abs`` has
derivative 0 at 0, which once gave the cdf a zero gradient exactly there)."""

import pytest
import torch

import aleatorch as D


@pytest.mark.parametrize(
    "method, sign",
    [("cdf", -1), ("survival_function", +1), ("log_cdf", -2), ("log_survival_function", +2)],
)
def test_cdf_family_gradient_at_the_median(method, sign):
    scale = 2.0
    loc = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    value = getattr(D.Laplace(loc, scale), method)(torch.tensor(0.3, dtype=torch.float64))
    (grad,) = torch.autograd.grad(value, loc)
    # d cdf / d loc = -density = -1 / (2 scale); d log cdf / d loc = -density / cdf.
    torch.testing.assert_close(grad, torch.tensor(sign / (2 * scale), dtype=torch.float64))
