"""Examples of the continuous families: Uniform, Exponential, Laplace, Gamma, Beta, Dirichlet."""

import numpy as np
import torch
from examples import Example, scipy_reference
from scipy import stats

import aleatorch as D


class DirichletReference:
    """scipy.stats.dirichlet over a batch: scipy takes one concentration vector at a time."""

    def __init__(self, params):
        self.alpha = np.asarray(params["concentration"], dtype=np.float64)
        self.batch_shape = self.alpha.shape[:-1]

    def _each(self, method):
        out = np.empty(self.alpha.shape if method in ("mean", "var") else self.batch_shape)
        for index in np.ndindex(*self.batch_shape):
            out[index] = getattr(stats.dirichlet(self.alpha[index]), method)()
        return out

    def log_prob(self, x):
        # x: sample_shape + batch_shape + (k,); scipy wants the components on the first axis.
        x = np.broadcast_to(x, x.shape[: x.ndim - self.alpha.ndim] + self.alpha.shape)
        out = np.empty(x.shape[:-1])
        for index in np.ndindex(*self.batch_shape):
            points = x[(Ellipsis,) + index + (slice(None),)].reshape(-1, self.alpha.shape[-1])
            logpdf = stats.dirichlet(self.alpha[index]).logpdf(points.T)
            out[(Ellipsis,) + index] = logpdf.reshape(x.shape[: x.ndim - self.alpha.ndim])
        return out

    def entropy(self):
        return self._each("entropy")

    def mean(self):
        return self._each("mean")

    def variance(self):
        return self._each("var")


