"""Examples of the other families torch builds on TransformedDistribution: Kumaraswamy,
InverseGamma, LogisticNormal and the relaxed (Concrete) families.

References: scipy where it has the family (invgamma, logistic); elsewhere numpy written from
the textbook formulas, by another route than the library's (Kumaraswamy's moments through the
beta function, the Concrete density of Maddison et al. in probabilities and powers, the
logistic-normal density through torch's ``1 - cumsum`` stick breaking).
"""

import math

import numpy as np
import torch
from examples import Example, ScipyReference, scipy_reference
from scipy import special, stats

import aleatorch as D

MULTIVARIATE_MISSING = {"cdf", "icdf", "entropy", "mean", "variance"}


class KumaraswamyReference:
    """p(x) = a b x^(a-1) (1 - x^a)^(b-1); F(x) = 1 - (1 - x^a)^b; E[X^n] = b B(1 + n/a, b)."""

    def __init__(self, p):
        self.a = np.asarray(p["concentration1"], dtype=np.float64)
        self.b = np.asarray(p["concentration0"], dtype=np.float64)

    def log_prob(self, x):
        a, b = self.a, self.b
        return np.log(a * b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-(x**a))

    def cdf(self, x):
        return 1 - self.sf(x)

    def sf(self, x):
        return (1 - x**self.a) ** self.b

    def icdf(self, q):
        return (1 - (1 - q) ** (1 / self.b)) ** (1 / self.a)

    def entropy(self):
        a, b = self.a, self.b
        harmonic = special.digamma(b + 1) + np.euler_gamma
        return (1 - 1 / b) + (1 - 1 / a) * harmonic - np.log(a * b)

    def _moment(self, n):
        return self.b * special.beta(1 + n / self.a, self.b)

    def mean(self):
        return self._moment(1)

    def variance(self):
        return self._moment(2) - self._moment(1) ** 2


def binary_logits(p):
    return p["logits"] if "logits" in p else special.logit(p["probs"])


def logistic_of(p):
    """The law of the logit of a binary Concrete: Logistic(logits / tau, 1 / tau)."""
    tau = p["temperature"]
    return stats.logistic(loc=binary_logits(p) / tau, scale=1 / tau)


class RelaxedBernoulliReference:
    """Y = sigmoid(T) with T logistic: log p(y) = log p_T(logit y) - log y - log(1 - y)."""

    def __init__(self, p):
        self.logistic = logistic_of(p)

    def log_prob(self, y):
        return self.logistic.logpdf(special.logit(y)) - np.log(y) - np.log1p(-y)

    def cdf(self, y):
        return self.logistic.cdf(special.logit(y))

    def sf(self, y):
        return self.logistic.sf(special.logit(y))

    def icdf(self, q):
        return special.expit(self.logistic.ppf(q))


class ConcreteReference:
    """Maddison et al. (2017): p(x) = (K-1)! tau^(K-1) prod_k pi_k x_k^(-tau-1) /
    (sum_k pi_k x_k^(-tau))^K on the simplex, with normalized probabilities pi."""

    def __init__(self, p):
        if "probs" in p:
            probs = np.asarray(p["probs"], dtype=np.float64)
        else:
            probs = special.softmax(np.asarray(p["logits"], dtype=np.float64), axis=-1)
        self.probs = probs / probs.sum(-1, keepdims=True)
        self.tau = np.asarray(p["temperature"], dtype=np.float64)

    def log_prob(self, x):
        k = x.shape[-1]
        tau = self.tau  # broadcasts against (..., K): a scalar or batch_shape + (1,)
        log_terms = np.log(self.probs) - tau * np.log(x)
        numerator = (np.log(self.probs) - (tau + 1) * np.log(x)).sum(-1)
        log_tau = np.log(tau).reshape(np.shape(tau)[:-1]) if np.ndim(tau) else np.log(tau)
        return math.lgamma(k) + (k - 1) * log_tau + numerator - k * special.logsumexp(log_terms, -1)


class ExpConcreteReference(ConcreteReference):
    """The density of y = log x, in torch's convention: p_X(exp y) times prod_k exp(y_k)."""

    def log_prob(self, y):
        return super().log_prob(np.exp(y)) + y.sum(-1)


class LogisticNormalReference:
    """Stick breaking as torch inverts it: x_k = log(y_k / (1 - sum_{j<=k} y_j)) + log(K - k)
    is normal; the log-det of the map is sum_{k<=K} log y_k."""

    def __init__(self, p):
        self.normal = stats.norm(p["loc"], p["scale"])

    def log_prob(self, y):
        head = y[..., :-1]
        k = head.shape[-1]
        remaining = 1 - np.cumsum(head, -1)
        x = np.log(head) - np.log(remaining) + np.log(np.arange(k, 0, -1))
        return self.normal.logpdf(x).sum(-1) - np.log(y).sum(-1)


