"""Examples of the continuous families added for parity with torch.distributions: Cauchy,
StudentT, Chi2, FisherSnedecor."""

import numpy as np
import torch
from examples import Example, ScipyReference, scipy_reference
from scipy import stats

import aleatorch as D


class TorchMomentsReference(ScipyReference):
    """scipy, with torch's conventions where a moment does not exist: NaN where scipy says
    inf for a divergent mean (StudentT with df <= 1, FisherSnedecor with df2 <= 2), and
    FisherSnedecor's variance NaN for df2 <= 4 (infinite for 2 < df2 <= 4 in scipy)."""

    def __init__(self, frozen, mean_nan, variance_nan):
        super().__init__(frozen)
        self.mean_nan, self.variance_nan = mean_nan, variance_nan

    def mean(self):
        return np.where(self.mean_nan, np.nan, self.frozen.mean())

    def variance(self):
        return np.where(self.variance_nan, np.nan, self.frozen.var())


class CauchyReference(ScipyReference):
    """scipy's Cauchy, with torch's infinite variance (scipy says NaN)."""

    def variance(self):
        return np.full(np.shape(self.frozen.mean()), np.inf)


def _generalized_pareto(p):
    c = np.broadcast_arrays(p["concentration"], p["loc"], p["scale"])[0]
    frozen = stats.genpareto(p["concentration"], p["loc"], p["scale"])
    return TorchMomentsReference(frozen, c >= 1, c >= 0.5)


def _student_t(p):
    df = p["df"]
    frozen = stats.t(df, p.get("loc", 0.0), p.get("scale", 1.0))
    return TorchMomentsReference(frozen, df <= 1, df <= 1)


def _fisher_snedecor(p):
    df1, df2 = np.broadcast_arrays(p["df1"], p["df2"])
    return TorchMomentsReference(stats.f(df1, df2), df2 <= 2, df2 <= 4)


def _tensor(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


EXAMPLES = [
    Example(
        D.Cauchy,
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": [0.5, -1.0, 30.0], "scale": [1.0, 0.01, 20.0]},
            {"loc": [[0.0], [2.0]], "scale": [0.5, 1.5, 3.0]},
            {"loc": _tensor([1.0, -2.0]), "scale": _tensor([2.0, 0.3])},
        ],
        reference=lambda p: CauchyReference(stats.cauchy(p["loc"], p["scale"])),
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5])},
                ["Cauchy", "scale", "positive", "scale[1] = -0.5"],
            ),
            ({"loc": torch.tensor([0.0, float("nan")]), "scale": 1.0}, ["Cauchy", "loc", "NaN"]),
        ],
    ),
    Example(
        D.StudentT,
        [
            # Degrees of freedom above 8 wherever a moment is finite, so that the Monte Carlo
            # checks of the variance and of the pathwise gradient of E[x^2] (fourth moments)
            # converge; heavier tails, and df <= 1, are in tests/distributions/test_parity_
            # continuous.py. Example 2 has infinite variances only (1 < df <= 2).
            {"df": 10.0},
            {"df": [9.0, 12.0, 30.0, 200.0], "loc": [0.0, 1.0, -2.0, 3.0], "scale": 2.0},
            {"df": [[1.2], [2.0]], "loc": [0.5, -1.0, 2.0], "scale": [1.0, 0.1, 4.0]},
            {"df": _tensor([9.5, 25.0]), "loc": _tensor([1.0, -0.5]), "scale": _tensor([0.7, 2.0])},
        ],
        reference=_student_t,
        # float32 entropy at df = 200 is off by 5e-5: lgamma(100) - lgamma(100.5) takes two
        # terms of ~360, ~2e-5 of float32 rounding alone.
        float32_atol=1e-4,
        bad_params=[
            ({"df": torch.tensor([1.0, 0.0])}, ["StudentT", "df", "positive", "df[1] = 0"]),
            (
                {"df": 2.0, "loc": 0.0, "scale": torch.tensor([1.0, -2.0])},
                ["StudentT", "scale", "positive", "scale[1] = -2"],
            ),
            ({"df": 2.0, "loc": float("nan")}, ["StudentT", "loc", "NaN"]),
        ],
    ),
    Example(
        D.Chi2,
        [
            {"df": 3.0},
            {"df": [0.1, 1.0, 2.0, 7.5, 100.0]},
            {"df": [[0.5], [4.0]]},
            {"df": _tensor([0.3, 2.0, 9.0])},
        ],
        reference=scipy_reference(lambda p: stats.chi2(p["df"])),
        bad_params=[
            ({"df": torch.tensor([1.0, -1.0])}, ["Chi2", "df", "positive", "df[1] = -1"]),
            ({"df": float("nan")}, ["Chi2", "df", "NaN"]),
        ],
    ),
    Example(
        D.FisherSnedecor,
        [
            # df2 > 8 (see StudentT); heavier tails, where the moments are NaN as torch's,
            # are in tests/distributions/test_parity_continuous.py.
            {"df1": 4.0, "df2": 12.0},
            {"df1": [0.5, 1.0, 3.0, 10.0, 50.0], "df2": [9.0, 10.0, 15.0, 12.0, 80.0]},
            {"df1": [[2.0], [6.0]], "df2": [9.5, 20.0, 40.0]},
            {"df1": _tensor([3.0, 8.0]), "df2": _tensor([9.0, 14.0])},
        ],
        reference=_fisher_snedecor,
        # float32 entropy of F(50, 80) is off by 3.7e-5: log B(25, 40) and the digamma terms
        # are ~100-200 each and cancel to 0.05, ~2e-5 of float32 rounding alone (as Beta's).
        float32_atol=1e-4,
        bad_params=[
            (
                {"df1": torch.tensor([1.0, 0.0]), "df2": 1.0},
                ["FisherSnedecor", "df1", "positive", "df1[1] = 0"],
            ),
            (
                {"df1": 1.0, "df2": torch.tensor([2.0, -3.0])},
                ["FisherSnedecor", "df2", "positive", "df2[1] = -3"],
            ),
            ({"df1": 1.0, "df2": float("nan")}, ["FisherSnedecor", "df2", "NaN"]),
        ],
    ),
    Example(
        D.GeneralizedPareto,
        [
            # concentration < 1/8 wherever a moment is finite (fourth moments for the Monte
            # Carlo checks); heavier tails are in tests/distributions/test_parity_continuous.py.
            {"loc": 0.0, "scale": 1.0, "concentration": 0.1},
            {
                "loc": [0.0, 1.0, -1.0, 0.5, 3.0],
                "scale": [1.0, 0.5, 2.0, 3.0, 0.2],
                "concentration": [0.0, -0.5, 1e-6, -1e-5, 0.12],
            },
            {"loc": [[0.0], [2.0]], "scale": [0.5, 1.5, 3.0], "concentration": [[-0.3], [0.05]]},
            {
                "loc": _tensor([1.0, -0.5, 0.0]),
                "scale": _tensor([0.7, 2.0, 1.0]),
                "concentration": _tensor([-0.2, 0.0, 0.1]),
            },
        ],
        reference=_generalized_pareto,
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5]), "concentration": 0.1},
                ["GeneralizedPareto", "scale", "positive", "scale[1] = -0.5"],
            ),
            (
                {"loc": 0.0, "scale": 1.0, "concentration": float("nan")},
                ["GeneralizedPareto", "concentration", "NaN"],
            ),
        ],
    ),
]
