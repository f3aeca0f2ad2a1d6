"""The simplex and Cholesky-factor transforms: parity with torch.distributions.transforms
(the oracle) and behaviour at the edges where float32 rounds to the boundary."""

import inspect
import itertools
import math
import pathlib

import pytest
import torch
import torch.distributions.transforms as TT

import aleatorch.transforms as T
from aleatorch import constraints
from aleatorch.utils import tril_matrix_to_vec

NAMES = [
    "SoftmaxTransform",
    "StickBreakingTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "CorrCholeskyTransform",
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_lower(shape, n, seed=0, dtype=torch.float64):
    return 0.7 * torch.randn(tuple(shape) + (n, n), generator=gen(seed), dtype=dtype).tril()


# --------------------------------------------------------------------- API parity


@pytest.mark.parametrize("name", NAMES)
def test_signature_flags_constraints_and_repr_match_torch(name):
    ours, theirs = getattr(T, name), getattr(TT, name)
    ours_sig, theirs_sig = inspect.signature(ours), inspect.signature(theirs)
    assert [(p.name, p.kind, p.default) for p in ours_sig.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs_sig.parameters.values()
    ]
    a, b = ours(), theirs()
    assert a.bijective == b.bijective
    assert repr(a) == repr(b)
    assert repr(a.domain) == repr(b.domain) and repr(a.codomain) == repr(b.codomain)
    assert a.domain.event_dim == b.domain.event_dim
    assert a.codomain.event_dim == b.codomain.event_dim
    assert name in T.__all__


def test_codomains_are_the_library_constraints():
    assert T.SoftmaxTransform.codomain is constraints.simplex
    assert T.StickBreakingTransform.codomain is constraints.simplex
    assert T.LowerCholeskyTransform.codomain is constraints.lower_cholesky
    assert T.PositiveDefiniteTransform.codomain is constraints.positive_definite
    assert T.CorrCholeskyTransform.codomain is constraints.corr_cholesky


@pytest.mark.parametrize("name", NAMES)
def test_equality_between_instances_and_classes(name):
    cls = getattr(T, name)
    assert cls() == cls() and cls() == cls(cache_size=1) and not (cls() != cls())
    for other in NAMES:
        if other != name:
            assert cls() != getattr(T, other)()
    assert cls().with_cache(1).cache_size == 1


def test_library_does_not_import_torch_distributions():
    source = pathlib.Path(T.__file__).with_name("_matrix.py").read_text()
    assert "torch.distributions" not in source


# ------------------------------------------------------------------ value parity


def check_inverse(ours, theirs, y, project):
    """float64: ours equals torch's inverse. float32: ours is within a few ulps of the
    exact inverse of the same ``y`` (in float64, after ``project`` puts it back exactly on
    the simplex or unit-norm rows, where both inverses agree), and no worse than torch's,
    whose ``1 - cumsum`` loses digits to cancellation."""
    if y.dtype == torch.float64:
        torch.testing.assert_close(ours.inv(y), theirs.inv(y))
        return
    exact = theirs.inv(project(y.double()))
    # Ours reads only ratios within a row, so it does not need the projection.
    torch.testing.assert_close(ours.inv(y.double()), exact)
    if exact.numel() == 0:
        return
    ours_err = (ours.inv(y).double() - exact).abs().max()
    theirs_err = (theirs.inv(y).double() - exact).abs().nan_to_num(math.inf).max()
    assert ours_err <= 2e-6 * max(1.0, float(exact.abs().max()))
    assert ours_err <= theirs_err + 1e-6


def to_simplex(y):
    return y / y.sum(-1, keepdim=True)


def to_unit_rows(y):
    return y / torch.linalg.vector_norm(y, dim=-1, keepdim=True)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_simplex_transforms_match_torch(k, shape, dtype):
    x = 2.0 * torch.randn(tuple(shape) + (k,), generator=gen(k), dtype=dtype)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {}
    # softmax
    ours, theirs = T.SoftmaxTransform(), TT.SoftmaxTransform()
    y = ours(x)
    torch.testing.assert_close(y, theirs(x), **tol)
    torch.testing.assert_close(ours.inv(y), theirs.inv(y), **tol)
    torch.testing.assert_close(ours(ours.inv(y)), y, **tol)
    assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)
    # stick breaking
    ours, theirs = T.StickBreakingTransform(), TT.StickBreakingTransform()
    y = ours(x)
    assert y.dtype == dtype and y.shape == theirs(x).shape
    torch.testing.assert_close(y, theirs(x), **tol)
    check_inverse(ours, theirs, y, to_simplex)
    ladj = ours.log_abs_det_jacobian(x, y)
    torch.testing.assert_close(ladj, theirs.log_abs_det_jacobian(x, y), **tol)
    assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)
    assert ours.inverse_shape(y.shape) == theirs.inverse_shape(y.shape)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_corr_cholesky_matches_torch(n, shape, dtype):
    count = n * (n - 1) // 2
    x = 1.5 * torch.randn(tuple(shape) + (count,), generator=gen(n), dtype=dtype)
    ours, theirs = T.CorrCholeskyTransform(), TT.CorrCholeskyTransform()
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {}
    y = ours(x)
    assert y.shape == tuple(shape) + (n, n) and y.dtype == dtype
    torch.testing.assert_close(y, theirs(x), **tol)
    check_inverse(ours, theirs, y, to_unit_rows)
    ladj = ours.log_abs_det_jacobian(x, y)
    if n > 1:
        torch.testing.assert_close(ladj, theirs.log_abs_det_jacobian(x, y), **tol)
    else:  # torch's log-det raises for 1 x 1 matrices; the map there is constant
        assert torch.equal(ladj, torch.zeros(shape, dtype=dtype))
    assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)
    assert ours.inverse_shape(y.shape) == theirs.inverse_shape(y.shape)


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_cholesky_transforms_match_torch(n, shape):
    x = torch.randn(tuple(shape) + (n, n), generator=gen(n), dtype=torch.float64)
    for name in ("LowerCholeskyTransform", "PositiveDefiniteTransform"):
        ours, theirs = getattr(T, name)(), getattr(TT, name)()
        y = ours(x)  # a full x: both drop its upper triangle
        torch.testing.assert_close(y, theirs(x))
        torch.testing.assert_close(ours.inv(y), theirs.inv(y))
        torch.testing.assert_close(ours.inv(y), x.tril())
        assert ours.forward_shape(x.shape) == theirs.forward_shape(x.shape)