EXAMPLES = [
    Example(
        D.Uniform,
        [
            {"low": 0.0, "high": 1.0},
            {"low": [-1.0, 0.5, 100.0], "high": [1.0, 0.5001, 1e4]},
            {"low": [[0.0], [-3.0]], "high": [1.0, 2.0, 5.0]},
            {
                "low": torch.tensor([-2.0, 1.0], dtype=torch.float64, requires_grad=True),
                "high": 3.0,
            },
        ],
        reference=scipy_reference(lambda p: stats.uniform(p["low"], p["high"] - p["low"])),
        bad_params=[
            (
                {"low": torch.tensor([0.0, 2.0]), "high": torch.tensor([1.0, 1.0])},
                ["Uniform", "high", "greater than 'low'", "high[1] = 1", "low[1] = 2"],
            ),
            ({"low": 1.0, "high": 1.0}, ["Uniform", "high", "low = 1"]),
            ({"low": float("nan"), "high": 1.0}, ["Uniform", "low = nan"]),
        ],
    ),
    Example(
        D.Exponential,
        [
            {"rate": 1.0},
            {"rate": [0.01, 0.5, 3.0, 1e3]},
            {"rate": [[1.0], [2.0]]},
            {"rate": torch.tensor([0.5, 4.0], dtype=torch.float64, requires_grad=True)},
        ],
        reference=scipy_reference(lambda p: stats.expon(scale=1 / p["rate"])),
        bad_params=[
            (
                {"rate": torch.tensor([1.0, -2.0])},
                ["Exponential", "rate", "positive", "rate[1] = -2"],
            ),
            ({"rate": 0.0}, ["Exponential", "rate", "positive", "it is 0"]),
            ({"rate": torch.tensor([float("nan"), 1.0])}, ["Exponential", "rate", "NaN", "[0]"]),
        ],
    ),
    Example(
        D.Laplace,
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": [0.5, -1.0, 30.0], "scale": [1.0, 0.01, 20.0]},
            {"loc": [[0.0], [2.0]], "scale": [0.5, 1.5, 3.0]},
            {
                "loc": torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True),
                "scale": 2.0,
            },
        ],
        reference=scipy_reference(lambda p: stats.laplace(p["loc"], p["scale"])),
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, 2.0, -0.5])},
                ["Laplace", "scale", "positive", "scale[2] = -0.5"],
            ),
            ({"loc": torch.tensor([0.0, float("nan")]), "scale": 1.0}, ["Laplace", "loc", "NaN"]),
        ],
    ),
    Example(
        D.Gamma,
        [
            {"concentration": 2.0, "rate": 3.0},
            {"concentration": [0.05, 0.5, 1.0, 4.0, 50.0], "rate": [1.0, 2.0, 0.5, 1.0, 10.0]},
            {"concentration": [[0.3], [2.0]], "rate": [0.5, 1.0, 4.0]},
            {
                "concentration": torch.tensor([0.05, 1.5], dtype=torch.float64, requires_grad=True),
                "rate": torch.tensor([2.0, 0.7], dtype=torch.float64, requires_grad=True),
            },
        ],
        reference=scipy_reference(lambda p: stats.gamma(p["concentration"], scale=1 / p["rate"])),
        bad_params=[
            (
                {"concentration": torch.tensor([1.0, 0.0]), "rate": 1.0},
                ["Gamma", "concentration", "positive", "concentration[1] = 0"],
            ),
            (
                {"concentration": 1.0, "rate": torch.tensor([1.0, 2.0, -3.0])},
                ["Gamma", "rate", "positive", "rate[2] = -3"],
            ),
            ({"concentration": float("nan"), "rate": 1.0}, ["Gamma", "concentration", "NaN"]),
        ],
    ),
    Example(
        D.Beta,
        [
            {"concentration1": 2.0, "concentration0": 3.0},
            {
                "concentration1": [0.05, 0.5, 1.0, 2.0, 30.0, 0.05],
                "concentration0": [0.05, 0.5, 1.0, 0.05, 40.0, 5.0],
            },
            {"concentration1": [[0.3], [4.0]], "concentration0": [0.7, 1.0, 2.5]},
            {
                "concentration1": torch.tensor(
                    [0.05, 1.5], dtype=torch.float64, requires_grad=True
                ),
                "concentration0": torch.tensor(
                    [0.8, 0.05], dtype=torch.float64, requires_grad=True
                ),
            },
        ],
        reference=scipy_reference(lambda p: stats.beta(p["concentration1"], p["concentration0"])),
        # float32 entropy of Beta(30, 40) is off by 5.7e-5 (4e-5 relative): log B(a, b) takes
        # lgamma(70) ~ 228 minus terms of the same size, ~2.7e-5 of float32 rounding alone.
        float32_atol=1e-4,
        bad_params=[
            (
                {"concentration1": torch.tensor([1.0, -1.0]), "concentration0": 1.0},
                ["Beta", "concentration1", "positive", "concentration1[1] = -1"],
            ),
            (
                {"concentration1": 1.0, "concentration0": 0.0},
                ["Beta", "concentration0", "positive", "it is 0"],
            ),
            (
                {"concentration1": 1.0, "concentration0": torch.tensor([1.0, float("nan")])},
                ["Beta", "concentration0", "NaN", "[1]"],
            ),
        ],
    ),
    Example(
        D.Dirichlet,
        [
            {"concentration": [1.0, 2.0, 3.0]},
            {"concentration": [[0.05, 0.05, 0.05], [0.5, 1.0, 20.0], [0.05, 2.0, 7.0]]},
            {"concentration": [[[0.3, 3.0]], [[1.0, 1.0]]]},
            {
                "concentration": torch.tensor(
                    [[0.05, 1.5, 4.0], [2.0, 0.2, 0.7]], dtype=torch.float64, requires_grad=True
                )
            },
        ],
        reference=DirichletReference,
        bad_params=[
            (
                {"concentration": torch.tensor([[1.0, 2.0], [1.0, -1.0]])},
                ["Dirichlet", "concentration", "positive", "concentration[1] = [1, -1]"],
            ),
            ({"concentration": torch.tensor([1.0, float("nan")])}, ["Dirichlet", "NaN"]),
            ({"concentration": 1.0}, ["Dirichlet", "concentration", "at least one dim"]),
        ],
        missing={"cdf", "icdf"},
    ),
]
