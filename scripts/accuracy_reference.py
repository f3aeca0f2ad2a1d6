"""Generate tests/data/accuracy_reference.json: 50-digit references for every method of every
univariate family, and for same-family KL divergences, over the grid of
``tests/accuracy/grid.py``.

Usage::

    .venv/bin/python scripts/accuracy_reference.py            # everything (a few minutes)
    .venv/bin/python scripts/accuracy_reference.py --selfcheck  # closed forms vs quadrature

Every family's mathematics is written here in mpmath (closed forms, mpmath's erfc, gammainc,
besseli, quadrature; the incomplete beta function by its continued fraction), at
``mp.dps = 50``: nothing comes from aleatorch, torch or scipy.
For each dtype the grid's parameters, points and quantile levels are first rounded to that
dtype, and the references are computed at the rounded values, taken exactly. Of the two tails
of a cdf the smaller one is computed directly and the other as its complement (its log through
``log1p``), so neither loses digits. Quantiles are found by a bracketed root search on the log
of the smaller tail (continuous families), or by bisection over the integers (discrete ones:
the smallest k with F(k) >= q). Values are written with 22 significant digits.

The table records its provenance: mpmath's version, the working precision and the SHA-256 of
this script and of the grid module; tests/accuracy/test_accuracy.py checks that they match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from multiprocessing import Pool
from pathlib import Path

import mpmath as mp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "accuracy_reference.json"
GRID_FILE = ROOT / "tests" / "accuracy" / "grid.py"
sys.path.insert(0, str(GRID_FILE.parent))
import grid  # noqa: E402  (plain floats: tests/accuracy/grid.py)

DPS = 50
DIGITS = 22
mp.mp.dps = DPS

# ----------------------------------------------------------------------------- helpers


def F(v: float) -> mp.mpf:
    """A float taken exactly."""
    return mp.mpf(v)


def one_minus(v: float) -> mp.mpf:
    """``1 - v`` for a float ``v``, exact (then rounded to the working precision)."""
    with mp.workprec(2300):
        r = 1 - mp.mpf(v)
    return +r


def lower(p):
    """(cdf, sf, log cdf, log sf) from a directly computed lower tail."""
    return p, 1 - p, mp.log(p) if p > 0 else -mp.inf, mp.log1p(-p) if p < 1 else -mp.inf


def upper(q):
    c, s, lc, ls = lower(q)
    return s, c, ls, lc


def both(p, q):
    return p, q, (mp.log(p) if p > 0 else -mp.inf), (mp.log(q) if q > 0 else -mp.inf)


def ncdf(z):
    return mp.erfc(-z / mp.sqrt(2)) / 2


def normal_tails(z):
    return both(ncdf(z), ncdf(-z))


def reg_inc_gamma(a, x):
    """(P, Q) of the regularized incomplete gamma functions, the smaller one direct. Where
    mpmath's lower gamma gives up (a ~ 1e8) the lower tail is its positive series
    ``x^a e^-x / Gamma(a + 1) 1F1(1; a + 1; x)`` with more terms."""
    if x < a:
        try:
            p = mp.gammainc(a, 0, x, regularized=True)
        except mp.libmp.NoConvergence:
            pre = mp.exp(a * mp.log(x) - x - mp.loggamma(a + 1))
            p = pre * mp.hyp1f1(1, a + 1, x, maxterms=10**7)
        return lower(p)
    return upper(mp.gammainc(a, x, mp.inf, regularized=True))


def _beta_cf(a, b, x, y):
    """``I_x(a, b)`` by its continued fraction (modified Lentz), for x below
    ``(a + 1) / (a + b + 2)`` where it converges in O(sqrt(max(a, b))) terms; ``y = 1 - x``
    given exactly."""
    if x == 0:
        return mp.mpf(0)
    tiny = mp.mpf(10) ** -1000
    c, d = mp.mpf(1), 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10**7):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1) < mp.mpf(10) ** -(DPS + 2):
            break
    else:
        raise RuntimeError("incomplete beta: no convergence")
    log_pre = a * mp.log(x) + b * mp.log(y) - mp.log(a) - log_beta(a, b)
    return mp.exp(log_pre) * h


def reg_inc_beta(a, b, x, y):
    """Tails of ``I_x(a, b)``, ``y = 1 - x`` exactly: the side where the continued fraction
    converges is computed directly, the other as its complement."""
    if x < (a + 1) / (a + b + 2):
        return lower(_beta_cf(a, b, x, y))
    return upper(_beta_cf(b, a, y, x))


def log_beta(a, b):
    return mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)


def prob_parts(p):
    """(p, 1 - p, log p, log(1 - p)) from ``probs`` or ``logits``, without cancellation."""
    if "logits" in p:
        t = F(p["logits"])
        lp, lq = -mp.log1p(mp.exp(-t)), -mp.log1p(mp.exp(t))
        return mp.exp(lp), mp.exp(lq), lp, lq
    pr = F(p["probs"])
    q = one_minus(p["probs"])
    return pr, q, mp.log(pr), mp.log(q)


def digits(v) -> str:
    if mp.isnan(v):
        return "nan"
    if mp.isinf(v):
        return "inf" if v > 0 else "-inf"
    return mp.nstr(v, DIGITS, min_fixed=1, max_fixed=0)


# ----------------------------------------------------------------------------- families
# Each family: ``inside(p, x)``, ``log_prob(p, x)``, ``tails(p, x)`` -> (cdf, sf, log cdf,
# log sf), ``domain(p)`` for the quantile search, ``entropy``, ``mean``, ``variance`` (None
# where not defined here). Parameters arrive as float dicts.


class Family:
    discrete = False

    def inside(self, p, x):
        lo, hi = self.bounds(p)
        return lo <= x <= hi

    def bounds(self, p):
        return -mp.inf, mp.inf

    def entropy(self, p):
        return None

    def mean(self, p):
        return None

    def variance(self, p):
        return None


class LocScale(Family):
    def z(self, p, x):
        return (F(x) - F(p["loc"])) / F(p["scale"])

    def domain(self, p):
        return ("real", F(p["loc"]), F(p["scale"]))


class Normal(LocScale):
    def log_prob(self, p, x):
        return -(self.z(p, x) ** 2) / 2 - mp.log(F(p["scale"])) - mp.log(2 * mp.pi) / 2

    def tails(self, p, x):
        return normal_tails(self.z(p, x))

    def entropy(self, p):
        return (1 + mp.log(2 * mp.pi)) / 2 + mp.log(F(p["scale"]))

    def mean(self, p):
        return F(p["loc"])

    def variance(self, p):
        return F(p["scale"]) ** 2


class Laplace(LocScale):
    def log_prob(self, p, x):
        return -mp.log(2 * F(p["scale"])) - abs(self.z(p, x))

    def tails(self, p, x):
        z = self.z(p, x)
        return lower(mp.exp(z) / 2) if z < 0 else upper(mp.exp(-z) / 2)

    def entropy(self, p):
        return 1 + mp.log(2 * F(p["scale"]))

    def mean(self, p):
        return F(p["loc"])

    def variance(self, p):
        return 2 * F(p["scale"]) ** 2


class Cauchy(LocScale):
    def log_prob(self, p, x):
        return -mp.log(mp.pi * F(p["scale"]) * (1 + self.z(p, x) ** 2))

    def tails(self, p, x):
        z = self.z(p, x)
        # atan(1 / |z|) / pi is the tail beyond |z|, without 1/2 - atan cancelling
        if z < 0:
            return lower(mp.atan(1 / -z) / mp.pi)
        if z == 0:
            return lower(mp.mpf(1) / 2)
        return upper(mp.atan(1 / z) / mp.pi)

    def entropy(self, p):
        return mp.log(4 * mp.pi * F(p["scale"]))


class Uniform(Family):
    def bounds(self, p):
        return F(p["low"]), F(p["high"])

    def inside(self, p, x):
        return p["low"] <= x < p["high"]

    def log_prob(self, p, x):
        return -mp.log(F(p["high"]) - F(p["low"]))

    def tails(self, p, x):
        w = F(p["high"]) - F(p["low"])
        return both((F(x) - F(p["low"])) / w, (F(p["high"]) - F(x)) / w)

    def domain(self, p):
        return ("interval", F(p["low"]), F(p["high"]))

    def entropy(self, p):
        return mp.log(F(p["high"]) - F(p["low"]))

    def mean(self, p):
        return (F(p["low"]) + F(p["high"])) / 2

    def variance(self, p):
        return (F(p["high"]) - F(p["low"])) ** 2 / 12


class Positive(Family):
    def bounds(self, p):
        return mp.mpf(0), mp.inf

    def inside(self, p, x):
        return x > 0

    def domain(self, p):
        m = self.mean(p)
        return ("positive", mp.mpf(0), m if m is not None and mp.isfinite(m) and m > 0 else 1)


class Exponential(Positive):
    def log_prob(self, p, x):
        r = F(p["rate"])
        return mp.log(r) - r * F(x)

    def tails(self, p, x):
        t = F(p["rate"]) * F(x)
        return both(-mp.expm1(-t), mp.exp(-t))

    def entropy(self, p):
        return 1 - mp.log(F(p["rate"]))

    def mean(self, p):
        return 1 / F(p["rate"])

    def variance(self, p):
        return 1 / F(p["rate"]) ** 2


class Gamma(Positive):
    def ar(self, p):
        return F(p["concentration"]), F(p["rate"])

    def log_prob(self, p, x):
        a, r = self.ar(p)
        x = F(x)
        return a * mp.log(r) + (a - 1) * mp.log(x) - r * x - mp.loggamma(a)

    def tails(self, p, x):
        a, r = self.ar(p)
        return reg_inc_gamma(a, r * F(x))

    def entropy(self, p):
        a, r = self.ar(p)
        return a - mp.log(r) + mp.loggamma(a) + (1 - a) * mp.digamma(a)

    def mean(self, p):
        a, r = self.ar(p)
        return a / r

    def variance(self, p):
        a, r = self.ar(p)
        return a / r**2


class Chi2(Gamma):
    def ar(self, p):
        return F(p["df"]) / 2, mp.mpf(1) / 2


class InverseGamma(Positive):
    def log_prob(self, p, x):
        a, b, x = F(p["concentration"]), F(p["rate"]), F(x)
        return a * mp.log(b) - mp.loggamma(a) - (a + 1) * mp.log(x) - b / x

    def tails(self, p, x):
        c, s, lc, ls = reg_inc_gamma(F(p["concentration"]), F(p["rate"]) / F(x))
        return s, c, ls, lc

    def domain(self, p):
        return ("positive", mp.mpf(0), F(p["rate"]) / F(p["concentration"]))

    def entropy(self, p):
        a, b = F(p["concentration"]), F(p["rate"])
        return a + mp.log(b) + mp.loggamma(a) - (1 + a) * mp.digamma(a)

    def mean(self, p):
        a, b = F(p["concentration"]), F(p["rate"])
        return b / (a - 1) if a > 1 else mp.inf

    def variance(self, p):
        a, b = F(p["concentration"]), F(p["rate"])
        return b**2 / ((a - 1) ** 2 * (a - 2)) if a > 2 else mp.inf


class Unit(Family):
    def bounds(self, p):
        return mp.mpf(0), mp.mpf(1)

    def inside(self, p, x):
        return 0 < x < 1

    def domain(self, p):
        return ("interval", mp.mpf(0), mp.mpf(1))


class Beta(Unit):
    def ab(self, p):
        return F(p["concentration1"]), F(p["concentration0"])

    def log_prob(self, p, x):
        a, b = self.ab(p)
        return (a - 1) * mp.log(F(x)) + (b - 1) * mp.log(one_minus(x)) - log_beta(a, b)

    def tails(self, p, x, y=None):
        a, b = self.ab(p)
        return reg_inc_beta(a, b, F(x), one_minus(x) if y is None else y)

    def entropy(self, p):
        a, b = self.ab(p)
        return (
            log_beta(a, b)
            - (a - 1) * mp.digamma(a)
            - (b - 1) * mp.digamma(b)
            + (a + b - 2) * mp.digamma(a + b)
        )

    def mean(self, p):
        a, b = self.ab(p)
        return a / (a + b)

    def variance(self, p):
        a, b = self.ab(p)
        return a * b / ((a + b) ** 2 * (a + b + 1))


class StudentT(LocScale):
    def log_prob(self, p, x):
        n = F(p["df"])
        return (
            mp.loggamma((n + 1) / 2)
            - mp.loggamma(n / 2)
            - mp.log(n * mp.pi) / 2
            - mp.log(F(p["scale"]))
            - (n + 1) / 2 * mp.log1p(self.z(p, x) ** 2 / n)
        )

    def tails(self, p, x):
        n, t = F(p["df"]), self.z(p, x)
        if t == 0:
            return lower(mp.mpf(1) / 2)
        # the tail beyond |t| is I_{n/(n+t^2)}(n/2, 1/2) / 2
        w, v = n / (n + t * t), t * t / (n + t * t)
        c, s, lc, ls = reg_inc_beta(n / 2, mp.mpf(1) / 2, w, v)
        far = c / 2
        return lower(far) if t < 0 else upper(far)

    def entropy(self, p):
        n = F(p["df"])
        return (
            (n + 1) / 2 * (mp.digamma((n + 1) / 2) - mp.digamma(n / 2))
            + mp.log(mp.sqrt(n))
            + log_beta(n / 2, mp.mpf(1) / 2)
            + mp.log(F(p["scale"]))
        )

    def mean(self, p):
        return F(p["loc"]) if p["df"] > 1 else mp.nan

    def variance(self, p):
        n = F(p["df"])
        if n > 2:
            return F(p["scale"]) ** 2 * n / (n - 2)
        return mp.inf if n > 1 else mp.nan


class FisherSnedecor(Positive):
    def dd(self, p):
        return F(p["df1"]), F(p["df2"])

    def log_prob(self, p, x):
        d1, d2 = self.dd(p)
        x = F(x)
        return (
            d1 / 2 * mp.log(d1 / d2)
            + (d1 / 2 - 1) * mp.log(x)
            - (d1 + d2) / 2 * mp.log1p(d1 * x / d2)
            - log_beta(d1 / 2, d2 / 2)
        )

    def tails(self, p, x):
        d1, d2 = self.dd(p)
        x = F(x)
        return reg_inc_beta(d1 / 2, d2 / 2, d1 * x / (d1 * x + d2), d2 / (d1 * x + d2))

    def domain(self, p):
        return ("positive", mp.mpf(0), mp.mpf(1))

    def entropy(self, p):
        # F = (d2 / d1) B' with B' ~ BetaPrime(d1 / 2, d2 / 2)
        d1, d2 = self.dd(p)
        a, b = d1 / 2, d2 / 2
        h = log_beta(a, b) - (a - 1) * mp.digamma(a) + (a + b) * mp.digamma(a + b)
        return h - (b + 1) * mp.digamma(b) + mp.log(d2 / d1)

    def mean(self, p):
        d1, d2 = self.dd(p)
        return d2 / (d2 - 2) if d2 > 2 else mp.inf

    def variance(self, p):
        d1, d2 = self.dd(p)
        if d2 <= 4:
            return mp.inf  # E[X^2] diverges (and so does E[X] for d2 <= 2)
        return 2 * d2**2 * (d1 + d2 - 2) / (d1 * (d2 - 2) ** 2 * (d2 - 4))


class GeneralizedPareto(Family):
    def parts(self, p, x):
        c = F(p["concentration"])
        z = (F(x) - F(p["loc"])) / F(p["scale"])
        # -log S = log1p(c z) / c, or z at c = 0
        h = z if c == 0 else mp.log1p(c * z) / c
        return c, z, h

    def bounds(self, p):
        lo, s, c = F(p["loc"]), F(p["scale"]), F(p["concentration"])
        return lo, (lo - s / c if c < 0 else mp.inf)

    def inside(self, p, x):
        lo, hi = self.bounds(p)
        return lo <= x < hi

    def log_prob(self, p, x):
        c, z, h = self.parts(p, x)
        return -mp.log(F(p["scale"])) - (h if c == 0 else (1 / c + 1) * mp.log1p(c * z))

    def tails(self, p, x):
        c, z, h = self.parts(p, x)
        return both(-mp.expm1(-h), mp.exp(-h))

    def domain(self, p):
        lo, hi = self.bounds(p)
        if hi < mp.inf:
            return ("interval", lo, hi)
        return ("positive", lo, F(p["scale"]))

    def entropy(self, p):
        return mp.log(F(p["scale"])) + F(p["concentration"]) + 1

    def mean(self, p):
        c = F(p["concentration"])
        return F(p["loc"]) + F(p["scale"]) / (1 - c) if c < 1 else mp.inf

    def variance(self, p):
        c = F(p["concentration"])
        return F(p["scale"]) ** 2 / ((1 - c) ** 2 * (1 - 2 * c)) if c < 0.5 else mp.inf


class VonMises(Family):
    """Density ``exp(k cos(x - loc)) / (2 pi I0(k))``; the cdf integrates it from -pi."""

    def __init__(self):
        self._cache = {}

    def bounds(self, p):
        return -mp.pi, mp.pi

    def log_norm(self, p):
        return mp.log(2 * mp.pi * mp.besseli(0, F(p["concentration"])))

    def log_prob(self, p, x):
        return F(p["concentration"]) * mp.cos(F(x) - F(p["loc"])) - self.log_norm(p)

    def _ratios(self, k, dps):
        """``I_n(k) / I_0(k)`` for n = 0..N (terms below 10^-(dps + 10) dropped), by Miller's
        backward recurrence ``I_{n-1} = I_{n+1} + (2 n / k) I_n`` at ``dps`` digits."""
        key = (k, dps)
        if key not in self._cache:
            with mp.workdps(dps):
                n_max = int(mp.sqrt(2 * max(k, 1) * mp.log(10) * (dps + 10))) + 40
                big = n_max + 200
                i_next, i_cur, out = mp.mpf(0), mp.mpf(10) ** -50, []
                for n in range(big, 0, -1):
                    i_next, i_cur = i_cur, i_next + (2 * n / k) * i_cur
                    if n - 1 <= n_max:
                        out.append(i_cur)
                out.reverse()  # I_0 .. I_n_max, unnormalized
                self._cache[key] = [v / out[0] for v in out]
        return self._cache[key]

    def _integral(self, p, a, b):
        """``int_a^b`` of the density, from ``exp(k cos t) = I_0 + 2 sum I_n cos(n t)``:
        ``[(b - a) + 2 sum I_n / I_0 (sin(n (b - loc)) - sin(n (a - loc))) / n] / (2 pi)``,
        summed at the precision that the cancellation needs (up to ~900 digits)."""
        k, loc = F(p["concentration"]), F(p["loc"])
        dps = DPS + 15
        for _ in range(8):
            with mp.workdps(dps):
                r = self._ratios(k, dps)
                total = b - a
                for n in range(1, len(r)):
                    total += 2 * r[n] * (mp.sin(n * (b - loc)) - mp.sin(n * (a - loc))) / n
                v = total / (2 * mp.pi)
            lost = -mp.log10(v) if v > 0 else dps
            if lost + DPS + 10 <= dps:
                return +v
            dps = max(int(lost) + DPS + 20, 2 * dps)
            if dps > 1200:  # x within 1e-50 of -pi or pi: not representable here
                break
        raise RuntimeError("von Mises cdf: precision")

    def tails(self, p, x):
        return both(self._integral(p, -mp.pi, F(x)), self._integral(p, F(x), mp.pi))

    def domain(self, p):
        return ("interval", -mp.pi, mp.pi)

    def _ratio(self, p):
        k = F(p["concentration"])
        return mp.besseli(1, k) / mp.besseli(0, k)

    def entropy(self, p):
        return self.log_norm(p) - F(p["concentration"]) * self._ratio(p)

    def mean(self, p):
        return F(p["loc"])

    def variance(self, p):
        return 1 - self._ratio(p)


class LogNormal(Positive):
    def log_prob(self, p, x):
        y = mp.log(F(x))
        z = (y - F(p["loc"])) / F(p["scale"])
        return -z * z / 2 - mp.log(F(p["scale"])) - mp.log(2 * mp.pi) / 2 - y

    def tails(self, p, x):
        return normal_tails((mp.log(F(x)) - F(p["loc"])) / F(p["scale"]))

    def domain(self, p):
        return ("positive", mp.mpf(0), mp.exp(F(p["loc"])))

    def entropy(self, p):
        return F(p["loc"]) + (1 + mp.log(2 * mp.pi)) / 2 + mp.log(F(p["scale"]))

    def mean(self, p):
        return mp.exp(F(p["loc"]) + F(p["scale"]) ** 2 / 2)

    def variance(self, p):
        s2 = F(p["scale"]) ** 2
        return mp.expm1(s2) * mp.exp(2 * F(p["loc"]) + s2)


class HalfNormal(Positive):
    def log_prob(self, p, x):
        s = F(p["scale"])
        return mp.log(2 / mp.pi) / 2 - mp.log(s) - (F(x) / s) ** 2 / 2

    def tails(self, p, x):
        z = F(x) / F(p["scale"])
        return both(mp.erf(z / mp.sqrt(2)), mp.erfc(z / mp.sqrt(2)))

    def entropy(self, p):
        return mp.log(mp.pi * F(p["scale"]) ** 2 / 2) / 2 + mp.mpf(1) / 2

    def mean(self, p):
        return F(p["scale"]) * mp.sqrt(2 / mp.pi)

    def variance(self, p):
        return F(p["scale"]) ** 2 * (1 - 2 / mp.pi)


class HalfCauchy(Positive):
    def log_prob(self, p, x):
        s = F(p["scale"])
        return mp.log(2 / (mp.pi * s)) - mp.log1p((F(x) / s) ** 2)

    def tails(self, p, x):
        z = F(x) / F(p["scale"])
        return both(2 * mp.atan(z) / mp.pi, 2 * mp.atan(1 / z) / mp.pi)

    def domain(self, p):
        return ("positive", mp.mpf(0), F(p["scale"]))

    def entropy(self, p):
        return mp.log(2 * mp.pi * F(p["scale"]))


class Gumbel(LocScale):
    def log_prob(self, p, x):
        z = self.z(p, x)
        return -mp.log(F(p["scale"])) - z - mp.exp(-z)

    def tails(self, p, x):
        e = mp.exp(-self.z(p, x))
        c, s = mp.exp(-e), -mp.expm1(-e)
        return c, s, -e, mp.log(s)

    def entropy(self, p):
        return mp.log(F(p["scale"])) + mp.euler + 1

    def mean(self, p):
        return F(p["loc"]) + F(p["scale"]) * mp.euler

    def variance(self, p):
        return (mp.pi * F(p["scale"])) ** 2 / 6


class Weibull(Positive):
    def log_prob(self, p, x):
        lam, k = F(p["scale"]), F(p["concentration"])
        t = F(x) / lam
        return mp.log(k / lam) + (k - 1) * mp.log(t) - t**k

    def tails(self, p, x):
        h = (F(x) / F(p["scale"])) ** F(p["concentration"])
        return both(-mp.expm1(-h), mp.exp(-h)) if h > 0 else lower(mp.mpf(0))

    def domain(self, p):
        return ("positive", mp.mpf(0), F(p["scale"]))

    def entropy(self, p):
        lam, k = F(p["scale"]), F(p["concentration"])
        return mp.euler * (1 - 1 / k) + mp.log(lam / k) + 1

    def mean(self, p):
        lam, k = F(p["scale"]), F(p["concentration"])
        return lam * mp.gamma(1 + 1 / k)

    def variance(self, p):
        lam, k = F(p["scale"]), F(p["concentration"])
        return lam**2 * (mp.gamma(1 + 2 / k) - mp.gamma(1 + 1 / k) ** 2)


class Pareto(Family):
    def bounds(self, p):
        return F(p["scale"]), mp.inf

    def log_prob(self, p, x):
        s, a = F(p["scale"]), F(p["alpha"])
        return mp.log(a) + a * mp.log(s) - (a + 1) * mp.log(F(x))

    def tails(self, p, x):
        h = F(p["alpha"]) * mp.log(F(x) / F(p["scale"]))
        return both(-mp.expm1(-h), mp.exp(-h))

    def domain(self, p):
        return ("positive", F(p["scale"]), F(p["scale"]))

    def entropy(self, p):
        s, a = F(p["scale"]), F(p["alpha"])
        return mp.log(s / a) + 1 / a + 1

    def mean(self, p):
        s, a = F(p["scale"]), F(p["alpha"])
        return a * s / (a - 1) if a > 1 else mp.inf

    def variance(self, p):
        s, a = F(p["scale"]), F(p["alpha"])
        return s**2 * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else mp.inf


class Kumaraswamy(Unit):
    def ab(self, p):
        return F(p["concentration1"]), F(p["concentration0"])

    def log_prob(self, p, x):
        a, b = self.ab(p)
        x = F(x)
        return mp.log(a * b) + (a - 1) * mp.log(x) + (b - 1) * mp.log1p(-(x**a))

    def tails(self, p, x, y=None):
        a, b = self.ab(p)
        x = F(x)
        # log S = b log(1 - x^a); near x = 1, 1 - x^a = -expm1(a log1p(-(1 - x)))
        y = one_minus(x) if y is None else y
        xa = x**a
        log_one_minus_xa = mp.log(-mp.expm1(a * mp.log1p(-y))) if xa > 0.5 else mp.log1p(-xa)
        h = -b * log_one_minus_xa
        return both(-mp.expm1(-h), mp.exp(-h))

    def entropy(self, p):
        a, b = self.ab(p)
        harmonic = mp.digamma(b + 1) + mp.euler
        return (1 - 1 / b) + (1 - 1 / a) * harmonic - mp.log(a * b)

    def mean(self, p):
        a, b = self.ab(p)
        return b * mp.beta(1 + 1 / a, b)

    def variance(self, p):
        a, b = self.ab(p)
        m = b * mp.beta(1 + 1 / a, b)
        return b * mp.beta(1 + 2 / a, b) - m * m


class ContinuousBernoulli(Unit):
    """Density ``C(l) l^x (1 - l)^(1 - x)`` on [0, 1]; moments and entropy by quadrature."""

    def bounds(self, p):
        return mp.mpf(0), mp.mpf(1)

    def inside(self, p, x):
        return 0 <= x <= 1

    def log_c(self, p):
        lam, q, lp, lq = prob_parts(p)
        if lam == q:
            return mp.log(2)
        # C = (log l - log(1 - l)) / (2 l - 1)
        return mp.log((lp - lq) / (lam - q))

    def log_prob(self, p, x):
        lam, q, lp, lq = prob_parts(p)
        return self.log_c(p) + F(x) * lp + one_minus(x) * lq

    def tails(self, p, x, y=None):
        lam, q, lp, lq = prob_parts(p)
        x = F(x)
        y = one_minus(x) if y is None else y
        if lam == q:
            return both(x, y)
        # F(x) = (l^x (1-l)^(1-x) - (1-l)) / (2l - 1) = (1-l) expm1(x (lp - lq)) / (2l - 1)
        d = lp - lq
        return both(q * mp.expm1(x * d) / (lam - q), lam * -mp.expm1(-y * d) / (lam - q))

    def _moment(self, p, f):
        c = self.log_c(p)
        lam, q, lp, lq = prob_parts(p)
        return mp.quad(lambda x: f(x) * mp.exp(c + x * lp + (1 - x) * lq), [0, 0.5, 1])

    def entropy(self, p):
        return -self._moment(
            p, lambda x: self.log_c(p) + x * prob_parts(p)[2] + (1 - x) * prob_parts(p)[3]
        )

    def mean(self, p):
        return self._moment(p, lambda x: x)

    def variance(self, p):
        m = self.mean(p)
        return self._moment(p, lambda x: (x - m) ** 2)


def _logit_parts(p):
    lam, q, lp, lq = prob_parts(p)
    return lp - lq


class LogitRelaxedBernoulli(Family):
    """Logistic with location logits / t and scale 1 / t."""

    def log_prob(self, p, x):
        t = F(p["temperature"])
        d = _logit_parts(p) - F(x) * t
        return mp.log(t) + d - 2 * mp.log1p(mp.exp(d))

    def domain(self, p):
        return ("real", _logit_parts(p) / F(p["temperature"]), 1 / F(p["temperature"]))


class RelaxedBernoulli(Unit):
    def _v(self, x, y):
        return mp.log(F(x)) - mp.log(y)

    def log_prob(self, p, x):
        y = one_minus(x)
        t, v = F(p["temperature"]), self._v(x, y)
        d = _logit_parts(p) - v * t
        return mp.log(t) + d - 2 * mp.log1p(mp.exp(d)) - mp.log(F(x)) - mp.log(y)

    def tails(self, p, x, y=None):
        y = one_minus(x) if y is None else y
        s = F(p["temperature"]) * self._v(x, y) - _logit_parts(p)
        # cdf = sigmoid(s), sf = sigmoid(-s)
        return both(1 / (1 + mp.exp(-s)), 1 / (1 + mp.exp(s)))


class Discrete(Family):
    discrete = True

    def inside(self, p, x):
        lo, hi = self.bounds(p)
        return float(x).is_integer() and lo <= x <= hi

    def bounds(self, p):
        return mp.mpf(0), mp.inf

    def entropy(self, p):
        """``-sum pmf log pmf`` over k, outwards from the mode by the pmf's ratio."""
        lo, hi = self.bounds(p)
        m = self.mean(p)
        k0 = min(max(lo, mp.floor(m)), hi)
        lp0 = self.log_prob(p, k0)
        total = -mp.exp(lp0) * lp0
        for step in (1, -1):
            k, lp = k0, lp0
            while True:
                nk = k + step
                if nk < lo or nk > hi:
                    break
                lp = lp + self.log_ratio(p, k, step)
                k = nk
                term = -mp.exp(lp) * lp
                total += term
                if lp < -140 and abs(term) < mp.mpf(10) ** -60 * abs(total):
                    break
        return total


