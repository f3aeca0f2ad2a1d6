"""The paths of the law-table draws (``aleatorch._samplers.counts.LawTables.draw``): one
random 32-bit word ``s`` per draw, compared with the cell's threshold word; a tie, or a cell
with several cdf boundaries, searched exactly with a float64 uniform ``W``, the draw's
uniform being ``U = (s + W) / 2^32``.

Draw by draw against inversion of the same words (scipy's cdf), every draw forced through the
tie path against inversion of ``(s + W) / 2^32``, and chi-square tests per law across the
layouts of the law index (periodic along the trailing dims, or not; blocks not a multiple of
the pattern; several blocks), in float32 and float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from count_chi_square import chi_square_p
from scipy import stats

import aleatorch as D
from aleatorch._samplers import counts


def _inversion(u: np.ndarray, law) -> np.ndarray:
    """The smallest ``k`` with ``u <= F(k)``, by bisection on scipy's cdf."""
    lo = np.zeros(u.shape)
    hi = np.full(u.shape, law.ppf(1 - 1e-16) + 10.0)
    while np.any(hi - lo > 0):
        mid = np.floor((lo + hi) / 2)
        below = u <= law.cdf(mid)
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid + 1)
    return lo


def _value(x: float, dtype: torch.dtype) -> float:
    return float(torch.tensor(x, dtype=dtype))


def _poisson(dtype):
    rates = [0.01, 3.0, 40.0, 1000.0]
    d = D.Poisson(torch.tensor(rates, dtype=dtype))
    return d, [stats.poisson(_value(r, dtype)) for r in rates]


def _binomial(dtype):
    n, p = [20.0, 1000.0], [0.3, 0.999]
    d = D.Binomial(torch.tensor(n, dtype=dtype), torch.tensor(p, dtype=dtype))
    return d, [stats.binom(int(a), _value(b, dtype)) for a, b in zip(n, p)]


def _negative_binomial(dtype):
    r, p = [2.5, 1.0], [0.5, 0.99]
    d = D.NegativeBinomial(torch.tensor(r, dtype=dtype), torch.tensor(p, dtype=dtype))
    return d, [stats.nbinom(a, 1 - _value(b, dtype)) for a, b in zip(r, p)]


LAWS = [_poisson, _binomial, _negative_binomial]


def _laws(case: int, dtype: torch.dtype):
    return LAWS[case](dtype)


