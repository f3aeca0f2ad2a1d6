"""log_prob, entropy, sample, rsample and rsample + backward on 1M-element parameters.

This measures the arithmetic and memory traffic of each formula. The distributions are built
once with validation on (so ``log_prob`` also checks its value, and may reuse what an earlier
call cached, e.g. torch's logits of a Bernoulli given by probs); ``construct+log_prob`` builds
them inside the timed call, as a training loop does; ``rsample + backward`` builds them inside
the timed call with validation off, since a new graph is needed each time.
Run: ``python benchmarks/bench_large.py [--quick] [-k NAME]``.
"""

from __future__ import annotations

import torch
import torch.distributions as T
from _harness import Case, available, parse_args, print_table, run_cases, setup

import aleatorch as D


def _params(n: int, n_cat: int) -> dict[str, dict[str, torch.Tensor]]:
    """Keyword parameters per family, about ``n`` entries each."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g)

    low = torch.randn(n, generator=g)
    return {
        "Normal": {"loc": torch.randn(n, generator=g), "scale": rand(n) + 0.5},
        "Bernoulli": {"probs": rand(n) * 0.8 + 0.1},
        "Beta": {"concentration1": rand(n) + 0.5, "concentration0": rand(n) + 0.5},
        "Gamma": {"concentration": rand(n) + 0.5, "rate": rand(n) + 0.5},
        "Poisson": {"rate": rand(n) * 10 + 0.1},
        "Exponential": {"rate": rand(n) + 0.5},
        "Uniform": {"low": low, "high": low + rand(n) + 0.5},
        "Laplace": {"loc": torch.randn(n, generator=g), "scale": rand(n) + 0.5},
        "Categorical": {"probs": rand(n_cat, 100) + 0.01},
        "Dirichlet": {"concentration": rand(n // 4, 4) + 0.5},
    }


def _label(family: str, params: dict[str, torch.Tensor]) -> str:
    shape = next(iter(params.values())).shape
    return f"{family} {'x'.join(str(s) for s in shape)}"


def _rsample_backward(cls: type, params: dict[str, torch.Tensor]) -> None:
    leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
    cls(**leaves, validate_args=False).rsample().sum().backward()


def cases(n: int, n_cat: int) -> list[Case]:
    out = []
    for family, params in _params(n, n_cat).items():
        if not available(D, family):
            print(f"(aleatorch has no {family} yet: left out)")
            continue
        ours_cls, theirs_cls = getattr(D, family), getattr(T, family)
        ours = ours_cls(**params, validate_args=True)
        theirs = theirs_cls(**params, validate_args=True)
        value = theirs.sample()
        label = _label(family, params)
        out += [
            Case(
                f"{label} log_prob",
                lambda d=ours, v=value: d.log_prob(v),
                lambda d=theirs, v=value: d.log_prob(v),
            ),
            # A training loop builds a new distribution each step: nothing is cached then.
            Case(
                f"{label} construct+log_prob",
                lambda c=ours_cls, p=params, v=value: c(**p, validate_args=True).log_prob(v),
                lambda c=theirs_cls, p=params, v=value: c(**p, validate_args=True).log_prob(v),
            ),
            Case(f"{label} entropy", ours.entropy, theirs.entropy),
            Case(f"{label} sample", ours.sample, theirs.sample, check="shape"),
        ]
        if not (ours.has_rsample and theirs.has_rsample):
            continue
        out.append(Case(f"{label} rsample", ours.rsample, theirs.rsample, check="shape"))
        out.append(
            Case(
                f"{label} rsample+backward",
                lambda c=ours_cls, p=params: _rsample_backward(c, p),
                lambda c=theirs_cls, p=params: _rsample_backward(c, p),
                check=None,
            )
        )
    return out


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    setup()
    n, n_cat = (10_000, 1_000) if opts.quick else (1_000_000, 100_000)
    repeats = opts.repeats or (1 if opts.quick else 7)
    rows = run_cases(
        cases(n, n_cat),
        repeats=repeats,
        target_s=0.0 if opts.quick else 0.05,
        name_filter=opts.filter,
    )
    print_table(f"large tensors: {n} entries (Categorical {n_cat} x 100)", rows, quick=opts.quick)


if __name__ == "__main__":
    main()
