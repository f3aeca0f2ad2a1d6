"""The small-tensor log_prob paths in Python floats (Chi2, InverseGamma, StudentT, Cauchy,
LogNormal)
against scipy, and against the tensor path they stand in for (taken when a gradient is
wanted); the kept constants of AffineTransform and TanhTransform against Python scalars."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.transforms import AffineTransform, TanhTransform
from aleatorch.utils import _number_operand, from_floats


def _params(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return lambda spread=1.0: torch.randn(shape, generator=g, dtype=torch.float64) * spread


def _families(shape, seed):
    draw = _params(shape, seed)
    df = draw(1.5).exp().float()
    loc, scale = draw(2.0).float(), draw(1.0).exp().float()
    a, rate = draw(1.5).exp().float(), draw(1.5).exp().float()
    return [
        (D.Chi2, (df,), lambda x, d: stats.chi2(d).logpdf(x)),
        (D.InverseGamma, (a, rate), lambda x, c, r: stats.invgamma(c, scale=r).logpdf(x)),
        (D.StudentT, (df, loc, scale), lambda x, d, m, s: stats.t(d, m, s).logpdf(x)),
        (D.Cauchy, (loc, scale), lambda x, m, s: stats.cauchy(m, s).logpdf(x)),
        (D.LogNormal, (loc, scale), lambda x, m, s: stats.lognorm(s, scale=np.exp(m)).logpdf(x)),
    ]


@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3), (4, 8)])
def test_small_log_prob_in_python_floats(shape):
    for cls, params, truth in _families(shape, seed=len(shape) + sum(shape)):
        d = cls(*params)
        x = d.sample(generator=torch.Generator().manual_seed(3))
        lp = d.log_prob(x)
        assert lp.shape == shape and lp.dtype == torch.float32
        want = truth(x.double().numpy(), *(p.double().numpy() for p in params))
        # from double precision: within a few ulps of the float32 result (lgamma differences)
        ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
        assert (np.abs(lp.double().numpy() - want) <= 4 * ulp).all(), cls.__name__
        # the tensor path (a gradient wanted) agrees
        grad = [p.clone().requires_grad_() for p in params]
        ref = cls(*grad).log_prob(x).detach()
        torch.testing.assert_close(lp, ref, rtol=2e-6, atol=2e-6)
        lp += 1.0  # an ordinary tensor: in-place ops work


def test_small_log_prob_falls_back_outside_the_python_range():
    # value 0 (Chi2, InverseGamma), NaN parameters, huge ratios: the tensor path's values
    nan = torch.tensor([float("nan"), 2.0])
    assert D.Chi2(torch.tensor([1.0, 3.0])).log_prob(torch.zeros(2)).tolist() == [
        math.inf,
        -math.inf,
    ]
    lp = D.InverseGamma(torch.ones(2), torch.ones(2), validate_args=False).log_prob(torch.zeros(2))
    assert lp.tolist() == [-math.inf, -math.inf]
    assert D.StudentT(nan, validate_args=False).log_prob(torch.ones(2))[0].isnan()
    assert D.Cauchy(torch.zeros(2), nan, validate_args=False).log_prob(torch.ones(2))[0].isnan()
    lp = D.LogNormal(torch.zeros(2), torch.ones(2), validate_args=False).log_prob(torch.zeros(2))
    ref = D.LogNormal(torch.zeros(2, requires_grad=True), torch.ones(2), validate_args=False)
    torch.testing.assert_close(lp, ref.log_prob(torch.zeros(2)).detach(), equal_nan=True)
    far = D.StudentT(torch.tensor([2.0]), torch.zeros(1), torch.tensor([1e-10]))
    lp = far.log_prob(torch.tensor([1e10]))
    want = stats.t(2.0, 0.0, np.float32(1e-10)).logpdf(np.float32(1e10))
    assert lp.item() == pytest.approx(want, rel=1e-6)


def test_from_floats_rounds_once_like_torch_tensor():
    values = [0.1, 1 / 3, -0.0, 1e300, -1e-50, math.nan, 3.4028235e38 * (1 + 1e-9)]
    for dtype in (torch.float32, torch.float64):
        got = from_floats(values, dtype, torch.Size([len(values)]))
        want = torch.tensor(values, dtype=dtype)
        assert torch.equal(got.nan_to_num(), want.nan_to_num())
        assert [math.copysign(1, v) for v in got.tolist()] == [
            math.copysign(1, v) for v in want.tolist()
        ]
    assert from_floats([1.0, 2.0], torch.float32, torch.Size([2, 1])).shape == (2, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_number_operands_give_the_scalar_results(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, generator=g, dtype=dtype) * 100
    for number in (0.3, -3.0, 1e-7, 2, -0.0, 1 << 40):
        const = _number_operand(number, x)
        assert isinstance(const, torch.Tensor) and const.dtype == dtype and const.dim() == 0
        assert torch.equal(torch.sub(x, const), torch.sub(x, number))
        assert torch.equal(x / const, x / number) or number == 0
        assert torch.equal(x * const, x * number)
    # the sign of zero is kept apart
    assert math.copysign(1, _number_operand(-0.0, x).item()) == -1
    assert math.copysign(1, _number_operand(0.0, x).item()) == 1
    # half precision and non-numbers stay as they are
    assert _number_operand(0.3, x.half()) == 0.3
    assert _number_operand(True, x) is True
    assert _number_operand(float("nan"), x) != _number_operand(float("nan"), x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_affine_and_tanh_with_numbers_match_the_scalar_formulas(dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, generator=g, dtype=torch.float64).to(dtype)
    t = AffineTransform(0.5, -3.0)
    assert torch.equal(t(x), torch.mul(x, -3.0).add_(0.5))
    assert torch.equal(t.inv(x), torch.sub(x, 0.5).div_(-3.0))
    ladj = t.log_abs_det_jacobian(x, t(x))
    assert ladj.shape == x.shape and ladj.dtype == dtype
    assert torch.equal(ladj, torch.full_like(x, math.log(3.0)))
    # one entry: a fresh tensor that may be written to
    one = t.log_abs_det_jacobian(x[0, 0], t(x[0, 0]))
    one += 1.0
    assert torch.equal(t.log_abs_det_jacobian(x, t(x)), torch.full_like(x, math.log(3.0)))
    # a tensor parameter of a wider dtype: the number is not rounded to x's dtype first
    wide = torch.tensor([3.0, -0.7], dtype=torch.float64)
    t = AffineTransform(0.1, wide)
    y = torch.tensor([[0.3, 2.0]], dtype=dtype)
    assert torch.equal(t(y), torch.mul(y, wide).add_(0.1))
    assert torch.equal(t.inv(y), (y - 0.1) / wide)
    t = AffineTransform(wide, 0.1)
    assert torch.equal(t(y), wide + 0.1 * y)
    assert torch.equal(t.inv(y), (y - wide) / 0.1)
    tanh = TanhTransform()
    u = x * -2.0
    want = torch.add(u, torch.nn.functional.softplus(u), alpha=-2.0).add_(2 * math.log(2.0))
    assert torch.equal(tanh.log_abs_det_jacobian(x, tanh(x)), want)


def test_affine_log_prob_gradient_and_values():
    base = D.Normal(torch.zeros(3), torch.ones(3))
    d = D.TransformedDistribution(base, [AffineTransform(0.5, -3.0)])
    y = torch.tensor([0.1, -2.0, 4.0], requires_grad=True)
    lp = d.log_prob(y)
    want = stats.norm(0.5, 3.0).logpdf(y.detach().double().numpy())
    np.testing.assert_allclose(lp.detach().double().numpy(), want, rtol=1e-6)
    (grad,) = torch.autograd.grad(lp.sum(), y)
    torch.testing.assert_close(grad, -(y.detach() - 0.5) / 9.0)
