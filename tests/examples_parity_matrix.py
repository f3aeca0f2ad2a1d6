"""Examples of the matrix-valued families: Wishart, LKJCholesky.

scipy.stats.wishart does not batch, so :class:`WishartReference` loops over the batch.
scipy has no LKJ distribution: :class:`LKJCholeskyReference` is written here from the LKJ
density of the correlation matrix (Lewandowski, Kurowicka & Joe 2009, normalizing constant
in their eq. 16) times the Jacobian of the Cholesky map.
"""

import numpy as np
import torch
from examples import Example
from examples_multivariate import COV3, PREC3, TRIL3, _spd, mvn_covariance
from scipy import special, stats

import aleatorch as D

F64 = torch.float64


# ----------------------------------------------------------------- Wishart


class WishartReference:
    """scipy.stats.wishart, looped over the batch dims."""

    def __init__(self, p):
        cov = mvn_covariance(p)
        df = np.asarray(p["df"], dtype=np.float64)
        k = cov.shape[-1]
        self.batch = np.broadcast_shapes(df.shape, cov.shape[:-2])
        self.df = np.broadcast_to(df, self.batch)
        self.cov = np.broadcast_to(cov, self.batch + (k, k))

    def _frozen(self, index):
        return stats.wishart(df=self.df[index], scale=self.cov[index])

    def _each(self, method, event=()):
        # scipy squeezes p = 1 results to scalars: reshape to the event shape.
        out = np.empty(self.batch + event)
        for index in np.ndindex(*self.batch):
            out[index] = np.reshape(getattr(self._frozen(index), method)(), event)
        return out

    def log_prob(self, x):
        x = np.asarray(x)
        out = np.empty(x.shape[:-2])
        for index in np.ndindex(*self.batch):
            at = (Ellipsis, *index, slice(None), slice(None))
            points = x[at]
            lead = points.shape[:-2]
            flat = np.moveaxis(points.reshape((-1,) + points.shape[-2:]), 0, -1)
            out[at[:-2]] = np.reshape(self._frozen(index).logpdf(flat), lead)
        return out if out.ndim else out[()]

    def entropy(self):
        return self._each("entropy")

    def mean(self):
        return self._each("mean", self.cov.shape[-2:])

    def variance(self):
        return self._each("var", self.cov.shape[-2:])


WISHART_BAD_PARAMS = [
    (
        {"df": torch.tensor([3.0, 1.5]), "covariance_matrix": torch.eye(3)},
        ["Wishart", "df", "greater than p - 1 = 2", "1 of 2", "df[1] = 1.5"],
    ),
    (
        {
            "df": 5.0,
            "covariance_matrix": torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
        },
        ["Wishart", "covariance_matrix", "positive-definite", "1 of 2"],
    ),
    (
        {"df": 5.0, "scale_tril": torch.tensor([[1.0, 0.0], [0.5, -1.0]])},
        ["Wishart", "scale_tril", "positive diagonal"],
    ),
    (
        {"df": 5.0, "precision_matrix": torch.tensor([[1.0, 0.5], [0.0, 1.0]])},
        ["Wishart", "precision_matrix", "symmetric"],
    ),
    ({"df": float("nan"), "covariance_matrix": torch.eye(2)}, ["Wishart", "df", "NaN"]),
    ({"df": -1.0, "covariance_matrix": torch.eye(2)}, ["Wishart", "df", "positive"]),
    (
        {"df": 5.0, "covariance_matrix": torch.eye(2), "scale_tril": torch.eye(2)},
        ["Wishart", "exactly one", "'covariance_matrix', 'scale_tril'"],
    ),
    ({"df": 5.0}, ["exactly one", "covariance_matrix", "scale_tril", "none"]),
    (
        {"df": torch.full((3,), 5.0), "covariance_matrix": torch.eye(2).expand(4, 2, 2)},
        ["Wishart", "(3,)", "(4,)", "do not broadcast"],
    ),
    ({"df": 5.0, "covariance_matrix": torch.ones(2, 3)}, ["Wishart", "square", "(2, 3)"]),
]

