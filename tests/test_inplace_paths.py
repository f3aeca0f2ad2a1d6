"""The in-place (no graph, CPU eager) paths of the cheap closed forms (``utils._inplace_ok``).

Each case is evaluated on a batch large enough for every fast path and the parameter cache
(>= 4096 entries), three ways: with no parameter requiring grad (the in-place path), with
parameters requiring grad (the autograd path), and under ``no_grad`` with parameters that
require grad (in place again). The values must agree with each other and with scipy (or an
independent float64 formula); the autograd path's gradients must be finite and match finite
differences; and the in-place path must never write into its inputs or into a cached term,
nor return a tensor that shares memory with them (the result is changed in place below, and
a second call must give the same numbers).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import aleatorch as D
import aleatorch.transforms as T

N = 6000


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _u(n=N, lo=0.0, hi=1.0, seed=0, dtype=torch.float64):
    return torch.rand(n, generator=_gen(seed), dtype=dtype) * (hi - lo) + lo


def _kumaraswamy_logpdf(x, a, b):
    return np.log(a) + np.log(b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-(x**a))


# name -> (params, builder, value, reference log_prob or None, reference entropy or None)
def _cases():
    loc = _u(lo=-3, hi=3, seed=1)
    scale = _u(lo=0.2, hi=4, seed=2)
    prob = _u(lo=0.02, hi=0.98, seed=3)
    a = _u(lo=0.3, hi=5, seed=4)
    b = _u(lo=0.3, hi=5, seed=5)
    x01 = _u(lo=1e-3, hi=1 - 1e-3, seed=6)
    z = torch.randn(N, generator=_gen(7), dtype=torch.float64)
    counts = torch.floor(_u(lo=0, hi=12, seed=8))
    bits = (_u(seed=9) < 0.5).double()
    s, lc, p = scale.numpy(), loc.numpy(), prob.numpy()
    return {
        "Normal": (
            {"loc": loc, "scale": scale},
            lambda q: D.Normal(q["loc"], q["scale"]),
            loc + scale * z,
            lambda v: stats.norm(lc, s).logpdf(v),
            lambda: stats.norm(lc, s).entropy(),
        ),
        "HalfNormal": (
            {"scale": scale},
            lambda q: D.HalfNormal(q["scale"]),
            scale * z.abs(),
            lambda v: stats.halfnorm(scale=s).logpdf(v),
            lambda: stats.halfnorm(scale=s).entropy(),
        ),
        "Uniform": (
            {"low": loc, "high": loc + scale},
            lambda q: D.Uniform(q["low"], q["high"]),
            loc + scale * x01,
            lambda v: stats.uniform(lc, s).logpdf(v),
            lambda: np.log(s),
        ),
        "Exponential": (
            {"rate": scale},
            lambda q: D.Exponential(q["rate"]),
            z.abs() / scale,
            lambda v: stats.expon(scale=1 / s).logpdf(v),
            lambda: stats.expon(scale=1 / s).entropy(),
        ),
        "Laplace": (
            {"loc": loc, "scale": scale},
            lambda q: D.Laplace(q["loc"], q["scale"]),
            loc + scale * z,
            lambda v: stats.laplace(lc, s).logpdf(v),
            lambda: stats.laplace(lc, s).entropy(),
        ),
        "Gumbel": (
            {"loc": loc, "scale": scale},
            lambda q: D.Gumbel(q["loc"], q["scale"]),
            loc + scale * z,
            lambda v: stats.gumbel_r(lc, s).logpdf(v),
            lambda: stats.gumbel_r(lc, s).entropy(),
        ),
        "Pareto": (
            {"scale": scale, "alpha": a},
            lambda q: D.Pareto(q["scale"], q["alpha"]),
            scale * (1 + z.abs()),
            lambda v: stats.pareto(a.numpy(), scale=s).logpdf(v),
            lambda: stats.pareto(a.numpy(), scale=s).entropy(),
        ),
        "LogNormal": (
            {"loc": loc, "scale": scale},
            lambda q: D.LogNormal(q["loc"], q["scale"]),
            torch.exp(loc + scale * z),
            lambda v: stats.lognorm(s, scale=np.exp(lc)).logpdf(v),
            lambda: stats.lognorm(s, scale=np.exp(lc)).entropy(),
        ),
        "Cauchy": (
            {"loc": loc, "scale": scale},
            lambda q: D.Cauchy(q["loc"], q["scale"]),
            loc + scale * z * 3,
            lambda v: stats.cauchy(lc, s).logpdf(v),
            lambda: stats.cauchy(lc, s).entropy(),
        ),
        "HalfCauchy": (
            {"scale": scale},
            lambda q: D.HalfCauchy(q["scale"]),
            scale * z.abs() * 3,
            lambda v: stats.halfcauchy(scale=s).logpdf(v),
            lambda: stats.halfcauchy(scale=s).entropy(),
        ),
        "Geometric": (
            {"probs": prob},
            lambda q: D.Geometric(probs=q["probs"]),
            counts,
            lambda v: stats.geom(p, loc=-1).logpmf(v),
            lambda: stats.geom(p).entropy(),
        ),
        "Bernoulli": (
            {"probs": prob},
            lambda q: D.Bernoulli(probs=q["probs"]),
            bits,
            lambda v: stats.bernoulli(p).logpmf(v),
            lambda: stats.bernoulli(p).entropy(),
        ),
        "Weibull": (
            {"scale": scale, "concentration": a},
            lambda q: D.Weibull(q["scale"], q["concentration"]),
            scale * (z.abs() + 0.01),
            lambda v: stats.weibull_min(a.numpy(), scale=s).logpdf(v),
            lambda: stats.weibull_min(a.numpy(), scale=s).entropy(),
        ),
        "Kumaraswamy": (
            {"concentration1": a, "concentration0": b},
            lambda q: D.Kumaraswamy(q["concentration1"], q["concentration0"]),
            x01,
            lambda v: _kumaraswamy_logpdf(v, a.numpy(), b.numpy()),
            None,
        ),
        "ContinuousBernoulli": (
            {"logits": z * 3},
            lambda q: D.ContinuousBernoulli(logits=q["logits"]),
            x01,
            None,
            None,
        ),
        "VonMises": (
            {"loc": loc, "concentration": scale},
            lambda q: D.VonMises(q["loc"], q["concentration"]),
            z,
            lambda v: stats.vonmises(s, loc=lc).logpdf(v),
            lambda: stats.vonmises(s, loc=lc).entropy(),
        ),
        "VonMises32": (
            {"loc": loc.float(), "concentration": scale.float()},
            lambda q: D.VonMises(q["loc"], q["concentration"]),
            z.float(),
            lambda v: stats.vonmises(s, loc=lc).logpdf(v),
            lambda: stats.vonmises(s, loc=lc).entropy(),
        ),
        "Affine(Normal)": (
            {"loc": loc, "scale": scale},
            lambda q: D.TransformedDistribution(
                D.Normal(q["loc"], q["scale"]), [T.AffineTransform(0.5, -3.0)]
            ),
            z,
            lambda v: stats.norm(0.5 - 3 * lc, 3 * s).logpdf(v),
            lambda: stats.norm(0.5 - 3 * lc, 3 * s).entropy(),
        ),
        "Affine,Affine(Normal)": (
            {"loc": loc, "scale": scale},
            lambda q: D.TransformedDistribution(
                D.Normal(q["loc"], q["scale"]),
                [T.AffineTransform(0.5, -3.0), T.AffineTransform(1.0, 2.0)],
            ),
            z,
            lambda v: stats.norm(2 - 6 * lc, 6 * s).logpdf(v),
            lambda: stats.norm(2 - 6 * lc, 6 * s).entropy(),
        ),
        "Affine(Exponential)": (
            {"rate": scale},
            lambda q: D.TransformedDistribution(
                D.Exponential(q["rate"]), [T.AffineTransform(2.0, 0.5)]
            ),
            2 + z.abs(),
            lambda v: stats.expon(2.0, 0.5 / s).logpdf(v),
            lambda: stats.expon(2.0, 0.5 / s).entropy(),
        ),
        "Affine,Exp(Normal)": (
            {"loc": loc, "scale": scale},
            lambda q: D.TransformedDistribution(
                D.Normal(q["loc"], q["scale"]), [T.AffineTransform(0.3, -2.0), T.ExpTransform()]
            ),
            torch.exp(z),
            lambda v: stats.lognorm(2 * s, scale=np.exp(0.3 - 2 * lc)).logpdf(v),
            None,
        ),
        "TensorAffine(Normal)": (
            {"loc": loc, "scale": scale},
            lambda q: D.TransformedDistribution(
                D.Normal(q["loc"], q["scale"]), [T.AffineTransform(q["loc"], q["scale"])]
            ),
            z,
            lambda v: stats.norm(lc + s * lc, s * s).logpdf(v),
            lambda: stats.norm(lc + s * lc, s * s).entropy(),
        ),
    }


CASES = _cases()
NAMES = sorted(CASES)


def _params(name, requires_grad=False):
    params, build, *_ = CASES[name]
    q = {k: v.detach().clone().requires_grad_(requires_grad) for k, v in params.items()}
    return q, build


def _cache_snapshot(d):
    out = {}
    for key, entry in d.__dict__.get("_cache", {}).items():
        value = entry[1]
        leaves = value if isinstance(value, tuple) else (value,)
        out[key] = [v.clone() if isinstance(v, torch.Tensor) else v for v in leaves]
    return out


def _cache_tensors(d):
    tensors = []
    for entry in d.__dict__.get("_cache", {}).values():
        value = entry[1]
        leaves = value if isinstance(value, tuple) else (value,)
        tensors += [v for v in leaves if isinstance(v, torch.Tensor)]
    return tensors


def _methods(name):
    d = _params(name)[1](_params(name)[0])
    out = ["log_prob"]
    if "_entropy" in d._implemented:
        out.append("entropy")
    return out


def _call(d, method, value):
    return d.log_prob(value) if method == "log_prob" else d.entropy()


METHOD_CASES = [(n, m) for n in NAMES for m in _methods(n)]


@pytest.mark.parametrize("name,method", METHOD_CASES)
def test_in_place_and_autograd_paths_agree_with_the_reference(name, method):
    _, _, value, ref_log_prob, ref_entropy = CASES[name]
    q, build = _params(name)
    fast = _call(build(q), method, value)
    q_grad, _ = _params(name, requires_grad=True)
    slow = _call(build(q_grad), method, value)
    assert slow.requires_grad
    tol = 1e-13 if fast.dtype == torch.float64 else 1e-6
    torch.testing.assert_close(fast, slow.detach(), rtol=tol, atol=tol)
    with torch.no_grad():  # parameters require grad, but no graph: in place again
        torch.testing.assert_close(_call(build(q_grad), method, value), fast, rtol=0, atol=0)
    with torch.inference_mode():
        torch.testing.assert_close(_call(build(q), method, value), fast, rtol=0, atol=0)
    ref = ref_log_prob if method == "log_prob" else ref_entropy
    if ref is not None:
        expected = ref(value.numpy()) if method == "log_prob" else ref()
        expected = torch.as_tensor(np.broadcast_to(expected, fast.shape).copy())
        tol = 1e-10 if fast.dtype == torch.float64 else 2e-6
        torch.testing.assert_close(fast.double(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,method", METHOD_CASES)
def test_in_place_path_leaves_inputs_and_cache_alone(name, method):
    _, _, value, *_ = CASES[name]
    q, build = _params(name)
    d = build(q)
    value = value.clone()
    first = _call(d, method, value)  # fills the cache
    inputs = [value, *q.values()]
    before = [t.clone() for t in inputs]
    cache = _cache_snapshot(d)
    out = _call(d, method, value)
    protected = inputs + _cache_tensors(d)
    for t in protected:  # the result shares no memory with an input or a cached term
        assert not (out.untyped_storage().data_ptr() == t.untyped_storage().data_ptr())
    torch.testing.assert_close(out, first, rtol=0, atol=0)
    out.add_(1.0)  # a caller may change its result in place
    for t, saved in zip(inputs, before, strict=True):
        assert torch.equal(t, saved)
    after = _cache_snapshot(d)
    assert after.keys() == cache.keys()
    for key in cache:
        for v, saved in zip(after[key], cache[key], strict=True):
            if isinstance(saved, torch.Tensor):
                assert torch.equal(v, saved), key
            else:
                assert v == saved, key
    torch.testing.assert_close(_call(d, method, value), first, rtol=0, atol=0)


@pytest.mark.parametrize("name,method", METHOD_CASES)
def test_in_place_update_of_a_parameter_is_seen(name, method):
    _, _, value, *_ = CASES[name]
    q, build = _params(name)
    d = build(q)
    _call(d, method, value)
    key = next(iter(q))
    with torch.no_grad():
        q[key].mul_(0.999) if "logits" not in key else q[key].add_(0.25)
    fresh = build({k: v.clone() for k, v in q.items()})
    with D.validation(False):  # (a moved bound may leave a value outside: -inf both ways)
        torch.testing.assert_close(_call(d, method, value), _call(fresh, method, value))


SMALL = 6


@pytest.mark.parametrize("name,method", METHOD_CASES)
def test_autograd_path_gradients_match_finite_differences(name, method):
    _, _, value, *_ = CASES[name]
    q, build = _params(name)
    # a slice large enough for the fast paths is costly for gradcheck: a small slice of the
    # same parameters exercises the same autograd path
    small = {k: v[:SMALL].detach().clone().requires_grad_(True) for k, v in q.items()}
    keys = list(small)
    v = value[:SMALL]

    def f(*args):
        return _call(build(dict(zip(keys, args, strict=True))), method, v)

    if v.dtype == torch.float64:  # (finite differences want float64)
        assert torch.autograd.gradcheck(f, tuple(small.values()), eps=1e-6, atol=1e-6, rtol=1e-5)
    # and the large batch's gradients are finite
    q_grad, _ = _params(name, requires_grad=True)
    _call(build(q_grad), method, value).sum().backward()
    for t in q_grad.values():
        assert t.grad is None or torch.isfinite(t.grad).all()


# Values that send the fast paths back to the general form: outside the support, at the
# support's edges, or where a square overflows. The in-place attempt must leave nothing behind.
EDGES = {
    "HalfNormal": (torch.tensor([-1.0, 0.0, 2.0]), [-math.inf, None, None]),
    "Uniform": (torch.tensor([-10.0, 0.5, 10.0]), [-math.inf, None, -math.inf]),
    "Pareto": (torch.tensor([0.01, 3.0, 1e300]), [-math.inf, None, None]),
    "HalfCauchy": (torch.tensor([-1.0, 0.0, 1e300]), [-math.inf, None, None]),
    "Cauchy": (torch.tensor([-1e300, 0.0, 1e300]), [None, None, None]),
    "Kumaraswamy": (torch.tensor([0.0, 0.5, 1.0]), [None, None, None]),
    "Weibull": (torch.tensor([-1.0, 0.0, 2.0]), [-math.inf, None, None]),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_values_take_the_general_path(name):
    tail, expected = EDGES[name]
    _, _, value, *_ = CASES[name]
    q, build = _params(name)
    value = value.clone()
    value[-3:] = tail.to(value.dtype)
    saved = value.clone()
    with D.validation(False):
        fast = build(q).log_prob(value)
        assert torch.equal(value, saved)
        q_grad, _ = _params(name, requires_grad=True)
        slow = build(q_grad).log_prob(value).detach()
    torch.testing.assert_close(fast, slow, rtol=1e-13, atol=1e-13, equal_nan=True)
    for got, want in zip(fast[-3:].tolist(), expected, strict=True):
        if want is not None:
            assert got == want
    assert not torch.isnan(fast[:-3]).any()


def test_probabilities_at_zero_and_one_take_the_general_path():
    p = _u(lo=0.05, hi=0.95, seed=11)
    p[:3] = torch.tensor([0.0, 1.0, 1.0], dtype=p.dtype)
    k = torch.floor(_u(lo=0, hi=9, seed=12))
    p[3] = 1.0
    k[:4] = torch.tensor([0.0, 0.0, 3.0, 1.0], dtype=k.dtype)
    geometric = D.Geometric(probs=p, validate_args=False).log_prob(k)
    assert geometric[:4].tolist() == [-math.inf, 0.0, -math.inf, -math.inf]
    truth = stats.geom(p[4:].numpy(), loc=-1).logpmf(k[4:].numpy())
    torch.testing.assert_close(geometric[4:], torch.as_tensor(truth), rtol=1e-12, atol=1e-12)
    k[5] = math.inf  # (an infinite count: the general path, -inf)
    assert D.Geometric(probs=p, validate_args=False).log_prob(k)[5] == -math.inf
    bits = torch.zeros_like(p)
    bits[1] = 1.0
    bernoulli = D.Bernoulli(probs=p, validate_args=False).log_prob(bits)
    assert bernoulli[:4].tolist() == [0.0, 0.0, -math.inf, -math.inf]
    torch.testing.assert_close(
        bernoulli[4:], torch.log1p(-p[4:]), rtol=1e-14, atol=0
    )  # bits are 0 there


@pytest.mark.parametrize("shape", [(3,), (5, 1, 3)])
def test_values_of_other_shapes_than_the_batch(shape):
    # a value smaller than the batch (broadcast up) and one with a sample dim: the in-place
    # paths must not write into a buffer of the value's shape
    g = _gen(21)
    loc = torch.randn(4100, 3, generator=g, dtype=torch.float64)
    scale = torch.rand(4100, 3, generator=g, dtype=torch.float64) + 0.5
    value = torch.rand(shape, generator=g, dtype=torch.float64) * 0.9 + 0.05
    for build in (
        lambda lo, sc: D.Normal(lo, sc),
        lambda lo, sc: D.LogNormal(lo, sc),
        lambda lo, sc: D.Laplace(lo, sc),
        lambda lo, sc: D.Gumbel(lo, sc),
        lambda lo, sc: D.Cauchy(lo, sc),
        lambda lo, sc: D.HalfNormal(sc),
        lambda lo, sc: D.HalfCauchy(sc),
        lambda lo, sc: D.Kumaraswamy(sc, sc + 1),
        lambda lo, sc: D.Uniform(lo - 3, lo + 3),
        lambda lo, sc: D.TransformedDistribution(D.Normal(lo, sc), [T.AffineTransform(0.5, 2.0)]),
    ):
        with D.validation(False):  # (Uniform's bounds do not cover every value: -inf there)
            fast = build(loc, scale).log_prob(value)
            slow = build(loc.requires_grad_(), scale.requires_grad_()).log_prob(value).detach()
        loc, scale = loc.detach(), scale.detach()
        torch.testing.assert_close(fast, slow, rtol=1e-13, atol=1e-13)


def test_float32_lognormal_in_place_path_keeps_the_float64_standardizer_exact():
    g = _gen(5)
    loc = torch.full((5000,), 2.0)
    scale = torch.full((5000,), 1e-3)
    value = torch.exp(loc.double() + 1e-3 * torch.randn(5000, generator=g, dtype=torch.float64))
    value = value.float()
    fast = D.LogNormal(loc, scale).log_prob(value)
    slow = D.LogNormal(loc.requires_grad_(), scale).log_prob(value).detach()
    assert torch.equal(fast, slow)
    truth = stats.lognorm(1e-3, scale=math.exp(2.0)).logpdf(value.double().numpy())
    torch.testing.assert_close(fast.double(), torch.as_tensor(truth), rtol=3e-7, atol=1e-6)


def test_affine_inverse_in_place_leaves_its_input_alone():
    y = torch.randn(5000, dtype=torch.float64, generator=_gen(3))
    saved = y.clone()
    for t in (
        T.AffineTransform(0.5, -3.0),
        T.AffineTransform(torch.tensor(0.5), torch.tensor(2.0, dtype=torch.float64)),
        T.AffineTransform(torch.zeros(5000, dtype=torch.float64), torch.full((5000,), 4.0)),
    ):
        x = t.inv(y)
        assert torch.equal(y, saved)
        torch.testing.assert_close(x, (y - t.loc) / t.scale, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_samples_follow_the_law(dtype):
    # [u < p] for a float64 uniform: frequencies within 5 standard errors at 1e6 draws, the
    # ends exact, the generator honoured
    probs = torch.tensor([0.0, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0], dtype=dtype)
    n = 1_000_000
    d = D.Bernoulli(probs=probs)
    x = d.sample((n,), generator=_gen(123))
    assert x.dtype == dtype and x.shape == (n, 9)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    k = x.double().sum(0)
    p = probs.double()
    se = (n * p * (1 - p)).sqrt().clamp(min=1e-12)
    assert ((k - n * p).abs() / se).max() < 5, k
    assert k[0] == 0 and k[-1] == n
    assert torch.equal(x, d.sample((n,), generator=_gen(123)))
    assert not torch.equal(x, d.sample((n,), generator=_gen(124)))
    # one law with many draws: a chi-square over 100 blocks of 1e4
    blocks = D.Bernoulli(probs=torch.tensor(0.37, dtype=dtype)).sample(
        (100, 10_000), generator=_gen(5)
    )
    counts = blocks.sum(1).double().numpy()
    expected = 10_000 * 0.37
    chi2 = (((counts - expected) ** 2) / (10_000 * 0.37 * 0.63)).sum()
    assert stats.chi2(100).sf(chi2) > 1e-4