# --------------------------------------------------------------- log-dets beyond torch


def test_lower_cholesky_log_det_is_the_sum_of_the_diagonal():
    x = random_lower((3,), 4)
    t = T.LowerCholeskyTransform()
    torch.testing.assert_close(
        t.log_abs_det_jacobian(x, t(x)), x.diagonal(dim1=-2, dim2=-1).sum(-1)
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_positive_definite_log_det_against_autograd_on_lower_triangles(n):
    t = T.PositiveDefiniteTransform()
    x = random_lower((), n, seed=n)

    def f(v):
        from aleatorch.utils import vec_to_tril_matrix

        return tril_matrix_to_vec(t(vec_to_tril_matrix(v)))

    jac = torch.autograd.functional.jacobian(f, tril_matrix_to_vec(x))
    expected = torch.linalg.slogdet(jac).logabsdet
    torch.testing.assert_close(t.log_abs_det_jacobian(x, t(x)), expected)
    # The closed form: n log 2 + sum_j (n - j + 2) x_jj, j = 1..n.
    weights = torch.arange(n + 1, 1, -1, dtype=x.dtype)
    closed = n * math.log(2) + (weights * x.diagonal()).sum()
    torch.testing.assert_close(t.log_abs_det_jacobian(x, t(x)), closed)


def test_positive_definite_inverse_of_a_general_matrix():
    a = torch.randn(3, 4, 4, generator=gen(1), dtype=torch.float64)
    sigma = a @ a.mT + 0.5 * torch.eye(4, dtype=torch.float64)
    t = T.PositiveDefiniteTransform()
    x, ladj = t.inverse_and_ladj(sigma)
    torch.testing.assert_close(t(x), sigma)
    torch.testing.assert_close(ladj, t.log_abs_det_jacobian(x, sigma))
    assert bool(constraints.positive_definite.check(t(x)).all())


# ------------------------------------------------------------------ edges in float32


def test_stick_breaking_float32_large_inputs_have_no_zero_or_nan():
    for signs in itertools.product([-1.0, 1.0], repeat=5):
        x = 40.0 * torch.tensor(signs)
        y, ladj = T.StickBreakingTransform().call_and_ladj(x)
        assert bool((y > 0).all()) and bool(y.isfinite().all())
        assert abs(float(y.sum()) - 1) < 1e-6
        assert bool(ladj.isfinite())
        x_back = T.StickBreakingTransform().inv(y)
        assert bool(x_back.isfinite().all())
        # The log-det comes from x alone, so float32 agrees with float64.
        ladj64 = T.StickBreakingTransform().log_abs_det_jacobian(x.double(), y.double())
        torch.testing.assert_close(ladj.double(), ladj64, rtol=1e-6, atol=1e-4)


def test_stick_breaking_float32_round_trip_at_40_where_representable():
    # With two breaks every entry (down to exp(-80)) is a float32 normal number.
    t = T.StickBreakingTransform()
    for signs in itertools.product([-1.0, 1.0], repeat=2):
        x = 40.0 * torch.tensor(signs)
        y = t(x)
        assert float(y.min()) > torch.finfo(torch.float32).tiny
        torch.testing.assert_close(t.inv(y), x, rtol=1e-5, atol=1e-4)


def test_stick_breaking_inverse_clamps_exact_zeros():
    y = torch.tensor([1.0, 0.0, 0.0])
    x = T.StickBreakingTransform().inv(y)
    assert bool(x.isfinite().all())


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_corr_cholesky_near_singular_float32(n):
    count = n * (n - 1) // 2
    t = T.CorrCholeskyTransform()
    signs = torch.where(torch.rand(16, count, generator=gen(n)) < 0.5, -1.0, 1.0)
    x = 20.0 * signs
    y, ladj = t.call_and_ladj(x)
    assert y.dtype == torch.float32
    assert bool(y.isfinite().all()) and bool(ladj.isfinite().all())
    assert bool(y.diagonal(dim1=-2, dim2=-1).gt(0).all())
    assert bool(constraints.corr_cholesky.check(y).all())
    x_back, ladj_back = t.inverse_and_ladj(y)
    assert bool(x_back.isfinite().all()) and bool(ladj_back.isfinite().all())
    torch.testing.assert_close(x_back, x, rtol=1e-5, atol=1e-4)
    ladj64 = t.log_abs_det_jacobian(x.double(), t(x.double()))
    torch.testing.assert_close(ladj.double(), ladj64, rtol=1e-6, atol=1e-3)
    # Gradients through the inverse stay finite too.
    y_req = y.clone().requires_grad_()
    (grad,) = torch.autograd.grad(t.inv(y_req).sum(), y_req)
    assert bool(grad.isfinite().all())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_corr_cholesky_rows_have_unit_norm(dtype):
    t = T.CorrCholeskyTransform()
    x = 3.0 * torch.randn(50, 10, generator=gen(3), dtype=dtype)
    y = t(x)
    norms = torch.linalg.vector_norm(y, dim=-1)
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(norms, torch.ones_like(norms), rtol=0, atol=20 * eps)
    assert torch.equal(y, y.tril())
    corr = y @ y.mT
    torch.testing.assert_close(
        corr.diagonal(dim1=-2, dim2=-1), torch.ones(50, 5, dtype=dtype), rtol=0, atol=40 * eps
    )


def test_corr_cholesky_inverse_at_the_identity_has_unit_gradient():
    t = T.CorrCholeskyTransform()
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.equal(t.inv(eye), torch.zeros(6, dtype=torch.float64))
    jac = torch.autograd.functional.jacobian(t.inv, eye)
    expected = torch.zeros(6, 4, 4, dtype=torch.float64)
    for k, (i, j) in enumerate(zip(*torch.tril_indices(4, 4, -1).tolist())):
        expected[k, i, j] = 1.0
    torch.testing.assert_close(jac, expected)


def test_corr_cholesky_shape_errors_name_the_transform():
    t = T.CorrCholeskyTransform()
    with pytest.raises(ValueError, match="CorrCholeskyTransform"):
        t.forward_shape((3, 4))
    with pytest.raises(ValueError, match="CorrCholeskyTransform"):
        t(torch.zeros(5))
    with pytest.raises(ValueError, match="CorrCholeskyTransform"):
        t.inverse_shape((3, 4))
    with pytest.raises(ValueError, match="CorrCholeskyTransform"):
        t.forward_shape(())
    assert t.forward_shape((2, 10)) == (2, 5, 5)
    assert t.inverse_shape((2, 5, 5)) == (2, 10)
    assert t.inv.forward_shape((5, 5)) == (10,)


def test_stick_breaking_shapes_and_errors():
    t = T.StickBreakingTransform()
    assert t.forward_shape((2, 3)) == (2, 4) and t.inverse_shape((2, 4)) == (2, 3)
    with pytest.raises(ValueError, match="StickBreakingTransform"):
        t.forward_shape(())