class Poisson(Discrete):
    def log_prob(self, p, k):
        r = F(p["rate"])
        return F(k) * mp.log(r) - r - mp.loggamma(F(k) + 1)

    def log_ratio(self, p, k, step):
        return mp.log(F(p["rate"]) / (k + 1)) if step > 0 else mp.log(k / F(p["rate"]))

    def tails(self, p, k):
        c, s, lc, ls = reg_inc_gamma(F(k) + 1, F(p["rate"]))
        return s, c, ls, lc  # P(X <= k) = Q(k + 1, rate)

    def entropy(self, p):
        r = F(p["rate"])
        if r >= 1e6:
            # asymptotic series (checked against the sum at 1e4 by --selfcheck)
            return (
                mp.log(2 * mp.pi * mp.e * r) / 2
                - 1 / (12 * r)
                - 1 / (24 * r**2)
                - mp.mpf(19) / (360 * r**3)
                - mp.mpf(1) / (20 * r**4)
            )
        return super().entropy(p)

    def mean(self, p):
        return F(p["rate"])

    def variance(self, p):
        return F(p["rate"])


class Binomial(Discrete):
    def bounds(self, p):
        return mp.mpf(0), F(p["total_count"])

    def log_prob(self, p, k):
        n, k = F(p["total_count"]), F(k)
        pr, q, lp, lq = prob_parts(p)
        lc = mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1)
        return lc + (k * lp if k else 0) + ((n - k) * lq if n - k else 0)

    def log_ratio(self, p, k, step):
        n = F(p["total_count"])
        pr, q, lp, lq = prob_parts(p)
        if step > 0:
            return mp.log((n - k) / (k + 1)) + lp - lq
        return mp.log(k / (n - k + 1)) + lq - lp

    def tails(self, p, k):
        n, k = F(p["total_count"]), F(k)
        pr, q, lp, lq = prob_parts(p)
        if k >= n:
            return lower(mp.mpf(1))
        # P(X <= k) = I_{1-p}(n - k, k + 1)
        return reg_inc_beta(n - k, k + 1, q, pr)

    def mean(self, p):
        return F(p["total_count"]) * prob_parts(p)[0]

    def variance(self, p):
        pr, q, lp, lq = prob_parts(p)
        return F(p["total_count"]) * pr * q


