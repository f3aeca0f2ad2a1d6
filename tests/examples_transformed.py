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
