"""Tests of ``kl_divergence``: every registered pair, the dispatch rules, basic properties.

Every pair registered in ``aleatorch.kl._KL_REGISTRY`` needs an example in the registry
``examples.KL`` (the ``tests/kl_examples_*.py`` groups); so may a pair that reaches a parent's
closed form by dispatch (Chi2 via Gamma), to check that dispatch. Each example is checked
against a Monte Carlo estimate ``E_p[log p(X) - log q(X)]`` (seeded; tolerance 6 standard
errors computed from the same draws) and against ``torch.distributions`` as a second oracle.
Where the closed form is ``+inf``, some draw of ``p`` must fall outside ``q``'s support.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.distributions as TD
from examples import KL
from torch.distributions.kl import _KL_REGISTRY as TORCH_KL_REGISTRY

import aleatorch
import aleatorch.kl as akl

F64 = torch.float64
N_MC = 40_000
MC_SIGMAS = 6.0

# Every registered pair, and every pair that reaches a parent's pair by dispatch, has an
# example in the registry (``examples.KL``, gathered from the ``tests/kl_examples_*.py`` groups).
FAMILIES = KL.families
EXAMPLES = KL.examples
RANDOM = KL.random
ALWAYS_INFINITE = KL.always_infinite
MOMENT_INFINITE = KL.moment_infinite
TORCH_LACKS = KL.torch_lacks
TORCH_WRONG = KL.torch_wrong
REFERENCE_GRADIENT = KL.reference_gradient


class Leaves:
    """Makes float64 parameter tensors that require grad, and remembers them. ``perturb =
    (k, index, step)`` adds ``step`` to entry ``index`` of the k-th one as it is made (a
    family may copy its parameters, e.g. normalizing them, so a later change would be lost)."""

    def __init__(self, perturb: tuple[int, int, float] | None = None) -> None:
        self.leaves: list[torch.Tensor] = []
        self.perturb = perturb

    def __call__(self, values) -> torch.Tensor:
        leaf = torch.tensor(values, dtype=F64)
        if self.perturb is not None and self.perturb[0] == len(self.leaves):
            leaf.view(-1)[self.perturb[1]] += self.perturb[2]
        leaf.requires_grad_()
        self.leaves.append(leaf)
        return leaf


def _registered_pairs() -> list[tuple[type, type]]:
    """The pairs registered by aleatorch itself (not by tests), sorted by name."""
    pairs = [
        (p, q)
        for p, q in akl._KL_REGISTRY
        if p.__module__.startswith("aleatorch.") and q.__module__.startswith("aleatorch.")
    ]
    return sorted(pairs, key=lambda pq: (pq[0].__name__, pq[1].__name__))


def _example_pairs() -> list[tuple[type, type]]:
    """The registered pairs and the pairs of the examples (some reach a parent's pair)."""
    named = {
        (getattr(aleatorch, p), getattr(aleatorch, q))
        for p, q in EXAMPLES
        if hasattr(aleatorch, p) and hasattr(aleatorch, q)
    }
    pairs = set(_registered_pairs()) | named
    return sorted(pairs, key=lambda pq: (pq[0].__name__, pq[1].__name__))


PAIRS = _example_pairs()
PAIR_IDS = [f"{p.__name__}-{q.__name__}" for p, q in PAIRS]


def _build(pair: tuple[type, type], module=aleatorch, perturb=None):
    key = (pair[0].__name__, pair[1].__name__)
    if key not in EXAMPLES:
        pytest.fail(f"no example for the registered pair {key}: add one to EXAMPLES")
    t = Leaves(perturb)
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
    names = (pair[0].__name__, pair[1].__name__)
    if names in TORCH_LACKS:
        with pytest.raises(NotImplementedError):  # fails once torch has it: then compare
            TD.kl_divergence(tp, tq)
        return
    if names in TORCH_WRONG:
        # Fails once torch is fixed: then remove the entry and compare.
        theirs = torch.broadcast_to(TD.kl_divergence(tp, tq), ours.shape)
        assert not torch.allclose(ours, theirs, rtol=1e-6, atol=1e-12), TORCH_WRONG[names]
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
                p, q, _ = _build(pair, perturb=(k, index, step))
                values.append(float(aleatorch.kl_divergence(p, q).detach().sum()))
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
        torch.testing.assert_close(kl, reference, rtol=1e-9, atol=1e-12)
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


def test_every_example_names_aleatorch_classes():
    # An example whose names are not aleatorch classes would never run.
    unknown = [pair for pair in EXAMPLES if not all(hasattr(aleatorch, name) for name in pair)]
    assert not unknown, f"KL examples of unknown classes: {unknown}"


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


def test_multinomial_zero_probabilities_and_different_counts():
    # 0 log(0 / q) = 0 in p; p log(p / 0) = inf in q.
    p = aleatorch.Multinomial(4, probs=torch.tensor([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]], dtype=F64))
    q = aleatorch.Multinomial(4, probs=torch.tensor([[0.2, 0.4, 0.4], [0.0, 0.5, 0.5]], dtype=F64))
    kl = aleatorch.kl_divergence(p, q)
    torch.testing.assert_close(kl[0], torch.tensor(4 * 0.5 * math.log(0.5 / 0.4) * 2, dtype=F64))
    assert kl[1] == math.inf
    with pytest.raises(NotImplementedError, match="total_count=4.*total_count=5"):
        aleatorch.kl_divergence(p, aleatorch.Multinomial(5, probs=q.probs))