class NegativeBinomial(Discrete):
    """pmf ``Gamma(k + r) / (k! Gamma(r)) p^k (1 - p)^r`` (torch's convention)."""

    def log_prob(self, p, k):
        r, k = F(p["total_count"]), F(k)
        pr, q, lp, lq = prob_parts(p)
        lc = mp.loggamma(k + r) - mp.loggamma(k + 1) - mp.loggamma(r)
        return lc + (k * lp if k else 0) + r * lq

    def log_ratio(self, p, k, step):
        r = F(p["total_count"])
        lp = prob_parts(p)[2]
        if step > 0:
            return mp.log((k + r) / (k + 1)) + lp
        return mp.log(k / (k - 1 + r)) - lp

    def tails(self, p, k):
        r, k = F(p["total_count"]), F(k)
        pr, q, lp, lq = prob_parts(p)
        return reg_inc_beta(r, k + 1, q, pr)  # P(X <= k) = I_{1-p}(r, k + 1)

    def mean(self, p):
        pr, q, lp, lq = prob_parts(p)
        return F(p["total_count"]) * pr / q

    def variance(self, p):
        pr, q, lp, lq = prob_parts(p)
        return F(p["total_count"]) * pr / q**2


class Geometric(Discrete):
    """pmf ``(1 - p)^k p`` for k = 0, 1, ...: failures before the first success."""

    def log_prob(self, p, k):
        pr, q, lp, lq = prob_parts(p)
        return (F(k) * lq if k else 0) + lp

    def tails(self, p, k):
        pr, q, lp, lq = prob_parts(p)
        h = (F(k) + 1) * lq  # log P(X > k)
        return both(-mp.expm1(h), mp.exp(h))

    def entropy(self, p):
        pr, q, lp, lq = prob_parts(p)
        return -(q * lq + pr * lp) / pr

    def mean(self, p):
        pr, q, lp, lq = prob_parts(p)
        return q / pr

    def variance(self, p):
        pr, q, lp, lq = prob_parts(p)
        return q / pr**2


