"""Examples of the families torch builds on TransformedDistribution (univariate, scipy oracles):
LogNormal, HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto."""

import numpy as np
import torch
from examples import Example, scipy_reference
from scipy import stats

import aleatorch as D

EXAMPLES = [
    Example(
        D.LogNormal,
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": [0.5, -1.0, 3.0], "scale": [1.0, 0.05, 0.6]},
            {"loc": [[0.0], [2.0]], "scale": [0.5, 0.3, 0.8]},
            {
                "loc": torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True),
                "scale": 0.7,
            },
        ],
        reference=scipy_reference(lambda p: stats.lognorm(p["scale"], scale=np.exp(p["loc"]))),
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5])},
                ["LogNormal", "scale", "positive", "scale[1] = -0.5"],
            ),
            ({"loc": torch.tensor([float("nan")]), "scale": 1.0}, ["LogNormal", "loc", "NaN"]),
        ],
    ),
]

EXAMPLES += [
    Example(
        D.HalfNormal,
        [
            {"scale": 1.0},
            {"scale": [0.5, 2.0, 10.0]},
            {"scale": [[0.3, 1.0, 3.0], [7.0, 0.05, 1.5]]},
            {"scale": torch.tensor([1.5, 0.2], dtype=torch.float64, requires_grad=True)},
        ],
        reference=scipy_reference(lambda p: stats.halfnorm(scale=p["scale"])),
        bad_params=[
            (
                {"scale": torch.tensor([1.0, -0.5])},
                ["HalfNormal", "scale", "positive", "scale[1] = -0.5"],
            ),
            ({"scale": torch.tensor([float("nan")])}, ["HalfNormal", "scale", "NaN"]),
        ],
    ),
    Example(
        D.HalfCauchy,
        [
            {"scale": 1.0},
            {"scale": [0.5, 2.0, 10.0]},
            {"scale": [[0.3, 1.0, 3.0], [7.0, 0.05, 1.5]]},
            {"scale": torch.tensor([1.5, 0.2], dtype=torch.float64, requires_grad=True)},
        ],
        reference=scipy_reference(lambda p: stats.halfcauchy(scale=p["scale"])),
        bad_params=[
            (
                {"scale": torch.tensor([1.0, 0.0])},
                ["HalfCauchy", "scale", "positive", "scale[1] = 0"],
            ),
            ({"scale": torch.tensor([float("nan"), 1.0])}, ["HalfCauchy", "scale", "NaN"]),
        ],
    ),
    Example(
        D.Gumbel,
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": [0.5, -1.0, 3.0], "scale": [1.0, 0.05, 2.5]},
            {"loc": [[0.0], [-20.0]], "scale": [0.5, 0.3, 4.0]},
            {
                "loc": torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True),
                "scale": torch.tensor([0.7, 1.3], dtype=torch.float64, requires_grad=True),
            },
        ],
        reference=scipy_reference(lambda p: stats.gumbel_r(loc=p["loc"], scale=p["scale"])),
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5])},
                ["Gumbel", "scale", "positive", "scale[1] = -0.5"],
            ),
            ({"loc": torch.tensor([float("nan")]), "scale": 1.0}, ["Gumbel", "loc", "NaN"]),
        ],
    ),
    Example(
        D.Weibull,
        [
            {"scale": 1.0, "concentration": 1.0},
            {"scale": [0.5, 2.0, 1.0, 3.0], "concentration": [1.5, 3.0, 12.0, 40.0]},
            {"scale": [[1.0], [30.0]], "concentration": [1.0, 2.0, 5.0]},
            {
                "scale": torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True),
                "concentration": torch.tensor([2.5, 1.2], dtype=torch.float64, requires_grad=True),
            },
        ],
        reference=scipy_reference(
            lambda p: stats.weibull_min(p["concentration"], scale=p["scale"])
        ),
        bad_params=[
            (
                {"scale": 1.0, "concentration": torch.tensor([2.0, -1.0])},
                ["Weibull", "concentration", "positive", "concentration[1] = -1"],
            ),
            (
                {"scale": torch.tensor([float("nan")]), "concentration": 1.0},
                ["Weibull", "scale", "NaN"],
            ),
        ],
    ),
    Example(
        D.Pareto,
        [
            {"scale": 1.0, "alpha": 9.0},
            {"scale": [0.5, 2.0, 1.0], "alpha": [10.0, 12.0, 30.0]},
            {"scale": [[1.0], [0.01]], "alpha": [9.0, 15.0, 20.0]},
            {
                "scale": torch.tensor([1.0, 3.0], dtype=torch.float64, requires_grad=True),
                "alpha": torch.tensor([9.5, 11.0], dtype=torch.float64, requires_grad=True),
            },
        ],
        reference=scipy_reference(lambda p: stats.pareto(p["alpha"], scale=p["scale"])),
        bad_params=[
            (
                {"scale": 1.0, "alpha": torch.tensor([2.0, 0.0])},
                ["Pareto", "alpha", "positive", "alpha[1] = 0"],
            ),
            ({"scale": torch.tensor([-1.0]), "alpha": 3.0}, ["Pareto", "scale", "positive"]),
            ({"scale": torch.tensor([float("nan")]), "alpha": 3.0}, ["Pareto", "scale", "NaN"]),
        ],
    ),
]
