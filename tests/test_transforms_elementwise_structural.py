"""Abs, Power, Softplus, CumulativeDistribution, Independent, Reshape, Cat and Stack: what
the generic suite (``test_transforms.py``) cannot see.

torch.distributions is the oracle for parity (the library never imports it); exact
references come from closed forms evaluated with the standard library's ``decimal``.
"""

import decimal
import inspect
import math
import pathlib
import pickle

import pytest
import torch
import torch.distributions as td
import torch.distributions.transforms as TT

import aleatorch
import aleatorch.transforms as T
from aleatorch.errors import ShapeError

F64 = torch.float64
NAMES = [
    "AbsTransform",
    "PowerTransform",
    "SoftplusTransform",
    "CumulativeDistributionTransform",
    "IndependentTransform",
    "ReshapeTransform",
    "CatTransform",
    "StackTransform",
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def total_log_det(t, x):
    """``log |det J|`` of the whole map ``x.flatten() -> t(x).flatten()`` (autograd)."""
    jac = torch.autograd.functional.jacobian(lambda v: t(v.reshape(x.shape)).reshape(-1), x)
    jac = jac.reshape(t(x).numel(), x.numel())
    return torch.linalg.slogdet(jac).logabsdet


# --------------------------------------------------------------------- the API


@pytest.mark.parametrize("name", NAMES)
def test_constructor_signature_matches_torch(name):
    ours = inspect.signature(getattr(T, name)).parameters
    theirs = inspect.signature(getattr(TT, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]
    assert name in T.__all__ and name in aleatorch.__all__


def test_library_modules_do_not_import_torch_distributions():
    folder = pathlib.Path(T.__file__).parent
    for module in ("_elementwise.py", "_structural.py"):
        assert "torch.distributions" not in (folder / module).read_text()


# ------------------------------------------------------------------------- abs


def test_abs_is_torchs_non_injective_map():
    t, theirs = T.AbsTransform(), TT.AbsTransform()
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.equal(t(x), theirs(x)) and torch.equal(t.inv(x), theirs.inv(x))
    assert t.bijective is False and t.inv.bijective is False
    assert t.domain is aleatorch.constraints.real
    assert t.codomain is aleatorch.constraints.positive
    for attempt in (lambda: t.sign, lambda: t.log_abs_det_jacobian(x, t(x))):
        with pytest.raises(NotImplementedError):
            attempt()
    assert t == T.AbsTransform(cache_size=1) and t != T.ExpTransform()


# ----------------------------------------------------------------------- power


@pytest.mark.parametrize("exponent", [-0.5, -2.0, -3, torch.tensor([-1.5, -0.25], dtype=F64)])
def test_power_negative_exponent_round_trip_and_log_det(exponent):
    t = T.PowerTransform(exponent)
    x = 0.1 + 5 * torch.rand(4, 2, generator=gen(), dtype=F64)
    y = t(x)
    p = torch.as_tensor(exponent, dtype=F64)
    torch.testing.assert_close(y, x**p, rtol=1e-15, atol=0)
    assert bool((t.sign == -1).all())
    torch.testing.assert_close(t.inv(y), x, rtol=1e-14, atol=0)
    expected = (p.abs() * x ** (p - 1)).log()  # log |p x^(p-1)|
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), expected, rtol=1e-13, atol=1e-14)
    for got_x, ladj in (t.inverse_and_ladj(y), t.inv.call_and_ladj(y)):
        torch.testing.assert_close(got_x, x, rtol=1e-14, atol=0)
        torch.testing.assert_close(ladj.abs(), expected.abs(), rtol=1e-13, atol=1e-14)
    # Elementwise: the log-det is the log of the derivative, entry by entry.
    xg = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(t(xg).sum(), xg)
    assert bool((grad < 0).all())
    torch.testing.assert_close(grad.abs().log(), expected, rtol=1e-12, atol=1e-12)


def test_power_log_det_is_finite_where_the_output_overflows():
    """``log |p y / x|`` (torch's form) becomes inf once ``y`` overflows; ``log |p| +
    (p-1) log x`` stays exact."""
    x = torch.tensor([1e20, 1e-20], dtype=torch.float32)
    t = T.PowerTransform(3.0)
    y = t(x)
    assert bool(torch.isinf(y[0])) and y[1] == 0
    expected = math.log(3.0) + 2 * x.double().log()
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y).double(), expected, rtol=1e-6, atol=0)


