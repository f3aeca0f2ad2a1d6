"""Hard points of Kumaraswamy, InverseGamma, LogisticNormal and the relaxed (Concrete)
families that the generic suite does not reach: torch bugs we fix (batched temperature,
Kumaraswamy's mode, LogitRelaxedBernoulli.has_rsample), the temperature (not in
``arg_constraints``, so not one of the suite's gradient leaves), laws of the samples, float32
at low temperature, and fidelity to torch's construction (base and transforms)."""

import math

import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td
from scipy import stats
from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli as TorchLogitRelaxed
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical as TorchExpRelaxed

import aleatorch as D

F64 = torch.float64


def t64(values):
    return torch.tensor(values, dtype=F64)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------- batched temperature (#37162)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (D.ExpRelaxedCategorical, TorchExpRelaxed),
        (D.RelaxedOneHotCategorical, td.RelaxedOneHotCategorical),
    ],
)
def test_batched_temperature_log_prob_has_the_batch_shape(ours, theirs):
    temperature = t64([[0.3], [1.0], [2.5]])
    logits = t64([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0], [-2.0, 0.3, 0.1, 1.5]])
    d = ours(temperature, logits=logits)
    assert d.batch_shape == (3,) and d.event_shape == (4,)
    x = d.sample((5,), generator=seeded(0))
    log_prob = d.log_prob(x)
    assert log_prob.shape == (5, 3)
    for i in range(3):  # torch is right with one scalar temperature at a time
        expected = theirs(temperature[i, 0], logits=logits[i]).log_prob(x[:, i])
        torch.testing.assert_close(log_prob[:, i], expected)
    # the temperature alone may carry the batch dims
    e = ours(temperature, logits=logits[0])
    assert e.batch_shape == (3,) and e.log_prob(e.sample((2,))).shape == (2, 3)
    assert e.expand((2, 3)).log_prob(e.sample()).shape == (2, 3)


def test_batched_temperature_of_the_binary_families_counts_in_the_batch_shape():
    temperature, probs = t64([[0.5], [2.0]]), t64([0.2, 0.5, 0.9])
    for cls, theirs in [
        (D.RelaxedBernoulli, td.RelaxedBernoulli),
        (D.LogitRelaxedBernoulli, TorchLogitRelaxed),
    ]:
        d = cls(temperature, probs=probs)
        assert d.batch_shape == (2, 3)
        x = d.sample((4,), generator=seeded(1))
        assert x.shape == (4, 2, 3) and d.log_prob(x).shape == (4, 2, 3)
        for i in range(2):
            expected = theirs(temperature[i, 0], probs=probs).log_prob(x[:, i])
            torch.testing.assert_close(d.log_prob(x)[:, i], expected)


def test_a_temperature_without_a_trailing_unit_dim_is_refused_with_the_fix():
    with pytest.raises(D.ShapeError, match=r"unsqueeze\(-1\)"):
        D.RelaxedOneHotCategorical(torch.ones(2), logits=torch.zeros(2, 3))
    d = D.RelaxedOneHotCategorical(torch.tensor([2.2]), probs=torch.tensor([0.1, 0.2, 0.7]))
    assert d.batch_shape == () and d.sample().shape == (3,)  # torch's docstring example


# ----------------------------------------------------------------------- Kumaraswamy's mode


@pytest.mark.parametrize(
    "a, b", [(2.0, 3.0), (5.0, 1.5), (1.3, 8.0), (1.0, 4.0), (3.0, 1.0), (20.0, 2.0)]
)
def test_kumaraswamy_mode_is_the_argmax_of_the_density(a, b):
    d = D.Kumaraswamy(t64(a), t64(b))
    x = torch.linspace(0, 1, 200001, dtype=F64)
    density = (math.log(a * b) + (a - 1) * x.log() + (b - 1) * torch.log1p(-(x**a))).nan_to_num(
        nan=-math.inf
    )
    if a == 1:
        density[0] = math.log(a * b)  # 0 * log 0 = 0
    if b == 1:
        density[-1] = math.log(a * b)
    argmax = x[density.argmax()]
    assert abs(float(d.mode) - float(argmax)) <= 1e-5
    assert float(d.log_prob(d.mode)) >= float(density.max()) - 1e-9
    assert torch.isnan(td.Kumaraswamy(t64(a), t64(b)).mode)  # pytorch#173912