class Bernoulli(Discrete):
    def bounds(self, p):
        return mp.mpf(0), mp.mpf(1)

    def log_prob(self, p, k):
        pr, q, lp, lq = prob_parts(p)
        return lp if k == 1 else lq

    def tails(self, p, k):
        pr, q, lp, lq = prob_parts(p)
        return (q, pr, lq, lp) if k == 0 else (mp.mpf(1), mp.mpf(0), mp.mpf(0), -mp.inf)

    def entropy(self, p):
        pr, q, lp, lq = prob_parts(p)
        return -(pr * lp + q * lq)

    def mean(self, p):
        return prob_parts(p)[0]

    def variance(self, p):
        pr, q, lp, lq = prob_parts(p)
        return pr * q


REFS = {
    cls.__name__: cls()
    for cls in (
        Normal,
        Laplace,
        Cauchy,
        Uniform,
        Exponential,
        Gamma,
        Chi2,
        InverseGamma,
        Beta,
        StudentT,
        FisherSnedecor,
        GeneralizedPareto,
        VonMises,
        LogNormal,
        HalfNormal,
        HalfCauchy,
        Gumbel,
        Weibull,
        Pareto,
        Kumaraswamy,
        ContinuousBernoulli,
        LogitRelaxedBernoulli,
        RelaxedBernoulli,
        Bernoulli,
        Geometric,
        Poisson,
        Binomial,
        NegativeBinomial,
    )
}

