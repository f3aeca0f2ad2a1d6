"""Tests of ``kl_divergence``: every registered pair, the dispatch rules, basic properties.

Every pair registered in ``aleatorch.kl._KL_REGISTRY`` needs an example below. Each example is
checked against a Monte Carlo estimate ``E_p[log p(X) - log q(X)]`` (seeded; tolerance 6
standard errors computed from the same draws) and against ``torch.distributions`` as a second
oracle. Where the closed form is ``+inf``, some draw of ``p`` must fall outside ``q``'s support.
"""

from __future__ import annotations

import importlib
import math
import pathlib
import warnings

import pytest
import torch
import torch.distributions as TD
from torch.distributions.kl import _KL_REGISTRY as TORCH_KL_REGISTRY

import aleatorch
import aleatorch.kl as akl

F64 = torch.float64
N_MC = 40_000
MC_SIGMAS = 6.0

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


class Leaves:
    """Makes float64 parameter tensors that require grad, and remembers them."""

    def __init__(self) -> None:
        self.leaves: list[torch.Tensor] = []

    def __call__(self, values) -> torch.Tensor:
        leaf = torch.tensor(values, dtype=F64, requires_grad=True)
        self.leaves.append(leaf)
        return leaf


def _const(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _mvn_tril(seed: int, batch: int, k: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(batch, k, k, dtype=F64, generator=g).tril(-1)
    return raw + torch.diag_embed(torch.rand(batch, k, dtype=F64, generator=g) + 0.5)


# --------------------------------------------------------------------------- examples
# Each example builds ``(p, q)`` with the module ``D`` (aleatorch or torch.distributions: the
# constructors are the same) and the parameter maker ``t``. Batches mix parameter regimes;
# some mix finite and infinite entries, some broadcast p's batch against q's.


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
        D.Uniform(t([-0.5, 0.0, 0.1, -1.0]), t([1.2, 1.0, 1.0, 0.9])),  # last two: inf
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


# More groups of pairs, one ``tests/kl_examples_*.py`` module each (FAMILIES, EXAMPLES,
# RANDOM, ALWAYS_INFINITE and optionally MOMENT_INFINITE), merged here.
KL_GROUPS = [
    importlib.import_module(path.stem)
    for path in sorted(pathlib.Path(__file__).parent.glob("kl_examples_*.py"))
]
for group in KL_GROUPS:
    FAMILIES += [name for name in group.FAMILIES if name not in FAMILIES]
    EXAMPLES.update(group.EXAMPLES)


def _registered_pairs() -> list[tuple[type, type]]:
    """The pairs registered by aleatorch itself (not by tests), sorted by name."""
    pairs = [
        (p, q)
        for p, q in akl._KL_REGISTRY
        if p.__module__.startswith("aleatorch.") and q.__module__.startswith("aleatorch.")
    ]
    return sorted(pairs, key=lambda pq: (pq[0].__name__, pq[1].__name__))


PAIRS = _registered_pairs()
PAIR_IDS = [f"{p.__name__}-{q.__name__}" for p, q in PAIRS]


def _build(pair: tuple[type, type], module=aleatorch):
    key = (pair[0].__name__, pair[1].__name__)
    if key not in EXAMPLES:
        pytest.fail(f"no example for the registered pair {key}: add one to EXAMPLES")
    t = Leaves()
    p, q = EXAMPLES[key](module, t)
    return p, q, t.leaves


def _reshape_for(x: torch.Tensor, p, shape: torch.Size) -> torch.Tensor:
    """Insert singleton dims so draws of p (batch p.batch_shape) broadcast to ``shape``."""
    extra = len(shape) - len(p.batch_shape)
    return x.reshape(x.shape[:1] + (1,) * extra + x.shape[1:])


# ------------------------------------------------------------------ every registered pair


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_kl_matches_monte_carlo(pair):
    p, q, _ = _build(pair)
    kl = aleatorch.kl_divergence(p, q).detach()
    shape = torch.broadcast_shapes(p.batch_shape, q.batch_shape)
    assert kl.shape == shape and kl.dtype == F64
    assert not kl.isnan().any()

    g = torch.Generator().manual_seed(20240601)
    x = _reshape_for(p.sample((N_MC,), generator=g), p, shape)
    # q.log_prob is evaluated outside q's support where KL = inf (and discarded).
    with torch.no_grad(), aleatorch.validation(False):
        inside = q.support.check(x).expand((N_MC,) + shape)
        finite = kl.isfinite()
        # Where KL = inf, p must put mass outside q's support; where finite, it must not.
        outside_somewhere = (~inside).any(0)
        if (pair[0].__name__, pair[1].__name__) in MOMENT_INFINITE:
            assert not outside_somewhere.any() and not finite.all()
        else:
            assert torch.equal(outside_somewhere, ~finite), (kl, outside_somewhere)
        if not finite.any():
            return
        diff = (p.log_prob(x) - q.log_prob(x)).expand((N_MC,) + shape)[:, finite]
    estimate = diff.mean(0)
    stderr = diff.std(0) / math.sqrt(N_MC)
    tol = MC_SIGMAS * stderr + 1e-9 * (1 + kl[finite].abs())
    assert ((kl[finite] - estimate).abs() <= tol).all(), (kl[finite], estimate, stderr)


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_kl_matches_torch(pair):
    p, q, _ = _build(pair)
    tp, tq, _ = _build(pair, TD)
    ours = aleatorch.kl_divergence(p, q)
    if (pair[0].__name__, pair[1].__name__) in TORCH_LACKS:
        with pytest.raises(NotImplementedError):  # fails once torch has it: then compare
            TD.kl_divergence(tp, tq)
        return
    # torch gives an infinite pair p's batch shape only, not the broadcast one.
    theirs = torch.broadcast_to(TD.kl_divergence(tp, tq), ours.shape)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-12)


def _assert_gradients_match_finite_differences(pair, grads):
    """Central differences of the summed KL, one entry of each leaf at a time."""
    _, _, leaves = _build(pair)
    for k, (leaf, grad) in enumerate(zip(leaves, grads)):
        for index in range(leaf.numel()):
            h = 1e-6 * max(1.0, abs(float(leaf.detach().view(-1)[index])))
            values = []
            for step in (h, -h):
                p, q, moved = _build(pair)
                with torch.no_grad():
                    moved[k].view(-1)[index] += step
                values.append(float(aleatorch.kl_divergence(p, q).sum()))
            fd = (values[0] - values[1]) / (2 * h)
            assert abs(float(grad.view(-1)[index]) - fd) <= 1e-6 * (1 + abs(fd)), (leaf, fd)


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_kl_gradients_are_finite_and_match_torch(pair):
    p, q, leaves = _build(pair)
    kl = aleatorch.kl_divergence(p, q)
    if not kl.requires_grad:
        # A constant: the supports never nest for this pair.
        assert torch.isinf(kl).all()
        return
    grads = torch.autograd.grad(kl[kl.isfinite()].sum(), leaves, allow_unused=True)
    for grad in grads:
        assert grad is None or grad.isfinite().all()
    names = (pair[0].__name__, pair[1].__name__)
    if names in TORCH_LACKS:
        _assert_gradients_match_finite_differences(pair, grads)
    elif names in REFERENCE_GRADIENT:
        # torch's form loses a gradient here (see the group): compare with a closed form.
        reference = REFERENCE_GRADIENT[names](p, q)
        expected = torch.autograd.grad(reference.sum(), leaves, allow_unused=True)
        for ours, theirs in zip(grads, expected):
            torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    elif kl.isfinite().all():
        tp, tq, t_leaves = _build(pair, TD)
        t_grads = torch.autograd.grad(TD.kl_divergence(tp, tq).sum(), t_leaves, allow_unused=True)
        for ours, theirs in zip(grads, t_grads):
            if ours is None or theirs is None:
                assert (ours is None or not ours.any()) and (theirs is None or not theirs.any())
            else:
                torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(
    "pair", [pair for pair in PAIRS if pair[0] is pair[1]], ids=lambda pq: pq[0].__name__
)
def test_kl_of_a_distribution_with_itself_is_zero(pair):
    p, _, _ = _build(pair)
    kl = aleatorch.kl_divergence(p, p)
    torch.testing.assert_close(kl, torch.zeros_like(kl), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ random parameter draws


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
# Pairs whose infinite entries come from an infinite moment of p (a Pareto with alpha <= 1 or
# <= 2), not from the supports: there every draw lies inside q's support.
MOMENT_INFINITE: set[tuple[str, str]] = set()
# Pairs whose gradients are checked against a closed form instead of torch's.
REFERENCE_GRADIENT: dict = {}
# Pairs torch does not register (beyond torch): torch must still raise for them.
TORCH_LACKS: set[tuple[str, str]] = set()
for group in KL_GROUPS:
    TORCH_LACKS |= getattr(group, "TORCH_LACKS", set())
    REFERENCE_GRADIENT.update(getattr(group, "REFERENCE_GRADIENT", {}))
    ALWAYS_INFINITE |= group.ALWAYS_INFINITE
    RANDOM.update(group.RANDOM)
    MOMENT_INFINITE |= getattr(group, "MOMENT_INFINITE", set())


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_kl_is_nonnegative_on_random_parameters(pair):
    names = (pair[0].__name__, pair[1].__name__)
    if names[0] not in RANDOM or names[1] not in RANDOM:
        pytest.fail(f"no random parameter draw for {names}: add one to RANDOM")
    g = torch.Generator().manual_seed(7)
    p, q = RANDOM[names[0]](g, (500,)), RANDOM[names[1]](g, (500,))
    if names == ("Binomial", "Binomial"):  # KL is only defined for equal total_count
        q = aleatorch.Binomial(p.total_count, logits=q.logits)
    kl = aleatorch.kl_divergence(p, q)
    assert kl.shape == (500,) and not kl.isnan().any()
    assert (kl >= -1e-10 * (1 + kl.abs())).all(), kl.min()
    finite = kl.isfinite()
    if names in ALWAYS_INFINITE:
        assert not finite.any()
    else:
        assert finite.sum() >= 10, f"too few finite draws to test {names}"


# ------------------------------------------------------------------ completeness


def test_every_registered_pair_has_an_example():
    missing = [
        (p.__name__, q.__name__)
        for p, q in _registered_pairs()
        if (p.__name__, q.__name__) not in EXAMPLES
        or p.__name__ not in RANDOM
        or q.__name__ not in RANDOM
    ]
    assert not missing, f"registered KL pairs without an example: {missing}"


def test_every_torch_pair_among_the_families_is_registered():
    torch_pairs = sorted(
        (p.__name__, q.__name__)
        for p, q in TORCH_KL_REGISTRY
        if p.__name__ in FAMILIES and q.__name__ in FAMILIES and p.__module__.startswith("torch.")
    )
    assert len(torch_pairs) >= 40  # guard against an empty comparison
    missing = [
        (p, q)
        for p, q in torch_pairs
        if not hasattr(aleatorch, p)
        or not hasattr(aleatorch, q)
        or (getattr(aleatorch, p), getattr(aleatorch, q)) not in akl._KL_REGISTRY
    ]
    assert not missing, f"pairs torch registers but aleatorch does not: {missing}"


# ------------------------------------------------------------------ specific values


def test_poisson_with_rate_zero_is_a_point_mass():
    # KL(delta_0 || q) = -log q(0), finite; for rate > 0 the divergence is infinite.
    rate = torch.tensor([0.0, 1.0], dtype=F64)
    probs = torch.tensor([0.3, 0.3], dtype=F64)
    kl_bern = aleatorch.kl_divergence(aleatorch.Poisson(rate), aleatorch.Bernoulli(probs=probs))
    kl_binom = aleatorch.kl_divergence(
        aleatorch.Poisson(rate), aleatorch.Binomial(4, logits=torch.logit(probs))
    )
    torch.testing.assert_close(kl_bern[0], -torch.log1p(-probs[0]))
    torch.testing.assert_close(kl_binom[0], -4 * torch.log1p(-probs[0]))
    assert kl_bern[1] == math.inf and kl_binom[1] == math.inf


def test_uniform_on_the_edge_of_the_support():
    # U(0, h) has E[log X] = log h - 1; U(0, 1) also has E[log(1 - X)] = -1.
    a = torch.tensor([0.5, 2.0, 7.0], dtype=F64)
    b = torch.tensor([3.0, 0.4, 1.0], dtype=F64)
    log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
    kl = aleatorch.kl_divergence(
        aleatorch.Uniform(0.0, torch.ones(3, dtype=F64)), aleatorch.Beta(a, b)
    )
    torch.testing.assert_close(kl, log_beta + (a - 1) + (b - 1))
    h = torch.tensor(2.5, dtype=F64)
    kl = aleatorch.kl_divergence(aleatorch.Uniform(0.0, h), aleatorch.Gamma(a, b))
    cross_entropy = torch.lgamma(a) - a * b.log() - (a - 1) * (h.log() - 1) + b * h / 2
    torch.testing.assert_close(kl, cross_entropy - h.log())


def test_infinite_pairs_broadcast_and_keep_dtype():
    p = aleatorch.Normal(torch.zeros(3, dtype=torch.float32), 1.0)
    q = aleatorch.Uniform(torch.zeros(2, 1, dtype=F64), 1.0)
    kl = aleatorch.kl_divergence(p, q)
    assert kl.shape == (2, 3) and kl.dtype == F64 and torch.isinf(kl).all()


def test_masked_pairs_have_finite_gradients_where_finite():
    # The infinite entries come from bounds where the finite formula takes logs of negatives.
    low = torch.tensor([0.2, -2.0, 0.5], dtype=F64, requires_grad=True)
    high = torch.tensor([0.6, -1.0, 1.5], dtype=F64, requires_grad=True)
    for q in (aleatorch.Beta(2.0, 3.0), aleatorch.Gamma(2.0, 3.0)):
        kl = aleatorch.kl_divergence(aleatorch.Uniform(low, high), q)
        assert kl[0].isfinite() and kl[1] == math.inf
        (grad_low, grad_high) = torch.autograd.grad(kl[kl.isfinite()].sum(), (low, high))
        assert grad_low.isfinite().all() and grad_high.isfinite().all()
        assert grad_low[1] == 0 and grad_high[1] == 0


# ------------------------------------------------------------------ dispatch


@pytest.fixture
def registry():
    """Restore the KL registry after a test registers its own pairs."""
    saved = dict(akl._KL_REGISTRY)
    yield akl._KL_REGISTRY
    akl._KL_REGISTRY.clear()
    akl._KL_REGISTRY.update(saved)
    akl._KL_MEMOIZE.clear()


class SubNormal(aleatorch.Normal):
    pass


class SubSubNormal(SubNormal):
    pass


def _const_kl(value):
    return lambda p, q: torch.full(p.batch_shape, float(value))


def test_the_most_specific_pair_wins(registry):
    aleatorch.register_kl(SubNormal, aleatorch.Normal)(_const_kl(1))
    normal, sub, subsub = aleatorch.Normal(0.0, 1.0), SubNormal(1.0, 1.0), SubSubNormal(0.0, 1.0)
    assert aleatorch.kl_divergence(sub, normal) == 1
    assert aleatorch.kl_divergence(subsub, sub) == 1
    # Only q is a subclass: (Normal, Normal) is the only match.
    assert aleatorch.kl_divergence(normal, sub) == 0.5
    # A later, more specific registration takes over (the dispatch cache is invalidated).
    aleatorch.register_kl(SubSubNormal, SubNormal)(_const_kl(2))
    assert aleatorch.kl_divergence(subsub, sub) == 2
    assert aleatorch.kl_divergence(sub, sub) == 1


def test_ambiguous_pairs_warn_and_prefer_the_more_specific_p(registry):
    aleatorch.register_kl(SubNormal, aleatorch.Normal)(_const_kl(1))
    aleatorch.register_kl(aleatorch.Normal, SubNormal)(_const_kl(2))
    sub = SubNormal(0.0, 1.0)
    with pytest.warns(RuntimeWarning, match="Ambiguous") as record:
        assert aleatorch.kl_divergence(sub, sub) == 1
    message = str(record[0].message)
    assert "(SubNormal, Normal)" in message and "(Normal, SubNormal)" in message
    aleatorch.register_kl(SubNormal, SubNormal)(_const_kl(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert aleatorch.kl_divergence(sub, sub) == 3


def test_unregistered_pair_raises_not_implemented_naming_both_types():
    class Lonely(aleatorch.Distribution):
        arg_constraints = {}

    with pytest.raises(NotImplementedError) as info:
        aleatorch.kl_divergence(Lonely(), aleatorch.Normal(0.0, 1.0))
    text = str(info.value)
    assert "Lonely" in text and "Normal" in text and "register_kl" in text
    assert isinstance(info.value, aleatorch.MethodNotImplementedError)


@pytest.mark.parametrize(
    "types",
    [(int, aleatorch.Normal), (aleatorch.Normal, TD.Normal), (aleatorch.Normal(0.0, 1.0), object)],
    ids=["builtin", "torch-class", "instance"],
)
def test_register_kl_rejects_non_distribution_types(types):
    with pytest.raises(TypeError, match="Distribution"):
        aleatorch.register_kl(*types)
