"""The df part of the Wishart KL against mpmath: ``log Gamma_p(h_q) - log Gamma_p(h_p) - (h_q -
h_p) psi_p(h_p)`` (``h = df / 2``), for p = 1..5, float32 and float64, at the parameters rounded
to the dtype.

It is the Bregman gap of ``log Gamma_p``, a sum of nonnegative gaps, so "accurate" means to a
few ulps of the result itself, even where the two laws are close (the gap ~ ``(h_q - h_p)^2 /
h``) or df is large (the lgamma terms ~ ``h log h`` cancel): both scale matrices are equal, so
the matrix part is exactly 0 and the KL is the df part. Past the switch (both smallest lgamma
arguments large) the KL takes Stirling's series with its large terms cancelled in closed form;
below it lgamma and digamma, held to a few ulps of the terms' sizes (they cancel down to the
gap when the laws are close: not fixed here)."""

from __future__ import annotations

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch.distributions.wishart import _KL_SERIES

DIGITS = 60
DTYPES = (torch.float32, torch.float64)
ULPS = 8


def _large(df_p: float, df_q: float, p: int, dtype) -> bool:
    start = _KL_SERIES[dtype][0]
    return min(df_p, df_q) / 2 - (0.5 if p > 1 else 0.0) >= start


def _pairs(p: int, dtype) -> list[tuple[float, float]]:
    """``(df_p, df_q)`` around the switch and up to 1e12, close (a few ulps to 1e-2 apart)
    and far, both ways; also some below the switch."""
    start = _KL_SERIES[dtype][0]
    edge = 2 * start + (1 if p > 1 else 0)
    bases = [edge, edge + 0.5, edge + 3, 40.0, 100.0, 1e3, 3e5, 9e7, 1e9, 1e12]
    bases += [p - 1 + 1e-3, p - 0.5, p + 3.0]  # below the switch
    eps = torch.finfo(dtype).eps
    steps = [4 * eps, 1e-5, 1e-2, 0.3, 3.0, 30.0, -0.3, -0.9]
    pairs = []
    for v in bases:
        for s in steps:
            w = v + s * (v - (p - 1))  # above p - 1
            v_, w_ = (float(torch.tensor(x, dtype=dtype)) for x in (v, w))
            if v_ != w_ and w_ > p - 1:
                pairs.append((v_, w_))
    return pairs


def _reference(df_p: float, df_q: float, p: int) -> tuple[float, float]:
    """The gap in 60 digits, and the size of its lgamma/digamma terms."""
    with mp.workdps(DIGITS):
        hp, hq = mp.mpf(df_p) / 2, mp.mpf(df_q) / 2
        terms = []
        for j in range(p):
            x, y = hp - mp.mpf(j) / 2, hq - mp.mpf(j) / 2
            terms += [mp.loggamma(y), -mp.loggamma(x), -(y - x) * mp.digamma(x)]
        return float(sum(terms)), float(sum(abs(t) for t in terms))


def _kl(df_p, df_q, p, dtype, validate=None):
    cov = torch.eye(p, dtype=dtype) + 0.3
    return D.kl_divergence(
        D.Wishart(df_p, covariance_matrix=cov, validate_args=validate),
        D.Wishart(df_q, covariance_matrix=cov, validate_args=validate),
    )


def _check(got, pairs, p, dtype, what):
    eps = torch.finfo(dtype).eps
    for value, (df_p, df_q) in zip(got.tolist(), pairs):
        expected, size = _reference(df_p, df_q, p)
        if _large(df_p, df_q, p, dtype):
            err = abs(value - expected) / abs(expected) / eps
            assert err <= ULPS, f"{what}: df {df_p} -> {df_q}: {err:.3g} ulps of the KL"
        else:
            err = abs(value - expected) / size / eps
            assert err <= ULPS, f"{what}: df {df_p} -> {df_q}: {err:.3g} ulps of the terms"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", range(1, 6))
def test_kl_df_part_within_ulps_of_mpmath(p, dtype):
    """Batched (both forms, each on its own entries) and one pair at a time (one form)."""
    pairs = _pairs(p, dtype)
    df_p, df_q = (torch.tensor(c, dtype=dtype) for c in zip(*pairs))
    _check(_kl(df_p, df_q, p, dtype), pairs, p, dtype, "batched")
    alone = torch.stack([_kl(a, b, p, dtype) for a, b in zip(df_p, df_q)])
    _check(alone, pairs, p, dtype, "one at a time")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", (1, 2, 5))
