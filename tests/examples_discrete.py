"""Examples of the discrete families: Poisson, Binomial, Categorical, OneHotCategorical."""

import math

import numpy as np
import torch
from examples import Example, ScipyReference
from scipy import special, stats

import aleatorch as D

INF = math.inf


class PoissonReference(ScipyReference):
    """scipy.stats.poisson, with the entropy summed directly over the bulk of the pmf.

    scipy's own entropy loses ~4e-4 relative accuracy at rate 1e4.
    """

    def __init__(self, rate):
        super().__init__(stats.poisson(rate), discrete=True)
        self.rate = np.asarray(rate, dtype=np.float64)

    def entropy(self):
        out = np.zeros(self.rate.shape)
        for index, lam in np.ndenumerate(self.rate):
            top = int(lam + 40 * math.sqrt(lam) + 60)
            log_pmf = stats.poisson(lam).logpmf(np.arange(top + 1))
            out[index] = -np.sum(special.xlogy(np.exp(log_pmf), np.exp(log_pmf)))
        return out


def binomial_probs(p):
    return p["probs"] if "probs" in p else special.expit(p["logits"])


class BinomialReference(ScipyReference):
    """scipy.stats.binom, with the variance from logits as n sigmoid(l) sigmoid(-l): scipy's
    n p (1 - p) loses 1e-3 relative accuracy to the cancellation in 1 - p at logits = 30."""

    def __init__(self, p):
        super().__init__(stats.binom(p.get("total_count", 1), binomial_probs(p)), discrete=True)
        self.params = p

    def variance(self):
        p = self.params
        if "logits" not in p:
            return super().variance()
        return p.get("total_count", 1) * special.expit(p["logits"]) * special.expit(-p["logits"])


class CategoricalReference:
    """Categorical over 0..K-1 from normalized numpy probabilities (last axis: categories)."""

    def __init__(self, p):
        if "probs" in p:
            probs = np.asarray(p["probs"], dtype=np.float64)
            self.probs = probs / probs.sum(-1, keepdims=True)
        else:
            logits = np.asarray(p["logits"], dtype=np.float64)
            self.probs = np.exp(logits - special.logsumexp(logits, -1, keepdims=True))

    def _take(self, table, x):
        x = np.asarray(x).astype(np.int64)
        table = np.broadcast_to(table, x.shape + table.shape[-1:])
        return np.take_along_axis(table, x[..., None], -1)[..., 0]

    def log_prob(self, x):
        with np.errstate(divide="ignore"):
            return self._take(np.log(self.probs), x)

    def cdf(self, x):
        return self._take(np.cumsum(self.probs, -1), x)

    def sf(self, x):
        tail = np.cumsum(self.probs[..., ::-1], -1)[..., ::-1]
        tail = np.concatenate([tail[..., 1:], np.zeros_like(tail[..., :1])], -1)
        return self._take(tail, x)

    def icdf(self, q):
        cdf = np.cumsum(self.probs, -1)
        return np.argmax(cdf >= np.asarray(q)[..., None] * cdf[..., -1:], axis=-1)

    def entropy(self):
        return -special.xlogy(self.probs, self.probs).sum(-1)

    def mean(self):
        return np.full(self.probs.shape[:-1], np.nan)

    def variance(self):
        return self.mean()


class OneHotCategoricalReference(CategoricalReference):
    def log_prob(self, x):
        return super().log_prob(np.argmax(x, -1))

    def mean(self):
        return self.probs

    def variance(self):
        return self.probs * (1 - self.probs)


CATEGORICAL_PARAMS = [
    {"probs": [0.15, 0.25, 0.6]},
    {"probs": [[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]]},
    {"probs": [[1.0, 2.0, 3.0]]},  # unnormalized: normalized along the last dim
    {"logits": [[-1.0, 0.5, 2.0], [0.0, -INF, 1.0], [1e4, 0.0, 1e4 - 1.0]]},
    {"logits": [[[3.0, -1.0]], [[0.0, 0.2]]]},
    {"logits": torch.tensor([[0.3, -0.2, 1.1], [2.0, 0.0, -2.0]], requires_grad=True)},
]

