"""Examples of LowRankMultivariateNormal and VonMises (torch parity, issue 7).

LowRankMultivariateNormal is compared with scipy.stats.multivariate_normal at the dense
covariance ``W W^T + diag(D)``; VonMises with scipy.stats.vonmises for the density (and the
cdf and icdf below concentration 50, numerical quadrature of the density above, where scipy's
normal approximation is off by up to 3e-6), and with the circular mean and variance (torch's
definitions) written here from scipy's Bessel functions.
"""

import numpy as np
import torch
from examples import Example
from examples_multivariate import MVNReference
from scipy import integrate, optimize, special, stats

import aleatorch as D

F64 = torch.float64


# ----------------------------------------------------------------- LowRankMultivariateNormal


class LowRankReference(MVNReference):
    """scipy's multivariate normal at the dense covariance ``W W^T + diag(D)``."""

    def __init__(self, p):
        w, diag = p["cov_factor"], p["cov_diag"]
        cov = w @ np.swapaxes(w, -1, -2) + diag[..., :, None] * np.eye(diag.shape[-1])
        super().__init__({"loc": p["loc"], "covariance_matrix": cov})


def _randn(seed, *shape, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, dtype=F64, generator=g)


def _pos(seed, *shape):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, dtype=F64, generator=g) + 0.3


LOWRANK_EXAMPLE = Example(
    D.LowRankMultivariateNormal,
    [
        {
            "loc": [0.5, -1.0, 2.0],
            "cov_factor": [[1.0], [0.5], [-0.7]],
            "cov_diag": [0.5, 1.0, 2.0],
        },
        # rank 2 of 4, batched loc, unbatched factor and diagonal
        {
            "loc": _randn(1, 3, 4),
            "cov_factor": _randn(2, 4, 2),
            "cov_diag": _pos(3, 4),
        },
        # batched factor (2, 1) against batched diagonal (3,): batch (2, 3)
        {
            "loc": [1.0, -1.0, 0.0],
            "cov_factor": _randn(4, 2, 1, 3, 2, scale=0.8),
            "cov_diag": _pos(5, 3, 3),
        },
        # rank larger than the dimension is allowed
        {"loc": [0.3, 0.1], "cov_factor": _randn(6, 2, 3), "cov_diag": [0.2, 0.4]},
        {"loc": [0.5], "cov_factor": [[2.0]], "cov_diag": [0.1]},
        {
            "loc": torch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True),
            "cov_factor": _randn(7, 3, 1).requires_grad_(),
            "cov_diag": torch.tensor([0.4, 1.5, 0.8], dtype=F64, requires_grad=True),
        },
    ],
    reference=LowRankReference,
    bad_params=[
        (
            {
                "loc": torch.zeros(2),
                "cov_factor": torch.ones(2, 1),
                "cov_diag": torch.tensor([1.0, -1.0]),
            },
            ["LowRankMultivariateNormal", "cov_diag", "positive"],
        ),
        (
            {
                "loc": torch.zeros(2),
                "cov_factor": torch.tensor([[1.0], [float("nan")]]),
                "cov_diag": torch.ones(2),
            },
            ["LowRankMultivariateNormal", "cov_factor", "NaN"],
        ),
        (
            {
                "loc": torch.tensor([0.0, float("nan")]),
                "cov_factor": torch.ones(2, 1),
                "cov_diag": torch.ones(2),
            },
            ["LowRankMultivariateNormal", "loc", "NaN"],
        ),
        (
            {"loc": torch.zeros(3), "cov_factor": torch.ones(2, 1), "cov_diag": torch.ones(3)},
            ["LowRankMultivariateNormal", "cov_factor", "(..., 3, k)", "(2, 1)"],
        ),
        (
            {"loc": torch.zeros(2), "cov_factor": torch.ones(2, 1), "cov_diag": torch.ones(3)},
            ["LowRankMultivariateNormal", "cov_diag", "(..., 2)", "(3,)"],
        ),
        (
            {
                "loc": torch.zeros(2, 2),
                "cov_factor": torch.ones(3, 2, 1),
                "cov_diag": torch.ones(2),
            },
            ["LowRankMultivariateNormal", "(2,)", "(3,)", "do not broadcast"],
        ),
    ],
    missing={"cdf", "icdf"},
)


# ----------------------------------------------------------------- VonMises


