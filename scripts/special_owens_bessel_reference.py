"""Generate tests/data/special_owens_bessel_reference.json: 50-digit mpmath values of Owen's
T and of log_ive at the float64/float32 grids of tests/test_special_owens_bessel.py.

    .venv/bin/python scripts/special_owens_bessel_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath as mp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from special_owens_bessel_mp import log_ive, owens_t  # noqa: E402

DPS = 50
OUT = Path(__file__).parent.parent / "tests" / "data" / "special_owens_bessel_reference.json"
DTYPES = {"float64": np.float64, "float32": np.float32}
H = {
    "float64": [0.0, 1e-5, 0.1, 0.5, 1.2345678, 2.0, 5.0, 8.0, 12.345678, 20.0, 30.0, 36.1234567],
    "float32": [0.0, 1e-5, 0.1, 0.5, 1.2345678, 2.0, 5.0, 8.0, 10.0, 12.345678],
}
A = [-2.0, 1e-10, 1e-3, 0.1, 0.5, 0.9, 0.999, 1.0, 1.001, 1.5, 3.0, 10.0, 100.0, 1e5, 1e10]
V = [0.0, 1e-3, 0.5, 1.0, 2.5, 10.0, 15.5, 50.0, 1e3, 1e5]
X = [1e-30, 1e-5, 0.5, 1.0, 1.01, 2.0, 5.0, 10.0, 30.0, 100.0, 1e3, 1e5]


def _round(values, dtype):
    return [float(DTYPES[dtype](v)) for v in values]


def main() -> None:
    mp.mp.dps = DPS
    table: dict = {
        "generator": "scripts/special_owens_bessel_reference.py",
        "mpmath": mp.__version__,
        "dps": DPS,
    }
    for dtype in DTYPES:
        table[dtype] = {
            "owens_t": [
                [h, a, mp.nstr(owens_t(h, a), 30)]
                for h in _round(H[dtype], dtype)
                for a in _round(A, dtype)
            ],
            "log_ive": [
                [v, x, mp.nstr(log_ive(v, x), 30)]
                for v in _round(V, dtype)
                for x in _round(X, dtype)
            ],
        }
        print(dtype, flush=True)
    OUT.write_text(json.dumps(table, indent=0) + "\n")


if __name__ == "__main__":
    main()
