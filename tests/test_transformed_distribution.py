"""TransformedDistribution: torch's shape rules and values (torch.distributions as the oracle),
the cdf family through monotone maps, affine summaries, and the squashed Gaussian."""

import math
import pickle

import pytest
import torch
import torch.distributions as td

import aleatorch as D
import aleatorch.transforms as T

F64 = torch.float64


def both(make_base, make_transforms):
    """The same construction in aleatorch and in torch."""
    return (
        D.TransformedDistribution(make_base(D), make_transforms(T)),
        td.TransformedDistribution(make_base(td), make_transforms(td.transforms)),
    )


SHAPE_CASES = {
    "exp_scalar": (
        lambda M: M.Normal(torch.tensor(0.3, dtype=F64), 1.2),
        lambda M: [M.ExpTransform()],
    ),
    "affine_broadcasts_base": (
        lambda M: M.Normal(torch.tensor(0.0, dtype=F64), 1.0),
        lambda M: [M.AffineTransform(torch.tensor([1.0, 2.0, 3.0], dtype=F64), 2.0)],
    ),
    "affine_event_dim_reinterprets": (
        lambda M: M.Normal(torch.zeros(2, 3, dtype=F64), 1.0),
        lambda M: [M.AffineTransform(0.5, torch.tensor([1.0, -2.0, 3.0], dtype=F64), event_dim=1)],
    ),
    "exp_then_affine": (
        lambda M: M.Normal(
            torch.tensor([0.1, -0.4], dtype=F64), torch.tensor([1.0, 0.5], dtype=F64)
        ),
        lambda M: [M.ExpTransform(), M.AffineTransform(-1.0, 3.0)],
    ),
    "tanh_of_mvn": (
        lambda M: M.MultivariateNormal(torch.zeros(3, dtype=F64), torch.eye(3, dtype=F64) * 0.5),
        lambda M: [M.TanhTransform()],
    ),
    "compose_sigmoid_affine": (
        lambda M: M.Normal(torch.zeros(4, dtype=F64), 1.0),
        lambda M: [M.ComposeTransform([M.SigmoidTransform(), M.AffineTransform(1.0, -2.0)])],
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shapes_support_and_log_prob_match_torch(name):
    ours, theirs = both(*SHAPE_CASES[name])
    assert ours.batch_shape == theirs.batch_shape
    assert ours.event_shape == theirs.event_shape
    assert ours.base_dist.batch_shape == theirs.base_dist.batch_shape
    assert ours.base_dist.event_shape == theirs.base_dist.event_shape
    assert ours.support.event_dim == theirs.support.event_dim
    assert ours.has_rsample == theirs.has_rsample
    y = theirs.rsample((5,)).detach()
    torch.testing.assert_close(ours.log_prob(y), theirs.log_prob(y), rtol=1e-10, atol=1e-10)
    g = torch.Generator().manual_seed(1)
    sample = ours.sample((7,), generator=g)
    assert sample.shape == (7,) + ours.batch_shape + ours.event_shape
    g2 = torch.Generator().manual_seed(1)
    assert torch.equal(sample, ours.sample((7,), generator=g2)), "generator= is honoured"
    expanded = ours.expand((2,) + ours.batch_shape)
    assert expanded.batch_shape == (2,) + ours.batch_shape
    y = y.unsqueeze(1)  # sample dim, then the new batch dim
    torch.testing.assert_close(
        expanded.log_prob(y), theirs.expand((2,) + theirs.batch_shape).log_prob(y)
    )


def test_rsample_gradient_flows_to_base_parameters():
    loc = torch.tensor([0.2, -0.3], dtype=F64, requires_grad=True)
    d = D.TransformedDistribution(D.Normal(loc, 1.0), [T.ExpTransform()])
    g = torch.Generator().manual_seed(0)
    x = d.rsample((4000,), generator=g)
    (grad,) = torch.autograd.grad(x.mean(0).sum(), loc)
    # d/dloc E[exp(N(loc, 1))] = exp(loc + 1/2); standard error from the sample.
    expected = torch.exp(loc.detach() + 0.5)
    se = x.detach().std(0) / math.sqrt(4000)
    assert ((grad - expected).abs() <= 5 * se).all()


@pytest.mark.parametrize("scale", [2.0, -2.0, torch.tensor([1.5, -0.5], dtype=F64)])
def test_cdf_family_through_monotone_maps(scale):
    """Y = 1 + scale * exp(X): increasing or decreasing; the cdf family equals the direct
    formula on X's side (a decreasing map swaps cdf and survival function)."""
    base = D.Normal(torch.tensor([0.3, -0.2], dtype=F64), 0.8)
    d = D.TransformedDistribution(base, [T.ExpTransform(), T.AffineTransform(1.0, scale)])
    x = torch.tensor([[0.1, 0.9], [-1.0, 0.4]], dtype=F64)
    y = 1.0 + torch.as_tensor(scale, dtype=F64) * x.exp()
    increasing = torch.as_tensor(scale, dtype=F64) > 0
    cdf_x, sf_x = base.cdf(x), base.survival_function(x)
    torch.testing.assert_close(d.cdf(y), torch.where(increasing, cdf_x, sf_x))
    torch.testing.assert_close(d.survival_function(y), torch.where(increasing, sf_x, cdf_x))
    torch.testing.assert_close(d.log_cdf(y), torch.where(increasing, cdf_x, sf_x).log())
    torch.testing.assert_close(
        d.log_survival_function(y), torch.where(increasing, sf_x, cdf_x).log()
    )
    q = torch.tensor([0.05, 0.7], dtype=F64)
    torch.testing.assert_close(d.cdf(d.icdf(q)), q)
    torch.testing.assert_close(
        d.median, 1.0 + torch.as_tensor(scale, dtype=F64) * base.median.exp()
    )


def test_affine_summaries_equal_the_normal_they_make():
    base = D.Normal(torch.tensor([0.3, -0.2], dtype=F64), torch.tensor([0.8, 2.0], dtype=F64))
    d = D.TransformedDistribution(base, [T.AffineTransform(1.0, -3.0)])
    direct = D.Normal(1.0 - 3.0 * base.loc, 3.0 * base.scale)
    torch.testing.assert_close(d.entropy(), direct.entropy())
    torch.testing.assert_close(d.mean, direct.mean)
    torch.testing.assert_close(d.mode, direct.mode)
    torch.testing.assert_close(d.variance, direct.variance)
    vector = D.TransformedDistribution(
        D.Normal(torch.zeros(2, 3, dtype=F64), 1.0),
        [T.AffineTransform(0.0, torch.tensor([1.0, 2.0, 4.0], dtype=F64), event_dim=1)],
    )
    expected = 3 * D.Normal(0.0, 1.0).entropy().double() + math.log(8.0)
    torch.testing.assert_close(vector.entropy(), expected.expand(2))


def test_methods_that_need_more_than_the_transforms_give_raise_clearly():
    d = D.TransformedDistribution(
        D.MultivariateNormal(torch.zeros(2), torch.eye(2)), [T.TanhTransform()]
    )
    for method in ("entropy",):
        with pytest.raises(NotImplementedError, match="TransformedDistribution"):
            getattr(d, method)()
    with pytest.raises(NotImplementedError, match="AffineTransform"):
        _ = d.mean


@pytest.mark.parametrize("loc", [-20.0, -5.0, 0.0, 3.0, 20.0])
@pytest.mark.parametrize("sigma", [1e-3, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("cache_size", [0, 1])
def test_squashed_gaussian_log_prob_of_own_samples_is_finite_in_float32(loc, sigma, cache_size):
    d = D.TransformedDistribution(
        D.Normal(torch.full((256,), loc), sigma), [T.TanhTransform(cache_size=cache_size)]
    )
    g = torch.Generator().manual_seed(0)
    y = d.rsample(generator=g)
    log_prob = d.log_prob(y)
    assert log_prob.dtype == torch.float32
    assert bool(log_prob.isfinite().all()), log_prob[~log_prob.isfinite()]
    # log_prob(y) may be evaluated on a detached copy (no cache): still finite.
    assert bool(d.log_prob(y.detach().clone()).isfinite().all())


def test_squashed_gaussian_matches_closed_form_where_tanh_is_exact():
    base = D.Normal(torch.tensor([0.3, -1.0], dtype=F64), torch.tensor([0.5, 2.0], dtype=F64))
    d = D.TransformedDistribution(base, [T.TanhTransform()])
    y = torch.tensor([[0.2, -0.9], [0.95, 0.0]], dtype=F64)
    x = torch.atanh(y)
    expected = base.log_prob(x) - torch.log1p(-y * y)
    torch.testing.assert_close(d.log_prob(y), expected)


def test_kl_of_same_transforms_is_kl_of_bases_and_different_transforms_raise():
    p = D.TransformedDistribution(D.Normal(0.0, 1.0), [T.ExpTransform()])
    q = D.TransformedDistribution(D.Normal(1.0, 2.0), [T.ExpTransform()])
    torch.testing.assert_close(
        D.kl_divergence(p, q), D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 2.0))
    )
    r = D.TransformedDistribution(D.Normal(1.0, 2.0), [T.SigmoidTransform()])
    with pytest.raises(NotImplementedError, match="same transforms"):
        D.kl_divergence(p, r)


def test_bad_arguments_name_the_class():
    with pytest.raises(ValueError, match="TransformedDistribution.*Transform"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [T.ExpTransform(), "exp"])
    with pytest.raises(ValueError, match="base_distribution"):
        D.TransformedDistribution(torch.zeros(3), [T.ExpTransform()])
    with pytest.raises(ValueError, match="at least 1 dims"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [T.AffineTransform(0.0, 1.0, event_dim=1)])
    d = D.TransformedDistribution(D.Normal(0.0, 1.0), [T.ExpTransform()])
    with pytest.raises(ValueError, match="support"):
        d.log_prob(torch.tensor(-1.0))


def test_pickling_and_torch_style_subclass():
    class Shifted(D.TransformedDistribution):
        def __init__(self, loc, validate_args=None):
            self.loc = torch.as_tensor(loc)
            super().__init__(D.Exponential(1.0), [T.AffineTransform(self.loc, 1.0)], validate_args)

    d = Shifted(torch.tensor([1.0, 2.0]))
    assert d.batch_shape == (2,) and d.has_rsample
    torch.testing.assert_close(
        d.log_prob(torch.tensor([1.5, 2.5])),
        D.Exponential(1.0).log_prob(torch.tensor(0.5)).expand(2),
    )
    clone = pickle.loads(
        pickle.dumps(D.TransformedDistribution(D.Normal(0.0, 1.0), T.ExpTransform()))
    )
    assert clone.transforms == [T.ExpTransform()]
    torch.testing.assert_close(
        clone.log_prob(torch.tensor(2.0)), D.LogNormal(0.0, 1.0).log_prob(torch.tensor(2.0))
    )


def test_family_builds_its_base_only_on_demand_and_expand_rebuilds_it():
    d = D.LogNormal(torch.zeros(3), 1.0)
    assert "base_dist" not in d.__dict__
    d.log_prob(torch.ones(3))
    d.rsample()
    assert "base_dist" not in d.__dict__, "closed forms never need the base"
    assert d.base_dist.batch_shape == (3,) and d.transforms == [T.ExpTransform()]
    e = d.expand((2, 3))
    assert e.base_dist.batch_shape == (2, 3)
    assert isinstance(d, D.TransformedDistribution)
