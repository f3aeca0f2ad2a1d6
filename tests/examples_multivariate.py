"""Examples of the multivariate families and wrappers: MultivariateNormal, Independent.

scipy.stats.multivariate_normal does not batch, so :class:`MVNReference` loops over the batch.
Independent wraps a distribution object, made with ``examples.nested`` so that the suite can
rebuild it in other dtypes and with gradient leaves.
"""

import numpy as np
import torch
from examples import Example, ScipyReference, nested
from scipy import special, stats

import aleatorch as D

F64 = torch.float64


# ----------------------------------------------------------------- MultivariateNormal


def mvn_covariance(p):
    """The covariance matrix from whichever parametrization ``p`` gives (numpy)."""
    if "covariance_matrix" in p:
        return p["covariance_matrix"]
    if "precision_matrix" in p:
        return np.linalg.inv(p["precision_matrix"])
    tril = p["scale_tril"]
    return tril @ np.swapaxes(tril, -1, -2)


class MVNReference:
    """scipy.stats.multivariate_normal, looped over the batch dims."""

    def __init__(self, p):
        cov = mvn_covariance(p)
        loc = np.asarray(p["loc"], dtype=np.float64)
        d = loc.shape[-1]
        self.batch = np.broadcast_shapes(loc.shape[:-1], cov.shape[:-2])
        self.loc = np.broadcast_to(loc, self.batch + (d,))
        self.cov = np.broadcast_to(cov, self.batch + (d, d))

    def _frozen(self, index):
        return stats.multivariate_normal(self.loc[index], self.cov[index])

    def log_prob(self, x):
        x = np.asarray(x)
        out = np.empty(x.shape[:-1])
        k = len(self.batch)
        for index in np.ndindex(*self.batch):
            at = (Ellipsis, *index, slice(None))
            lead = x[at].shape[:-1]
            out[at[:-1]] = np.reshape(self._frozen(index).logpdf(x[at]), lead)
        return out if k or out.ndim else out[()]

    def entropy(self):
        out = np.empty(self.batch)
        for index in np.ndindex(*self.batch):
            out[index] = self._frozen(index).entropy()
        return out

    def mean(self):
        return self.loc

    def variance(self):
        return np.diagonal(self.cov, axis1=-2, axis2=-1)


def _spd(d, seed, jitter=0.5):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, dtype=F64, generator=g)
    return a @ a.T + jitter * torch.eye(d, dtype=F64)


COV3 = [[2.0, 0.6, -0.3], [0.6, 1.5, 0.4], [-0.3, 0.4, 1.0]]
TRIL3 = [[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.5, 0.2, 0.6]]
PREC3 = [[1.5, -0.4, 0.2], [-0.4, 2.0, 0.7], [0.2, 0.7, 0.9]]

MVN_EXAMPLE = Example(
    D.MultivariateNormal,
    [
        {"loc": [0.5, -1.0, 2.0], "covariance_matrix": COV3},
        # batched loc, unbatched matrix
        {"loc": [[0.0, 0.0, 0.0], [1.0, -1.0, 0.5]], "precision_matrix": PREC3},
        # unbatched loc, batched matrix
        {
            "loc": [1.0, -1.0],
            "scale_tril": [
                [[1.0, 0.0], [0.5, 2.0]],
                [[0.3, 0.0], [-0.2, 0.1]],
                [[3.0, 0.0], [1.0, 1.0]],
            ],
        },
        {"loc": [0.5], "covariance_matrix": [[2.0]]},
        {"loc": [[0.3]], "precision_matrix": [[[4.0]], [[0.25]]]},
        {"loc": torch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True), "scale_tril": TRIL3},
        # both batched, broadcasting to batch_shape (2, 4)
        {
            "loc": [[[0.0, 1.0, 2.0]], [[1.0, 1.0, 1.0]]],
            "covariance_matrix": torch.stack([_spd(3, s) for s in range(4)]),
        },
        {
            "loc": torch.linspace(-2, 2, 12, dtype=F64).reshape(4, 3),
            "precision_matrix": torch.stack([_spd(3, 10 + s, 1.0) for s in range(4)]),
        },
    ],
    reference=MVNReference,
    bad_params=[
        (
            {
                "loc": torch.zeros(2),
                "covariance_matrix": torch.tensor(
                    [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]
                ),
            },
            ["MultivariateNormal", "covariance_matrix", "positive-definite", "1 of 2", "[1] ="],
        ),
        (
            {"loc": torch.zeros(2), "scale_tril": torch.tensor([[1.0, 0.0], [0.5, -1.0]])},
            ["MultivariateNormal", "scale_tril", "positive diagonal"],
        ),
        (
            {"loc": torch.zeros(2), "precision_matrix": torch.tensor([[1.0, 0.5], [0.0, 1.0]])},
            ["MultivariateNormal", "precision_matrix", "symmetric"],
        ),
        (
            {"loc": torch.tensor([0.0, float("nan")]), "covariance_matrix": torch.eye(2)},
            ["MultivariateNormal", "loc", "NaN"],
        ),
        (
            {"loc": torch.zeros(2), "covariance_matrix": torch.eye(2), "scale_tril": torch.eye(2)},
            ["MultivariateNormal", "exactly one", "'covariance_matrix', 'scale_tril'"],
        ),
        (
            {"loc": torch.zeros(2)},
            ["exactly one", "covariance_matrix", "precision_matrix", "scale_tril", "none"],
        ),
        (
            {"loc": torch.zeros(3), "covariance_matrix": torch.eye(2)},
            ["MultivariateNormal", "covariance_matrix", "(..., 3, 3)", "(2, 2)"],
        ),
        (
            {"loc": torch.zeros(2, 3), "covariance_matrix": torch.eye(3).expand(4, 3, 3)},
            ["MultivariateNormal", "(2,)", "(4,)", "do not broadcast"],
        ),
    ],
    missing={"cdf", "icdf"},
)


