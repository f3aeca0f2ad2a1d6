"""The generic transform suite: every registered example (``transform_examples.py``).

The oracle for log-dets is autograd: ``log |det J|`` of the Jacobian of the free
coordinates of the output with respect to those of the input, one event at a time.
"""

import pickle

import pytest
import torch
from transform_examples import TRANSFORM_EXAMPLES

import aleatorch.transforms as T

CASES = [(ex, shape) for ex in TRANSFORM_EXAMPLES for shape in ex.batch_shapes]
BIJECTIVE_CASES = [case for case in CASES if case[0].bijective_tests]
LADJ_CASES = [case for case in CASES if case[0].ladj]


def case_id(case):
    ex, shape = case
    return f"{ex.name}-batch{list(shape)}"


def draw(ex, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ex.draw_x(shape, g)


def event_dims(t):
    return t.domain.event_dim, t.codomain.event_dim


def flat_events(tensor, event_dim):
    """The events of ``tensor`` as a list (its batch dims flattened)."""
    batch = tensor.shape[: tensor.dim() - event_dim]
    return list(tensor.reshape((-1,) + tensor.shape[len(batch) :]).unbind(0)), batch


@pytest.mark.parametrize("case", BIJECTIVE_CASES, ids=case_id)
def test_round_trip(case):
    ex, shape = case
    t = ex.make(0)
    x = draw(ex, shape)
    y = t(x)
    torch.testing.assert_close(t.inv(y), x.expand(t.inv(y).shape), rtol=ex.rtol, atol=ex.atol)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_images_lie_in_codomain_and_domain(case):
    ex, shape = case
    t = ex.make(0)
    x = draw(ex, shape)
    assert bool(t.domain.check(x).all()), "the example drew inputs outside the domain"
    y = t(x)
    assert bool(t.codomain.check(y).all())
    if ex.bijective_tests:
        assert bool(t.inv.codomain.check(t.inv(y)).all())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_shapes(case):
    ex, shape = case
    t = ex.make(0)
    x = draw(ex, shape)
    y = t(x)
    assert tuple(t.forward_shape(x.shape)) == tuple(y.shape)
    if ex.bijective_tests:
        assert tuple(t.inverse_shape(y.shape)) == tuple(t.inv(y).shape)
        assert tuple(t.inv.forward_shape(y.shape)) == tuple(t.inv(y).shape)
    if ex.ladj:
        ladj = t.log_abs_det_jacobian(x, y)
        domain_dim = t.domain.event_dim
        expected = torch.broadcast_shapes(x.shape, t.inverse_shape(y.shape))
        assert tuple(ladj.shape) == tuple(expected[: len(expected) - domain_dim])


def _coords(ex, t):
    dx, dy = event_dims(t)
    to_x = ex.to_coords_x or (lambda v: v.reshape(-1))
    from_x = ex.from_coords_x
    to_y = ex.to_coords_y or (lambda v: v.reshape(-1))
    return to_x, from_x, to_y


@pytest.mark.parametrize("case", LADJ_CASES, ids=case_id)
def test_log_abs_det_jacobian_matches_autograd(case):
    ex, shape = case
    t = ex.make(0)
    x = draw(ex, shape)
    y = t(x)
    x = x.expand(torch.broadcast_shapes(x.shape, t.inverse_shape(y.shape)))
    ladj = t.log_abs_det_jacobian(x, y)
    dx = t.domain.event_dim
    xs, _ = flat_events(x, dx)
    expected = []
    to_x, from_x, to_y = _coords(ex, t)
    for i, xi in enumerate(xs[:6]):
        batch_index = torch.unravel_index(torch.tensor(i), ladj.shape) if ladj.dim() else ()
        event_shape = xi.shape

        def f(v, batch_index=batch_index, event_shape=event_shape):
            event = from_x(v) if from_x else v.reshape(event_shape)
            # Place the event back in its batch position, so batched parameters line up.
            full = x.clone()
            full[tuple(int(j) for j in batch_index)] = event
            out = t(full)
            return to_y(out[tuple(int(j) for j in batch_index)])

        jac = torch.autograd.functional.jacobian(f, to_x(xi))
        assert jac.shape[0] == jac.shape[1], "the coordinates must make the Jacobian square"
        expected.append(torch.linalg.slogdet(jac).logabsdet)
        got = ladj[tuple(int(j) for j in batch_index)]
        torch.testing.assert_close(got, expected[-1], rtol=ex.rtol * 1e3, atol=ex.atol * 1e3)


@pytest.mark.parametrize("ex", TRANSFORM_EXAMPLES, ids=lambda ex: ex.name)
def test_sign_matches_derivative(ex):
    """Where a sign is defined (monotone elementwise maps), the derivative has that sign;
    an elementwise bijection must define it."""
    t = ex.make(0)
    try:
        sign = t.sign
    except NotImplementedError:
        elementwise = not t.domain.event_dim and not t.codomain.event_dim
        assert not (elementwise and t.bijective), "an elementwise bijection has a sign"
        return
    x = draw(ex, ex.batch_shapes[-1]).requires_grad_()
    y = t(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    expected = torch.as_tensor(sign, dtype=grad.dtype).expand(grad.shape)
    assert torch.equal(grad.sign(), expected)


@pytest.mark.parametrize("case", LADJ_CASES, ids=case_id)
def test_value_and_log_det_hooks_agree_with_separate_calls(case):
    ex, shape = case
    t = ex.make(0)
    x = draw(ex, shape)
    y = t(x)
    ladj = t.log_abs_det_jacobian(x, y)
    y2, ladj2 = t.call_and_ladj(x)
    torch.testing.assert_close(y2, y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ladj2, ladj, rtol=1e-12, atol=1e-12)
    y3, ladj3 = t.inv.call_and_ladj(y)
    torch.testing.assert_close(ladj3.expand(ladj.shape), -ladj, rtol=ex.rtol, atol=ex.atol)
    if ex.bijective_tests:
        x4, ladj4 = t.inverse_and_ladj(y)
        torch.testing.assert_close(x4, t.inv(y), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ladj4, ladj, rtol=ex.rtol, atol=ex.atol)


@pytest.mark.parametrize("ex", TRANSFORM_EXAMPLES, ids=lambda ex: ex.name)
def test_cache_semantics(ex):
    t0, t1 = ex.make(0), ex.make(1)
    assert t0.cache_size == 0 and t1.cache_size == 1
    assert t0.with_cache(1).cache_size == 1 and t0.with_cache(0) is t0
    x = draw(ex, ex.batch_shapes[-1])
    y = t1(x)
    assert t1(x) is y, "cache_size=1 returns the cached output for the same input object"
    if ex.bijective_tests:
        assert t1.inv(y) is x, "the inverse reuses the cached input"
    assert t0(x) is not t0(x)
    with pytest.raises(ValueError, match="cache_size"):
        ex.make(2)


@pytest.mark.parametrize("ex", TRANSFORM_EXAMPLES, ids=lambda ex: ex.name)
def test_equality_inverse_and_pickling(ex):
    t = ex.make(0)
    assert t == ex.make(0) and not (t != ex.make(0))
    assert t.inv.inv is t and t.inv is t.inv
    assert t.inv == ex.make(0).inv and t.inv != t
    other = T.ExpTransform() if not isinstance(t, T.ExpTransform) else T.SigmoidTransform()
    assert t != other
    clone = pickle.loads(pickle.dumps(t))
    assert clone == t and type(clone) is type(t)
    x = draw(ex, ex.batch_shapes[-1])
    torch.testing.assert_close(clone(x), t(x))
    assert repr(t).startswith(type(t).__name__)
    inv_clone = pickle.loads(pickle.dumps(t.inv))
    assert inv_clone == t.inv


@pytest.mark.parametrize("ex", TRANSFORM_EXAMPLES, ids=lambda ex: ex.name)
def test_float32_close_to_float64(ex):
    t = ex.make(0)
    x64 = draw(ex, ex.batch_shapes[-1])
    x32 = x64.float()
    t32 = _as_float32(ex)
    y32 = t32(x32)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), t(x32.double()), rtol=1e-5, atol=ex.float32_atol)
    if ex.ladj:
        ladj32 = t32.log_abs_det_jacobian(x32, y32)
        assert ladj32.dtype == torch.float32 and bool(ladj32.isfinite().all())
        ladj64 = t.log_abs_det_jacobian(x32.double(), t(x32.double()))
        torch.testing.assert_close(ladj32.double(), ladj64, rtol=1e-4, atol=10 * ex.float32_atol)