def test_kumaraswamy_mode_at_the_edges_follows_the_stronger_singularity():
    a = t64([0.5, 2.0, 0.5, 0.7, 0.6, 1.0])
    b = t64([2.0, 0.5, 0.7, 0.5, 0.6, 1.0])
    mode = D.Kumaraswamy(a, b).mode
    torch.testing.assert_close(mode[:5], t64([0.0, 1.0, 0.0, 1.0, 1.0]))
    assert torch.isnan(mode[5])  # the uniform distribution: every point is a mode
    d = D.Kumaraswamy(a[:5], b[:5])
    near = t64([1e-12, 1 - 1e-12])
    ends = d.log_prob(near.unsqueeze(-1).expand(2, 5))
    torch.testing.assert_close((ends[1] > ends[0]).to(F64), mode[:5])


# ------------------------------------------------------------------------------ Kumaraswamy


@pytest.mark.parametrize("a, b", [(2.0, 3.0), (0.5, 0.7), (7.0, 0.4), (0.3, 12.0)])
def test_kumaraswamy_summaries_match_quadrature(a, b):
    """Moments and entropy by tanh-sinh quadrature (mpmath: the density may be unbounded at
    both ends), independent of the beta-function forms."""
    d = D.Kumaraswamy(t64(a), t64(b))

    def log_pdf(x):
        a_, b_ = mp.mpf(a), mp.mpf(b)
        return mp.log(a_ * b_) + (a_ - 1) * mp.log(x) + (b_ - 1) * mp.log1p(-(x**a_))

    pieces = [0, 1e-8, 1e-4, 1e-2, 0.5, 1]  # the mass may sit very close to 0
    with mp.workdps(30):
        m1 = mp.quad(lambda x: x * mp.exp(log_pdf(x)), pieces)
        m2 = mp.quad(lambda x: x * x * mp.exp(log_pdf(x)), pieces)
        entropy = mp.quad(lambda x: -log_pdf(x) * mp.exp(log_pdf(x)), pieces)
    np.testing.assert_allclose(float(d.mean), float(m1), rtol=1e-12)
    np.testing.assert_allclose(float(d.variance), float(m2 - m1**2), rtol=1e-11)
    np.testing.assert_allclose(float(d.entropy()), float(entropy), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(d.median), float(d.icdf(t64(0.5))), rtol=1e-14)


def test_kumaraswamy_with_a_unit_concentration_is_a_beta():
    x = torch.linspace(0.01, 0.99, 9, dtype=F64)
    for a, b in [(1.0, 3.5), (2.5, 1.0)]:
        d, ref = D.Kumaraswamy(t64(a), t64(b)), stats.beta(a, b)
        np.testing.assert_allclose(d.log_prob(x).numpy(), ref.logpdf(x.numpy()), rtol=1e-12)
        np.testing.assert_allclose(d.cdf(x).numpy(), ref.cdf(x.numpy()), rtol=1e-12)
        np.testing.assert_allclose(float(d.variance), ref.var(), rtol=1e-12)