# ----------------------------------------------------------------- Independent


def base_reference(cls, p):
    """The reference of a wrapped distribution from its class and numpy parameters."""
    if cls is D.Normal:
        return ScipyReference(stats.norm(p["loc"], p["scale"]))
    if cls is D.Bernoulli:
        probs = p["probs"] if "probs" in p else special.expit(p["logits"])
        return ScipyReference(stats.bernoulli(probs), discrete=True)
    if cls is D.MultivariateNormal:
        return MVNReference(p)
    raise NotImplementedError(cls)


class IndependentReference:
    """Sums of the base reference over the reinterpreted dims."""

    def __init__(self, p):
        self.base = base_reference(*p["base_distribution"])
        self.n = int(p["reinterpreted_batch_ndims"])

    def _sum(self, x):
        x = np.asarray(x)
        return x.sum(axis=tuple(range(-self.n, 0))) if self.n else x

    def log_prob(self, x):
        return self._sum(self.base.log_prob(x))

    def entropy(self):
        return self._sum(self.base.entropy())

    def mean(self):
        return self.base.mean()

    def variance(self):
        return self.base.variance()

    # Only with reinterpreted_batch_ndims == 0, the one case with a cdf.
    def cdf(self, x):
        return self.base.cdf(x)

    def sf(self, x):
        return self.base.sf(x)

    def icdf(self, q):
        return self.base.icdf(q)


INDEPENDENT_EXAMPLE = Example(
    D.Independent,
    [
        {
            "base_distribution": nested(
                D.Normal,
                loc=[[0.0, 1.0], [-1.0, 2.0], [0.5, 0.5]],
                scale=[[1.0, 0.5], [2.0, 1.0], [0.1, 3.0]],
            ),
            "reinterpreted_batch_ndims": 1,
        },
        {
            "base_distribution": nested(
                D.Normal,
                loc=torch.linspace(-3, 3, 24, dtype=F64).reshape(2, 3, 4),
                scale=[0.5, 1.0, 1.5, 2.0],
            ),
            "reinterpreted_batch_ndims": 2,
        },
        {
            "base_distribution": nested(
                D.Normal,
                loc=torch.tensor([1.0, -2.0, 0.0, 4.0], dtype=F64, requires_grad=True),
                scale=1.5,
            ),
            "reinterpreted_batch_ndims": 1,
        },
        {
            "base_distribution": nested(D.Bernoulli, probs=[[0.1, 0.5], [0.9, 0.3], [0.7, 0.2]]),
            "reinterpreted_batch_ndims": 1,
        },
        {
            "base_distribution": nested(
                D.MultivariateNormal, loc=[[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0]], scale_tril=TRIL3
            ),
            "reinterpreted_batch_ndims": 1,
        },
    ],
    reference=IndependentReference,
    bad_params=[
        (
            # A base built without validation is checked by a validating wrapper.
            {
                "base_distribution": D.Normal(
                    torch.zeros(3), torch.tensor([1.0, -1.0, 1.0]), validate_args=False
                ),
                "reinterpreted_batch_ndims": 1,
            },
            ["Normal", "scale", "positive", "scale[1] = -1"],
        ),
        (
            {
                "base_distribution": D.Normal(torch.zeros(3), torch.ones(3)),
                "reinterpreted_batch_ndims": 2,
            },
            ["Independent", "reinterpreted_batch_ndims", "at most", "1", "(3,)", "it is 2"],
        ),
        (
            {"base_distribution": D.Normal(0.0, 1.0), "reinterpreted_batch_ndims": -1},
            ["Independent", "reinterpreted_batch_ndims", "nonnegative integer", "-1"],
        ),
    ],
    missing={"cdf", "icdf"},
)

# With no reinterpreted dims, Independent is its base, cdf family included: capabilities are
# decided per instance.
INDEPENDENT_FLAT_EXAMPLE = Example(
    D.Independent,
    [
        {
            "base_distribution": nested(D.Bernoulli, logits=[-1.0, 0.0, 2.0]),
            "reinterpreted_batch_ndims": 0,
        },
        {
            "base_distribution": nested(D.Normal, loc=[0.0, 1.0, -2.0], scale=[1.0, 0.5, 3.0]),
            "reinterpreted_batch_ndims": 0,
        },
    ],
    reference=IndependentReference,
    bad_params=INDEPENDENT_EXAMPLE.bad_params,
)

EXAMPLES = [MVN_EXAMPLE, INDEPENDENT_EXAMPLE, INDEPENDENT_FLAT_EXAMPLE]
