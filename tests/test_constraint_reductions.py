"""The one-hot constraint's reduction path (large tensors) agrees with its elementwise check."""

import pytest
import torch

from aleatorch import constraints

ROWS = 40_000  # past the Python-list path


def _one_hot(k: int, dtype: torch.dtype) -> torch.Tensor:
    labels = torch.randint(k, (ROWS,), generator=torch.Generator().manual_seed(k))
    return torch.nn.functional.one_hot(labels, k).to(dtype)


def _sums_to_one_out_of_range(value: torch.Tensor) -> None:
    if value.dtype != torch.uint8 and value.shape[-1] > 1:
        value[21] = 0
        value[21, 0], value[21, -1] = 2, -1


CORRUPTIONS = {
    "valid": lambda v: None,
    "half": lambda v: v[7].fill_(0.5) if v.is_floating_point() else None,
    "nan": lambda v: v[9, 0].fill_(float("nan")) if v.is_floating_point() else None,
    "inf": lambda v: v[9, 0].fill_(float("inf")) if v.is_floating_point() else None,
    "zero row": lambda v: v[11].zero_(),
    "two ones": lambda v: v[13].fill_(1),
    "two": lambda v: v[15, 0].fill_(2),
    "minus one": lambda v: v[17, -1].fill_(-1) if v.dtype != torch.uint8 else None,
    "two and minus one": lambda v: _sums_to_one_out_of_range(v),
    "negative zero": lambda v: v[19].mul_(-1.0) if v.is_floating_point() else None,
}


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8, 9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.uint8])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_reductions_agree_with_the_elementwise_check(k, dtype, corruption):
    value = _one_hot(k, dtype)
    CORRUPTIONS[corruption](value)
    expected = bool(constraints.one_hot.check(value).all())
    assert constraints.one_hot.all_ok(value) is expected


def test_a_corruption_is_caught():
    value = _one_hot(3, torch.float32)
    assert constraints.one_hot.all_ok(value)
    value[5] = torch.tensor([1.0, 0.0, 1.0])
    assert not constraints.one_hot.all_ok(value)


def _counts(k: int, dtype: torch.dtype, total: int) -> torch.Tensor:
    probs = torch.full((k,), 1.0 / k)
    generator = torch.Generator().manual_seed(k)
    labels = torch.multinomial(probs, ROWS * total, replacement=True, generator=generator)
    counts = torch.nn.functional.one_hot(labels, k).view(ROWS, total, k).sum(1)
    return counts.to(dtype)


COUNT_CORRUPTIONS = {
    "valid": lambda v: None,
    "below the bound": lambda v: v[5].zero_(),
    "over the bound": lambda v: v[7, 0].add_(1),
    "negative": lambda v: v[9, -1].fill_(-1),
    "negative but in bound": lambda v: (v[9, 0].sub_(2), v[9, -1].add_(1)),
    "fraction": lambda v: (v[11, 0].sub_(0.5), v[11, -1].add_(0.5)),
    "fraction over": lambda v: v[11, 0].add_(0.25),
    "nan": lambda v: v[13, 0].fill_(float("nan")),
    "inf": lambda v: v[13, 0].fill_(float("inf")),
}


@pytest.mark.parametrize("k", [1, 3, 4, 9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("corruption", list(COUNT_CORRUPTIONS))
def test_multinomial_reductions_agree_with_the_elementwise_check(k, dtype, corruption):
    total = 10
    value = _counts(k, dtype, total)
    COUNT_CORRUPTIONS[corruption](value)
    constraint = constraints.multinomial(total)
    expected = bool(constraint.check(value).all())
    assert constraint.all_ok(value) is expected