def test_kumaraswamy_float32_is_accurate_where_differences_cancel():
    a, b = t64([40.0, 200.0, 0.01, 3.0]), t64([50.0, 3.0, 2.0, 1e4])
    d64, d32 = D.Kumaraswamy(a, b), D.Kumaraswamy(a.float(), b.float())
    for name in ["mean", "variance"]:
        torch.testing.assert_close(
            getattr(d32, name).double(), getattr(d64, name), rtol=1e-6, atol=0
        )
    # near 1, 1 - x^a and the tails: log space throughout
    x = torch.tensor([1e-30, 1e-6, 0.5, 1 - 2**-20, 1 - 2**-24], dtype=torch.float32)
    d64, d32 = D.Kumaraswamy(t64(2.0), t64(3.0)), D.Kumaraswamy(2.0, 3.0)
    for method in ["log_prob", "log_cdf", "log_survival_function"]:
        actual, expected = getattr(d32, method)(x), getattr(d64, method)(x.double())
        torch.testing.assert_close(actual.double(), expected, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- InverseGamma


@pytest.mark.parametrize("a, rate", [(0.3, 2.0), (0.9, 0.5), (1.5, 3.0), (2.0, 1.0)])
def test_inverse_gamma_small_shapes_match_scipy(a, rate):
    d, ref = D.InverseGamma(t64(a), t64(rate)), stats.invgamma(a, scale=rate)
    q = np.array([1e-4, 0.1, 0.5, 0.9, 0.999])
    x = ref.ppf(q)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(d.log_prob(xt).numpy(), ref.logpdf(x), rtol=1e-10)
    np.testing.assert_allclose(d.cdf(xt).numpy(), ref.cdf(x), rtol=1e-10)
    np.testing.assert_allclose(d.survival_function(xt).numpy(), ref.sf(x), rtol=1e-10)
    np.testing.assert_allclose(d.icdf(torch.from_numpy(q)).numpy(), x, rtol=1e-9)
    np.testing.assert_allclose(float(d.entropy()), ref.entropy(), rtol=1e-10)
    np.testing.assert_allclose(float(d.mode), rate / (a + 1), rtol=1e-15)
    assert float(d.mean) == (math.inf if a <= 1 else rate / (a - 1))
    assert float(d.variance) == math.inf  # as torch for a <= 2
    assert torch.isfinite(d.sample((1000,), generator=seeded(2))).all()


def test_inverse_gamma_float32_entropy_at_large_shapes():
    a = torch.tensor([9.0, 10.0, 11.0, 150.0, 1e4], dtype=torch.float32)
    expected = stats.invgamma(a.double().numpy(), scale=2.0).entropy()
    actual = D.InverseGamma(a, 2.0).entropy().double().numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-6)


def test_inverse_gamma_rsample_carries_the_implicit_gamma_gradient():
    a, rate = t64([0.7, 3.0]).requires_grad_(), t64([2.0, 0.5]).requires_grad_()
    y = D.InverseGamma(a, rate).rsample((50,), generator=seeded(3))
    ga, grate = torch.autograd.grad(y.sum(), [a, rate])
    # the same draws of Gamma(a, 1): y = rate / g, dy/da = -rate g'(a) / g^2
    a2 = a.detach().clone().requires_grad_()
    g = torch._standard_gamma(a2.expand(50, 2), generator=seeded(3))
    (dg,) = torch.autograd.grad((rate.detach() / g).sum(), [a2])
    torch.testing.assert_close(ga, dg)
    torch.testing.assert_close(grate, (1 / g).sum(0).detach())


# -------------------------------------------------------------------- the relaxed families


def test_logit_relaxed_bernoulli_has_rsample_unlike_torch():
    assert D.LogitRelaxedBernoulli.has_rsample and not TorchLogitRelaxed.has_rsample
    logits = t64([0.3, -1.0]).requires_grad_()
    x = D.LogitRelaxedBernoulli(t64(0.5), logits=logits).rsample((3,))
    (grad,) = torch.autograd.grad(x.sum(), logits)
    torch.testing.assert_close(grad, t64([6.0, 6.0]))  # x = (noise + logits) / tau


def test_relaxed_families_are_exported_at_top_level():
    for name in ["LogitRelaxedBernoulli", "ExpRelaxedCategorical"]:
        assert name in D.__all__ and getattr(D, name).__name__ == name


