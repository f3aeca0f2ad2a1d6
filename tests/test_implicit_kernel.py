"""The cheaper forms inside the implicit Beta/Dirichlet gradient kernel give the same numbers.

``aleatorch._samplers.implicit`` picks the tail with a ``lerp`` on a 0/1 weight instead of
``where``, takes log x from the smaller of x and 1 - x the same way, writes the eager Lentz
terms over the inputs they replace, and writes out the exclusive sums of a short last dim.
Each is checked against the plain form it replaces (bitwise where the arithmetic is the
same) and, for the gradients, against the 40-digit mpmath oracle on both sides of the switch
point.
"""

from __future__ import annotations

import mpmath
import pytest
import torch
from mp_beta_gradients import beta_sample_gradients as mp_gradients

from aleatorch._samplers import implicit

F64 = torch.float64


def _scan_exclusive_sum(t):
    # the prefix + suffix scans, written plainly
    zero = torch.zeros_like(t[..., :1])
    before = torch.cat([zero, t[..., :-1].cumsum(-1)], -1)
    after = torch.cat([t[..., 1:].flip(-1).cumsum(-1).flip(-1), zero], -1)
    return before + after


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_exclusive_sum_equals_the_scans(k):
    g = torch.Generator().manual_seed(k)
    t = torch.rand(50, 3, k, dtype=F64, generator=g) * 10.0 ** torch.randint(-8, 8, (50, 3, k))
    got = implicit._exclusive_sum(t)
    assert torch.equal(got, _scan_exclusive_sum(t))
    # no cancellation: each entry is the sum of the others, not a total minus the entry
    t = torch.tensor([[1.0, 1e-20, 3e-20][:k] + [1e-20] * max(0, k - 3)], dtype=F64)
    if k > 1:
        assert implicit._exclusive_sum(t)[0, 0].item() == pytest.approx(t[0, 1:].sum().item())


def test_choose_is_an_exact_where():
    g = torch.Generator().manual_seed(0)
    yes = torch.randn(10000, dtype=F64, generator=g) * 1e30
    no = torch.randn(10000, dtype=F64, generator=g) * 1e-30
    mask = torch.rand(10000, generator=g) < 0.5
    assert torch.equal(implicit._choose(mask.to(F64), yes, no), torch.where(mask, yes, no))


def _mp_log1p(t):
    return torch.tensor([float(mpmath.log1p(mpmath.mpf(float(v)))) for v in t], dtype=F64)


def test_log1p_within_one_eps_of_mpmath():
    g = torch.Generator().manual_seed(0)
    t = torch.cat(
        [
            -torch.rand(3000, dtype=F64, generator=g),  # log1p(-x), down to -1
            -(torch.rand(1000, dtype=F64, generator=g) ** 20),  # near 0 from below
            10 ** (torch.rand(3000, dtype=F64, generator=g) * 40 - 36),  # 1e-36 .. 1e4
            torch.tensor([0.0, 1e-300, -1e-300, 2.0**-53, -(2.0**-54), 1.0, 3.0], dtype=F64),
        ]
    )
    want = _mp_log1p(t)
    got = implicit._log1p(t)
    assert ((got - want).abs() <= torch.finfo(F64).eps * want.abs()).all()


def test_log_of_larger_takes_the_smaller_argument():
    small = torch.tensor([0.0, 1e-300, 1e-17, 0.3, 0.4999999999, 0.5, 0.7, 1.0 - 1e-16], dtype=F64)
    large = torch.tensor([1.0, 1.0, 1.0, 0.7, 0.5000000001, 0.5, 0.3, 1e-16], dtype=F64)
    got = implicit._log_of_larger(small, large)
    # log1p(-small) below 1/2, else log(large) bit for bit
    below = small < 0.5
    want = _mp_log1p(-small)
    assert ((got - want).abs() <= torch.finfo(F64).eps * want.abs())[below].all()
    assert torch.equal(got[~below], torch.log(large[~below]))
    # the branch not taken stays finite when small = 1 (its log1p would be -inf)
    one = torch.tensor([1.0], dtype=F64)
    assert torch.isfinite(implicit._log_of_larger(one, torch.tensor([1e-300], dtype=F64))).all()


@pytest.mark.parametrize("a, b", [(2.0, 3.0), (0.05, 20.5), (30.0, 40.0), (7.0, 2.05)])
@pytest.mark.parametrize("side", [1 - 1e-9, 1 + 1e-9, 0.2, 3.0])
def test_both_tails_match_mpmath(a, b, side):
    x = min((a + 1) / (a + b + 2) * side, 1 - 1e-6)
    want = mp_gradients(a, b, x)
    at = [torch.tensor([v], dtype=F64) for v in (a, b, x)]
    d_a, d_b = implicit.beta_implicit_gradients(*at)
    first, _ = implicit._scaled_gradients(*at, 1 - at[2], F64, first_only=True)
    for got, ref in ((d_a, want[0]), (d_b, want[1]), (x * (1 - x) * first, want[0])):
        assert abs(got.item() / ref - 1) < 1e-12, (got.item(), ref)


def test_eager_lentz_writes_the_same_numbers_as_the_traced_one():
    # The eager terms overwrite C, D and the gammas in place; the traced ones do not.
    g = torch.Generator().manual_seed(1)
    n = 4000
    p = 10.0 ** torch.empty(n, dtype=F64).uniform_(-3, 3, generator=g)
    q = 10.0 ** torch.empty(n, dtype=F64).uniform_(-3, 3, generator=g)
    u = torch.rand(n, dtype=F64, generator=g) * (p + 1) / (p + q + 2)
    base_p, base_q = torch.randn(n, dtype=F64, generator=g), torch.randn(n, dtype=F64, generator=g)
    for wrt in ("p", "q", "pq"):
        states = [
            implicit._Lentz(p, q, u, base_p, base_q, wrt=wrt, eager=eager) for eager in (0, 1)
        ]
        for _ in range(12):
            for state in states:
                state.pair()
        for got, want in zip(states[1].results(), states[0].results()):
            assert (got is None) == (want is None)
            if got is not None:
                assert torch.equal(got, want)
