"""KL examples of LowRankMultivariateNormal against itself and MultivariateNormal, merged into
the generic KL suite of ``test_kl.py``."""

import torch

import aleatorch

F64 = torch.float64

FAMILIES = ["LowRankMultivariateNormal", "MultivariateNormal"]

_TRIL = [
    [[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.5, 0.2, 0.6]],
    [[0.7, 0.0, 0.0], [-0.4, 1.1, 0.0], [0.2, 0.3, 1.5]],
]


def _lowrank_p(D, t):
    # batch (2,), rank 2 of 3
    return D.LowRankMultivariateNormal(
        t([[0.3, -1.0, 2.0], [0.0, 0.5, -0.5]]),
        t([[[1.0, 0.2], [0.5, -0.3], [-0.7, 0.4]], [[0.2, 0.1], [0.0, 0.9], [0.3, -0.6]]]),
        t([[0.5, 1.0, 2.0], [1.3, 0.4, 0.8]]),
    )


def _lowrank_q(D, t):
    # unbatched, rank 1: broadcast against p's batch (2,)
    return D.LowRankMultivariateNormal(
        t([0.1, -0.5, 1.5]), t([[0.8], [-0.4], [0.6]]), t([1.2, 0.7, 1.6])
    )


EXAMPLES = {
    ("LowRankMultivariateNormal", "LowRankMultivariateNormal"): lambda D, t: (
        _lowrank_p(D, t),
        _lowrank_q(D, t),
    ),
    ("MultivariateNormal", "LowRankMultivariateNormal"): lambda D, t: (
        D.MultivariateNormal(t([[0.3, -1.0, 2.0], [0.0, 0.5, -0.5]]), scale_tril=t(_TRIL)),
        _lowrank_q(D, t),
    ),
    ("LowRankMultivariateNormal", "MultivariateNormal"): lambda D, t: (
        _lowrank_p(D, t),
        D.MultivariateNormal(t([0.2, -0.8, 1.0]), scale_tril=t(_TRIL[0])),
    ),
}


def _random_lowrank(g, s):
    loc = 2 * torch.randn(s + (3,), dtype=F64, generator=g)
    factor = torch.randn(s + (3, 2), dtype=F64, generator=g)
    diag = torch.randn(s + (3,), dtype=F64, generator=g).exp()
    return aleatorch.LowRankMultivariateNormal(loc, factor, diag)


RANDOM = {"LowRankMultivariateNormal": _random_lowrank}

ALWAYS_INFINITE: set[tuple[str, str]] = set()
