"""Examples of MixtureSameFamily: univariate components (Normal, Exponential) and
multivariate ones (Independent(Normal), MultivariateNormal).

The reference mixes the components' scipy densities and cdfs in numpy: a log-sum-exp of
the weighted log-densities, weighted sums of the cdfs and survival functions, the law of
total variance, and the quantile by bisection of the reference cdf.
"""

import numpy as np
import torch
from examples import Example, ScipyReference, nested
from examples_multivariate import IndependentReference, MVNReference
from scipy import special, stats

import aleatorch as D

F64 = torch.float64


def component_reference(cls, p):
    """The reference of the (batched) components from their class and numpy parameters."""
    if cls is D.Normal:
        return ScipyReference(stats.norm(p["loc"], p["scale"]))
    if cls is D.Exponential:
        return ScipyReference(stats.expon(scale=1 / p["rate"]))
    if cls is D.Independent:
        return IndependentReference(p)
    if cls is D.MultivariateNormal:
        return MVNReference(p)
    raise NotImplementedError(cls)


class MixtureReference:
    """A mixture of the scipy components with the Categorical's weights (numpy)."""

    def __init__(self, p):
        mix = p["mixture_distribution"][1]
        logits = mix["logits"] if "logits" in mix else np.log(mix["probs"])
        self.log_w = logits - special.logsumexp(logits, axis=-1, keepdims=True)
        cls, params = p["component_distribution"]
        self.comp = component_reference(cls, params)
        comp_mean = np.asarray(self.comp.mean())
        self.event_ndims = 1 if cls in (D.Independent, D.MultivariateNormal) else 0
        # batch_shape + (K,) + event_shape of the components.
        self.comp_shape = comp_mean.shape
        self.lower = 0.0 if cls is D.Exponential else -np.inf

    def _pad_w(self, w):
        return w.reshape(w.shape + (1,) * self.event_ndims)

    def _pad(self, x):
        x = np.expand_dims(np.asarray(x, dtype=np.float64), -1 - self.event_ndims)
        # scipy's batched MVN needs the component dim spelled out.
        return np.broadcast_to(x, np.broadcast_shapes(x.shape, self.comp_shape))

    def log_prob(self, x):
        lp = self.comp.log_prob(self._pad(x))
        return special.logsumexp(lp + self.log_w, axis=-1)

    def cdf(self, x):
        return (np.exp(self.log_w) * self.comp.cdf(self._pad(x))).sum(-1)

    def sf(self, x):
        return (np.exp(self.log_w) * self.comp.sf(self._pad(x))).sum(-1)

    def mean(self):
        w = self._pad_w(np.exp(self.log_w))
        return (w * self.comp.mean()).sum(-1 - self.event_ndims)

    def variance(self):
        w = self._pad_w(np.exp(self.log_w))
        means = np.asarray(self.comp.mean())
        mean = np.expand_dims(self.mean(), -1 - self.event_ndims)
        axis = -1 - self.event_ndims
        return (w * self.comp.variance()).sum(axis) + (w * (means - mean) ** 2).sum(axis)

    def icdf(self, q):
        """Bisection of the reference cdf (the survival function in the upper half)."""
        q = np.asarray(q, dtype=np.float64)
        lo = np.full(q.shape, self.lower if np.isfinite(self.lower) else -1e4)
        hi = np.full(q.shape, 1e4)
        upper = q > 0.5
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = np.where(upper, self.sf(mid) > 1 - q, self.cdf(mid) < q)
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return hi


def mixture(logits=None, probs=None):
    if probs is not None:
        return nested(D.Categorical, probs=probs)
    return nested(D.Categorical, logits=logits)


