"""40-digit mpmath implicit gradients of Beta samples (shared by the implicit-gradient tests)."""

from __future__ import annotations

import functools

import mpmath


def smaller_tail(a, b, x):
    """``I_x(a, b)`` below the switch point ``x < (a+1)/(a+b+2)``, by the continued fraction
    of Numerical Recipes (6.4.5), evaluated backward from a depth past convergence,
    O(sqrt(a + b)) (mpmath's own betainc fails for a, b ~ 1e4). At the caller's precision."""
    t = mpmath.mpf(1)
    for k in range(int(120 + 4 * mpmath.sqrt(a + b)), 0, -1):
        m = k // 2
        if k % 2:
            d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            d = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        t = 1 + d / t
    log_kernel = a * mpmath.log(x) + b * mpmath.log1p(-x) - mpmath.log(a)
    log_kernel -= mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
    return mpmath.exp(log_kernel) / t


@functools.cache
def beta_sample_gradients(a, b, x) -> tuple[float, float]:
    """``(dx/da, dx/db)`` of a Beta(a, b) sample at x: 40-digit central differences of the
    cdf, divided by the density."""
    with mpmath.workdps(40):
        a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
        lower = x < (a + 1) / (a + b + 2)

        def cdf(s, t):  # I_x, or minus its complement: the same derivative
            return smaller_tail(s, t, x) if lower else -smaller_tail(t, s, 1 - x)

        log_pdf = (a - 1) * mpmath.log(x) + (b - 1) * mpmath.log1p(-x)
        log_pdf -= mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
        ha, hb = a * mpmath.mpf(10) ** -15, b * mpmath.mpf(10) ** -15
        da = (cdf(a + ha, b) - cdf(a - ha, b)) / (2 * ha)
        db = (cdf(a, b + hb) - cdf(a, b - hb)) / (2 * hb)
        pdf = mpmath.exp(log_pdf)
        return float(-da / pdf), float(-db / pdf)
