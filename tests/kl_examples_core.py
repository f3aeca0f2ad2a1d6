"""The core KL examples (the families of torch's own pairs): same-family and cross-family
pairs, collected with every other ``kl_examples_*.py`` group into ``examples.KL``.

Each example builds ``(p, q)`` with the module ``D`` (aleatorch or torch.distributions: the
constructors are the same) and the parameter maker ``t``. Batches mix parameter regimes;
some mix finite and infinite entries, some broadcast p's batch against q's.
"""

import torch

import aleatorch

F64 = torch.float64

# The classes whose pairs must match torch's registry.
FAMILIES = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Dirichlet",
    "Exponential",
    "Gamma",
    "Independent",
    "Laplace",
    "MultivariateNormal",
    "Normal",
    "OneHotCategorical",
    "Poisson",
    "Uniform",
]


def _const(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _mvn_tril(seed: int, batch: int, k: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(batch, k, k, dtype=F64, generator=g).tril(-1)
    return raw + torch.diag_embed(torch.rand(batch, k, dtype=F64, generator=g) + 0.5)


def _normal(t):
    return t([0.3, -1.0, 2.0]), t([0.8, 1.5, 0.5])


EXAMPLES = {
    # same family
    ("Bernoulli", "Bernoulli"): lambda D, t: (
        D.Bernoulli(probs=t([0.2, 0.5, 0.9])),
        D.Bernoulli(logits=t([0.4, -1.0, 2.5])),
    ),
    ("Beta", "Beta"): lambda D, t: (
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
        D.Beta(t([1.2, 0.5, 3.0]), t([0.9, 2.0, 1.1])),
    ),
    ("Binomial", "Binomial"): lambda D, t: (
        D.Binomial(_const([4.0, 10.0, 7.0]), probs=t([0.3, 0.6, 0.05])),
        D.Binomial(_const([4.0, 10.0, 7.0]), logits=t([0.1, -0.5, 1.0])),
    ),
    ("Categorical", "Categorical"): lambda D, t: (
        D.Categorical(probs=t([[0.1, 0.2, 0.7], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]])),
        D.Categorical(logits=t([[0.0, 1.0, -1.0], [2.0, 0.5, 0.0], [-0.3, 0.3, 0.1]])),
    ),
    ("Dirichlet", "Dirichlet"): lambda D, t: (
        D.Dirichlet(t([[0.8, 1.5, 2.0], [3.0, 0.6, 1.0], [5.0, 5.0, 5.0]])),
        D.Dirichlet(t([[1.0, 1.0, 1.0], [2.0, 2.5, 0.7], [4.0, 6.0, 3.0]])),
    ),
    ("Exponential", "Exponential"): lambda D, t: (
        D.Exponential(t([0.5, 1.2, 3.0])),
        D.Exponential(t([1.0, 0.3, 2.5])),
    ),
    ("Gamma", "Gamma"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        D.Gamma(t([1.0, 3.0, 5.0]), t([0.7, 0.5, 1.5])),
    ),
    ("Independent", "Independent"): lambda D, t: (
        D.Independent(D.Normal(t([[0.0, 1.0], [2.0, -1.0]]), t([[1.0, 0.5], [2.0, 0.7]])), 1),
        D.Independent(D.Laplace(t([[0.5, 1.0], [1.0, 0.0]]), t([[1.2, 0.6], [1.5, 1.0]])), 1),
    ),
    ("Laplace", "Laplace"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 2.0])),
        D.Laplace(t([0.5, 1.0, 1.0]), t([0.8, 1.5, 1.0])),
    ),
    ("MultivariateNormal", "MultivariateNormal"): lambda D, t: (
        D.MultivariateNormal(
            t([[0.0, 1.0, -1.0], [0.5, 0.5, 0.5]]),
            covariance_matrix=t((lambda s: s @ s.mT)(_mvn_tril(1, 2, 3)).tolist()),
        ),
        D.MultivariateNormal(t([[0.2, 0.8, -0.5], [0.0, 1.0, 0.0]]), scale_tril=_mvn_tril(2, 2, 3)),
    ),
    ("Normal", "Normal"): lambda D, t: (
        D.Normal(*_normal(t)),
        D.Normal(t([[0.0], [1.0]]), t([[1.0], [2.0]])),  # batch (2, 1) against (3,)
    ),
    ("OneHotCategorical", "OneHotCategorical"): lambda D, t: (
        D.OneHotCategorical(logits=t([[0.0, 1.0, -1.0, 0.5], [2.0, 0.5, 0.0, 0.1]])),
        D.OneHotCategorical(probs=t([[0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]])),
    ),
    ("Poisson", "Poisson"): lambda D, t: (
        D.Poisson(t([0.5, 3.0, 12.0])),
        D.Poisson(t([1.0, 2.0, 15.0])),
    ),
    ("Uniform", "Uniform"): lambda D, t: (
        D.Uniform(t([0.0, -1.0, 2.0]), t([1.0, 1.0, 3.0])),
        D.Uniform(t([-0.5, -1.0, 2.5]), t([2.0, 3.0, 4.0])),  # the third does not cover p
    ),
    # cross family, finite
    ("Bernoulli", "Poisson"): lambda D, t: (
        D.Bernoulli(probs=t([0.2, 0.5, 0.9])),
        D.Poisson(t([0.3, 1.0, 2.5])),
    ),
    ("Beta", "Exponential"): lambda D, t: (
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
        D.Exponential(t([0.5, 1.2, 3.0])),
    ),
    ("Beta", "Gamma"): lambda D, t: (
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
    ),
    ("Beta", "Normal"): lambda D, t: (
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
        D.Normal(*_normal(t)),
    ),
    ("Beta", "Uniform"): lambda D, t: (
        D.Beta(t([0.7, 2.0, 5.0, 1.5]), t([1.5, 3.0, 0.8, 1.5])),
        # Last two: inf. Beta(5, 0.8) has mass 1.6e-3 below 0.3 (60 of the 40k Monte Carlo
        # draws; below 0.1 it was 6e-6, which the draws saw only by luck).
        D.Uniform(t([-0.5, 0.0, 0.3, -1.0]), t([1.2, 1.0, 1.0, 0.9])),
    ),
    ("Exponential", "Gamma"): lambda D, t: (
        D.Exponential(t([0.5, 1.2, 3.0])),
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
    ),
    ("Exponential", "Normal"): lambda D, t: (
        D.Exponential(t([0.5, 1.2, 3.0])),
        D.Normal(*_normal(t)),
    ),
    ("Gamma", "Exponential"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        D.Exponential(t([0.5, 1.2, 3.0])),
    ),
    ("Gamma", "Normal"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        D.Normal(*_normal(t)),
    ),
    ("Laplace", "Normal"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 2.0])),
        D.Normal(*_normal(t)),
    ),
    ("Normal", "Laplace"): lambda D, t: (
        D.Normal(*_normal(t)),
        D.Laplace(t([[0.0], [1.5]]), t([[1.0], [0.4]])),  # batch (2, 1) against (3,)
    ),
    ("Uniform", "Beta"): lambda D, t: (
        D.Uniform(t([0.1, 0.02, 0.3, -0.1, 0.5]), t([0.4, 0.9, 0.97, 0.5, 1.5])),  # last two: inf
        D.Beta(t([0.7, 2.0, 5.0, 1.0, 2.0]), t([1.5, 3.0, 0.8, 1.0, 2.0])),
    ),
    ("Uniform", "Exponential"): lambda D, t: (
        D.Uniform(t([0.2, 0.0, 1.5, -0.5]), t([1.0, 2.0, 4.0, 1.0])),  # last: inf
        D.Exponential(t([0.5, 1.2, 3.0, 1.0])),
    ),
    ("Uniform", "Gamma"): lambda D, t: (
        D.Uniform(t([0.2, 0.01, 1.5, -2.0]), t([1.0, 2.0, 4.0, -1.0])),  # last: inf
        D.Gamma(t([0.6, 2.5, 7.0, 2.0]), t([1.3, 0.4, 2.0, 1.0])),
    ),
    ("Uniform", "Normal"): lambda D, t: (
        D.Uniform(t([0.0, -1.0, 2.0]), t([1.0, 1.0, 3.0])),
        D.Normal(*_normal(t)),
    ),
    # cross family, +inf: p's support is not inside q's
    ("Exponential", "Beta"): lambda D, t: (
        D.Exponential(t([0.5, 1.2, 3.0])),
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
    ),
    ("Exponential", "Uniform"): lambda D, t: (
        D.Exponential(t([0.5, 1.2, 3.0])),
        D.Uniform(t([[0.0], [-1.0]]), t([[1.0], [1.5]])),  # batch (2, 1) against (3,)
    ),
    ("Gamma", "Beta"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
    ),
    ("Gamma", "Uniform"): lambda D, t: (
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        D.Uniform(t([0.0, 0.0, -1.0]), t([3.0, 10.0, 5.0])),
    ),
    ("Laplace", "Beta"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 2.0])),
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
    ),
    ("Laplace", "Exponential"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, 5.0]), t([1.0, 0.5, 2.0])),
        D.Exponential(t([0.5, 1.2, 3.0])),
    ),
    ("Laplace", "Gamma"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, 5.0]), t([1.0, 0.5, 2.0])),
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
    ),
    ("Laplace", "Uniform"): lambda D, t: (
        D.Laplace(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 2.0])),
        D.Uniform(t([-3.0, -2.0, -10.0]), t([3.0, 4.0, 6.0])),
    ),
    ("Normal", "Beta"): lambda D, t: (
        D.Normal(*_normal(t)),
        D.Beta(t([0.7, 2.0, 5.0]), t([1.5, 3.0, 0.8])),
    ),
    ("Normal", "Exponential"): lambda D, t: (
        D.Normal(t([0.3, 1.0, 1.0]), t([0.8, 1.5, 0.5])),
        D.Exponential(t([0.5, 1.2, 3.0])),
    ),
    ("Normal", "Gamma"): lambda D, t: (
        D.Normal(t([0.3, 1.0, 1.0]), t([0.8, 1.5, 0.5])),
        D.Gamma(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
    ),
    ("Normal", "Uniform"): lambda D, t: (
        D.Normal(*_normal(t)),
        D.Uniform(t([[-1.5], [-2.5]]), t([[1.5], [2.5]])),  # batch (2, 1) against (3,)
    ),
    ("Poisson", "Bernoulli"): lambda D, t: (
        D.Poisson(t([0.5, 2.0, 4.0])),
        D.Bernoulli(probs=t([0.2, 0.5, 0.9])),
    ),
    ("Poisson", "Binomial"): lambda D, t: (
        D.Poisson(t([1.5, 3.0, 6.0])),
        D.Binomial(_const([2.0, 4.0, 8.0]), probs=t([0.5, 0.6, 0.7])),
    ),
}


