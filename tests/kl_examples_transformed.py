"""KL examples of the transformed families (HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto,
TransformedDistribution), merged into the generic KL suite of ``test_kl.py``.

Each ``(p, q)`` is built with the module ``D`` (aleatorch or torch.distributions) and the leaf
maker ``t``; batches mix regimes, and finite with infinite entries where the pair has both.
"""

import torch

import aleatorch

F64 = torch.float64

FAMILIES = ["Gumbel", "HalfCauchy", "HalfNormal", "Pareto", "TransformedDistribution", "Weibull"]


def _gumbel(D, t):
    return D.Gumbel(t([0.0, 1.0, -1.0]), t([1.0, 2.0, 0.5]))


EXAMPLES = {
    # Beyond torch (it raises NotImplementedError for different parameters).
    ("Weibull", "Weibull"): lambda D, t: (
        D.Weibull(t([1.0, 2.0, 0.5]), t([1.5, 0.8, 3.0])),
        D.Weibull(t([1.3, 1.0, 0.7]), t([2.0, 1.2, 2.5])),
    ),
    ("TransformedDistribution", "TransformedDistribution"): lambda D, t: (
        D.TransformedDistribution(
            D.Normal(t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])),
            [D.transforms.ExpTransform(), D.transforms.AffineTransform(1.0, -2.0)],
        ),
        D.TransformedDistribution(
            D.Normal(t([0.0, 1.0, 2.5]), t([1.0, 2.0, 0.7])),
            [D.transforms.ExpTransform(), D.transforms.AffineTransform(1.0, -2.0)],
        ),
    ),
    ("Gumbel", "Gumbel"): lambda D, t: (
        D.Gumbel(t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])),
        D.Gumbel(t([0.0, 1.0, 2.5]), t([1.0, 0.7, 0.5])),
    ),
    ("HalfNormal", "HalfNormal"): lambda D, t: (
        D.HalfNormal(t([0.5, 1.0, 3.0])),
        D.HalfNormal(t([[1.0], [1.3]])),  # batch (2, 1) against (3,)
    ),
    ("Pareto", "Pareto"): lambda D, t: (
        D.Pareto(t([1.0, 2.0, 0.5]), t([5.0, 3.0, 9.0])),
        D.Pareto(t([0.8, 2.0, 1.0]), t([4.0, 6.0, 2.0])),  # s_p < s_q in the last: inf
    ),
    ("Exponential", "Gumbel"): lambda D, t: (D.Exponential(t([0.5, 1.2, 3.0])), _gumbel(D, t)),
    ("Gamma", "Gumbel"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        _gumbel(D, t),
    ),
    ("Normal", "Gumbel"): lambda D, t: (
        D.Normal(t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])),
        _gumbel(D, t),
    ),
    ("Uniform", "Gumbel"): lambda D, t: (
        D.Uniform(t([-1.0, 0.0, 2.0]), t([1.0, 3.0, 2.5])),
        _gumbel(D, t),
    ),
    ("Gumbel", "Normal"): lambda D, t: (
        D.Gumbel(t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])),
        D.Normal(t([0.0, 1.0, 2.5]), t([1.0, 2.0, 0.7])),
    ),
    # alpha = 2 (Normal) or 1 (Exponential, Gamma): infinite moment, infinite KL (on the
    # boundary, where the finite formula divides by zero). The
    # finite entries have alpha > 8, so that the Monte Carlo standard error is reliable.
    ("Pareto", "Normal"): lambda D, t: (
        D.Pareto(t([1.0, 0.5, 2.0]), t([9.0, 12.0, 2.0])),
        D.Normal(t([1.0, 0.0, 3.0]), t([0.5, 2.0, 1.0])),
    ),
    ("Pareto", "Exponential"): lambda D, t: (
        D.Pareto(t([1.0, 0.5, 2.0]), t([9.0, 12.0, 1.0])),
        D.Exponential(t([0.7, 2.0, 1.0])),
    ),
    ("Pareto", "Gamma"): lambda D, t: (
        D.Pareto(t([1.0, 0.5, 2.0]), t([9.0, 12.0, 1.0])),
        D.Gamma(t([2.0, 0.5, 3.0]), t([1.5, 2.0, 1.0])),
    ),
    ("Uniform", "Pareto"): lambda D, t: (
        D.Uniform(t([1.0, 2.0, -0.5]), t([2.0, 5.0, 3.0])),
        D.Pareto(t([1.0, 1.5, 1.0]), t([3.0, 2.0, 4.0])),  # low < scale in the last: inf
    ),
    # Always infinite: p puts mass where q's density is 0.
    ("Beta", "Pareto"): lambda D, t: (
        D.Beta(t([2.0, 0.5]), t([3.0, 1.0])),
        D.Pareto(t([0.5, 0.3]), t([2.0, 3.0])),
    ),
    ("Exponential", "Pareto"): lambda D, t: (
        D.Exponential(t([1.0, 2.0])),
        D.Pareto(t([0.5, 0.1]), t([2.0, 3.0])),
    ),
    ("Gamma", "Pareto"): lambda D, t: (
        D.Gamma(t([2.0, 0.5]), t([1.0, 3.0])),
        D.Pareto(t([0.5, 0.1]), t([2.0, 3.0])),
    ),
    ("Laplace", "Pareto"): lambda D, t: (
        D.Laplace(t([1.0, 0.5]), t([1.0, 0.5])),
        D.Pareto(t([0.5, 0.1]), t([2.0, 3.0])),
    ),
    ("Normal", "Pareto"): lambda D, t: (
        D.Normal(t([1.0, 0.2]), t([1.0, 0.5])),
        D.Pareto(t([0.5, 0.1]), t([2.0, 3.0])),
    ),
    ("Gumbel", "Beta"): lambda D, t: (
        D.Gumbel(t([0.5, 0.2]), t([0.2, 1.0])),
        D.Beta(t([2.0, 0.5]), t([3.0, 1.0])),
    ),
    ("Gumbel", "Exponential"): lambda D, t: (
        D.Gumbel(t([1.0, -1.0]), t([1.0, 0.5])),
        D.Exponential(t([1.0, 2.0])),
    ),
    ("Gumbel", "Gamma"): lambda D, t: (
        D.Gumbel(t([1.0, -1.0]), t([1.0, 0.5])),
        D.Gamma(t([2.0, 0.5]), t([1.0, 3.0])),
    ),
    ("Gumbel", "Pareto"): lambda D, t: (
        D.Gumbel(t([1.0, 3.0]), t([1.0, 0.5])),
        D.Pareto(t([1.0, 2.0]), t([2.0, 3.0])),
    ),
    ("Gumbel", "Uniform"): lambda D, t: (
        D.Gumbel(t([0.0, 1.0]), t([1.0, 0.5])),
        D.Uniform(t([-3.0, 0.0]), t([3.0, 2.0])),
    ),
    ("Pareto", "Beta"): lambda D, t: (
        D.Pareto(t([0.5, 0.2]), t([3.0, 1.0])),
        D.Beta(t([2.0, 0.5]), t([3.0, 1.0])),
    ),
    ("Pareto", "Uniform"): lambda D, t: (
        D.Pareto(t([1.0, 2.0]), t([5.0, 1.0])),
        D.Uniform(t([0.0, 1.0]), t([1.5, 4.0])),
    ),
}