# ----------------------------------------------------------------------------- quantiles


def _point(kind, lo, c, u):
    """x(u) and, for intervals, hi - x(u) (exact complement), for the search variable u."""
    if kind == "real":
        return lo + c * mp.sinh(u), None
    if kind == "positive":
        return lo + c * mp.exp(u), None
    w = c - lo  # interval [lo, c]
    return lo + w / (1 + mp.exp(-u)), w / (1 + mp.exp(u))


def continuous_icdf(ref, p, q: float):
    """The x with cdf(x) = q: a bracketed (Illinois) search on the log of the smaller tail."""
    kind, lo, c = ref.domain(p)
    use_lower = q <= 0.5
    target = mp.log(F(q)) if use_lower else mp.log(one_minus(q))

    def h(u):
        x, y = _point(kind, lo, c, u)
        if (
            kind == "interval"
            and isinstance(ref, (Beta, Kumaraswamy, ContinuousBernoulli, RelaxedBernoulli))
            and lo == 0
            and c == 1
        ):
            t = ref.tails(p, x, y)
        else:
            t = ref.tails(p, x)
        v = (t[2] - target) if use_lower else (target - t[3])
        return v  # increasing in u

    a, fa = mp.mpf(0), h(mp.mpf(0))
    step = mp.mpf(1) if fa < 0 else -mp.mpf(1)
    b, fb = a + step, h(a + step)
    for _ in range(4000):
        if (fa < 0) != (fb < 0):
            break
        a, fa = b, fb
        step *= 2
        b, fb = a + step, h(a + step)
    else:
        raise RuntimeError("no bracket")
    side = 0
    for _ in range(400):
        if mp.isinf(fa) or mp.isinf(fb) or mp.isnan(fa) or mp.isnan(fb):
            m = (a + b) / 2
        else:
            m = b - fb * (b - a) / (fb - fa)
        fm = h(m)
        if fm == 0:
            break
        if (fm < 0) == (fb < 0):
            b, fb = m, fm
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = m, fm
            if side == 1:
                fb /= 2
            side = 1
        if abs(b - a) < mp.mpf(10) ** -40 * (1 + abs(m)) or abs(fm) < mp.mpf(10) ** -45:
            break
    else:
        raise RuntimeError("no convergence")
    return _point(kind, lo, c, m)[0]


