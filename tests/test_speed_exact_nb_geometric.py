"""The fast paths of NegativeBinomial and Geometric (issue 11) keep their values exact:
large-batch log_prob (cached terms, a table of log k!), the fused small-tensor log_prob, the
entropy summed once per distinct law, Geometric's large-batch entropy and in-place sampler."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D

BUDGET = {torch.float64: 1e3, torch.float32: 1e2}  # eps, relative to max(1, |truth|)


def _nb_log_pmf(r: float, p: float, k: float) -> float:
    if k < 0:
        return -math.inf
    if r == 0 or p == 0:
        return 0.0 if k == 0 else -math.inf
    r, p, k = mp.mpf(r), mp.mpf(p), mp.mpf(k)
    return float(
        mp.loggamma(r + k) - mp.loggamma(r) - mp.loggamma(k + 1) + r * mp.log1p(-p) + k * mp.log(p)
    )


def _assert_within(ours: torch.Tensor, truth: list[float], dtype: torch.dtype, what: str):
    eps = torch.finfo(dtype).eps
    for i, (o, t) in enumerate(zip(ours.double().tolist(), truth, strict=True)):
        if math.isinf(t) or math.isnan(t):
            assert o == t or (math.isnan(t) and math.isnan(o)), f"{what}[{i}]: {o} != {t}"
            continue
        err = abs(o - t) / max(1.0, abs(t)) / eps
        assert err <= BUDGET[dtype], f"{what}[{i}]: {o} vs {t} ({err:.3g} eps)"


def _grid(dtype, edges=True):
    g = torch.Generator().manual_seed(0)
    n = 5000  # above the table / cache thresholds
    r = torch.tensor([0.5, 1.0, 2.5, 10.0, 40.0, 17.0, 3.0, 0.0], dtype=dtype)
    p = torch.tensor([0.3, 0.5, 0.8, 0.1, 0.95, 0.0, 1e-4, 0.6], dtype=dtype)
    if not edges:  # no point mass (r = 0 or p = 0)
        r, p = r[:5], p[:5]
    idx = torch.randint(0, len(r), (n,), generator=g)
    k = torch.randint(0, 600, (n,), generator=g).to(dtype)
    return r[idx], p[idx], k


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("edges", [True, False])
def test_negative_binomial_log_prob_large_batch_against_mpmath(dtype, edges):
    r, p, k = _grid(dtype, edges)
    k[:50] = torch.arange(50, dtype=dtype)  # k = 0 at every law
    d = D.NegativeBinomial(r, probs=p)
    ours = d.log_prob(k)
    picks = list(range(0, 200)) + list(range(200, len(k), 37))
    truth = [_nb_log_pmf(float(r[i]), float(p[i]), float(k[i])) for i in picks]
    _assert_within(ours[picks], truth, dtype, "log_prob")
    # the same numbers entry by entry (small tensors take the fused form)
    for i in picks[:40]:
        one = D.NegativeBinomial(r[i : i + 1], probs=p[i : i + 1]).log_prob(k[i : i + 1])
        eps = torch.finfo(dtype).eps  # (the exact and textbook forms may differ by ulps)
        torch.testing.assert_close(one, ours[i : i + 1], rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("size", [7, 5000])
@pytest.mark.parametrize("nan", [False, True])
def test_negative_binomial_log_prob_edges_with_validation_off(size, nan, dtype):
    # k < 0 gives -inf, NaN stays NaN, a non-integer k the lgamma form, r = 0 a point mass,
    # p = 0 a point mass. (A NaN value sends the whole batch to the exact form.)
    r = torch.tensor([3.0, 3.0, 0.0, 0.0, 2.5, 4.0, 1.0, 4.0], dtype=dtype)
    p = torch.tensor([0.4, 0.4, 0.5, 0.5, 0.3, 0.0, 0.2, 0.0], dtype=dtype)
    k = torch.tensor([-1.5, math.nan if nan else 5.0, 0.0, 2.0, 1.5, 0.0, 3.0, 2.0], dtype=dtype)
    n = size // 8 + 1
    d = D.NegativeBinomial(r.repeat(n), probs=p.repeat(n), validate_args=False)
    out = d.log_prob(k.repeat(n)).view(n, 8)
    assert (out[:, 0] == -math.inf).all()
    if nan:
        assert out[:, 1].isnan().all()
    assert (out[:, 2] == 0.0).all() and (out[:, 3] == -math.inf).all()
    assert (out[:, 5] == 0.0).all() and (out[:, 7] == -math.inf).all()
    half = math.lgamma(4.0) - math.lgamma(2.5) - math.lgamma(2.5) + 2.5 * math.log(0.7)
    rel = 1e-6 if dtype == torch.float32 else 1e-12
    assert out[0, 4].item() == pytest.approx(half + 1.5 * math.log(0.3), rel=rel)
    assert out[0, 6].item() == pytest.approx(_nb_log_pmf(1.0, float(p[6]), 3.0), rel=rel)
    assert out[0, 1].item() == pytest.approx(_nb_log_pmf(3.0, float(p[1]), 5.0), rel=rel) or nan


def test_negative_binomial_log_prob_gradients_large_batch():
    r, p, k = _grid(torch.float64)
    keep = (r > 0) & (p > 0)
    r, p, k = r[keep].requires_grad_(), p[keep].requires_grad_(), k[keep]
    D.NegativeBinomial(r, probs=p).log_prob(k).sum().backward()
    dr = torch.digamma(r + k) - torch.digamma(r) + torch.log1p(-p)
    dp = k / p - r / (1 - p)
    torch.testing.assert_close(r.grad, dr.detach())
    torch.testing.assert_close(p.grad, dp.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_negative_binomial_entropy_of_repeated_laws(dtype, given):
    r = torch.tensor([0.5, 1.0, 2.5, 10.0, 40.0, 0.0, 3.0], dtype=dtype)
    p = torch.tensor([0.0, 0.3, 0.5, 0.8, 0.1, 0.4, 0.97], dtype=dtype)
    param = p if given == "probs" else torch.logit(p.clamp(min=1e-3))
    one = D.NegativeBinomial(r, **{given: param}).entropy()
    many = D.NegativeBinomial(r.repeat(800), **{given: param.repeat(800)}).entropy()
    assert torch.equal(many.view(800, 7), one.expand(800, 7))
    # a broadcast batch
    wide = D.NegativeBinomial(r.view(7, 1).expand(7, 900), **{given: param.view(7, 1)})
    assert torch.equal(wide.entropy(), one.view(7, 1).expand(7, 900))


def test_negative_binomial_entropy_of_repeated_laws_keeps_gradients():
    base = torch.tensor([2.0, 5.0], dtype=torch.float64)
    r = base.repeat(3000).requires_grad_()
    p = torch.tensor([0.3, 0.6], dtype=torch.float64).repeat(3000).requires_grad_()
    D.NegativeBinomial(r, probs=p).entropy().sum().backward()
    r1 = base.clone().requires_grad_()
    p1 = torch.tensor([0.3, 0.6], dtype=torch.float64, requires_grad=True)
    D.NegativeBinomial(r1, probs=p1).entropy().sum().backward()
    torch.testing.assert_close(r.grad, r1.grad.repeat(3000))
    torch.testing.assert_close(p.grad, p1.grad.repeat(3000))


def test_negative_binomial_sample_point_mass():
    r = torch.zeros(4)
    p = torch.tensor([0.5, 0.99, 0.999999, 0.0])
    x = D.NegativeBinomial(r, probs=p).sample((50000,))
    assert (x == 0).all()


def _geometric_entropy(p: float) -> float:
    p = mp.mpf(p)
    if p == 1:
        return 0.0
    return float(-mp.log(p) - (1 - p) * mp.log1p(-p) / p)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_geometric_entropy_large_batch_against_mpmath(dtype):
    p = torch.cat(
        [
            torch.tensor([1.0, 0.5, 1e-6, 1e-3, 0.999, 0.1], dtype=dtype),
            torch.logspace(-30, 0, 5000, dtype=dtype),
        ]
    )
    ours = D.Geometric(probs=p).entropy()
    picks = list(range(6)) + list(range(6, len(p), 97))
    truth = [_geometric_entropy(float(p[i])) for i in picks]
    _assert_within(ours[picks], truth, dtype, "entropy")
    small = torch.cat([D.Geometric(probs=c).entropy() for c in p.split(1000)])
    torch.testing.assert_close(ours, small, rtol=8 * torch.finfo(dtype).eps, atol=0)


def test_geometric_entropy_large_batch_gradients():
    p = torch.linspace(0.01, 0.99, 5000, dtype=torch.float64, requires_grad=True)
    D.Geometric(probs=p).entropy().sum().backward()
    # dH/dp = log(1 - p) / p^2
    expected = torch.log1p(-p.detach()) / p.detach() ** 2
    torch.testing.assert_close(p.grad, expected)


def test_geometric_sample_law():
    p = torch.tensor([0.3, 0.9, 1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = D.Geometric(probs=p).sample((200000,), generator=g)
    assert (x[:, 2] == 0).all() and (x >= 0).all() and (x == x.floor()).all()
    for j in range(2):
        for k in range(3):  # P(X = k) = p (1 - p)^k within 6 standard errors
            q = float(p[j] * (1 - p[j]) ** k)
            freq = float((x[:, j] == k).double().mean())
            assert abs(freq - q) < 6 * math.sqrt(q * (1 - q) / 200000)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_negative_binomial_log_prob_few_entries_against_mpmath(dtype, given):
    # A few entries are computed in Python floats: the same values as the tensor forms.
    g = torch.Generator().manual_seed(3)
    for _ in range(40):
        r = (torch.rand(5, generator=g, dtype=torch.float64) * 20).to(dtype)
        p = torch.rand(5, generator=g, dtype=torch.float64).to(dtype)
        k = torch.randint(0, 21, (5,), generator=g).to(dtype)
        r[0], p[1], k[2] = 0.0, 0.0, 0.0
        param = p if given == "probs" else torch.logit(p.clamp(min=1e-6))
        ours = D.NegativeBinomial(r, **{given: param}).log_prob(k)
        p_used = param if given == "probs" else torch.sigmoid(param.double())
        truth = [_nb_log_pmf(float(r[i]), float(p_used[i]), float(k[i])) for i in range(5)]
        _assert_within(ours, truth, dtype, "log_prob")
        many = D.NegativeBinomial(r.repeat(4), **{given: param.repeat(4)}).log_prob(k.repeat(4))
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(ours, many[:5], rtol=64 * eps, atol=64 * eps)
    # outside the support (validation off): -inf below 0, NaN stays NaN
    d = D.NegativeBinomial(
        torch.tensor([2.0, 2.0], dtype=dtype),
        probs=torch.tensor([0.3, 0.3], dtype=dtype),
        validate_args=False,
    )
    out = d.log_prob(torch.tensor([-1.5, -1.0], dtype=dtype))
    assert (out == -math.inf).all()


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_negative_binomial_float32_entropy_by_the_ratio_recurrence(given):
    # float32 laws sum their window by the ratio recurrence: the float64 exact sum, rounded.
    g = torch.Generator().manual_seed(5)
    r = torch.cat([torch.tensor([0.0, 3.0, 1e-3, 0.5, 200.0]), torch.rand(40, generator=g) * 50])
    p = torch.cat([torch.tensor([0.5, 0.0, 0.5, 0.97, 0.12]), torch.rand(40, generator=g) * 0.95])
    param = p if given == "probs" else torch.logit(p)
    r32 = r.clone().requires_grad_()
    param32 = param.clone().requires_grad_()
    ours = D.NegativeBinomial(r32, **{given: param32}).entropy()
    r64 = r.double().requires_grad_()
    param64 = param.double().requires_grad_()
    exact = D.NegativeBinomial(r64, **{given: param64}).entropy()
    eps = torch.finfo(torch.float32).eps
    err = (ours.double() - exact).abs() / exact.abs().clamp(min=1) / eps
    assert err.max() <= 4, err.max()
    assert ours[0] == 0 and ours[1] == 0  # point masses
    ours.sum().backward()
    exact.sum().backward()
    for a, b in [(r32.grad, r64.grad), (param32.grad, param64.grad)]:
        assert not a.isnan().any()
        torch.testing.assert_close(a[2:].double(), b[2:], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_negative_binomial_log_prob_value_broadcast_over_a_large_batch(dtype):
    r, p, _ = _grid(dtype, edges=False)
    ours = D.NegativeBinomial(r, probs=p).log_prob(torch.tensor(3.0, dtype=dtype))
    picks = list(range(0, len(r), 101))
    truth = [_nb_log_pmf(float(r[i]), float(p[i]), 3.0) for i in picks]
    _assert_within(ours[picks], truth, dtype, "log_prob")
