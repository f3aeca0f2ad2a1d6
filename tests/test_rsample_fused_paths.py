"""The reparameterized samplers' fused paths: Normal's one-product backward on large CPU
tensors (loc + eps * scale), Uniform's lerp, and Categorical's small-sample labels, against
closed forms."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import forward_ad

import aleatorch as D
from aleatorch.distributions._location_scale import _FUSED_MIN_NUMEL


def _normal_leaves(batch: tuple[int, ...]):
    g = torch.Generator().manual_seed(0)
    loc = torch.randn(batch, generator=g, dtype=torch.float64).requires_grad_()
    scale = (torch.rand(batch, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    return loc, scale


@pytest.mark.parametrize("sample_shape", [(), (2,)])
def test_normal_large_rsample_gradients(sample_shape):
    # (2,) draws of a (n/2,) batch: the gradients sum over the sample dim
    n = _FUSED_MIN_NUMEL // (2 if sample_shape else 1)
    loc, scale = _normal_leaves((n,))
    x = D.Normal(loc, scale).rsample(sample_shape, generator=torch.Generator().manual_seed(1))
    assert type(x.grad_fn).__name__.startswith("_LocScaleShift")
    w = torch.rand(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(2))
    (x * w).sum().backward()
    eps = ((x - loc) / scale).detach()
    torch.testing.assert_close(loc.grad, w.sum_to_size(loc.shape))
    torch.testing.assert_close(scale.grad, (w * eps).sum_to_size(scale.shape))


def test_normal_large_rsample_same_draws_as_sample():
    loc, scale = _normal_leaves((_FUSED_MIN_NUMEL,))
    d = D.Normal(loc, scale)
    x = d.rsample(generator=torch.Generator().manual_seed(3))
    y = d.sample(generator=torch.Generator().manual_seed(3))
    assert x.requires_grad
    torch.testing.assert_close(x.detach(), y, rtol=0, atol=0)


def test_normal_large_rsample_broadcast_loc_and_double_backward():
    n = _FUSED_MIN_NUMEL
    loc = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    scale = (torch.rand(n, dtype=torch.float64) + 0.5).requires_grad_()
    x = D.Normal(loc, scale).rsample()
    w = torch.rand(n, dtype=torch.float64, requires_grad=True)
    g_loc, g_scale = torch.autograd.grad((x * w).sum(), (loc, scale), create_graph=True)
    eps = ((x - loc) / scale).detach()
    torch.testing.assert_close(g_loc, w.sum().detach())
    torch.testing.assert_close(g_scale, (w * eps).detach())
    # d/dw of sum(g_scale) = eps: the backward itself is differentiable
    (second,) = torch.autograd.grad(g_scale.sum(), w)
    torch.testing.assert_close(second, eps)


def test_normal_large_rsample_forward_mode():
    n = _FUSED_MIN_NUMEL
    loc, scale = _normal_leaves((n,))
    t_loc, t_scale = torch.rand(n, dtype=torch.float64), torch.rand(n, dtype=torch.float64)
    with forward_ad.dual_level():
        dual_loc = forward_ad.make_dual(loc.detach(), t_loc)
        dual_scale = forward_ad.make_dual(scale.detach(), t_scale)
        # a leaf that requires grad keeps the fused path on
        x = D.Normal(dual_loc + 0 * loc, dual_scale).rsample()
        primal, tangent = forward_ad.unpack_dual(x)
    eps = (primal - loc.detach()) / scale.detach()
    torch.testing.assert_close(tangent, t_loc + eps * t_scale)


@pytest.mark.parametrize("draws", [500, _FUSED_MIN_NUMEL // 6])
def test_uniform_rsample_gradients_and_range(draws):
    # (500 draws: torch.lerp; the larger sample: the fused backward)
    g = torch.Generator().manual_seed(0)
    low = torch.tensor([[-3.0], [0.0]], dtype=torch.float64, requires_grad=True)
    high = torch.tensor([1.0, 2.0, 1e3], dtype=torch.float64, requires_grad=True)
    x = D.Uniform(low, high).rsample((draws,), generator=g)
    assert x.shape == (draws, 2, 3)
    assert bool(((x >= low) & (x < high)).all())
    w = torch.rand(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(1))
    (x * w).sum().backward()
    u = ((x - low) / (high - low)).detach()  # d/dlow = 1 - u, d/dhigh = u
    torch.testing.assert_close(low.grad, (w * (1 - u)).sum_to_size(low.shape))
    torch.testing.assert_close(high.grad, (w * u).sum_to_size(high.shape))


def test_uniform_large_rsample_fused_backward_entries():
    n = _FUSED_MIN_NUMEL
    low = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    high = torch.full((n,), 4.0, dtype=torch.float64, requires_grad=True)
    x = D.Uniform(low, high).rsample(generator=torch.Generator().manual_seed(0))
    assert type(x.grad_fn).__name__.startswith("_Lerp")
    w = torch.rand(n, dtype=torch.float64, requires_grad=True)
    g_low, g_high = torch.autograd.grad((x * w).sum(), (low, high), create_graph=True)
    u = (x / 4).detach()
    torch.testing.assert_close(g_low, (w * (1 - u)).detach(), rtol=1e-15, atol=0)
    torch.testing.assert_close(g_high, (w * u).detach(), rtol=1e-15, atol=0)
    (second,) = torch.autograd.grad(g_high.sum(), w)  # the backward is differentiable
    torch.testing.assert_close(second, u)
    t_low, t_high = torch.rand(n, dtype=torch.float64), torch.rand(n, dtype=torch.float64)
    with forward_ad.dual_level():
        dual_low = forward_ad.make_dual(low.detach(), t_low) + 0 * low
        dual_high = forward_ad.make_dual(high.detach(), t_high)
        y = D.Uniform(dual_low, dual_high).rsample(generator=torch.Generator().manual_seed(0))
        tangent = forward_ad.unpack_dual(y).tangent
    torch.testing.assert_close(tangent, t_low + u * (t_high - t_low))


@pytest.mark.parametrize("sample_shape", [(), (2,), (0,), (2, 0)])
def test_categorical_small_labels_shape_and_buffer(sample_shape):
    d = D.Categorical(logits=torch.tensor([[0.0, -1.0, 2.0], [1.0, 1.0, float("-inf")]]))
    x = d.sample(sample_shape, generator=torch.Generator().manual_seed(0))
    assert x.shape == torch.Size(sample_shape) + d.batch_shape and x.dtype == torch.int64
    assert bool(((x >= 0) & (x <= 2)).all()) and not bool((x[..., 1] == 2).any())
    x += 1  # an ordinary writable tensor