@pytest.mark.parametrize("cls", [D.RelaxedBernoulli, D.LogitRelaxedBernoulli])
def test_relaxed_bernoulli_cdf_matches_monte_carlo(cls):
    d = cls(t64([0.3, 1.0, 2.5]), logits=t64([0.5, -2.0, 1.5]))
    n = 40000
    x = d.sample((n,), generator=seeded(4))
    points = t64([0.1, 0.3, 0.5, 0.7, 0.9]).unsqueeze(-1).expand(5, 3)
    if cls is D.LogitRelaxedBernoulli:
        points = torch.logit(points)
    cdf = d.cdf(points)
    freq = (x.unsqueeze(1) <= points).to(F64).mean(0)
    se = (cdf * (1 - cdf) / n).sqrt()
    assert ((freq - cdf).abs() <= 6 * se + 1e-12).all(), (freq, cdf)


def test_relaxed_categorical_argmax_is_the_gumbel_max_category():
    probs = t64([0.1, 0.6, 0.3])
    n = 40000
    for cls in [D.RelaxedOneHotCategorical, D.ExpRelaxedCategorical]:
        for temperature in [0.1, 3.0]:
            x = cls(t64(temperature), probs=probs).sample((n,), generator=seeded(5))
            freq = torch.bincount(x.argmax(-1), minlength=3).to(F64) / n
            se = (probs * (1 - probs) / n).sqrt()
            assert ((freq - probs).abs() <= 6 * se).all(), (cls, temperature, freq)


def test_relaxed_one_hot_with_two_categories_is_a_relaxed_bernoulli():
    logits, tau = t64([[0.0, 1.3], [0.5, -1.0]]), t64([[0.4], [2.0]])
    d = D.RelaxedOneHotCategorical(tau, logits=logits)
    b = D.RelaxedBernoulli(tau.squeeze(-1), logits=logits[:, 1] - logits[:, 0])
    y = b.sample((7,), generator=seeded(6))
    x = torch.stack([1 - y, y], -1)
    torch.testing.assert_close(d.log_prob(x), b.log_prob(y))
    e = D.ExpRelaxedCategorical(tau, logits=logits)
    torch.testing.assert_close(e.log_prob(x.log()), b.log_prob(y) + x.log().sum(-1))
    # the same Gumbel draws: ExpRelaxedCategorical samples are logs of the relaxed ones
    torch.testing.assert_close(
        e.rsample((5,), generator=seeded(7)).exp(), d.rsample((5,), generator=seeded(7))
    )


@pytest.mark.parametrize("family", ["RelaxedBernoulli", "RelaxedOneHotCategorical", "Exp"])
def test_relaxed_rsample_gradients_match_the_density_in_temperature_and_logits(family):
    tau = t64([0.4, 1.0, 2.5]).requires_grad_()
    logits = t64([0.7, -1.5, 0.2]).requires_grad_()
    a, b = t64([1.0, -2.0, 0.5]), t64([0.5, 1.5, 1.0])

    def f(y):
        return a * y + b * y * y

    if family == "RelaxedBernoulli":

        def sample(g):
            return D.RelaxedBernoulli(tau, logits=logits).rsample((2000,), generator=g)
    else:
        pair = torch.stack([torch.zeros_like(logits), logits], -1)
        cls = D.RelaxedOneHotCategorical if family != "Exp" else D.ExpRelaxedCategorical

        def sample(g):
            x = cls(tau.unsqueeze(-1), logits=pair).rsample((2000,), generator=g)[..., 1]
            return x if family != "Exp" else x.exp()

    g = seeded(8)
    estimates = [torch.autograd.grad(f(sample(g)).mean(0).sum(), [tau, logits]) for _ in range(32)]
    # exact: E f(sigmoid(T)) with T ~ Logistic(logits / tau, 1 / tau), on a fixed grid
    with torch.no_grad():
        grid = torch.linspace(-45, 45, 30001, dtype=F64).unsqueeze(-1) / tau + logits / tau
    density = D.LogitRelaxedBernoulli(tau, logits=logits).log_prob(grid).exp()
    expectation = torch.trapezoid(f(torch.sigmoid(grid)) * density, grid, dim=0).sum()
    exact = torch.autograd.grad(expectation, [tau, logits])
    for k in range(2):
        est = torch.stack([e[k] for e in estimates])
        se = est.std(0) / 32**0.5
        assert ((est.mean(0) - exact[k]).abs() <= 6 * se).all(), (k, est.mean(0), exact[k])
        assert (exact[k].abs() > 6 * se).all()  # resolved: a detached parameter would fail


