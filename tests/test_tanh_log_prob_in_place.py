"""TanhTransform with no graph (issue 11): atanh over the clamp's buffer, the log-det over
its own product, and the transformed log_prob written over the spent pre-image; the same
numbers as with a graph, and torch.distributions' values where its float32 is accurate."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as T

import aleatorch as D
from aleatorch.transforms import TanhTransform


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_no_graph_log_prob_equals_graph_path(dtype):
    g = torch.Generator().manual_seed(6)
    loc = torch.randn(20000, 3, generator=g, dtype=dtype)
    scale = torch.rand(20000, 3, generator=g, dtype=dtype) + 0.5
    d = D.TransformedDistribution(D.Normal(loc, scale), [TanhTransform()])
    y = d.sample(generator=g)
    y[:3, 0] = torch.tensor([1.0, -1.0, 0.0], dtype=dtype)  # clamped inside (-1, 1)
    before = y.clone()
    fast = d.log_prob(y)
    assert torch.equal(y, before)  # the value is not written
    grad_loc = loc.clone().requires_grad_()
    slow = D.TransformedDistribution(D.Normal(grad_loc, scale), [TanhTransform()]).log_prob(y)
    assert torch.equal(fast, slow.detach())
    assert bool(fast.isfinite().all())
    keep = y.abs() < 0.99  # torch's float32 atanh and log-det lose digits near +-1
    theirs = T.TransformedDistribution(T.Normal(loc, scale), [T.TanhTransform()]).log_prob(y)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(fast[keep], theirs[keep], rtol=64 * eps, atol=64 * eps)


def test_no_graph_inverse_and_log_det_against_closed_forms():
    y = torch.linspace(-0.999, 0.999, 5001, dtype=torch.float64)
    t = TanhTransform()
    x = t.inv(y)
    torch.testing.assert_close(x, 0.5 * torch.log((1 + y) / (1 - y)), rtol=1e-13, atol=1e-13)
    ladj = t.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(ladj, torch.log1p(-y * y), rtol=1e-11, atol=1e-11)
    assert t.inv(torch.tensor([1.0])).item() == pytest.approx(math.atanh(1 - 2**-24))
