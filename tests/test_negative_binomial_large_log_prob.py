"""NegativeBinomial's large-batch textbook log_prob (issue 11): the dtype chosen from one
aminmax of the value and a cached one of r, and p = 0 handled without a where (k log p made
finite where it is 0 log 0), checked against scipy on batches that take the block path."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aleatorch as D

N = 3 * (1 << 15) + 17  # several blocks of the no-graph path, and a ragged last one


def _laws(dtype, large_r):
    g = torch.Generator().manual_seed(3)
    r = torch.tensor([0.5, 1.0, 2.5, 10.0, 4000.0 if large_r else 7.0, 3.0, 0.0], dtype=dtype)
    p = torch.tensor([0.0, 0.3, 0.5, 0.8, 0.1, 0.0, 0.6], dtype=dtype)
    idx = torch.randint(0, len(r), (N,), generator=g)
    k = torch.randint(0, 600, (N,), generator=g).to(dtype)
    k[idx == 0] = torch.arange(int((idx == 0).sum())).remainder(3).to(dtype)  # k = 0 often
    return r[idx], p[idx], k


def _truth(r, p, k):
    r, p, k = (t.double().numpy() for t in (r, p, k))
    out = stats.nbinom.logpmf(k, r, 1 - p)  # scipy counts failures: torch's p is its 1 - p
    point = (r == 0) | (p == 0)  # all the mass at 0
    out[point] = [0.0 if kk == 0 else -math.inf for kk in k[point]]
    return torch.from_numpy(out)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("large_r", [False, True])  # r <= 20 (own dtype) or float64 work
@pytest.mark.parametrize("validate", [True, False])
def test_block_path_against_scipy(dtype, large_r, validate):
    r, p, k = _laws(dtype, large_r)
    ours = D.NegativeBinomial(r, probs=p, validate_args=validate).log_prob(k)
    truth = _truth(r, p, k)
    inf = truth.isinf()
    assert torch.equal(ours[inf].double(), truth[inf])
    assert bool((ours[(p == 0) & (k == 0)] == 0).all())
    # float32: 100 eps; float64: scipy's own lgamma differences limit the truth (~1e-12)
    budget = 100 * torch.finfo(torch.float32).eps if dtype == torch.float32 else 1e-10
    err = (ours[~inf].double() - truth[~inf]).abs() / truth[~inf].abs().clamp(min=1)
    assert float(err.max()) <= budget


def test_block_path_repeated_calls_use_cached_terms_and_stay_equal():
    r, p, k = _laws(torch.float32, True)
    d = D.NegativeBinomial(r, probs=p)
    first = d.log_prob(k)
    assert torch.equal(d.log_prob(k), first)
    r.mul_(1.0)  # an in-place update: recomputed, the same numbers
    assert torch.equal(d.log_prob(k), first)


def test_block_path_nan_probability_stays_nan_with_validation_off():
    # a NaN p (validation off): k log p is NaN for other reasons than 0 log 0, so the
    # general where path runs; entries of the NaN law are NaN, the others exact
    r, p, k = _laws(torch.float32, True)
    p = p.clone()
    p[:5] = math.nan
    k[:5] = torch.tensor([0.0, 1.0, 2.0, 0.0, 3.0])
    out = D.NegativeBinomial(r, probs=p, validate_args=False).log_prob(k)
    assert bool(out[:5][k[:5] > 0].isnan().all())
    ok = torch.ones(N, dtype=torch.bool)
    ok[:5] = False
    truth = _truth(r[ok], p[ok], k[ok])
    torch.testing.assert_close(out[ok].double(), truth, rtol=1e-5, atol=1e-5)


def test_block_path_nan_value_and_logits_of_minus_infinity():
    r, p, k = _laws(torch.float32, True)
    logits = torch.logit(p.double()).float()  # p = 0 gives -inf logits
    k = k.clone()
    k[7] = math.nan
    out = D.NegativeBinomial(r, logits=logits, validate_args=False).log_prob(k)
    assert math.isnan(out[7])
    keep = torch.arange(N) != 7
    truth = _truth(r[keep], torch.sigmoid(logits[keep].double()), k[keep])
    inf = truth.isinf()
    assert torch.equal(out[keep][inf].double(), truth[inf])
    torch.testing.assert_close(out[keep][~inf].double(), truth[~inf], rtol=1e-5, atol=1e-5)
