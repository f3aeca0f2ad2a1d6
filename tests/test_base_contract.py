"""The hooks the base class offers to families and wrappers.

Capabilities decided per instance (``_implemented``), samplers that receive ``sample_shape``,
and checks between parameters (``_parameter_relations``).
"""

from __future__ import annotations

import pytest
import torch

import aleatorch as D
from aleatorch import constraints


def test_capabilities_follow_the_overrides_of_each_class():
    assert {"_rsample", "_cdf", "_icdf", "_entropy"} <= D.Normal._implemented
    assert "_rsample" not in D.Poisson._implemented and "_sample" in D.Poisson._implemented
    assert "_cdf" not in D.Dirichlet._implemented


def test_independent_has_the_cdf_family_only_without_reinterpreted_dims():
    base = D.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    flat = D.Independent(base, 0)
    x = torch.tensor([0.3, -1.0])
    torch.testing.assert_close(flat.cdf(x), base.cdf(x))
    torch.testing.assert_close(flat.log_survival_function(x), base.log_survival_function(x))
    q = torch.tensor([0.1, 0.99])
    torch.testing.assert_close(flat.icdf(q), base.icdf(q))
    vector = D.Independent(base, 1)
    with pytest.raises(NotImplementedError, match="Independent does not implement cdf"):
        vector.cdf(x)


def test_independent_without_a_base_cdf_has_none():
    base = D.Dirichlet(torch.ones(2, 3))
    with pytest.raises(NotImplementedError, match="cdf"):
        D.Independent(base, 0).cdf(torch.full((2, 3), 1 / 3))


class _Shifted(D.Distribution):
    """A minimal family written against the private contract."""

    arg_constraints = {"loc": constraints.real}
    support = constraints.real

    def __init__(self, loc, validate_args=None):
        self.loc = torch.as_tensor(loc, dtype=torch.float64)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def _rsample(self, sample_shape, generator):
        self.seen = sample_shape
        shape = self._extended_shape(sample_shape)
        return self.loc + torch.randn(shape, dtype=self.loc.dtype, generator=generator)

    def _log_prob(self, value):
        return -0.5 * (value - self.loc) ** 2 - 0.5 * torch.log(torch.tensor(2 * torch.pi))


def test_samplers_receive_the_sample_shape():
    d = _Shifted(torch.zeros(3))
    assert d.rsample((4, 2)).shape == (4, 2, 3) and d.seen == (4, 2)
    assert d.sample().shape == (3,) and d.seen == ()
    assert D.Independent(d, 1).sample((5,)).shape == (5, 3) and d.seen == (5,)


class _Ordered(_Shifted):
    arg_constraints = {"loc": constraints.real, "top": constraints.real}

    def __init__(self, loc, top, validate_args=None):
        self.top = torch.as_tensor(top, dtype=torch.float64)
        super().__init__(loc, validate_args=validate_args)

    def _parameter_relations(self):
        yield "top", "greater than 'loc'", self.top > self.loc, {"loc": self.loc}


def test_parameter_relations_are_checked_with_a_readable_message():
    _Ordered(torch.zeros(3), torch.ones(3))
    with pytest.raises(D.errors.ParameterError) as info:
        _Ordered(torch.tensor([0.0, 2.0, 0.0]), torch.ones(3))
    assert str(info.value) == (
        "_Ordered: parameter 'top' must be greater than 'loc', but 1 of 3 entries is not:\n"
        "  top[1] = 1\n"
        "  where loc[1] = 2"
    )
    _Ordered(torch.tensor([2.0]), torch.tensor([1.0]), validate_args=False)  # not checked


def test_uniform_uses_the_relation_hook():
    with pytest.raises(
        ValueError, match=r"(?s)'high' must be greater than 'low'.*where low\[0\] = 3"
    ):
        D.Uniform(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 1.0]))