@pytest.mark.parametrize("case", range(len(LAWS)))
def test_draws_invert_the_same_words(case):
    """Draw by draw the inverse cdf of ``(s + 1/2) / 2^32``, ``s`` the words the sampler
    consumed (one block: the words of one ``random_``): at most a few disagreements (a cdf
    boundary within ``2^-32`` of the word, or the cdf's rounding)."""
    d, laws = _laws(case, torch.float64)
    draws = counts._DRAW_BLOCK // len(laws)  # one block
    count = draws * len(laws)
    assert count % 2 == 0 and count <= counts._DRAW_BLOCK and count >= d._law_tables()[0].worth
    x = d.sample((draws,), generator=torch.Generator().manual_seed(5)).numpy()
    words = torch.empty(count // 2, dtype=torch.int64)
    words.random_(-(2**63), None, generator=torch.Generator().manual_seed(5))
    s = words.view(torch.int32).double().numpy().reshape(draws, len(laws)) + 2.0**31
    u = (s + 0.5) / 2.0**32
    for j, law in enumerate(laws):
        expected = _inversion(u[:, j], law)
        assert np.count_nonzero(x[:, j] != expected) <= 2, j


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", range(len(LAWS)))
def test_ties_are_searched_exactly(monkeypatch, case, dtype):
    """Every word set to its cell's threshold word (a tie: the word alone cannot decide):
    each draw is the inverse cdf of ``(s + W) / 2^32``, ``W`` the float64 uniforms drawn
    after the words, within the cdf's rounding."""
    d, laws = _laws(case, dtype)
    tables, law = d._law_tables()
    draws = 20_000
    count = draws * len(laws)
    rng = np.random.default_rng(11)
    local = rng.integers(0, tables.cells, size=count)
    index = local + tables.cells * np.tile(np.arange(len(laws)), draws)
    tie = tables.cut.numpy()[index]  # signed words s - 2^31 at the thresholds

    def fill(words, generator):
        flat = words.view(torch.int32)
        flat.copy_(torch.from_numpy(np.resize(tie, flat.numel()).astype(np.int32)))
        return words

    monkeypatch.setattr(counts, "_random_words", fill)
    x = tables.draw(torch.Size([draws, len(laws)]), law, torch.Generator().manual_seed(3))
    assert x.dtype == dtype
    w = torch.rand(count, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    u = ((tie.astype(np.float64) + 2.0**31 + w.numpy()) / 2.0**32).reshape(draws, len(laws))
    x = x.double().numpy()
    for j, scipy_law in enumerate(laws):
        expected = _inversion(u[:, j], scipy_law)
        assert np.count_nonzero(x[:, j] != expected) <= 2, j
    # the tie path took both answers of some cells (W decided)
    lo = tables.lo.double().numpy()[index].reshape(draws, len(laws))
    finite = np.isfinite(lo)
    assert np.any(x[finite] == lo[finite]) and np.any(x[finite] == lo[finite] + 1)


RATES = [0.01, 0.7, 12.0, 250.0]


def _check(x: torch.Tensor, rates: torch.Tensor, dtype: torch.dtype) -> None:
    """Chi-square of each law's draws (the entries where ``rates`` holds it)."""
    assert x.dtype == dtype
    x, rates = x.double().numpy(), rates.expand(x.shape).double().numpy()
    for r in (_value(r, dtype) for r in RATES):
        mine = x[rates == r]
        assert mine.size >= 50_000
        assert chi_square_p(mine, stats.poisson(r), bins=100) > 1e-4, r


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_laws_along_the_trailing_dims_odd_period(dtype):
    """A period of 3 entries (blocks of an odd size: each wastes half a word) over several
    blocks, the last one partial."""
    rates = torch.tensor(RATES[:3], dtype=dtype)
    d = D.Poisson(rates.expand(4, 3).contiguous())
    x = d.sample((60_001,), generator=torch.Generator().manual_seed(21))
    assert x.shape == (60_001, 4, 3) and x.numel() > 2 * counts._DRAW_BLOCK
    x = x.double().numpy()
    for j, r in enumerate(RATES[:3]):
        law = stats.poisson(_value(r, dtype))
        assert chi_square_p(x[..., j].reshape(-1), law, bins=100) > 1e-4, r


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_laws_along_the_leading_dim(dtype):
    """Laws along the first dim (no short period: every entry's law offset), over several
    blocks."""
    rates = torch.tensor(RATES, dtype=dtype).repeat_interleave(16)[:, None]
    d = D.Poisson(rates.expand(64, 5000).contiguous())
    x = d.sample(generator=torch.Generator().manual_seed(22))
    assert x.numel() > counts._DRAW_BLOCK
    _check(x, rates, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_laws_along_a_middle_dim_with_a_sample_shape(dtype):
    rates = torch.tensor(RATES, dtype=dtype)[:, None].expand(4, 7).contiguous()
    d = D.Poisson(rates)
    x = d.sample((12_000,), generator=torch.Generator().manual_seed(23))
    assert x.shape == (12_000, 4, 7) and x.numel() > counts._DRAW_BLOCK
    _check(x, rates, dtype)


def test_single_law_over_several_blocks_and_reproducible():
    d = D.Poisson(torch.full((300_001,), 4.5))
    a = d.sample(generator=torch.Generator().manual_seed(8))
    b = d.sample(generator=torch.Generator().manual_seed(8))
    c = d.sample(generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert chi_square_p(a.double().numpy(), stats.poisson(4.5), bins=100) > 1e-4


@pytest.mark.parametrize("size", [5, 511, 512, 2048, 2050, 70_000])
def test_nan_positions(size):
    g = torch.Generator().manual_seed(size)
    x = torch.rand(size, generator=g)
    assert counts._nan_positions(x) is None
    x[torch.randint(0, size, (max(1, size // 500),), generator=g)] = float("nan")
    assert torch.equal(counts._nan_positions(x), x.isnan().nonzero().squeeze(1))
    x[-1] = float("nan")  # (in the tail past the last whole row, for most sizes)
    assert torch.equal(counts._nan_positions(x), x.isnan().nonzero().squeeze(1))


@pytest.mark.parametrize("shape", [(5,), (1, 5), (3, 1)])
def test_small_binomial_sample_shapes(shape):
    """Few draws (torch's kernel): the batch shape with and without a sample shape."""
    n = torch.tensor(20.0).expand(shape)
    p = torch.tensor([0.0, 0.1, 0.5, 0.99, 1.0])[: shape[-1]].expand(shape)
    d = D.Binomial(n, p)
    x = d.sample()
    assert x.shape == shape and ((x >= 0) & (x <= 20)).all()
    y = d.sample((2,))
    assert y.shape == (2, *shape)
    if shape[-1] == 5:
        assert (x[..., 0] == 0).all() and (x[..., 4] == 20).all()
    q = D.Binomial(
        torch.tensor([[3.0], [float("nan")]]), torch.tensor([0.5, 0.5]), validate_args=False
    )
    assert q.sample().isnan()[1].all() and not q.sample().isnan()[0].any()


@pytest.mark.parametrize("case", range(len(LAWS)))
def test_threshold_words(case):
    """Each cell's threshold word ``t`` (less ``2^31``): in the cell, and the last word at
    or below ``2^32 F(g)`` (capped to the cell's last word), ``g`` the cell's lower count."""
    d, laws = _laws(case, torch.float64)
    tables, _ = d._law_tables()
    shift = 32 - (tables.cells.bit_length() - 1)
    cells = tables.cells
    t = tables.cut.double().numpy() + 2.0**31
    lo = tables.lo.numpy()
    for index in range(len(laws)):
        local = np.arange(cells)
        row = slice(index * cells, (index + 1) * cells)
        assert np.array_equal(np.floor(t[row] / 2.0**shift), local)
        finite = np.isfinite(lo[row])
        g = (lo[row][finite] - tables.first[index].item()).astype(np.int64)
        boundary = tables.scaled[index].numpy()[g] * 2.0**shift  # 2^32 F(g)
        last = (local[finite] + 1) * 2.0**shift - 1
        words = t[row][finite]
        assert np.all(words <= boundary)
        assert np.all((words + 1 > boundary) | (words == last))
        assert np.all((words == last) <= (boundary >= last))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_many_wide_laws_with_few_cells_each(dtype):
    """64 wide laws: the cells per law capped near twice the grid, so ~1% of the draws land
    in cells with several boundaries (searched apart); chi-square on eight of them."""
    rates = torch.linspace(1000.0, 4000.0, 64, dtype=dtype)
    d = D.Poisson(rates)
    tables, _ = d._law_tables()
    assert tables.cells < 4 * (tables.scaled.shape[1])  # few cells per grid point
    x = d.sample((100_000,), generator=torch.Generator().manual_seed(31)).double().numpy()
    for j in range(0, 64, 9):
        law = stats.poisson(float(rates[j]))
        assert chi_square_p(x[:, j], law, bins=100) > 1e-4, j
