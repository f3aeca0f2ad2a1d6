"""The Transform contract itself: torch-style subclasses, the value-and-log-det hooks (each part
of a composition evaluated once), caching through the inverse, composition event dims."""

import pytest
import torch

import aleatorch as D
import aleatorch.transforms as T


class CountingCube(T.Transform):
    """A torch-style subclass: only ``_call``, ``_inverse`` and ``log_abs_det_jacobian``."""

    domain = D.constraints.real
    codomain = D.constraints.real
    bijective = True
    sign = +1

    def __init__(self, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.calls = {"_call": 0, "_inverse": 0, "ladj": 0}

    def _call(self, x):
        self.calls["_call"] += 1
        return x + x**3

    def _inverse(self, y):
        self.calls["_inverse"] += 1
        # Newton on x + x^3 = y (monotone): converges in a few steps from x = y / (1 + y^2)^(1/3).
        x = y / (1 + y * y) ** (1 / 3)
        for _ in range(30):
            x = x - (x + x**3 - y) / (1 + 3 * x * x)
        return x

    def log_abs_det_jacobian(self, x, y):
        self.calls["ladj"] += 1
        return torch.log1p(3 * x * x)


def test_torch_style_subclass_works_in_compositions_and_distributions():
    cube = CountingCube()
    d = D.TransformedDistribution(D.Normal(torch.zeros(3, dtype=torch.float64), 1.0), [cube])
    y = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64)
    x = cube.inv(y)
    torch.testing.assert_close(x + x**3, y)
    expected = D.Normal(0.0, 1.0).log_prob(x) - torch.log1p(3 * x * x)
    torch.testing.assert_close(d.log_prob(y), expected)
    torch.testing.assert_close(d.cdf(y), D.Normal(0.0, 1.0).cdf(x))


def test_each_part_of_a_composition_is_evaluated_once():
    parts = [CountingCube(), CountingCube(), CountingCube()]
    chain = T.ComposeTransform(parts)
    x = torch.randn(4, dtype=torch.float64)
    y, ladj = chain.call_and_ladj(x)
    assert [p.calls["_call"] for p in parts] == [1, 1, 1]
    assert [p.calls["ladj"] for p in parts] == [1, 1, 1]
    d = D.TransformedDistribution(D.Normal(0.0, 1.0), parts)
    for p in parts:
        p.calls.update({"_call": 0, "_inverse": 0, "ladj": 0})
    d.log_prob(y)
    assert [p.calls["_inverse"] for p in parts] == [1, 1, 1]
    assert [p.calls["_call"] for p in parts] == [0, 0, 0]
    torch.testing.assert_close(chain.log_abs_det_jacobian(x, y), ladj)


def test_cache_lets_log_prob_of_a_sample_skip_the_inverse():
    cube = CountingCube(cache_size=1)
    d = D.TransformedDistribution(D.Normal(0.0, 1.0), [cube])
    y = d.rsample((5,))
    d.log_prob(y)
    assert cube.calls["_inverse"] == 0
    d.log_prob(y.clone())
    assert cube.calls["_inverse"] == 1


def test_inverse_wrapper_negates_the_log_det_and_shares_the_cache():
    t = T.ExpTransform(cache_size=1)
    x = torch.randn(3)
    y = t(x)
    assert t.inv(y) is x
    value, ladj = t.inv.call_and_ladj(y)
    assert value is x
    torch.testing.assert_close(ladj, -x)
    assert t.inv.with_cache(0).cache_size == 0 and isinstance(
        t.inv.with_cache(0).inv, T.ExpTransform
    )


def test_with_cache_of_a_subclass_with_its_own_init_and_bad_cache_sizes():
    class Scaled(T.Transform):
        def __init__(self, factor, cache_size=0):
            super().__init__(cache_size=cache_size)
            self.factor = factor

    with pytest.raises(NotImplementedError, match="Scaled"):
        Scaled(2.0).with_cache(1)
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)


def test_event_dim_of_a_transform_that_changes_it_explains_itself():
    with pytest.raises(ValueError, match="domain.event_dim or .codomain.event_dim"):
        _ = _ChangesEventDim().event_dim


class _ChangesEventDim(T.Transform):
    domain = D.constraints.real
    codomain = D.constraints.real_vector


@pytest.mark.parametrize("event_dims", [(0,), (1,), (2, 3), (0, 1, 2), (1, 2, 0), (2, 0, 1)])
def test_composition_takes_the_largest_event_dim(event_dims):
    chain = T.ComposeTransform(
        [T.AffineTransform(torch.zeros((1,) * e), 1.0, event_dim=e) for e in event_dims]
    )
    assert chain.domain.event_dim == max(event_dims)
    assert chain.codomain.event_dim == max(event_dims)


def test_identity_transform():
    x = torch.randn(3)
    assert T.identity_transform(x) is x
    assert T.identity_transform == T.identity_transform.inv
    y, ladj = T.identity_transform.call_and_ladj(x)
    assert y is x and torch.equal(ladj, torch.zeros(3))
