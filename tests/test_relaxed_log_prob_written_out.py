"""RelaxedOneHotCategorical's large no-graph log_prob (issue 11): the scores formed over
the buffer of log x and the row sums, max and logsumexp written out over the short last
dim; checked against torch.distributions (the same formula, its own kernels) and against
our general path (taken when a gradient is wanted)."""

from __future__ import annotations

import pytest
import torch
import torch.distributions as T

import aleatorch as D


def _case(temperature_shape, zero_prob, dtype):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3000, 2, 4, generator=g, dtype=dtype)
    if zero_prob:
        logits[::7, :, 1] = -float("inf")  # a category of probability 0
    t = 0.3 + torch.rand(temperature_shape, generator=g, dtype=dtype)
    d = D.RelaxedOneHotCategorical(t, logits=logits)
    x = d.sample(generator=g)
    x[::11, 0] = torch.tensor([0.0, 0.25, 0.25, 0.5], dtype=dtype)  # an exact 0: clamped
    return t, logits, x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("temperature_shape", [(), (3000, 2, 1), (2, 1)])
@pytest.mark.parametrize("zero_prob", [False, True])
def test_written_out_equals_general_path_and_torch(dtype, temperature_shape, zero_prob):
    t, logits, x = _case(temperature_shape, zero_prob, dtype)
    fast = D.RelaxedOneHotCategorical(t, logits=logits).log_prob(x)
    # a gradient wanted: the general path, torch's reductions
    slow = D.RelaxedOneHotCategorical(t, logits=logits.clone().requires_grad_()).log_prob(x)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(fast, slow.detach(), rtol=16 * eps, atol=16 * eps)
    assert fast.shape == (3000, 2)
    if temperature_shape:  # torch's log_prob mishandles a batched temperature (#37162)
        return
    keep = x.min(-1).values > 0  # torch's log of an exact 0 gives nan/inf there
    theirs = T.RelaxedOneHotCategorical(t, logits=logits).log_prob(x)
    infinite = keep & theirs.isinf()  # a sample on a category of probability 0
    assert torch.equal(fast[infinite], theirs[infinite])
    keep &= ~infinite
    scale = theirs[keep].abs().clamp(min=1)
    assert float(((fast[keep] - theirs[keep]).abs() / scale).max()) <= 1e3 * eps


def test_written_out_leaves_the_value_untouched_and_a_broadcast_value_falls_back():
    t, logits, x = _case((), False, torch.float32)
    before = x.clone()
    d = D.RelaxedOneHotCategorical(t, logits=logits)
    d.log_prob(x)
    assert torch.equal(x, before)
    one = x[0, 0]  # broadcast against the batch: the general path
    wide = d.log_prob(one)
    torch.testing.assert_close(wide, d.log_prob(one.expand_as(x).contiguous()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("temperature_shape", [(), (3000, 2, 1)])
def test_exp_relaxed_written_out_equals_general_path_and_torch(dtype, temperature_shape):
    t, logits, x = _case(temperature_shape, True, dtype)
    y = x.clamp(min=torch.finfo(dtype).tiny).log()
    y[5, 1, 2] = float("inf")  # a score of -inf: the log-density is -inf
    y[6, 0, 0] = float("nan")
    before = y.clone()
    fast = D.ExpRelaxedCategorical(t, logits=logits, validate_args=False).log_prob(y)
    assert torch.equal(y.nan_to_num(), before.nan_to_num())  # the value is not written
    grad = logits.clone().requires_grad_()
    slow = D.ExpRelaxedCategorical(t, logits=grad, validate_args=False).log_prob(y)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(fast, slow.detach(), rtol=16 * eps, atol=16 * eps, equal_nan=True)
    assert fast[5, 1] == -float("inf") and fast[6, 0].isnan()
    if temperature_shape:  # torch's log_prob mishandles a batched temperature (#37162)
        return
    from torch.distributions.relaxed_categorical import ExpRelaxedCategorical

    theirs = ExpRelaxedCategorical(t, logits=logits, validate_args=False).log_prob(y)
    finite = theirs.isfinite()
    assert torch.equal(fast[~finite].nan_to_num(), theirs[~finite].nan_to_num())
    scale = theirs[finite].abs().clamp(min=1)
    assert float(((fast[finite] - theirs[finite]).abs() / scale).max()) <= 1e3 * eps