def _seeded_samples(name, temperature, logits):
    p = {"temperature": temperature, "logits": logits}
    if name == "LogisticNormal":  # loc and scale in the roles of logits and temperature
        return D.LogisticNormal(logits, temperature).rsample((3,), generator=seeded(9))
    return getattr(D, name)(**p).rsample((3,), generator=seeded(9))


@pytest.mark.parametrize(
    "name",
    [
        "LogitRelaxedBernoulli",
        "RelaxedBernoulli",
        "ExpRelaxedCategorical",
        "RelaxedOneHotCategorical",
        "LogisticNormal",
    ],
)
def test_rsample_gradients_match_finite_differences_of_seeded_draws(name):
    # (2, 1) temperatures: per distribution for the categorical families, broadcast over a
    # batch of (2, 3) for the binary ones
    temperature, logits = t64([[0.7], [1.8]]), t64([[0.3, -0.8, 1.1], [0.0, 0.5, -0.2]])
    shape = _seeded_samples(name, temperature, logits).shape
    w = torch.randn(shape, dtype=F64, generator=seeded(10))
    leaves = [temperature.clone().requires_grad_(), logits.clone().requires_grad_()]
    grads = torch.autograd.grad((w * _seeded_samples(name, *leaves)).sum(), leaves)
    for k, grad in enumerate(grads):
        for index in np.ndindex(*leaves[k].shape):
            h = 1e-6
            values = [temperature, logits]
            moved = []
            for step in (h, -h):
                v = [t.clone() for t in values]
                v[k][index] += step
                moved.append(float((w * _seeded_samples(name, *v)).sum()))
            fd = (moved[0] - moved[1]) / (2 * h)
            assert abs(float(grad[index]) - fd) <= 1e-6 * (1 + abs(fd)), (k, index, grad, fd)


@pytest.mark.parametrize(
    "name, method",
    [
        ("LogitRelaxedBernoulli", "log_prob"),
        ("LogitRelaxedBernoulli", "cdf"),
        ("LogitRelaxedBernoulli", "icdf"),
        ("LogitRelaxedBernoulli", "entropy"),
        ("RelaxedBernoulli", "log_prob"),
        ("RelaxedBernoulli", "log_cdf"),
        ("RelaxedBernoulli", "icdf"),
        ("ExpRelaxedCategorical", "log_prob"),
        ("RelaxedOneHotCategorical", "log_prob"),
    ],
)
def test_temperature_gradients_match_finite_differences(name, method):
    categorical = "Categorical" in name
    tau = t64([[0.6], [1.7]]) if categorical else t64([0.6, 1.7])
    logits = t64([[0.3, -0.8, 1.1], [0.0, 0.5, -0.2]]) if categorical else t64([0.4, -1.2])
    cls = getattr(D, name)
    x = cls(tau, logits=logits).sample((4,), generator=seeded(11))
    if method == "icdf":
        x = t64([0.1, 0.4, 0.8, 0.95]).unsqueeze(-1)

    def value(t):
        d = cls(t, logits=logits)
        return d.entropy() if method == "entropy" else getattr(d, method)(x)

    leaf = tau.clone().requires_grad_()
    (grad,) = torch.autograd.grad(value(leaf).sum(), leaf)
    for index in np.ndindex(*tau.shape):
        h = 1e-6
        up, down = tau.clone(), tau.clone()
        up[index] += h
        down[index] -= h
        fd = float((value(up) - value(down)).sum()) / (2 * h)
        assert abs(float(grad[index]) - fd) <= 1e-6 * (1 + abs(fd)), (index, grad, fd)


