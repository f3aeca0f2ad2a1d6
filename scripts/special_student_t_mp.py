"""mpmath references for the Student-t cdf and quantile (used by special_reference.py).

``log_tail(df, t)`` is ``log F(-|t|)``: the density at ``-|t|`` times the integral of the
density ratio ``f(-|t| - w) / f(-|t|)`` over ``w >= 0`` (tanh-sinh quadrature, split at
multiples of the ratio's decay scale), so it stays accurate far in the tail and for any df.
"""

from __future__ import annotations

import mpmath as mp


def log_density(df, t):
    with mp.workdps(_digits(df)):
        return +_log_density(df, t)


def _log_density(df, t):
    df, t = mp.mpf(df), mp.mpf(t)
    return (
        mp.loggamma((df + 1) / 2)
        - mp.loggamma(df / 2)
        - mp.log(df * mp.pi) / 2
        - (df + 1) / 2 * mp.log1p(t * t / df)
    )


def log_tail(df, t):
    df, t = mp.mpf(df), -abs(mp.mpf(t))
    d = df + t * t

    def ratio(w):
        return mp.exp(-(df + 1) / 2 * mp.log1p((w * w - 2 * t * w) / d))

    # the ratio's log falls linearly on the scale d / ((df + 1)|t|) and quadratically on
    # sqrt(d / (df + 1)); split the quadrature at multiples of the shorter one
    quadratic = mp.sqrt(d / (df + 1))
    scale = min(quadratic, d / ((df + 1) * abs(t))) if t != 0 else quadratic
    points = [0] + [scale * 4**k for k in range(0, 60)] + [mp.inf]
    integral = mp.quad(ratio, points)
    return log_density(df, t) + mp.log(integral)


def log_cdf(df, t):
    t = mp.mpf(t)
    if t <= 0:
        return log_tail(df, t)
    return mp.log1p(-mp.exp(log_tail(df, t)))


def log_cdf_any(df, t):
    """log F(t): mpmath's incomplete beta for df < 100 (heavy tails), quadrature above."""
    df, t = mp.mpf(df), mp.mpf(t)
    if df >= 100:
        return log_cdf(df, t)
    x = df / (df + t * t)
    tail = mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return mp.log(tail) if t <= 0 else mp.log1p(-tail)


def quantile(df, p, start):
    """t with F(t) = p: Newton steps on log F(-e^u) = log min(p, 1 - p) in u = log|t|,
    from ``start`` (a float estimate, e.g. scipy's)."""
    df, p = mp.mpf(df), mp.mpf(p)
    if p == mp.mpf(1) / 2:
        return mp.mpf(0)
    lower = p < mp.mpf(1) / 2
    target = mp.log(p if lower else 1 - p)
    u = mp.log(abs(mp.mpf(start)))
    for _ in range(400):
        t = -mp.exp(u)
        lf = log_cdf_any(df, t)
        # d log F(-e^u) / du = -f(t) e^u / F
        slope = -mp.exp(log_density(df, t) + u - lf)
        step = (lf - target) / slope
        step = max(min(step, mp.mpf(10) ** 7), -5)
        u -= step
        if abs(step) < mp.mpf(10) ** (-(mp.mp.dps - 5)):
            break
    t = mp.exp(u)
    return -t if lower else t


def _digits(df) -> int:
    """Working digits: lgamma((df+1)/2) - lgamma(df/2) cancels log10(df) of them."""
    return mp.mp.dps + max(0, int(mp.log10(mp.mpf(df)))) + 10
