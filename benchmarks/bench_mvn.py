"""MultivariateNormal, d = 64, 4096 points: construct from a covariance, log_prob, rsample.

Run: ``python benchmarks/bench_mvn.py [--quick] [-k NAME]``.
"""

from __future__ import annotations

import torch
import torch.distributions as T
from _harness import Case, available, parse_args, print_table, run_cases, save_json, setup

import aleatorch as D


def cases(dim: int, n: int) -> list[Case]:
    if not available(D, "MultivariateNormal"):
        print("(aleatorch has no MultivariateNormal yet: left out)")
        return []
    g = torch.Generator(torch.get_default_device()).manual_seed(0)
    a = torch.randn(dim, dim, generator=g)
    cov = a @ a.T / dim + torch.eye(dim)
    loc = torch.randn(dim, generator=g)
    points = torch.randn(n, dim, generator=g) + loc
    ours = D.MultivariateNormal(loc, covariance_matrix=cov)
    theirs = T.MultivariateNormal(loc, covariance_matrix=cov)

    def backward(cls: type) -> None:
        leaf_loc = loc.detach().requires_grad_()
        leaf_cov = cov.detach().requires_grad_()
        cls(leaf_loc, covariance_matrix=leaf_cov).rsample((n,)).sum().backward()

    return [
        Case(
            "construct (covariance_matrix)",
            lambda: D.MultivariateNormal(loc, covariance_matrix=cov),
            lambda: T.MultivariateNormal(loc, covariance_matrix=cov),
            check=None,
        ),
        Case(
            "construct + log_prob",
            lambda: D.MultivariateNormal(loc, covariance_matrix=cov).log_prob(points),
            lambda: T.MultivariateNormal(loc, covariance_matrix=cov).log_prob(points),
        ),
        Case(
            f"log_prob of {n} points",
            lambda: ours.log_prob(points),
            lambda: theirs.log_prob(points),
        ),
        Case(
            f"rsample(({n},))",
            lambda: ours.rsample((n,)),
            lambda: theirs.rsample((n,)),
            check="shape",
        ),
        Case(
            f"rsample(({n},)) + backward",
            lambda: backward(D.MultivariateNormal),
            lambda: backward(T.MultivariateNormal),
            check=None,
        ),
        Case("entropy", ours.entropy, theirs.entropy),
    ]


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    setup(opts.device, opts.max_memory_gb)
    dim, n = 64, (256 if opts.quick else 4096)
    repeats = opts.repeats or (1 if opts.quick else 11)
    rows = run_cases(
        cases(dim, n),
        repeats=repeats,
        target_s=0.0 if opts.quick else 0.05,
        name_filter=opts.filter,
    )
    title = f"MultivariateNormal d={dim}, {n} points"
    for r in rows:
        r.group = f"MultivariateNormal d={dim}"
    print_table(title, rows, quick=opts.quick)
    if opts.json:
        save_json(opts.json, "bench_mvn.py", title, rows, quick=opts.quick)


if __name__ == "__main__":
    main()
