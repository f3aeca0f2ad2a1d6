"""ndtri, ndtri_exp, log_ndtr, stdtr/log_stdtr/stdtrit and the Student-t normalizer/entropy
against 50-digit mpmath references (tests/data/special_normal_student_reference.json, made by
scripts/special_normal_student_reference.py), in float64 and float32, with gradients.

Budget (issue 9): relative error <= 1e3 eps in float64 and 1e2 eps in float32 (the
log-normalizer relative to max(1, |value|)); a value that overflows the dtype must come back
as inf of the right sign, and a finite one never as inf or NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch.special import log_ndtr, log_stdtr, ndtri, ndtri_exp, stdtr, stdtrit
from aleatorch.special.student_t import log_t_normalizer, t_entropy_excess

TABLE = json.loads(
    (Path(__file__).parent / "data" / "special_normal_student_reference.json").read_text()
)
DTYPES = {"float64": torch.float64, "float32": torch.float32}
BUDGET = {"float64": 1e3, "float32": 1e2}
F64 = torch.float64


def _relative_errors(got: torch.Tensor, refs: list[str], floor: float = 0.0) -> list[float]:
    """Relative errors; a true value below the dtype's normal range may come back as
    anything within that range of it (subnormal or 0: no relative accuracy is possible)."""
    tiny = torch.finfo(got.dtype).tiny
    errors = []
    for g, r in zip(got.tolist(), refs):
        if r not in ("inf", "-inf") and abs(mp.mpf(r)) < tiny and floor == 0:
            errors.append(0.0 if abs(mp.mpf(g) - mp.mpf(r)) <= tiny else math.inf)
            continue
        if r in ("inf", "-inf"):
            errors.append(0.0 if g == float(r) else math.inf)
            continue
        ref = mp.mpf(r)
        if not math.isfinite(g):
            errors.append(math.inf)
            continue
        scale = max(abs(ref), mp.mpf(floor))
        errors.append(0.0 if scale == 0 and g == 0 else float(abs(mp.mpf(g) - ref) / scale))
    return errors


def _check(name, dtype_name, got, refs, floor=0.0, inputs=None, condition=None):
    dtype = DTYPES[dtype_name]
    eps = torch.finfo(dtype).eps
    assert got.dtype == dtype
    errors = _relative_errors(got, refs, floor)
    if condition is not None:
        errors = [e / c for e, c in zip(errors, condition)]
    worst = max(range(len(errors)), key=errors.__getitem__)
    where = inputs[worst] if inputs is not None else worst
    assert errors[worst] <= BUDGET[dtype_name] * eps, (
        f"{name} {dtype_name}: {errors[worst] / eps:.1f} eps at {where} "
        f"(got {got.tolist()[worst]!r}, reference {refs[worst]})"
    )


def _column(rows, i, dtype):
    return torch.tensor([r[i] for r in rows], dtype=dtype)


def test_reference_table_provenance():
    """Spot-check the shipped table against mpmath computed here."""
    assert TABLE["generator"] == "scripts/special_normal_student_reference.py"
    assert TABLE["dps"] >= 50
    with mp.workdps(50):
        x, ref = TABLE["float64"]["log_ndtr"][2]
        assert abs(mp.log(mp.ncdf(x)) / mp.mpf(ref) - 1) < 1e-25
        df, t, ref = TABLE["float64"]["log_stdtr"][3 * 11 + 5]  # df = 1: the Cauchy cdf
        assert df == 1.0
        assert abs(mp.log(mp.atan(t) / mp.pi + 0.5) / mp.mpf(ref) - 1) < 1e-25
        df, p, ref = TABLE["float64"]["stdtrit"][4 * 10 + 3]  # df = 2: closed form
        assert df == 2.0
        closed = (2 * mp.mpf(p) - 1) / mp.sqrt(2 * mp.mpf(p) * (1 - mp.mpf(p)))
        assert abs(closed / mp.mpf(ref) - 1) < 1e-25


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_log_ndtr(dtype_name):
    rows = TABLE[dtype_name]["log_ndtr"]
    x = _column(rows, 0, DTYPES[dtype_name])
    _check("log_ndtr", dtype_name, log_ndtr(x), [r[1] for r in rows], inputs=x.tolist())


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_ndtri(dtype_name):
    rows = TABLE[dtype_name]["ndtri"]
    p = _column(rows, 0, DTYPES[dtype_name])
    _check("ndtri", dtype_name, ndtri(p), [r[1] for r in rows], inputs=p.tolist())


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_ndtri_exp(dtype_name):
    rows = TABLE[dtype_name]["ndtri_exp"]
    y = _column(rows, 0, DTYPES[dtype_name])
    # ndtri_exp(y) near the median (x ~ 0) is ill-conditioned: |dx/dy * y / x| is ~20 at
    # y = -0.7; the budget is on the relative error all the same
    _check("ndtri_exp", dtype_name, ndtri_exp(y), [r[1] for r in rows], inputs=y.tolist())


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_log_stdtr(dtype_name):
    rows = TABLE[dtype_name]["log_stdtr"]
    dtype = DTYPES[dtype_name]
    df, t = _column(rows, 0, dtype), _column(rows, 1, dtype)
    inputs = list(zip(df.tolist(), t.tolist()))
    refs = [r[2] for r in rows]
    got = log_stdtr(df, t)
    # a log-cdf that rounds to -0 (F = 1 - tiny below the dtype's resolution) counts as exact
    tiny = [r not in ("inf", "-inf") and abs(mp.mpf(r)) < torch.finfo(dtype).tiny for r in refs]
    got = torch.where(torch.tensor(tiny), torch.zeros_like(got), got)
    refs = ["0" if s else r for s, r in zip(tiny, refs)]
    _check("log_stdtr", dtype_name, got, refs, inputs=inputs)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_stdtr_matches_the_log_form_and_keeps_tiny_values(dtype_name):
    rows = TABLE[dtype_name]["log_stdtr"]
    dtype = DTYPES[dtype_name]
    df, t = _column(rows, 0, dtype), _column(rows, 1, dtype)
    got = stdtr(df, t)
    refs = [mp.nstr(mp.exp(mp.mpf(r[2])), 30) if r[2] != "-inf" else "0" for r in rows]
    tiny = torch.finfo(dtype).tiny
    # below the normal range the value is subnormal or 0: compare absolutely there
    normal = [mp.mpf(r) >= tiny for r in refs]
    idx = [i for i, n in enumerate(normal) if n]
    _check("stdtr", dtype_name, got[idx], [refs[i] for i in idx])
    assert all(got[i].item() <= 2 * tiny for i, n in enumerate(normal) if not n)
    # the survival function by symmetry: F(-t) = 1 - F(t)
    torch.testing.assert_close(stdtr(df, -t) + got, torch.ones_like(got), rtol=0, atol=4e-7)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_stdtrit(dtype_name):
    rows = TABLE[dtype_name]["stdtrit"]
    dtype = DTYPES[dtype_name]
    df, p = _column(rows, 0, dtype), _column(rows, 1, dtype)
    inputs = list(zip(df.tolist(), p.tolist()))
    # In the power-law tail |t| ~ (C p)^(-1/df): one rounding of any intermediate (or of
    # p) moves t by 1/df ulps, so below df = 1 the error is measured in units of that
    # condition number.
    condition = [max(1.0, 1 / d) for d in df.tolist()]
    got = stdtrit(df, p)
    _check("stdtrit", dtype_name, got, [r[2] for r in rows], inputs=inputs, condition=condition)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_student_t_normalizer_and_entropy(dtype_name):
    rows = TABLE[dtype_name]["log_t_normalizer"]
    dtype = DTYPES[dtype_name]
    df = _column(rows, 0, dtype)
    _check("log_t_normalizer", dtype_name, log_t_normalizer(df), [r[1] for r in rows], floor=1)
    big = df >= 20  # the excess ~ 1/df by itself, where its series is used
    excess = t_entropy_excess(df)
    _check("t_entropy_excess", dtype_name, excess[big], [r[2] for r, b in zip(rows, big) if b])
    entropies = [mp.nstr(mp.mpf(r[2]) + (1 + mp.log(2 * mp.pi)) / 2, 30) for r in rows]
    _check("StudentT.entropy", dtype_name, D.StudentT(df).entropy(), entropies, floor=1)
    # log_prob at a few points: log-normalizer minus (df+1)/2 log1p(z^2/df)
    for z in (0.0, 1.0, 40.0, 1e10):
        zt = torch.tensor(z, dtype=dtype)
        refs = []
        for r, d in zip(rows, df.tolist()):
            with mp.workdps(60):
                kernel = (mp.mpf(d) + 1) / 2 * mp.log1p(mp.mpf(zt.item()) ** 2 / mp.mpf(d))
                refs.append(mp.nstr(mp.mpf(r[1]) - kernel, 30))
        got = D.StudentT(df).log_prob(zt)
        finite = [not math.isinf(float(mp.mpf(r))) for r in refs]
        _check(f"StudentT.log_prob({z})", dtype_name, got, refs, floor=1)
        assert all(finite)


def test_log_cdf_far_in_the_tail_and_the_quantile_inverts_it():
    d = D.StudentT(torch.tensor(3.0, dtype=F64))
    x = torch.tensor(-1e10, dtype=F64)
    expected = -68.97982935077677  # mpmath, 50 digits
    assert abs(d.log_cdf(x).item() / expected - 1) < 1e-14
    assert abs(d.log_survival_function(-x).item() / expected - 1) < 1e-14
    q = torch.tensor([1e-300, 1e-20, 0.3, 0.5, 0.9], dtype=F64)
    # betainc's accuracy near 1e-300 is ~2e-13 (its docstring)
    torch.testing.assert_close(d.cdf(d.icdf(q)), q, rtol=1e-12, atol=0)


def _grad_inputs(*values):
    return tuple(torch.tensor(v, dtype=F64, requires_grad=True) for v in values)


def test_gradcheck_ndtri_family():
    y = _grad_inputs([-1e4, -750.0, -100.0, -1.0, -0.1, -1e-3])
    assert torch.autograd.gradcheck(ndtri_exp, y)
    p = _grad_inputs([1e-3, 0.3, 0.9])
    assert torch.autograd.gradcheck(ndtri, p)
    p = torch.tensor([1e-200, 1e-20], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(ndtri(p).sum(), p)
    x = ndtri(p.detach())
    density = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    torch.testing.assert_close(grad, 1 / density, rtol=1e-12, atol=0)
    x = _grad_inputs([-1e3, -20.0, 0.5, 9.0])
    assert torch.autograd.gradcheck(log_ndtr, x)


@pytest.mark.parametrize(
    "df", [[0.3, 3.0, 40.0, 1e5], [2e16, 1e18, 5e17, 3e16]], ids=["beta", "normal-limit"]
)
def test_gradcheck_student_t(df):
    df_t, t = _grad_inputs(df, [-30.0, -2.0, 0.4, 5.0])
    assert torch.autograd.gradcheck(stdtr, (df_t, t), atol=1e-8, rtol=1e-5)
    assert torch.autograd.gradcheck(log_stdtr, (df_t, t), atol=1e-8, rtol=1e-5)
    p = torch.tensor([1e-3, 0.2, 0.45, 0.9], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(stdtrit, (df_t, p), atol=1e-8, rtol=1e-5)


def test_quantile_gradient_is_the_inverse_density():
    df = torch.tensor([0.5, 3.0, 1e4], dtype=F64)
    p = torch.tensor([1e-100, 0.3, 0.99], dtype=F64, requires_grad=True)
    t = stdtrit(df, p)
    (grad,) = torch.autograd.grad(t.sum(), p)
    density = D.StudentT(df).log_prob(t.detach()).exp()
    torch.testing.assert_close(grad, 1 / density, rtol=1e-10, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    p = torch.tensor([1e-4, 0.3, 0.9], dtype=dtype)
    assert ndtri(p).dtype == dtype
    assert ndtri_exp(p.log()).dtype == dtype
    df = torch.tensor([1.0, 3.0, 30.0], dtype=dtype)
    t = stdtrit(df, p)
    assert t.dtype == dtype
    expected = stdtrit(df.float(), p.float()).to(dtype)
    torch.testing.assert_close(t, expected)
    assert stdtr(df, t).dtype == dtype


def test_edge_values():
    inf = math.inf
    y = torch.tensor([0.0, -inf, 0.5], dtype=F64)
    out = ndtri_exp(y)
    assert out[0] == inf and out[1] == -inf and math.isnan(out[2])
    df = torch.tensor(3.0, dtype=F64)
    assert stdtrit(df, torch.tensor(0.0, dtype=F64)) == -inf
    assert stdtrit(df, torch.tensor(1.0, dtype=F64)) == inf
    assert stdtrit(df, torch.tensor(0.5, dtype=F64)) == 0
    assert stdtr(df, torch.tensor(-inf, dtype=F64)) == 0
    assert stdtr(df, torch.tensor(inf, dtype=F64)) == 1