def test_power_float64_round_trip_is_exact_for_a_float32_stored_exponent():
    """A number exponent is stored as a float32 tensor (as torch does); ``1 / 3`` is taken in
    float64 for float64 inputs, so the round trip keeps float64 accuracy."""
    t = T.PowerTransform(3.0)
    assert t.exponent.dtype == torch.get_default_dtype() == torch.float32
    x = 0.1 + 5 * torch.rand(100, generator=gen(), dtype=F64)
    error = ((t.inv(t(x)) - x) / x).abs().max()
    assert error < 4 * torch.finfo(F64).eps
    assert t.inv(t(x.float())).dtype == torch.float32


def test_power_broadcasts_exponent_and_matches_torchs_equality():
    t = T.PowerTransform(torch.tensor([0.5, -2.0], dtype=F64))
    x = torch.tensor([[2.0], [3.0], [4.0]], dtype=F64)
    y = t(x)
    assert y.shape == (3, 2) == t.forward_shape(x.shape) == t.inverse_shape(x.shape)
    assert t.log_abs_det_jacobian(x, y).shape == (3, 2)
    assert torch.equal(t.sign, torch.tensor([1.0, -1.0], dtype=F64))
    # torch compares exponents with broadcasting: 2. equals [2., 2.].
    assert T.PowerTransform(2.0) == T.PowerTransform(torch.tensor([2.0, 2.0]))
    assert T.PowerTransform(2.0) != T.PowerTransform(-2.0)
    assert T.PowerTransform(torch.ones(2)) != T.PowerTransform(torch.ones(3))
    with pytest.raises(TypeError, match="exponent"):
        T.PowerTransform([1.0, 2.0])


# -------------------------------------------------------------------- softplus


def _exact_inverse_softplus(y: float) -> float:
    """``log(e^y - 1)`` to far beyond float64, with ``decimal``."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        d = decimal.Decimal(y)  # the exact binary value of the float
        return float((d.exp() - 1).ln())


def _exact_log1m_exp_neg(y: float) -> float:
    """``log(1 - e^-y)``, i.e. ``-softplus(-x)`` at ``x = log(e^y - 1)``."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        return float((1 - (-decimal.Decimal(y)).exp()).ln())


def _exact_softplus(x: float) -> float:
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        return float((decimal.Decimal(x).exp() + 1).ln())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softplus_inverse_is_accurate_from_1e_30_to_100(dtype):
    y = torch.cat([torch.logspace(-30, 2, 400, dtype=F64), torch.tensor([math.log(2.0)])])
    y = y.to(dtype)  # the values tested are the representable ones
    exact = torch.tensor([_exact_inverse_softplus(v) for v in y.double().tolist()], dtype=F64)
    eps = torch.finfo(dtype).eps
    got = T.SoftplusTransform().inv(y)
    assert got.dtype == dtype
    # A few ulps of |x|, and absolute where x crosses 0 (y = log 2 is ill-conditioned).
    bound = 4 * eps * (exact.abs() + 1)
    assert bool(((got.double() - exact).abs() <= bound).all())
    x, ladj = T.SoftplusTransform().inverse_and_ladj(y)
    assert torch.equal(x, got)
    # ladj = -softplus(-x) = log(1 - e^-y), to a few ulps even where it is tiny (large y).
    exact_ladj = torch.tensor([_exact_log1m_exp_neg(v) for v in y.double().tolist()], dtype=F64)
    # (float32 subnormals, below tiny, carry fewer digits.)
    bound = 4 * eps * exact_ladj.abs() + torch.finfo(dtype).tiny
    assert bool(((ladj.double() - exact_ladj).abs() <= bound).all())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softplus_forward_and_log_det_are_accurate_in_the_tails(dtype):
    x = torch.linspace(-60.0, 60.0, 241, dtype=dtype)
    exact = torch.tensor([_exact_softplus(v) for v in x.double().tolist()], dtype=F64)
    eps = torch.finfo(dtype).eps
    t = T.SoftplusTransform()
    y, ladj = t.call_and_ladj(x)
    assert bool(((y.double() - exact) / exact).abs().max() <= 2 * eps)
    exact_ladj = -torch.tensor([_exact_softplus(-v) for v in x.double().tolist()], dtype=F64)
    assert bool(((ladj.double() - exact_ladj) / exact_ladj).abs().max() <= 2 * eps)
    torch.testing.assert_close(t.log_abs_det_jacobian(x, y), ladj, rtol=0, atol=0)


