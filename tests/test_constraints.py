"""Constraints against torch.distributions.constraints as the oracle, plus our extras."""

import pytest
import torch
import torch.distributions.constraints as tc

from aleatorch import constraints as ac

NAN, INF = float("nan"), float("inf")
SCALARS = torch.tensor([-INF, -2.0, -1.0, -0.5, -0.0, 0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 7.0, INF, NAN])

UNIVARIATE = [
    ("real", ac.real, tc.real),
    ("positive", ac.positive, tc.positive),
    ("nonnegative", ac.nonnegative, tc.nonnegative),
    ("unit_interval", ac.unit_interval, tc.unit_interval),
    ("boolean", ac.boolean, tc.boolean),
    ("nonnegative_integer", ac.nonnegative_integer, tc.nonnegative_integer),
    ("positive_integer", ac.positive_integer, tc.positive_integer),
    ("greater_than(-1)", ac.greater_than(-1.0), tc.greater_than(-1.0)),
    ("greater_than_eq(-1)", ac.greater_than_eq(-1.0), tc.greater_than_eq(-1.0)),
    ("less_than(1)", ac.less_than(1.0), tc.less_than(1.0)),
    ("interval(-1, 1.5)", ac.interval(-1.0, 1.5), tc.interval(-1.0, 1.5)),
    ("half_open(-1, 1.5)", ac.half_open_interval(-1.0, 1.5), tc.half_open_interval(-1.0, 1.5)),
    ("integer_interval(0, 2)", ac.integer_interval(0, 2), tc.integer_interval(0, 2)),
]


@pytest.mark.parametrize("name, ours, theirs", UNIVARIATE, ids=[u[0] for u in UNIVARIATE])
def test_univariate_check_matches_torch(name, ours, theirs):
    assert torch.equal(ours.check(SCALARS), theirs.check(SCALARS))
    assert ours.event_dim == theirs.event_dim
    assert ours.is_discrete == theirs.is_discrete


@pytest.mark.parametrize("name, ours, theirs", UNIVARIATE, ids=[u[0] for u in UNIVARIATE])
def test_fast_all_ok_agrees_with_the_elementwise_check(name, ours, theirs):
    for value in list(SCALARS) + [torch.tensor([])]:
        value = value.reshape(-1)
        assert ours.all_ok(value) == bool(ours.check(value).all()), value
    ok_values = SCALARS[ours.check(SCALARS)]
    assert ours.all_ok(ok_values)
    assert ours.all_ok(ok_values.double())
    # +inf and -inf together make the sum NaN: the fast path must not reject them.
    assert ac.real.all_ok(torch.tensor([INF, -INF]))


def test_integer_constraints_accept_integer_dtypes():
    assert ac.nonnegative_integer.all_ok(torch.tensor([0, 3, 5]))
    assert not ac.nonnegative_integer.all_ok(torch.tensor([0, -3]))


BOUNDS = [
    ("real", ac.real, (-INF, INF)),
    ("positive", ac.positive, (0.0, INF)),
    ("nonnegative", ac.nonnegative, (0.0, INF)),
    ("unit_interval", ac.unit_interval, (0.0, 1.0)),
    ("boolean", ac.boolean, (0, 1)),
    ("nonnegative_integer", ac.nonnegative_integer, (0, INF)),
    ("positive_integer", ac.positive_integer, (1, INF)),
    ("greater_than(-1)", ac.greater_than(-1.0), (-1.0, INF)),
    ("greater_than_eq(-1)", ac.greater_than_eq(-1.0), (-1.0, INF)),
    ("less_than(1)", ac.less_than(1.0), (-INF, 1.0)),
    ("interval(-1, 1.5)", ac.interval(-1.0, 1.5), (-1.0, 1.5)),
    ("half_open(-1, 1.5)", ac.half_open_interval(-1.0, 1.5), (-1.0, 1.5)),
    ("integer_interval(0, 2)", ac.integer_interval(0, 2), (0, 2)),
]


