"""Construct + log_prob on small tensors (10 entries), validation on and off.

This measures per-call overhead: what a training loop pays for each distribution it builds.
Run: ``python benchmarks/bench_small.py [--quick] [-k NAME]``.
"""

from __future__ import annotations

from statistics import median

import torch
import torch.distributions as T
from _harness import Case, available, parse_args, print_table, run_cases, setup

import aleatorch as D

N = 10


def _inputs() -> dict[str, tuple[tuple, dict, torch.Tensor]]:
    """Per family: constructor args, keyword args, and a valid value for log_prob."""
    g = torch.Generator().manual_seed(0)
    u = torch.rand(N, generator=g) * 0.8 + 0.1
    pos = torch.rand(N, generator=g) + 0.5
    real = torch.randn(N, generator=g)
    probs4 = torch.rand(N, 4, generator=g) + 0.1
    probs4 = probs4 / probs4.sum(-1, keepdim=True)
    conc3 = torch.rand(N, 3, generator=g) + 0.5
    simplex3 = conc3 / conc3.sum(-1, keepdim=True)
    counts = torch.randint(0, 5, (N,), generator=g).float()
    a = torch.randn(3, 3, generator=g)
    cov = a @ a.T + torch.eye(3)
    return {
        "Normal": ((real, pos), {}, real + 0.5),
        "Bernoulli": ((), {"probs": u}, (u > 0.5).float()),
        "Categorical": ((), {"probs": probs4}, torch.randint(0, 4, (N,), generator=g)),
        "OneHotCategorical": (
            (),
            {"probs": probs4},
            torch.nn.functional.one_hot(torch.randint(0, 4, (N,), generator=g), 4).float(),
        ),
        "Uniform": ((u - 1, u + 1), {}, u),
        "Exponential": ((pos,), {}, pos),
        "Laplace": ((real, pos), {}, real),
        "Gamma": ((pos, pos), {}, pos),
        "Beta": ((pos, pos + 0.5), {}, u),
        "Dirichlet": ((conc3,), {}, simplex3),
        "Poisson": ((pos * 3,), {}, counts),
        "Binomial": ((), {"total_count": torch.full((N,), 5.0), "probs": u}, counts),
        "MultivariateNormal": (
            (real[:, None].expand(N, 3),),
            {"covariance_matrix": cov},
            real[:, None] + conc3,
        ),
    }


def cases() -> list[Case]:
    out = []
    for family, (args, kwargs, value) in _inputs().items():
        if not available(D, family):
            print(f"(aleatorch has no {family} yet: left out)")
            continue
        ours_cls, theirs_cls = getattr(D, family), getattr(T, family)
        for validate in (True, False):
            label = f"{family} validate={'on' if validate else 'off'}"

            def ours(cls=ours_cls, args=args, kwargs=kwargs, value=value, v=validate):
                return cls(*args, **kwargs, validate_args=v).log_prob(value)

            def theirs(cls=theirs_cls, args=args, kwargs=kwargs, value=value, v=validate):
                return cls(*args, **kwargs, validate_args=v).log_prob(value)

            out.append(Case(label, ours, theirs))
    if available(D, "Independent"):
        args, _, value = _inputs()["Normal"]
        for validate in (True, False):
            out.append(
                Case(
                    f"Independent(Normal) validate={'on' if validate else 'off'}",
                    lambda v=validate: D.Independent(
                        D.Normal(*args, validate_args=v), 1, validate_args=v
                    ).log_prob(value),
                    lambda v=validate: T.Independent(
                        T.Normal(*args, validate_args=v), 1, validate_args=v
                    ).log_prob(value),
                )
            )
    return out


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    setup()
    repeats = opts.repeats or (1 if opts.quick else 15)
    rows = run_cases(
        cases(), repeats=repeats, target_s=0.002 if opts.quick else 0.02, name_filter=opts.filter
    )
    print_table(f"construct + log_prob, {N} entries", rows, quick=opts.quick)
    on = [r.speedup for r in rows if r.name.endswith("validate=on")]
    if on:
        print(f"median speedup with validation on: {median(on):.2f}x over {len(on)} families")


if __name__ == "__main__":
    main()
