"""KL examples of same-family pairs that torch lacks or gets wrong (Multinomial, VonMises,
Wishart, Kumaraswamy), and of pairs that reach a parent's closed form by dispatch (Chi2 via
Gamma; InverseGamma and LogNormal via TransformedDistribution), collected into
``examples.KL`` and run by ``test_kl.py``."""

import math

import torch

import aleatorch

F64 = torch.float64

FAMILIES = [
    "Chi2",
    "InverseGamma",
    "Kumaraswamy",
    "LogNormal",
    "Multinomial",
    "VonMises",
    "Wishart",
]

# 3 x 3 scale matrices: a correlated one, a near-diagonal one.
_COV = [
    [[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.8]],
    [[0.5, 0.05, 0.0], [0.05, 3.0, 0.1], [0.0, 0.1, 1.2]],
]
_PREC = [
    [[1.0, 0.2, 0.1], [0.2, 2.0, -0.4], [0.1, -0.4, 0.9]],
    [[4.0, -1.0, 0.5], [-1.0, 1.5, 0.0], [0.5, 0.0, 0.7]],
]

EXAMPLES = {
    # Through Gamma-Gamma.
    ("Chi2", "Chi2"): lambda D, t: (
        D.Chi2(t([1.0, 4.0, 0.5, 30.0])),
        D.Chi2(t([3.0, 2.5, 10.0, 28.0])),
    ),
    # Through TransformedDistribution-TransformedDistribution (same transforms).
    ("InverseGamma", "InverseGamma"): lambda D, t: (
        D.InverseGamma(t([0.8, 3.0, 5.0]), t([1.0, 2.0, 0.5])),
        D.InverseGamma(t([2.0, 1.5, 6.0]), t([0.5, 3.0, 0.7])),
    ),
    ("LogNormal", "LogNormal"): lambda D, t: (
        D.LogNormal(t([0.0, 1.0, -2.0]), t([1.0, 0.3, 2.0])),
        D.LogNormal(t([[0.5], [-1.0]]), t([[2.0], [0.8]])),  # batch (2, 1) against (3,)
    ),
    # Beyond torch (it raises NotImplementedError).
    ("Multinomial", "Multinomial"): lambda D, t: (
        # a small category in the second row (exact zeros: test_kl.py, specific values)
        D.Multinomial(6, probs=t([[0.1, 0.2, 0.3, 0.4], [0.02, 0.5, 0.25, 0.23]])),
        D.Multinomial(6, logits=t([0.5, -1.0, 2.0, 0.0])),  # unbatched against (2,)
    ),
    ("VonMises", "VonMises"): lambda D, t: (
        # tiny, moderate and large concentrations; locations that wrap around pi
        D.VonMises(t([0.3, -2.0, 3.0, 1.0, 0.0]), t([0.5, 5.0, 50.0, 1e-3, 200.0])),
        D.VonMises(t([1.0, 2.5, -3.1, 0.0, 0.05]), t([2.0, 0.1, 40.0, 3.0, 150.0])),
    ),
    ("Wishart", "Wishart"): lambda D, t: (
        D.Wishart(t([3.5, 7.0]), covariance_matrix=t(_COV)),
        D.Wishart(t([5.0, 2.5]), precision_matrix=t(_PREC)),
    ),
    ("Kumaraswamy", "Kumaraswamy"): lambda D, t: (
        # the fourth shares a with q (no quadrature term), the last two are extreme
        D.Kumaraswamy(t([0.5, 2.0, 5.0, 1.5, 0.15, 12.0]), t([1.5, 0.3, 4.0, 2.0, 0.8, 18.0])),
        D.Kumaraswamy(t([2.0, 1.0, 3.0, 1.5, 0.2, 15.0]), t([0.4, 2.0, 0.7, 5.0, 1.2, 9.0])),
    ),
}


def _pos(g, shape):
    return torch.randn(shape, dtype=F64, generator=g).exp()


def _real(g, shape):
    return 2 * torch.randn(shape, dtype=F64, generator=g)


def _random_wishart(g, s):
    tril = torch.randn(s + (3, 3), dtype=F64, generator=g).tril(-1)
    tril = tril + torch.diag_embed(_pos(g, s + (3,)))
    return aleatorch.Wishart(2.0 + 3 * _pos(g, s), scale_tril=tril)


RANDOM = {
    "Chi2": lambda g, s: aleatorch.Chi2(3 * _pos(g, s)),
    "InverseGamma": lambda g, s: aleatorch.InverseGamma(_pos(g, s), _pos(g, s)),
    "Kumaraswamy": lambda g, s: aleatorch.Kumaraswamy(2 * _pos(g, s), 2 * _pos(g, s)),
    "LogNormal": lambda g, s: aleatorch.LogNormal(_real(g, s), _pos(g, s)),
    "Multinomial": lambda g, s: aleatorch.Multinomial(5, logits=_real(g, s + (4,))),
    "VonMises": lambda g, s: aleatorch.VonMises(_real(g, s), 3 * _pos(g, s)),
    "Wishart": _random_wishart,
}

ALWAYS_INFINITE: set[tuple[str, str]] = set()

TORCH_LACKS = {
    ("Kumaraswamy", "Kumaraswamy"),
    ("Multinomial", "Multinomial"),
    ("VonMises", "VonMises"),
}

TORCH_WRONG = {
    ("Wishart", "Wishart"): "torch's exponential-family fallback sums the df term of the "
    "Bregman divergence over the whole batch (its event dims are those of the matrix term)",
}


def _wishart_reference(p, q):
    """``-H(p) - E_p[log q(X)]``, with ``E_p[log|X|] = psi_d(n_p/2) + d log 2 + log|S_p|``
    and ``E_p[X] = n_p S_p``."""
    d = p.event_shape[-1]
    n_p, n_q = p.df, q.df
    s_p, s_q = p.covariance_matrix, q.covariance_matrix
    halves = torch.arange(d, dtype=F64) / 2
    e_log_det = torch.digamma(0.5 * n_p.unsqueeze(-1) - halves).sum(-1)
    e_log_det = e_log_det + d * math.log(2) + torch.logdet(s_p)
    trace = torch.linalg.solve(s_q, s_p).diagonal(dim1=-2, dim2=-1).sum(-1)
    e_log_q = (
        0.5 * (n_q - d - 1) * e_log_det
        - 0.5 * n_p * trace
        - 0.5 * n_q * d * math.log(2)
        - 0.5 * n_q * torch.logdet(s_q)
        - torch.mvlgamma(0.5 * n_q, d)
    )
    return -p.entropy() - e_log_q


# torch's value (and its gradient, which also misses p's) is wrong: compare with a closed form
# written from the entropy and the cross-entropy.
REFERENCE_GRADIENT = {("Wishart", "Wishart"): _wishart_reference}