def _von_mises_mpmath(mu_p, k_p, mu_q, k_q):
    import mpmath

    mpmath.mp.dps = 40
    k_p, k_q = mpmath.mpf(k_p), mpmath.mpf(k_q)
    a = mpmath.besseli(1, k_p) / mpmath.besseli(0, k_p)
    log_ratio = mpmath.log(mpmath.besseli(0, k_q) / mpmath.besseli(0, k_p))
    return float(log_ratio + a * (k_p - k_q * mpmath.cos(mpmath.mpf(mu_p) - mu_q)))


def test_von_mises_against_mpmath_up_to_large_concentrations():
    # I0(1e4) overflows even float64; the scaled Bessel functions keep float32 finite and the
    # form (k_q - k_p)(1 - A) + 2 A k_q sin^2(d/2) loses nothing to cancellation.
    cases = [
        (0.0, 1e-3, 2.0, 0.5),
        (1.0, 1.0, -1.0, 3.0),
        (3.0, 50.0, -3.1, 40.0),
        (0.0, 1e3, 0.01, 2e3),
        (0.0, 1e4, 0.01, 1e4),
        (0.5, 1e4, 0.5, 2e4),
        (-2.0, 1e4, 1.0, 1.0),
    ]
    expected = torch.tensor([_von_mises_mpmath(*case) for case in cases], dtype=F64)
    columns = list(zip(*cases))
    for dtype, rtol in ((F64, 1e-10), (torch.float32, 1e-5)):
        mu_p, k_p, mu_q, k_q = (torch.tensor(c, dtype=dtype) for c in columns)
        kl = aleatorch.kl_divergence(aleatorch.VonMises(mu_p, k_p), aleatorch.VonMises(mu_q, k_q))
        assert kl.dtype == dtype and kl.isfinite().all()
        # float32: compare with the value at the float32-rounded parameters
        exact = expected
        if dtype != F64:
            rounded = [
                tuple(float(c[i]) for c in (mu_p, k_p, mu_q, k_q)) for i in range(len(cases))
            ]
            exact = torch.tensor([_von_mises_mpmath(*case) for case in rounded], dtype=F64)
        torch.testing.assert_close(kl.double(), exact, rtol=rtol, atol=1e-12)


def _kumaraswamy_mpmath(a_p, b_p, a_q, b_q):
    """KL by mpmath's tanh-sinh quadrature of ``p log(p / q)`` in the variable ``u`` with
    ``x = exp(-exp(u))``: smooth in ``u``, decaying like ``exp(b_p u)`` on the left (x near 1)
    and like ``exp(-a_p e^u)`` on the right (x near 0)."""
    import mpmath

    mpmath.mp.dps = 30
    a_p, b_p, a_q, b_q = (mpmath.mpf(v) for v in (a_p, b_p, a_q, b_q))

    def log_pdf(log_x, a, b):  # the density of log X
        return mpmath.log(a * b) + a * log_x + (b - 1) * mpmath.log(-mpmath.expm1(a * log_x))

    def integrand(u):
        log_x = -mpmath.exp(u)
        log_p = log_pdf(log_x, a_p, b_p)
        return mpmath.exp(log_p + u) * (log_p - log_pdf(log_x, a_q, b_q))

    cuts = [-2000, -800, -400, -200, -100, -50, -20, -10, -5, -2, 0, 2, 4, 6, 8, 10, 12]
    return float(mpmath.quad(integrand, cuts))


def test_kumaraswamy_against_mpmath_quadrature():
    # a and b across [0.1, 20]: the fixed 441-node rule agrees to 1.3e-14 relative at worst
    # (measured over the 256 combinations of {0.1, 0.7, 3, 20}); a few corners keep it short.
    cases = [
        (0.1, 20.0, 20.0, 0.1),
        (20.0, 0.1, 0.1, 20.0),
        (0.7, 20.0, 3.0, 20.0),
        (20.0, 20.0, 0.7, 0.1),
        (0.1, 0.1, 0.7, 3.0),
        (3.0, 0.7, 20.0, 0.1),
    ]
    expected = torch.tensor([_kumaraswamy_mpmath(*case) for case in cases], dtype=F64)
    a_p, b_p, a_q, b_q = (torch.tensor(c, dtype=F64) for c in zip(*cases))
    kl = aleatorch.kl_divergence(aleatorch.Kumaraswamy(a_p, b_p), aleatorch.Kumaraswamy(a_q, b_q))
    torch.testing.assert_close(kl, expected, rtol=1e-10, atol=0)
    # float32 parameters: computed in float64, returned in float32
    kl32 = aleatorch.kl_divergence(
        aleatorch.Kumaraswamy(a_p.float(), b_p.float()),
        aleatorch.Kumaraswamy(a_q.float(), b_q.float()),
    )
    assert kl32.dtype == torch.float32
    torch.testing.assert_close(kl32.double(), expected, rtol=1e-5, atol=0)


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
