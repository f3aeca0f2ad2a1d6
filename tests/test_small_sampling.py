"""Categorical and one-hot sampling of few labels on Python floats (CPU eager,
``categorical.python_labels``): the same inverse cdf as the tensor path, from the same
uniforms, exact in law (chi-square over many small calls with fixed seeds, on both sides of
the switch point, float32 and float64), honouring ``generator=``.
"""

import math

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch.distributions import categorical

P_MIN = 1e-4
LIMIT = categorical._PYTHON_LABELS


def _tensor_path(monkeypatch):
    monkeypatch.setattr(categorical, "_PYTHON_LABELS", -1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("sample_shape", [(), (5,), (LIMIT // 3,), (LIMIT // 3 + 1,)])
def test_python_labels_are_the_tensor_paths(monkeypatch, dtype, given, sample_shape):
    # float64: the same running sums and targets, so the same labels; float32: the tensor
    # path's float32 sums differ only at a boundary (none for these seeds).
    probs = torch.tensor([[0.0, 0.2, 0.3, 0.5], [0.1, 0.0, 0.0, 0.9], [0.25] * 4], dtype=dtype)
    params = {"probs": probs} if given == "probs" else {"logits": probs.log()}
    kinds = [D.Categorical, D.OneHotCategorical, D.OneHotCategoricalStraightThrough]
    fast = [
        cls(**params).sample(sample_shape, generator=torch.Generator().manual_seed(5))
        for cls in kinds
    ]
    _tensor_path(monkeypatch)
    slow = [
        cls(**params).sample(sample_shape, generator=torch.Generator().manual_seed(5))
        for cls in kinds
    ]
    for a, b in zip(fast, slow, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b)
    assert fast[0].dtype == torch.int64 and fast[1].dtype == dtype
    assert torch.equal(fast[1].argmax(-1), fast[0])
    assert torch.equal(fast[1].sum(-1), torch.ones_like(fast[0], dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cls", [D.Categorical, D.OneHotCategorical])
def test_small_calls_match_the_probabilities(dtype, cls):
    # 20000 calls of one draw per row (the Python path), rows with a zero probability and
    # a -inf logit; chi-square per row.
    logits = torch.tensor([[-1.0, 0.5, 2.0], [0.0, -math.inf, 1.0], [3.0, 0.0, 2.0]], dtype=dtype)
    d = cls(logits=logits)
    g = torch.Generator().manual_seed(11)
    draws = 20000
    x = torch.stack([d.sample(generator=g) for _ in range(draws)])
    labels = x if cls is D.Categorical else x.argmax(-1)
    probs = torch.softmax(logits.double(), -1)
    for row in range(3):
        counts = torch.bincount(labels[:, row], minlength=3).double()
        keep = probs[row] > 0
        assert counts[~keep].sum() == 0
        expected = probs[row][keep] * draws
        stat = float(((counts[keep] - expected) ** 2 / expected).sum())
        assert stats.chi2.sf(stat, int(keep.sum()) - 1) > P_MIN, (row, stat)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_switch_point_draws_match_the_probabilities(dtype):
    # sample_shape at the last size of the Python path and the first of the tensor path.
    probs = torch.tensor([0.05, 0.0, 0.15, 0.3, 0.5], dtype=dtype)
    d = D.Categorical(probs=probs)
    g = torch.Generator().manual_seed(3)
    for n in (LIMIT, LIMIT + 1):
        x = torch.cat([d.sample((n,), generator=g) for _ in range(3000)])
        counts = torch.bincount(x, minlength=5).double()
        assert counts[1] == 0
        keep = probs > 0
        expected = probs[keep].double() * x.numel()
        stat = float(((counts[keep] - expected) ** 2 / expected).sum())
        assert stats.chi2.sf(stat, 3) > P_MIN, (n, stat)


def test_generator_reproduces_and_half_precision_works():
    d = D.OneHotCategorical(logits=torch.tensor([0.3, -1.0, 2.0]))
    a = d.sample((4,), generator=torch.Generator().manual_seed(9))
    b = d.sample((4,), generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    half = D.Categorical(probs=torch.tensor([0.0, 0.25, 0.75], dtype=torch.float16))
    x = half.sample((20,), generator=torch.Generator().manual_seed(1))
    assert x.dtype == torch.int64 and (x > 0).all()
    one_hot = D.OneHotCategorical(probs=torch.tensor([0.5, 0.5], dtype=torch.float16)).sample()
    assert one_hot.dtype == torch.float16 and one_hot.sum() == 1


def test_extreme_uniforms_on_the_python_path(monkeypatch):
    # u = 0 gives the last positive-probability label, u just below 1 the first one.
    probs = torch.tensor([0.0, 0.1, 0.0, 0.2, 0.7, 0.0, 0.0], dtype=torch.float64)
    edges = torch.tensor([0.0, 1 - 2.0**-53, 0.5, 0.85], dtype=torch.float64)
    monkeypatch.setattr(torch, "rand", lambda shape, **kw: edges.reshape(shape))
    assert D.Categorical(probs=probs).sample((4,)).tolist() == [4, 1, 4, 3]
    assert D.OneHotCategorical(probs=probs).sample((4,)).argmax(-1).tolist() == [4, 1, 4, 3]


def test_empty_batch_and_sample_shapes():
    d = D.Categorical(probs=torch.ones(0, 3))
    assert d.sample((2,)).shape == (2, 0)
    one_hot = D.OneHotCategorical(probs=torch.ones(2, 1, 3)).sample((4, 2))
    assert one_hot.shape == (4, 2, 2, 1, 3) and torch.equal(one_hot.sum(-1), torch.ones(4, 2, 2, 1))


def test_vmap_with_unbatched_probs_draws_different_labels():
    # The parameter is captured (not batched), the uniforms are: the tensor path runs.
    probs = torch.tensor([0.2, 0.3, 0.5])
    torch.manual_seed(0)
    for cls in (D.Categorical, D.OneHotCategorical):
        out = torch.func.vmap(lambda x, c=cls: c(probs=probs).sample() + x, randomness="different")(
            torch.zeros((400, 3) if cls is D.OneHotCategorical else 400)
        )
        labels = out if cls is D.Categorical else out.argmax(-1)
        assert len(labels.unique()) == 3


@pytest.mark.parametrize("batched", [False, True])
def test_multivariate_normal_from_scale_tril_samples_loc_plus_factor_times_normals(batched):
    # The factor given as scale_tril is used as is (no cache look-up): x = mu + L eps.
    scale_tril = torch.tensor([[1.1, 0.0], [0.4, 0.7]], dtype=torch.float64)
    if batched:
        scale_tril = torch.stack([scale_tril, 2 * scale_tril])
    loc = torch.tensor([0.5, -1.0], dtype=torch.float64)
    d = D.MultivariateNormal(loc, scale_tril=scale_tril)
    x = d.rsample((4,), generator=torch.Generator().manual_seed(2))
    eps = torch.randn(
        (4, *d.batch_shape, 2), dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    expected = loc + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(x, expected, rtol=1e-14, atol=1e-14)
    assert d._unbroadcasted_scale_tril is scale_tril
