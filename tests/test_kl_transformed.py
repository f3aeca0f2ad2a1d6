"""KL divergences of the transformed families at specific values (edges, overflow).

The generic checks of every pair (Monte Carlo, torch, gradients, nonnegativity) run in
``test_kl.py`` over the examples of ``kl_examples_transformed.py``.
"""

from __future__ import annotations

import math

import torch
import torch.distributions as TD

import aleatorch

F64 = torch.float64


# ------------------------------------------------------------------ specific values


def test_pareto_pareto_on_the_edge_and_near_equal():
    # s_p = s_q is inside the support (closed at the scale); near-equal alphas keep their
    # relative accuracy (r - 1 - log r from the exact difference of the alphas).
    a = torch.tensor([3.0, 3.0], dtype=F64)
    b = torch.tensor([4.0, 3.0 * (1 + 1e-7)], dtype=F64)
    kl = aleatorch.kl_divergence(aleatorch.Pareto(1.0, a), aleatorch.Pareto(1.0, b))
    r = b / a
    torch.testing.assert_close(kl[0], r[0] - 1 - r[0].log())
    torch.testing.assert_close(kl[1], torch.tensor(0.5e-14, dtype=F64), rtol=1e-6, atol=0)
    # float32 scales 1 and 1.0001: KL ~ 1e-8 keeps about 3 digits (the rounding of the
    # scales' ratio is all that is lost).
    p32, q32 = torch.tensor(1.0), torch.tensor(1.0001)
    kl32 = aleatorch.kl_divergence(aleatorch.HalfNormal(p32), aleatorch.HalfNormal(q32))
    assert kl32.dtype == torch.float32
    d = (p32.double() / q32.double()) ** 2 - 1
    expected = 0.5 * (d - torch.log1p(d))
    torch.testing.assert_close(kl32.double(), expected, rtol=5e-3, atol=0)


def test_kl_to_gumbel_stays_finite_where_torchs_terms_overflow():
    # exp(mu / beta) = exp(800) overflows and (1 + 1/(r beta))^-a underflows; their product,
    # exp(800 - 100 log 2836), is about 7e-45 and is kept in log space. torch gives NaN.
    a, r, mu = 100.0, 1 / 2835.0, 800.0
    p = aleatorch.Gamma(torch.tensor([a], dtype=F64), torch.tensor([r], dtype=F64))
    q = aleatorch.Gumbel(torch.tensor([mu], dtype=F64), torch.tensor([1.0], dtype=F64))
    ours = aleatorch.kl_divergence(p, q)
    entropy = (
        a
        - math.log(r)
        + math.lgamma(a)
        + (1 - a) * torch.special.digamma(torch.tensor(a, dtype=F64)).item()
    )
    expected = (a / r - mu) + math.exp(mu - a * math.log1p(1 / r)) - entropy
    torch.testing.assert_close(ours, torch.tensor([expected], dtype=F64), rtol=1e-12, atol=0)
    theirs = TD.kl_divergence(TD.Gamma(p.concentration, p.rate), TD.Gumbel(q.loc, q.scale))
    assert not theirs.isfinite().any()
