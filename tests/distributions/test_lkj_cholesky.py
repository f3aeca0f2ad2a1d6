"""LKJCholesky's sampler against the law it should have.

The conformance suite cannot check this family's samples by moments (it has no mean or
variance), so: every off-diagonal correlation C_ij of an LKJ(eta) matrix in dimension d has
(C_ij + 1) / 2 ~ Beta(b, b) with b = eta - 1 + d / 2 (Lewandowski, Kurowicka & Joe 2009).
torch 2.13's onion sampler draws row i's radius from Beta(i - 1/2, .) instead of
Beta(i / 2, .), so its correlations beyond the first row are too wide for d >= 3; ours must
match the marginal for every pair.
"""

import pytest
import torch
from scipy import stats

import aleatorch as D


@pytest.mark.parametrize(("dim", "eta"), [(2, 1.0), (3, 1.0), (4, 0.5), (5, 3.0)])
def test_every_correlation_has_the_lkj_marginal(dim, eta):
    d = D.LKJCholesky(dim, torch.tensor(eta, dtype=torch.float64))
    n = 20000
    L = d.sample((n,), generator=torch.Generator().manual_seed(3))
    C = L @ L.mT
    b = eta - 1 + dim / 2
    marginal = stats.beta(b, b)
    for i in range(1, dim):
        for j in range(i):
            r = (C[:, i, j].numpy() + 1) / 2
            p = stats.kstest(r, marginal.cdf).pvalue
            # 10 tests at most per case: a false alarm below 1e-5 overall.
            assert p > 1e-6, (i, j, p)


def test_log_prob_matches_torch_normalization():
    eta = torch.tensor([0.5, 1.0, 2.5], dtype=torch.float64)
    ours = D.LKJCholesky(4, eta)
    theirs = torch.distributions.LKJCholesky(4, eta)
    x = ours.sample((7,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ours.log_prob(x), theirs.log_prob(x), rtol=1e-12, atol=1e-12)


def test_density_integrates_to_one_in_dimension_two():
    # d = 2: L = [[1, 0], [r, sqrt(1 - r^2)]], one free coordinate r in (-1, 1).
    r = torch.linspace(-1, 1, 200001, dtype=torch.float64)[1:-1]
    L = torch.zeros(r.shape + (2, 2), dtype=torch.float64)
    L[:, 0, 0], L[:, 1, 0], L[:, 1, 1] = 1.0, r, (1 - r * r).sqrt()
    for eta in [1.0, 2.0, 5.0]:
        p = D.LKJCholesky(2, eta).log_prob(L).exp()
        total = torch.trapezoid(p, r)
        torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64), rtol=1e-4, atol=0)
