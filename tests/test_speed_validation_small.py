"""The fast validation paths (constraints read back in Python for small CPU tensors, the
torch reductions otherwise) agree with the elementwise ``check`` on every constraint kind,
and validation still raises the same kind of error, with the same message, on small and
large tensors (NaN, inf, boundary values, integer and bool tensors, broadcast bounds)."""

import itertools

import pytest
import torch

import aleatorch as D
from aleatorch import constraints as ac
from aleatorch.constraints import _PY_NUMEL, _entries

NAN, INF = float("nan"), float("inf")
SPECIAL = [-INF, -2.0, -1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0, INF, NAN]
# a few entries (Python path), just over the limit and large (torch reductions)
SIZES = [1, 5, _PY_NUMEL, _PY_NUMEL + 1, 200]

UNIVARIATE = {
    "real": ac.real,
    "positive": ac.positive,
    "nonnegative": ac.nonnegative,
    "unit_interval": ac.unit_interval,
    "boolean": ac.boolean,
    "nonnegative_integer": ac.nonnegative_integer,
    "positive_integer": ac.positive_integer,
    "greater_than(-1)": ac.greater_than(-1.0),
    "greater_than_eq(-1)": ac.greater_than_eq(-1.0),
    "less_than(1)": ac.less_than(1.0),
    "interval(-1, 1.5)": ac.interval(-1.0, 1.5),
    "half_open(-1, 1.5)": ac.half_open_interval(-1.0, 1.5),
    "integer_interval(0, 2)": ac.integer_interval(0, 2),
    "independent(positive, 1)": ac.independent(ac.positive, 1),
    "mixture(positive)": ac.MixtureSameFamilyConstraint(ac.positive),
}


def _samples(pool, size, shape_of, seed, dtype):
    """Tensors of ``size`` entries drawn from ``pool``: mostly valid ones, with one
    special value planted (each in turn), in 1-d and 2-d layouts."""
    g = torch.Generator().manual_seed(seed)
    pool = torch.tensor(pool, dtype=torch.float64)
    for special in SPECIAL:
        base = pool[torch.randint(len(pool), (size,), generator=g)]
        planted = base.clone()
        planted[torch.randint(size, (1,), generator=g)] = special
        for t in (base, planted):
            yield t.to(dtype).reshape(shape_of(size))