# Pairs whose infinite entries come from an infinite moment of p, not from the supports.
MOMENT_INFINITE = {("Pareto", "Normal"), ("Pareto", "Exponential"), ("Pareto", "Gamma")}


def _pos(g, shape):
    return torch.randn(shape, dtype=F64, generator=g).exp()


def _real(g, shape):
    return 2 * torch.randn(shape, dtype=F64, generator=g)


def _unif(g, shape):
    return torch.rand(shape, dtype=F64, generator=g)


RANDOM = {
    "Weibull": lambda g, s: aleatorch.Weibull(_pos(g, s), 0.3 + _pos(g, s)),
    "TransformedDistribution": lambda g, s: aleatorch.TransformedDistribution(
        aleatorch.Normal(_real(g, s), _pos(g, s)), [aleatorch.transforms.ExpTransform()]
    ),
    "Beta": lambda g, s: aleatorch.Beta(_pos(g, s), _pos(g, s)),
    "Exponential": lambda g, s: aleatorch.Exponential(_pos(g, s)),
    "Gamma": lambda g, s: aleatorch.Gamma(_pos(g, s), _pos(g, s)),
    "Gumbel": lambda g, s: aleatorch.Gumbel(_real(g, s), _pos(g, s)),
    "HalfNormal": lambda g, s: aleatorch.HalfNormal(_pos(g, s)),
    "Laplace": lambda g, s: aleatorch.Laplace(_real(g, s), _pos(g, s)),
    "Normal": lambda g, s: aleatorch.Normal(_real(g, s), _pos(g, s)),
    # alpha = exp(N(0.5, 1)): about a third above 2, a third below 1.
    "Pareto": lambda g, s: aleatorch.Pareto(_pos(g, s), 1.6 * _pos(g, s)),
    "Uniform": lambda g, s: (lambda low: aleatorch.Uniform(low, low + 0.05 + 2.5 * _unif(g, s)))(
        3 * _unif(g, s) - 0.75
    ),
}

ALWAYS_INFINITE = {
    ("Beta", "Pareto"),
    ("Exponential", "Pareto"),
    ("Gamma", "Pareto"),
    ("Laplace", "Pareto"),
    ("Normal", "Pareto"),
    ("Gumbel", "Beta"),
    ("Gumbel", "Exponential"),
    ("Gumbel", "Gamma"),
    ("Gumbel", "Pareto"),
    ("Gumbel", "Uniform"),
    ("Pareto", "Beta"),
    ("Pareto", "Uniform"),
}

# Pairs torch does not have (its kl_divergence raises): values are checked by Monte Carlo,
# gradients by finite differences.
TORCH_LACKS = {("Weibull", "Weibull")}
