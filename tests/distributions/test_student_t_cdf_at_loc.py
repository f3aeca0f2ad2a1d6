"""StudentT's cdf family at exactly x = loc, where the incomplete beta is evaluated at 1 and
1/r^2 is infinite: the values are 1/2 and log(1/2), and the gradients in x, loc, scale and df
are finite and correct (they were NaN: inf * 0 in the backward pass)."""

import math

import pytest
import torch

import aleatorch as D

F64 = torch.float64
METHODS = ["cdf", "survival_function", "log_cdf", "log_survival_function"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("df", [0.3, 1.0, 3.0, 30.0, 1e3])
def test_cdf_family_at_loc_has_exact_values_and_gradients(method, df):
    loc = torch.tensor([1.5, -2.0], dtype=F64)
    scale = torch.tensor([2.0, 0.3], dtype=F64)
    df_t = torch.tensor([df, df], dtype=F64)

    def f(x, loc, scale, df):
        return getattr(D.StudentT(df, loc, scale), method)(x)

    leaves = [t.clone().requires_grad_() for t in (loc, loc, scale, df_t)]
    out = f(*leaves)
    expected = 0.5 if method in ("cdf", "survival_function") else math.log(0.5)
    torch.testing.assert_close(out.detach(), torch.full((2,), expected, dtype=F64))
    grads = torch.autograd.grad(out.sum(), leaves)
    assert all(torch.isfinite(g).all() for g in grads)
    # dF/dx = density at the centre, dF/dloc = -density, dF/dscale = dF/ddf = 0 (F = 1/2
    # there for every scale and df); log: divided by F = 1/2; survival: the opposite sign.
    density = D.StudentT(df_t, loc, scale).log_prob(loc).exp()
    factor = (1 if method in ("cdf", "survival_function") else 2) * (1 if "cdf" in method else -1)
    torch.testing.assert_close(grads[0], factor * density, rtol=1e-12, atol=0)
    torch.testing.assert_close(grads[1], -factor * density, rtol=1e-12, atol=0)
    torch.testing.assert_close(grads[2], torch.zeros(2, dtype=F64), rtol=0, atol=1e-15)
    torch.testing.assert_close(grads[3], torch.zeros(2, dtype=F64), rtol=0, atol=1e-15)
    # and against central differences through the incomplete beta on either side
    assert torch.autograd.gradcheck(f, tuple(leaves), eps=1e-7, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("df", [0.5, 4.0, 50.0])
def test_median_and_icdf_at_one_half_are_differentiable(df):
    loc = torch.tensor(0.7, dtype=F64, requires_grad=True)
    scale = torch.tensor(1.3, dtype=F64, requires_grad=True)
    df_t = torch.tensor(df, dtype=F64, requires_grad=True)
    q = torch.tensor(0.5, dtype=F64, requires_grad=True)
    d = D.StudentT(df_t, loc, scale)
    x = d.icdf(q)
    torch.testing.assert_close(x.detach(), loc.detach())
    gq, gloc, gscale, gdf = torch.autograd.grad(x, [q, loc, scale, df_t])
    torch.testing.assert_close(gq, 1 / d.log_prob(loc.detach()).exp().detach())
    torch.testing.assert_close(gloc, torch.tensor(1.0, dtype=F64))
    torch.testing.assert_close(gscale, torch.tensor(0.0, dtype=F64), atol=1e-15, rtol=0)
    torch.testing.assert_close(gdf, torch.tensor(0.0, dtype=F64), atol=1e-15, rtol=0)
