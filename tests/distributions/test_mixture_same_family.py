"""Hard points of MixtureSameFamily (the generic ones run in the suite through
tests/examples_parity_mixture.py): the per-sample implicit gradient of rsample, the
alignment of the drawn labels with the batch, shape rules, torch's attributes."""

import numpy as np
import pytest
import torch
import torch.distributions as T
from scipy import stats

import aleatorch as D

F64 = torch.float64


def normal_mixture(logits, loc, scale, **kwargs):
    return D.MixtureSameFamily(D.Categorical(logits=logits), D.Normal(loc, scale), **kwargs)


PARAMS = [
    torch.tensor([[0.3, -0.2, 0.5], [1.0, 0.0, -1.0]], dtype=F64),  # logits
    torch.tensor([[-2.0, 0.5, 3.0], [1.0, -1.0, 0.0]], dtype=F64),  # loc
    torch.tensor([[0.7, 1.2, 0.5], [0.4, 2.0, 1.0]], dtype=F64),  # scale
]


def test_rsample_gradient_is_the_implicit_gradient_per_sample():
    """Each draw x = F^{-1}(u; theta) for its own u = F(x): its autograd gradient with
    respect to every parameter entry equals the central difference of F^{-1}(u; theta) at
    fixed u (the quantile by bisection, exact to the float)."""
    leaves = [p.clone().requires_grad_() for p in PARAMS]
    d = normal_mixture(*leaves)
    x = d.rsample((6,), generator=torch.Generator().manual_seed(3))
    u = d.cdf(x).detach()
    for k, param in enumerate(PARAMS):
        for index in np.ndindex(*param.shape):
            (grad,) = torch.autograd.grad(
                x[(slice(None), index[0])].sum(), leaves[k], retain_graph=True
            )
            h = 1e-6 * max(abs(float(param[index])), 1.0)
            moved = []
            for step in (h, -h):
                values = [p.clone() for p in PARAMS]
                values[k][index] += step
                with torch.no_grad():
                    moved.append(normal_mixture(*values).icdf(u))
            fd = (moved[0] - moved[1])[:, index[0]].sum() / (2 * h)
            torch.testing.assert_close(grad[index], fd, rtol=1e-6, atol=1e-8)


def test_rsample_value_is_exactly_the_sample():
    d = normal_mixture(*[p.clone().requires_grad_() for p in PARAMS])
    g = lambda: torch.Generator().manual_seed(9)  # noqa: E731
    assert torch.equal(d.rsample((50,), generator=g()).detach(), d.sample((50,), generator=g()))


def test_labels_follow_the_weights_of_their_own_batch_entry():
    """Nearly point-mass components at 0, 10, 20: each draw names its component, whose
    frequencies must match that batch entry's weights (also when one set of weights is
    broadcast over the batch)."""
    loc = torch.tensor([0.0, 10.0, 20.0], dtype=F64).expand(2, 3)
    scale = torch.full((2, 3), 1e-3, dtype=F64)
    for probs in ([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0.5, 0.1, 0.4]):
        probs = torch.tensor(probs, dtype=F64)
        d = D.MixtureSameFamily(D.Categorical(probs=probs), D.Normal(loc, scale))
        n = 20000
        x = d.sample((n, 1), generator=torch.Generator().manual_seed(5))
        assert x.shape == (n, 1, 2)
        labels = torch.round(x / 10).long().reshape(n, 2)
        for b in range(2):
            counts = torch.bincount(labels[:, b], minlength=3).numpy()
            p = probs.expand(2, 3)[b].numpy()
            assert stats.chisquare(counts, n * p).pvalue > 1e-6