WISHART_EXAMPLE = Example(
    D.Wishart,
    [
        {"df": 7.5, "covariance_matrix": COV3},
        # batched df, unbatched matrix
        {"df": [6.0, 8.5, 12.0], "precision_matrix": PREC3},
        # p = 1: a scaled chi-square, with df below 1
        {"df": [0.7, 2.0], "covariance_matrix": [[2.0]]},
        # both batched, broadcasting to batch_shape (2, 4); df = 4 = p + 1 has no mode
        {
            "df": torch.tensor([[4.0], [9.5]], dtype=F64, requires_grad=True),
            "covariance_matrix": torch.stack([_spd(3, s, 2.0) for s in range(4)]),
        },
        {"df": torch.tensor(8.0, dtype=F64, requires_grad=True), "scale_tril": TRIL3},
    ],
    reference=WishartReference,
    bad_params=WISHART_BAD_PARAMS,
    missing={"cdf", "icdf"},
)

# df near p - 1: samples close to singular, whose log-determinant float32 can only give to
# about cond(X) * eps (cond(X) reaches 1e4 here), hence the float32 tolerance.
WISHART_SMALL_DF_EXAMPLE = Example(
    D.Wishart,
    [
        # df below p + 1 (no mode), batched scale_tril
        {
            "df": 2.5,
            "scale_tril": [
                [[1.0, 0.0], [0.5, 2.0]],
                [[0.3, 0.0], [-0.2, 0.1]],
                [[3.0, 0.0], [1.0, 1.0]],
            ],
        },
        {"df": torch.tensor(3.5, dtype=F64, requires_grad=True), "scale_tril": TRIL3},
        {"df": [3.2, 4.0], "precision_matrix": PREC3},
    ],
    reference=WishartReference,
    bad_params=WISHART_BAD_PARAMS,
    missing={"cdf", "icdf"},
    float32_rtol=1e-3,
    float32_atol=1e-2,
)


EXAMPLES = [WISHART_EXAMPLE, WISHART_SMALL_DF_EXAMPLE]


# ----------------------------------------------------------------- LKJCholesky


def lkj_log_normalizer(d, eta):
    """log c_d(eta), Lewandowski, Kurowicka & Joe (2009) eq. 16: the integral of
    det(C)^(eta - 1) over d x d correlation matrices."""
    out = np.zeros_like(eta)
    for k in range(1, d):
        b = eta + (d - k - 1) / 2
        out = out + (2 * eta - 2 + d - k) * (d - k) * np.log(2) + (d - k) * special.betaln(b, b)
    return out


class LKJCholeskyReference:
    """log p(L) = (eta - 1) log det(C) + log |dC/dL| - log c_d(eta), with
    log det C = 2 sum log L_ii and the Cholesky map's Jacobian prod_i L_ii^(d - i)."""

    def __init__(self, p):
        self.d = int(p["dim"])
        self.eta = np.asarray(p["concentration"], dtype=np.float64)

    def log_prob(self, x):
        x = np.asarray(x)
        d = self.d
        log_diag = np.log(np.diagonal(x, axis1=-2, axis2=-1))
        jacobian = (log_diag * (d - np.arange(1, d + 1))).sum(-1)
        log_det_c = 2 * log_diag.sum(-1)
        return (self.eta - 1) * log_det_c + jacobian - lkj_log_normalizer(d, self.eta)


LKJ_EXAMPLE = Example(
    D.LKJCholesky,
    [
        {"dim": 2, "concentration": 1.0},
        {"dim": 3, "concentration": [0.5, 1.0, 4.0]},
        {"dim": 5, "concentration": torch.tensor(2.5, dtype=F64, requires_grad=True)},
        {"dim": 4, "concentration": [[0.3], [1.7]]},
    ],
    reference=LKJCholeskyReference,
    bad_params=[
        ({"dim": 3, "concentration": torch.tensor([1.0, -0.5])}, ["LKJCholesky", "positive"]),
        ({"dim": 3, "concentration": float("nan")}, ["LKJCholesky", "concentration", "NaN"]),
        ({"dim": 1, "concentration": 1.0}, ["LKJCholesky", "dim", "at least 2", "1"]),
        ({"dim": 2.0, "concentration": 1.0}, ["LKJCholesky", "dim", "integer"]),
    ],
    missing={"cdf", "icdf", "entropy", "mean", "variance"},
)

EXAMPLES.append(LKJ_EXAMPLE)
