"""Error-free transformations checked against exact rational arithmetic (fractions)."""

from fractions import Fraction

import pytest
import torch

from aleatorch.special.double_float import div_residual, split, two_prod, two_sum


def _values(dtype, n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    mant = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    expo = torch.randint(-60, 60, (n,), generator=g).to(torch.float64)
    if dtype is torch.float32:
        expo = expo.clamp(-30, 30)
    return (mant * 2.0**expo).to(dtype)


def _exact(t):
    return [Fraction(float(v)) for v in t.to(torch.float64)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_two_sum_is_exact(dtype):
    a, b = _values(dtype, seed=1), _values(dtype, seed=2)
    s, e = two_sum(a, b)
    for x, y, u, v in zip(_exact(a), _exact(b), _exact(s), _exact(e), strict=True):
        assert x + y == u + v
    assert torch.equal(s, a + b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_split_halves_are_exact_and_short(dtype):
    a = _values(dtype, seed=3)
    hi, lo = split(a)
    bits = 26 if dtype is torch.float64 else 12
    for x, h, low in zip(_exact(a), _exact(hi), _exact(lo), strict=True):
        assert h + low == x
        if h:
            # hi fits in `bits` significant bits: hi / 2**k is an integer below 2**bits
            k = h.numerator.bit_length() - h.denominator.bit_length() - bits
            assert (h / Fraction(2) ** k).denominator == 1


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_two_prod_is_exact(dtype):
    a, b = _values(dtype, seed=4), _values(dtype, seed=5)
    p, e = two_prod(a, b)
    for x, y, u, v in zip(_exact(a), _exact(b), _exact(p), _exact(e), strict=True):
        assert x * y == u + v
    assert torch.equal(p, a * b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_div_residual_doubles_the_precision(dtype):
    a, b = _values(dtype, seed=6), _values(dtype, seed=7)
    b = torch.where(b == 0, torch.ones_like(b), b)
    q, r = div_residual(a, b)
    eps = torch.finfo(dtype).eps
    for x, y, u, v in zip(_exact(a), _exact(b), _exact(q), _exact(r), strict=True):
        truth = x / y
        if truth:
            assert abs((u + v - truth) / truth) <= 4 * eps**2
            assert abs((u - truth) / truth) <= eps  # the residual matters: q alone is not exact
