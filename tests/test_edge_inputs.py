"""Regression tests for defects a grid fuzz found (issue 10): each bad input gets a clear
error naming the distribution, and values of another dtype are promoted as torch's ops would.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as td

import aleatorch as D
from aleatorch.errors import ParameterError, ShapeError

INF = math.inf


# ------------------------------------------------------------ categorical parameters


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"probs": torch.zeros(3)}, ["probs", "sum to 0"]),
        ({"probs": torch.tensor([[1.0, 1.0], [0.0, 0.0]])}, ["probs[1]", "sum to 0"]),
        ({"probs": torch.tensor([INF, 1.0, 1.0])}, ["probs[0]", "infinite"]),
        ({"logits": torch.tensor([INF, 0.0, 0.0])}, ["logits[0]", "+inf"]),
        ({"logits": torch.full((3,), -INF)}, ["logits", "all -inf"]),
        ({"logits": torch.tensor([[0.0, -INF], [-INF, -INF]])}, ["logits[1]", "all -inf"]),
    ],
    ids=["zero-row", "zero-second-row", "inf-prob", "inf-logit", "all-minus-inf", "second-row"],
)
@pytest.mark.parametrize("cls", [D.Categorical, D.OneHotCategorical])
def test_categorical_rows_that_cannot_be_normalized_say_why(cls, kwargs, words):
    with pytest.raises(ParameterError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert cls.__name__ in message and "NaN" not in message, message
    for word in words:
        assert word in message, message
    cls(**kwargs, validate_args=False)  # no check when validation is off


def test_multinomial_reports_a_zero_row_too():
    with pytest.raises(ParameterError, match="Multinomial: .*sum to 0"):
        D.Multinomial(3, probs=torch.zeros(2))


def test_a_nan_parameter_is_still_reported_as_nan():
    with pytest.raises(ParameterError, match="NaN"):
        D.Categorical(probs=torch.tensor([math.nan, 1.0]))


# ------------------------------------------------------------------------ values


@pytest.mark.parametrize("value", ["a", None, b"1", object()], ids=["str", "None", "bytes", "obj"])
def test_a_value_that_is_no_number_is_a_clear_type_error(value):
    with pytest.raises(TypeError, match=r"Normal\(.*\)\.log_prob: the value must be a tensor"):
        D.Normal(0.0, 1.0).log_prob(value)
    with pytest.raises(TypeError, match=r"\.cdf: the value must be a tensor"):
        D.Normal(0.0, 1.0).cdf(value)


VALUE_DTYPES = [torch.float64, torch.float16, torch.int64, torch.bool]


@pytest.mark.parametrize("dtype", VALUE_DTYPES, ids=str)
@pytest.mark.parametrize(
    "build",
    [
        lambda M: M.Bernoulli(probs=torch.tensor([0.3, 0.8])),
        lambda M: M.Bernoulli(logits=torch.tensor([0.3, -2.0])),
        lambda M: M.Categorical(probs=torch.tensor([0.3, 0.7])),
        lambda M: M.Poisson(torch.tensor([3.0, 0.5])),
        lambda M: M.Binomial(4, probs=torch.tensor([0.3, 0.6])),
        lambda M: M.Geometric(probs=torch.tensor([0.3, 0.6])),
    ],
    ids=["bernoulli-probs", "bernoulli-logits", "categorical", "poisson", "binomial", "geom"],
)
def test_values_of_another_dtype_give_torchs_numbers(build, dtype):
    # torch itself fails on several of these (lerp with mixed dtypes, bool arithmetic): its
    # value at the same float32 value is the oracle.
    value = torch.tensor([1, 0]).to(dtype)
    ours, theirs = build(D).log_prob(value), build(td).log_prob(value.float())
    torch.testing.assert_close(ours.double(), theirs.double(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", VALUE_DTYPES, ids=str)
def test_one_hot_values_of_another_dtype(dtype):
    d = D.OneHotCategorical(probs=torch.tensor([0.3, 0.7]))
    value = torch.tensor([0, 1]).to(dtype)
    torch.testing.assert_close(d.log_prob(value).double(), torch.tensor(0.7).log().double())


def test_poisson_cdf_of_integer_values():
    d = D.Poisson(torch.tensor([3.0]))
    torch.testing.assert_close(d.cdf(torch.tensor([2])), d.cdf(torch.tensor([2.0])))


# ------------------------------------------------------------------------ shapes


def test_parameters_that_do_not_broadcast_are_a_shape_error():
    with pytest.raises(ShapeError, match=r"Normal: .*\(2,\), \(3,\) do not broadcast"):
        D.Normal(torch.zeros(2), torch.ones(3))


def test_kl_between_batch_shapes_that_do_not_broadcast():
    p, q = D.Normal(torch.zeros(2), 1.0), D.Normal(torch.zeros(3), 1.0)
    with pytest.raises(ShapeError, match=r"kl_divergence\(Normal, Normal\).*\(2,\).*\(3,\)"):
        D.kl_divergence(p, q)


@pytest.mark.parametrize("method", ["sample", "rsample"])
def test_bad_sample_shapes(method):
    d = D.Normal(0.0, 1.0)
    with pytest.raises(TypeError, match=rf"{method}\(\(2,\)\)"):
        getattr(d, method)(2)
    with pytest.raises(ShapeError, match="negative"):
        getattr(d, method)((-1,))
    assert getattr(d, method)(torch.Size([0, 2])).shape == (0, 2)


def test_expand_to_a_negative_size_is_refused():
    with pytest.raises(ShapeError):
        D.Normal(0.0, 1.0).expand((-1,))


# ------------------------------------------------------------------------ modes


@pytest.mark.parametrize(
    "a, b", [(1.0, 0.5), (0.5, 1.0), (0.3, 0.2), (2.0, 0.5), (3.0, 2.0), (1.0, 1.0)]
)
def test_a_two_category_dirichlet_has_the_mode_of_its_beta(a, b):
    mode = D.Dirichlet(torch.tensor([a, b], dtype=torch.float64)).mode
    beta = D.Beta(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    torch.testing.assert_close(mode[0], beta.mode, equal_nan=True)
    if not math.isnan(float(beta.mode)):
        torch.testing.assert_close(mode.sum(), torch.tensor(1.0, dtype=torch.float64))


# ----------------------------------------------------------------------- devices


@pytest.mark.parametrize("loc", [0.0, torch.zeros(2)], ids=["scalar-params", "batched-params"])
def test_a_value_on_another_device_is_a_device_error_before_any_check(loc):
    d = D.Normal(loc, 1.0)
    with pytest.raises(D.DeviceError, match=r"Normal\(.*\)\.log_prob: the value is on meta"):
        d.log_prob(torch.zeros(2, device="meta"))
    with pytest.raises(D.DeviceError, match="cdf"):
        d.cdf(torch.zeros((), device="meta"))


def test_without_validation_a_meta_value_is_torchs_business():
    # Nothing is checked: torch's ops decide (0-dim CPU parameters mix with meta values).
    d = D.Normal(0.0, 1.0, validate_args=False)
    assert d.log_prob(torch.zeros(2, device="meta")).is_meta


# ------------------------------------------------------------------ empty tensors


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: D.Categorical(probs=torch.ones(3, 0)), ["Categorical", "probs", "(3, 0)"]),
        (lambda: D.OneHotCategorical(logits=torch.ones(0)), ["OneHotCategorical", "logits"]),
        (lambda: D.Dirichlet(torch.ones(3, 0)), ["Dirichlet", "concentration", "(3, 0)"]),
    ],
    ids=["categorical", "one-hot", "dirichlet"],
)
def test_an_empty_event_is_a_clear_error(build, words):
    with pytest.raises(ParameterError, match="empty") as info:
        build()
    for word in words:
        assert word in str(info.value)


def test_an_empty_batch_gives_empty_results():
    half = torch.ones(0) / 2
    assert D.Binomial(torch.ones(0), probs=half).entropy().shape == (0,)
    assert D.Categorical(probs=torch.ones(0, 3)).icdf(torch.ones(0)).shape == (0,)
    assert D.Categorical(probs=torch.ones(0, 3)).icdf(torch.ones(2, 0)).shape == (2, 0)
    assert D.Categorical(probs=torch.ones(0, 3)).sample((2,)).shape == (2, 0)
    assert D.Dirichlet(torch.ones(0, 3)).sample().shape == (0, 3)


# ------------------------------------------------- large finite parameters, near-equal KL


def _mp_kl_normal(loc_p, scale_p, loc_q, scale_q):
    import mpmath as mp

    mp.mp.dps = 50
    sp, sq, mp_, mq = (mp.mpf(v) for v in (scale_p, scale_q, loc_p, loc_q))
    return mp.log(sq / sp) + (sp**2 + (mp_ - mq) ** 2) / (2 * sq**2) - mp.mpf(1) / 2


@pytest.mark.parametrize(
    "loc_p, scale_p, loc_q, scale_q",
    [
        (0.0, 1.0, 0.0, 1e300),  # the ratio of scales underflowed: inf
        (0.0, 1.0, 0.0, 1.0 + 1e-8),  # nearly equal: the tiny KL to full precision
        (0.0, 1e5, 0.0, 1e5 * (1 + 1e-12)),
        (0.0, 1e-3, -2.0, 5.0),
        (1.0, 2.0, 0.0, 0.5),
    ],
)
def test_normal_kl_to_full_precision(loc_p, scale_p, loc_q, scale_q):
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    kl = D.kl_divergence(D.Normal(t(loc_p), t(scale_p)), D.Normal(t(loc_q), t(scale_q)))
    expected = float(_mp_kl_normal(loc_p, scale_p, loc_q, scale_q))
    assert float(kl) == pytest.approx(expected, rel=1e-14, abs=0)  # tiny KLs too


def test_normal_kl_with_a_huge_scale_ratio_is_inf_not_nan():
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    assert D.kl_divergence(D.Normal(t(0.0), t(1e300)), D.Normal(t(0.0), t(1.0))) == INF


def test_laplace_log_prob_at_a_scale_near_the_float32_limit():
    # log(2 b) overflowed through 2 b = inf: -log(2 * 3e38) = -89.29.
    assert float(D.Laplace(0.0, 3e38).log_prob(torch.tensor(0.0))) == pytest.approx(
        -math.log(6e38), rel=1e-6
    )


def test_poisson_samples_at_rates_past_int64():
    # torch.poisson returns -9.2e18 there; the normal limit is exact to float64 resolution.
    rate = torch.tensor([1e20, 3.0, 1e19], dtype=torch.float64)
    draws = D.Poisson(rate).sample((20000,), generator=torch.Generator().manual_seed(0))
    z = (draws - rate) / rate.sqrt()
    n = draws.shape[0]
    assert (z.mean(0).abs() < 6 / n**0.5).all()
    assert ((z.var(0) - 1).abs() < 6 * (2 / n) ** 0.5).all()
    assert (draws[:, 1] == draws[:, 1].round()).all()
    f32 = D.Poisson(torch.tensor(1e20)).sample((4,))
    assert ((f32 / 1e20 - 1).abs() < 1e-6).all()


def test_binomial_sampling_with_a_nan_count_returns():
    # torch.binomial never returns for a NaN count; validation off lets one through.
    d = D.Binomial(torch.tensor([math.nan, 4.0]), probs=0.5, validate_args=False)
    draws = d.sample((3,))
    assert draws[:, 0].isnan().all() and ((draws[:, 1] >= 0) & (draws[:, 1] <= 4)).all()


# ----------------------------------------------------------------- half precision

from examples import EXAMPLES  # noqa: E402

HALF = [torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda ex: ex.cls.__name__)
def test_half_precision_samples_or_a_clear_error(ex, dtype):
    """Every family samples in float16/bfloat16 (in its own dtype, inside its support), or
    refuses at construction with a TypeError that suggests float32; never a kernel error."""
    try:
        d = ex.build(0, dtype=dtype)
    except TypeError as exc:
        assert ex.cls.__name__ in str(exc) and "float32" in str(exc), exc
        return
    x = d.sample((4,), generator=torch.Generator().manual_seed(0))
    floating = x.is_floating_point()
    assert not floating or x.dtype == dtype, (x.dtype, dtype)
    assert x.isfinite().all()
    support = d.support
    if support is not None and not D.constraints.is_dependent(support) and not support.event_dim:
        # (Simplex and correlation-Cholesky checks use float32 tolerances that half-precision
        # rounding of each entry exceeds.)
        assert support.check(x.float() if floating else x).all()


@pytest.mark.parametrize(
    "build",
    [
        lambda dt: D.Bernoulli(probs=torch.tensor([0.3], dtype=dt)),
        lambda dt: D.Poisson(torch.tensor([3.0], dtype=dt)),
        lambda dt: D.Binomial(torch.tensor([5.0], dtype=dt), probs=torch.tensor([0.4], dtype=dt)),
        lambda dt: D.Geometric(probs=torch.tensor([0.3], dtype=dt)),
        lambda dt: D.NegativeBinomial(torch.tensor([2.0], dtype=dt), torch.tensor([0.4], dtype=dt)),
    ],
    ids=["bernoulli", "poisson", "binomial", "geometric", "negative-binomial"],
)
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_discrete_icdf_in_half_precision_matches_float32(build, dtype):
    q = torch.tensor([0.05, 0.5, 0.95])
    ours = build(dtype).icdf(q.to(dtype).unsqueeze(-1))
    expected = build(torch.float32).icdf(q.unsqueeze(-1))
    assert ours.dtype == dtype
    torch.testing.assert_close(ours.float(), expected)


# ------------------------------------------------------------- unbounded work


def _mp_binomial_entropy(n, p, sds=12):
    import mpmath as mp

    mp.mp.dps = 30
    n, p = mp.mpf(n), mp.mpf(p)
    s = mp.sqrt(n * p * (1 - p))
    lo, hi = max(0, int(n * p - sds * s - 20)), min(int(n), int(n * p + sds * s + 20))
    log_n, log_p, log_q = mp.loggamma(n + 1), mp.log(p), mp.log(1 - p)
    total = mp.mpf(0)
    for k in range(lo, hi + 1):
        term = log_n - mp.loggamma(k + 1) - mp.loggamma(n - k + 1) + k * log_p + (n - k) * log_q
        total -= mp.exp(term) * term
    return float(total)


@pytest.mark.parametrize(
    "n, p, rtol",
    # The summed range (variance below 3e4) is as accurate as log_prob, whose lgamma
    # differences cost ~eps n log n (the exactness issue's Stirling-error forms remove that).
    [(10, 0.3, 1e-14), (2000, 0.01, 1e-12), (5e6, 0.2, 1e-13), (1e5, 0.5, 1e-10)],
)
def test_binomial_entropy_for_small_and_huge_counts(n, p, rtol):
    f64 = torch.float64
    d = D.Binomial(torch.tensor(float(n), dtype=f64), probs=torch.tensor(p, dtype=f64))
    assert float(d.entropy()) == pytest.approx(_mp_binomial_entropy(n, p), rel=rtol)


def test_binomial_entropy_work_does_not_grow_with_the_count():
    # n = 1e8 with a batch of 10 used to allocate 1e9 entries; n = 1e12 could not run.
    probs = torch.linspace(0.001, 0.999, 10)
    h = D.Binomial(torch.full((10,), 1e8), probs=probs).entropy()
    h64 = D.Binomial(torch.full((10,), 1e8, dtype=torch.float64), probs=probs.double()).entropy()
    assert h.isfinite().all()
    torch.testing.assert_close(h.double(), h64, rtol=1e-6, atol=0)
    f64 = torch.float64
    huge = D.Binomial(torch.tensor(1e12, dtype=f64), probs=torch.tensor(0.3, dtype=f64)).entropy()
    assert float(huge) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 1e12 * 0.21), 1e-12)


@pytest.mark.parametrize("count", [1e8, math.inf, math.nan])
def test_binomial_refuses_to_enumerate_a_huge_support(count):
    d = D.Binomial(torch.tensor([count]), probs=torch.tensor([0.5]), validate_args=False)
    with pytest.raises(ShapeError, match="enumerate_support"):
        d.enumerate_support()
    assert D.Binomial(torch.tensor([3.0]), probs=0.5).enumerate_support().shape == (4, 1)


def test_gamma_stddev_where_the_variance_overflows():
    f64 = torch.float64
    d = D.Gamma(torch.tensor(2.0, dtype=f64), torch.tensor(1e-300, dtype=f64))
    assert float(d.stddev) == pytest.approx(math.sqrt(2.0) * 1e300, rel=1e-15)


def test_von_mises_sampling_returns_for_every_concentration():
    # kappa = 3e38 never left the rejection loop (the envelope parameter rounded to 1), nor
    # did NaN, negative or zero concentrations with validation off.
    f64 = torch.float64
    kappa = torch.tensor([3e38, math.inf, math.nan, -1.0, 0.0, 1e-320, 2e6], dtype=f64)
    x = D.VonMises(torch.zeros((), dtype=f64), kappa, validate_args=False).sample((2000,))
    # kappa = 3e38: N(0, 1/kappa) draws of size ~6e-20 (the sampler's wrap keeps them; the
    # old one rounded them to 0 through +pi); kappa = inf: the point mass at loc
    assert (x[:, 0].abs() < 6 / math.sqrt(3e38)).all() and (x[:, 0] != 0).any()
    assert (x[:, 1] == 0).all() and x[:, 2:4].isnan().all()
    for flat in (x[:, 4], x[:, 5]):  # uniform on [-pi, pi): mean 0, variance pi^2 / 3
        assert abs(float(flat.mean())) < 6 * math.pi / math.sqrt(3 * 2000)
        assert float(flat.var()) == pytest.approx(math.pi**2 / 3, rel=0.1)
    z = x[:, 6] * math.sqrt(2e6)  # the normal limit above kappa = 1e6
    assert abs(float(z.mean())) < 6 / math.sqrt(2000)
    assert float(z.var()) == pytest.approx(1.0, abs=6 * math.sqrt(2 / 2000))


def test_wishart_samples_near_singular_in_float32_stay_in_the_support():
    # df = 2.5 for p = 2: A_22^2 ~ chi^2(1.5) is below 1e-8 in about 1 draw of 1e6, and such
    # a sample rounds to a float32 matrix without a Cholesky factor; those are redrawn (as
    # torch does), so log_prob of our own sample never fails its support check.
    tril = torch.tensor([[[0.3, 0.0], [-0.2, 0.1]], [[3.0, 0.0], [1.0, 1.0]]])
    d = D.Wishart(torch.tensor(2.5), scale_tril=tril, validate_args=True)
    gen = torch.Generator().manual_seed(3)
    x = d.sample((400_000,), generator=gen)
    assert torch.linalg.cholesky_ex(x).info.eq(0).all()
    assert torch.isfinite(d.log_prob(x)).all()
    # with no redraw (torch's argument) the same draws do include singular ones
    raw = d.rsample((400_000,), max_try_correction=0, generator=gen.manual_seed(3))
    assert torch.linalg.cholesky_ex(raw).info.ne(0).any()
    assert d._max_redraws == 10  # the argument holds for its own call only
