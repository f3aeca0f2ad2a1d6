"""mpmath references for Owen's T and log_ive (used by special_owens_bessel_reference.py)."""

from __future__ import annotations

import mpmath as mp


def owens_t(h, a):
    """T(h, a) by tanh-sinh quadrature in u = |h| x (split where the Gaussian decays)."""
    h, a = abs(mp.mpf(h)), mp.mpf(a)
    if a == 0:
        return mp.mpf(0)
    sign = 1 if a > 0 else -1
    a = abs(a)
    if h == 0:
        return sign * mp.atan(a) / (2 * mp.pi)
    top = a * h
    points = sorted({mp.mpf(0), top} | {mp.mpf(k) for k in (0.5, 1, 2, 4, 8, 16, 32) if k < top})
    integral = mp.quad(lambda u: mp.exp(-u * u / 2) / (1 + (u / h) ** 2), points)
    return sign * mp.exp(-h * h / 2) * integral / (2 * mp.pi * h)


def log_ive(v, x):
    """log(I_v(x) e^-x) with enough working digits for the large exponents."""
    v, x = mp.mpf(v), mp.mpf(x)
    with mp.workdps(mp.mp.dps + 20):
        return +(mp.log(mp.besseli(v, x, maxterms=10**6)) - x)
