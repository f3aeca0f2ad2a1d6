"""Beta and Dirichlet samples of a few entries (``_samplers.gamma.few_beta``/``few_dirichlet``:
torch's Dirichlet kernel where it is exact, else gamma draws finished in Python floats, in
value or log space): exact in law on both sides of every switch, generator-driven, and the
premise of the kernel switch (torch draws the Dirichlet kernel's gammas in double)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

import aleatorch as D
from aleatorch._samplers import gamma as G

DTYPES = [torch.float32, torch.float64]
# two-sided KS at p = 1e-4 (fixed seeds: the tests are deterministic)
KS_CRIT = math.sqrt(-math.log(5e-5) / 2)


def _ks_on_grid(x: np.ndarray, a: float, b: float, dtype: torch.dtype) -> float:
    """KS distance between draws ``x`` (values of ``dtype``, in [0, 1]) and Beta(a, b), as the
    law looks once rounded to ``dtype`` and kept in ``[tiny, 1 - eps/2]``: a value ``u``
    holds the mass between the midpoints to its neighbours, ``tiny`` all below and
    ``1 - eps/2`` (and 1) all above. Above 1/2 the cdf is ``1 - I_{1-m}(b, a)`` with ``1 - m``
    from the exact ``1 - u`` (a midpoint ``m`` near 1 rounds to 1 in double)."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    u, counts = np.unique(x, return_counts=True)
    right = np.cumsum(counts) / x.size
    left = right - counts / x.size
    g = u.astype(np_dtype)
    up = np.minimum(np.nextafter(g, np_dtype(np.inf)).astype(np.float64), 1.0)
    down = np.maximum(np.nextafter(g, np_dtype(-np.inf)).astype(np.float64), 0.0)

    def cdf(v: np.ndarray, w: np.ndarray) -> np.ndarray:  # at the midpoint of v and w
        low = special.betainc(a, b, (v + w) / 2)
        high = 1 - special.betainc(b, a, ((1 - v) + (1 - w)) / 2)
        return np.where(v < 0.5, low, high)

    f_right, f_left = cdf(u, up), cdf(u, down)
    finfo = torch.finfo(dtype)
    f_left[u <= finfo.tiny] = 0.0
    f_right[u >= 1 - finfo.eps / 2] = 1.0
    return float(max(np.max(right - f_right), np.max(f_left - left), 0.0))


