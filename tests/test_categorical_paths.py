"""The CPU-eager fast paths of Categorical / OneHotCategorical on large tensors.

``Categorical._gather`` reads labels of the batch shape through ``index_select`` on the
flat table (``categorical.take_last``, from 65536 labels), ``OneHotCategorical.log_prob``
from probs without a graph is ``log(sum_j x_j p_j)`` (from 4096 entries), and one-hot rows
of 8 or 16 bytes are sampled as words. The registry's small examples never reach them:
here they are checked against a reference computed independently (numpy in float64, or
torch's gather on the normalized table), for float32/float64, label dtypes, -inf logits,
zero probabilities, broadcasting, gradients and out-of-range labels with validation off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aleatorch as D
from aleatorch.errors import SupportError

ROWS = 70_000  # above the fast paths' thresholds (65536 labels; 4096 entries)
DTYPES = [torch.float32, torch.float64]


def _probs(k: int, dtype: torch.dtype, zeros: bool = True, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(ROWS, k, generator=g, dtype=torch.float64) + 0.01
    if zeros:
        p[::7, 1] = 0.0  # zero-probability labels, some of them drawn as values below
    return (p / p.sum(-1, keepdim=True)).to(dtype)


def _labels(k: int, dtype: torch.dtype = torch.int64, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, k, (ROWS,), generator=g).to(dtype)


def _np_log_prob(table: torch.Tensor, labels: torch.Tensor, logits: bool) -> np.ndarray:
    """log p[label] in float64 numpy, from the unnormalized table."""
    t = table.detach().double().numpy()
    if logits:
        top = t.max(-1, keepdims=True)
        norm = t - top - np.log(np.exp(t - top).sum(-1, keepdims=True))
    else:
        with np.errstate(divide="ignore"):
            norm = np.log(t / t.sum(-1, keepdims=True))
    idx = labels.long().numpy()[..., None]
    return np.take_along_axis(norm, idx, -1)[..., 0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_dtype", [torch.int64, torch.int32, torch.int16, torch.uint8])
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("validate", [True, False])
def test_categorical_log_prob_large(dtype, label_dtype, given, validate):
    k = 5
    p = _probs(k, dtype)
    table = p if given == "probs" else p.log() + 3.0  # unnormalized logits, -inf at p = 0
    d = D.Categorical(**{given: table}, validate_args=validate)
    v = _labels(k, label_dtype)
    got = d.log_prob(v)
    assert got.dtype == dtype and got.shape == (ROWS,)
    # the same entries as gathering from the normalized table, bit for bit
    norm = d.probs.log() if given == "probs" else d.logits
    assert torch.equal(got, norm.gather(-1, v.long().unsqueeze(-1)).squeeze(-1))
    want = _np_log_prob(table, v, logits=given == "logits")
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
    assert torch.isneginf(got).sum() == (p.gather(-1, v.long().unsqueeze(-1)) == 0).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_batch_dims_and_broadcasting(dtype):
    p = _probs(3, dtype).reshape(ROWS // 5, 5, 3)
    d = D.Categorical(logits=p.log(), validate_args=False)
    v = _labels(3).reshape(ROWS // 5, 5)
    ref = d.logits.gather(-1, v.unsqueeze(-1)).squeeze(-1)
    assert torch.equal(d.log_prob(v), ref)
    # a value with extra leading dims (the general path) and a broadcast value
    v2 = torch.stack([v, 2 - v])
    want = torch.stack([ref, d.logits.gather(-1, (2 - v).unsqueeze(-1)).squeeze(-1)])
    assert torch.equal(d.log_prob(v2), want)
    row = torch.tensor([0, 1, 2, 1, 0])
    want = d.logits.gather(-1, row.expand(ROWS // 5, 5).unsqueeze(-1)).squeeze(-1)
    assert torch.equal(d.log_prob(row), want)


@pytest.mark.parametrize("bad", [3, -1, 2**32 + 1, -(2**32) + 2, -(2**63)])
def test_categorical_out_of_range_labels_raise_without_validation(bad):
    d = D.Categorical(probs=_probs(3, torch.float32), validate_args=False)
    v = _labels(3)
    v[17] = bad
    with pytest.raises(SupportError):
        d.log_prob(v)
    with pytest.raises(SupportError):
        d.cdf(v)


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_categorical_gradients_large(given):
    p = _probs(4, torch.float64, zeros=False)
    leaf = (p if given == "probs" else p.log()).clone().requires_grad_(True)
    v = _labels(4)
    w = torch.rand(ROWS, dtype=torch.float64)
    (D.Categorical(**{given: leaf}, validate_args=False).log_prob(v) * w).sum().backward()
    # reference: the same normalization, the gather written by hand
    ref_leaf = leaf.detach().clone().requires_grad_(True)
    if given == "probs":
        norm = (ref_leaf / ref_leaf.sum(-1, keepdim=True)).log()
    else:
        norm = ref_leaf - ref_leaf.logsumexp(-1, keepdim=True)
    (norm[torch.arange(ROWS), v] * w).sum().backward()
    torch.testing.assert_close(leaf.grad, ref_leaf.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_cdf_survival_large(dtype):
    p = _probs(6, dtype)
    d = D.Categorical(probs=p, validate_args=False)
    v = _labels(6)
    cdf = np.cumsum(d.probs.double().numpy(), -1)
    idx = v.numpy()[:, None]
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(
        d.cdf(v).numpy(), np.minimum(np.take_along_axis(cdf, idx, -1)[:, 0], 1), atol=tol
    )
    sf = 1 - np.take_along_axis(cdf, idx, -1)[:, 0]
    np.testing.assert_allclose(d.survival_function(v).numpy(), sf, atol=tol)


def _one_hot(labels: torch.Tensor, k: int, dtype) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels.long(), k).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3, 4, 8, 12])
@pytest.mark.parametrize("given", ["probs", "logits"])
def test_one_hot_log_prob_large(dtype, k, given):
    p = _probs(k, dtype)
    table = p if given == "probs" else p.log()
    v = _labels(k)
    x = _one_hot(v, k, dtype)
    for cls in (D.OneHotCategorical, D.OneHotCategoricalStraightThrough):
        for validate in (True, False):
            got = cls(**{given: table}, validate_args=validate).log_prob(x)
            want = _np_log_prob(table, v, logits=given == "logits")
            tol = 1e-5 if dtype == torch.float32 else 1e-12
            np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
            c = D.Categorical(**{given: table})
            norm = c.probs.log() if given == "probs" else c.logits
            assert torch.equal(got, norm.gather(-1, v.unsqueeze(-1)).squeeze(-1))


@pytest.mark.parametrize("value_dtype", [torch.int64, torch.float64, torch.bool])
def test_one_hot_log_prob_other_value_dtypes(value_dtype):
    p = _probs(4, torch.float32)
    v = _labels(4)
    x = _one_hot(v, 4, value_dtype)
    got = D.OneHotCategorical(probs=p, validate_args=False).log_prob(x)
    want = p.gather(-1, v.unsqueeze(-1)).squeeze(-1).log()
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)


def test_one_hot_log_prob_broadcast_value():
    p = _probs(4, torch.float64).reshape(ROWS // 5, 5, 4)
    d = D.OneHotCategorical(probs=p, validate_args=False)
    v = _labels(4).reshape(ROWS // 5, 5)
    x = torch.stack([_one_hot(v, 4, torch.float64), _one_hot(3 - v, 4, torch.float64)])
    got = d.log_prob(x)
    want = torch.stack([p.gather(-1, v.unsqueeze(-1)), p.gather(-1, (3 - v).unsqueeze(-1))])
    torch.testing.assert_close(got, want.squeeze(-1).log(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_one_hot_gradients_large_no_nan(given):
    p = _probs(4, torch.float64)  # zeros in column 1
    leaf = (p if given == "probs" else p.log()).clone().requires_grad_(True)
    v = _labels(4)
    v[::7] = 0  # rows with a zero probability, not drawn
    x = _one_hot(v, 4, torch.float64)
    D.OneHotCategorical(**{given: leaf}, validate_args=False).log_prob(x).sum().backward()
    assert not leaf.grad.isnan().any()
    ref_leaf = leaf.detach().clone().requires_grad_(True)
    D.Categorical(**{given: ref_leaf}, validate_args=False).log_prob(v).sum().backward()
    torch.testing.assert_close(leaf.grad, ref_leaf.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [*DTYPES, torch.float16])
@pytest.mark.parametrize("k", [2, 3, 4, 8])
def test_one_hot_sample_matches_labels(dtype, k):
    # one-hot rows of 8 or 16 bytes are copied as words: float32 k = 2, 4; float64 k = 2;
    # float16 k = 4, 8
    p = _probs(k, dtype)
    d = D.OneHotCategoricalStraightThrough(probs=p)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    x = d.rsample(generator=g1)
    labels = D.Categorical(probs=p).sample(generator=g2)
    assert x.dtype == dtype and x.is_contiguous()
    assert torch.equal(x, _one_hot(labels, k, dtype))
    assert (p.gather(-1, labels.unsqueeze(-1)) > 0).all()  # zero-probability labels never
    many = d.sample((3,))
    assert many.shape == (3, ROWS, k) and torch.equal(
        many.sum(-1), torch.ones(3, ROWS, dtype=dtype)
    )
