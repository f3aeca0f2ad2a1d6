"""The accuracy grid: parameters, points and quantile levels of every univariate family, and
the KL pairs, at which ``scripts/accuracy_reference.py`` computes 50-digit references.

Plain floats only (no torch, no library): the reference script imports this module too, and
its SHA-256 is part of the table's provenance. Points are functions of the parameters *as
rounded to the dtype under test*, so a float32 case is judged on its own inputs.

Conventions: ``Z`` are standard units (x = mean + z * sd, or loc + z * scale where the family
has no variance); a family's points outside its support are dropped by the script.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

# Standard units: the tails (+-40) and the centre.
Z = [-40.0, -10.0, -3.0, -1.0, -0.1, 0.0, 0.5, 1.0, 3.0, 10.0, 40.0]

# Quantile levels of icdf, per dtype: down to 1e-300 (float64) and 1e-38 (float32).
Q = {
    "float64": [1e-300, 1e-100, 1e-20, 1e-8, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-8, 1 - 2**-50],
    "float32": [1e-38, 1e-20, 1e-8, 1e-3, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 2**-20, 1 - 2**-23],
}

# Every method compared; a family lists the ones it has a reference for.
CONTINUOUS = (
    "log_prob",
    "cdf",
    "survival_function",
    "log_cdf",
    "log_survival_function",
    "icdf",
    "entropy",
    "mean",
    "variance",
)


@dataclass
class Family:
    """One family's grid: ``params`` are constructor keyword arguments (floats),
    ``points(p)`` the x values for one (rounded) parameter dict, ``methods`` the methods with
    a reference."""

    name: str
    params: list[dict[str, float]]
    points: Callable[[dict[str, float]], list[float]]
    methods: tuple[str, ...] = CONTINUOUS
    discrete: bool = False
    notes: str = ""
    extra: dict = field(default_factory=dict)


def _loc_scale(p, loc="loc", scale="scale", extra=()):
    return [p[loc] + z * p[scale] for z in Z] + [p[loc] + z * p[scale] for z in extra]


def _positive(mean: float, sd: float, tiny=(1e-300, 1e-30, 1e-8, 1e-3, 0.5)) -> list[float]:
    """Around the mean in standard units (positive ones) and fractions of the mean."""
    out = [mean + z * sd for z in Z]
    out += [mean * f for f in tiny]
    return [x for x in out if x > 0 and math.isfinite(x)]


def _unit(mean: float, sd: float) -> list[float]:
    out = [mean + z * sd for z in Z] + [1e-300, 1e-30, 1e-8, 0.01, 0.5, 0.99, 1 - 1e-8]
    return [x for x in out if 0 < x < 1]


def _counts(mean: float, sd: float, upper: float = math.inf) -> list[float]:
    out = {0.0, 1.0}
    for z in Z:
        k = math.floor(mean + z * sd)
        if 0 <= k <= upper:
            out.add(float(k))
    if upper < math.inf:
        out |= {upper, upper - 1}
    return sorted(k for k in out if 0 <= k <= upper)


def _sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t)) if t > -700 else math.exp(t)


def _prob(p: dict[str, float]) -> float:
    return p["probs"] if "probs" in p else _sigmoid(p["logits"])


def _gamma_points(p):
    a, r = p["concentration"], p["rate"]
    return _positive(a / r, math.sqrt(a) / r)


def _inverse_gamma_points(p):
    a, r = p["concentration"], p["rate"]
    return sorted({r / x for x in _positive(a, math.sqrt(a)) if r / x > 0} - {math.inf})


def _beta_points(p):
    a, b = p["concentration1"], p["concentration0"]
    s = a + b
    return _unit(a / s, math.sqrt(a * b / (s * s * (s + 1))))


def _binomial_points(p):
    n, q = p["total_count"], _prob(p)
    return _counts(n * q, math.sqrt(n * q * (1 - q)) + 1, n)


def _negbin_points(p):
    r, q = p["total_count"], _prob(p)
    mean = r * q / (1 - q)
    return _counts(mean, math.sqrt(mean / (1 - q)) + 1)


def _geometric_points(p):
    q = _prob(p)
    mean = (1 - q) / q
    return _counts(mean, math.sqrt(1 - q) / q + 1)


def _student_points(p):
    return _loc_scale(p, extra=(-1e10, 1e10))


def _fisher_points(p):
    d1, d2 = p["df1"], p["df2"]
    sd = math.sqrt(2 / d1 + 2 / d2)
    return _positive(1.0, sd, tiny=(1e-300, 1e-30, 1e-8, 1e-3, 0.5, 1e3, 1e10))


def _gpd_points(p):
    loc, scale, c = p["loc"], p["scale"], p["concentration"]
    ts = [1e-300, 1e-10, 0.01, 0.5, 1.0, 3.0, 10.0, 40.0, 1e6]
    if c < 0:
        ts = [t for t in ts if t < -1 / c] + [-1 / c * f for f in (0.5, 0.99, 1 - 1e-9)]
    return [loc + scale * t for t in ts]


def _von_mises_points(p):
    loc, k = p["loc"], p["concentration"]
    w = 1 / math.sqrt(k) if k > 1 else 1.0
    out = [loc + z * w for z in (-10.0, -3.0, -1.0, -0.1, 0.0, 0.5, 1.0, 3.0, 10.0)]
    out += [-3.1, -2.0, 0.0, 2.0, 3.1]
    return sorted({x for x in out if -math.pi < x < math.pi})


def _log_normal_points(p):
    out = [math.exp(min(p["loc"] + z * p["scale"], 709.0)) for z in Z]
    return [x for x in out if 0 < x < math.inf]


def _relaxed_points(p):
    t = p["temperature"]
    logit = p["logits"] if "logits" in p else math.log(p["probs"] / (1 - p["probs"]))
    return [(logit + s) / t for s in (-40.0, -10.0, -1.0, 0.0, 1.0, 10.0, 40.0)]


def _relaxed_unit_points(p):
    return [_sigmoid(y) for y in _relaxed_points(p) if 0 < _sigmoid(y) < 1]


DISCRETE = (
    "log_prob",
    "cdf",
    "survival_function",
    "log_cdf",
    "log_survival_function",
    "icdf",
    "entropy",
    "mean",
    "variance",
)

FAMILIES: list[Family] = [
    Family(
        "Normal",
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": 1.5, "scale": 1e-3},
            {"loc": -2000.0, "scale": 50.0},
            {"loc": 0.0, "scale": 1e8},
        ],
        _loc_scale,
    ),
    Family(
        "Laplace",
        [{"loc": 0.0, "scale": 1.0}, {"loc": 1.5, "scale": 1e-3}, {"loc": -2000.0, "scale": 50.0}],
        _loc_scale,
    ),
    Family(
        "Cauchy",
        [{"loc": 0.0, "scale": 1.0}, {"loc": 1.5, "scale": 1e-3}, {"loc": -2000.0, "scale": 50.0}],
        lambda p: _loc_scale(p, extra=(-1e12, 1e12)),
        methods=tuple(m for m in CONTINUOUS if m not in ("mean", "variance")),
    ),
    Family(
        "Uniform",
        [
            {"low": 0.0, "high": 1.0},
            {"low": -3.0, "high": 5.0},
            {"low": 1e6, "high": 1e6 + 1},
            {"low": -1e-3, "high": 1e-3},
        ],
        lambda p: [p["low"] + f * (p["high"] - p["low"]) for f in (1e-9, 1e-3, 0.3, 0.5, 0.9)],
    ),
    Family(
        "Exponential",
        [{"rate": 1e-3}, {"rate": 1.0}, {"rate": 50.0}, {"rate": 1e8}],
        lambda p: _positive(1 / p["rate"], 1 / p["rate"]) + [700.0 / p["rate"]],
    ),
    Family(
        "Gamma",
        [
            {"concentration": 1e-3, "rate": 1.0},
            {"concentration": 0.1, "rate": 3.0},
            {"concentration": 1.0, "rate": 1.0},
            {"concentration": 2.5, "rate": 1.0},
            {"concentration": 2.5, "rate": 1e8},
            {"concentration": 30.0, "rate": 0.5},
            {"concentration": 1e3, "rate": 1.0},
            {"concentration": 1e6, "rate": 1.0},
            {"concentration": 1e6, "rate": 1e-3},
        ],
        _gamma_points,
    ),
    Family(
        "Chi2",
        [{"df": 2e-3}, {"df": 1.0}, {"df": 3.0}, {"df": 100.0}, {"df": 2e6}],
        lambda p: _positive(p["df"], math.sqrt(2 * p["df"])),
    ),
    Family(
        "InverseGamma",
        [
            {"concentration": 1e-3, "rate": 1.0},
            {"concentration": 0.5, "rate": 2.0},
            {"concentration": 3.0, "rate": 1.0},
            {"concentration": 30.0, "rate": 1e8},
            {"concentration": 1e3, "rate": 1.0},
            {"concentration": 1e6, "rate": 1.0},
        ],
        _inverse_gamma_points,
    ),
    Family(
        "Beta",
        [
            {"concentration1": 1e-3, "concentration0": 1e-3},
            {"concentration1": 0.5, "concentration0": 0.5},
            {"concentration1": 2.0, "concentration0": 5.0},
            {"concentration1": 0.1, "concentration0": 30.0},
            {"concentration1": 1e3, "concentration0": 2e3},
            {"concentration1": 1e6, "concentration0": 1e6},
            {"concentration1": 1e-3, "concentration0": 1e6},
        ],
        _beta_points,
    ),
    Family(
        "StudentT",
        [
            {"df": 0.1, "loc": 0.0, "scale": 1.0},
            {"df": 1.0, "loc": 0.0, "scale": 1.0},
            {"df": 2.5, "loc": 1.0, "scale": 2.0},
            {"df": 30.0, "loc": 0.0, "scale": 1.0},
            {"df": 3.0, "loc": -5.0, "scale": 1e-3},
            {"df": 1e6, "loc": 0.0, "scale": 1.0},
            {"df": 1e8, "loc": 0.0, "scale": 1.0},
        ],
        _student_points,
    ),
    Family(
        "FisherSnedecor",
        [
            {"df1": 1.0, "df2": 1.0},
            {"df1": 3.0, "df2": 7.0},
            {"df1": 0.5, "df2": 40.0},
            {"df1": 100.0, "df2": 1e3},
            {"df1": 1e6, "df2": 1e6},
        ],
        _fisher_points,
    ),
    Family(
        "GeneralizedPareto",
        [
            {"loc": 0.0, "scale": 1.0, "concentration": 0.0},
            {"loc": 0.0, "scale": 1.0, "concentration": 0.5},
            {"loc": 1.0, "scale": 2.0, "concentration": -0.3},
            {"loc": 0.0, "scale": 1.0, "concentration": 1e-8},
            {"loc": 0.0, "scale": 1e-3, "concentration": 3.0},
        ],
        _gpd_points,
    ),
    Family(
        "VonMises",
        [
            {"loc": 0.0, "concentration": 1e-3},
            {"loc": 1.0, "concentration": 1.0},
            {"loc": -2.0, "concentration": 10.0},
            {"loc": 0.5, "concentration": 1e3},
        ],
        _von_mises_points,
    ),
    Family(
        "LogNormal",
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": 2.0, "scale": 1e-3},
            {"loc": -3.0, "scale": 3.0},
            {"loc": 0.0, "scale": 15.0},
        ],
        _log_normal_points,
    ),
    Family(
        "HalfNormal",
        [{"scale": 1.0}, {"scale": 1e-3}, {"scale": 1e8}],
        lambda p: [p["scale"] * t for t in (1e-300, 1e-10, 0.5, 1.0, 3.0, 10.0, 40.0)],
    ),
    Family(
        "HalfCauchy",
        [{"scale": 1.0}, {"scale": 1e-3}, {"scale": 1e8}],
        lambda p: [p["scale"] * t for t in (1e-300, 1e-10, 0.5, 1.0, 10.0, 1e10, 1e30)],
        methods=tuple(m for m in CONTINUOUS if m not in ("mean", "variance")),
    ),
    Family(
        "Gumbel",
        [{"loc": 0.0, "scale": 1.0}, {"loc": 5.0, "scale": 1e-3}, {"loc": -100.0, "scale": 30.0}],
        _loc_scale,
    ),
    Family(
        "Weibull",
        [
            {"scale": 1.0, "concentration": 1.0},
            {"scale": 2.0, "concentration": 0.5},
            {"scale": 1.0, "concentration": 0.05},
            {"scale": 1.0, "concentration": 30.0},
            {"scale": 1e3, "concentration": 5.0},
        ],
        lambda p: [p["scale"] * t for t in (1e-100, 1e-10, 0.1, 0.5, 1.0, 1.01, 2.0, 5.0)],
    ),
    Family(
        "Pareto",
        [
            {"scale": 1.0, "alpha": 1.0},
            {"scale": 2.0, "alpha": 0.5},
            {"scale": 1e-3, "alpha": 30.0},
            {"scale": 1.0, "alpha": 1e3},
            {"scale": 1.0, "alpha": 2.5},
        ],
        lambda p: [p["scale"] * (1 + t) for t in (1e-12, 1e-3, 0.5, 1.0, 10.0, 1e3, 1e10)],
    ),
    Family(
        "Kumaraswamy",
        [
            {"concentration1": 1.0, "concentration0": 1.0},
            {"concentration1": 0.5, "concentration0": 2.0},
            {"concentration1": 5.0, "concentration0": 0.3},
            {"concentration1": 30.0, "concentration0": 30.0},
            {"concentration1": 0.05, "concentration0": 1.5},
        ],
        lambda p: [1e-300, 1e-10, 0.01, 0.3, 0.5, 0.9, 0.999, 1 - 1e-9],
    ),
    Family(
        "ContinuousBernoulli",
        [
            {"probs": 1e-3},
            {"probs": 0.2},
            {"probs": 0.5},
            {"probs": 0.5 + 1e-6},
            {"probs": 0.9},
            {"logits": -60.0},
            {"logits": 30.0},
        ],
        lambda p: [0.0, 1e-10, 0.1, 0.5, 0.9, 1 - 1e-6, 1.0],
    ),
    Family(
        "LogitRelaxedBernoulli",
        [
            {"temperature": 0.5, "probs": 0.3},
            {"temperature": 2.0, "logits": 5.0},
            {"temperature": 1e-3, "logits": -100.0},
            {"temperature": 1e3, "logits": 100.0},
        ],
        _relaxed_points,
        methods=("log_prob",),
        notes="log_prob only: cdf/icdf/entropy/moments are generic there",
    ),
    Family(
        "RelaxedBernoulli",
        [
            {"temperature": 0.5, "probs": 0.3},
            {"temperature": 2.0, "logits": 5.0},
            {"temperature": 10.0, "probs": 0.9},
        ],
        _relaxed_unit_points,
        methods=(
            "log_prob",
            "cdf",
            "survival_function",
            "log_cdf",
            "log_survival_function",
            "icdf",
        ),
    ),
    Family(
        "Bernoulli",
        [
            {"probs": 1e-3},
            {"probs": 0.3},
            {"probs": 0.5},
            {"probs": 1 - 1e-6},
            {"logits": -100.0},
            {"logits": -30.0},
            {"logits": 10.0},
            {"logits": 100.0},
        ],
        lambda p: [0.0, 1.0],
        methods=DISCRETE,
        discrete=True,
    ),
    Family(
        "Geometric",
        [
            {"probs": 1e-8},
            {"probs": 1e-3},
            {"probs": 0.3},
            {"probs": 0.9},
            {"logits": -100.0},
            {"logits": -30.0},
            {"logits": 3.0},
            {"logits": 40.0},
        ],
        _geometric_points,
        methods=DISCRETE,
        discrete=True,
    ),
    Family(
        "Poisson",
        [
            {"rate": 1e-3},
            {"rate": 0.5},
            {"rate": 5.0},
            {"rate": 100.0},
            {"rate": 1e4},
            {"rate": 1e6},
            {"rate": 1e8},
        ],
        lambda p: _counts(p["rate"], math.sqrt(p["rate"]) + 1),
        methods=DISCRETE,
        discrete=True,
    ),
    Family(
        "Binomial",
        [
            {"total_count": 10.0, "probs": 0.3},
            {"total_count": 1e3, "probs": 1e-8},
            {"total_count": 1e6, "probs": 0.5},
            {"total_count": 1e6, "probs": 1e-6},
            {"total_count": 50.0, "logits": -100.0},
            {"total_count": 20.0, "logits": 100.0},
            {"total_count": 1e6, "logits": 40.0},
        ],
        _binomial_points,
        methods=DISCRETE,
        discrete=True,
    ),
    Family(
        "NegativeBinomial",
        [
            {"total_count": 1e-3, "probs": 0.5},
            {"total_count": 5.0, "probs": 0.3},
            {"total_count": 1e3, "probs": 0.9},
            {"total_count": 1e6, "probs": 0.5},
            {"total_count": 2.5, "probs": 1e-6},
            {"total_count": 10.0, "logits": -50.0},
        ],
        _negbin_points,
        methods=DISCRETE,
        discrete=True,
    ),
]

FAMILY = {f.name: f for f in FAMILIES}


# KL pairs: (name, p params, q params) -- same family both sides. Nearly equal pairs are the
# issue's: Normal scales 1 vs 1 + 1e-8, Exponential rates 1 vs 1 + 1e-6, Gamma concentrations
# 1e6 vs 1.001e6.
KL_PAIRS: list[tuple[str, dict[str, float], dict[str, float]]] = [
    ("Normal", {"loc": 0.0, "scale": 1.0}, {"loc": 0.0, "scale": 1 + 1e-8}),
    ("Normal", {"loc": 0.0, "scale": 1.0}, {"loc": 1e-6, "scale": 1.0}),
    ("Normal", {"loc": 1.0, "scale": 2.0}, {"loc": -3.0, "scale": 0.5}),
    ("Normal", {"loc": 0.0, "scale": 1e-3}, {"loc": 0.0, "scale": 1e8}),
    ("Exponential", {"rate": 1.0}, {"rate": 1 + 1e-6}),
    ("Exponential", {"rate": 2.0}, {"rate": 1e8}),
    ("Exponential", {"rate": 1e-3}, {"rate": 0.5}),
    ("Gamma", {"concentration": 1e6, "rate": 1.0}, {"concentration": 1.001e6, "rate": 1.0}),
    ("Gamma", {"concentration": 2.5, "rate": 1.0}, {"concentration": 2.5, "rate": 1 + 1e-7}),
    ("Gamma", {"concentration": 1e-3, "rate": 2.0}, {"concentration": 0.5, "rate": 1.0}),
    ("Gamma", {"concentration": 30.0, "rate": 1e8}, {"concentration": 3.0, "rate": 1e7}),
    ("Chi2", {"df": 3.0}, {"df": 3.0 + 1e-6}),
    ("Chi2", {"df": 2e6}, {"df": 1e3}),
    ("InverseGamma", {"concentration": 3.0, "rate": 1.0}, {"concentration": 3.0001, "rate": 1.0}),
    ("InverseGamma", {"concentration": 1e6, "rate": 2.0}, {"concentration": 1.001e6, "rate": 2.0}),
    (
        "Beta",
        {"concentration1": 2.0, "concentration0": 5.0},
        {"concentration1": 2.0 + 1e-6, "concentration0": 5.0},
    ),
    (
        "Beta",
        {"concentration1": 1e6, "concentration0": 1e6},
        {"concentration1": 1.001e6, "concentration0": 1e6},
    ),
    (
        "Beta",
        {"concentration1": 1e-3, "concentration0": 1.0},
        {"concentration1": 0.5, "concentration0": 0.5},
    ),
    ("Poisson", {"rate": 1.0}, {"rate": 1 + 1e-6}),
    ("Poisson", {"rate": 1e6}, {"rate": 1.001e6}),
    ("Poisson", {"rate": 1e-3}, {"rate": 1e8}),
    ("Bernoulli", {"probs": 0.3}, {"probs": 0.3 + 1e-7}),
    ("Bernoulli", {"logits": -100.0}, {"logits": -99.0}),
    ("Bernoulli", {"logits": 40.0}, {"logits": -40.0}),
    ("Binomial", {"total_count": 1e6, "probs": 0.5}, {"total_count": 1e6, "probs": 0.5 + 1e-7}),
    ("Binomial", {"total_count": 10.0, "probs": 0.3}, {"total_count": 10.0, "probs": 0.9}),
    ("Binomial", {"total_count": 50.0, "logits": -60.0}, {"total_count": 50.0, "logits": -50.0}),
    ("Geometric", {"probs": 0.3}, {"probs": 0.3 + 1e-7}),
    ("Geometric", {"probs": 1e-3}, {"probs": 0.5}),
    ("Geometric", {"logits": -30.0}, {"logits": -29.0}),
    ("Laplace", {"loc": 0.0, "scale": 1.0}, {"loc": 0.0, "scale": 1 + 1e-8}),
    ("Laplace", {"loc": 0.0, "scale": 1.0}, {"loc": 1e-7, "scale": 1.0}),
    ("Laplace", {"loc": 1.0, "scale": 2.0}, {"loc": -3.0, "scale": 0.5}),
    ("Uniform", {"low": 0.0, "high": 1.0}, {"low": -1e-8, "high": 1.0}),
    ("Uniform", {"low": -3.0, "high": 5.0}, {"low": -1e3, "high": 1e3}),
    ("Gumbel", {"loc": 0.0, "scale": 1.0}, {"loc": 0.0, "scale": 1 + 1e-8}),
    ("Gumbel", {"loc": 0.0, "scale": 1.0}, {"loc": 1e-7, "scale": 1.0}),
    ("Gumbel", {"loc": 1.0, "scale": 2.0}, {"loc": -3.0, "scale": 0.5}),
    ("Weibull", {"scale": 1.0, "concentration": 2.0}, {"scale": 1.0, "concentration": 2 + 1e-7}),
    ("Weibull", {"scale": 1.0, "concentration": 2.0}, {"scale": 1 + 1e-8, "concentration": 2.0}),
    ("Weibull", {"scale": 2.0, "concentration": 0.5}, {"scale": 1.0, "concentration": 3.0}),
    ("Pareto", {"scale": 1.0, "alpha": 2.0}, {"scale": 1.0, "alpha": 2 + 1e-7}),
    ("Pareto", {"scale": 3.0, "alpha": 0.5}, {"scale": 1.0, "alpha": 30.0}),
    ("Cauchy", {"loc": 0.0, "scale": 1.0}, {"loc": 0.0, "scale": 1 + 1e-8}),
    ("Cauchy", {"loc": 0.0, "scale": 1.0}, {"loc": 1e-6, "scale": 1.0}),
    ("Cauchy", {"loc": 1.0, "scale": 2.0}, {"loc": -300.0, "scale": 1e-3}),
    ("HalfNormal", {"scale": 1.0}, {"scale": 1 + 1e-8}),
    ("HalfNormal", {"scale": 1e-3}, {"scale": 1e8}),
    ("LogNormal", {"loc": 0.0, "scale": 1.0}, {"loc": 0.0, "scale": 1 + 1e-8}),
    ("LogNormal", {"loc": 1.0, "scale": 2.0}, {"loc": -3.0, "scale": 0.5}),
    ("VonMises", {"loc": 0.0, "concentration": 1.0}, {"loc": 0.0, "concentration": 1 + 1e-6}),
    ("VonMises", {"loc": 0.0, "concentration": 1e3}, {"loc": 1e-4, "concentration": 1e3}),
    ("VonMises", {"loc": 1.0, "concentration": 1e-3}, {"loc": -2.0, "concentration": 10.0}),
    (
        "Kumaraswamy",
        {"concentration1": 2.0, "concentration0": 3.0},
        {"concentration1": 2.0, "concentration0": 3 + 1e-6},
    ),
    (
        "Kumaraswamy",
        {"concentration1": 0.5, "concentration0": 2.0},
        {"concentration1": 5.0, "concentration0": 0.3},
    ),
    ("ContinuousBernoulli", {"probs": 0.3}, {"probs": 0.3 + 1e-7}),
    ("ContinuousBernoulli", {"probs": 0.2}, {"probs": 0.9}),
]