UNIVARIATE_EXAMPLE = Example(
    D.MixtureSameFamily,
    [
        {  # three Normal components, scalar mixture
            "mixture_distribution": mixture(logits=[0.3, -0.2, 0.5]),
            "component_distribution": nested(D.Normal, loc=[-2.0, 0.5, 3.0], scale=[0.7, 1.2, 0.5]),
        },
        {  # batch (2,), weights given as probs, a scale shared across the batch
            "mixture_distribution": mixture(probs=[[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]),
            "component_distribution": nested(
                D.Normal, loc=[[-1.0, 0.0, 2.0], [1.5, -2.5, 0.5]], scale=[0.5, 1.0, 1.5]
            ),
        },
        {  # one set of weights broadcast over a (2,) batch; positive support
            "mixture_distribution": mixture(logits=[0.4, -0.3]),
            "component_distribution": nested(D.Exponential, rate=[[0.5, 3.0], [1.0, 2.0]]),
        },
    ],
    reference=MixtureReference,
    missing={"entropy"},
    bad_params=[
        (
            # Components built without validation are checked by a validating mixture.
            {
                "mixture_distribution": D.Categorical(logits=torch.zeros(3)),
                "component_distribution": D.Normal(
                    torch.zeros(3), torch.tensor([1.0, -1.0, 1.0]), validate_args=False
                ),
            },
            ["Normal", "scale", "positive", "scale[1] = -1"],
        ),
        (
            {
                "mixture_distribution": D.Normal(0.0, 1.0),
                "component_distribution": D.Normal(torch.zeros(3), torch.ones(3)),
            },
            ["MixtureSameFamily", "mixture_distribution", "Categorical", "Normal"],
        ),
        (
            {
                "mixture_distribution": D.Categorical(logits=torch.zeros(3)),
                "component_distribution": torch.zeros(3),
            },
            ["MixtureSameFamily", "component_distribution", "Distribution", "Tensor"],
        ),
        (
            {
                "mixture_distribution": D.Categorical(logits=torch.zeros(2)),
                "component_distribution": D.Normal(torch.zeros(3), torch.ones(3)),
            },
            ["MixtureSameFamily", "2 categories", "3 components", "(3,)"],
        ),
        (
            {
                "mixture_distribution": D.Categorical(logits=torch.zeros(4, 3)),
                "component_distribution": D.Normal(torch.zeros(2, 3), torch.ones(2, 3)),
            },
            ["MixtureSameFamily", "(4,)", "broadcast", "(2,)"],
        ),
        (
            {
                "mixture_distribution": D.Categorical(logits=torch.zeros(1)),
                "component_distribution": D.Normal(0.0, 1.0),
            },
            ["MixtureSameFamily", "component_distribution", "batch dim", "()"],
        ),
    ],
)

MULTIVARIATE_EXAMPLE = Example(
    D.MixtureSameFamily,
    [
        {  # Independent(Normal) components: event (2,)
            "mixture_distribution": mixture(logits=[0.1, -0.4, 0.7]),
            "component_distribution": nested(
                D.Independent,
                base_distribution=nested(
                    D.Normal,
                    loc=[[-1.0, 2.0], [0.5, -0.5], [2.5, 1.0]],
                    scale=[[0.6, 1.1], [0.9, 0.4], [1.3, 0.8]],
                ),
                reinterpreted_batch_ndims=1,
            ),
        },
        {  # MultivariateNormal components, batch (2,), a shared scale_tril
            "mixture_distribution": mixture(probs=[[0.3, 0.7], [0.5, 0.5]]),
            "component_distribution": nested(
                D.MultivariateNormal,
                loc=[[[0.0, 1.0], [-1.5, 0.5]], [[2.0, -1.0], [0.5, 0.5]]],
                scale_tril=[[1.1, 0.0], [0.4, 0.7]],
            ),
        },
    ],
    reference=MixtureReference,
    missing={"cdf", "icdf", "entropy"},
    bad_params=UNIVARIATE_EXAMPLE.bad_params,
)

EXAMPLES = [UNIVARIATE_EXAMPLE, MULTIVARIATE_EXAMPLE]
