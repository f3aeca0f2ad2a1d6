"""Where a sampler's time goes, beside its floor: the measurement behind each reason that
``_harness.KNOWN_ABOVE_FLOOR`` gives for a sampler above 3x its floor.

For each registry family (batched to ~1M entries, as ``bench_large.py``), the median CPU time
of ``sample()`` (or ``rsample()``) and of its floor (the uniforms and normals it needs at
least, ``_registry.FLOORS``), then three profiled calls split by aten op into:

- ``draws``: the random-number kernels (``uniform_``, ``normal_``, ``random_``, ...), what
  the floor is made of; ``draws / floor`` below 1 means fewer or cheaper draws than the floor;
- ``rejection``: finding and moving the entries a rejection round redraws (``nonzero``,
  ``index_select``, ``index_put_``, ``masked_*``, ``gather``, ``scatter``, ...);
- ``arithmetic``: every other op (the method's elementwise steps, reductions, copies), with
  its number of calls and its cost in units of one in-place elementwise pass over the
  sample (``x.mul_(c)``, timed here), so that ``passes`` reads "this much arithmetic".

A sampler within 3x of its floor needs ``draws + rejection + arithmetic <= 3 floor``; the
table shows which part keeps a family above. The times of profiled calls include the
profiler's own cost (a few microseconds per op), so the parts need not sum to the median.

Run: ``python benchmarks/sampler_profile.py [-k NAME] [--rsample] [--entries N]
[--repeats N] [--top K]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import torch
from _harness import setup
from _registry import batched, families, floor_description, floor_op

DRAW_OPS = frozenset(
    "aten::uniform_ aten::normal_ aten::random_ aten::exponential_ aten::bernoulli_ "
    "aten::geometric_ aten::cauchy_ aten::log_normal_ aten::multinomial aten::poisson "
    "aten::_standard_gamma aten::_sample_dirichlet aten::binomial".split()
)
REJECTION_OPS = frozenset(
    "aten::nonzero aten::index_select aten::index aten::index_put_ aten::index_copy_ "
    "aten::masked_select aten::masked_scatter_ aten::masked_fill_ aten::gather "
    "aten::scatter_ aten::scatter aten::take aten::put_ aten::argwhere".split()
)
# Ops that only wrap others (their self time is the dispatch alone) or allocate.
WRAPPERS = frozenset(
    "aten::rand aten::randn aten::empty aten::empty_like aten::empty_strided aten::to "
    "aten::_to_copy aten::view aten::reshape aten::expand aten::slice aten::select "
    "aten::as_strided aten::unsqueeze aten::squeeze aten::alias aten::detach "
    "aten::lift_fresh aten::resize_".split()
)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="filter", default="", help="families whose label has K")
    parser.add_argument("--rsample", action="store_true", help="profile rsample, not sample")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries per sample")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per side")
    parser.add_argument("--top", type=int, default=4, help="arithmetic ops listed per family")
    return parser.parse_args()


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _pass_s(numel: int, dtype: torch.dtype, repeats: int) -> float:
    """One in-place elementwise pass over ``numel`` entries (the unit of ``passes``)."""
    x = torch.ones(numel, dtype=dtype)
    return _median_s(lambda: x.mul_(1.0), repeats)


def _split(
    fn: Callable[[], object], calls: int
) -> tuple[dict[str, float], dict[str, tuple[float, int]]]:
    """Self CPU seconds per call of ``fn`` per part, and per arithmetic op (time, op calls),
    averaged over ``calls`` profiled calls (after one unprofiled call)."""
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            fn()
    parts: dict[str, float] = defaultdict(float)
    arithmetic: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        seconds = event.self_cpu_time_total / 1e6 / calls
        if event.key in DRAW_OPS:
            parts["draws"] += seconds
        elif event.key in REJECTION_OPS:
            parts["rejection"] += seconds
        elif event.key in WRAPPERS:
            parts["other"] += seconds
        else:
            parts["arithmetic"] += seconds
            arithmetic[event.key][0] += seconds
            arithmetic[event.key][1] += event.count / calls
    return dict(parts), {k: (v[0], v[1]) for k, v in arithmetic.items()}


def main() -> None:
    opts = _parse()
    setup("cpu")
    method = "rsample" if opts.rsample else "sample"
    header = (
        f"{'family':<34} | {'median':>8} | {'floor':>8} | {'/floor':>6} | {'draws':>15} | "
        f"{'rejection':>9} | {'arithmetic':>18}"
    )
    print(f"{method}, ~{opts.entries} entries, one thread; times per call, parts self CPU")
    print(header)
    print("-" * len(header))
    notes = []
    for fam in families():
        if opts.filter.lower() not in fam.label.lower():
            continue
        d = batched(fam.spec, opts.entries).build("ours", validate_args=False)
        if opts.rsample and not d.has_rsample:
            continue
        sampler = getattr(d, method)
        x = sampler()
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        floor_s = _median_s(floor_op(d, dtype), opts.repeats)
        median_s = _median_s(sampler, opts.repeats)
        parts, ops = _split(sampler, 3)
        pass_s = _pass_s(x.numel(), dtype, opts.repeats)
        draws, rejection = parts.get("draws", 0.0), parts.get("rejection", 0.0)
        arith = parts.get("arithmetic", 0.0)
        calls = sum(c for _, c in ops.values())
        print(
            f"{fam.label[:34]:<34} | {median_s * 1e3:6.2f}ms | {floor_s * 1e3:6.2f}ms | "
            f"{median_s / floor_s:5.2f}x | {draws * 1e3:5.2f}ms ({draws / floor_s:4.2f}fl) | "
            f"{rejection * 1e3:7.2f}ms | {arith * 1e3:5.2f}ms {arith / pass_s:5.1f} passes"
        )
        top = sorted(ops.items(), key=lambda kv: -kv[1][0])[: opts.top]
        listed = ", ".join(f"{k[6:]} {t * 1e3:.2f}ms/{c:.0f}" for k, (t, c) in top)
        notes.append(
            f"{fam.label}: floor = {floor_description(d)}; {calls:.0f} arithmetic op calls, "
            f"one pass {pass_s * 1e3:.2f}ms; most: {listed}"
        )
    print()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
