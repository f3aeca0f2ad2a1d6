"""Examples of the torch-parity discrete families: Geometric, NegativeBinomial,
ContinuousBernoulli, Multinomial."""

import math

import mpmath
import numpy as np
import torch
from examples import Example, ScipyReference
from scipy import special, stats

import aleatorch as D


def _success_probs(p):
    return p["probs"] if "probs" in p else special.expit(p["logits"])


class GeometricReference(ScipyReference):
    """scipy.stats.geom counts trials (support 1, 2, ...); torch counts failures: loc = -1.
    Mean and variance from the logits as e^-l and e^-l (1 + e^-l), exact where scipy's
    1/p - 1 cancels."""

    def __init__(self, p):
        super().__init__(stats.geom(_success_probs(p), loc=-1), discrete=True)
        self.params = p

    def icdf(self, q):
        # scipy's ppf at p = 1 is 0 trials (-1 here); the quantile is 0.
        return np.maximum(super().icdf(q), 0.0)

    def entropy(self):
        # scipy's entropy is NaN at p = 1 (0 * log 0); H = -log p - (1-p) log(1-p) / p.
        q = _success_probs(self.params)
        return -np.log(q) - special.xlog1py(1 - q, -q) / q

    def mean(self):
        if "logits" in self.params:
            return np.exp(-self.params["logits"])
        return super().mean()

    def variance(self):
        if "logits" in self.params:
            odds = np.exp(-self.params["logits"])
            return odds + odds * odds
        return super().variance()


class NegativeBinomialReference(ScipyReference):
    """scipy.stats.nbinom(n, p) counts failures before n successes of probability p: torch's
    successes before total_count failures is nbinom(total_count, 1 - probs). Mean and
    variance from the logits as r e^l and r e^l (1 + e^l)."""

    def __init__(self, p):
        super().__init__(stats.nbinom(p["total_count"], 1 - _success_probs(p)), discrete=True)
        self.params = p

    def mean(self):
        if "logits" in self.params:
            return self.params["total_count"] * np.exp(self.params["logits"])
        return super().mean()

    def variance(self):
        if "logits" in self.params:
            odds = np.exp(self.params["logits"])
            return self.params["total_count"] * (odds + odds * odds)
        return super().variance()

    def entropy(self):
        """-sum P log P over the labels holding all but ~1e-26 of the mass, from scipy's
        logpmf (scipy's own entropy goes through its ppf, which aborts the process at some
        edge parameters); NaN (no reference) for invalid parameters or windows past 2e6."""
        r, s = np.broadcast_arrays(
            np.asarray(self.params["total_count"], dtype=float),
            np.asarray(_success_probs(self.params), dtype=float),
        )
        out = np.full(r.shape, np.nan)
        for i in np.ndindex(r.shape):
            count, p = float(r[i]), float(s[i])
            if not (math.isfinite(count) and count >= 0 and 0 <= p < 1):
                continue
            if count == 0 or p == 0:
                out[i] = 0.0
                continue
            mean, sd = count * p / (1 - p), math.sqrt(count * p) / (1 - p)
            stop = mean + 12 * sd + 60 / -math.log(p) + 21
            if not stop < 2e6:
                continue
            log_pmf = stats.nbinom.logpmf(np.arange(math.ceil(stop)), count, 1 - p)
            terms = np.exp(log_pmf) * log_pmf
            out[i] = -np.sum(np.where(np.isfinite(log_pmf), terms, 0.0))
        return out