def _von_mises_quad_cdf(x, loc, kappa):
    """scipy's cdf convention (``F(loc - pi) = 0``, ``F(x + 2 pi) = F(x) + 1``) by adaptive
    quadrature of the density over the lower (or, past ``loc``, the upper) tail."""
    d = x - loc
    turns = np.round(d / (2 * np.pi))
    t = d - 2 * np.pi * turns
    norm = 2 * np.pi * special.i0e(kappa)

    def density(s):
        return np.exp(-2 * kappa * np.sin(0.5 * s) ** 2)

    if t <= 0:
        tail = integrate.quad(density, -np.pi, t, epsabs=0, epsrel=1e-13, limit=200)[0]
        return tail / norm + turns
    tail = integrate.quad(density, t, np.pi, epsabs=0, epsrel=1e-13, limit=200)[0]
    return 1 - tail / norm + turns


class VonMisesReference:
    """scipy.stats.vonmises for the density and entropy (its support is the window
    ``[loc - pi, loc + pi]``, so points are first wrapped into it); the circular mean ``loc``
    and the circular variance ``1 - I_1(k) / I_0(k)`` from scipy's scaled Bessel functions.

    The cdf is that of the draws, ``P(-pi <= X <= x)`` (see ``VonMises``): scipy's cdf, which
    is anchored at ``loc - pi`` and continued by one unit per turn as ours, minus its value at
    ``-pi``. scipy's cdf is a normal approximation for concentrations from 50 on, off by up to
    3e-6; there quadrature of the density replaces it. The icdf solves the cdf (brentq)."""

    SCIPY_BELOW = 50.0

    def __init__(self, p):
        self.loc, self.kappa = np.broadcast_arrays(p["loc"], p["concentration"])
        self.frozen = stats.vonmises(self.kappa, loc=self.loc)

    def log_prob(self, x):
        wrapped = np.mod(x - self.loc + np.pi, 2 * np.pi) - np.pi + self.loc
        return self.frozen.logpdf(wrapped)

    def _anchored(self, x, loc, kappa):
        """scipy's convention for one entry (the quadrature from concentration 50 on)."""
        if kappa < self.SCIPY_BELOW:
            return stats.vonmises.cdf(x, kappa, loc=loc)
        return _von_mises_quad_cdf(x, loc, kappa)

    def _cdf_one(self, x, loc, kappa):
        return self._anchored(x, loc, kappa) - self._anchored(-np.pi, loc, kappa)

    def cdf(self, x):
        x, loc, kappa = np.broadcast_arrays(x, self.loc, self.kappa)
        return np.vectorize(self._cdf_one)(x, loc, kappa)

    def sf(self, x):
        return 1 - self.cdf(x)

    def _icdf_one(self, q, loc, kappa):
        if q <= 0 or q >= 1:
            return np.pi * np.sign(q - 0.5)
        return optimize.brentq(
            lambda x: self._cdf_one(x, loc, kappa) - q,
            -np.pi,
            np.pi,
            xtol=1e-15,
            rtol=4 * np.finfo(float).eps,
        )

    def icdf(self, q):
        q, loc, kappa = np.broadcast_arrays(q, self.loc, self.kappa)
        return np.vectorize(self._icdf_one)(q, loc, kappa)

    def entropy(self):
        return self.frozen.entropy()

    def mean(self):
        return self.loc

    def variance(self):
        return 1 - special.i1e(self.kappa) / special.i0e(self.kappa)


VON_MISES_EXAMPLE = Example(
    D.VonMises,
    [
        {"loc": 0.5, "concentration": 2.0},
        # tiny to huge concentrations: nearly uniform to nearly normal (I_0 overflows at 1e3)
        {"loc": [0.0, -2.0, 3.0, 1.0, -0.5], "concentration": [1e-3, 0.5, 5.0, 80.0, 2000.0]},
        # loc outside [-pi, pi): an angle modulo 2 pi
        {"loc": [[7.0], [-4.0]], "concentration": [0.3, 3.0, 30.0]},
        {
            "loc": torch.tensor([0.2, -1.0, 2.5], dtype=F64, requires_grad=True),
            "concentration": torch.tensor([0.7, 4.0, 15.0], dtype=F64, requires_grad=True),
        },
    ],
    reference=VonMisesReference,
    bad_params=[
        (
            {"loc": torch.zeros(3), "concentration": torch.tensor([1.0, 0.0, 2.0])},
            ["VonMises", "concentration", "positive", "1 of 3", "concentration[1] = 0"],
        ),
        (
            {"loc": torch.tensor([0.0, float("nan")]), "concentration": torch.ones(2)},
            ["VonMises", "loc", "NaN"],
        ),
    ],
)

EXAMPLES = [LOWRANK_EXAMPLE, VON_MISES_EXAMPLE]