def test_softplus_matches_torch_where_torch_is_exact():
    x = torch.linspace(-15.0, 15.0, 61, dtype=F64)
    ours, theirs = T.SoftplusTransform(), TT.SoftplusTransform()
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-15, atol=1e-300)
    y = ours(x)
    torch.testing.assert_close(ours.inv(y), theirs.inv(y), rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(
        ours.log_abs_det_jacobian(x, y), theirs.log_abs_det_jacobian(x, y), rtol=1e-15, atol=1e-300
    )


# ------------------------------------------------------------ cumulative dist


def test_cdf_transform_matches_torch_and_autograd():
    ours = T.CumulativeDistributionTransform(aleatorch.Normal(0.5, 2.0))
    theirs = TT.CumulativeDistributionTransform(td.Normal(0.5, 2.0))
    x = torch.linspace(-5.0, 6.0, 23, dtype=F64)
    y = ours(x)
    torch.testing.assert_close(y, theirs(x))
    torch.testing.assert_close(ours.inv(y), theirs.inv(y))
    ladj = ours.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(ladj, theirs.log_abs_det_jacobian(x, y))
    xg = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(ours(xg).sum(), xg)
    torch.testing.assert_close(grad.log(), ladj)
    assert ours.sign == theirs.sign == 1 and ours.bijective and ours.event_dim == 0
    assert ours.codomain is aleatorch.constraints.unit_interval


def test_cdf_transform_domain_is_the_support_and_equality_is_by_law():
    d = aleatorch.Exponential(torch.tensor([1.0, 2.0]))
    t = T.CumulativeDistributionTransform(d)
    assert t.domain is d.support or repr(t.domain) == repr(d.support)
    assert t == T.CumulativeDistributionTransform(d, cache_size=1)
    assert t == pickle.loads(pickle.dumps(t))
    assert t == T.CumulativeDistributionTransform(aleatorch.Exponential(torch.tensor([1.0, 2.0])))
    assert t != T.CumulativeDistributionTransform(aleatorch.Exponential(torch.tensor([1.0, 3.0])))
    assert t != T.CumulativeDistributionTransform(aleatorch.Exponential(2.0))
    assert t != T.CumulativeDistributionTransform(aleatorch.Normal(0.0, 1.0))
    assert t.with_cache(1).distribution is d


# ----------------------------------------------------------------- independent


class _Spy(T.ExpTransform):
    """An ExpTransform that counts its evaluations (a value and a log-det computed
    separately count twice)."""

    def __init__(self, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.calls = 0

    def with_cache(self, cache_size=1):
        return self if cache_size == self.cache_size else _Spy(cache_size)

    def _call(self, x):
        self.calls += 1
        return super()._call(x)

    def _inverse(self, y):
        self.calls += 1
        return super()._inverse(y)

    def log_abs_det_jacobian(self, x, y):
        self.calls += 1
        return super().log_abs_det_jacobian(x, y)

    def _call_and_ladj(self, x):
        self.calls += 1
        return super()._call_and_ladj(x)

    def _inverse_and_ladj(self, y):
        self.calls += 1
        return super()._inverse_and_ladj(y)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b: T.IndependentTransform(b, 1),
        lambda b: T.CatTransform([b, T.AffineTransform(0.0, 2.0)], dim=-1, lengths=[3, 1]),
        lambda b: T.StackTransform([b, b], dim=0),
    ],
    ids=["independent", "cat", "stack"],
)
def test_composed_flows_evaluate_each_part_once(wrap):
    base = _Spy()
    flow = T.ComposeTransform([wrap(base), T.AffineTransform(1.0, 3.0)])
    x = torch.randn(2, 4, generator=gen(), dtype=F64)
    calls_per_pass = len([p for p in getattr(flow.parts[0], "transforms", [base]) if p is base])
    y, ladj = flow.call_and_ladj(x)
    assert base.calls == calls_per_pass
    torch.testing.assert_close(ladj, flow.log_abs_det_jacobian(x, y))
    base.calls = 0
    x2, ladj2 = flow.inverse_and_ladj(y)
    assert base.calls == calls_per_pass
    torch.testing.assert_close(x2, x)
    torch.testing.assert_close(ladj2, ladj)


