"""HalfNormal, HalfCauchy, Gumbel, Weibull, Pareto: what the generic suite does not see.

The Weibull mode (torch 2.13 is wrong for concentration <= 1), tails in float32 against
mpmath, the lazily built base and transforms (and that they describe the same law as the
closed forms), per-sample pathwise gradients against the implicit gradient from the cdf,
infinite moments, values outside the support with validation off.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
import torch.distributions as td

import aleatorch as D

F64 = torch.float64
FAMILIES = {
    "HalfNormal": lambda t: D.HalfNormal(t([0.7, 2.0])),
    "HalfCauchy": lambda t: D.HalfCauchy(t([0.7, 2.0])),
    "Gumbel": lambda t: D.Gumbel(t([0.5, -1.0]), t([0.7, 2.0])),
    "Weibull": lambda t: D.Weibull(t([0.7, 2.0]), t([0.6, 3.5])),
    "Pareto": lambda t: D.Pareto(t([0.7, 2.0]), t([1.5, 6.0])),
}
IDS = list(FAMILIES)


def _leaf_maker(leaves, dtype=F64):
    def t(values):
        leaf = torch.tensor(values, dtype=dtype, requires_grad=True)
        leaves.append(leaf)
        return leaf

    return t


# ------------------------------------------------------------------ Weibull mode


def test_weibull_mode_is_zero_for_concentration_at_most_one():
    k = torch.tensor([0.2, 0.5, 0.7, 1.0, 1.5, 3.0], dtype=F64)
    mode = D.Weibull(2.0, k).mode
    expected = [0.0, 0.0, 0.0, 0.0, 2 * (1 / 3) ** (1 / 1.5), 2 * (2 / 3) ** (1 / 3)]
    torch.testing.assert_close(mode, torch.tensor(expected, dtype=F64), rtol=1e-14, atol=0)
    # torch 2.13 (pytorch#198186): 2 ((k - 1)/k)^(1/k) is -2048 at k = 0.2, 2.0 at k = 0.5.
    theirs = td.Weibull(torch.tensor(2.0, dtype=F64), k).mode
    assert theirs[0] == -2048 and theirs[1] == 2.0 and theirs[2].isnan()


def test_weibull_mode_maximizes_the_density():
    k = torch.tensor([1.05, 1.5, 3.0, 30.0], dtype=F64)
    d = D.Weibull(torch.tensor([0.3, 1.0, 2.0, 5.0], dtype=F64), k)
    mode = d.mode
    for step in (1e-4, -1e-4):
        assert (d.log_prob(mode) > d.log_prob(mode * (1 + step))).all()
    # For k <= 1 the density decreases on (0, inf): it is largest towards 0.
    small = D.Weibull(1.0, torch.tensor([0.5, 1.0], dtype=F64))
    x = torch.tensor([1e-6, 1e-3, 0.5, 3.0], dtype=F64).unsqueeze(-1)
    lp = small.log_prob(x)
    assert (lp[1:] < lp[:-1]).all()


def test_weibull_mode_gradient_is_finite_everywhere():
    scale = torch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    k = torch.tensor([0.5, 1.0, 2.0], dtype=F64, requires_grad=True)
    grad_scale, grad_k = torch.autograd.grad(D.Weibull(scale, k).mode.sum(), (scale, k))
    assert grad_scale.isfinite().all() and grad_k.isfinite().all()
    assert grad_scale[0] == 0 and grad_k[0] == 0
    # d/dk of lambda ((k - 1)/k)^(1/k) at k = 2, lambda = 3: 3 sqrt(1/2) (1 + log 2) / 4.
    expected = 3 * math.sqrt(0.5) * (1 + math.log(2)) / 4
    torch.testing.assert_close(grad_k[2], torch.tensor(expected, dtype=F64))


# ------------------------------------------------------------------ tails


def _mp(f, *args):
    mpmath.mp.dps = 50
    return float(f(*[mpmath.mpf(float(a)) for a in args]))


TAILS = [
    # (distribution, method, x, exact as a function of x, in mpmath)
    (
        D.HalfNormal(1.0),
        "log_survival_function",
        40.0,
        lambda x: mpmath.log(mpmath.erfc(x / mpmath.sqrt(2))),
    ),
    (D.HalfNormal(1.0), "log_cdf", 1e-20, lambda x: mpmath.log(mpmath.erf(x / mpmath.sqrt(2)))),
    (D.HalfNormal(1.0), "log_cdf", 6.0, lambda x: mpmath.log(mpmath.erf(x / mpmath.sqrt(2)))),
    (D.HalfCauchy(1.0), "survival_function", 1e12, lambda x: 2 / mpmath.pi * mpmath.atan(1 / x)),
    (D.HalfCauchy(1.0), "log_prob", 1e25, lambda x: mpmath.log(2 / mpmath.pi / (1 + x * x))),
    (
        D.Gumbel(0.0, 1.0),
        "log_survival_function",
        40.0,
        lambda x: mpmath.log(-mpmath.expm1(-mpmath.exp(-x))),
    ),
    (D.Gumbel(0.0, 1.0), "log_cdf", -4.0, lambda x: -mpmath.exp(-x)),
    (D.Gumbel(0.0, 1.0), "survival_function", 30.0, lambda x: -mpmath.expm1(-mpmath.exp(-x))),
    (D.Weibull(1.0, 2.0), "cdf", 1e-10, lambda x: -mpmath.expm1(-(x**2))),
    (D.Weibull(1.0, 2.0), "log_cdf", 1e-10, lambda x: mpmath.log(-mpmath.expm1(-(x**2)))),
    (D.Weibull(1.0, 0.5), "log_survival_function", 1e30, lambda x: -mpmath.sqrt(x)),
    (D.Pareto(1.0, 3.0), "cdf", 1.0 + 2**-20, lambda x: 1 - x**-3),
    (D.Pareto(1.0, 3.0), "log_cdf", 1.0 + 2**-20, lambda x: mpmath.log(1 - x**-3)),
    (D.Pareto(1.0, 3.0), "log_survival_function", 1e30, lambda x: -3 * mpmath.log(x)),
]


@pytest.mark.parametrize("case", TAILS, ids=lambda c: f"{type(c[0]).__name__}.{c[1]}({c[2]:g})")
@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_tails_keep_relative_accuracy(case, dtype):
    d, method, x, exact = case
    d = type(d)(**{k: getattr(d, k).to(dtype) for k in d.arg_constraints})
    value = torch.tensor(x, dtype=dtype)
    ours = getattr(d, method)(value)
    assert ours.dtype == dtype
    expected = _mp(exact, value.item())  # at the rounded point
    rtol = 2e-6 if dtype == torch.float32 else 1e-13
    assert abs(ours.item() - expected) <= rtol * abs(expected), (ours.item(), expected)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_icdf_near_one_is_accurate_and_in_the_support(dtype):
    q = torch.tensor([1 - 2**-20, 1 - 2**-24], dtype=dtype)
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    cases = [
        (D.HalfCauchy(torch.tensor(1.0, dtype=dtype)), lambda p: mpmath.tan(mpmath.pi * p / 2)),
        (
            D.HalfNormal(torch.tensor(1.0, dtype=dtype)),
            lambda p: mpmath.sqrt(2) * mpmath.erfinv(p),
        ),
        (D.Gumbel(torch.tensor(0.0, dtype=dtype), 1.0), lambda p: -mpmath.log(-mpmath.log(p))),
        (D.Weibull(torch.tensor(1.0, dtype=dtype), 2.0), lambda p: mpmath.sqrt(-mpmath.log1p(-p))),
        (D.Pareto(torch.tensor(1.0, dtype=dtype), 3.0), lambda p: (1 - p) ** (-mpmath.mpf(1) / 3)),
    ]
    for d, exact in cases:
        ours = d.icdf(q)
        expected = torch.tensor([_mp(exact, p) for p in q.tolist()], dtype=F64)
        torch.testing.assert_close(ours.double(), expected, rtol=rtol, atol=0, msg=type(d).__name__)


def test_weibull_variance_keeps_its_accuracy_for_large_concentration():
    k = [1.5, 9.9, 10.1, 40.0, 500.0]
    mpmath.mp.dps = 50
    exact = [
        float(mpmath.gamma(1 + 2 / mpmath.mpf(c)) - mpmath.gamma(1 + 1 / mpmath.mpf(c)) ** 2)
        for c in k
    ]
    for dtype, rtol in [(F64, 1e-13), (torch.float32, 2e-6)]:
        ours = D.Weibull(torch.tensor(1.0, dtype=dtype), torch.tensor(k, dtype=dtype)).variance
        torch.testing.assert_close(ours.double(), torch.tensor(exact, dtype=F64), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_samples_stay_in_the_support_at_extreme_parameters(dtype):
    g = torch.Generator().manual_seed(3)
    cases = [
        D.Weibull(torch.tensor(1.0, dtype=dtype), torch.tensor([0.02, 0.2, 100.0], dtype=dtype)),
        D.Gumbel(torch.tensor(0.0, dtype=dtype), torch.tensor([1e-3, 1.0, 1e3], dtype=dtype)),
        D.Pareto(torch.tensor(1.0, dtype=dtype), torch.tensor([0.05, 1.0, 1e3], dtype=dtype)),
        D.HalfCauchy(torch.tensor([1e-3, 1.0, 1e3], dtype=dtype)),
        D.HalfNormal(torch.tensor([1e-3, 1.0, 1e3], dtype=dtype)),
    ]
    for d in cases:
        x = d.rsample((100_000,), generator=g)
        assert not x.isnan().any(), type(d).__name__
        assert d.support.check(x).all(), type(d).__name__


@pytest.mark.parametrize("name", IDS)
def test_samples_have_the_law_of_the_cdf(name):
    """The fraction of 100k draws below each quantile icdf(q) is q within 6 binomial
    standard errors, per batch entry: the law of the sampler itself (HalfCauchy has no
    moments for the generic suite to compare)."""
    d = FAMILIES[name](lambda v: torch.tensor(v, dtype=F64))
    n = 100_000
    x = d.sample((n,), generator=torch.Generator().manual_seed(12))
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        below = (x <= d.icdf(torch.tensor(q, dtype=F64))).double().mean(0)
        assert ((below - q).abs() <= 6 * math.sqrt(q * (1 - q) / n)).all(), (q, below)


# ------------------------------------------------------------------ base and transforms


@pytest.mark.parametrize("name", IDS)
def test_closed_forms_never_build_the_base(name):
    d = FAMILIES[name](lambda v: torch.tensor(v, dtype=F64))
    x = d.sample((3,))
    d.rsample((2,))
    for method in ("log_prob", "cdf", "log_cdf", "survival_function", "log_survival_function"):
        getattr(d, method)(x)
    d.icdf(torch.tensor(0.3, dtype=F64))
    d.entropy(), d.mean, d.mode, d.variance, d.median, d.has_rsample, d.support
    d.expand((4, 2))
    assert "base_dist" not in d.__dict__ and "transforms" not in d.__dict__
    assert d.has_rsample is True


def test_has_rsample_is_torchs_kind_of_flag():
    for name in ("Gumbel", "Weibull", "Pareto"):
        assert isinstance(getattr(D, name).has_rsample, property), name
        assert isinstance(getattr(td, name).has_rsample, property), name
    for name in ("HalfNormal", "HalfCauchy"):
        assert getattr(D, name).has_rsample is True and getattr(td, name).has_rsample is True


@pytest.mark.parametrize("name", ["Gumbel", "Weibull", "Pareto"])
def test_base_and_transforms_give_the_same_law(name):
    """The generic path through the (bijective) transforms matches every closed form."""
    d = FAMILIES[name](lambda v: torch.tensor(v, dtype=F64))
    generic = D.TransformedDistribution(d.base_dist, d.transforms)
    assert generic.batch_shape == d.batch_shape and isinstance(d, D.TransformedDistribution)
    x = d.sample((20,), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(generic.log_prob(x), d.log_prob(x))
    for method in ("cdf", "survival_function", "log_cdf", "log_survival_function"):
        torch.testing.assert_close(getattr(generic, method)(x), getattr(d, method)(x), msg=method)
    q = torch.tensor([[0.01], [0.5], [0.97]], dtype=F64)
    torch.testing.assert_close(generic.icdf(q), d.icdf(q))
    # The pushed-forward base samples have the law of the closed-form sampler.
    y = generic.sample((20_000,), generator=torch.Generator().manual_seed(5))
    u = d.cdf(y)  # uniform on (0, 1) if y has d's law
    assert ((u.mean(0) - 0.5).abs() < 6 * (1 / 12 / 20_000) ** 0.5).all()


def test_half_normal_base_folds_to_the_same_law():
    d = D.HalfNormal(torch.tensor([0.7, 2.0], dtype=F64))
    assert d.transforms == [D.AbsTransform()]
    x = torch.tensor([[0.3, 1.0], [2.0, 0.1]], dtype=F64)
    torch.testing.assert_close(d.log_prob(x), d.base_dist.log_prob(x) + math.log(2))
    torch.testing.assert_close(d.cdf(x), 2 * d.base_dist.cdf(x) - 1)
    # Same generator, same numbers as torch's HalfNormal (|randn| * scale).
    ours = d.sample((5,), generator=torch.Generator().manual_seed(6))
    torch.manual_seed(6)
    theirs = td.HalfNormal(d.scale).sample((5,))
    torch.testing.assert_close(ours, theirs)


def test_half_cauchy_base_folds_to_the_same_law():
    d = D.HalfCauchy(torch.tensor([0.7, 2.0], dtype=F64))
    assert isinstance(d.base_dist, D.Cauchy) and d.transforms == [D.AbsTransform()]
    torch.testing.assert_close(d.base_dist.loc, torch.zeros(2, dtype=F64))
    torch.testing.assert_close(d.base_dist.scale, d.scale)
    x = torch.tensor([[0.3, 5.0], [1e3, 1e-4]], dtype=F64)
    torch.testing.assert_close(d.log_prob(x), d.base_dist.log_prob(x) + math.log(2))
    torch.testing.assert_close(d.cdf(x), 2 * d.base_dist.cdf(x) - 1)
    # |X| for X drawn from the base has the law of the closed-form sampler.
    y = d.base_dist.sample((20_000,), generator=torch.Generator().manual_seed(5)).abs()
    u = d.cdf(y)  # uniform on (0, 1) if |X| has HalfCauchy's law
    assert ((u.mean(0) - 0.5).abs() < 6 * (1 / 12 / 20_000) ** 0.5).all()


# ------------------------------------------------------------------ pathwise gradients


@pytest.mark.parametrize("name", IDS)
def test_rsample_gradient_is_the_implicit_gradient_per_sample(name):
    """dx/dtheta of each draw equals -(dF/dtheta)(x) / f(x), the implicit gradient of the
    cdf at the draw (every parameter, float64): a detached or mis-scaled parameter fails."""
    leaves: list[torch.Tensor] = []
    d = FAMILIES[name](_leaf_maker(leaves))
    x = d.rsample((200,), generator=torch.Generator().manual_seed(9))
    w = torch.rand(x.shape, dtype=F64, generator=torch.Generator().manual_seed(10)) + 0.5
    pathwise = torch.autograd.grad((w * x).sum(), leaves)
    xd = x.detach()
    cdf = d.cdf(xd)
    dcdf = torch.autograd.grad((w * cdf / d.log_prob(xd).exp().detach()).sum(), leaves)
    for ours, implicit in zip(pathwise, dcdf):
        assert (ours.abs() > 1e-3).all(), f"{name}: no gradient reaches a parameter"
        torch.testing.assert_close(ours, -implicit, rtol=1e-7, atol=1e-9, msg=f"{name}")


def test_half_cauchy_pathwise_gradient_of_the_log():
    # x = scale * tan(pi u / 2): d log(x) / d scale = 1 / scale for every draw, and
    # E[log X] = log(scale) (the standard half-Cauchy has median 1 and log-symmetric law).
    scale = torch.tensor([0.5, 3.0], dtype=F64, requires_grad=True)
    x = D.HalfCauchy(scale).rsample((50_000,), generator=torch.Generator().manual_seed(2))
    (grad,) = torch.autograd.grad(x.log().mean(0).sum(), scale)
    torch.testing.assert_close(grad, 1 / scale.detach(), rtol=1e-12, atol=0)


# ------------------------------------------------------------------ moments, support


def test_pareto_moments_are_infinite_below_their_thresholds_with_finite_gradients():
    alpha = torch.tensor([0.5, 1.0, 1.5, 2.0, 3.0], dtype=F64, requires_grad=True)
    scale = torch.tensor(2.0, dtype=F64, requires_grad=True)
    d = D.Pareto(scale, alpha)
    inf = math.inf
    torch.testing.assert_close(d.mean, torch.tensor([inf, inf, 6.0, 4.0, 3.0], dtype=F64))
    torch.testing.assert_close(d.variance, torch.tensor([inf, inf, inf, inf, 3.0], dtype=F64))
    for value in (d.mean, d.variance):
        grads = torch.autograd.grad(value[value.isfinite()].sum(), (scale, alpha))
        assert all(g.isfinite().all() for g in grads)
    torch.testing.assert_close(d.mean, td.Pareto(scale, alpha).mean)
    torch.testing.assert_close(d.variance, td.Pareto(scale, alpha).variance)


def test_half_cauchy_moments_are_infinite():
    d = D.HalfCauchy(torch.tensor([[1.0, 2.0]], dtype=torch.float32))
    assert d.mean.shape == (1, 2) and d.mean.dtype == torch.float32 and d.mean.isinf().all()
    assert d.variance.isinf().all() and (d.median == d.scale).all()


def test_medians_are_the_half_quantiles():
    for name in IDS:
        d = FAMILIES[name](lambda v: torch.tensor(v, dtype=F64))
        torch.testing.assert_close(d.median, d.icdf(torch.tensor(0.5, dtype=F64)), msg=name)
        torch.testing.assert_close(d.cdf(d.median), torch.full((2,), 0.5, dtype=F64), msg=name)


def test_values_outside_the_support_with_validation_off():
    cases = [
        (D.HalfNormal(1.0, validate_args=False), -1.0),
        (D.HalfCauchy(1.0, validate_args=False), -1.0),
        (D.Weibull(1.0, 2.0, validate_args=False), -1.0),
        (D.Pareto(2.0, 3.0, validate_args=False), 1.5),
    ]
    for d, x in cases:
        x = torch.tensor(x)
        name = type(d).__name__
        assert d.log_prob(x) == -math.inf, name
        assert d.cdf(x) == 0 and d.log_cdf(x) == -math.inf, name
        assert d.survival_function(x) == 1 and d.log_survival_function(x) == 0, name
    with pytest.raises(D.SupportError, match="Pareto"):
        D.Pareto(2.0, 3.0).log_prob(torch.tensor(1.5))


def test_weibull_keeps_torchs_concentration_reciprocal():
    k = torch.tensor([0.5, 4.0])
    d = D.Weibull(1.0, k)
    torch.testing.assert_close(
        d.concentration_reciprocal, td.Weibull(1.0, k).concentration_reciprocal
    )
    with torch.no_grad():
        k.mul_(2)  # an in-place update is seen (torch's attribute is computed once)
    torch.testing.assert_close(d.concentration_reciprocal, 1 / k)