def _draws(make, calls: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([make(gen) for _ in range(calls)])


# Rows of concentrations: the log-space fallback (1e-3), both sides of the boost (a = 1), of
# the float64 kernel bound (0.063 per entry) and of the float32 one (row total 0.0724 for
# k = 3: 0.02 + 0.02 + 0.03 = 0.07 below, 0.03 * 3 = 0.09 above), large concentrations.
DIRICHLET_ROWS = [
    [1e-3, 0.05, 2.0],
    [0.02, 0.02, 0.03],
    [0.03, 0.03, 0.03],
    [0.06, 0.07, 0.999],
    [1.0, 1e3, 0.5],
    [0.3, 4.0, 30.0],
]


@pytest.mark.parametrize("row", DIRICHLET_ROWS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_few_dirichlet_marginals_follow_the_beta_laws(dtype, row):
    # 12 copies of the row per call (36 entries); each marginal x_i is Beta(a_i, s - a_i)
    c = torch.tensor([row] * 12, dtype=dtype)
    x = _draws(lambda gen: D.Dirichlet(c).sample(generator=gen), 4000, 41)
    assert x.dtype == dtype and bool(((x > 0) & (x <= 1)).all())
    total = x.double().sum(-1)
    assert float((total - 1).abs().max()) < 4 * torch.finfo(dtype).eps
    s = sum(row)
    for i, a in enumerate(row):
        sample = x[..., i].reshape(-1).double().numpy()
        ks = _ks_on_grid(sample, a, s - a, dtype)
        assert ks < KS_CRIT / math.sqrt(sample.size), (i, ks)


# (a, b): the log-space fallback, the float32 kernel bound on a + b (0.0718: 0.03 + 0.03
# below, 0.05 + 0.05 above), the float64 one (0.063 per entry), the boost edge, large ones.
BETA_PAIRS = [
    (1e-3, 1e-3),
    (0.03, 0.03),
    (0.05, 0.05),
    (0.06, 0.07),
    (1.0, 0.999),
    (1e3, 0.01),
    (2.0, 3.0),
    (0.5, 30.0),
]


@pytest.mark.parametrize("pair", BETA_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_few_beta_follows_the_beta_law(dtype, pair):
    a = torch.full((24,), pair[0], dtype=dtype)
    b = torch.full((24,), pair[1], dtype=dtype)
    x = _draws(lambda gen: D.Beta(a, b).sample(generator=gen), 2000, 42)
    assert x.dtype == dtype and bool(((x > 0) & (x < 1)).all())
    sample = x.reshape(-1).double().numpy()
    ks = _ks_on_grid(sample, *pair, dtype)
    assert ks < KS_CRIT / math.sqrt(sample.size), ks


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_few_paths_agree_with_the_tensor_paths_in_law(dtype):
    # the same law from 64 entries per call (few) and from one 60000-entry call (tensors)
    row = [0.01, 0.04, 0.8]
    c_few = torch.tensor([row] * 21, dtype=dtype)
    few = _draws(lambda gen: D.Dirichlet(c_few).sample(generator=gen), 3000, 43)
    big = D.Dirichlet(torch.tensor(row, dtype=dtype).expand(60_000, 3)).sample(
        generator=torch.Generator().manual_seed(44)
    )
    top = 1 - torch.finfo(dtype).eps / 2  # (torch's kernel keeps x below 1, the rest may not)
    for i in range(3):
        lhs = few[..., i].reshape(-1).clamp(max=top).double().log().numpy()
        rhs = big[..., i].clamp(max=top).double().log().numpy()
        assert stats.ks_2samp(lhs, rhs).pvalue > 1e-4, i


def test_torch_dirichlet_kernel_draws_its_gammas_in_double():
    # the premise of the float32 kernel bound: Beta(0.02, 0.02) from torch's float32 Dirichlet
    # kernel has P(x <= tiny) = I_tiny(0.02, 0.02) (~0.087); float32 gammas would underflow
    # together (~18% each) and pile at 0.5
    n = 200_000
    c = torch.tensor([0.02, 0.02]).expand(n, 2).contiguous()
    x = torch._sample_dirichlet(c, generator=torch.Generator().manual_seed(45))[:, 0]
    tiny = torch.finfo(torch.float32).tiny
    p = float(special.betainc(0.02, 0.02, tiny))
    frac = float((x <= tiny).double().mean())
    assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n), (frac, p)
    assert int((x == 0.5).sum()) == 0


def test_kernel_bound_constants():
    # 2^-1022 / tiny32 = 2^-896, and 1 / Gamma(1 + a) <= 2^0.176 (its maximum at 1 + a ~ 1.46)
    assert (
        math.log2(2.0**-1022 / torch.finfo(torch.float32).tiny)
        == -G._KERNEL_ROW_BITS[torch.float32]
    )
    a = np.linspace(0.0, 4.0, 40_001)
    assert float(np.max(-np.log2(special.gamma(1 + a)))) <= 0.176
    # float32: a row needs its total, float64 every entry
    rows32 = [[0.025, 0.025, 0.025]]
    assert G._kernel_exact(rows32, torch.float32) is True
    assert G._kernel_exact([[0.02, 0.02, 0.03]], torch.float32) is False
    assert G._kernel_exact(rows32, torch.float64) is False
    assert G._kernel_exact([[0.063, 5.0]], torch.float64) is True


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_few_paths_honour_the_generator_and_shapes(dtype):
    c = torch.tensor([[0.01, 0.5, 3.0], [0.2, 0.2, 0.2]], dtype=dtype)
    a, b = c[0], c[1]
    for d, shape in ((D.Dirichlet(c), (2, 3)), (D.Beta(a, b), (3,)), (D.Beta(a[0], b[1]), ())):
        for sample_shape in ((), (2,), (2, 1)):
            g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
            x = d.sample(sample_shape, generator=g1)
            assert x.shape == torch.Size(sample_shape + shape) and x.dtype == dtype
            assert torch.equal(x, d.sample(sample_shape, generator=g2))
            assert not torch.equal(x, d.sample(sample_shape, generator=g2))
            y = d.rsample(sample_shape, generator=torch.Generator().manual_seed(7))
            assert torch.equal(x, y)


def test_few_paths_refuse_odd_values_and_keep_gradients():
    shape = torch.Size([3])
    for bad in (float("nan"), float("inf"), -1.0, 0.0):
        c = torch.tensor([0.5, bad, 2.0])
        assert G.few_dirichlet(c, shape, None) is None
        assert G.few_beta(c, torch.ones(3), shape, None) is None
        assert G.few_beta(torch.ones(3), c, shape, None) is None
    assert G.few_dirichlet(torch.ones(65), torch.Size([65]), None) is None  # too many
    assert G.few_dirichlet(torch.ones(3, dtype=torch.float16), shape, None) is None
    # rsample keeps the implicit gradient on the few path
    c = torch.tensor([0.05, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    x = D.Dirichlet(c).rsample(generator=torch.Generator().manual_seed(8))
    (g,) = torch.autograd.grad(x[2], c)
    assert bool(torch.isfinite(g).all()) and float(g[2]) > 0
    a = torch.tensor([0.05, 2.0], requires_grad=True)
    b = torch.tensor([0.3, 0.02], requires_grad=True)
    x = D.Beta(a, b).rsample(generator=torch.Generator().manual_seed(9))
    ga, gb = torch.autograd.grad(x.sum(), (a, b))
    assert bool(torch.isfinite(ga).all() and torch.isfinite(gb).all())
    assert bool((ga >= 0).all() and (gb <= 0).all())


def test_one_category_is_one():
    x = D.Dirichlet(torch.tensor([[0.01], [3.0]])).sample((5,))
    assert bool((x == 1).all())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    ("mode", "boost"), [("log", True), ("value", True), ("value", False), ("uniform", False)]
)
def test_kernel_finish_of_the_last_rejected_entries_follows_the_law(mode, boost, dtype):
    # the entries still rejected after the vectorised rounds (at most 1024) come from torch's
    # kernel: log G (boosted where a < 1, with log U), G, or G and an independent log U
    from aleatorch._samplers import marsaglia_tsang as mt
    from tests.test_speed_gamma_sampler import _cdf_at_log, _ks_rounded

    values = [1e-3, 0.05, 0.7, 3.0] if mode != "uniform" else [1.0, 1.7, 30.0]
    n = 60_000
    a = torch.tensor(values, dtype=dtype).repeat(n)
    out, log_u = mt._kernel_finish(a, torch.Generator().manual_seed(46), mode, boost)
    if mode == "value":
        out = out.clamp(min=torch.finfo(dtype).tiny)  # (as _eager returns them)
    assert out.dtype == dtype and out.shape == a.shape
    for i, v in enumerate(values):
        x = out[i :: len(values)]
        if mode == "log":
            y = np.sort(x.double().numpy())
            ks = stats.kstest(y, lambda t, v=v: _cdf_at_log(v, t)).statistic
        else:
            ks = _ks_rounded(x, v)
        assert ks < KS_CRIT / math.sqrt(n), (v, ks)
    if mode == "value":
        assert log_u is None
    else:  # log U uniform (log mode: the boost's own, for the gradient)
        u = -torch.expm1(log_u.double()).numpy()
        assert stats.kstest(u, "uniform").statistic < KS_CRIT / math.sqrt(u.size)
    if mode == "uniform":  # ... and independent of the draw (a rank correlation near 0)
        rho = stats.spearmanr(u, out.double().numpy()).statistic
        assert abs(rho) < 5 / math.sqrt(u.size)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_tensor_path_normalizes_rows_of_tiny_gammas(dtype):
    # many entries (the tensor path, normalized column by column): rows whose gammas all
    # underflow, and a large concentration beside tiny ones
    for row in ([0.005, 0.01, 0.02], [1e-3, 0.5, 1e3]):
        n = 40_000
        c = torch.tensor(row, dtype=dtype).expand(n, 3)
        x = D.Dirichlet(c).sample(generator=torch.Generator().manual_seed(47))
        assert bool(torch.isfinite(x).all() and (x > 0).all())
        assert float((x.double().sum(-1) - 1).abs().max()) < 4 * torch.finfo(dtype).eps
        s = sum(row)
        for i, a in enumerate(row):
            ks = _ks_on_grid(x[:, i].double().numpy(), a, s - a, dtype)
            assert ks < KS_CRIT / math.sqrt(n), (row, i, ks)
