"""The fast paths of Weibull, GeneralizedPareto, Cauchy, Laplace, VonMises and LKJCholesky
(issue 11) keep their values exact: the CPU-eager branch-free forms (one reduction or one
mask deciding that no entry needs a branch), the entries recomputed apart, the cached log
normalisers, and the forms they replace (the traced path) agree with mpmath."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch.distributions import cauchy as cauchy_module
from aleatorch.distributions import generalized_pareto as gp_module
from aleatorch.distributions import weibull as weibull_module

BUDGET = {torch.float64: 1e3, torch.float32: 1e2}  # eps, relative to max(1, |truth|)
DTYPES = [torch.float32, torch.float64]

mp.mp.dps = 40


def _assert_within(ours: torch.Tensor, truth: list[float], dtype: torch.dtype, what: str):
    eps = torch.finfo(dtype).eps
    for i, (o, t) in enumerate(zip(ours.double().reshape(-1).tolist(), truth, strict=True)):
        if math.isinf(t) or math.isnan(t):
            assert o == t or (math.isnan(t) and math.isnan(o)), f"{what}[{i}]: {o} != {t}"
            continue
        err = abs(o - t) / max(1.0, abs(t)) / eps
        assert err <= BUDGET[dtype], f"{what}[{i}]: {o} vs {t} ({err:.3g} eps)"


def _traced(module, monkeypatch):
    """Make the module take its general (compile/vmap/accelerator) path."""
    monkeypatch.setattr(module, "_readable", lambda tensors: False)


# ------------------------------------------------------------------------------ Weibull


def _weibull_truth(scale, k, x):
    out = []
    for s, c, v in zip(scale.tolist(), k.tolist(), x.tolist(), strict=True):
        s, c, v = mp.mpf(s), mp.mpf(c), mp.mpf(v)
        if v < 0:
            out.append(-math.inf)
            continue
        if v == 0:
            out.append(math.inf if c < 1 else (float(-mp.log(s)) if c == 1 else -math.inf))
            continue
        z = v / s
        out.append(float(mp.log(c) - mp.log(s) + (c - 1) * mp.log(z) - z**c))
    return out


def _weibull_grid(dtype):
    g = torch.Generator().manual_seed(0)
    n = 400
    scale = torch.exp(torch.randn(n, generator=g, dtype=torch.float64) * 3)
    k = torch.exp(torch.randn(n, generator=g, dtype=torch.float64) * 1.2)
    x = scale * torch.exp(torch.randn(n, generator=g, dtype=torch.float64) * 2)
    return scale.to(dtype), k.to(dtype), x.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weibull_log_prob_branch_free_path_against_mpmath(dtype):
    scale, k, x = _weibull_grid(dtype)
    ours = D.Weibull(scale, k).log_prob(x)
    _assert_within(ours, _weibull_truth(scale, k, x), dtype, "Weibull.log_prob")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weibull_log_prob_with_edge_entries_matches_both_paths(dtype, monkeypatch):
    scale, k, x = _weibull_grid(dtype)
    # x = 0 and x < 0 send the whole tensor down the general path
    x = torch.cat([x, torch.tensor([0.0, -1.0, 0.0], dtype=dtype)])
    scale = torch.cat([scale, torch.tensor([1.0, 1.0, 2.0], dtype=dtype)])
    k = torch.cat([k, torch.tensor([0.5, 2.0, 1.0], dtype=dtype)])
    ours = D.Weibull(scale, k, validate_args=False).log_prob(x)
    _assert_within(ours, _weibull_truth(scale, k, x), dtype, "Weibull.log_prob")
    fast = D.Weibull(scale[:-3], k[:-3]).log_prob(x[:-3])
    torch.testing.assert_close(fast, ours[:-3], rtol=0, atol=0)
    _traced(weibull_module, monkeypatch)
    traced = D.Weibull(scale[:-3], k[:-3]).log_prob(x[:-3])
    torch.testing.assert_close(fast, traced, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weibull_log_prob_overflowing_power_is_minus_inf(dtype):
    # z^k and (k - 1) log z both overflow: -inf, not inf - inf
    big = torch.finfo(dtype).max / 2
    d = D.Weibull(torch.tensor([1.0, 1.0], dtype=dtype), torch.tensor([big, 2.0], dtype=dtype))
    out = d.log_prob(torch.tensor([8.0, 1e200 if dtype == torch.float64 else 1e20], dtype=dtype))
    assert out.tolist() == [-math.inf, -math.inf]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weibull_entropy_against_mpmath(dtype):
    scale, k, _ = _weibull_grid(dtype)
    truth = [
        float(mp.euler * (1 - 1 / mp.mpf(c)) + mp.log(mp.mpf(s) / mp.mpf(c)) + 1)
        for s, c in zip(scale.tolist(), k.tolist(), strict=True)
    ]
    _assert_within(D.Weibull(scale, k).entropy(), truth, dtype, "Weibull.entropy")


# -------------------------------------------------------------------- GeneralizedPareto


def _gp_truth(loc, scale, c, x):
    out = []
    for m, s, xi, v in zip(loc.tolist(), scale.tolist(), c.tolist(), x.tolist(), strict=True):
        m, s, xi, v = mp.mpf(m), mp.mpf(s), mp.mpf(xi), mp.mpf(v)
        z = (v - m) / s
        if z < 0 or (xi < 0 and z >= -1 / xi):
            out.append(-math.inf)
            continue
        if xi == 0:
            out.append(float(-mp.log(s) - z))
            continue
        out.append(float(-mp.log(s) - (1 + 1 / xi) * mp.log1p(xi * z)))
    return out


def _gp_grid(dtype):
    """Every region: xi = 0 and tiny (series), the bulk, -3/4 < w < -1/2 (plain form),
    the upper end w < -3/4 (end form), below loc and past the end (-inf)."""
    g = torch.Generator().manual_seed(1)
    n = 600
    loc = torch.randn(n, generator=g, dtype=torch.float64)
    scale = torch.exp(torch.randn(n, generator=g, dtype=torch.float64))
    c = torch.randn(n, generator=g, dtype=torch.float64) * 0.4
    c[::9] = 0.0
    c[1::9] *= 1e-7
    c[2::9] = -c[2::9].abs() - 0.05  # bounded supports
    w = torch.rand(n, generator=g, dtype=torch.float64)
    z = torch.where(c < 0, -w / c.clamp(max=-1e-300), w * 5)  # w = -xi z in (0, 1)
    z[3::9] = torch.where(c[3::9] < 0, 0.6 / -c[3::9].clamp(max=-1e-300), z[3::9])
    for start, w_end in ((4, 1 - 1e-4), (7, 0.99), (8, 0.9)):
        cs = c[start::9]
        z[start::9] = torch.where(cs < 0, w_end / -cs.clamp(max=-1e-300), z[start::9])
    z[5::37] = -0.5
    x = loc + scale * z
    past_end = loc[6::41] - scale[6::41] / c[6::41].clamp(max=-1e-300) * 1.5
    x[6::41] = torch.where(c[6::41] < 0, past_end, x[6::41])
    return loc.to(dtype), scale.to(dtype), c.to(dtype), x.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_generalized_pareto_log_prob_split_path_against_mpmath(dtype):
    loc, scale, c, x = _gp_grid(dtype)
    ours = D.GeneralizedPareto(loc, scale, c, validate_args=False).log_prob(x)
    _assert_within(ours, _gp_truth(loc, scale, c, x), dtype, "GeneralizedPareto.log_prob")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_generalized_pareto_log_prob_traced_path_against_mpmath(dtype, monkeypatch):
    loc, scale, c, x = _gp_grid(dtype)
    _traced(gp_module, monkeypatch)
    ours = D.GeneralizedPareto(loc, scale, c, validate_args=False).log_prob(x)
    _assert_within(ours, _gp_truth(loc, scale, c, x), dtype, "GeneralizedPareto.log_prob")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_generalized_pareto_log_prob_split_path_gradients(dtype, monkeypatch):
    loc, scale, c, x = _gp_grid(dtype)
    inside = torch.isfinite(D.GeneralizedPareto(loc, scale, c, validate_args=False).log_prob(x))
    loc, scale, c, x = (t[inside] for t in (loc, scale, c, x))
    grads = []
    for traced in (False, True):
        if traced:
            _traced(gp_module, monkeypatch)
        leaves = [t.clone().requires_grad_() for t in (loc, scale, c, x)]
        out = D.GeneralizedPareto(*leaves[:3], validate_args=False).log_prob(leaves[3])
        grads.append(torch.autograd.grad(out.sum(), leaves))
    for a, b in zip(*grads, strict=True):
        assert torch.isfinite(a).all()
        # (relative to max(1, |gradient|), as the values)
        tol = 1e3 * torch.finfo(dtype).eps
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_generalized_pareto_support_upper_bound():
    d = D.GeneralizedPareto(
        torch.tensor([0.0, 1.0, 2.0, 3.0]),
        torch.tensor([1.0, 2.0, 3.0, 4.0]),
        torch.tensor([0.0, -0.0, -0.5, 0.3]),
    )
    assert d.support.upper_bound.tolist() == [math.inf, math.inf, 8.0, math.inf]


# ------------------------------------------------------------------------------- Cauchy


def _cauchy_truth(loc, scale, x):
    return [
        float(-mp.log(mp.pi * s) - mp.log1p(((mp.mpf(v) - m) / s) ** 2))
        for m, s, v in zip(loc.tolist(), scale.tolist(), x.tolist(), strict=True)
    ]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("huge", [False, True], ids=["finite-square", "overflowing-square"])
def test_cauchy_log_prob_against_mpmath(dtype, huge):
    g = torch.Generator().manual_seed(2)
    n = 300
    loc = torch.randn(n, generator=g, dtype=torch.float64)
    scale = torch.exp(torch.randn(n, generator=g, dtype=torch.float64) * 3)
    x = loc + scale * torch.randn(n, generator=g, dtype=torch.float64) * 10
    x[::50] = loc[::50] + scale[::50] * 1e-9
    if huge:
        x[7] = torch.finfo(dtype).max / 4  # z^2 overflows: the hypot form
    loc, scale, x = loc.to(dtype), scale.to(dtype), x.to(dtype)
    ours = D.Cauchy(loc, scale).log_prob(x)
    _assert_within(ours, _cauchy_truth(loc, scale, x), dtype, "Cauchy.log_prob")


def test_cauchy_log_prob_paths_agree(monkeypatch):
    loc, scale = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1e-3, 5.0])
    x = torch.tensor([0.5, 1.001, 40.0])
    fast = D.Cauchy(loc, scale).log_prob(x)
    _traced(cauchy_module, monkeypatch)
    torch.testing.assert_close(fast, D.Cauchy(loc, scale).log_prob(x), rtol=4e-7, atol=0)


# ------------------------------------------------------------------------------ Laplace


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_laplace_log_prob_against_mpmath(dtype):
    g = torch.Generator().manual_seed(3)
    loc = torch.randn(200, generator=g, dtype=dtype)
    scale = torch.exp(torch.randn(200, generator=g, dtype=dtype) * 3)
    x = loc + scale * torch.randn(200, generator=g, dtype=dtype) * 4
    truth = [
        float(-abs(mp.mpf(v) - m) / s - mp.log(2 * mp.mpf(s)))
        for m, s, v in zip(loc.tolist(), scale.tolist(), x.tolist(), strict=True)
    ]
    _assert_within(D.Laplace(loc, scale).log_prob(x), truth, dtype, "Laplace.log_prob")


# ----------------------------------------------------------------------------- VonMises


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_von_mises_cached_log_normalizer_follows_updates(dtype):
    kappa = torch.full((5000,), 2.0, dtype=dtype)  # above the cache threshold
    d = D.VonMises(torch.zeros(5000, dtype=dtype), kappa)
    x = torch.full((5000,), 0.3, dtype=dtype)
    first = d.log_prob(x)
    assert d.log_prob(x).equal(first)
    kappa.fill_(50.0)
    second = d.log_prob(x)
    k = mp.mpf(50)
    truth = float(k * mp.cos(mp.mpf(x[0].item())) - mp.log(2 * mp.pi * mp.besseli(0, k)))
    _assert_within(second[:3], [truth] * 3, dtype, "VonMises.log_prob")


# -------------------------------------------------------------------------- LKJCholesky


@pytest.mark.parametrize("eta", [0.3, 1.0, 4.0, 9.9, 10.0, 30.0, 1e6])
def test_lkj_log_normalizer_against_mpmath(eta):
    d = 5
    dist = D.LKJCholesky(d, torch.tensor([eta, 2.0], dtype=torch.float64))
    # sum_k [k/2 log pi + lgamma(b_k) - lgamma(b_k + k/2)], b_k = eta + (d - 1 - k)/2
    e = mp.mpf(eta)
    truth = mp.fsum(
        mp.mpf(k) / 2 * mp.log(mp.pi)
        + mp.loggamma(e + mp.mpf(d - 1 - k) / 2)
        - mp.loggamma(e + mp.mpf(d - 1) / 2)
        for k in range(1, d)
    )
    value = torch.eye(d, dtype=torch.float64)
    ours = -dist.log_prob(value)[0].item()
    assert abs(ours - float(truth)) <= 1e3 * 2.2e-16 * max(1.0, abs(float(truth)))