class ContinuousBernoulliReference:
    """The continuous Bernoulli in its lambda form, C(lambda) lambda^x (1 - lambda)^(1 - x)
    with C = 2 atanh(1 - 2 lambda) / (1 - 2 lambda), in 40-digit mpmath: the cdf and icdf in
    closed form, the moments and entropy by quadrature."""

    def __init__(self, p):
        mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
        mp.dps = 40
        self.mp = mp
        if "probs" in p:
            lam = np.vectorize(lambda v: mp.mpf(float(v)), otypes=[object])(p["probs"])
        else:
            lam = np.vectorize(lambda v: 1 / (1 + mp.exp(-mp.mpf(float(v)))), otypes=[object])(
                p["logits"]
            )
        self.lam = lam

    def _norm(self, lam):
        mp = self.mp
        if lam == mp.mpf(1) / 2:
            return mp.mpf(2)
        return 2 * mp.atanh(1 - 2 * lam) / (1 - 2 * lam)

    def _pdf(self, lam, x):
        return self._norm(lam) * lam**x * (1 - lam) ** (1 - x)

    def _map(self, fn, *args):
        return np.vectorize(lambda *a: float(fn(*a)), otypes=[np.float64])(self.lam, *args)

    def log_prob(self, x):
        return self._map(lambda lam, v: self.mp.log(self._pdf(lam, self.mp.mpf(float(v)))), x)

    def _cdf(self, lam, x):
        if lam == self.mp.mpf(1) / 2:
            return x
        return (lam**x * (1 - lam) ** (1 - x) + lam - 1) / (2 * lam - 1)

    def cdf(self, x):
        return self._map(lambda lam, v: self._cdf(lam, self.mp.mpf(float(v))), x)

    def sf(self, x):
        return self._map(lambda lam, v: 1 - self._cdf(lam, self.mp.mpf(float(v))), x)

    def icdf(self, q):
        mp = self.mp

        def one(lam, v):
            v = mp.mpf(float(v))
            if lam == mp.mpf(1) / 2:
                return v
            return mp.log((v * (2 * lam - 1) + 1 - lam) / (1 - lam)) / mp.log(lam / (1 - lam))

        return self._map(one, q)

    def _moment(self, fn):
        return self._map(lambda lam: self.mp.quad(lambda x: fn(lam, x) * self._pdf(lam, x), [0, 1]))

    def mean(self):
        return self._moment(lambda lam, x: x)

    def variance(self):
        mean = self.mean()
        return np.vectorize(
            lambda lam, m: float(self.mp.quad(lambda x: (x - m) ** 2 * self._pdf(lam, x), [0, 1])),
            otypes=[np.float64],
        )(self.lam, mean)

    def entropy(self):
        return self._moment(lambda lam, x: -self.mp.log(self._pdf(lam, x)))


class MultinomialReference:
    """scipy.stats.multinomial row by row (last axis: categories); log_prob with n taken
    from the value, as torch's."""

    def __init__(self, p):
        if "probs" in p:
            probs = np.asarray(p["probs"], dtype=np.float64)
            self.probs = probs / probs.sum(-1, keepdims=True)
        else:
            logits = np.asarray(p["logits"], dtype=np.float64)
            self.probs = np.exp(logits - special.logsumexp(logits, -1, keepdims=True))
        self.n = p.get("total_count", 1)

    def log_prob(self, x):
        x = np.asarray(x, dtype=np.float64)
        probs = np.broadcast_to(self.probs, x.shape)
        out = np.empty(x.shape[:-1])
        for index in np.ndindex(out.shape):
            out[index] = stats.multinomial(int(x[index].sum()), probs[index]).logpmf(x[index])
        return out

    def entropy(self):
        out = np.empty(self.probs.shape[:-1])
        for index in np.ndindex(out.shape):
            out[index] = stats.multinomial(self.n, self.probs[index]).entropy()
        return out

    def mean(self):
        return self.n * self.probs

    def variance(self):
        return self.n * self.probs * (1 - self.probs)


