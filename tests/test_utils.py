"""aleatorch.utils against torch.distributions.utils as the oracle."""

import math

import pytest
import torch
import torch.distributions.utils as tu

from aleatorch import utils as au
from aleatorch.errors import DeviceError


def test_broadcast_all_matches_torch():
    x = torch.zeros(3, 1, dtype=torch.float64)
    for args in [(x, 1.0), (1.0, 2), (x, torch.ones(4)), (2.5, x)]:
        ours, theirs = au.broadcast_all(*args), tu.broadcast_all(*args)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and a.dtype == b.dtype
            assert torch.equal(a, b)
    with pytest.raises(ValueError):
        au.broadcast_all(x, "a")


@pytest.mark.parametrize("is_binary", [True, False])
def test_probs_logits_round_trip_matches_torch(is_binary):
    probs = torch.tensor([[0.0, 0.2, 0.8], [1.0, 0.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(
        au.probs_to_logits(probs, is_binary), tu.probs_to_logits(probs, is_binary)
    )
    logits = torch.tensor([[-50.0, 0.0, 3.0], [1.0, 2.0, 40.0]], dtype=torch.float64)
    torch.testing.assert_close(
        au.logits_to_probs(logits, is_binary), tu.logits_to_probs(logits, is_binary)
    )


def test_clamp_probs_matches_torch():
    probs = torch.tensor([0.0, 1e-30, 0.5, 1.0])
    assert torch.equal(au.clamp_probs(probs), tu.clamp_probs(probs))


@pytest.mark.parametrize("diag", [-1, 0, 1])
def test_tril_vec_round_trip_matches_torch(diag):
    mat = torch.arange(16.0).reshape(4, 4).tril(diag)
    vec = au.tril_matrix_to_vec(mat, diag)
    assert torch.equal(vec, tu.tril_matrix_to_vec(mat, diag))
    assert torch.equal(au.vec_to_tril_matrix(vec, diag), tu.vec_to_tril_matrix(vec, diag))
    assert torch.equal(au.vec_to_tril_matrix(vec, diag), mat)


def test_vec_to_tril_matrix_rejects_impossible_lengths():
    with pytest.raises(ValueError):
        au.vec_to_tril_matrix(torch.zeros(5))


def test_lazy_property_computes_once_and_caches():
    calls = []

    class Thing:
        @au.lazy_property
        def value(self):
            calls.append(1)
            return torch.tensor(3.0)

    t = Thing()
    assert t.value == 3 and t.value == 3
    assert calls == [1]
    assert "value" in t.__dict__
    assert isinstance(Thing.value, au.lazy_property) and isinstance(Thing.value, property)


def test_lazy_property_builds_a_graph_even_under_no_grad():
    leaf = torch.tensor(2.0, requires_grad=True)

    class Thing:
        @au.lazy_property
        def square(self):
            return leaf**2

    with torch.no_grad():
        value = Thing().square
    assert value.requires_grad


def test_as_params_promotes_like_torch_ops_and_makes_views():
    x = torch.zeros(3, 1, dtype=torch.float64)
    loc, scale = au.as_params(x, 2)
    assert loc is x and scale.dtype == torch.float64 and scale.shape == (3, 1)
    (n,) = au.as_params(torch.tensor([1, 2]))
    assert n.dtype == torch.get_default_dtype()
    a, b = au.as_params(torch.zeros(3), torch.ones(2, 1))
    assert a.shape == b.shape == (2, 3) and a._base is not None  # views, not copies


def test_as_params_without_broadcasting_keeps_each_shape():
    loc, matrix = au.as_params(torch.zeros(2), torch.eye(2, dtype=torch.float64), broadcast=False)
    assert loc.shape == (2,) and matrix.shape == (2, 2)
    assert loc.dtype == matrix.dtype == torch.float64


def test_as_params_rejects_mixed_devices_and_non_numbers():
    with pytest.raises(DeviceError, match="Thing: parameters live on different devices"):
        au.as_params(torch.zeros(2), torch.zeros(2, device="meta"), owner="Thing")
    with pytest.raises(TypeError, match="Thing: expected a number or a torch.Tensor"):
        au.as_params([1.0], owner="Thing")


@pytest.mark.parametrize(
    "shapes",
    [((2, 1), (3,), (4, 1, 1)), ((),), ((5,), ()), ((1, 3), [2, 1]), ((0,), (1,))],
)
def test_broadcast_shapes_matches_torch(shapes):
    from aleatorch.utils import broadcast_shapes

    assert broadcast_shapes(*shapes) == torch.broadcast_shapes(*shapes)


def test_broadcast_shapes_raises_like_torch():
    from aleatorch.utils import broadcast_shapes

    with pytest.raises(RuntimeError):
        broadcast_shapes((2,), (3,))


# ---------------------------------------------------------------- textbook_dtype


@pytest.mark.parametrize("numel", [3, 100])  # the Python loop and the reduction
def test_textbook_dtype_tiers(numel):
    from aleatorch.utils import textbook_dtype, textbook_range

    def full(v, dtype=torch.float32):
        return torch.full((numel,), v, dtype=dtype)

    assert textbook_dtype(10.0, full(10.0), full(-3.0)) is torch.float32
    assert textbook_dtype(10.0, full(11.0)) is torch.float64  # widened
    assert textbook_dtype(10.0, full(1e8)) is torch.float64
    assert textbook_dtype(10.0, full(-11.0)) is torch.float64  # |x|: the negative end counts
    assert textbook_dtype(10.0, full(-2e8)) is None
    assert textbook_dtype(10.0, full(-math.inf)) is None
    assert textbook_dtype(10.0, full(2e8)) is None  # beyond the widened range: exact form
    assert textbook_dtype(10.0, full(11.0, torch.float64)) is None  # nothing wider
    assert textbook_dtype(10.0, full(5.0, torch.float64)) is torch.float64
    nan = full(1.0)
    nan[-1] = math.nan
    assert textbook_dtype(10.0, nan) is None and not textbook_range(10.0, nan)
    assert textbook_dtype(10.0, full(1.0), nan) is None
    assert textbook_range(10.0, full(10.0)) and not textbook_range(10.0, full(10.5))


def test_textbook_dtype_inside_transforms_and_compile():
    from aleatorch.utils import textbook_dtype

    seen = []

    def f(x):
        seen.append(textbook_dtype(10.0, x))
        return x

    torch.func.vmap(f)(torch.ones(3, 2))
    assert seen == [None]  # a functorch-wrapped tensor cannot be read back
    seen.clear()
    torch.compile(f, backend="eager", fullgraph=True)(torch.ones(3))
    assert seen == [None]


@pytest.mark.parametrize("k", [1, 3, 15, 16, 40])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_last_matches_torch_in_value_and_gradient(k, dtype):
    g = torch.Generator().manual_seed(k)
    x = (torch.randn(5000, k, generator=g, dtype=dtype) * 30).requires_grad_()
    with torch.no_grad():
        x[0] = -math.inf  # a row of -inf: NaN, as torch's
        x[1, 0] = -math.inf
        x[2] *= 1e3
    ours, theirs = au.softmax_last(x), torch.softmax(x, -1)
    torch.testing.assert_close(ours, theirs, equal_nan=True)
    w = torch.randn(5000, k, generator=g, dtype=dtype)
    (gx,) = torch.autograd.grad((ours[1:] * w[1:]).sum(), x)
    (tx,) = torch.autograd.grad((theirs[1:] * w[1:]).sum(), x)
    torch.testing.assert_close(gx, tx, equal_nan=True)


@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
def test_masked_compute_subset_equals_the_full_where(shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=torch.float64).requires_grad_()
    y = torch.randn(shape[-1:] if shape else (), generator=g, dtype=torch.float64)
    y.requires_grad_()
    other = torch.randn(shape, generator=g, dtype=torch.float64).requires_grad_()
    mask = x > 0

    def f(a, b):
        return torch.log(a) * b  # NaN for a <= 0: must never be computed there

    ours = au.masked_compute(mask, f, (x, y), (1.0, 0.0), other)
    safe = torch.where(mask, x, 1.0)
    truth = torch.where(mask, f(safe, y), other)
    torch.testing.assert_close(ours, truth)
    grads = torch.autograd.grad(ours.sum(), (x, y, other))
    expected = torch.autograd.grad(truth.sum(), (x, y, other))
    for a, b in zip(grads, expected, strict=True):
        torch.testing.assert_close(a, b)
        assert not a.isnan().any()
    # vmap cannot take the data-dependent subset: the stand-in path gives the same values
    vm = torch.func.vmap(lambda xi, oi: au.masked_compute(xi > 0, torch.log, (xi,), (1.0,), oi))
    flat_x, flat_o = x.detach().reshape(1, -1), other.detach().reshape(1, -1)
    torch.testing.assert_close(
        vm(flat_x, flat_o), torch.where(flat_x > 0, torch.log(flat_x.abs()), flat_o)
    )


def test_textbook_dtype_reads_parameters_that_require_grad_without_a_warning():
    import warnings

    from aleatorch.utils import textbook_dtype

    for n in (3, 100):  # the Python loop and the reduction
        t = torch.full((n,), 50.0, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert textbook_dtype(10.0, t) is torch.float64