def _pos(g, shape):
    return torch.randn(shape, dtype=F64, generator=g).exp()


def _real(g, shape):
    return 2 * torch.randn(shape, dtype=F64, generator=g)


def _unif(g, shape):
    return torch.rand(shape, dtype=F64, generator=g)


def _random_uniform(g, s):
    # Some inside [0, 1], some covering it, some reaching below 0.
    low = 1.5 * _unif(g, s) - 0.75
    return aleatorch.Uniform(low, low + 0.05 + 2.5 * _unif(g, s))


def _random_mvn(g, s):
    tril = torch.randn(s + (3, 3), dtype=F64, generator=g).tril(-1)
    tril = tril + torch.diag_embed(_pos(g, s + (3,)))
    return aleatorch.MultivariateNormal(_real(g, s + (3,)), scale_tril=tril)


RANDOM = {
    "Bernoulli": lambda g, s: aleatorch.Bernoulli(probs=_unif(g, s)),
    "Beta": lambda g, s: aleatorch.Beta(_pos(g, s), _pos(g, s)),
    "Binomial": lambda g, s: aleatorch.Binomial(torch.full(s, 6.0, dtype=F64), logits=_real(g, s)),
    "Categorical": lambda g, s: aleatorch.Categorical(logits=_real(g, s + (4,))),
    "Dirichlet": lambda g, s: aleatorch.Dirichlet(_pos(g, s + (3,))),
    "Exponential": lambda g, s: aleatorch.Exponential(_pos(g, s)),
    "Gamma": lambda g, s: aleatorch.Gamma(_pos(g, s), _pos(g, s)),
    "Independent": lambda g, s: aleatorch.Independent(
        aleatorch.Normal(_real(g, s + (2,)), _pos(g, s + (2,))), 1
    ),
    "Laplace": lambda g, s: aleatorch.Laplace(_real(g, s), _pos(g, s)),
    "MultivariateNormal": _random_mvn,
    "Normal": lambda g, s: aleatorch.Normal(_real(g, s), _pos(g, s)),
    "OneHotCategorical": lambda g, s: aleatorch.OneHotCategorical(probs=_unif(g, s + (4,))),
    "Poisson": lambda g, s: aleatorch.Poisson(_pos(g, s)),
    "Uniform": _random_uniform,
}

# Pairs whose value is +inf for every valid parameter (p's support is unbounded, q's is not).
ALWAYS_INFINITE = {
    ("Exponential", "Beta"),
    ("Exponential", "Uniform"),
    ("Gamma", "Beta"),
    ("Gamma", "Uniform"),
    ("Laplace", "Beta"),
    ("Laplace", "Exponential"),
    ("Laplace", "Gamma"),
    ("Laplace", "Uniform"),
    ("Normal", "Beta"),
    ("Normal", "Exponential"),
    ("Normal", "Gamma"),
    ("Normal", "Uniform"),
    ("Poisson", "Bernoulli"),  # finite only for rate = 0, never drawn here
    ("Poisson", "Binomial"),
}
