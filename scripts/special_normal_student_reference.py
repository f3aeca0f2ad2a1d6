"""Generate tests/data/special_normal_student_reference.json: 50-digit mpmath values of
log_ndtr, ndtri, ndtri_exp, the Student-t log-cdf and quantile, and the Student-t
log-normalizer and entropy excess, at the float64 and float32 grids the accuracy tests use.

Inputs are stored as the exact float64 value of the dtype's rounding; references as decimal
strings ("inf"/"-inf" where the true value overflows the dtype). Run from the repo root:

    .venv/bin/python scripts/special_normal_student_reference.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import mpmath as mp
import numpy as np
import scipy.special as sc

sys.path.insert(0, str(Path(__file__).parent))
from special_student_t_mp import log_cdf_any, quantile  # noqa: E402

DPS = 50
OUT = Path(__file__).parent.parent / "tests" / "data" / "special_normal_student_reference.json"
DTYPES = {"float64": np.float64, "float32": np.float32}

LOG_NDTR_X = [-1e5, -1e3, -40.0, -38.5, -20.0, -5.0, -1.0, 0.0, 1.0, 5.0, 8.0, 10.0, 20.0, 37.0]
NDTRI_P = {
    "float64": [
        5e-324,
        1e-300,
        1e-200,
        1e-100,
        1e-38,
        1e-10,
        1e-3,
        0.1,
        0.3,
        0.49,
        0.7,
        0.99,
        1 - 1e-10,
    ],
    "float32": [1e-45, 1e-38, 1e-30, 1e-10, 1e-3, 0.1, 0.3, 0.49, 0.7, 0.99, 0.9999],
}
NDTRI_EXP_Y = [
    -1e5,
    -1e4,
    -800.0,
    -701.0,
    -699.0,
    -100.0,
    -81.0,
    -79.0,
    -20.0,
    -2.1,
    -1.9,
    -0.7,
    -0.2,
    -0.15,
    -0.14,
    -1e-3,
    -1e-10,
    -1e-30,
    -1e-300,
]
DFS = [1e-3, 0.1, 0.5, 1.0, 2.0, 3.0, 10.0, 30.0, 1e3, 1e5, 1e8, 1e12, 1e17, 1e30]
T_VALUES = {
    "float64": [-1e300, -1e100, -1e10, -1e3, -40.0, -5.0, -1.0, -0.1, 0.5, 3.0, 40.0],
    "float32": [-3e38, -1e10, -1e3, -40.0, -5.0, -1.0, -0.1, 0.5, 3.0, 40.0],
}
P_VALUES = {
    "float64": [1e-300, 1e-100, 1e-30, 1e-5, 0.1, 0.3, 0.45, 0.7, 0.999, 1 - 1e-10],
    "float32": [1e-38, 1e-10, 1e-3, 0.1, 0.3, 0.45, 0.7, 0.999],
}
NORMALIZER_DF = [1e-3, 0.1, 1.0, 3.0, 19.9, 20.0, 20.1, 100.0, 1e4, 1e6, 1e8, 1e12, 1e20, 3e38]


def _round(values, dtype):
    return [float(DTYPES[dtype](v)) for v in values]


def _text(value, dtype) -> str:
    big = float(np.finfo(DTYPES[dtype]).max)
    if value > big:
        return "inf"
    if value < -big:
        return "-inf"
    return mp.nstr(value, 30)


def log_ndtr(x):
    x = mp.mpf(x)
    return mp.log(mp.ncdf(x)) if x <= 0 else mp.log1p(-mp.ncdf(-x))


def ndtri(p):
    # log-space Newton: log Phi(x) = log p
    return ndtri_exp(mp.log(mp.mpf(p)))


def ndtri_exp(y):
    y = mp.mpf(y)
    if y > mp.log(mp.mpf(1) / 2):
        # the upper half by symmetry, from the exact complement 1 - e^y = -expm1(y)
        return -ndtri_exp(mp.log(-mp.expm1(y)))
    x = -mp.sqrt(-2 * y)
    for _ in range(100):
        lf = mp.log(mp.ncdf(x))
        step = (lf - y) / mp.exp(-x * x / 2 - mp.log(2 * mp.pi) / 2 - lf)
        x -= step
        if abs(step) < abs(x) * mp.mpf(10) ** (-(DPS - 5)):
            break
    return x


def log_t_normalizer(df):
    df = mp.mpf(df)
    with mp.workdps(DPS + int(max(0, mp.log10(df))) + 10):
        return +(mp.loggamma((df + 1) / 2) - mp.loggamma(df / 2) - mp.log(df * mp.pi) / 2)


def entropy_excess(df):
    df = mp.mpf(df)
    with mp.workdps(DPS + 2 * int(max(0, mp.log10(df))) + 10):
        z = df / 2
        entropy = (
            (z + mp.mpf(1) / 2) * (mp.digamma(z + mp.mpf(1) / 2) - mp.digamma(z))
            + mp.log(df) / 2
            + mp.log(mp.beta(z, mp.mpf(1) / 2))
        )
        return +(entropy - (1 + mp.log(2 * mp.pi)) / 2)


def _quantile_start(df, p):
    start = float(sc.stdtrit(df, p))
    return start if np.isfinite(start) and start != 0 else (-1.0 if p < 0.5 else 1.0)


def main() -> None:
    mp.mp.dps = DPS
    begin = time.time()
    table: dict = {
        "generator": "scripts/special_normal_student_reference.py",
        "mpmath": mp.__version__,
        "dps": DPS,
    }
    for dtype in DTYPES:
        section = table[dtype] = {}
        section["log_ndtr"] = [[x, _text(log_ndtr(x), dtype)] for x in _round(LOG_NDTR_X, dtype)]
        section["ndtri"] = [[p, _text(ndtri(p), dtype)] for p in _round(NDTRI_P[dtype], dtype)]
        section["ndtri_exp"] = [
            [y, _text(ndtri_exp(y), dtype)] for y in _round(NDTRI_EXP_Y, dtype) if y != 0
        ]
        section["log_t_normalizer"] = [
            [df, _text(log_t_normalizer(df), dtype), _text(entropy_excess(df), dtype)]
            for df in _round(NORMALIZER_DF, dtype)
        ]
        rows = []
        for df in _round(DFS, dtype):
            for t in _round(T_VALUES[dtype], dtype):
                rows.append([df, t, _text(log_cdf_any(df, t), dtype)])
        section["log_stdtr"] = rows
        rows = []
        for df in _round(DFS, dtype):
            for p in _round(P_VALUES[dtype], dtype):
                t = quantile(df, p, _quantile_start(df, p))
                rows.append([df, p, _text(t, dtype)])
        section["stdtrit"] = rows
        print(dtype, f"{time.time() - begin:.0f}s", flush=True)
    OUT.write_text(json.dumps(table, indent=0) + "\n")


if __name__ == "__main__":
    main()