@pytest.mark.parametrize("name, constraint, expected", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_univariate_bounds_are_the_closed_hull(name, constraint, expected):
    lower, upper = constraint.bounds
    assert (lower, upper) == expected
    # The attributes exist only where torch's have them (never for boolean).
    if constraint is not ac.boolean:
        assert getattr(constraint, "lower_bound", -INF) == lower
        assert getattr(constraint, "upper_bound", INF) == upper
    inside = SCALARS[constraint.check(SCALARS)]
    assert bool(((lower <= inside) & (inside <= upper)).all())


def test_bounds_given_as_tensors_stay_tensors():
    low, high = torch.tensor([0.0, -2.0]), torch.tensor([1.0, 3.0])
    lower, upper = ac.interval(low, high).bounds
    assert lower is low and upper is high
    assert ac.greater_than(low).bounds == (low, INF)


def test_independent_without_event_dims_has_its_base_bounds():
    assert ac.independent(ac.positive, 0).bounds == (0.0, INF)


NOT_UNIVARIATE = [
    ac.simplex,
    ac.real_vector,
    ac.independent(ac.positive, 1),
    ac.one_hot,
    ac.multinomial(3),
    ac.lower_cholesky,
    ac.positive_definite,
    ac.dependent,
    ac.cat([ac.positive, ac.real]),
    ac.MixtureSameFamilyConstraint(ac.real),
]


@pytest.mark.parametrize("constraint", NOT_UNIVARIATE, ids=repr)
def test_bounds_of_a_set_that_is_not_a_univariate_interval_raise(constraint):
    with pytest.raises(NotImplementedError, match="not a univariate interval"):
        constraint.bounds  # noqa: B018


def test_simplex_matches_torch_and_tolerates_half_precision_normalization():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.5, 0.6, -0.1], [0.5, 0.6, 0.1], [NAN, 0.5, 0.5]])
    assert torch.equal(ac.simplex.check(probs), tc.simplex.check(probs))
    assert ac.simplex.event_dim == 1
    # pytorch#110366: fp16 vectors normalized in fp16 miss the fixed 1e-6 tolerance.
    raw = torch.rand(1000, 37, generator=torch.Generator().manual_seed(0)).half()
    normalized = raw / raw.sum(-1, keepdim=True)
    assert not bool(tc.simplex.check(normalized).all())
    assert ac.simplex.all_ok(normalized) and bool(ac.simplex.check(normalized).all())
    assert not ac.simplex.all_ok(probs)


def matrices():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, 3, generator=g, dtype=torch.float64)
    spd = a @ a.mT + 0.1 * torch.eye(3, dtype=torch.float64)
    lower = torch.linalg.cholesky(spd)
    corr_l = lower / lower.norm(dim=-1, keepdim=True)
    not_lower = lower.clone()
    not_lower[0, 0, 2] = 1.0
    negative_diagonal = lower.clone()
    negative_diagonal[1, 1, 1] = -1.0
    indefinite = spd.clone()
    indefinite[2] = -spd[2]
    asymmetric = spd.clone()
    asymmetric[3, 0, 1] += 1.0
    return [spd, lower, corr_l, not_lower, negative_diagonal, indefinite, asymmetric, a]


MATRIX = [
    ("lower_triangular", ac.lower_triangular, tc.lower_triangular),
    ("lower_cholesky", ac.lower_cholesky, tc.lower_cholesky),
    ("corr_cholesky", ac.corr_cholesky, tc.corr_cholesky),
    ("square", ac.square, tc.square),
    ("symmetric", ac.symmetric, tc.symmetric),
    ("positive_semidefinite", ac.positive_semidefinite, tc.positive_semidefinite),
    ("positive_definite", ac.positive_definite, tc.positive_definite),
]


@pytest.mark.parametrize("name, ours, theirs", MATRIX, ids=[m[0] for m in MATRIX])
def test_matrix_constraints_match_torch(name, ours, theirs):
    assert ours.event_dim == theirs.event_dim == 2
    for m in matrices():
        assert torch.equal(ours.check(m), theirs.check(m)), name
        assert ours.all_ok(m) == bool(theirs.check(m).all()), name


def test_independent_reinterprets_batch_dims():
    c = ac.independent(ac.positive, 1)
    value = torch.tensor([[1.0, 2.0], [1.0, -1.0]])
    assert torch.equal(c.check(value), torch.tensor([True, False]))
    assert c.event_dim == 1 and not c.is_discrete
    assert ac.real_vector.event_dim == 1
    assert torch.equal(c.check(value), tc.independent(tc.positive, 1).check(value))


