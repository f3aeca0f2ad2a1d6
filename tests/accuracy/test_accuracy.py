"""Every method of every univariate family, and same-family KL divergences, against 50-digit
mpmath references (tests/data/accuracy_reference.json, made by
scripts/accuracy_reference.py over the grid of tests/accuracy/grid.py; docs/accuracy.md).

Budget: relative error <= 1e3 eps (float64) and 1e2 eps (float32); log-densities, log-cdfs
and entropies relative to max(1, |value|); see harness.case_errors. A group in PENDING is a
strict xfail: fixing it makes the test XPASS and forces the entry's removal.
"""

from __future__ import annotations

import hashlib

import mpmath
import numpy as np
import pytest

from . import grid
from .harness import BUDGET, ROOT, TABLE, case_errors, groups, measure
from .pending import PENDING

GROUPS = groups()

# Univariate families of the example registry that the accuracy grid leaves out, and why.
NOT_IN_GRID = {
    "Categorical": "a probability vector per batch element: covered by test_categorical.py",
    "Independent": "a wrapper (its base families are in the grid)",
    "MixtureSameFamily": "a wrapper (its component families are in the grid)",
    "TransformedDistribution": "a wrapper (LogNormal, Gumbel, Weibull, ... are in the grid)",
}


def _case(group):
    marks = []
    if group in PENDING:
        worst, case = PENDING[group]
        marks = [pytest.mark.xfail(strict=True, reason=f"worst {worst:.3g}: {case}")]
    return pytest.param(group, id="-".join(group), marks=marks)


@pytest.mark.parametrize("group", [_case(g) for g in GROUPS])
def test_accuracy(group):
    family, method, dtype = group
    m = measure(family, method, dtype)
    assert m.error is None, m.error
    assert m.failures == 0, (
        f"{m.failures} of {m.cases} cases over budget {BUDGET[dtype]:.3g}; worst "
        f"{m.worst:.3g}: {m.worst_case}"
    )


def test_table_was_made_by_this_script_and_grid():
    prov = TABLE["provenance"]
    script = ROOT / "scripts" / "accuracy_reference.py"
    grid_file = ROOT / "tests" / "accuracy" / "grid.py"
    assert prov["dps"] == 50
    assert prov["script_sha256"] == hashlib.sha256(script.read_bytes()).hexdigest(), (
        "scripts/accuracy_reference.py changed: regenerate the table"
    )
    assert prov["grid_sha256"] == hashlib.sha256(grid_file.read_bytes()).hexdigest(), (
        "tests/accuracy/grid.py changed: regenerate the table"
    )
    assert prov["mpmath"].split(".")[0] == mpmath.__version__.split(".")[0]


def test_grid_covers_every_univariate_family_of_the_registry():
    from examples import EXAMPLES

    univariate = set()
    for ex in EXAMPLES:
        if ex.build(0).event_shape == ():
            univariate.add(ex.cls.__name__)
    assert univariate - set(grid.FAMILY) - set(NOT_IN_GRID) == set()
    assert set(grid.FAMILY) <= set(TABLE["families"])


def test_grid_reaches_the_extremes():
    """The issue's corners are in the table: q to 1e-300 / 1e-38, shapes 1e-3 to 1e6, rates to
    1e8, counts to 1e6, logits +-100, x at +-40 standard units."""
    assert min(grid.Q["float64"]) == 1e-300 and min(grid.Q["float32"]) == 1e-38
    gamma = [p["concentration"] for p in grid.FAMILY["Gamma"].params]
    assert min(gamma) == 1e-3 and max(gamma) == 1e6
    assert max(p["rate"] for p in grid.FAMILY["Poisson"].params) == 1e8
    assert max(p["total_count"] for p in grid.FAMILY["Binomial"].params) == 1e6
    logits = [p.get("logits", 0.0) for p in grid.FAMILY["Bernoulli"].params]
    assert min(logits) == -100 and max(logits) == 100
    assert min(grid.Z) == -40 and max(grid.Z) == 40
    pairs = {(n, tuple(p.values()), tuple(q.values())) for n, p, q in grid.KL_PAIRS}
    assert ("Normal", (0.0, 1.0), (0.0, 1 + 1e-8)) in pairs
    assert ("Exponential", (1.0,), (1 + 1e-6,)) in pairs
    assert ("Gamma", (1e6, 1.0), (1.001e6, 1.0)) in pairs


def test_pending_entries_name_existing_groups():
    assert set(PENDING) <= set(GROUPS)


def test_error_measure_catches_zero_infinite_and_lost_digits():
    """The measure itself: a tiny truth returned as 0, a finite one as inf or NaN, and a lost
    digit are failures; an underflowing truth returned as 0 is not."""
    b = BUDGET["float64"]
    err = case_errors(
        np.array([0.0, np.inf, np.nan, 1.0 + 1e-11, 0.0, 1.0]),
        ["1e-300", "1e300", "2.5", "1", "1e-400", "1"],
        "cdf",
        "float64",
    )
    assert list(err > b) == [True, True, True, True, False, False]
    err = case_errors(np.array([-1e-20, -5.0 + 1e-12]), ["0", "-5"], "log_prob", "float64")
    assert list(err > b) == [False, False]