def test_kl_traced_form_within_ulps_of_mpmath(p, dtype):
    """Under vmap the KL takes its where form (both forms, safe arguments)."""
    pairs = _pairs(p, dtype)
    df_p, df_q = (torch.tensor(c, dtype=dtype) for c in zip(*pairs))
    got = torch.func.vmap(lambda a, b: _kl(a, b, p, dtype, validate=False))(df_p, df_q)
    _check(got, pairs, p, dtype, "vmap")


@pytest.mark.parametrize("p", (1, 2, 3, 5))
def test_kl_gradients_in_df_match_mpmath_past_the_switch(p):
    """dKL/d df_p = -(h_q - h_p) psi_p'(h_p) / 2 and dKL/d df_q = (psi_p(h_q) - psi_p(h_p)) / 2
    on the series, for close and far pairs: batched, and one pair at a time (a graph keeps the
    tensor form)."""
    pairs = [(v, w) for v, w in _pairs(p, torch.float64) if _large(v, w, p, torch.float64)]
    df_p, df_q = (torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in zip(*pairs))
    _kl(df_p, df_q, p, torch.float64).sum().backward()
    grads = list(zip(pairs, df_p.grad.tolist(), df_q.grad.tolist()))
    for v, w in pairs[::7]:
        one_p, one_q = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (v, w))
        _kl(one_p, one_q, p, torch.float64).backward()
        grads.append(((v, w), one_p.grad.item(), one_q.grad.item()))
    for (v, w), gp, gq in grads:
        with mp.workdps(DIGITS):
            hp, hq = mp.mpf(v) / 2, mp.mpf(w) / 2
            xs = [hp - mp.mpf(j) / 2 for j in range(p)]
            ys = [hq - mp.mpf(j) / 2 for j in range(p)]
            want_p = -(hq - hp) * sum(mp.psi(1, x) for x in xs) / 2
            want_q = sum(mp.digamma(y) - mp.digamma(x) for x, y in zip(xs, ys)) / 2
        assert abs(gp - float(want_p)) <= 1e-9 * abs(float(want_p)), (v, w, gp, want_p)
        assert abs(gq - float(want_q)) <= 1e-9 * abs(float(want_q)), (v, w, gq, want_q)


def test_kl_with_different_scales_at_large_df():
    """With the matrix part as well: within a few ulps of the sum of the terms' sizes (the
    log-determinants and the trace, in float64, cancel legitimately)."""
    p = 3
    g = torch.Generator().manual_seed(3)
    a = torch.randn(p, p, dtype=torch.float64, generator=g)
    cov_p = a @ a.mT + p * torch.eye(p, dtype=torch.float64)
    cov_q = cov_p + 0.01 * torch.eye(p, dtype=torch.float64)
    half_log_det = [0.5 * torch.linalg.slogdet(c)[1].item() for c in (cov_p, cov_q)]
    trace = torch.linalg.solve(cov_q, cov_p).diagonal().sum().item()
    for v, w in [(1e3, 1e3 * (1 + 1e-6)), (9e7, 9.3e7), (1e12, 1e12 + 1e4), (40.0, 1e9)]:
        got = D.kl_divergence(
            D.Wishart(torch.tensor(v, dtype=torch.float64), covariance_matrix=cov_p),
            D.Wishart(torch.tensor(w, dtype=torch.float64), covariance_matrix=cov_q),
        ).item()
        gap, gap_size = _reference(v, w, p)
        with mp.workdps(DIGITS):
            first = mp.mpf(w) * (mp.mpf(half_log_det[1]) - mp.mpf(half_log_det[0]))
            second = mp.mpf(v) / 2 * (mp.mpf(trace) - p)
            expected = first + second + gap
            # the matrix part cancels legitimately in log det S_q - log det S_p and tr - p
            size = mp.mpf(w) * sum(map(abs, half_log_det)) + mp.mpf(v) / 2 * (trace + p) + gap
        err = abs(got - float(expected)) / float(size) / torch.finfo(torch.float64).eps
        assert err <= ULPS, f"df {v} -> {w}: {err:.3g} ulps"
