"""Cauchy, StudentT, Chi2, FisherSnedecor: what the generic suite does not see.

Heavy tails (StudentT with df <= 4, FisherSnedecor with df2 <= 8), where the Monte Carlo
checks of the registry cannot run, against scipy; moments that do not exist (NaN/inf as
torch's); far tails against mpmath; the HalfCauchy base; pathwise gradients in df.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.distributions as td
from scipy import integrate, stats

import aleatorch as D

F64 = torch.float64
METHODS = [
    ("log_prob", "logpdf"),
    ("cdf", "cdf"),
    ("survival_function", "sf"),
    ("log_cdf", "logcdf"),
    ("log_survival_function", "logsf"),
]

HEAVY = [
    (
        lambda: D.StudentT(torch.tensor([0.2, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0], dtype=F64), 0.5, 2.0),
        lambda df: stats.t(df, 0.5, 2.0),
        [0.2, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0],
    ),
    (
        lambda: D.FisherSnedecor(
            torch.tensor([0.3, 1.0, 2.0, 5.0, 8.0], dtype=F64),
            torch.tensor([0.5, 1.5, 3.0, 4.0, 6.0], dtype=F64),
        ),
        lambda _: stats.f([0.3, 1.0, 2.0, 5.0, 8.0], [0.5, 1.5, 3.0, 4.0, 6.0]),
        None,
    ),
]


@pytest.mark.parametrize("k", range(len(HEAVY)), ids=["StudentT", "FisherSnedecor"])
def test_heavy_tails_match_scipy(k):
    make, ref_of, df = HEAVY[k]
    d = make()
    ref = ref_of(np.array(df) if df is not None else None)
    x = d.sample((40,), generator=torch.Generator().manual_seed(0))
    for ours, theirs in METHODS:
        np.testing.assert_allclose(
            getattr(d, ours)(x).numpy(), getattr(ref, theirs)(x.numpy()), rtol=1e-9, err_msg=ours
        )
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-10)
    q = torch.tensor([[1e-6], [0.01], [0.4], [0.9], [0.999]], dtype=F64)
    np.testing.assert_allclose(d.icdf(q).numpy(), ref.ppf(q.numpy()), rtol=1e-9)


def test_student_t_moments_are_nan_and_inf_as_torchs():
    df = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5], dtype=F64)
    d, t = D.StudentT(df, 1.0, 2.0), td.StudentT(df, 1.0, 2.0)
    torch.testing.assert_close(d.mean, t.mean, equal_nan=True)
    torch.testing.assert_close(d.variance, t.variance, equal_nan=True)
    assert torch.isnan(d.mean[:2]).all() and (d.mean[2:] == 1).all()
    assert torch.isnan(d.variance[:2]).all() and torch.isinf(d.variance[2:4]).all()
    assert (d.mode == 1).all() and (d.median == 1).all()


def test_fisher_snedecor_divergent_moments_are_inf_and_mode_is_zero_for_small_df1():
    df1 = torch.tensor([1.0, 2.0, 3.0, 5.0], dtype=F64)
    df2 = torch.tensor([1.0, 3.0, 4.5, 12.0], dtype=F64)
    d, t = D.FisherSnedecor(df1, df2), td.FisherSnedecor(df1, df2)
    # torch 2.13 returns NaN where the integrals diverge (df2 <= 2 for the mean, <= 4 for the
    # variance); the law is bounded below, so they diverge to +inf (docs/differences.md)
    torch.testing.assert_close(d.mean[1:], t.mean[1:])
    torch.testing.assert_close(d.variance[2:], t.variance[2:])
    assert d.mean[0] == math.inf and (d.variance[:2] == math.inf).all()
    # torch 2.13 gives NaN for df1 <= 2; the density is largest at (or unbounded near) 0.
    torch.testing.assert_close(d.mode[2:], t.mode[2:])
    assert (d.mode[:2] == 0).all()
    x = torch.tensor([1e-3, 1e-2, 0.1], dtype=F64).unsqueeze(-1)
    assert (D.FisherSnedecor(df1[:2], df2[:2]).log_prob(x).diff(dim=0) <= 0).all()


def test_cauchy_moments_and_chi2_parameters():
    d = D.Cauchy(torch.tensor([0.0, 2.0], dtype=F64), 1.0)
    assert torch.isnan(d.mean).all() and torch.isinf(d.variance).all()
    assert (d.mode == d.loc).all() and (d.median == d.loc).all()
    df = torch.tensor([1.0, 3.0], dtype=F64, requires_grad=True)
    c = D.Chi2(df)
    assert isinstance(c, D.Gamma)
    torch.testing.assert_close(c.concentration, df / 2)
    torch.testing.assert_close(c.rate, torch.full_like(df, 0.5))
    with torch.no_grad():
        df.mul_(2)  # an in-place update of df is seen
    torch.testing.assert_close(c.mean, df.detach())


TAILS = [
    (D.Cauchy(0.0, 1.0), "cdf", -1e12, lambda x: mpmath.atan(-1 / x) / mpmath.pi),
    (D.Cauchy(0.0, 1.0), "survival_function", 1e12, lambda x: mpmath.atan(1 / x) / mpmath.pi),
    (
        D.Cauchy(0.0, 1.0),
        "log_cdf",
        1e9,
        lambda x: mpmath.log(1 - mpmath.atan(1 / x) / mpmath.pi),
    ),
    (D.Cauchy(0.0, 1.0), "log_prob", 1e25, lambda x: -mpmath.log(mpmath.pi * (1 + x * x))),
    (
        D.StudentT(3.0),
        "cdf",
        -1e6,
        lambda x: mpmath.betainc(1.5, 0.5, 0, 3 / (3 + x * x), regularized=True) / 2,
    ),
    (
        D.StudentT(3.0),
        "log_survival_function",
        1e30,
        lambda x: mpmath.log(mpmath.betainc(1.5, 0.5, 0, 3 / (3 + x * x), regularized=True) / 2),
    ),
    (
        D.StudentT(3.0),
        "log_prob",
        1e30,
        lambda x: (
            mpmath.log(mpmath.npdf(0) * 0 + 1) * 0
            + (
                mpmath.loggamma(2)
                - mpmath.loggamma(1.5)
                - 0.5 * mpmath.log(3 * mpmath.pi)
                - 2 * mpmath.log1p(x * x / 3)
            )
        ),
    ),
    (
        D.FisherSnedecor(3.0, 5.0),
        "survival_function",
        1e8,
        lambda x: mpmath.betainc(2.5, 1.5, 0, 5 / (3 * x + 5), regularized=True),
    ),
]


@pytest.mark.parametrize("case", TAILS, ids=lambda c: f"{type(c[0]).__name__}.{c[1]}({c[2]:g})")
def test_far_tails_keep_relative_accuracy(case):
    d, method, x, exact = case
    d = d.expand(())  # float32 parameters; evaluate in float64
    d64 = type(d)(**{k: getattr(d, k).double() for k in d.arg_constraints})
    mpmath.mp.dps = 40
    value = getattr(d64, method)(torch.tensor(x, dtype=F64)).item()
    assert value == pytest.approx(float(exact(mpmath.mpf(x))), rel=1e-12)


def test_cauchy_icdf_tails_are_exact():
    d = D.Cauchy(torch.tensor(0.0, dtype=F64), 1.0)
    for q in [1e-15, 1e-300, 1 - 2**-50]:
        exact = -mpmath.cot(mpmath.pi * mpmath.mpf(q))  # tan(pi (q - 1/2)), exactly
        assert d.icdf(torch.tensor(q, dtype=F64)).item() == pytest.approx(float(exact), rel=1e-13)
    assert d.icdf(torch.tensor([0.0, 0.5, 1.0], dtype=F64)).tolist() == [-math.inf, 0.0, math.inf]


def _pathwise_gradient_of_bounded_mean(make, params, seed):
    """Mean and standard error of the pathwise gradient of E[tanh(X)] (bounded, so that its
    Monte Carlo estimate converges whatever the tails) over 20 batches of 10k draws."""
    g = torch.Generator().manual_seed(seed)
    grads = []
    for _ in range(20):
        x = make(*params).rsample((10_000,), generator=g)
        grads.append(torch.stack(torch.autograd.grad(torch.tanh(x).mean(0).sum(), params)))
    grads = torch.stack(grads)
    return grads.mean(0), grads.std(0) / 20**0.5


def _exact_gradient_of_bounded_mean(frozen_of, values, h=1e-5):
    """d E[tanh(X)] / d theta for each parameter, by central differences of quadratures."""

    def expectation(vals):
        frozen = frozen_of(*vals)
        return integrate.quad(lambda x: math.tanh(x) * frozen.pdf(x), *frozen.support(), limit=400)[
            0
        ]

    out = []
    for k in range(len(values)):
        up, down = list(values), list(values)
        up[k], down[k] = values[k] + h, values[k] - h
        out.append((expectation(up) - expectation(down)) / (2 * h))
    return out


@pytest.mark.parametrize(
    "name, make, frozen_of, values",
    [
        (
            "StudentT",
            lambda df, s: D.StudentT(df, 0.3, s),
            lambda df, s: stats.t(df, 0.3, s),
            [0.7, 1.5],
        ),
        (
            "StudentT",
            lambda df, s: D.StudentT(df, 0.3, s),
            lambda df, s: stats.t(df, 0.3, s),
            [3.0, 0.5],
        ),
        ("FisherSnedecor", D.FisherSnedecor, stats.f, [0.5, 3.0]),
        ("FisherSnedecor", D.FisherSnedecor, stats.f, [4.0, 0.8]),
    ],
)
def test_pathwise_gradients_under_heavy_tails(name, make, frozen_of, values):
    """Where no moment of x^2 exists (so the registry's check cannot run), the pathwise
    gradient of the bounded E[tanh(X)] in every parameter against quadrature."""
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in values]
    mean, se = _pathwise_gradient_of_bounded_mean(make, params, seed=3)
    exact = torch.tensor(_exact_gradient_of_bounded_mean(frozen_of, values), dtype=F64)
    assert ((mean - exact).abs() <= 6 * se + 1e-6).all(), (mean, exact, se)
    assert (exact.abs() > 6 * se).all(), "gradient not resolved"


def test_half_cauchy_base_is_the_cauchy_of_torch():
    d = D.HalfCauchy(torch.tensor([0.7, 2.0], dtype=F64))
    theirs = td.HalfCauchy(d.scale)
    x = torch.tensor([0.3, 5.0], dtype=F64)
    torch.testing.assert_close(d.base_dist.log_prob(x), theirs.base_dist.log_prob(x))


def test_generalized_pareto_heavy_tails_and_moments():
    c = torch.tensor([0.3, 0.5, 1.0, 1.5, 3.0], dtype=F64)
    d = D.GeneralizedPareto(0.5, 2.0, c)
    ref = stats.genpareto(c.numpy(), 0.5, 2.0)
    x = d.sample((40,), generator=torch.Generator().manual_seed(0))
    for ours, theirs in METHODS:
        np.testing.assert_allclose(
            getattr(d, ours)(x).numpy(), getattr(ref, theirs)(x.numpy()), rtol=1e-9, err_msg=ours
        )
    q = torch.tensor([[1e-6], [0.4], [0.999]], dtype=F64)
    np.testing.assert_allclose(d.icdf(q).numpy(), ref.ppf(q.numpy()), rtol=1e-10)
    np.testing.assert_allclose(d.median.numpy(), ref.median(), rtol=1e-12)
    theirs = td.GeneralizedPareto(torch.tensor(0.5), torch.tensor(2.0), c.float())
    # finite moments as torch's; divergent ones +inf where torch 2.13 returns NaN
    torch.testing.assert_close(d.mean[:2].float(), theirs.mean[:2])
    torch.testing.assert_close(d.variance[:1].float(), theirs.variance[:1])
    assert (d.mean[2:] == math.inf).all() and (d.variance[1:] == math.inf).all()


def test_generalized_pareto_is_smooth_through_zero_concentration():
    """Values and gradients at xi = 0 (the exponential) continue those at xi = +-1e-3."""
    x = torch.tensor([0.1, 1.0, 7.0], dtype=F64)
    values, grads = [], []
    for xi in [-1e-3, 0.0, 1e-3]:
        c = torch.tensor(xi, dtype=F64, requires_grad=True)
        lp = D.GeneralizedPareto(0.0, 1.0, c).log_prob(x)
        (g,) = torch.autograd.grad(lp.sum(), c)
        values.append(lp.detach())
        grads.append(g)
    torch.testing.assert_close(values[1], -x)
    torch.testing.assert_close(values[1], (values[0] + values[2]) / 2, rtol=0, atol=1e-3)
    # d log p / d xi at 0 = z^2 / 2 - z
    torch.testing.assert_close(grads[1], (x.square() / 2 - x).sum())
    torch.testing.assert_close(grads[1], (grads[0] + grads[2]) / 2, rtol=1e-2, atol=0)


def test_generalized_pareto_negative_concentration_has_a_bounded_support():
    d = D.GeneralizedPareto(1.0, 2.0, torch.tensor([-0.5, -2.0], dtype=F64))
    upper = torch.tensor([5.0, 2.0], dtype=F64)
    torch.testing.assert_close(d.icdf(torch.ones(2, dtype=F64)), upper)
    assert d.support.check(upper).all() and not d.support.check(upper + 1e-9).any()
    x = d.sample((1000,), generator=torch.Generator().manual_seed(1))
    assert ((x >= 1.0) & (x <= upper)).all()
    with pytest.raises(ValueError):
        d.log_prob(upper + 0.1)
