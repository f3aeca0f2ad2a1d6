"""Wishart entropy and log-density against mpmath from df near p - 1 to 1e12 (and 1e30),
p = 1..5, float32 and float64, at the parameters rounded to the dtype.

The exact entropy cancels lgamma/digamma terms of size ``(df/2) log df`` down to a result of
size ``~log df``; above a per-dtype switch the entropy takes Stirling's series instead. The
entropy is held to a few ulps of ``|H| + |const| + (p + 1) |log det Sigma| / 2`` (the
constants and the log-determinant may legitimately cancel the rest). The log-density is held
to a few ulps of the sum of its terms' sizes: ``df log det X`` and ``tr(Sigma^-1 X)`` come from
the value in its own dtype and cancel each other legitimately at large df."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch

import aleatorch as D

#: mpmath's digits: at df = 1e30 the terms of size 1e30 log 1e30 cancel down to ~70
DIGITS = 80

DTYPES = (torch.float32, torch.float64)
ULPS = 8


def _dfs(p: int) -> list[float]:
    near = [p - 1 + 1e-3, p - 1 + 0.1, p - 0.5, p + 0.5, 2.0 * p]
    # around both dtypes' switches (a = df/2 - (p - 1)/2 = 6 and 7), then up to 1e12 and far
    middle = [p - 1 + 2 * a for a in (5.9, 6.0, 6.5, 7.0, 7.5, 9.0)]
    return [v for v in near if v > 0] + middle + [40.0, 100.0, 1e3, 3e5, 9e7, 1e9, 1e12, 1e30]


def _cov(p: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(p)
    a = torch.randn(p, p, dtype=torch.float64, generator=g)
    return a @ a.mT + p * torch.eye(p, dtype=torch.float64)


def _const(p: int) -> float:
    return 0.5 * p * (p + 1) * math.log(2) + 0.25 * p * (p - 1) * math.log(math.pi)


def _entropy_and_scale(df: float, p: int, half_log_det: float) -> tuple[float, float]:
    """The entropy in 80 digits, and the size of its terms that may legitimately cancel."""
    with mp.workdps(DIGITS):
        h = mp.mpf(df) / 2
        lg = sum(mp.loggamma(h - mp.mpf(j) / 2) for j in range(p))
        dg = sum(mp.digamma(h - mp.mpf(j) / 2) for j in range(p))
        rest = _const(p) + lg - (h - mp.mpf(p + 1) / 2) * dg + p * h
        value = rest + (p + 1) * mp.mpf(half_log_det)
    return float(value), float(abs(value) + _const(p) + (p + 1) * abs(half_log_det))


def _entropy_reference(df: torch.Tensor, cov: torch.Tensor):
    """``_entropy_and_scale`` at each df, for the covariance as given (float64 log-det)."""
    p = cov.shape[-1]
    half_log_det = 0.5 * np.linalg.slogdet(cov.double().numpy())[1]
    pairs = [_entropy_and_scale(v, p, half_log_det) for v in df.double().tolist()]
    return tuple(torch.tensor(t, dtype=torch.float64) for t in zip(*pairs))


def _assert_within_ulps(got, expected, scale, dtype, what):
    err = (got.double() - expected).abs() / scale / torch.finfo(dtype).eps
    assert err.max() <= ULPS, f"{what}: {err.max():.1f} ulps of the terms' size"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", range(1, 6))
def test_entropy_within_ulps_of_mpmath(p, dtype):
    """Batched (both forms, each on its own entries) and one df at a time (one form)."""
    cov = _cov(p).to(dtype)
    df = torch.tensor(_dfs(p), dtype=dtype)
    expected, scale = _entropy_reference(df, cov)
    got = D.Wishart(df, covariance_matrix=cov).entropy()
    _assert_within_ulps(got, expected, scale, dtype, "batched")
    alone = torch.stack([D.Wishart(v, covariance_matrix=cov).entropy() for v in df])
    _assert_within_ulps(alone, expected, scale, dtype, "one at a time")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", (1, 2, 5))
def test_entropy_traced_form_within_ulps_of_mpmath(p, dtype):
    """Under vmap the entropy takes its where form (both forms, safe arguments)."""
    cov = _cov(p).to(dtype)
    df = torch.tensor(_dfs(p), dtype=dtype)
    expected, scale = _entropy_reference(df, cov)

    def entropy(v):
        return D.Wishart(v, covariance_matrix=cov, validate_args=False).entropy()

    got = torch.func.vmap(entropy)(df)
    _assert_within_ulps(got, expected, scale, dtype, "vmap")
    columns = torch.func.vmap(entropy, in_dims=1)(df.unsqueeze(1).expand(-1, 2))  # mixed
    _assert_within_ulps(columns[1], expected, scale, dtype, "vmap over columns")


@pytest.mark.parametrize("p", range(1, 6))
def test_entropy_gradient_in_df_matches_mpmath(p):
    """dH/d df = sum_j [1 - (a_j - c_j) psi'(a_j)] / 2, a_j = df/2 - j/2, c_j = (p + 1 - j)/2:
    on the exact form, the series, and a batch of both."""
    df = torch.tensor(_dfs(p)[:-1], dtype=torch.float64)  # 1e30: a gradient below 1e-30

    def reference(v):
        with mp.workdps(DIGITS):
            h = mp.mpf(v) / 2
            terms = (
                1 - (h - mp.mpf(j) / 2 - mp.mpf(p + 1 - j) / 2) * mp.psi(1, h - mp.mpf(j) / 2)
                for j in range(p)
            )
            return float(sum(terms) / 2)

    expected = torch.tensor([reference(v) for v in df.tolist()], dtype=torch.float64)
    cov = _cov(p)
    batched = df.clone().requires_grad_()
    D.Wishart(batched, covariance_matrix=cov).entropy().sum().backward()
    torch.testing.assert_close(batched.grad, expected, rtol=1e-9, atol=1e-12)
    for v, e in zip(df, expected):
        one = v.clone().requires_grad_()
        D.Wishart(one, covariance_matrix=cov).entropy().backward()
        torch.testing.assert_close(one.grad, e, rtol=1e-9, atol=1e-12)


def _log_prob_reference(df: float, cov: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """log p(X) in 80 digits from X's float64 log-determinant and trace, and its terms' size."""
    p = cov.shape[-1]
    with mp.workdps(DIGITS):
        return _log_prob_terms(mp.mpf(df), cov, x, p)


def _log_prob_terms(n, cov: np.ndarray, x: np.ndarray, p: int) -> tuple[float, float]:
    """``_log_prob_reference`` at the working precision, ``n`` an mpf."""
    log_det_x = mp.mpf(np.linalg.slogdet(x)[1])
    trace = mp.mpf(float(np.trace(np.linalg.solve(cov, x))))
    log_det = mp.mpf(np.linalg.slogdet(cov)[1])
    lmvgamma = 0.25 * p * (p - 1) * mp.log(mp.pi) + sum(
        mp.loggamma(n / 2 - mp.mpf(j) / 2) for j in range(p)
    )
    terms = [
        (n - p - 1) / 2 * log_det_x,
        -trace / 2,
        -n / 2 * log_det,
        -n * p / 2 * mp.log(2),
        -lmvgamma,
    ]
    return float(sum(terms)), float(sum(abs(t) for t in terms))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", range(1, 6))
def test_log_prob_within_ulps_of_mpmath(p, dtype):
    """At X = df Sigma times a fixed well-conditioned factor (a typical draw's size)."""
    cov = _cov(p).to(dtype)
    g = torch.Generator().manual_seed(10 + p)
    b = torch.eye(p, dtype=torch.float64) + 0.2 * torch.randn(
        p, p, dtype=torch.float64, generator=g
    )
    shape = b @ b.mT
    tril = torch.linalg.cholesky(cov.double())
    for v in _dfs(p)[:-1]:  # 1e30 Sigma overflows float32
        df = torch.tensor(v, dtype=dtype)
        x = (float(df) * tril @ shape @ tril.mT).to(dtype)
        x = 0.5 * (x + x.mT)  # symmetric after rounding
        expected, scale = _log_prob_reference(float(df), cov.double().numpy(), x.double().numpy())
        got = D.Wishart(df, covariance_matrix=cov).log_prob(x)
        _assert_within_ulps(
            got.reshape(1),
            torch.tensor([expected], dtype=torch.float64),
            scale,
            dtype,
            f"df={v}",
        )
