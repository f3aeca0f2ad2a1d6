"""Generate tests/data/incomplete_gamma_reference.json: 50-digit values of the regularized
incomplete gamma functions, their logarithms, their derivatives in ``a`` and their inverses.

Usage: ``.venv/bin/python scripts/incomplete_gamma_reference.py`` (a few minutes; mpmath only).

Every input is a float64 (stored as ``float.hex``), taken exactly. The smaller tail is computed
directly (``mpmath.gammainc`` lower for ``x < a``, upper otherwise) at 60 digits and the other
tail as its complement, so neither loses digits; the derivatives in ``a`` are ``mpmath.diff`` of
that tail. Quantiles are refined from scipy's by Newton's method at 60 digits. Values are
written with 50 significant digits. tests/test_special_incomplete_gamma.py checks that the table
was made by this exact script (its SHA-256 is stored in the table).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import mpmath as mp
import scipy.special as sc

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "incomplete_gamma_reference.json"

A_VALUES = [1e-3, 0.01, 0.1, 0.5, 1.0, 2.5, 7.0, 10.0, 25.0, 100.0, 1e3, 1e4, 1e5, 1e6]
X_FACTORS = [1e-3, 0.3, 0.7, 0.95, 1.0, 1.05, 1.5, 2.0, 5.0]
X_DEVIATIONS = [-20.0, -5.0, -1.0, 1.0, 5.0, 20.0]  # in standard deviations sqrt(a)
X_FIXED = [0.5, 2.0, 30.0]
P_VALUES = [1e-300, 1e-30, 1e-5, 0.1, 0.5, 0.9, 1 - 1e-5]
INVERSE_A = [1e-3, 0.1, 1.0, 2.5, 30.0, 1e3, 1e6]
EXTRA = [(1e6, 995000.0), (2.5, 50.0), (1000.0, 1.0)]  # the examples


def _digits(v) -> str:
    return mp.nstr(v, 50, min_fixed=1, max_fixed=0)


def _tails(a, x):
    """(P, Q, which tail was computed directly) at the working precision."""
    if x < a:
        p = mp.gammainc(a, 0, x, regularized=True)
        return p, 1 - p, "lower"
    q = mp.gammainc(a, x, mp.inf, regularized=True)
    return 1 - q, q, "upper"


def _point(a_f: float, x_f: float) -> dict | None:
    a, x = mp.mpf(a_f), mp.mpf(x_f)
    p, q, which = _tails(a, x)
    if which == "lower":
        dp = mp.diff(lambda s: mp.gammainc(s, 0, x, regularized=True), a)
    else:
        dp = -mp.diff(lambda s: mp.gammainc(s, x, mp.inf, regularized=True), a)
    return {
        "a": a_f.hex(),
        "x": x_f.hex(),
        # the complement's log from the computed tail: log(1 - w) = log1p(-w)
        "log_p": _digits(mp.log(p) if which == "lower" else mp.log1p(-q)),
        "log_q": _digits(mp.log(q) if which == "upper" else mp.log1p(-p)),
        "dlog_p_da": _digits(dp / p),
        "dlog_q_da": _digits(-dp / q),
    }


def _quantile(a_f: float, p_f: float) -> dict:
    """The x with P(a, x) = p, by Newton's method in log x from scipy's answer."""
    a, p = mp.mpf(a_f), mp.mpf(p_f)
    start = float(sc.gammaincinv(a_f, p_f))
    log_gamma = mp.loggamma(a)
    if 0 < start < math.inf:
        t = mp.log(mp.mpf(start))
    else:  # below the float range: P ~ x^a / Gamma(a + 1) there
        t = (mp.log(p) + mp.loggamma(a + 1)) / a
    for _ in range(60):
        x = mp.exp(t)
        lower, _, _ = _tails(a, x)
        # d log P / d log x = x^a e^-x / (Gamma(a) P)
        slope = mp.exp(a * t - x - log_gamma) / lower
        step = (mp.log(p) - mp.log(lower)) / slope
        t += step
        if abs(step) < mp.mpf(10) ** -55:
            break
    else:
        raise RuntimeError(f"no convergence at a={a_f}, p={p_f}")
    return {"a": a_f.hex(), "p": p_f.hex(), "x": _digits(mp.exp(t))}


def main() -> None:
    mp.mp.dps = 60
    points = []
    for a in A_VALUES:
        sd = math.sqrt(a)
        xs = {a * f for f in X_FACTORS} | {a + k * sd for k in X_DEVIATIONS} | set(X_FIXED)
        for x in sorted(v for v in xs if v > 0):
            points.append((a, x))
    points += EXTRA
    table = []
    for a, x in points:
        try:
            table.append(_point(a, x))
        except mp.libmp.NoConvergence:  # mpmath's own limits (a ~ 1e6 far in a tail)
            print(f"skipped a={a}, x={x}")
    quantiles = [_quantile(a, p) for a in INVERSE_A for p in P_VALUES]
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    data = {
        "generator": "scripts/incomplete_gamma_reference.py",
        "generator_sha256": digest,
        "mpmath": mp.__version__,
        "dps": 60,
        "points": table,
        "quantiles": quantiles,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=0) + "\n")
    print(f"{len(table)} points, {len(quantiles)} quantiles -> {OUT}")


if __name__ == "__main__":
    main()
