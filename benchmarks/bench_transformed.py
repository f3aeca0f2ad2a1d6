"""The families built on TransformedDistribution, and a tanh-squashed Normal (SAC's policy).

Per family: construct alone; construct + rsample + log_prob of that sample (a training step);
both on 10 entries (per-call overhead) and on 1M entries (arithmetic and memory traffic).
Sampling draws from one seeded generator per side, so both sides see the same draws.
Run: ``python benchmarks/bench_transformed.py [--quick] [-k NAME]``.
"""

from __future__ import annotations

import torch
import torch.distributions as T
from _harness import Case, available, parse_args, print_table, run_cases, save_json, setup

import aleatorch as D


def _params(n: int) -> dict[str, tuple[dict, dict]]:
    """Per case: aleatorch keyword args and the same for torch (a builder for the squash)."""
    g = torch.Generator(torch.get_default_device()).manual_seed(0)
    loc, scale = torch.randn(n, generator=g), torch.rand(n, generator=g) + 0.5
    return {
        "LogNormal": {"loc": loc, "scale": scale},
        "Gumbel": {"loc": loc, "scale": scale},
        "TanhNormal": {"loc": loc, "scale": scale},
    }


def _build(module, family: str, kwargs: dict, validate: bool):
    if family == "TanhNormal":
        base = module.Normal(kwargs["loc"], kwargs["scale"], validate_args=validate)
        return module.TransformedDistribution(
            base, [module.transforms.TanhTransform()], validate_args=validate
        )
    return getattr(module, family)(**kwargs, validate_args=validate)


def _step(module, family, kwargs, validate):
    d = _build(module, family, kwargs, validate)
    return d.log_prob(d.rsample())


def cases(sizes: tuple[int, ...]) -> list[Case]:
    out = []
    for n in sizes:
        for family, kwargs in _params(n).items():
            if family != "TanhNormal" and not available(D, family):
                print(f"(aleatorch has no {family} yet: left out)")
                continue
            for validate in (True, False) if n < 1000 else (False,):
                tag = f"{family} n={n} validate={'on' if validate else 'off'}"
                out.append(
                    Case(
                        f"{tag} construct",
                        lambda f=family, k=kwargs, v=validate: _build(D, f, k, v),
                        lambda f=family, k=kwargs, v=validate: _build(T, f, k, v),
                        check=None,
                    )
                )
                out.append(
                    Case(
                        f"{tag} construct+rsample+log_prob",
                        lambda f=family, k=kwargs, v=validate: _step(D, f, k, v),
                        lambda f=family, k=kwargs, v=validate: _step(T, f, k, v),
                        check="shape",
                    )
                )
    return out


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    setup(opts.device, opts.max_memory_gb)
    sizes = (10, 10_000) if opts.quick else (10, 1_000_000)
    repeats = opts.repeats or (1 if opts.quick else 9)
    rows = run_cases(
        cases(sizes),
        repeats=repeats,
        target_s=0.0 if opts.quick else 0.05,
        name_filter=opts.filter,
    )
    title = "TransformedDistribution families and a tanh-squashed Normal"
    for r in rows:
        r.group = "transformed (bench_transformed)"
    print_table(title, rows, quick=opts.quick)
    if opts.json:
        save_json(opts.json, "bench_transformed.py", title, rows, quick=opts.quick)


if __name__ == "__main__":
    main()
