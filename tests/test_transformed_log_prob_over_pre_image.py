"""TransformedDistribution with no graph (issue 11): a Normal or Exponential base writes its
log_prob over the spent pre-image (``_log_prob_over``: one fresh buffer fewer); the same
numbers as the graph path, closed forms as the truth, and the inputs left as they were
(at least transformed._OVER_FROM entries, where that path is taken)."""

from __future__ import annotations

import math

import pytest
import torch

import aleatorch as D
from aleatorch.transforms import AffineTransform, ExpTransform, TanhTransform


def _normal_log_pdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)


def _cases(dtype, g):
    loc = torch.randn(12000, 3, generator=g, dtype=dtype)
    scale = torch.rand(12000, 3, generator=g, dtype=dtype) + 0.5
    rate = torch.rand(12000, 3, generator=g, dtype=dtype) + 0.5
    a, b = 0.3, -2.0
    # (family, parameters, transforms, closed-form log density of y, in float64)
    return [
        (
            D.Normal,
            (loc, scale),
            lambda: [AffineTransform(a, b)],
            lambda y: _normal_log_pdf((y - a) / b, loc.double(), scale.double()) - math.log(-b),
        ),
        (
            D.Normal,
            (loc, scale),
            lambda: [AffineTransform(a, b), ExpTransform()],
            lambda y: (
                _normal_log_pdf((y.log() - a) / b, loc.double(), scale.double())
                - math.log(-b)
                - y.log()
            ),
        ),
        (
            D.Normal,
            (loc, scale),
            lambda: [ExpTransform()],  # the log-det is the pre-image itself: not written over
            lambda y: _normal_log_pdf(y.log(), loc.double(), scale.double()) - y.log(),
        ),
        (
            D.Exponential,
            (rate,),
            lambda: [AffineTransform(2.0, 0.5)],
            lambda y: torch.log(rate.double()) - rate.double() * (y - 2.0) / 0.5 - math.log(0.5),
        ),
    ]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", range(4))
def test_no_graph_log_prob_equals_graph_path_and_closed_form(dtype, case):
    g = torch.Generator().manual_seed(11 + case)
    family, params, transforms, truth = _cases(dtype, g)[case]
    d = D.TransformedDistribution(family(*params), transforms())
    y = d.sample(generator=g)
    before = y.clone()
    fast = d.log_prob(y)
    assert torch.equal(y, before)  # the value is not written
    leaves = [p.clone().requires_grad_() for p in params]
    graphed = D.TransformedDistribution(family(*leaves), transforms()).log_prob(y)
    assert graphed.requires_grad
    assert torch.equal(fast, graphed.detach())
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(
        fast.double(), truth(y.double()), rtol=64 * eps, atol=64 * eps, check_dtype=False
    )


@pytest.mark.parametrize("validate", [False, True])
def test_cached_transform_keeps_its_pre_image(validate):
    # A cached inverse is read again later: it must not be written over.
    g = torch.Generator().manual_seed(3)
    loc = torch.randn(40000, generator=g)
    t = AffineTransform(0.5, 3.0, cache_size=1)
    d = D.TransformedDistribution(D.Normal(loc, 1.0), [t], validate_args=validate)
    y = d.sample(generator=g)
    x = t.inv(y)
    kept = x.clone()
    first = d.log_prob(y)
    assert torch.equal(x, kept)
    torch.testing.assert_close(
        first.double(),
        _normal_log_pdf((y.double() - 0.5) / 3, loc.double(), torch.ones(())) - math.log(3),
        rtol=1e-5,
        atol=1e-5,
    )


def test_pre_image_outside_the_base_support_is_reported():
    # The base still validates the pre-image it writes over.
    d = D.TransformedDistribution(
        D.Exponential(torch.ones(40000)), [AffineTransform(0.0, 1.0)], validate_args=False
    )
    d.base_dist._validate_args = True
    with pytest.raises(ValueError):
        d.log_prob(-torch.ones(40000))


def test_tanh_and_broadcast_values_fall_back_or_agree():
    g = torch.Generator().manual_seed(5)
    loc = torch.randn(300, 4, generator=g, dtype=torch.float64)
    d = D.TransformedDistribution(D.Normal(loc, 2.0), [TanhTransform()])
    y = torch.tanh(torch.randn(4, generator=g, dtype=torch.float64))  # broadcast over rows
    x = torch.atanh(y)
    truth = _normal_log_pdf(x, loc, torch.tensor(2.0, dtype=torch.float64)) - torch.log1p(-y * y)
    torch.testing.assert_close(d.log_prob(y), truth, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["Normal", "Exponential"])
def test_a_subclass_with_its_own_log_prob_keeps_it(family):
    # The written-over form is the base class's formula: a subclass that changes _log_prob
    # (or log_prob) must get its own density, not that formula.
    n = 1 << 16
    params = (torch.zeros(n), torch.ones(n)) if family == "Normal" else (torch.ones(n),)
    value = torch.rand(n) + 0.5
    parent = getattr(D, family)

    class Private(parent):
        def _log_prob(self, v):
            return super()._log_prob(v) + 1.0

    class Public(parent):
        def log_prob(self, v):
            return super().log_prob(v) + 1.0

    for cls in (Private, Public):
        affine = [D.transforms.AffineTransform(0.0, 2.0)]
        with torch.no_grad():
            got = D.TransformedDistribution(cls(*params), affine).log_prob(value.clone())
        expected = parent(*params).log_prob(value / 2) + 1.0 - math.log(2.0)
        torch.testing.assert_close(got, expected)