def test_one_hot_and_multinomial_match_torch():
    value = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert torch.equal(ac.one_hot.check(value), tc.one_hot.check(value))
    counts = torch.tensor([[2.0, 1.0], [3.0, 1.0], [-1.0, 2.0]])
    assert torch.equal(ac.multinomial(3).check(counts), tc.multinomial(3).check(counts))


def test_cat_and_stack_match_torch():
    value = torch.tensor([[1.0, -1.0, 0.5], [2.0, 3.0, -0.5]])
    ours = ac.cat([ac.positive, ac.real], dim=1, lengths=[1, 2])
    theirs = tc.cat([tc.positive, tc.real], dim=1, lengths=[1, 2])
    assert torch.equal(ours.check(value), theirs.check(value))
    ours_s = ac.stack([ac.positive, ac.real, ac.unit_interval], dim=1)
    theirs_s = tc.stack([tc.positive, tc.real, tc.unit_interval], dim=1)
    assert torch.equal(ours_s.check(value), theirs_s.check(value))


def test_mixture_same_family_constraint_matches_torch():
    value = torch.tensor([[0.5, 2.0], [-1.0, 0.1]])
    low = torch.tensor([0.0, -2.0])
    ours = ac.MixtureSameFamilyConstraint(ac.interval(low, 1.0))
    theirs = tc.MixtureSameFamilyConstraint(tc.interval(low, 1.0))
    assert torch.equal(ours.check(value), theirs.check(value))
    assert ours.event_dim == 0 and not ours.is_discrete


def test_dependent_constraints():
    assert ac.is_dependent(ac.dependent)
    assert not ac.is_dependent(ac.real)
    with pytest.raises(ValueError):
        ac.dependent.check(torch.zeros(1))
    with pytest.raises(NotImplementedError):
        ac.dependent.event_dim  # noqa: B018
    assert ac.dependent(is_discrete=True, event_dim=1).event_dim == 1

    class Box:
        def __init__(self, high):
            self.high = high

        @ac.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return ac.interval(0.0, self.high)

    assert ac.is_dependent(Box.support) and Box.support.event_dim == 0
    assert Box(2.0).support.upper_bound == 2.0


def test_every_torch_constraint_name_exists():
    missing = [name for name in tc.__all__ if not hasattr(ac, name)]
    assert missing == []


@pytest.mark.parametrize(
    "constraint, words",
    [
        (ac.positive, "positive (> 0)"),
        (ac.nonnegative, "nonnegative (>= 0)"),
        (ac.unit_interval, "in [0, 1]"),
        (ac.half_open_interval(0.0, 2.0), "in [0, 2)"),
        (ac.nonnegative_integer, "nonnegative integer"),
        (ac.integer_interval(0, 5), "an integer in [0, 5]"),
        (ac.simplex, "summing to 1"),
        (ac.lower_cholesky, "positive diagonal"),
        (ac.positive_definite, "positive-definite"),
        (ac.boolean, "0 or 1"),
        (ac.greater_than(3.0), "greater than 3"),
        (ac.less_than(-1.0), "less than -1"),
    ],
)
def test_descriptions_are_plain_words(constraint, words):
    assert words in constraint.description


def test_constraints_have_exactly_torchs_bound_attributes():
    # zuko's tests build inputs from hasattr(domain, "lower_bound"): an infinite bound where
    # torch has none gives NaN inputs. `bounds` still gives both (infinite when missing).
    import torch.distributions.constraints as T

    import aleatorch.constraints as C

    compared = 0
    for name in dir(T):
        theirs = getattr(T, name)
        if name.startswith("__") or not isinstance(theirs, T.Constraint):
            continue
        ours = getattr(C, name)
        for attr in ("lower_bound", "upper_bound"):
            assert hasattr(ours, attr) == hasattr(theirs, attr), (name, attr)
        compared += 1
    assert compared >= 18
    assert C.real.bounds == (-INF, INF) and C.positive.bounds == (0.0, INF)
    assert C.boolean.bounds == (0, 1)
