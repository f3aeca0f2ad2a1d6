"""Examples of the core families: Normal, Bernoulli."""

import numpy as np
import torch
from examples import Example, scipy_reference
from scipy import stats

import aleatorch as D

EXAMPLES = [
    Example(
        D.Normal,
        [
            {"loc": 0.0, "scale": 1.0},
            {"loc": [0.5, -1.0, 3.0], "scale": [1.0, 0.1, 20.0]},
            {"loc": [[0.0], [2.0]], "scale": [0.5, 1.5, 3.0]},
            {"loc": torch.tensor([1.0, 2.0], requires_grad=True), "scale": 2.0},
        ],
        reference=scipy_reference(lambda p: stats.norm(p["loc"], p["scale"])),
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5, 2.0])},
                ["Normal", "scale", "positive", "scale[1] = -0.5"],
            ),
            (
                {"loc": torch.tensor([0.0, float("nan")]), "scale": 1.0},
                ["Normal", "loc", "NaN", "[1]"],
            ),
            ({"loc": 0.0, "scale": 0.0}, ["Normal", "scale", "positive"]),
        ],
    ),
    Example(
        D.Bernoulli,
        [
            {"probs": 0.3},
            {"probs": [0.1, 0.5, 0.9, 0.0, 1.0]},
            {"logits": [[-2.0, 0.0, 3.0]]},
            {"logits": torch.tensor([0.5, -0.5], requires_grad=True)},
        ],
        reference=scipy_reference(
            lambda p: stats.bernoulli(
                p["probs"] if "probs" in p else 1 / (1 + np.exp(-p["logits"]))
            ),
            discrete=True,
        ),
        bad_params=[
            (
                {"probs": torch.tensor([0.5, 1.5])},
                ["Bernoulli", "probs", "[0, 1]", "probs[1] = 1.5"],
            ),
            ({"probs": 0.5, "logits": 0.0}, ["Bernoulli", "exactly one of 'probs' or 'logits'"]),
            ({}, ["Bernoulli", "neither"]),
        ],
    ),
]