@pytest.mark.parametrize(
    "name",
    [
        "LogitRelaxedBernoulli",
        "RelaxedBernoulli",
        "ExpRelaxedCategorical",
        "RelaxedOneHotCategorical",
    ],
)
def test_float32_log_prob_of_own_samples_is_finite_at_low_temperature(name):
    categorical = "Categorical" in name
    logits = [[-3.0, 0.0, 2.5], [4.0, -4.0, 0.0]] if categorical else [-3.0, 0.0, 2.5, 6.0]
    logits = torch.tensor(logits, requires_grad=True)
    tau = torch.tensor(0.05, requires_grad=True)
    d = getattr(D, name)(tau, logits=logits)
    x = d.rsample((20000,), generator=seeded(12))
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    log_prob = d.log_prob(x)
    assert torch.isfinite(log_prob).all()
    grads = torch.autograd.grad(log_prob.sum(), [tau, logits])
    assert all(torch.isfinite(g).all() for g in grads)
    # and accurate: float64 at the same (float32) points and parameters
    d64 = getattr(D, name)(tau.detach().double(), logits=logits.detach().double())
    expected = d64.log_prob(x.detach().double())
    torch.testing.assert_close(log_prob.detach().double(), expected, rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------------------- LogisticNormal


def test_logistic_normal_samples_break_back_into_the_normal():
    loc, scale = t64([0.5, -1.0, 2.0]), t64([1.0, 0.3, 2.0])
    n = 20000
    y = D.LogisticNormal(loc, scale).sample((n,), generator=seeded(13))
    assert torch.allclose(y.sum(-1), torch.ones(n, dtype=F64))
    rest = 1 - y[..., :-1].cumsum(-1)
    x = (y[..., :-1] / rest).log() + torch.arange(3, 0, -1, dtype=F64).log()
    assert ((x.mean(0) - loc).abs() <= 6 * scale / n**0.5).all()
    assert ((x.std(0) / scale - 1).abs() <= 6 / (2 * n) ** 0.5).all()


def test_logistic_normal_log_prob_keeps_small_sticks_accurate():
    d = D.LogisticNormal(t64([0.0, 3.0]), t64([1.0, 0.5]))
    y = t64([0.3, 0.7 - 1e-12, 1e-12])  # 1 - cumsum would lose the last stick's digits
    x = torch.log(t64([0.3 / 0.7, (0.7 - 1e-12) / 1e-12])) + t64([2.0, 1.0]).log()
    expected = D.Normal(d.loc, d.scale).log_prob(x).sum() - y.log().sum()
    torch.testing.assert_close(d.log_prob(y), expected, rtol=1e-12, atol=0)


# ------------------------------------------------------------ torch's construction, kept


def _families():
    return [
        (D.Kumaraswamy(t64([2.0, 0.5]), t64([3.0, 0.7])), td.Uniform),
        (D.InverseGamma(t64([2.0, 0.5]), t64([3.0, 0.7])), td.Gamma),
        (D.LogisticNormal(t64([[0.2, -1.0]]), t64([1.0, 0.3])), td.Independent),
        (D.RelaxedBernoulli(t64([0.5, 2.0]), logits=t64([0.3, -2.8])), TorchLogitRelaxed),
        (D.RelaxedOneHotCategorical(t64(0.7), probs=t64([0.2, 0.3, 0.5])), TorchExpRelaxed),
    ]


@pytest.mark.parametrize("d, torch_base", _families(), ids=lambda v: type(v).__name__)
def test_base_and_transforms_are_torchs_and_agree_with_the_closed_forms(d, torch_base):
    assert "base_dist" not in d.__dict__  # built only on demand
    assert type(d.base_dist).__name__ == torch_base.__name__
    generic = D.TransformedDistribution(d.base_dist, d.transforms)
    assert generic.batch_shape == d.batch_shape and generic.event_shape == d.event_shape
    x = d.sample((6,), generator=seeded(14))
    torch.testing.assert_close(generic.log_prob(x), d.log_prob(x))
    if not d.event_shape:
        torch.testing.assert_close(generic.cdf(x), d.cdf(x))
    e = d.expand((2,) + d.batch_shape)
    assert "base_dist" not in e.__dict__ and e.base_dist.batch_shape[0] == 2