def discrete_icdf(ref, p, q: float):
    """The smallest k in the support with F(k) >= q."""
    lo, hi = ref.bounds(p)
    use_lower = q <= 0.5
    lq = mp.log(F(q)) if use_lower else mp.log(one_minus(q))

    def enough(k):  # F(k) >= q
        t = ref.tails(p, k)
        return t[2] >= lq if use_lower else t[3] <= lq

    if enough(lo):
        return lo
    a = lo  # F(a) < q
    b = max(lo + 1, mp.floor(ref.mean(p)))
    while not enough(b):
        a, b = b, (2 * b + 1 if b < hi else hi)
        b = min(b, hi)
    while b - a > 1:
        m = mp.floor((a + b) / 2)
        a, b = (a, m) if enough(m) else (m, b)
    # a near-tie F(k) ~ q (NegativeBinomial(1e6, 0.5) has F(999999) = 1/2 - 6e-46) decides
    # nothing about a float algorithm: left out (where k - 1 and k are distinct floats)
    for k in (b - 1, b) if b < 2**53 else ():
        if k >= lo:
            c, s, lc, ls = ref.tails(p, k)
            gap = abs(lc - mp.log(F(q))) if use_lower else abs(ls - lq)
            if gap < mp.mpf(10) ** -20:
                raise RuntimeError(f"F({k}) ties with q")
    return b


# ----------------------------------------------------------------------------- KL


