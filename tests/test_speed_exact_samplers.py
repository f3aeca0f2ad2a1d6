"""Exactness of the fast samplers (issue 11): ContinuousBernoulli's sample and its pathwise
gradient at a fixed uniform, against mpmath; its law by a Kolmogorov-Smirnov test."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from scipy import stats

import aleatorch as D

_ETAS = [-300.0, -60.0, -12.0, -3.0, -0.6, -0.5, -0.49, -0.1, -1e-4, -1e-9, 0.0]
_ETAS += [1e-9, 1e-3, 0.2, 0.49, 0.5, 0.51, 1.0, 2.5, 8.0, 30.0, 100.0]


def _exact(eta: float, r: float) -> tuple[float, float]:
    """The sample at uniform ``r`` and its derivative in ``eta``: the distance from the mode
    ``[eta > 0]`` is ``-log1p((1 - r) expm1(-|eta|)) / |eta|``."""
    with mpmath.workdps(60):
        positive = eta > 0 or (eta == 0 and math.copysign(1.0, eta) > 0)

        def x(e):
            a = abs(e)
            y = -mpmath.log1p((1 - mpmath.mpf(r)) * mpmath.expm1(-a)) / a
            return 1 - y if positive else y

        if eta == 0:  # the uniform law, with dx/deta = y (1 - y) / 2
            y = 1 - mpmath.mpf(r)
            return float(1 - y if positive else y), float(y * (1 - y) / 2)
        return float(x(mpmath.mpf(eta))), float(mpmath.diff(x, mpmath.mpf(eta)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_continuous_bernoulli_rsample_value_and_gradient_at_fixed_uniform(dtype):
    eps = torch.finfo(dtype).eps
    draws = 40
    eta = torch.tensor(_ETAS, dtype=dtype).repeat(draws, 1).requires_grad_()
    gen = torch.Generator().manual_seed(3)
    x = D.ContinuousBernoulli(logits=eta).rsample(generator=gen)
    x.sum().backward()
    r = torch.rand(eta.shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    worst_value = worst_grad = 0.0
    for i in range(draws):
        for j, e in enumerate(_ETAS):
            value, grad = _exact(e, r[i, j].item())
            worst_value = max(worst_value, abs(x[i, j].item() - value) / eps)
            # relative, times 1 - y (y: the distance from the mode): far from the mode, the
            # sample (x = 1 - y for eta > 0) carries an absolute rounding, and so does
            # dx/deta ~ y (1 - y) / 2 a relative eps / (1 - y)
            y = 1 - value if math.copysign(1.0, e) > 0 else value
            error = abs(eta.grad[i, j].item() - grad) / max(abs(grad), 1e-300) / eps
            worst_grad = max(worst_grad, error * (1 - y))
    assert worst_value <= 8, worst_value
    assert worst_grad <= 30, worst_grad


@pytest.mark.parametrize("eta", [-40.0, -3.0, -0.7, -1e-4, 0.0, 0.3, 0.6, 5.0, 100.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_continuous_bernoulli_sample_law(eta, dtype):
    d = D.ContinuousBernoulli(logits=torch.tensor(eta, dtype=dtype))
    x = d.sample((40000,), generator=torch.Generator().manual_seed(11))
    assert ((x >= 0) & (x <= 1)).all()
    # against the cdf of a float64 copy of the law (exact to rounding)
    d64 = D.ContinuousBernoulli(logits=torch.tensor(eta, dtype=torch.float64))
    cdf = lambda v: d64.cdf(torch.as_tensor(v, dtype=torch.float64)).numpy()  # noqa: E731
    assert stats.kstest(x.double().numpy(), cdf).pvalue > 1e-4


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_continuous_bernoulli_extreme_logits_finite(dtype):
    big = torch.finfo(dtype).max
    values = [-math.inf, -big, -1e30, -800.0, -88.7, -50.0, -1e-30, -0.0, 0.0, 1e-30]
    values += [50.0, 88.7, 800.0, 1e30, big, math.inf]
    eta = torch.tensor(values, dtype=dtype).requires_grad_()
    x = D.ContinuousBernoulli(logits=eta, validate_args=False).rsample((5000,))
    assert ((x >= 0) & (x <= 1)).all()
    x.sum().backward()
    assert torch.isfinite(eta.grad).all() and (eta.grad >= 0).all()


def test_continuous_bernoulli_rsample_vmap_same_randomness():
    def draw(logits):
        return D.ContinuousBernoulli(logits=logits, validate_args=False).rsample((3,))

    logits = torch.tensor([[0.3, -2.0], [4.0, 1e-5]], dtype=torch.float64)
    out = torch.func.vmap(draw, randomness="same")(logits)
    assert out.shape == (2, 3, 2)
    assert ((out >= 0) & (out <= 1)).all()


@pytest.mark.parametrize("sample_shape", [(), (3,), (2, 5)])
@pytest.mark.parametrize(
    "probs", [[0.25, 0.75], [[0.1, 0.0, 0.9, 0.0], [0.4, 0.3, 0.2, 0.1]], [1.0], [[1.0, 2.0, 3.0]]]
)
def test_multinomial_counts_are_those_of_the_categorical_labels(probs, sample_shape):
    # Multinomial counts by comparisons (few categories) from the same uniforms as the
    # categorical labels: the same counts, draw for draw.
    probs = torch.tensor(probs)
    n = 12
    counts = D.Multinomial(n, probs=probs).sample(
        sample_shape, generator=torch.Generator().manual_seed(4)
    )
    labels = D.Categorical(probs=probs).sample(
        (n, *sample_shape), generator=torch.Generator().manual_seed(4)
    )
    k = probs.shape[-1]
    expected = torch.nn.functional.one_hot(labels, k).sum(0).to(counts.dtype)
    assert torch.equal(counts, expected)