def _shapes(size):
    return [(size,), (1, size)] + ([(size // 2, 2)] if size % 2 == 0 else [])


@pytest.mark.parametrize("name", list(UNIVARIATE))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_all_ok_equals_the_elementwise_check(name, size, dtype):
    constraint = UNIVARIATE[name]
    if isinstance(constraint, ac.MixtureSameFamilyConstraint | ac._IndependentConstraint):
        valid = [v for v in SPECIAL if v == v and v > 0]
    else:
        valid = [v for v in SPECIAL if bool(constraint.check(torch.tensor(v)))]
    for shape in _shapes(size):
        for value in _samples(valid, size, lambda n, s=shape: s, hash(name) % 1000, dtype):
            expected = bool(constraint.check(value).all())
            assert constraint.all_ok(value) == expected, (name, value)


@pytest.mark.parametrize("name", ["nonnegative_integer", "positive_integer", "boolean", "ii"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_and_bool_tensors(name, size, dtype):
    constraint = UNIVARIATE.get(name, ac.integer_interval(0, 2))
    g = torch.Generator().manual_seed(size)
    for _ in range(20):
        high = 2 if dtype is torch.bool else 5
        value = torch.randint(0, high, (size,), generator=g).to(dtype)
        if dtype not in (torch.bool, torch.uint8) and bool(torch.rand((), generator=g) < 0.5):
            value[0] = -1
        assert constraint.all_ok(value) == bool(constraint.check(value).all()), value


BOUNDS = [
    # (low, high) tensors and numbers, the value broadcasting against them either way
    (torch.tensor([0.0, -3.0, 1.0]), torch.tensor([1.0, 2.0, 5.0])),
    (torch.tensor([[0.0], [-3.0]]), torch.tensor([1.0, 2.0, 5.0])),
    (0.0, torch.tensor([[1.0, 2.0, 5.0]])),
    (torch.zeros(40), 2.0),  # over the Python limit
]


@pytest.mark.parametrize("low, high", BOUNDS)
@pytest.mark.parametrize(
    "kind",
    ["interval", "half_open_interval", "greater_than", "greater_than_eq", "less_than", "int"],
)
def test_tensor_bounds_broadcast_as_the_check(low, high, kind):
    make = {
        "interval": lambda: ac.interval(low, high),
        "half_open_interval": lambda: ac.half_open_interval(low, high),
        "greater_than": lambda: ac.greater_than(low),
        "greater_than_eq": lambda: ac.greater_than_eq(low),
        "less_than": lambda: ac.less_than(high),
        "int": lambda: ac.integer_interval(low, high),
    }
    constraint = make[kind]()
    lows = low if isinstance(low, torch.Tensor) else torch.tensor(low)
    highs = high if isinstance(high, torch.Tensor) else torch.tensor(high)
    shape = torch.broadcast_shapes(lows.shape, highs.shape)
    candidates = [lows.expand(shape), highs.expand(shape), (lows + highs).expand(shape) / 2]
    candidates += [c.round() for c in candidates]
    for c in list(candidates):
        for special in (NAN, INF, -INF, -0.0):
            bad = c.clone()
            bad.reshape(-1)[0] = special
            candidates.append(bad)
    candidates += [torch.tensor(0.5), torch.tensor(1.0), torch.tensor([1.0]), torch.tensor(NAN)]
    for value in candidates:
        assert constraint.all_ok(value) == bool(constraint.check(value).all()), (kind, value)


def _rows(n_rows, k, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n_rows, k, generator=g, dtype=torch.float64) + 0.05
    return (p / p.sum(-1, keepdim=True)).to(dtype)


@pytest.mark.parametrize("n_rows, k", [(1, 3), (3, 4), (8, 4), (50, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_simplex_fast_path_never_looser_than_the_check(n_rows, k, dtype):
    simplex = ac.simplex
    good = _rows(n_rows, k, dtype, 0)
    assert simplex.all_ok(good) and bool(simplex.check(good).all())
    for special in (NAN, INF, -INF, -1e-3, 1.5, 0.0):
        bad = good.clone()
        bad[-1, 0] = special
        assert simplex.all_ok(bad) == bool(simplex.check(bad).all()), special
    tol = 2 * k * torch.finfo(dtype).eps if 2 * k * torch.finfo(dtype).eps > 1e-6 else 1e-6
    for excess in (0.1 * tol, 0.9 * tol, 1.1 * tol, 3 * tol):  # around the tolerance
        off = good.clone()
        off[0, 0] += excess
        if simplex.all_ok(off):
            assert bool(simplex.check(off).all()), excess
        if excess > 2 * tol:
            assert not simplex.all_ok(off)


@pytest.mark.parametrize("n_rows, k", [(1, 3), (3, 4), (10, 4)])
def test_one_hot_and_multinomial_fast_paths(n_rows, k):
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(k, (n_rows,), generator=g)
    one_hot = torch.nn.functional.one_hot(labels, k).float()
    counts = torch.randint(0, 3, (n_rows, k), generator=g).float()
    total = int(counts.sum(-1).max())
    cases = [
        (ac.one_hot, one_hot),
        (ac.multinomial(total), counts),
        (ac.multinomial(total - 1), counts),
        (ac.multinomial(total), counts.long()),
    ]
    for constraint, value in cases:
        for special in (None, NAN, INF, -1.0, 2.0, 0.5, 0.0, 1.0):
            v = value.clone()
            if special is not None:
                if not v.is_floating_point() and (special != special or abs(special) == INF):
                    continue
                v[-1, -1] = special
            expected = bool(constraint.check(v).all())
            assert constraint.all_ok(v) == expected, (constraint, v)
    # an empty category dim: one-hot rows summing to 0 are not one-hot
    empty = torch.zeros(2, 0)
    assert ac.one_hot.all_ok(empty) == bool(ac.one_hot.check(empty).all())


def _cholesky_factors(batch, n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, n, n, generator=g, dtype=torch.float64)
    spd = a @ a.mT + n * torch.eye(n, dtype=torch.float64)
    lower = torch.linalg.cholesky(spd)
    return lower.to(dtype), (lower / lower.norm(dim=-1, keepdim=True)).to(dtype)


@pytest.mark.parametrize("batch, n", [((), 3), ((2,), 3), ((2, 1), 4), ((5,), 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triangular_fast_paths(batch, n, dtype):
    lower, corr = _cholesky_factors(batch, n, dtype)
    for constraint, good in (
        (ac.lower_triangular, lower),
        (ac.lower_cholesky, lower),
        (ac.corr_cholesky, corr),
    ):
        values = [good, good.mT.contiguous(), good.mT]
        for (i, j), special in itertools.product([(0, 0), (n - 1, 0), (0, n - 1)], SPECIAL):
            bad = good.clone()
            bad[..., i, j] = special
            values.append(bad)
        scaled = good.clone()
        scaled[..., -1, :] *= 1.0 + 1e-3  # a row norm off 1
        values.append(scaled)
        for value in values:
            expected = bool(constraint.check(value).all())
            assert constraint.all_ok(value) == expected, (constraint, value)


def test_entries_reads_only_small_cpu_eager_tensors():
    x = torch.arange(6.0).reshape(2, 3)
    assert _entries(x) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert _entries(x.mT) == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]  # non-contiguous: logical order
    assert _entries(torch.tensor(2.5)) == [2.5]
    assert _entries(torch.zeros(3, 0)) == []
    assert _entries(torch.zeros(2, 2, 2)) == [0.0] * 8
    assert _entries(torch.ones(3).expand(4, 3)) == [1.0] * 12
    assert _entries(torch.ones(3, requires_grad=True)) == [1.0] * 3
    assert _entries(torch.zeros(_PY_NUMEL + 1)) is None
    assert _entries(torch.zeros(3, device="meta")) is None
    assert _entries(torch.eye(3).to_sparse()) is None
    seen = []
    torch.func.vmap(lambda t: seen.append(_entries(t)) or t)(torch.zeros(2, 3))
    assert seen == [None]


def test_validation_under_torch_func_uses_the_torch_path():
    # Values are wrapped by vmap: constraints use their reductions, never the Python lists.
    scale = torch.ones(4, 3)
    out = torch.func.vmap(lambda s: D.Normal(0.0, s, validate_args=False).log_prob(s))(scale)
    assert out.shape == (4, 3)


ERRORS = [
    # (build, call or None, error type, text in the message)
    (lambda s: D.Normal(torch.zeros(s), torch.full((s,), -1.0)), None, D.ParameterError, "scale"),
    (lambda s: D.Normal(torch.full((s,), NAN), torch.ones(s)), None, D.ParameterError, "NaN"),
    (lambda s: D.Normal(torch.zeros(s), torch.zeros(s)), None, D.ParameterError, "positive"),
    (lambda s: D.Normal(torch.zeros(s), torch.ones(s)), NAN, D.SupportError, "NaN"),
    (lambda s: D.Exponential(torch.ones(s)), -1.0, D.SupportError, "support"),
    (lambda s: D.Gamma(torch.ones(s), torch.full((s,), INF)), None, None, None),
    (lambda s: D.Beta(torch.ones(s), torch.ones(s)), 1.5, D.SupportError, "support"),
    (lambda s: D.Bernoulli(torch.full((s,), 1.5)), None, D.ParameterError, "probs"),
    (lambda s: D.Bernoulli(torch.full((s,), 0.5)), 0.5, D.SupportError, "support"),
    (lambda s: D.Poisson(torch.ones(s)), 1.5, D.SupportError, "integer"),
    (lambda s: D.Poisson(torch.ones(s)), INF, D.SupportError, "integer"),
    (lambda s: D.Binomial(torch.full((s,), 4.0), torch.full((s,), 0.5)), 5.0, D.SupportError, ""),
    (lambda s: D.Binomial(torch.full((s,), 4.0), torch.full((s,), 0.5)), 2.0, None, None),
    (lambda s: D.Uniform(torch.zeros(s), torch.ones(s)), 1.5, D.SupportError, "support"),
    (lambda s: D.Uniform(torch.ones(s), torch.zeros(s)), None, D.ParameterError, "low"),
    (lambda s: D.Uniform(torch.zeros(s), torch.ones(s)), 0.0, None, None),
    (lambda s: D.Geometric(torch.zeros(s)), None, D.ParameterError, "positive"),
    (lambda s: D.Pareto(torch.ones(s), torch.ones(s)), 0.5, D.SupportError, "support"),
    (
        lambda s: D.LogitRelaxedBernoulli(torch.tensor(-1.0), logits=torch.zeros(s)),
        None,
        D.ParameterError,
        "temperature",
    ),
    (
        lambda s: D.LogitRelaxedBernoulli(torch.full((s,), NAN), logits=torch.zeros(s)),
        None,
        D.ParameterError,
        "temperature",
    ),
    (lambda s: D.Dirichlet(torch.ones(s, 3)), torch.tensor([0.5, 0.6, -0.1]), D.SupportError, ""),
    (lambda s: D.Dirichlet(torch.ones(s, 3)), torch.tensor([0.2, 0.3, 0.5]), None, None),
    (lambda s: D.Dirichlet(torch.ones(s, 3).neg()), None, D.ParameterError, "concentration"),
    (
        lambda s: D.OneHotCategorical(torch.ones(s, 3)),
        torch.tensor([1.0, 1.0, 0.0]),
        D.SupportError,
        "",
    ),
    (lambda s: D.OneHotCategorical(torch.ones(s, 3)), torch.tensor([0.0, 1.0, 0.0]), None, None),
    (
        lambda s: D.Multinomial(3, torch.ones(s, 3)),
        torch.tensor([2.0, 2.0, 0.0]),
        D.SupportError,
        "",
    ),
    (lambda s: D.Multinomial(3, torch.ones(s, 3)), torch.tensor([1.0, 2.0, 0.0]), None, None),
    (lambda s: D.Categorical(torch.ones(s, 3)), torch.tensor(3), D.SupportError, "support"),
    (
        lambda s: D.MultivariateNormal(torch.zeros(s, 2), scale_tril=torch.eye(2).neg()),
        None,
        D.ParameterError,
        "scale_tril",
    ),
    (
        lambda s: D.LKJCholesky(3, torch.ones(s)),
        2 * torch.eye(3),
        D.SupportError,
        "correlation",
    ),
    (lambda s: D.LKJCholesky(3, torch.ones(s)), torch.eye(3), None, None),
    (
        lambda s: D.MixtureSameFamily(
            D.Categorical(torch.ones(s, 2)), D.Normal(0.0, torch.ones(s, 2))
        ),
        NAN,
        D.SupportError,
        "NaN",
    ),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
@pytest.mark.parametrize("size", [1, 4, 200])
def test_validation_raises_the_same_error_small_and_large(case, size):
    build, value, kind, text = ERRORS[case]

    def run():
        d = build(size)
        if value is not None:
            v = value if isinstance(value, torch.Tensor) else torch.full(d.batch_shape, value)
            d.log_prob(v)

    if kind is None:
        run()
        return
    with pytest.raises(kind) as info:
        run()
    assert text in str(info.value)


def test_messages_are_identical_on_both_paths():
    """The message does not depend on which path found the violation."""
    for size in (3, 300):
        scale = torch.ones(size)
        scale[1] = -0.5
        with pytest.raises(D.ParameterError) as info:
            D.Normal(torch.zeros(size), scale)
        assert str(info.value) == (
            f"Normal: parameter 'scale' must be positive (> 0), but 1 of {size} entries is "
            "not:\n  scale[1] = -0.5"
        )


def test_in_place_update_between_constructions_is_seen():
    scale = torch.ones(4)
    D.Normal(0.0, scale)
    scale[2] = -1.0
    with pytest.raises(D.ParameterError):
        D.Normal(0.0, scale)
    scale[2] = NAN
    with pytest.raises(D.ParameterError, match="NaN"):
        D.Normal(0.0, scale)


def test_a_relation_may_yield_true_when_a_cheap_test_passed():
    class Capped(D.Normal):
        def _parameter_relations(self):
            cap = ac.less_than(10.0)
            yield "scale", "below 10", cap.all_ok(self.scale) or self.scale < 10, {}

    Capped(0.0, torch.ones(3))
    with pytest.raises(D.ParameterError, match="below 10, but 1 of 3 entries is not"):
        Capped(0.0, torch.tensor([1.0, 20.0, 3.0]))


def test_relations_are_checked_small_and_large():
    for size in (2, 300):
        low = torch.zeros(size)
        high = torch.ones(size)
        high[-1] = NAN
        with pytest.raises(D.ParameterError, match="high"):
            D.Uniform(low, high)
        with pytest.raises(D.ParameterError, match="temperature"):
            D.RelaxedBernoulli(torch.full((size,), -1.0), probs=torch.full((size,), 0.5))