def _rg(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def _relaxed_bad(name, binary):
    if binary:
        temperature = {"temperature": torch.tensor([1.0, -0.5]), "logits": torch.zeros(2)}
        entry, probs, rule = "temperature[1] = -0.5", torch.tensor([0.5, 1.5]), "[0, 1]"
        shape = ({"temperature": torch.ones(2), "logits": torch.zeros(3)}, "broadcast")
    else:
        temperature = {"temperature": torch.tensor([[1.0], [-0.5]]), "logits": torch.zeros(2, 3)}
        entry, rule = "temperature[1, 0] = -0.5", "probability vector"
        probs = torch.tensor([[0.5, 0.5], [0.9, -0.3]])
        shape = ({"temperature": torch.ones(2), "logits": torch.zeros(2, 3)}, "unsqueeze(-1)")
    return [
        (temperature, [name, "temperature", "positive", entry]),
        ({"temperature": 0.5, "probs": probs}, [name, "probs", rule]),
        ({"temperature": 0.5, "logits": torch.tensor([math.nan])}, [name, "logits", "NaN"]),
        ({"temperature": 0.5}, [name, "exactly one", "neither"]),
        (shape[0], [name, "temperature", shape[1]]),
    ]


RELAXED_BINARY_PARAMS = [
    {"temperature": 0.5, "probs": 0.3},
    {"temperature": [0.5, 1.0, 2.5], "logits": [0.5, -2.0, 2.5]},
    # a batch of temperatures broadcast against a batch of logits
    {"temperature": [0.6, 1.5, 3.0], "logits": [[1.0, 0.0, -1.0], [2.0, -2.5, 0.5]]},
    {"temperature": 0.8, "probs": _rg([0.2, 0.9])},
]

RELAXED_CATEGORICAL_PARAMS = [
    {"temperature": 0.5, "probs": [0.2, 0.3, 0.5]},
    {"temperature": 1.5, "logits": [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]]},
    # one temperature per distribution, torch's (n, 1) layout (pytorch#37162)
    {"temperature": [[0.4], [2.0]], "logits": [[0.5, -1.0, 0.3], [0.0, 2.0, -0.7]]},
    {"temperature": 0.8, "logits": _rg([0.2, -0.5, 1.0])},
]

EXAMPLES = [
    Example(
        D.Kumaraswamy,
        [
            {"concentration1": 2.0, "concentration0": 3.0},
            {"concentration1": [0.5, 1.0, 4.0], "concentration0": [0.7, 2.5, 1.5]},
            {"concentration1": [[1.5], [3.0]], "concentration0": [0.8, 2.0, 6.0]},
            {"concentration1": _rg([2.5, 0.9]), "concentration0": 1.7},
        ],
        reference=KumaraswamyReference,
        bad_params=[
            (
                {"concentration1": torch.tensor([1.0, -0.5]), "concentration0": 1.0},
                ["Kumaraswamy", "concentration1", "positive", "concentration1[1] = -0.5"],
            ),
            (
                {"concentration1": 1.0, "concentration0": math.nan},
                ["Kumaraswamy", "concentration0", "NaN"],
            ),
        ],
    ),
    Example(
        D.InverseGamma,
        [
            # concentration > 4 everywhere: the generic moment and pathwise-gradient checks
            # need a finite fourth moment (small shapes: tests/distributions/).
            {"concentration": 5.0, "rate": 2.0},
            {"concentration": [5.5, 8.0, 20.0], "rate": [0.5, 1.0, 3.0]},
            {"concentration": [[6.0], [12.0]], "rate": [0.3, 1.0, 5.0]},
            {"concentration": _rg([4.5, 9.0]), "rate": 1.5},
        ],
        reference=scipy_reference(lambda p: stats.invgamma(p["concentration"], scale=p["rate"])),
        bad_params=[
            (
                {"concentration": 2.0, "rate": torch.tensor([1.0, -0.5])},
                ["InverseGamma", "rate", "positive", "rate[1] = -0.5"],
            ),
            (
                {"concentration": math.nan, "rate": 1.0},
                ["InverseGamma", "concentration", "NaN"],
            ),
        ],
    ),
    Example(
        D.LogisticNormal,
        [
            {"loc": 0.3, "scale": 1.2},  # a scalar: one stick-breaking step, event (2,)
            {"loc": [0.5, -1.0, 0.2], "scale": [1.0, 0.5, 2.0]},
            {"loc": [[0.0, 1.0], [-0.5, 0.3]], "scale": [0.7, 1.5]},
            {"loc": _rg([0.2, -0.4]), "scale": 0.8},
        ],
        reference=LogisticNormalReference,
        bad_params=[
            (
                {"loc": 0.0, "scale": torch.tensor([1.0, -0.5])},
                ["LogisticNormal", "scale", "positive", "scale[1] = -0.5"],
            ),
            ({"loc": torch.tensor([math.nan]), "scale": 1.0}, ["LogisticNormal", "loc", "NaN"]),
        ],
        missing=MULTIVARIATE_MISSING,
    ),
    Example(
        D.LogitRelaxedBernoulli,
        RELAXED_BINARY_PARAMS,
        reference=lambda p: ScipyReference(logistic_of(p)),
        bad_params=_relaxed_bad("LogitRelaxedBernoulli", binary=True),
    ),
    Example(
        D.RelaxedBernoulli,
        RELAXED_BINARY_PARAMS,
        reference=RelaxedBernoulliReference,
        bad_params=_relaxed_bad("RelaxedBernoulli", binary=True),
        missing={"entropy", "mean", "variance"},
    ),
    Example(
        D.ExpRelaxedCategorical,
        RELAXED_CATEGORICAL_PARAMS,
        reference=ExpConcreteReference,
        bad_params=_relaxed_bad("ExpRelaxedCategorical", binary=False),
        missing=MULTIVARIATE_MISSING,
    ),
    Example(
        D.RelaxedOneHotCategorical,
        RELAXED_CATEGORICAL_PARAMS,
        reference=ConcreteReference,
        bad_params=_relaxed_bad("RelaxedOneHotCategorical", binary=False),
        missing=MULTIVARIATE_MISSING,
    ),
]
