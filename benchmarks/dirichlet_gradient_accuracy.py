"""How far the Dirichlet rsample gradients are from the exact implicit ones, ours and torch's.

The pathwise gradient of a Dirichlet sample in its own concentration is the implicit one of
its Beta marginal, ``dx_i/dalpha_i = -d_a I_x(a, b) / f(x; a, b)`` with ``a = alpha_i`` and
``b = sum_j alpha_j - alpha_i``. torch.distributions computes it with ``_dirichlet_grad``, an
approximation; aleatorch with a continued fraction (``aleatorch._samplers.implicit``). This
script draws samples at the benchmark's concentrations (those of ``bench_large.py``'s
Dirichlet case), evaluates both in float64, and reports the relative error of each against
mpmath (40 digits) on a random subset, and the spread of torch's against ours on all draws.

    .venv/bin/python benchmarks/dirichlet_gradient_accuracy.py [--draws N] [--checked M]
"""

from __future__ import annotations

import argparse

import mpmath as mp
import torch

import aleatorch as D
from aleatorch._samplers.implicit import _exclusive_sum, beta_implicit_gradients

CONCENTRATIONS = [[0.05, 0.05, 0.05], [0.5, 1.0, 20.0], [0.05, 2.0, 7.0]]


def mpmath_gradient(a: float, b: float, x: float, y: float) -> float:
    """-d_a I_x(a, b) / f(x; a, b) at 40 digits, where the sample's ``1 - x`` is ``y`` (the sum
    of its other entries: near 1, ``x`` itself has rounded away the digits of ``1 - x``)."""
    a_, b_ = mp.mpf(a), mp.mpf(b)
    x_, y_ = (mp.mpf(x), 1 - mp.mpf(x)) if x <= y else (1 - mp.mpf(y), mp.mpf(y))
    d_incomplete = mp.diff(lambda t: mp.betainc(t, b_, 0, x_, regularized=True), a_)
    density = x_ ** (a_ - 1) * y_ ** (b_ - 1) / mp.beta(a_, b_)
    return float(-d_incomplete / density)


def quantiles(name: str, rel: torch.Tensor) -> None:
    qs = torch.tensor([0.5, 0.9, 0.99], dtype=rel.dtype)
    q50, q90, q99 = rel.quantile(qs).tolist()
    share = (rel > 1e-2).double().mean().item()
    print(
        f"{name:<24} median {q50:9.2e}  90% {q90:9.2e}  99% {q99:9.2e}  max {rel.max().item():9.2e}"
        f"  share > 1%: {share:6.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30_000, help="Dirichlet draws per row")
    parser.add_argument("--checked", type=int, default=60, help="entries checked with mpmath")
    args = parser.parse_args()
    mp.mp.dps = 40
    torch.manual_seed(0)
    alpha = torch.tensor(CONCENTRATIONS, dtype=torch.float64).repeat(args.draws, 1)
    x = D.Dirichlet(alpha).sample()
    total = alpha.sum(-1, keepdim=True).expand_as(alpha)
    theirs = torch._dirichlet_grad(x, alpha, total).flatten()
    ours, _ = beta_implicit_gradients(alpha, _exclusive_sum(alpha), x, _exclusive_sum(x))
    ours = ours.flatten()
    print(f"{x.numel()} entries, concentrations {CONCENTRATIONS}, float64")
    scale = ours.abs().clamp_min(1e-300)
    quantiles("torch vs aleatorch", (theirs - ours).abs() / scale)
    pick = torch.randperm(ours.numel())[: args.checked]
    rest = _exclusive_sum(x)
    a, b, xs, ys = (t.flatten()[pick].tolist() for t in (alpha, _exclusive_sum(alpha), x, rest))
    exact = torch.tensor([mpmath_gradient(*e) for e in zip(a, b, xs, ys)], dtype=torch.float64)
    finite = exact != 0  # x rounded to 1 in float64: the exact gradient underflows to 0
    denom = exact[finite].abs()
    quantiles(
        f"aleatorch vs mpmath ({int(finite.sum())})",
        (ours[pick][finite] - exact[finite]).abs() / denom,
    )
    quantiles(
        f"torch vs mpmath ({int(finite.sum())})",
        (theirs[pick][finite] - exact[finite]).abs() / denom,
    )


if __name__ == "__main__":
    main()