def _as_float32(ex):
    """The example's transform with its float64 tensor parameters cast to float32."""
    t = ex.make(0)
    clone = pickle.loads(pickle.dumps(t))
    for obj in [clone] + list(getattr(clone, "parts", [])) + list(getattr(clone, "transforms", [])):
        for k, v in list(vars(obj).items()):
            if isinstance(v, torch.Tensor) and v.dtype == torch.float64:
                setattr(obj, k, v.float())
    return clone


@pytest.mark.parametrize("ex", TRANSFORM_EXAMPLES, ids=lambda ex: ex.name)
def test_composition_with_inverse_is_identity(ex):
    if not ex.bijective_tests or not ex.ladj:
        return
    t = ex.make(0)
    both = T.ComposeTransform([t, t.inv])
    x = draw(ex, ex.batch_shapes[-1])
    x = x.expand(torch.broadcast_shapes(x.shape, t.inverse_shape(t(x).shape)))
    y, ladj = both.call_and_ladj(x)
    torch.testing.assert_close(y, x, rtol=ex.rtol, atol=ex.atol)
    torch.testing.assert_close(ladj, torch.zeros_like(ladj), rtol=0, atol=ex.atol * 10)
    torch.testing.assert_close(both.log_abs_det_jacobian(x, y), ladj, rtol=1e-9, atol=1e-9)