def kl_reference(name, p, q):
    """KL(p || q) by closed forms, or quadrature (Kumaraswamy)."""
    f = F
    if name in ("Normal", "LogNormal", "HalfNormal"):
        m1, s1 = f(p.get("loc", 0.0)), f(p["scale"])
        m2, s2 = f(q.get("loc", 0.0)), f(q["scale"])
        r = (s1 / s2) ** 2
        return (r - 1 - mp.log(r)) / 2 + (m1 - m2) ** 2 / (2 * s2**2)
    if name == "Exponential":
        t = f(q["rate"]) / f(p["rate"])
        return t - 1 - mp.log(t)
    if name in ("Gamma", "Chi2", "InverseGamma"):
        if name == "Chi2":
            a1, b1, a2, b2 = f(p["df"]) / 2, mp.mpf(1) / 2, f(q["df"]) / 2, mp.mpf(1) / 2
        else:
            a1, b1 = f(p["concentration"]), f(p["rate"])
            a2, b2 = f(q["concentration"]), f(q["rate"])
        # (the KL is the same for X and 1/X: InverseGamma as Gamma)
        return (
            (a1 - a2) * mp.digamma(a1)
            - mp.loggamma(a1)
            + mp.loggamma(a2)
            + a2 * (mp.log(b1) - mp.log(b2))
            + a1 * (b2 - b1) / b1
        )
    if name == "Beta":
        a1, b1 = f(p["concentration1"]), f(p["concentration0"])
        a2, b2 = f(q["concentration1"]), f(q["concentration0"])
        return (
            log_beta(a2, b2)
            - log_beta(a1, b1)
            + (a1 - a2) * mp.digamma(a1)
            + (b1 - b2) * mp.digamma(b1)
            + (a2 - a1 + b2 - b1) * mp.digamma(a1 + b1)
        )
    if name == "Poisson":
        r1, r2 = f(p["rate"]), f(q["rate"])
        return r1 * mp.log(r1 / r2) - r1 + r2
    if name in ("Bernoulli", "Binomial"):
        p1, q1, lp1, lq1 = prob_parts(p)
        p2, q2, lp2, lq2 = prob_parts(q)
        n = f(p.get("total_count", 1.0))
        return n * (p1 * (lp1 - lp2) + q1 * (lq1 - lq2))
    if name == "Geometric":
        p1, q1, lp1, lq1 = prob_parts(p)
        p2, q2, lp2, lq2 = prob_parts(q)
        return lp1 - lp2 + q1 / p1 * (lq1 - lq2)
    if name == "Laplace":
        m1, s1, m2, s2 = f(p["loc"]), f(p["scale"]), f(q["loc"]), f(q["scale"])
        d = abs(m1 - m2)
        return mp.log(s2 / s1) + d / s2 + s1 / s2 * mp.exp(-d / s1) - 1
    if name == "Uniform":
        l1, h1, l2, h2 = f(p["low"]), f(p["high"]), f(q["low"]), f(q["high"])
        if l1 < l2 or h1 > h2:
            return mp.inf
        return mp.log((h2 - l2) / (h1 - l1))
    if name == "Gumbel":
        m1, b1, m2, b2 = f(p["loc"]), f(p["scale"]), f(q["loc"]), f(q["scale"])
        return (
            mp.log(b2 / b1)
            - mp.euler
            - 1
            + (m1 - m2 + b1 * mp.euler) / b2
            + mp.exp((m2 - m1) / b2) * mp.gamma(1 + b1 / b2)
        )
    if name == "Weibull":
        l1, k1, l2, k2 = f(p["scale"]), f(p["concentration"]), f(q["scale"]), f(q["concentration"])
        return (
            mp.log(k1 / l1**k1)
            - mp.log(k2 / l2**k2)
            + (k1 - k2) * (mp.log(l1) - mp.euler / k1)
            + (l1 / l2) ** k2 * mp.gamma(k2 / k1 + 1)
            - 1
        )
    if name == "Pareto":
        s1, a1, s2, a2 = f(p["scale"]), f(p["alpha"]), f(q["scale"]), f(q["alpha"])
        if s1 < s2:
            return mp.inf
        return mp.log(a1 / a2) + a2 * mp.log(s1 / s2) + a2 / a1 - 1
    if name == "Cauchy":
        m1, g1, m2, g2 = f(p["loc"]), f(p["scale"]), f(q["loc"]), f(q["scale"])
        return mp.log(((g1 + g2) ** 2 + (m1 - m2) ** 2) / (4 * g1 * g2))
    if name == "VonMises":
        m1, k1, m2, k2 = f(p["loc"]), f(p["concentration"]), f(q["loc"]), f(q["concentration"])
        i0 = mp.besseli(0, k1)
        return mp.log(mp.besseli(0, k2) / i0) + mp.besseli(1, k1) / i0 * (k1 - k2 * mp.cos(m1 - m2))
    if name in ("Kumaraswamy", "ContinuousBernoulli"):
        ref = REFS[name]
        return mp.quad(
            lambda x: mp.exp(ref.log_prob(p, x)) * (ref.log_prob(p, x) - ref.log_prob(q, x)),
            [0, 0.5, 1],
        )
    raise KeyError(name)


# ----------------------------------------------------------------------------- the table

DTYPES = {"float64": np.float64, "float32": np.float32}


def _round(v: float, dtype: str) -> float:
    with np.errstate(over="ignore"):
        return float(DTYPES[dtype](v))


def _round_params(params: dict, dtype: str) -> dict:
    return {k: _round(v, dtype) for k, v in params.items()}


def family_table(name: str) -> dict:
    fam, ref = grid.FAMILY[name], REFS[name]
    out = {}
    for dtype in DTYPES:
        sets, cases = [], {m: [] for m in fam.methods}
        for raw in fam.params:
            p = _round_params(raw, dtype)
            i = len(sets)
            sets.append(p)
            xs = []
            for x0 in fam.points(p):
                x = _round(x0, dtype)
                if (x == 0) != (x0 == 0) or not math.isfinite(x) or x in xs:
                    continue
                if ref.inside(p, x):
                    xs.append(x)
            for x in xs:
                lp = ref.log_prob(p, x)
                if "log_prob" in cases:
                    cases["log_prob"].append([i, x, digits(lp)])
                if "cdf" in cases:
                    c, s, lc, ls = ref.tails(p, x)
                    for m, v in (
                        ("cdf", c),
                        ("survival_function", s),
                        ("log_cdf", lc),
                        ("log_survival_function", ls),
                    ):
                        cases[m].append([i, x, digits(v)])
            if "icdf" in cases:
                for q0 in grid.Q[dtype]:
                    q = _round(q0, dtype)
                    try:
                        if ref.discrete:
                            v = discrete_icdf(ref, p, q)
                        else:
                            v = continuous_icdf(ref, p, q)
                    except RuntimeError as e:  # left out of the table, and said so
                        print(f"{name} {dtype} {p} icdf({q!r}): {e}", flush=True)
                        continue
                    cases["icdf"].append([i, q, digits(v)])
            for m in ("entropy", "mean", "variance"):
                if m in cases:
                    v = getattr(ref, m)(p)
                    if v is not None:
                        cases[m].append([i, digits(v)])
        out[dtype] = {"params": sets, "cases": {m: v for m, v in cases.items() if v}}
    return out


def kl_table() -> dict:
    out = {}
    for dtype in DTYPES:
        rows = []
        for name, p0, q0 in grid.KL_PAIRS:
            p, q = _round_params(p0, dtype), _round_params(q0, dtype)
            rows.append([name, p, q, digits(kl_reference(name, p, q))])
        out[dtype] = rows
    return out


def provenance() -> dict:
    return {
        "mpmath": mp.__version__,
        "dps": DPS,
        "digits": DIGITS,
        "script_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "grid_sha256": hashlib.sha256(GRID_FILE.read_bytes()).hexdigest(),
    }


def _job(name: str):
    mp.mp.dps = DPS
    if name == "KL":
        return name, kl_table()
    return name, family_table(name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="recompute these families only (development)")
    parser.add_argument("--selfcheck", action="store_true", help="closed forms vs quadrature")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.selfcheck:
        selfcheck()
        return
    names = [f.name for f in grid.FAMILIES] + ["KL"]
    table = {"provenance": provenance(), "families": {}, "kl": {}}
    if args.only:
        table = json.loads(OUT.read_text())
        table["provenance"] = provenance()
        names = args.only
    with Pool(args.jobs) as pool:
        for name, result in pool.imap_unordered(_job, names):
            print(name, flush=True)
            if name == "KL":
                table["kl"] = result
            else:
                table["families"][name] = result
    table["families"] = {k: table["families"][k] for k in sorted(table["families"])}
    OUT.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


# ----------------------------------------------------------------------------- self-check


# moderate parameters, where quadrature of the density is itself accurate
SELFCHECK_PARAMS = {
    "Exponential": {"rate": 1.5},
    "Gamma": {"concentration": 2.5, "rate": 1.5},
    "Chi2": {"df": 5.0},
    "InverseGamma": {"concentration": 4.5, "rate": 2.0},
    "Beta": {"concentration1": 2.0, "concentration0": 5.0},
    "StudentT": {"df": 30.0, "loc": 0.5, "scale": 2.0},
    "FisherSnedecor": {"df1": 3.0, "df2": 11.0},
    "GeneralizedPareto": {"loc": 0.5, "scale": 2.0, "concentration": 0.2},
    "VonMises": {"loc": 1.0, "concentration": 3.0},
    "Pareto": {"scale": 1.0, "alpha": 4.5},
    "Weibull": {"scale": 2.0, "concentration": 1.7},
    "Kumaraswamy": {"concentration1": 2.0, "concentration0": 3.0},
    "ContinuousBernoulli": {"probs": 0.2},
}


