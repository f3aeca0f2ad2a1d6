"""KL examples of the continuous parity families (Cauchy; StudentT, Chi2 and FisherSnedecor
have no pair of their own in torch 2.13: Chi2 uses Gamma's by inheritance), merged into the
generic KL suite of ``test_kl.py``."""

import torch

import aleatorch

F64 = torch.float64

FAMILIES = ["Cauchy"]

EXAMPLES = {
    ("Cauchy", "Cauchy"): lambda D, t: (
        D.Cauchy(t([0.3, -1.0, 2.0, 0.0]), t([0.8, 1.5, 0.5, 1.0])),
        # batch (2, 1) against (4,): far and near locations, narrow and wide scales
        D.Cauchy(t([[0.0], [5.0]]), t([[1.0], [0.2]])),
    ),
}

ALWAYS_INFINITE = set()


def _pos(g, shape):
    return torch.randn(shape, dtype=F64, generator=g).exp()


def _real(g, shape):
    return 2 * torch.randn(shape, dtype=F64, generator=g)


RANDOM = {
    "Cauchy": lambda g, s: aleatorch.Cauchy(_real(g, s), _pos(g, s)),
}