def test_independent_matches_torch_and_checks_its_arguments():
    pairs = (
        (T.ExpTransform(), TT.ExpTransform(), 1),
        (T.AffineTransform(1.0, 2.0, event_dim=1), TT.AffineTransform(1.0, 2.0, event_dim=1), 1),
        (T.SigmoidTransform(), TT.SigmoidTransform(), 2),
    )
    for base, theirs_base, n in pairs:
        ours, theirs = T.IndependentTransform(base, n), TT.IndependentTransform(theirs_base, n)
        x = torch.randn(3, 2, 4, generator=gen(), dtype=F64)
        torch.testing.assert_close(ours(x), theirs(x))
        y = ours(x)
        torch.testing.assert_close(ours.inv(y), theirs.inv(y))
        torch.testing.assert_close(
            ours.log_abs_det_jacobian(x, y), theirs.log_abs_det_jacobian(x, y)
        )
        assert ours.domain.event_dim == theirs.domain.event_dim
        assert ours.codomain.event_dim == theirs.codomain.event_dim
        assert ours.sign == theirs.sign and ours.bijective == theirs.bijective
    assert repr(T.IndependentTransform(T.ExpTransform(), 2)) == repr(
        TT.IndependentTransform(TT.ExpTransform(), 2)
    )
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        T.IndependentTransform(T.ExpTransform(), -1)
    with pytest.raises(TypeError, match="Transform"):
        T.IndependentTransform(lambda x: x, 1)
    with pytest.raises(ShapeError, match="at least 2 dims"):
        T.IndependentTransform(T.ExpTransform(), 2)(torch.zeros(3))
    cached = T.IndependentTransform(T.ExpTransform(), 1, cache_size=1)
    assert cached.base_transform.cache_size == 1
    assert T.IndependentTransform(T.ExpTransform(), 1) != T.IndependentTransform(
        T.ExpTransform(), 2
    )


# --------------------------------------------------------------------- reshape


def test_reshape_matches_torch_and_rejects_wrong_shapes():
    ours, theirs = T.ReshapeTransform((2, 3), (3, 2)), TT.ReshapeTransform((2, 3), (3, 2))
    x = torch.randn(4, 2, 3, generator=gen(), dtype=F64)
    assert torch.equal(ours(x), theirs(x)) and torch.equal(ours.inv(ours(x)), x)
    assert torch.equal(ours.log_abs_det_jacobian(x, ours(x)), theirs.log_abs_det_jacobian(x, x))
    assert ours.forward_shape((4, 2, 3)) == theirs.forward_shape(torch.Size((4, 2, 3)))
    assert ours.inverse_shape((4, 3, 2)) == theirs.inverse_shape(torch.Size((4, 3, 2)))
    assert ours.domain.event_dim == 2 and ours.codomain.event_dim == 2 and ours.event_dim == 2
    with pytest.raises(ValueError, match="numbers of elements"):
        T.ReshapeTransform((2, 3), (5,))
    for attempt in (
        lambda: ours.forward_shape((3, 2)),
        lambda: ours.inverse_shape((2,)),
        lambda: ours(torch.zeros(3, 2)),
    ):
        with pytest.raises(ShapeError):
            attempt()
    assert ours == T.ReshapeTransform([2, 3], [3, 2]) and ours != T.ReshapeTransform((6,), (6,))


# ----------------------------------------------------------------- cat / stack


