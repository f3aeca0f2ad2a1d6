"""Construct + log_prob (validation on and off), construct + sample, construct + rsample,
on small tensors, every registry family.

The parameters are those of each registry Example (``tests/examples_*.py``: the parameter set
with the most entries, a few to a few dozen, as float32); the value is one sample. This
measures per-call overhead: what a training loop pays for each distribution it builds.
The sampling groups build the distribution with validation off (its cost is in the
``log_prob`` groups) and draw one sample of its batch shape (``sample()``, ``rsample()``);
``rsample`` only for the families that have it.
Run: ``python benchmarks/bench_small.py [--quick] [-k NAME] [--repeats N] [--device D]
[--json PATH]``.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median

import torch
from _harness import Case, parse_args, print_table, run_cases, save_json, setup
from _registry import Family, families, float64_pair


def _value(family: Family) -> torch.Tensor:
    """One sample (ours, or torch's when ours fails: the failure shows in the row)."""
    torch.manual_seed(0)
    try:
        return family.spec.build("ours", validate_args=False).sample()
    except Exception:
        return family.spec.build("torch", validate_args=False).sample()


def _builders(family: Family) -> tuple[Callable, Callable | None]:
    """Both constructors (``validate_args -> distribution``); torch's is None where torch
    has no such family, and raises where torch cannot build it (the row says so)."""
    ours = family.spec.builder("ours")
    try:
        theirs = family.spec.builder("torch")
    except LookupError:
        theirs = None
    except Exception as exc:  # noqa: BLE001  (a torch failure: shown in the row)

        def theirs(validate_args=None, exc=exc):
            raise exc

    return ours, theirs


def _sampling_cases(family: Family, ours_b: Callable, theirs_b: Callable | None) -> list[Case]:
    """Construct (validation off) + ``sample()``, and + ``rsample()`` where ours has it."""
    out = []
    try:
        has_rsample = ours_b(False).has_rsample
    except Exception:  # noqa: BLE001  (the sample row shows the failure)
        has_rsample = False
    for method in ("sample", "rsample") if has_rsample else ("sample",):

        def ours(b=ours_b, m=method):
            return getattr(b(False), m)()

        def theirs(b=theirs_b, m=method):
            return getattr(b(False), m)()

        out.append(
            Case(
                f"{family.label} {method}",
                ours,
                theirs if theirs_b is not None else None,
                check="shape",
                group=f"small {method}",
            )
        )
    return out


def cases() -> list[Case]:
    out = []
    for family in families():
        try:
            value = _value(family)
        except Exception:  # noqa: BLE001  (the rows show the failure)
            value = None
        ours_b, theirs_b = _builders(family)
        for validate in (True, False):
            on = "on" if validate else "off"

            def ours(b=ours_b, x=value, v=validate):
                return b(v).log_prob(x)

            def theirs(b=theirs_b, x=value, v=validate):
                return b(v).log_prob(x)

            out.append(
                Case(
                    f"{family.label} validate={on}",
                    ours,
                    theirs if theirs_b is not None else None,
                    group=f"small validate {on}",
                    reference=lambda s=family.spec, x=value: float64_pair(s, "log_prob", x),
                )
            )
        out += _sampling_cases(family, ours_b, theirs_b)
    return out


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0])
    setup(opts.device, opts.max_memory_gb)
    repeats = opts.repeats or (1 if opts.quick else 15)
    rows = run_cases(
        cases(), repeats=repeats, target_s=0.0 if opts.quick else 0.02, name_filter=opts.filter
    )
    title = "construct + log_prob, sample, rsample on the registry's small parameters"
    print_table(title, rows, quick=opts.quick)
    for group, words in (
        ("small validate on", "construct + log_prob with validation on"),
        ("small sample", "construct + sample"),
        ("small rsample", "construct + rsample"),
    ):
        speedups = [r.speedup for r in rows if r.group == group and r.speedup is not None]
        if speedups:
            print(f"median speedup, {words}: {median(speedups):.2f}x over {len(speedups)} families")
    if opts.json:
        save_json(opts.json, "bench_small.py", title, rows, quick=opts.quick)


if __name__ == "__main__":
    main()