def test_shapes_and_torch_attributes():
    mix = D.Categorical(logits=torch.zeros(3))
    comp = D.Independent(D.Normal(torch.zeros(4, 3, 2), torch.ones(4, 3, 2)), 1)
    d = D.MixtureSameFamily(mix, comp)
    assert d.batch_shape == (4,) and d.event_shape == (2,)
    assert d._num_component == 3 and d._event_ndims == 1
    assert d.mixture_distribution is mix and d.component_distribution is comp
    assert d.sample((5,)).shape == (5, 4, 2)
    assert d.log_prob(torch.zeros(5, 1, 2)).shape == (5, 4)
    assert isinstance(d.support, D.constraints.MixtureSameFamilyConstraint)
    e = d.expand((7, 4))
    assert e.batch_shape == (7, 4) and e.component_distribution.batch_shape == (7, 4, 3)
    assert e.mixture_distribution.batch_shape == (7, 4) and e._num_component == 3
    theirs = T.MixtureSameFamily(
        T.Categorical(logits=torch.zeros(3)),
        T.Independent(T.Normal(torch.zeros(4, 3, 2), torch.ones(4, 3, 2)), 1),
    )
    assert theirs.batch_shape == d.batch_shape and theirs.event_shape == d.event_shape


def test_rsample_only_where_the_components_allow_it():
    mix = D.Categorical(logits=torch.zeros(2))
    mvn = D.MixtureSameFamily(mix, D.Independent(D.Normal(torch.zeros(2, 3), 1.0), 1))
    poisson = D.MixtureSameFamily(mix, D.Poisson(torch.tensor([1.0, 4.0])))
    for d in (mvn, poisson):
        assert not d.has_rsample
        with pytest.raises(D.NoRsampleError, match="univariate components"):
            d.rsample()
    assert D.MixtureSameFamily(mix, D.Laplace(torch.zeros(2), 1.0)).has_rsample


def test_gamma_components_give_the_implicit_gradient_in_the_shape():
    """The mixture's rsample goes through the cdf: its implicit gradient in the gamma shape
    (aleatorch.special.gammainc is differentiable in a; torch's igamma raises) matches finite
    differences of the quantile at a fixed uniform."""
    concentration = torch.tensor([2.0, 5.0], dtype=F64, requires_grad=True)

    def mixture(c):
        return D.MixtureSameFamily(
            D.Categorical(logits=torch.zeros(2, dtype=F64)),
            D.Gamma(c, torch.tensor(1.0, dtype=F64)),
        )

    q = torch.tensor([0.2, 0.5, 0.9], dtype=F64)
    x = mixture(concentration).icdf(q)
    (grad,) = torch.autograd.grad(x.sum(), concentration)
    h = 1e-6
    for i in range(2):
        step = torch.zeros(2, dtype=F64)
        step[i] = h
        with torch.no_grad():
            fd = mixture(concentration + step).icdf(q) - mixture(concentration - step).icdf(q)
        torch.testing.assert_close(grad[i], fd.sum() / (2 * h), rtol=1e-6, atol=1e-9)


def test_stricter_than_torch_on_mixture_batch_dims_that_do_not_fit():
    """torch accepts a mixture whose batch shape broadcasts only both ways (or has more
    dims), then returns log_prob of a shape other than batch_shape; we refuse it."""
    mix, comp = torch.zeros(2, 3, 4), (torch.zeros(3, 4), torch.ones(3, 4))
    theirs = T.MixtureSameFamily(T.Categorical(logits=mix), T.Normal(*comp))
    assert theirs.log_prob(torch.zeros(3)).shape != theirs.batch_shape
    with pytest.raises(D.ShapeError, match="must broadcast to"):
        D.MixtureSameFamily(D.Categorical(logits=mix), D.Normal(*comp))


def test_icdf_and_median_of_components_with_per_component_bounds():
    """Uniform components: the bisection searches the hull of the component bounds."""
    low, high = torch.tensor([0.0, 2.0], dtype=F64), torch.tensor([1.0, 4.0], dtype=F64)
    d = D.MixtureSameFamily(
        D.Categorical(probs=torch.tensor([0.25, 0.75], dtype=F64)), D.Uniform(low, high)
    )
    q = torch.tensor([0.1, 0.25, 0.5, 0.9], dtype=F64)
    torch.testing.assert_close(
        d.icdf(q), torch.tensor([0.4, 1.0, 2.0 + 2 / 3, 2.0 + 0.65 / 0.375], dtype=F64)
    )
    torch.testing.assert_close(d.median, torch.tensor(2.0 + 2 / 3, dtype=F64))