def _cases():
    """(name, ours, theirs, x): the same Cat/Stack in both libraries and an input."""
    x4 = torch.randn(2, 3, 4, generator=gen(1), dtype=F64)
    cases = []

    def both(name, build, x):
        cases.append((name, build(T), build(TT), x))

    both(
        "cat_last_dim",
        lambda M: M.CatTransform(
            [M.ExpTransform(), M.AffineTransform(0.5, -2.0)], dim=-1, lengths=[1, 3]
        ),
        x4,
    )
    both(
        "cat_dim_0",
        lambda M: M.CatTransform([M.TanhTransform(), M.SigmoidTransform()], dim=0, lengths=[1, 1]),
        x4,
    )
    both(
        "cat_dim_1_positive",
        lambda M: M.CatTransform([M.ExpTransform(), M.SoftplusTransform()], dim=1, lengths=[2, 1]),
        x4,
    )
    both(
        "cat_event_parts_along_event",
        lambda M: M.CatTransform(
            [M.IndependentTransform(M.ExpTransform(), 1), M.AffineTransform(1.0, 3.0, 1)],
            dim=-1,
            lengths=[2, 2],
        ),
        x4,
    )
    both(
        "cat_event_parts_along_batch",
        lambda M: M.CatTransform(
            [
                M.IndependentTransform(M.ExpTransform(), 1),
                M.IndependentTransform(M.SigmoidTransform(), 1),
            ],
            dim=-2,
            lengths=[1, 2],
        ),
        x4,
    )
    both(
        "cat_mixed_event_dims",
        lambda M: M.CatTransform(
            [M.ExpTransform(), M.AffineTransform(-1.0, 0.5, event_dim=1)], dim=-1, lengths=[3, 1]
        ),
        x4,
    )
    both(
        "stack_dim_0",
        lambda M: M.StackTransform([M.ExpTransform(), M.AffineTransform(1.0, -2.0)], dim=0),
        x4,
    )
    both(
        "stack_dim_1",
        lambda M: M.StackTransform(
            [M.TanhTransform(), M.ExpTransform(), M.SoftplusTransform()], dim=1
        ),
        x4,
    )
    both(
        "stack_event_parts_dim_0",
        lambda M: M.StackTransform(
            [M.IndependentTransform(M.ExpTransform(), 1), M.AffineTransform(0.5, 2.0, 1)], dim=0
        ),
        x4,
    )
    # Negative dims: torch's log-det keeps the stacked dim (see StackTransform's note).
    both(
        "stack_last_dim",
        lambda M: M.StackTransform(
            [M.ExpTransform(), M.SigmoidTransform(), M.TanhTransform(), M.ExpTransform()], dim=-1
        ),
        x4,
    )
    both(
        "stack_event_parts_dim_minus_2",
        lambda M: M.StackTransform(
            [M.IndependentTransform(M.ExpTransform(), 1)] * 3,
            dim=-2,
        ),
        x4,
    )
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cat_and_stack_match_torch(case):
    _, ours, theirs, x = case
    # The parts' formulas differ in the last bits (softplus), hence not bitwise.
    close = {"rtol": 1e-13, "atol": 1e-15}
    y = ours(x)
    torch.testing.assert_close(y, theirs(x), **close)
    torch.testing.assert_close(ours.inv(y), theirs.inv(y), **close)
    ladj = ours.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(ladj, theirs.log_abs_det_jacobian(x, y), **close)
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    assert ours.bijective == theirs.bijective
    if isinstance(ours, T.CatTransform):
        assert ours.event_dim == theirs.event_dim and ours.length == theirs.length
    assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)
    # The hooks give the same numbers.
    y2, ladj2 = ours.call_and_ladj(x)
    torch.testing.assert_close(y2, y, rtol=0, atol=0)
    torch.testing.assert_close(ladj2, ladj, rtol=1e-15, atol=1e-300)
    x3, ladj3 = ours.inverse_and_ladj(y)
    torch.testing.assert_close(x3, x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ladj3, ladj, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cat_and_stack_log_det_against_autograd(case):
    """Whatever the layout of the log-det, its entries add up to ``log |det J|`` of the
    whole map (all of these maps are block diagonal)."""
    _, ours, _, x = case
    ladj = ours.log_abs_det_jacobian(x, ours(x))
    torch.testing.assert_close(ladj.sum(), total_log_det(ours, x), rtol=1e-12, atol=1e-12)


def test_cat_log_det_layout_follows_the_event():
    x = torch.randn(2, 3, 4, generator=gen(), dtype=F64)
    along_event = T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1)] * 2, dim=-1, lengths=[1, 3]
    )
    # dim inside the event: one log-det per event, the blocks' added.
    assert along_event.log_abs_det_jacobian(x, along_event(x)).shape == (2, 3)
    torch.testing.assert_close(along_event.log_abs_det_jacobian(x, along_event(x)), x.sum(-1))
    along_batch = T.CatTransform(
        [T.IndependentTransform(T.ExpTransform(), 1)] * 2, dim=-2, lengths=[1, 2]
    )
    # dim left of the event: concatenated, one per event.
    torch.testing.assert_close(along_batch.log_abs_det_jacobian(x, along_batch(x)), x.sum(-1))
    mixed = T.CatTransform(
        [T.ExpTransform(), T.AffineTransform(0.0, 2.0, event_dim=1)], dim=-1, lengths=[3, 1]
    )
    expected = x[..., :3].sum(-1) + math.log(2.0)
    torch.testing.assert_close(mixed.log_abs_det_jacobian(x, mixed(x)), expected)


