"""Fit the polynomials of `aleatorch.special.bessel_i0` (50-digit mpmath values, numpy).

Run: .venv/bin/python scripts/fit_bessel_i0.py ; paste the printed lists into the module."""

import math

import mpmath as mp
import numpy as np

mp.mp.dps = 40
SPLIT = 6.0
NODES = 200


def chebyshev_nodes_01(n):
    k = np.arange(n)
    return (np.cos(np.pi * (k + 0.5) / n) + 1) / 2


def monomial_fit(f, degree):
    """Least-squares Chebyshev fit of f on u in (0, 1], as monomial coefficients in u."""
    u = chebyshev_nodes_01(NODES)
    y = np.array([float(f(mp.mpf(float(v)))) for v in u])
    series = np.polynomial.Chebyshev.fit(u, y, degree, domain=[0, 1])
    return series.convert(kind=np.polynomial.Polynomial, domain=[0, 1], window=[0, 1]).coef


def scaled_i0e(u):  # sqrt(x) i0e(x), x = SPLIT / u
    x = SPLIT / u
    return mp.sqrt(x) * mp.besseli(0, x) * mp.exp(-x)


def scaled_variance(u):  # 2 x (1 - I1(x) / I0(x)), x = SPLIT / u
    x = SPLIT / u
    return 2 * x * (1 - mp.besseli(1, x) / mp.besseli(0, x))


if __name__ == "__main__":
    print("I0_TAYLOR =", [1 / math.factorial(k) ** 2 for k in range(1, 15)])
    print("I0E_TAIL =", [float(c) for c in monomial_fit(scaled_i0e, 9)])
    print("VARIANCE_TAIL =", [float(c) for c in monomial_fit(scaled_variance, 12)])
