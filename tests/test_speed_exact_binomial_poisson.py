"""The fast log_prob routes of Binomial and Poisson (issue 11) against 50-digit mpmath: the
loop over Python floats (at most 16 entries), the table of ``log k!`` (larger batches) and
the torch formula they stand in for (taken when the value carries a gradient), on one grid;
and what makes them fall back: values outside the support, non-integers, NaN, gradients."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import aleatorch as D
from tests.mp_errors import log_error

BUDGET = {torch.float64: 1e3, torch.float32: 1e2}  # eps, relative to max(1, |truth|)
REPEAT = 40  # batch copies for the table route (more than the 16 entries of the loop)


@pytest.fixture(autouse=True)
def _digits():
    with mpmath.workdps(50):
        yield


def _exact(x: float, dtype: torch.dtype) -> mpmath.mpf:
    return mpmath.mpf(torch.tensor(x, dtype=torch.float64).to(dtype).item())


def _binomial_truth(k, n, probs=None, logits=None):
    k, n = mpmath.mpf(k), mpmath.mpf(n)
    if logits is not None:
        log_p, log_q = -mpmath.log1p(mpmath.exp(-logits)), -mpmath.log1p(mpmath.exp(logits))
    else:
        log_p = mpmath.log(probs) if probs > 0 else -mpmath.inf
        log_q = mpmath.log1p(-probs) if probs < 1 else -mpmath.inf
    log_choose = mpmath.loggamma(n + 1) - mpmath.loggamma(k + 1) - mpmath.loggamma(n - k + 1)
    return log_choose + (k * log_p if k else 0) + ((n - k) * log_q if n - k else 0)


def _poisson_truth(k, rate):
    k = mpmath.mpf(k)
    term = k * mpmath.log(rate) if k else 0
    return term - rate - mpmath.loggamma(k + 1)


def _routes(d_small, d_large, value):
    """log_prob by the three routes, each checked to be the one taken."""
    assert d_small._listed_log_prob(value) is not None
    listed = d_small.log_prob(value)
    large_value = value.expand((REPEAT, *value.shape))
    assert d_large._listed_log_prob(large_value) is None
    assert d_large._table_log_prob(large_value) is not None
    table = d_large.log_prob(large_value)[0]
    traced = d_small.log_prob(value.clone().requires_grad_()).detach()
    return {"listed": listed, "table": table, "torch": traced}


def _check(outs, truths, dtype, where):
    worst = 0.0
    for name, out in outs.items():
        assert out.dtype == dtype, name
        for i, truth in enumerate(truths):
            error = log_error(out[i], truth)
            assert error <= BUDGET[dtype] * torch.finfo(dtype).eps, (where, name, i, error)
            worst = max(worst, error)
    return worst


BINOMIAL = {
    torch.float64: [0.0, 1.0, 2.0, 7.0, 20.0],  # counts of the lgamma form in float64
    torch.float32: [1.0, 7.0, 40.0, 1000.0, 1e5, 1e6],  # float32: up to 1e8 (in float64)
}
PROBS = [0.0, 1e-8, 0.3, 0.5, 0.99, 1.0 - 2**-20, 1.0]
LOGITS = [-100.0, -30.0, -1.0, 0.0, 2.0, 30.0, 100.0]


def _binomial_points(n, p):
    mean = n * p
    points = {0.0, 1.0, math.floor(mean), math.floor(mean) + 1, n - 1, n}
    return sorted(k for k in points if 0 <= k <= n)[:8]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_binomial_log_prob_routes(dtype, given):
    for n in BINOMIAL[dtype]:
        for x in PROBS if given == "probs" else LOGITS:
            p = x if given == "probs" else 1 / (1 + math.exp(-x))
            ks = _binomial_points(n, p)
            value = torch.tensor(ks, dtype=dtype)
            count = torch.full_like(value, n)
            param = torch.full_like(value, x)
            small = D.Binomial(count, **{given: param})
            large = D.Binomial(
                count.expand(REPEAT, -1).contiguous(),
                **{given: param.expand(REPEAT, -1).contiguous()},
            )
            truths = [_binomial_truth(k, n, **{given: _exact(x, dtype)}) for k in ks]
            _check(_routes(small, large, value), truths, dtype, (n, given, x))


POISSON = {
    torch.float64: [0.0, 1e-3, 0.5, 3.0, 10.0],  # rates of the direct form in float64
    torch.float32: [0.0, 1e-3, 0.5, 10.0, 100.0, 1e4, 1e6],  # float32: to 1e8 (in float64)
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_poisson_log_prob_routes(dtype):
    for rate in POISSON[dtype]:
        sd = math.sqrt(rate)
        ks = sorted({0.0, 1.0, 2.0, math.floor(rate), math.floor(rate + 3 * sd) + 1})
        value = torch.tensor(ks, dtype=dtype)
        rates = torch.full_like(value, rate)
        small = D.Poisson(rates)
        large = D.Poisson(rates.expand(REPEAT, -1).contiguous())
        truths = [
            _poisson_truth(k, _exact(rate, dtype))
            if rate
            else (mpmath.mpf(0) if k == 0 else -mpmath.inf)
            for k in ks
        ]
        _check(_routes(small, large, value), truths, dtype, rate)


def _three(make, value):
    """log_prob of a value by the loop, the table and the torch formula (validation off)."""
    small, large = make(1), make(REPEAT)
    return [
        small.log_prob(value)[0],
        large.log_prob(value.expand((REPEAT, *value.shape)))[0],
        small.log_prob(value.clone().requires_grad_()).detach()[0],
    ]


@pytest.mark.parametrize(
    "value",
    [[-1.0, 0.0, 3.0, 4.0], [0.0, 2.5, 3.0, 1.0], [0.0, math.nan, 1.0, 2.0]],
    ids=["outside", "non-integer", "nan"],
)
def test_binomial_fallbacks_agree(value):
    """Values the fast routes decline (validation off) give what the torch formula gives."""
    value = torch.tensor(value)
    count = torch.tensor([3.0, 3.0, 3.0, 3.0])
    probs = torch.tensor([0.2, 0.0, 0.7, 1.0])

    def make(m):
        return D.Binomial(count.expand(m, -1), probs=probs.expand(m, -1), validate_args=False)

    listed, table, traced = _three(make, value)
    torch.testing.assert_close(listed, traced, equal_nan=True)
    torch.testing.assert_close(table, traced, equal_nan=True)
    if value[0] == -1:
        assert listed[0] == -math.inf and listed[3] == -math.inf  # 4 > n = 3
    if value.isnan().any():
        assert listed[1].isnan()


@pytest.mark.parametrize(
    "value",
    [[-1.0, 0.0, 3.0], [0.0, 2.5, 3.0], [0.0, math.nan, 1.0]],
    ids=["outside", "non-integer", "nan"],
)
def test_poisson_fallbacks_agree(value):
    value = torch.tensor(value)
    rate = torch.tensor([2.0, 0.0, 7.5])

    def make(m):
        return D.Poisson(rate.expand(m, -1), validate_args=False)

    listed, table, traced = _three(make, value)
    torch.testing.assert_close(listed, traced, equal_nan=True)
    torch.testing.assert_close(table, traced, equal_nan=True)


def test_degenerate_probabilities():
    """p = 0 and p = 1: log P is 0 at the one possible count and -inf elsewhere, by every
    route; the rate 0 likewise."""
    count = torch.tensor([4.0, 4.0, 4.0, 4.0])
    probs = torch.tensor([0.0, 0.0, 1.0, 1.0])
    value = torch.tensor([0.0, 2.0, 4.0, 1.0])
    expected = torch.tensor([0.0, -math.inf, 0.0, -math.inf])

    def make(m):
        return D.Binomial(count.expand(m, -1), probs=probs.expand(m, -1))

    for out in _three(make, value):
        assert torch.equal(out, expected)

    def make_poisson(m):
        return D.Poisson(torch.tensor([0.0, 0.0]).expand(m, -1))

    for out in _three(make_poisson, torch.tensor([0.0, 3.0])):
        assert torch.equal(out, torch.tensor([0.0, -math.inf]))


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_gradients_through_the_table(given):
    """Parameters that require grad take the table route (the loop declines them) and get
    the gradient of k log p + (n - k) log(1 - p): k / p - (n - k) / (1 - p) by p."""
    n = 30.0
    value = torch.tensor([[0.0, 3.0, 17.0, 30.0]]).expand(REPEAT, -1)
    x = torch.tensor([0.1, 0.4, 0.6, 0.95], dtype=torch.float64)
    if given == "logits":
        x = torch.log(x / (1 - x))
    param = x.expand(REPEAT, -1).clone().requires_grad_()
    d = D.Binomial(torch.full_like(param, n), **{given: param})
    assert d._table_log_prob(value) is not None
    (grad,) = torch.autograd.grad(d.log_prob(value).sum(), param)
    p = torch.sigmoid(x) if given == "logits" else x
    k = value[0].double()
    expected = k / p - (n - k) / (1 - p)
    if given == "logits":
        expected = expected * p * (1 - p)
    torch.testing.assert_close(grad[0], expected)

    rate = torch.tensor([0.5, 3.0, 40.0], dtype=torch.float64).expand(REPEAT, -1).clone()
    rate.requires_grad_()
    counts = torch.tensor([[1.0, 0.0, 45.0]]).expand(REPEAT, -1)
    poisson = D.Poisson(rate)
    assert poisson._table_log_prob(counts) is not None
    (grad,) = torch.autograd.grad(poisson.log_prob(counts).sum(), rate)
    torch.testing.assert_close(grad[0], counts[0].double() / rate[0].detach() - 1)


def test_sample_skips_the_nan_mask_but_keeps_nan_counts():
    torch.manual_seed(0)
    d = D.Binomial(torch.tensor([5.0, math.nan, 7.0]), probs=0.5, validate_args=False)
    draws = d.sample((100,))
    assert draws[:, 1].isnan().all()
    assert draws[:, [0, 2]].isfinite().all()
    assert (draws[:, 0] <= 5).all() and (draws[:, 2] <= 7).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_binomial_entropy_table_route(dtype):
    """The entropy summed over every label with log P from the table (counts up to 64)."""
    counts = [0.0, 1.0, 5.0, 20.0] + ([40.0, 64.0] if dtype == torch.float32 else [])
    for probs in ([0.0, 1e-8, 0.3, 0.5, 0.99, 1.0], [1e-8, 0.3, 0.99]):  # (p = 0, 1 or not)
        _check_entropy([(n, p) for n in counts for p in probs], dtype)


def _check_entropy(grid, dtype):
    d = D.Binomial(
        torch.tensor([n for n, _ in grid], dtype=dtype),
        probs=torch.tensor([p for _, p in grid], dtype=dtype),
    )
    assert d._table_entropy() is not None
    out = d.entropy()
    assert out.dtype == dtype
    for i, (n, p) in enumerate(grid):
        truth = mpmath.mpf(0)
        for k in range(int(n) + 1):
            log_p = _binomial_truth(k, n, probs=_exact(p, dtype))
            if log_p != -mpmath.inf:
                truth -= mpmath.exp(log_p) * log_p
        error = log_error(out[i], truth)
        assert error <= BUDGET[dtype] * torch.finfo(dtype).eps, (n, p, error)
