"""Examples of the generic TransformedDistribution: a base pushed through transforms.

The reference pushes a frozen scipy distribution of the base through the same map, written
independently (inverse, derivative of the inverse, monotonicity)."""

import numpy as np
import torch
from examples import Example, nested
from scipy import stats

import aleatorch as D
import aleatorch.transforms as T


class Pushforward:
    """The law of ``Y = f(X)`` for a frozen scipy ``X`` and a monotone ``f``.

    Args:
        frozen: the scipy distribution of ``X``.
        forward, inverse: ``f`` and ``f^{-1}`` on numpy arrays.
        log_abs_dinverse: ``log |d f^{-1} / dy|``.
        increasing: whether ``f`` is increasing.
        affine: ``(a, b)`` when ``f(x) = a + b x`` (then mean, variance, entropy exist).
    """

    def __init__(self, frozen, forward, inverse, log_abs_dinverse, increasing, affine=None):
        self.frozen, self.forward, self.inverse = frozen, forward, inverse
        self.log_abs_dinverse, self.increasing, self.affine = log_abs_dinverse, increasing, affine

    def log_prob(self, y):
        return self.frozen.logpdf(self.inverse(y)) + self.log_abs_dinverse(y)

    def cdf(self, y):
        x = self.inverse(y)
        return self.frozen.cdf(x) if self.increasing else self.frozen.sf(x)

    def sf(self, y):
        x = self.inverse(y)
        return self.frozen.sf(x) if self.increasing else self.frozen.cdf(x)

    def icdf(self, q):
        return self.forward(self.frozen.ppf(q if self.increasing else 1 - q))

    def mean(self):
        a, b = self.affine
        return a + b * self.frozen.mean()

    def variance(self):
        a, b = self.affine
        return b * b * self.frozen.var()

    def entropy(self):
        a, b = self.affine
        return self.frozen.entropy() + np.log(abs(b))


def normal_of(p):
    base_cls, base = p["base_distribution"]
    return stats.norm(base["loc"], base["scale"])


def reflect_then_exp(p):
    # Y = exp(0.3 - 2 X): decreasing onto (0, inf); X = (0.3 - log y) / 2, |dX/dy| = 1 / (2 y).
    return Pushforward(
        normal_of(p),
        lambda x: np.exp(0.3 - 2 * x),
        lambda y: (0.3 - np.log(y)) / 2,
        lambda y: -np.log(2 * y),
        increasing=False,
    )


def affine(p):
    # Y = 0.5 - 3 X.
    return Pushforward(
        normal_of(p),
        lambda x: 0.5 - 3 * x,
        lambda y: (0.5 - y) / 3,
        lambda y: np.full_like(y, -np.log(3.0)),
        increasing=False,
        affine=(0.5, -3.0),
    )


def tanh_of_normal(p):
    return Pushforward(
        normal_of(p),
        np.tanh,
        np.arctanh,
        lambda y: -np.log1p(-y * y),
        increasing=True,
    )


def exponential_scaled(p):
    base_cls, base = p["base_distribution"]
    frozen = stats.expon(scale=1 / base["rate"])
    return Pushforward(
        frozen,
        lambda x: 2 + 0.5 * x,
        lambda y: (y - 2) / 0.5,
        lambda y: np.full_like(y, np.log(2.0)),
        increasing=True,
        affine=(2.0, 0.5),
    )


NOT_AFFINE = {"mean", "variance", "entropy", "mode"}
BAD_BASE = (
    {
        "base_distribution": D.Normal(0.0, -1.0, validate_args=False),
        "transforms": [T.ExpTransform()],
    },
    ["Normal", "scale", "positive", "it is -1"],
)
# As Independent's: the message names the base (the class whose parameter is wrong).
NOT_A_TRANSFORM = (
    {"base_distribution": D.Normal(0.0, 1.0), "transforms": [T.ExpTransform(), "exp"]},
    ["TransformedDistribution", "transforms must be a Transform", "str"],
)


def _example(transforms, reference, params, missing=frozenset()):
    return Example(
        D.TransformedDistribution,
        [dict(p, transforms=transforms) for p in params],
        reference=reference,
        bad_params=[BAD_BASE, NOT_A_TRANSFORM],
        missing=set(missing),
    )


NORMAL_BASES = [
    {"base_distribution": nested(D.Normal, loc=0.2, scale=0.7)},
    {"base_distribution": nested(D.Normal, loc=[0.5, -1.0, 0.1], scale=[0.3, 0.6, 0.1])},
    {
        "base_distribution": nested(
            D.Normal,
            loc=torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True),
            scale=0.5,
        )
    },
]

EXAMPLES = [
    _example(
        [T.AffineTransform(0.3, -2.0), T.ExpTransform()],
        reflect_then_exp,
        NORMAL_BASES,
        missing=NOT_AFFINE,
    ),
    _example([T.AffineTransform(0.5, -3.0)], affine, NORMAL_BASES),
    _example([T.TanhTransform()], tanh_of_normal, NORMAL_BASES, missing=NOT_AFFINE),
    _example(
        [T.AffineTransform(2.0, 0.5)],
        exponential_scaled,
        [
            {"base_distribution": nested(D.Exponential, rate=[0.5, 2.0, 4.0])},
            {"base_distribution": nested(D.Exponential, rate=1.5)},
        ],
    ),
]
