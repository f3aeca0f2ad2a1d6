"""Shared timing and table printing for the benchmarks.

Every benchmark is a list of :class:`Case`: the same operation written with aleatorch and with
``torch.distributions``, timed in one process on one thread. Measurements are interleaved
(ours, torch, ours, torch, ...) so that drifts of the machine hit both sides alike, and each
side's time is the median over the repeats. ``speedup = torch time / aleatorch time``: above 1
means aleatorch is faster.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = [
    "Case",
    "Row",
    "available",
    "fmt_time",
    "parse_args",
    "print_table",
    "run_cases",
    "setup",
]


#: below this speedup a case is listed as slower than torch (smaller gaps are mostly noise).
SLOWER = 0.95


@dataclass
class Case:
    """One operation, written twice.

    Args:
        name: what the row says, e.g. ``"Normal log_prob"``.
        ours: a zero-argument callable using aleatorch.
        theirs: the same with torch.distributions.
        check: ``"close"`` to check once that both return the same values (deterministic
            operations), ``"shape"`` to check only the shapes (sampling), ``None`` for no check.
    """

    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object]
    check: str | None = "close"


@dataclass
class Row:
    name: str
    ours_s: float
    theirs_s: float
    note: str = ""

    @property
    def speedup(self) -> float:
        return self.theirs_s / self.ours_s


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repeat on smaller inputs: checks that the script runs, numbers mean little",
    )
    parser.add_argument("-k", dest="filter", default="", help="only cases whose name contains K")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats per case")
    return parser.parse_args()


def setup() -> None:
    """One thread (a second one often stalls on a shared 2-core machine) and no autograd noise."""
    torch.set_num_threads(1)
    torch.manual_seed(0)


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _calls_per_measure(fn: Callable[[], object], target_s: float) -> int:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return max(1, int(target_s / max(elapsed, 1e-9)))


def _measure(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _compare(case: Case) -> str:
    """Run both sides once; return a note when they disagree (a benchmark bug to fix)."""
    if case.check is None:
        return ""
    a, b = case.ours(), case.theirs()
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return ""
    if a.shape != b.shape:
        return f"shape mismatch {tuple(a.shape)} vs {tuple(b.shape)}"
    if case.check == "close" and not torch.allclose(
        a.detach().double(), b.detach().double(), rtol=1e-4, atol=1e-5, equal_nan=True
    ):
        diff = (a.detach().double() - b.detach().double()).abs().nan_to_num(0).max().item()
        return f"values differ (max abs diff {diff:.3g})"
    return ""


def _missing_side(case: Case) -> str:
    for side, fn in (("aleatorch", case.ours), ("torch.distributions", case.theirs)):
        try:
            fn()
        except NotImplementedError as exc:
            return f"{side} raises {type(exc).__name__} {exc}".rstrip()
    return ""


def run_cases(
    cases: list[Case], *, repeats: int, target_s: float, name_filter: str = ""
) -> list[Row]:
    """Time each case: interleaved repeats, median per side."""
    rows = []
    for case in cases:
        if name_filter and name_filter.lower() not in case.name.lower():
            continue
        missing = _missing_side(case)
        if missing:
            print(f"({case.name}: left out, {missing})")
            continue
        note = _compare(case)  # also warms both sides up (lazy init, allocator)
        n_ours = _calls_per_measure(case.ours, target_s)
        n_theirs = _calls_per_measure(case.theirs, target_s)
        ours, theirs = [], []
        gc_was_enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            for _ in range(repeats):
                ours.append(_measure(case.ours, n_ours))
                theirs.append(_measure(case.theirs, n_theirs))
        finally:
            if gc_was_enabled:
                gc.enable()
        rows.append(Row(case.name, statistics.median(ours), statistics.median(theirs), note))
        if sys.stderr.isatty():
            print(".", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return rows


def print_table(title: str, rows: list[Row], *, quick: bool = False) -> None:
    """The table (case | aleatorch | torch | speedup) and a summary line."""
    width = max([len("case")] + [len(r.name) for r in rows])
    print(f"\n{title}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, times are medians")
    if quick:
        print("QUICK MODE: one repeat on smaller inputs; do not read the numbers")
    header = f"{'case':<{width}} | {'aleatorch':>10} | {'torch':>10} | {'speedup':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        line = (
            f"{r.name:<{width}} | {fmt_time(r.ours_s):>10} | {fmt_time(r.theirs_s):>10} | "
            f"{r.speedup:>6.2f}x"
        )
        print(line + (f"   !! {r.note}" if r.note else ""))
    if not rows:
        print("(no case selected)")
        return
    speedups = [r.speedup for r in rows]
    slower = [r.name for r in rows if r.speedup < SLOWER]
    print(
        f"median speedup {statistics.median(speedups):.2f}x over {len(rows)} cases "
        f"(min {min(speedups):.2f}x, max {max(speedups):.2f}x)"
    )
    print(f"slower than torch by more than 5%: {', '.join(slower) if slower else 'none'}")


def available(module: object, *names: str) -> bool:
    """Whether ``module`` has every name (families still being written are left out)."""
    return all(hasattr(module, n) for n in names)
