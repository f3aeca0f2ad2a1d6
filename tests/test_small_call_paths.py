"""The per-call fast paths for small tensors: Cauchy's few-draw sampler (one ``cauchy_``
call), Laplace's and Uniform's small ``log_prob``, Laplace's one-add shift of its uniforms,
and the two-tensor path of ``utils.as_params``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions import cauchy as cauchy_module
from aleatorch.errors import ShapeError
from aleatorch.utils import _scalar_tensor, as_params

DTYPES = [torch.float32, torch.float64]


def _draws(make, calls: int, generator: torch.Generator) -> np.ndarray:
    return torch.cat([make(generator).reshape(-1) for _ in range(calls)]).double().numpy()


# ------------------------------------------------------------------------------ Cauchy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "batch, draws",
    [(1, 1), (1, cauchy_module._FEW_DRAWS), (6, 10), (cauchy_module._FEW_DRAWS + 1, 1)],
)
def test_cauchy_sampler_law_on_both_sides_of_the_switch(dtype, batch, draws):
    # up to _FEW_DRAWS entries per call: one cauchy_ call; above: the ratio of normals
    loc, scale = 1.5, 0.25
    d = D.Cauchy(torch.full((batch,), loc, dtype=dtype), torch.full((batch,), scale, dtype=dtype))
    g = torch.Generator().manual_seed(11 + batch + draws)
    total = 20_000 if batch * draws == 1 else 200_000
    x = _draws(lambda g: d.sample((draws,), generator=g), total // (batch * draws) + 1, g)
    assert np.isfinite(x).all()
    law = stats.cauchy(loc, scale)
    assert stats.kstest(x, law.cdf).pvalue > 1e-4
    # the heavy tails: counts beyond 10, 100 and 1e3 half widths on each side
    edges = loc + scale * np.array([-np.inf, -1e3, -1e2, -10, 10, 1e2, 1e3, np.inf])
    observed = np.histogram(x, edges)[0]
    expected = np.diff(law.cdf(edges)) * x.size
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert stats.chi2(len(observed) - 1).sf(chi2) > 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_cauchy_few_draws_honour_the_generator_and_rsample(dtype):
    loc = torch.tensor([0.0, 2.0], dtype=dtype, requires_grad=True)
    scale = torch.tensor([1.0, 3.0], dtype=dtype, requires_grad=True)
    d = D.Cauchy(loc, scale)
    a = d.rsample((3,), generator=torch.Generator().manual_seed(3))
    b = d.rsample((3,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.dtype == dtype and a.shape == (3, 2)
    a.sum().backward()
    z = (a.detach() - loc.detach()) / scale.detach()
    torch.testing.assert_close(loc.grad, torch.full_like(loc, 3.0))
    torch.testing.assert_close(scale.grad, z.sum(0))


def test_cauchy_few_draws_under_vmap_keep_different_randomness():
    d = D.Cauchy(torch.zeros(3), torch.ones(3), validate_args=False)
    out = torch.func.vmap(lambda _: d.sample(), randomness="different")(torch.zeros(4))
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    assert len({tuple(row.tolist()) for row in out}) == 4


# ----------------------------------------------------------------------------- Laplace


@pytest.mark.parametrize("dtype", DTYPES)
def test_laplace_draws_are_the_shifted_uniforms(dtype):
    # w = 2u - 1 + eps/2 in one add: the same odd multiples of eps/2 as two steps
    d = D.Laplace(torch.zeros(1000, dtype=dtype), torch.ones(1000, dtype=dtype))
    x = d.sample(generator=torch.Generator().manual_seed(4))
    u = torch.rand(1000, dtype=dtype, generator=torch.Generator().manual_seed(4))
    w = u * 2 - 1 + torch.finfo(dtype).eps / 2
    expected = -torch.sign(w) * torch.log1p(-w.abs())
    assert torch.equal(x, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [6, 40])
def test_laplace_sampler_law(dtype, batch):
    d = D.Laplace(torch.full((batch,), -1.0, dtype=dtype), torch.full((batch,), 2.0, dtype=dtype))
    x = _draws(
        lambda g: d.sample(generator=g), 100_000 // batch + 1, torch.Generator().manual_seed(8)
    )
    assert np.isfinite(x).all()
    assert stats.kstest(x, stats.laplace(-1.0, 2.0).cdf).pvalue > 1e-4


@pytest.mark.parametrize("numel", [1, 6, 16, 17, 40])
@pytest.mark.parametrize("grad", [False, True])
def test_laplace_log_prob_small_and_in_place_paths(numel, grad):
    g = torch.Generator().manual_seed(numel)
    loc = torch.randn(numel, dtype=torch.float64, generator=g) * 3
    scale = torch.rand(numel, dtype=torch.float64, generator=g) * 5 + 1e-3
    x = torch.randn(numel, dtype=torch.float64, generator=g) * 10
    loc.requires_grad_(grad)
    out = D.Laplace(loc, scale).log_prob(x)
    truth = stats.laplace(loc.detach().numpy(), scale.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(out.detach().numpy(), truth, rtol=1e-14, atol=0)
    if grad:
        out.sum().backward()
        torch.testing.assert_close(loc.grad, torch.sign(x - loc.detach()) / scale)


def test_laplace_log_normalizer_at_the_largest_scale():
    # -log(2 b) without forming 2 b (which overflows float32 above finfo.max / 2)
    big = torch.tensor([torch.finfo(torch.float32).max])
    out = D.Laplace(torch.zeros(1), big).log_prob(torch.zeros(1))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), -(big.double().log() + math.log(2)), rtol=1e-6, atol=0)


# ----------------------------------------------------------------------------- Uniform


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_log_prob_at_and_beyond_the_bounds(dtype):
    low = torch.tensor([[0.0], [-3.0]], dtype=dtype)
    high = torch.tensor([1.0, 2.0, 5.0], dtype=dtype)
    d = D.Uniform(low, high, validate_args=False)
    lo, hi = torch.broadcast_tensors(low, high)
    inf = torch.tensor(math.inf, dtype=dtype)
    for value, inside in [
        (lo, True),
        (hi, True),
        ((lo + hi) / 2, True),
        (torch.nextafter(lo, -inf), False),
        (torch.nextafter(hi, inf), False),
        (torch.full_like(lo, math.nan), False),
        (torch.full_like(lo, math.inf), False),
        (torch.full_like(lo, -math.inf), False),
    ]:
        out = d.log_prob(value)
        expected = -torch.log(hi - lo) if inside else torch.full_like(lo, -math.inf)
        assert torch.equal(out, expected), (value, out)
    # a value with an extra leading dim broadcasts
    value = torch.stack([lo, torch.nextafter(hi, inf)])
    out = d.log_prob(value)
    assert out.shape == (2, 2, 3)
    assert torch.equal(out[0], -torch.log(hi - lo)) and bool((out[1] == -math.inf).all())


def test_uniform_log_prob_promotes_a_wider_value():
    d = D.Uniform(torch.tensor([0.0]), torch.tensor([3.0]), validate_args=False)
    value = torch.tensor([3.0 + 1e-12], dtype=torch.float64)  # above high only in float64
    assert d.log_prob(value).item() == -math.inf


def test_uniform_log_prob_gradient():
    low = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    high = torch.tensor([2.0, 5.0], dtype=torch.float64, requires_grad=True)
    D.Uniform(low, high).log_prob(torch.tensor([1.0, 4.0], dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(low.grad, 1 / (high - low).detach())
    torch.testing.assert_close(high.grad, -1 / (high - low).detach())


# --------------------------------------------------------------------------- as_params


def test_as_params_two_tensors():
    a, b = torch.zeros(2, 1), torch.ones(3)
    x, y = as_params(a, b)
    assert x.shape == y.shape == (2, 3) and x._base is a or x.data_ptr() == a.data_ptr()
    same = torch.ones(3)
    assert as_params(b, same)[0] is b and as_params(b, same)[1] is same
    with pytest.raises(ShapeError, match="Laplace"):
        as_params(torch.zeros(2), torch.zeros(3), owner="Laplace")
    # mixed dtypes promote; a number takes the tensor's dtype
    x, y = as_params(torch.zeros(2), torch.ones(2, dtype=torch.float64))
    assert x.dtype == y.dtype == torch.float64
    x, y = as_params(torch.zeros(2, dtype=torch.float64), 1.0)
    assert y.dtype == torch.float64 and y.shape == (2,)
    p = torch.nn.Parameter(torch.zeros(3))
    x, y = as_params(p, torch.ones(2, 1))
    assert x.requires_grad and x.shape == (2, 3)


def test_scalar_tensor_is_not_kept_from_inference_mode():
    with torch.inference_mode():
        t = _scalar_tensor(0.123456789, torch.float64)
    assert t.item() == 0.123456789
    again = _scalar_tensor(0.123456789, torch.float64)
    assert not again.is_inference()