def selfcheck() -> None:
    """Each continuous family's closed forms against quadrature of its own density, at the
    first parameter set of the grid with finite moments: total mass, cdf, entropy, mean and
    variance. Prints the worst relative difference per family."""
    for fam in grid.FAMILIES:
        ref = REFS[fam.name]
        if ref.discrete:
            continue
        p = SELFCHECK_PARAMS.get(fam.name, fam.params[0])
        lo, hi = ref.bounds(p)
        nodes = [lo, hi]
        if fam.name == "VonMises":
            nodes = [lo, F(p["loc"]), hi]
        if fam.name == "LogitRelaxedBernoulli":
            nodes = [-mp.inf, mp.inf]
        if fam.name == "Gumbel":
            nodes = lo, hi = [F(p["loc"]) - 5 * F(p["scale"]), F(p["loc"]) + 200 * F(p["scale"])]

        def dens(x, p=p, ref=ref):
            v = ref.log_prob(p, x)
            return mp.exp(v)

        worst = {}
        mass = mp.quad(dens, nodes)
        worst["mass"] = abs(mass - 1)
        if "cdf" in fam.methods:
            for x in fam.points(p)[2:-2]:
                if not ref.inside(p, x) or not (lo < x < hi):
                    continue
                c = ref.tails(p, x)[0]
                cut = [F(p["loc"])] if "loc" in p and lo < p["loc"] < x else []
                cq = mp.quad(dens, [lo, *cut, F(x)])
                worst["cdf"] = max(worst.get("cdf", 0), abs(c - cq) / abs(cq))
        if "entropy" in fam.methods and ref.entropy(p) is not None:
            h = -mp.quad(lambda x, p=p, ref=ref: dens(x) * ref.log_prob(p, x), nodes)
            worst["entropy"] = abs(ref.entropy(p) - h) / max(1, abs(h))
        if "mean" in fam.methods and ref.mean(p) is not None and mp.isfinite(ref.mean(p)):
            m = mp.quad(lambda x: x * dens(x), nodes)
            worst["mean"] = abs(ref.mean(p) - m) / max(abs(m), 1e-30)
            v = mp.quad(lambda x, m=m: (x - m) ** 2 * dens(x), nodes)
            if ref.variance(p) is not None and mp.isfinite(ref.variance(p)):
                worst["variance"] = abs(ref.variance(p) - v) / v
        print(fam.name, {k: mp.nstr(v, 3) for k, v in worst.items()}, flush=True)
    # discrete: pmf sums to 1, cdf is the partial sum, Poisson's asymptotic entropy
    for name, p in (
        ("Poisson", {"rate": 7.5}),
        ("Binomial", {"total_count": 12.0, "probs": 0.3}),
        ("NegativeBinomial", {"total_count": 2.5, "probs": 0.4}),
        ("Geometric", {"probs": 0.3}),
        ("Bernoulli", {"probs": 0.3}),
    ):
        ref = REFS[name]
        ks = range(0, 400) if name != "Binomial" else range(0, 13)
        if name == "Bernoulli":
            ks = range(0, 2)
        pm = [mp.exp(ref.log_prob(p, k)) for k in ks]
        cdf_err = max(abs(ref.tails(p, k)[0] - mp.fsum(pm[: k + 1])) for k in list(ks)[:10])
        h = -mp.fsum(v * mp.log(v) for v in pm if v > 0)
        m = mp.fsum(k * v for k, v in zip(ks, pm))
        var = mp.fsum((k - m) ** 2 * v for k, v in zip(ks, pm))
        print(
            name,
            "mass",
            mp.nstr(abs(mp.fsum(pm) - 1), 3),
            "cdf",
            mp.nstr(cdf_err, 3),
            "sum entropy",
            mp.nstr(abs(Discrete.entropy(ref, p) - h), 3) if hasattr(ref, "log_ratio") else "",
            "closed entropy",
            mp.nstr(abs(ref.entropy(p) - h), 3),
            "mean",
            mp.nstr(abs(ref.mean(p) - m), 3),
            "var",
            mp.nstr(abs(ref.variance(p) - var), 3),
        )
    r = {"rate": 1e4}
    big = REFS["Poisson"]
    series = (
        mp.log(2 * mp.pi * mp.e * 1e4) / 2
        - mp.mpf(1) / 12e4
        - mp.mpf(1) / (24 * 1e8)
        - mp.mpf(19) / (360 * 1e12)
        - mp.mpf(1) / (20 * 1e16)
    )
    print(
        "Poisson asymptotic entropy at 1e4 vs sum:",
        mp.nstr(abs(series - Discrete.entropy(big, r)), 3),
    )
    # KL closed forms against quadrature
    for name, p, q in grid.KL_PAIRS:
        if name in (
            "Bernoulli",
            "Binomial",
            "Poisson",
            "Geometric",
            "Kumaraswamy",
            "ContinuousBernoulli",
            "Uniform",
        ):
            continue
        ref = REFS[name]
        lo, hi = ref.bounds(p)
        if name == "VonMises":
            nodes = [-mp.pi, F(p["loc"]), mp.pi]
        elif name in ("Normal", "Laplace", "Cauchy", "Gumbel"):
            nodes = [-mp.inf, *sorted({F(p["loc"]), F(q["loc"])}), mp.inf]
        else:
            m, v = ref.mean(p), ref.variance(p)
            sd = mp.sqrt(v) if v is not None and mp.isfinite(v) else mp.mpf(1)
            nodes = [lo] + sorted({m + j * sd for j in range(-30, 31) if lo < m + j * sd < hi})
            nodes += [hi]
        if name in ("Gumbel",):
            nodes = [
                F(p["loc"]) - 5 * F(p["scale"]),
                F(p["loc"]),
                F(p["loc"]) + 200 * F(p["scale"]),
            ]
        shapes = [v for k, v in p.items() if k.startswith("concentration") or k == "df"]
        if name != "VonMises" and shapes and min(shapes) < 1:
            print("KL", name, p, q, "skipped (density singular at 0: quadrature unreliable)")
            continue
        if name in ("LogNormal", "HalfNormal"):
            continue  # as Normal
        kq = mp.quad(
            lambda x, p=p, q=q, ref=ref: (
                mp.exp(ref.log_prob(p, x)) * (ref.log_prob(p, x) - ref.log_prob(q, x))
            ),
            nodes,
        )
        kc = kl_reference(name, p, q)
        print(
            "KL",
            name,
            mp.nstr(kc, 8),
            "quad",
            mp.nstr(kq, 8),
            "rel",
            mp.nstr(abs(kc - kq) / abs(kq), 3),
        )


if __name__ == "__main__":
    main()
