"""KL examples of the torch-parity families Geometric and ContinuousBernoulli, merged into
the generic KL suite of ``test_kl.py``.

Each ``(p, q)`` is built with the module ``D`` (aleatorch or torch.distributions) and the leaf
maker ``t``; batches mix regimes, and finite with infinite entries where the pair has both.
"""

import torch

import aleatorch

F64 = torch.float64

FAMILIES = ["ContinuousBernoulli", "Geometric"]


def _cb(D, t):
    return D.ContinuousBernoulli(logits=t([0.7, -2.5, 4.0]))


EXAMPLES = {
    ("Geometric", "Geometric"): lambda D, t: (
        D.Geometric(probs=t([0.3, 0.9, 0.05, 0.5])),
        D.Geometric(probs=t([0.5, 0.2, 0.1, 0.5])),
    ),
    ("ContinuousBernoulli", "ContinuousBernoulli"): lambda D, t: (
        D.ContinuousBernoulli(logits=t([0.0, -3.0, 2.5, 1e-3, 8.0])),
        D.ContinuousBernoulli(logits=t([1.0, 0.5, -2.0, 0.0, 7.0])),
    ),
    ("Beta", "ContinuousBernoulli"): lambda D, t: (
        D.Beta(t([2.0, 0.5, 5.0]), t([3.0, 1.5, 1.0])),
        _cb(D, t),
    ),
    ("Uniform", "ContinuousBernoulli"): lambda D, t: (
        # the last two reach outside [0, 1]: inf
        D.Uniform(t([0.1, 0.3, 0.6, -0.2, 0.5]), t([0.9, 0.5, 0.95, 0.5, 1.2])),
        D.ContinuousBernoulli(logits=t([0.0, -2.0, 3.0, 1.0, 0.5])),
    ),
    ("ContinuousBernoulli", "Exponential"): lambda D, t: (
        _cb(D, t),
        D.Exponential(t([0.5, 1.5, 3.0])),
    ),
    ("ContinuousBernoulli", "Normal"): lambda D, t: (
        _cb(D, t),
        D.Normal(t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])),
    ),
    ("ContinuousBernoulli", "Uniform"): lambda D, t: (
        # the last two do not cover [0, 1]: inf
        D.ContinuousBernoulli(logits=t([0.0, -2.0, 3.0, 1.0, 0.5])),
        D.Uniform(t([-0.5, -2.0, -0.1, 0.2, -1.0]), t([1.5, 1.1, 3.0, 2.0, 0.9])),
    ),
    # Always infinite: one support is [0, 1], the other reaches beyond it.
    ("ContinuousBernoulli", "Pareto"): lambda D, t: (
        _cb(D, t),
        D.Pareto(t([0.5, 1.0, 2.0]), t([2.0, 3.0, 1.0])),
    ),
    ("Exponential", "ContinuousBernoulli"): lambda D, t: (
        D.Exponential(t([0.5, 1.5, 3.0])),
        _cb(D, t),
    ),
    ("Gamma", "ContinuousBernoulli"): lambda D, t: (
        D.Gamma(t([2.0, 0.5, 3.0]), t([1.0, 3.0, 5.0])),
        _cb(D, t),
    ),
    ("Gumbel", "ContinuousBernoulli"): lambda D, t: (
        D.Gumbel(t([0.5, 0.2, 1.0]), t([0.2, 1.0, 0.3])),
        _cb(D, t),
    ),
    ("Laplace", "ContinuousBernoulli"): lambda D, t: (
        D.Laplace(t([0.5, 0.2, 1.0]), t([0.2, 1.0, 0.3])),
        _cb(D, t),
    ),
    ("Normal", "ContinuousBernoulli"): lambda D, t: (
        D.Normal(t([0.5, 0.2, 1.0]), t([0.2, 1.0, 0.3])),
        _cb(D, t),
    ),
    ("Pareto", "ContinuousBernoulli"): lambda D, t: (
        D.Pareto(t([0.5, 0.2, 1.0]), t([2.0, 3.0, 1.0])),
        _cb(D, t),
    ),
}


def _unif(g, shape):
    return torch.rand(shape, dtype=F64, generator=g)


def _real(g, shape):
    return 2 * torch.randn(shape, dtype=F64, generator=g)


RANDOM = {
    "ContinuousBernoulli": lambda g, s: aleatorch.ContinuousBernoulli(logits=_real(g, s)),
    "Geometric": lambda g, s: aleatorch.Geometric(probs=0.02 + 0.98 * _unif(g, s)),
}

ALWAYS_INFINITE = {
    ("ContinuousBernoulli", "Pareto"),
    ("Exponential", "ContinuousBernoulli"),
    ("Gamma", "ContinuousBernoulli"),
    ("Gumbel", "ContinuousBernoulli"),
    ("Laplace", "ContinuousBernoulli"),
    ("Normal", "ContinuousBernoulli"),
    ("Pareto", "ContinuousBernoulli"),
}
