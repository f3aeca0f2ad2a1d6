"""Regression tests for the defects the fuzz suite (tests/fuzz) found in the error path."""

from __future__ import annotations

import math

import pytest
import torch

import aleatorch as D
from aleatorch.errors import MethodNotImplementedError, ParameterError, ShapeError

EXPANDABLE = [
    lambda: D.Normal(0.0, 1.0),
    lambda: D.Independent(D.Normal(torch.zeros(2), 1.0), 1),
    lambda: D.MixtureSameFamily(
        D.Categorical(logits=torch.zeros(2)), D.Normal(torch.zeros(2), 1.0)
    ),
    lambda: D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.ExpTransform()]),
]
EXPANDABLE_IDS = ["Normal", "Independent", "MixtureSameFamily", "TransformedDistribution"]


@pytest.mark.parametrize("build", EXPANDABLE, ids=EXPANDABLE_IDS)
def test_expand_with_an_int_is_a_clear_type_error(build):
    dist = build()
    with pytest.raises(TypeError, match=r"expand: batch_shape must be a tuple .* expand\(\(4,\)\)"):
        dist.expand(4)
    assert type(dist).__name__ in str(pytest.raises(TypeError, dist.expand, 4).value)


@pytest.mark.parametrize("build", EXPANDABLE, ids=EXPANDABLE_IDS)
def test_expand_with_a_negative_size_is_a_shape_error(build):
    # torch.Tensor.expand reads -1 as "keep this size": the distribution would report
    # batch_shape (-1,) (issue 10).
    with pytest.raises(ShapeError, match=r"expand: batch_shape \(-1,\) has a negative size"):
        build().expand((-1,))


@pytest.mark.parametrize("method", ["log_prob", "cdf", "log_cdf", "log_survival_function", "icdf"])
def test_a_value_that_does_not_broadcast_is_a_shape_error_with_validation_off(method):
    dist = D.Gamma(torch.ones(5), torch.ones(5), validate_args=False)
    with pytest.raises(
        ShapeError, match=rf"Gamma\(batch_shape=\(5,\).*\)\.{method}: value of shape"
    ):
        getattr(dist, method)(torch.full((6,), 0.5))


def test_a_missing_half_precision_kernel_is_a_clear_type_error():
    half = D.Normal(torch.tensor(0.0, dtype=torch.float16), torch.tensor(1.0, dtype=torch.float16))
    q = torch.tensor(0.3, dtype=torch.float16)
    for method in ("icdf", "log_cdf", "log_survival_function"):
        with pytest.raises(
            TypeError, match=rf"Normal\(.*\)\.{method}: torch has no float16 kernel"
        ):
            getattr(half, method)(q)
    with pytest.raises(TypeError, match=r"use float32"):
        half.icdf(q)


def test_other_not_implemented_errors_pass_through():
    with pytest.raises(MethodNotImplementedError, match="Dirichlet does not implement cdf"):
        D.Dirichlet(torch.ones(3)).cdf(torch.ones(3) / 3)


def test_logistic_normal_with_validation_off_does_not_validate_its_parts():
    dist = D.LogisticNormal(torch.zeros(2), torch.full((2,), -math.inf), validate_args=False)
    dist.log_prob(torch.tensor([0.2, 0.3, 0.5]))  # garbage in, garbage out: no error
    with pytest.raises(MethodNotImplementedError, match="LogisticNormal"):
        dist.mean  # noqa: B018


def test_multivariate_normal_refuses_an_infinite_precision_matrix():
    precision = torch.tensor([[math.inf, 0.0], [0.0, 1.0]])
    with pytest.raises(ParameterError, match="MultivariateNormal: parameter 'precision_matrix'"):
        D.MultivariateNormal(torch.zeros(2), precision_matrix=precision)
    D.MultivariateNormal(torch.zeros(2), precision_matrix=torch.eye(2))  # a finite one is fine