EXAMPLES = [
    Example(
        D.Geometric,
        [
            {"probs": 0.3},
            {"probs": [1.0, 0.9, 0.5, 0.1, 0.01]},
            {"probs": [[0.2], [0.7]]},
            {"logits": [-3.0, -0.5, 0.0, 2.0, 5.0]},
            {"logits": torch.tensor([0.3, -1.2], requires_grad=True)},
            {"probs": torch.tensor([0.4, 0.05], requires_grad=True)},
        ],
        reference=GeometricReference,
        bad_params=[
            ({"probs": torch.tensor([0.5, 0.0])}, ["Geometric", "probs", "positive", "[1]"]),
            ({"probs": torch.tensor([0.5, 1.5])}, ["Geometric", "probs", "[1] = 1.5"]),
            ({"logits": torch.tensor([math.nan])}, ["Geometric", "logits", "NaN"]),
            ({"probs": 0.5, "logits": 0.0}, ["Geometric", "exactly one of 'probs' or 'logits'"]),
            ({}, ["Geometric", "neither"]),
        ],
    ),
    Example(
        D.NegativeBinomial,
        [
            {"total_count": 3.0, "probs": 0.4},
            {"total_count": [0.5, 1.0, 2.5, 10.0, 40.0], "probs": [0.0, 0.3, 0.5, 0.8, 0.1]},
            {"total_count": [[2.0], [7.5]], "probs": [0.25, 0.6]},
            {"total_count": [4.0, 1.5, 20.0, 0.8], "logits": [-3.0, 0.0, -1.0, 2.0]},
            {
                "total_count": torch.tensor([2.0, 5.5], requires_grad=True),
                "logits": torch.tensor([0.3, -1.2], requires_grad=True),
            },
            {
                "total_count": torch.tensor(6.0),
                "probs": torch.tensor([0.3, 0.7], requires_grad=True),
            },
        ],
        reference=NegativeBinomialReference,
        bad_params=[
            (
                {"total_count": torch.tensor([1.0, -2.0]), "probs": 0.5},
                ["NegativeBinomial", "total_count", "[1] = -2"],
            ),
            (
                {"total_count": 2.0, "probs": torch.tensor([0.5, 1.0])},
                ["NegativeBinomial", "probs", "[1] = 1"],
            ),
            (
                {"total_count": 2.0, "logits": torch.tensor([math.nan])},
                ["NegativeBinomial", "logits", "NaN"],
            ),
            (
                {"total_count": 2.0, "probs": 0.5, "logits": 0.0},
                ["NegativeBinomial", "exactly one of 'probs' or 'logits'"],
            ),
            ({"total_count": 2.0}, ["NegativeBinomial", "neither"]),
        ],
    ),
    Example(
        D.ContinuousBernoulli,
        [
            {"probs": 0.3},
            {"probs": [0.5, 0.4999, 0.5002, 0.45, 0.8, 0.02, 0.99]},
            {"probs": [[0.2], [0.7]]},
            {"logits": [-12.0, -5.0, -1.0, -1e-4, 0.0, 0.5, 1.0, 3.0, 12.0]},
            {"logits": torch.tensor([0.3, -1.2, 0.0, 2.5], requires_grad=True)},
            {"probs": torch.tensor([0.4, 0.5, 0.9], requires_grad=True)},
        ],
        reference=ContinuousBernoulliReference,
        bad_params=[
            (
                {"probs": torch.tensor([0.5, 1.5])},
                ["ContinuousBernoulli", "probs", "[1] = 1.5"],
            ),
            ({"logits": torch.tensor([math.nan])}, ["ContinuousBernoulli", "logits", "NaN"]),
            (
                {"probs": 0.5, "logits": 0.0},
                ["ContinuousBernoulli", "exactly one of 'probs' or 'logits'"],
            ),
            ({}, ["ContinuousBernoulli", "neither"]),
        ],
    ),
    Example(
        D.Multinomial,
        [
            {"total_count": 5, "probs": [0.2, 0.3, 0.5]},
            {"total_count": 12, "probs": [[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]]},
            {"total_count": 3, "probs": [[1.0, 2.0, 3.0]]},  # unnormalized
            {"total_count": 20, "logits": [[-1.0, 0.5, 2.0], [0.0, -math.inf, 1.0]]},
            {"total_count": 7, "logits": torch.tensor([[0.3, -0.2, 1.1]], requires_grad=True)},
            {"probs": torch.tensor([0.25, 0.75], requires_grad=True)},  # total_count 1
            {"total_count": 0, "probs": [0.6, 0.4]},
        ],
        reference=MultinomialReference,
        missing={"cdf", "icdf"},
        bad_params=[
            (
                {"total_count": 3, "probs": torch.tensor([[0.5, 0.5], [0.9, -0.3]])},
                ["Multinomial", "probs", "probability vector"],
            ),
            (
                {"total_count": -2, "probs": torch.tensor([0.5, 0.5])},
                ["Multinomial", "total_count"],
            ),
            ({"logits": torch.tensor([0.0, math.nan])}, ["Multinomial", "logits", "NaN"]),
            ({"probs": torch.tensor(0.5)}, ["Multinomial", "probs", "at least one dim"]),
            (
                {"probs": torch.tensor([0.5, 0.5]), "logits": torch.zeros(2)},
                ["Multinomial", "exactly one of 'probs' or 'logits'"],
            ),
        ],
    ),
]
