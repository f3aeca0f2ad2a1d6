"""Owen's T and log_ive against 50-digit mpmath references
(tests/data/special_owens_bessel_reference.json, made by
scripts/special_owens_bessel_reference.py), in float64 and float32, with gradients.

Budget (issue 9): relative error <= 1e3 eps in float64 and 1e2 eps in float32 (log_ive, a
log, relative to max(1, |value|)); values below the dtype's normal range are only required
to be within that range."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mpmath as mp
import pytest
import torch

from aleatorch.special import log_ive, owens_t

TABLE = json.loads(
    (Path(__file__).parent / "data" / "special_owens_bessel_reference.json").read_text()
)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
BUDGET = {"float64": 1e3, "float32": 1e2}
F64 = torch.float64


def _worst(got: torch.Tensor, refs: list[str], floor: float) -> tuple[float, int]:
    tiny = torch.finfo(got.dtype).tiny
    worst, where = 0.0, -1
    for i, (g, r) in enumerate(zip(got.tolist(), refs)):
        ref = mp.mpf(r)
        if abs(ref) < tiny and floor == 0:
            error = 0.0 if abs(mp.mpf(g) - ref) <= tiny else math.inf
        elif not math.isfinite(g):
            error = math.inf
        else:
            error = float(abs(mp.mpf(g) - ref) / max(abs(ref), mp.mpf(floor)))
        if error > worst or where < 0:
            worst, where = error, i
    return worst, where


def test_reference_table_provenance():
    assert TABLE["generator"] == "scripts/special_owens_bessel_reference.py"
    assert TABLE["dps"] >= 50
    with mp.workdps(50):
        for h, a, ref in TABLE["float64"]["owens_t"]:
            if h == 0 and a > 0:  # T(0, a) = atan(a) / (2 pi)
                assert abs(mp.atan(a) / (2 * mp.pi) / mp.mpf(ref) - 1) < 1e-25
            if a == 1.0:  # T(h, 1) = Phi(h) (1 - Phi(h)) / 2
                expected = mp.ncdf(h) * mp.ncdf(-h) / 2
                assert abs(expected / mp.mpf(ref) - 1) < 1e-25
        for v, x, ref in TABLE["float64"]["log_ive"]:
            if v == 0.5:  # I_(1/2)(x) = sqrt(2 / (pi x)) sinh(x)
                expected = mp.log(mp.sqrt(2 / (mp.pi * x)) * mp.sinh(x)) - x
                assert abs(expected - mp.mpf(ref)) < 1e-25 * max(1, abs(expected))


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_owens_t(dtype_name):
    rows = TABLE[dtype_name]["owens_t"]
    dtype = DTYPES[dtype_name]
    h = torch.tensor([r[0] for r in rows], dtype=dtype)
    a = torch.tensor([r[1] for r in rows], dtype=dtype)
    got = owens_t(h, a)
    assert got.dtype == dtype
    error, i = _worst(got, [r[2] for r in rows], 0.0)
    eps = torch.finfo(dtype).eps
    assert error <= BUDGET[dtype_name] * eps, (
        f"owens_t {dtype_name}: {error / eps:.1f} eps at h={rows[i][0]}, a={rows[i][1]}"
    )
    # symmetries
    torch.testing.assert_close(owens_t(-h, a), got, rtol=0, atol=0)
    torch.testing.assert_close(owens_t(h, -a), -got, rtol=0, atol=0)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_log_ive(dtype_name):
    rows = TABLE[dtype_name]["log_ive"]
    dtype = DTYPES[dtype_name]
    v = torch.tensor([r[0] for r in rows], dtype=dtype)
    x = torch.tensor([r[1] for r in rows], dtype=dtype)
    got = log_ive(v, x)
    assert got.dtype == dtype
    error, i = _worst(got, [r[2] for r in rows], 1.0)
    eps = torch.finfo(dtype).eps
    assert error <= BUDGET[dtype_name] * eps, (
        f"log_ive {dtype_name}: {error / eps:.1f} eps at v={rows[i][0]}, x={rows[i][1]}"
    )


def test_log_ive_matches_torch_where_torch_is_defined():
    # log(i0e(x)) near x = 0 is the log of a number near 1: absolute accuracy only
    x = torch.tensor([1e-3, 0.7, 3.0, 40.0, 500.0], dtype=F64)
    torch.testing.assert_close(
        log_ive(torch.zeros_like(x), x), torch.special.i0e(x).log(), rtol=1e-14, atol=1e-14
    )
    torch.testing.assert_close(
        log_ive(torch.ones_like(x), x), torch.special.i1e(x).log(), rtol=1e-14, atol=1e-14
    )


def test_edge_values():
    inf, nan = math.inf, math.nan
    v = torch.tensor([0.0, 2.0, 1.0, -1.0, 1.0, 1.0], dtype=F64)
    x = torch.tensor([0.0, 0.0, inf, 1.0, -1.0, nan], dtype=F64)
    out = log_ive(v, x)
    assert out[0] == 0 and out[1] == -inf and out[2] == -inf
    assert out[3:].isnan().all()
    h = torch.tensor([inf, 0.0, 3.0, nan], dtype=F64)
    a = torch.tensor([2.0, inf, -inf, 1.0], dtype=F64)
    t = owens_t(h, a)
    assert t[0] == 0 and t[1] == 0.25
    q3 = 0.5 * math.erfc(3 / math.sqrt(2))
    assert abs(t[2].item() / (-q3 / 2) - 1) < 1e-14
    assert t[3].isnan()


def test_gradcheck():
    h = torch.tensor([0.0, 0.3, 2.0, 15.0, -1.0, 4.0], dtype=F64, requires_grad=True)
    a = torch.tensor([0.5, 3.0, -0.7, 1.2, 1e3, 0.999], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(owens_t, (h, a))
    v = torch.tensor([0.0, 0.5, 3.3, 40.0, 0.2, 7.0], dtype=F64, requires_grad=True)
    x = torch.tensor([0.3, 1.5, 12.0, 35.0, 300.0, 0.999], dtype=F64, requires_grad=True)
    # v = 0 is a boundary of the domain: perturb the order only where it is positive
    assert torch.autograd.gradcheck(lambda x: log_ive(v.detach(), x), (x,))
    w = v[1:].detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda w: log_ive(w, x[1:].detach()), (w,))


def test_owens_t_gradients_are_the_closed_forms():
    h = torch.tensor([0.1, 1.5, 6.0, 2.0], dtype=F64, requires_grad=True)
    a = torch.tensor([0.4, 0.9, 2.5, 30.0], dtype=F64, requires_grad=True)
    gh, ga = torch.autograd.grad(owens_t(h, a).sum(), (h, a))
    hd, ad = h.detach(), a.detach()
    expected_a = torch.exp(-0.5 * hd**2 * (1 + ad**2)) / (2 * math.pi * (1 + ad**2))
    phi = torch.exp(-0.5 * hd**2) / math.sqrt(2 * math.pi)
    expected_h = -phi * torch.erf(ad * hd / math.sqrt(2)) / 2
    torch.testing.assert_close(ga, expected_a, rtol=1e-12, atol=0)
    torch.testing.assert_close(gh, expected_h, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    h = torch.tensor([0.5, 2.0], dtype=dtype)
    a = torch.tensor([0.5, 3.0], dtype=dtype)
    assert owens_t(h, a).dtype == dtype
    torch.testing.assert_close(owens_t(h, a), owens_t(h.float(), a.float()).to(dtype))
    assert log_ive(h, a).dtype == dtype
