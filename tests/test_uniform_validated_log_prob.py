"""Uniform.log_prob with validation on: the value has been checked to lie in [low, high],
so the result is the constant -log(high - low) at every entry (no per-entry test). These
check that path against the closed form and against the unvalidated path."""

import math

import pytest
import torch

import aleatorch as D
from aleatorch.errors import SupportError


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_closed_form_and_unvalidated_path(dtype):
    generator = torch.Generator().manual_seed(3)
    low = torch.rand(4, 3, dtype=dtype, generator=generator) - 2.0
    high = low + 0.5 + torch.rand(4, 3, dtype=dtype, generator=generator)
    u = torch.rand(5, 4, 3, dtype=dtype, generator=generator)
    value = low + u * (high - low)
    value[0] = low  # both bounds are in the (closed) support
    value[1] = high
    got = D.Uniform(low, high, validate_args=True).log_prob(value)
    expected = -torch.log(high - low).expand(5, 4, 3)
    assert got.shape == (5, 4, 3) and got.dtype == dtype
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    unvalidated = D.Uniform(low, high, validate_args=False).log_prob(value)
    torch.testing.assert_close(got, unvalidated, rtol=0, atol=0)


def test_value_broadcast_against_batch():
    d = D.Uniform(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 5.0]), validate_args=True)
    got = d.log_prob(torch.tensor([[1.5], [0.5]]).expand(2, 2).clone() + torch.tensor([0, 1.0]))
    assert got.shape == (2, 2)
    torch.testing.assert_close(got, torch.tensor([[-math.log(2), -math.log(4)]] * 2))


def test_gradients_of_low_and_high():
    low = torch.tensor([0.3, -1.0], dtype=torch.float64, requires_grad=True)
    high = torch.tensor([1.0, 2.5], dtype=torch.float64, requires_grad=True)
    value = torch.tensor([[0.5, 0.0], [0.9, 2.0]], dtype=torch.float64)
    weights = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    (D.Uniform(low, high, validate_args=True).log_prob(value) * weights).sum().backward()
    width = (high - low).detach()
    column = weights.sum(0)
    torch.testing.assert_close(low.grad, column / width)  # d/da -log(b - a) = 1 / (b - a)
    torch.testing.assert_close(high.grad, -column / width)


@pytest.mark.parametrize("n", [3, 1 << 12])  # below and above the size the cache takes
def test_result_does_not_alias_the_cached_density(n):
    d = D.Uniform(torch.zeros(n), torch.full((n,), 4.0), validate_args=True)
    first = d.log_prob(torch.ones(n))
    first.fill_(7.0)
    torch.testing.assert_close(d.log_prob(torch.ones(n)), torch.full((n,), -math.log(4)))


def test_value_outside_still_raises():
    d = D.Uniform(torch.zeros(3), torch.ones(3), validate_args=True)
    with pytest.raises(SupportError, match="Uniform"):
        d.log_prob(torch.tensor([0.5, 1.5, 0.2]))
    with pytest.raises(SupportError):
        d.log_prob(torch.tensor([0.5, float("nan"), 0.2]))


def test_a_subclass_with_its_own_log_prob_keeps_it():
    class Shifted(D.Uniform):
        def _log_prob(self, value):
            return super()._log_prob(value) + 1.0

    d = Shifted(torch.zeros(3), torch.full((3,), 2.0), validate_args=True)
    torch.testing.assert_close(d.log_prob(torch.ones(3)), torch.full((3,), 1.0 - math.log(2)))


def test_half_precision_and_mixed_dtypes_take_the_general_path():
    d = D.Uniform(torch.zeros(3, dtype=torch.float16), torch.ones(3, dtype=torch.float16))
    assert d.log_prob(torch.full((3,), 0.5, dtype=torch.float16)).dtype == torch.float16
    params = torch.zeros(3), torch.full((3,), 2.0)
    value = torch.full((3,), 0.5, dtype=torch.float64)
    got = D.Uniform(*params, validate_args=True).log_prob(value)
    unvalidated = D.Uniform(*params, validate_args=False).log_prob(value)
    assert got.dtype == unvalidated.dtype
    torch.testing.assert_close(got, unvalidated, rtol=0, atol=0)