def test_stack_and_cat_signs():
    x = torch.randn(3, 2, generator=gen(), dtype=F64).requires_grad_()
    decreasing = T.AffineTransform(0.0, -1.0)
    stacked = T.StackTransform([T.ExpTransform(), decreasing], dim=-1)
    (grad,) = torch.autograd.grad(stacked(x).sum(), x)
    assert torch.equal(grad.sign(), stacked.sign.to(grad.dtype).expand(grad.shape))
    catted = T.CatTransform([decreasing, T.ExpTransform()], dim=-2, lengths=[1, 2])
    (grad,) = torch.autograd.grad(catted(x).sum(), x)
    assert torch.equal(grad.sign(), catted.sign.to(grad.dtype).expand(grad.shape))
    assert T.StackTransform([T.ExpTransform(), T.SigmoidTransform()], dim=0).sign == 1
    assert T.CatTransform([decreasing, decreasing], dim=0).sign == -1
    for no_sign in (
        T.StackTransform([T.ExpTransform(), decreasing], dim=0),  # mixed along dim >= 0
        T.CatTransform([T.ExpTransform(), T.ReshapeTransform((1,), (1,))], dim=-1),
    ):
        with pytest.raises(NotImplementedError):
            _ = no_sign.sign


def test_cat_and_stack_check_their_arguments_and_inputs():
    with pytest.raises(TypeError, match="Transform"):
        T.CatTransform([T.ExpTransform(), "exp"])
    with pytest.raises(ValueError, match="lengths"):
        T.CatTransform([T.ExpTransform()], lengths=[1, 2])
    with pytest.raises(ValueError, match="at least one"):
        T.StackTransform([])
    cat = T.CatTransform([T.ExpTransform(), T.ExpTransform()], dim=-1, lengths=[2, 2])
    stack = T.StackTransform([T.ExpTransform(), T.ExpTransform()], dim=-1)
    for bad in (
        lambda: cat(torch.zeros(3)),
        lambda: cat.inv(torch.ones(2, 5)),
        lambda: stack(torch.zeros(3)),
        lambda: T.StackTransform([T.ExpTransform()], dim=2)(torch.zeros(1, 1)),
    ):
        with pytest.raises(ShapeError):
            bad()


def test_cat_and_stack_caching_equality_and_repr():
    parts = [T.ExpTransform(), T.AffineTransform(1.0, 2.0)]
    cat = T.CatTransform(parts, dim=-1, lengths=[1, 2], cache_size=1)
    assert all(p.cache_size == 1 for p in cat.transforms)
    assert cat == T.CatTransform(parts, dim=-1, lengths=[1, 2])
    assert cat != T.CatTransform(parts, dim=-1, lengths=[2, 1])
    assert cat != T.CatTransform(parts, dim=0, lengths=[1, 2])
    assert cat.with_cache(0).cache_size == 0 and cat.with_cache(1) is cat
    stack = T.StackTransform(parts, dim=1)
    assert stack == T.StackTransform(list(parts), dim=1) and stack != T.StackTransform(parts)
    assert stack != T.StackTransform(parts[::-1], dim=1)
    assert repr(cat).startswith("CatTransform([ExpTransform(), AffineTransform(")
    assert repr(stack).endswith("], dim=1)")
    clone = pickle.loads(pickle.dumps(cat))
    assert clone == cat and clone.cache_size == 1