CATEGORICAL_BAD = [
    (
        {"probs": torch.tensor([[0.5, 0.5], [0.9, -0.3]])},
        ["probs", "probability vector", "probs[1]"],
    ),
    ({"logits": torch.tensor([0.0, math.nan])}, ["logits", "NaN"]),
    ({"probs": torch.tensor(0.5)}, ["probs", "at least one dim"]),
    (
        {"probs": torch.tensor([0.5, 0.5]), "logits": torch.zeros(2)},
        ["exactly one of 'probs' or 'logits'"],
    ),
    ({}, ["neither"]),
]


def _named(bad, name):
    return [(kwargs, [name, *words]) for kwargs, words in bad]


# probs [0.1, 0, 0.9, 0]: the entropy's gradient at the zero probs is finfo.max, which any
# upstream factor > 1 overflows to inf, and the normalization spreads NaN over the row.


EXAMPLES = [
    Example(
        D.Poisson,
        [
            {"rate": 3.5},
            {"rate": [0.0, 0.01, 1.0, 25.0, 40.0, 1000.0]},
            {"rate": [[0.5], [7.0]]},
            {"rate": torch.tensor([2.0, 50.0], requires_grad=True)},
        ],
        reference=lambda p: PoissonReference(p["rate"]),
        # float32 log_prob at rate 1000 is off by up to 4.6e-4 (8.7e-5 relative): the terms
        # x log(rate), rate and lgamma(x + 1) are ~7000 and cancel to ~-5.
        float32_rtol=2e-4,
        bad_params=[
            ({"rate": torch.tensor([1.0, -2.0])}, ["Poisson", "rate", "nonnegative", "[1] = -2"]),
            ({"rate": torch.tensor([math.nan, 1.0])}, ["Poisson", "rate", "NaN", "[0]"]),
        ],
    ),
    Example(
        D.Binomial,
        [
            {"total_count": 10, "probs": 0.3},
            {"total_count": 20, "probs": [0.0, 0.1, 0.5, 0.99, 1.0]},
            {"total_count": torch.tensor([[6.0], [6.0]]), "probs": [0.2, 0.7]},
            {"total_count": 8, "logits": [[-30.0, -1.0, 0.0, 2.0, 30.0]]},
            {"total_count": 12, "logits": torch.tensor([0.3, -1.2], requires_grad=True)},
            {"probs": [0.25, 0.75]},  # total_count defaults to 1
        ],
        reference=BinomialReference,
        bad_params=[
            (
                {"total_count": torch.tensor([3.0, -1.0]), "probs": 0.5},
                ["Binomial", "total_count", "nonnegative integer", "total_count[1] = -1"],
            ),
            ({"total_count": 2.5, "probs": 0.5}, ["Binomial", "total_count", "integer"]),
            ({"total_count": 4, "probs": torch.tensor([0.5, 1.5])}, ["Binomial", "probs[1]"]),
            ({"probs": 0.5, "logits": 0.0}, ["Binomial", "exactly one of 'probs' or 'logits'"]),
            ({"total_count": 3}, ["Binomial", "neither"]),
        ],
    ),
    # A batch of different total_counts: everything but enumerate_support, which must stack
    # the values of every batch member into one tensor.
    Example(
        D.Binomial,
        [
            {"total_count": [0.0, 1.0, 7.0, 40.0], "probs": [0.3, 0.5, 0.05, 0.6]},
            {"total_count": [[3.0], [9.0]], "logits": [-0.5, 1.5]},
        ],
        reference=BinomialReference,
        bad_params=[
            (
                {"total_count": torch.tensor([1.0, 2.0]), "probs": torch.tensor([0.5, -0.5])},
                ["Binomial", "probs[1] = -0.5"],
            )
        ],
        missing={"enumerate_support"},
    ),
    Example(
        D.Categorical,
        CATEGORICAL_PARAMS,
        reference=CategoricalReference,
        bad_params=_named(CATEGORICAL_BAD, "Categorical"),
    ),
    Example(
        D.OneHotCategorical,
        CATEGORICAL_PARAMS,
        reference=OneHotCategoricalReference,
        bad_params=_named(CATEGORICAL_BAD, "OneHotCategorical"),
        missing={"cdf", "icdf"},
    ),
    Example(
        D.OneHotCategoricalStraightThrough,
        CATEGORICAL_PARAMS[:2] + CATEGORICAL_PARAMS[-1:],
        reference=OneHotCategoricalReference,
        bad_params=_named(CATEGORICAL_BAD[:1], "OneHotCategoricalStraightThrough"),
        missing={"cdf", "icdf"},
    ),
]
