"""Shared timing, tables and summary for the benchmarks.

Every benchmark is a list of :class:`Case`: the same operation written with aleatorch and with
``torch.distributions``, timed in one process on one thread, and optionally a *floor*: the
least work any implementation must do (draw the random numbers a sampler needs, or read the
inputs and write the output once). Measurements are interleaved in rounds (floor, ours,
torch, floor, torch, ours; see ``_round_order``) so that drifts of the machine, and the cost
of following another call, hit every side alike, and each side's time is the median over
the rounds. ``speedup = torch time / aleatorch time``: above 1 means aleatorch is faster;
``/floor = aleatorch time / floor time``: 1 would be as fast as possible. Optionally (a
case's ``compiled``, ``bench_large.py --compiled``) the same method compiled by
``torch.compile``: ``/compiled = eager time / compiled time`` (issue 11's target: at most
``COMPILED_TARGET``), the compile time excluded.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import resource
import signal
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

__all__ = [
    "Case",
    "Row",
    "available",
    "fmt_time",
    "parse_args",
    "print_summary",
    "print_table",
    "run_cases",
    "save_json",
    "setup",
]


#: below this speedup a case is listed as slower than torch in a table's summary line.
SLOWER = 0.95
#: default address-space limit (GiB) on CPU: a case that needs more raises (an error row)
#: instead of exhausting a shared machine (a 1M-entry Binomial entropy once took > 19 GB).
MAX_MEMORY_GB = 8.0
#: a first call stopped after this much CPU time (seconds) is an error row (0: no limit).
CALL_LIMIT_S = 20.0
#: a case whose first call takes longer than this (seconds) is not repeated.
SLOW_CALL_S = 1.0
#: cases slower than torch for a known reason, which the summary prints beside them:
#: (start of the case name, end of it, the reason). Beta and Dirichlet rsample+backward are
#: accepted exceptions to "no case slower than torch" (issue 11): exact per-sample gradients
#: (issue 5) against torch's approximation, and no approximate mode.
KNOWN_SLOWER = [
    (
        family,
        "rsample+backward",
        "the exact implicit gradient per sample; torch's kernel is an approximation "
        "(benchmarks/dirichlet_gradient_accuracy.py: its Dirichlet gradients are a median "
        "7% off ours, and over 1% off on 65% of the entries)",
    )
    for family in ("Beta ", "Dirichlet ")
]
#: the target for samplers: at most this many times their floor.
FLOOR_TARGET = 3.0
_PROFILE = "benchmarks/sampler_profile.py -k NAME splits the time"
_GAMMA_BOUND = (
    "Marsaglia-Tsang in torch ops: its draws cost under one floor (uniforms from random "
    "words), but each round's ~35 elementwise steps (blocked, in cache) and the redraw of "
    "the rejected entries (nonzero, index ops) add about two floors more"
)
#: samplers that may stay above ``FLOOR_TARGET`` for a known, measured reason, which the
#: summary prints beside them: (starts of the case names, the reason).
KNOWN_ABOVE_FLOOR = [
    (
        ("Gamma ", "Chi2 ", "InverseGamma ", "Dirichlet ", "Beta ", "StudentT ")
        + ("FisherSnedecor ",),
        _GAMMA_BOUND,
    ),
    (
        ("Wishart", "LKJCholesky "),
        "chi-square (Bartlett) or beta (onion) draws at small degrees of freedom, bound as "
        "the gamma family's, and the triangle's assembly",
    ),
    (
        ("VonMises ",),
        "Best-Fisher rejection, accepting from 66%: rounds of redraws (nonzero, index ops) "
        "and the cosine and logarithm steps of every round",
    ),
    (
        ("Poisson ", "Binomial", "NegativeBinomial ", "Multinomial "),
        "exact inversion in float64 through cdf tables and their guides (Multinomial: one "
        "table over its outcomes): per draw a random word, two gathers (about 0.7 floor) and "
        "the compares; near 3x",
    ),
    (
        ("ContinuousBernoulli ",),
        "the quantile log1p(u expm1(eta)) / eta with its series near eta = 0 (exact there): "
        "about 25 in-cache elementwise steps beyond the uniforms",
    ),
    (
        ("GeneralizedPareto ",),
        "the quantile s expm1(xi s) / (xi s) with its limit at xi = 0 (exact there): about "
        "25 in-cache elementwise steps beyond the uniforms",
    ),
    (
        ("HalfCauchy ", "Cauchy "),
        "the ratio of two normals keeps the far tail that one 24-bit uniform would cut near "
        "1e7: the two normals alone cost 2-3.3 floors",
    ),
    (
        ("Categorical ", "OneHotCategorical", "MixtureSameFamily("),
        "a categorical draw by inversion (each row's cumulative sum and search; the floor's "
        "read of the probabilities is one pass) and the one-hot write or the components' "
        "gather: about two floors beyond the one uniform per draw",
    ),
    (
        ("LogisticNormal ", "RelaxedBernoulli ", "LogitRelaxedBernoulli "),
        "the noise's logarithms and the sigmoid or stick-breaking steps (16-19 in-cache "
        "passes): within noise of 3x",
    ),
]
#: the groups of the ``make bench`` summary, in this order (other groups follow).
GROUPS = [
    "small validate on",
    "small validate off",
    "small sample",
    "small rsample",
    "large log_prob",
    "large entropy",
    "large sample",
    "large rsample",
    "large rsample+backward",
]
#: groups whose cases are samplers (held to ``FLOOR_TARGET``).
SAMPLER_GROUPS = {"large sample", "large rsample"}
#: the target for eager log_prob and entropy: at most this many times the compiled time.
COMPILED_TARGET = 1.5
#: warm-up calls of a compiled side at most (the first compiles; one more may recompile
#: once a lazily computed attribute is cached), its compile time being their wall time.
COMPILE_CALLS = 4

_SYNC: Callable[[], None] | None = None
_DEVICE = "cpu"
#: the clock: on CPU the process's CPU time, which a busy shared machine inflates far less
#: than wall time (one thread does all the work); on CUDA wall time, synchronised.
_CLOCK: Callable[[], float] = time.process_time


@dataclass
class Case:
    """One operation, written twice.

    Args:
        name: what the row says, e.g. ``"Normal log_prob"``.
        ours: a zero-argument callable using aleatorch.
        theirs: the same with torch.distributions, or None where torch has no such family.
        check: ``"close"`` to check once that both return the same values (deterministic
            operations), ``"shape"`` to check only the shapes (sampling), ``None`` for no check.
        floor: a zero-argument callable doing the least work the operation needs, or None.
        floor_note: what the floor is, in words.
        group: the summary group (see ``GROUPS``).
        reference: ``() -> (ours, torch)``, the same values computed in float64 (consulted
            only when both sides disagree, to tell float32 rounding from a benchmark bug).
        compiled: ``() -> callable``, building the compiled side (called after
            ``torch._dynamo.reset()``; warmed up before timing, its compile time excluded);
            None: no compiled side.
        compiled_eager: the same operation as the compiled side run eagerly (e.g. on a
            distribution with validation off), the numerator of ``/compiled``; None: ``ours``.
    """

    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object] | None
    check: str | None = "close"
    floor: Callable[[], object] | None = None
    floor_note: str = ""
    group: str = ""
    reference: Callable[[], object] | None = None
    compiled: Callable[[], Callable[[], object]] | None = None
    compiled_eager: Callable[[], object] | None = None


@dataclass
class Row:
    name: str
    ours_s: float | None
    theirs_s: float | None
    note: str = ""
    floor_s: float | None = None
    floor_note: str = ""
    group: str = ""
    error: str = ""
    #: the compiled side (None: not run, or the compile failed, as the note says), the eager
    #: time it is compared with, and the compile time (wall time of the warm-up calls).
    compiled_s: float | None = None
    compiled_eager_s: float | None = None
    compile_s: float | None = None
    #: the smallest and largest of the speedups of the single repeats (torch's time over
    #: ours in the same round of the interleaved loop): with n repeats the median speedup
    #: lies between them with probability 1 - 2^(1-n) (94% for 5), whatever the noise's law.
    speedup_low: float | None = None
    speedup_high: float | None = None
    #: minor page faults per call (CPU), the mean over the timed calls of each side: a fresh
    #: buffer's pages fault on first touch, so near parity they tell the allocator's state
    #: (memory back from the heap or fresh from the system) from the work itself.
    ours_faults: float | None = None
    theirs_faults: float | None = None

    @property
    def speedup(self) -> float | None:
        if not self.ours_s or not self.theirs_s:
            return None
        return self.theirs_s / self.ours_s

    @property
    def floor_ratio(self) -> float | None:
        if not self.ours_s or not self.floor_s:
            return None
        return self.ours_s / self.floor_s

    @property
    def compiled_ratio(self) -> float | None:
        """Eager time / compiled time (the eager side without validation when timed)."""
        eager = self.compiled_eager_s or self.ours_s
        if not eager or not self.compiled_s:
            return None
        return eager / self.compiled_s


def parse_args(description: str, *, compiled: bool = False) -> argparse.Namespace:
    """The common options; with ``compiled``, also ``--compiled`` (``bench_large.py``)."""
    parser = argparse.ArgumentParser(description=description)
    if compiled:
        parser.add_argument(
            "--compiled",
            action="store_true",
            help="also time log_prob and entropy compiled by torch.compile (inductor, "
            "fullgraph, validation off); compile time excluded",
        )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repeat on tiny inputs: checks that the script runs, numbers mean nothing",
    )
    parser.add_argument("-k", dest="filter", default="", help="only cases whose name contains K")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats per case")
    parser.add_argument(
        "--device", default="cpu", help="cpu (default) or cuda (when one is available)"
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="save the rows as JSON")
    parser.add_argument(
        "--max-memory-gb",
        type=float,
        default=MAX_MEMORY_GB,
        help="address-space limit on CPU (a case needing more fails as an error row "
        "instead of exhausting a shared machine); 0: no limit",
    )
    return parser.parse_args()


def setup(device: str = "cpu", max_memory_gb: float = MAX_MEMORY_GB) -> None:
    """One thread (a second one often stalls on a shared 2-core machine), a fixed seed,
    ``device`` as the default device (CUDA timings synchronise before reading the clock),
    and on CPU an address-space limit of ``max_memory_gb`` (0: none)."""
    global _SYNC, _DEVICE, _CLOCK
    if device == "cpu" and max_memory_gb > 0:
        limit = int(max_memory_gb * 2**30)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # torch's Wishart and LKJ samplers warn about near-singular float32 draws; the tables
    # say what matters.
    warnings.filterwarnings("ignore", message="Singular sample detected")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    _DEVICE = device
    if device != "cpu":
        if device.startswith("cuda") and not torch.cuda.is_available():
            sys.exit(f"--device {device}: CUDA is not available here")
        torch.set_default_device(device)
        _SYNC = torch.cuda.synchronize if device.startswith("cuda") else None
        _CLOCK = time.perf_counter


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _calls_per_measure(fn: Callable[[], object], target_s: float, first_s: float) -> int:
    """Calls per measurement to last about ``target_s``; ``first_s``: the first (warm-up)
    call's time, enough when it alone exceeds the target. Calibrated like ``timeit``'s
    autorange (more calls until they last a quarter of the target), so a clock that
    advances in ticks cannot make the count explode."""
    if target_s <= 0 or first_s >= target_s:
        return 1
    number = 1
    while True:
        elapsed = _measure(fn, number) * number
        if elapsed >= target_s / 4 or number >= 1_000_000:
            return max(1, round(number * target_s / elapsed))
        number *= 10 if elapsed < target_s / 100 else 2


def _measure(fn: Callable[[], object], number: int) -> float:
    if _SYNC:
        _SYNC()
    start = _CLOCK()
    for _ in range(number):
        fn()
    if _SYNC:
        _SYNC()
    # a clock that did not move (a call shorter than its tick) counts as one nanosecond
    return max(_CLOCK() - start, 1e-9) / number


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    # float32 results: relative 1e-4 of the value, or of 1 for log-densities near 0.
    return torch.allclose(a, b, rtol=1e-4, atol=1e-4, equal_nan=True)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest difference relative to max(1, |b|)."""
    return ((a - b).abs() / b.abs().clamp(min=1)).nan_to_num(0).max().item()


def _compare(
    a: object, b: object, check: str | None, reference: Callable[[], object] | None = None
) -> str:
    """A note when both sides disagree. ``!! ...`` means the row compares different things
    (a benchmark bug to fix). ``reference()`` gives ``(ours, torch)`` computed in float64;
    with it, a gap that is only float32 rounding is named instead: ``torch's float32 is
    off ...`` (ours matches torch's float64 value) or ``float32 error ...`` (both float64
    values agree: the same quantity, computed less accurately in float32 by one side). Each
    side's error is measured against its own float64 value.
    """
    if check is None or not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return ""
    if a.shape != b.shape:
        return f"!! shape mismatch {tuple(a.shape)} vs {tuple(b.shape)}"
    a, b = a.detach().double(), b.detach().double()
    if check != "close" or _close(a, b):
        return ""
    diff = f"max rel diff {_max_diff(a, b):.3g}"
    pair, exc = _first(reference) if reference is not None else ((None, None), None)
    if exc is not None:
        return f"!! values differ ({diff}; no float64 values: {_short(exc)})"
    ours64, theirs64 = (
        t.detach().double() if isinstance(t, torch.Tensor) and t.shape == a.shape else None
        for t in pair
    )
    if theirs64 is not None:
        # each side against its own float64 value (a side's float64 may carry its own
        # formula's error, e.g. a cancellation, which is not float32 rounding)
        ea = _max_diff(a, theirs64 if ours64 is None else ours64)
        eb = _max_diff(b, theirs64)
        if _close(a, theirs64) and not _close(b, theirs64):
            return f"torch's float32 is off by {eb:.3g} from float64 (ours {ea:.3g})"
        if ours64 is not None and torch.allclose(
            ours64, theirs64, rtol=1e-3, atol=1e-3, equal_nan=True
        ):
            worse = "ours worse" if ea > eb else "torch worse"
            return f"float32 error ({worse}): off from float64 by {ea:.3g} ours, {eb:.3g} torch"
        diff += f"; vs float64: ours {ea:.3g}, torch {eb:.3g}"
    return f"!! values differ ({diff})"


_FIRST_S: dict[int, float] = {}  # id(fn) -> time of its first call in run_cases


class CallTimeout(Exception):
    """A first call ran longer than ``CALL_LIMIT_S`` of CPU time."""


def _on_timer(signum: int, frame: object) -> None:
    raise CallTimeout(f"a single call took over {CALL_LIMIT_S:g} s of CPU time: not timed")


def _first(fn: Callable[[], object]) -> tuple[object, BaseException | None]:
    """Call ``fn`` once (a warm-up whose time is kept), stopped after ``CALL_LIMIT_S`` of
    CPU time (checked between torch operations)."""
    start = _CLOCK()
    timer = CALL_LIMIT_S > 0 and hasattr(signal, "setitimer")
    if timer:
        previous = signal.signal(signal.SIGPROF, _on_timer)
        signal.setitimer(signal.ITIMER_PROF, CALL_LIMIT_S)
    try:
        out = fn()
    except Exception as exc:  # reported in the row
        return None, exc
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
    if _SYNC:
        _SYNC()
    _FIRST_S[id(fn)] = _CLOCK() - start
    return out, None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:150]}" if text else type(exc).__name__


def run_cases(
    cases: list[Case], *, repeats: int, target_s: float, name_filter: str = ""
) -> list[Row]:
    """Time each case: interleaved repeats, median per side.

    aleatorch raising is an error row (listed in the summary), unless both sides raise
    NotImplementedError (the family has no such method anywhere: left out with a line).
    torch raising leaves the torch column empty, with the reason in the note.
    """
    rows = []
    # Everything alive now (torch, scipy, the registry) is moved out of the collector's
    # sight: the collections between cases then take microseconds instead of a second.
    gc.collect()
    gc.freeze()
    tty = sys.stderr.isatty()
    for case in cases:
        if name_filter and name_filter.lower() not in case.name.lower():
            continue
        wall = time.perf_counter()
        if not tty:  # a log: which case runs, and how long it took
            print(f"{case.name} ...", end="", file=sys.stderr, flush=True)
        row = _run_one(case, repeats, target_s)
        if row is not None:
            rows.append(row)
        if tty:
            print(".", end="", file=sys.stderr, flush=True)
        else:
            print(f" {time.perf_counter() - wall:.1f} s", file=sys.stderr, flush=True)
    if tty:
        print(file=sys.stderr)
    return rows


def _run_one(case: Case, repeats: int, target_s: float) -> Row | None:
    # running each side once also warms it up (lazy init, allocator)
    a, a_exc = _first(case.ours)
    b, b_exc = _first(case.theirs) if case.theirs is not None else (None, None)
    theirs = case.theirs if case.theirs is not None and b_exc is None else None
    if isinstance(a_exc, NotImplementedError) and (
        case.theirs is None or isinstance(b_exc, NotImplementedError)
    ):
        print(f"({case.name}: left out, no side implements it: {_short(a_exc)})")
        return None
    if a_exc is not None:
        return Row(case.name, None, None, group=case.group, error=_short(a_exc))
    note = _compare(a, b, case.check, case.reference) if theirs is not None else ""
    if b_exc is not None:
        note = f"torch raises {_short(b_exc)}"
    floor = case.floor
    if floor is not None:
        _, f_exc = _first(floor)
        if f_exc is not None:
            note += f" (floor raises {_short(f_exc)})"
            floor = None
    compiled, eager, compile_s, c_note = _compiled_side(case, a)
    note = f"{note} {c_note}".strip()
    graphs = _compiled_graphs() if compiled is not None else 0
    sides = [fn for fn in (case.ours, theirs, floor, eager, compiled) if fn is not None]
    firsts = [_FIRST_S.pop(id(fn), 0.0) for fn in sides]
    _FIRST_S.clear()
    # A side whose call takes seconds (e.g. an entropy summing over a large support): its
    # first call is its measurement; repeats would take minutes and change nothing.
    slow = [target_s > 0 and t > SLOW_CALL_S for t in firsts]
    if any(slow):
        note = f"{note} (one call for a side over {SLOW_CALL_S:g} s)".strip()
    numbers = [
        0 if is_slow else _calls_per_measure(fn, target_s, t)
        for fn, t, is_slow in zip(sides, firsts, slow, strict=True)
    ]
    times = [[t] if is_slow else [] for t, is_slow in zip(firsts, slow, strict=True)]
    faults = [[0, 0] for _ in sides]  # minor page faults, calls
    order = _round_order(len(sides), theirs is not None, floor is not None)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            this_round: list[list[float]] = [[] for _ in sides]
            for i in order:
                if numbers[i]:
                    before = _minor_faults()
                    this_round[i].append(_measure(sides[i], numbers[i]))
                    faults[i][0] += _minor_faults() - before
                    faults[i][1] += numbers[i]
            for acc, measured in zip(times, this_round, strict=True):
                if measured:
                    acc.append(statistics.fmean(measured))
    finally:
        if gc_was_enabled:
            gc.enable()
    low, high = _paired_range(times[0], times[1]) if theirs is not None else (None, None)
    medians = iter(statistics.median(t) for t in times)
    ours_s = next(medians)
    theirs_s = next(medians) if theirs is not None else None
    floor_s = next(medians) if floor is not None else None
    eager_s = next(medians) if eager is not None else None
    compiled_s = next(medians) if compiled is not None else None
    if compiled is not None and _compiled_graphs() != graphs:
        note += " (recompiled while timed)"
    return Row(
        case.name,
        ours_s,
        theirs_s,
        note.strip(),
        floor_s=floor_s,
        floor_note=case.floor_note,
        group=case.group,
        compiled_s=compiled_s,
        compiled_eager_s=eager_s,
        compile_s=compile_s,
        speedup_low=low,
        speedup_high=high,
        ours_faults=_per_call(faults[0]),
        theirs_faults=_per_call(faults[1]) if theirs is not None else None,
    )


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _per_call(count: list[int]) -> float | None:
    """Faults per call from ``[faults, calls]`` (None for a side measured only once)."""
    faults, calls = count
    return faults / calls if calls else None


def _round_order(n: int, paired: bool, floor: bool) -> list[int]:
    """The order in which one round measures the sides ``0 .. n-1`` (ours, then torch's
    where ``paired``, then the floor where ``floor``, then the eager and compiled sides).

    Which side runs first after another matters on a shared machine: the one that follows
    a lighter call (the floor, or the last side of the previous round) takes the page faults
    of regrowing the heap that the other then reuses (measured: ours after the floor and
    torch after ours read 0.77-1.08x for memory-bound rsample + backward cases that read
    1.12-1.66x in the swapped order). So where both libraries are timed, each is measured
    twice a round, once after the floor (or the round's start) and once after the other:
    ``floor, ours, torch, floor, torch, ours``, and a side's time in a round is the mean of
    its two. The eager and compiled sides follow in the same mirrored way."""
    if not paired:
        return list(range(n))
    head = [2] if floor else []
    rest = list(range(2 + floor, n))
    return head + [0, 1] + head + [1, 0] + rest + rest[::-1]


def _paired_range(ours: list[float], theirs: list[float]) -> tuple[float | None, float | None]:
    """Smallest and largest speedup ``theirs[i] / ours[i]`` of the rounds measured on both
    sides (None, None with fewer than two rounds: a slow side is measured once)."""
    ratios = [t / o for o, t in zip(ours, theirs) if o > 0]
    if len(ours) != len(theirs) or len(ratios) < 2:
        return None, None
    return min(ratios), max(ratios)


def _compile_error(exc: BaseException) -> str:
    """The exception, and for a C++ (or other) compiler failure its first ``error:`` line,
    which the head of the message (the command line) does not show."""
    found = re.search(r"\berror: (.{1,200})", str(exc))
    return _short(exc) + (f" [error: {found.group(1).strip()}]" if found else "")


def _compiled_graphs() -> int:
    """Graphs compiled by dynamo so far in this process."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def _compiled_side(
    case: Case, eager_out: object
) -> tuple[Callable[[], object] | None, Callable[[], object] | None, float | None, str]:
    """``(compiled, eager, compile_s, note)`` for ``case.compiled``: the compiled callable
    after its warm-up calls (up to ``COMPILE_CALLS``, until one compiles nothing new),
    whose wall time is the compile time; the eager callable it is compared with (None:
    ``case.ours``). A failure is a note, with no compiled side."""
    if case.compiled is None:
        return None, None, None, ""
    eager = case.compiled_eager
    if eager is not None:
        _, exc = _first(eager)
        if exc is not None:
            return None, None, None, f"compiled: not timed, eager raises {_short(exc)}"
    torch._dynamo.reset()
    wall = time.perf_counter()
    try:
        fn = case.compiled()
        for i in range(COMPILE_CALLS):
            before = _compiled_graphs()
            out = fn()
            if i and _compiled_graphs() == before:
                break
        if _SYNC:
            _SYNC()
    except Exception as exc:  # noqa: BLE001  (a compile failure is a note, not a crash)
        return None, None, None, f"compile failed: {_compile_error(exc)}"
    compile_s = time.perf_counter() - wall
    note = f"compile {compile_s:.1f} s"
    if isinstance(out, torch.Tensor) and isinstance(eager_out, torch.Tensor):
        a, b = eager_out.detach().double(), out.detach().double()
        if a.shape != b.shape:
            note += f", compiled shape {tuple(b.shape)} != {tuple(a.shape)}"
        elif not _close(a, b):
            note += f", compiled differs from eager by {_max_diff(b, a):.3g}"
    _first(fn)  # a warm call: calibrates the number of calls per measurement
    return fn, eager, compile_s, f"({note})"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def print_table(
    title: str, rows: list[Row], *, quick: bool = False, compiled: bool = False
) -> None:
    """The table (case | aleatorch | torch | speedup [| floor | /floor] [| eager off |
    compiled | /compiled]) and a summary line."""
    width = max([len("case")] + [len(r.name) for r in rows])
    floors = any(r.floor_s is not None for r in rows)
    print(f"\n{title}")
    clock = "CPU time" if _CLOCK is time.process_time else "wall time"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread, device {_DEVICE}, "
        f"times are medians of the {clock} per call"
    )
    if quick:
        print("QUICK MODE: one repeat on tiny inputs; do not read the numbers")
    header = f"{'case':<{width}} | {'aleatorch':>10} | {'torch':>10} | {'speedup':>7}"
    if floors:
        header += f" | {'floor':>10} | {'/floor':>7}"
    if compiled:
        header += f" | {'eager off':>10} | {'compiled':>10} | {'/compiled':>9}"
        print(
            "eager off: our method on a distribution built with validation off (the numerator "
            "of /compiled); compiled: the same, torch.compile(inductor, fullgraph)"
        )
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.error:
            print(f"{r.name:<{width}} | ERROR: {r.error}")
            continue
        line = (
            f"{r.name:<{width}} | {fmt_time(r.ours_s):>10} | {fmt_time(r.theirs_s):>10} | "
            f"{_ratio(r.speedup):>7}"
        )
        if floors:
            line += f" | {fmt_time(r.floor_s):>10} | {_ratio(r.floor_ratio):>7}"
        if compiled:
            eager = r.compiled_eager_s or (r.ours_s if r.compiled_s else None)
            line += (
                f" | {fmt_time(eager):>10} | {fmt_time(r.compiled_s):>10} | "
                f"{_ratio(r.compiled_ratio):>9}"
            )
        print(line + (f"   {r.note}" if r.note else ""))
    if not rows:
        print("(no case selected)")
        return
    speedups = [r.speedup for r in rows if r.speedup is not None]
    if speedups:
        slower = [r.name for r in rows if r.speedup is not None and r.speedup < SLOWER]
        print(
            f"median speedup {statistics.median(speedups):.2f}x over {len(speedups)} cases "
            f"(min {min(speedups):.2f}x, max {max(speedups):.2f}x)"
        )
        print(f"slower than torch by more than 5%: {', '.join(slower) if slower else 'none'}")
    else:
        print("median speedup: no case has a torch counterpart")
    errors = [r.name for r in rows if r.error]
    if errors:
        print(f"errors on aleatorch's side: {', '.join(errors)}")
    if compiled:
        _print_compiled_line(rows)


def _print_compiled_line(rows: list[Row]) -> None:
    ratios = [r.compiled_ratio for r in rows if r.compiled_ratio is not None]
    over = [r.name for r in rows if (r.compiled_ratio or 0) > COMPILED_TARGET]
    failed = [r.name for r in rows if "compile failed" in r.note]
    total = sum(r.compile_s or 0 for r in rows)
    if ratios:
        print(
            f"/compiled: geometric mean {_geomean(ratios):.2f}x over {len(ratios)} cases "
            f"(max {max(ratios):.2f}x); compile time {total:.0f} s in all, not counted"
        )
    print(f"over {COMPILED_TARGET:g}x the compiled time: {', '.join(over) if over else 'none'}")
    if failed:
        print(f"compile failed: {', '.join(failed)}")


def available(module: object, *names: str) -> bool:
    """Whether ``module`` has every name (families still being written are left out)."""
    return all(hasattr(module, n) for n in names)


def save_json(path: str, script: str, title: str, rows: list[Row], *, quick: bool) -> None:
    """The rows (times in seconds) and what they were measured on."""
    data = {
        "script": script,
        "title": title,
        "quick": quick,
        "torch": torch.__version__,
        "device": _DEVICE,
        "threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "load_average": os.getloadavg(),
        "clock": _CLOCK.__name__,
        "rows": [asdict(r) for r in rows],
    }
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def load_rows(path: str) -> list[Row]:
    with open(path) as f:
        return [Row(**r) for r in json.load(f)["rows"]]


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


@dataclass
class _Group:
    speedups: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cases: int = 0


def print_summary(rows: list[Row]) -> None:
    """Geometric means per group (speedup over torch, ratio to floor), every case slower
    than torch, every sampler above ``FLOOR_TARGET`` times its floor, every error."""
    groups: dict[str, _Group] = {g: _Group() for g in GROUPS}
    for r in rows:
        g = groups.setdefault(r.group or "other", _Group())
        g.cases += 1
        if r.speedup is not None:
            g.speedups.append(r.speedup)
        if r.floor_ratio is not None:
            g.ratios.append(r.floor_ratio)
    print("\nSUMMARY: geometric means per group")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine load average now (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    print("speedup = torch time / aleatorch time (> 1: faster than torch); /floor = ours / floor")
    width = max(len(g) for g in groups)
    header = f"{'group':<{width}} | {'cases':>5} | {'vs torch':>8} | {'speedup':>7} | {'/floor':>7}"
    print(header)
    print("-" * len(header))
    for name, g in groups.items():
        if not g.cases:
            continue
        speedup = _ratio(_geomean(g.speedups)) if g.speedups else "-"
        ratio = _ratio(_geomean(g.ratios)) if g.ratios else "-"
        print(f"{name:<{width}} | {g.cases:>5} | {len(g.speedups):>8} | {speedup:>7} | {ratio:>7}")
    all_speedups = [r.speedup for r in rows if r.speedup is not None]
    if all_speedups:
        print(
            f"{'all':<{width}} | {len(rows):>5} | {len(all_speedups):>8} | "
            f"{_ratio(_geomean(all_speedups)):>7} |"
        )

    slower = sorted(
        (r for r in rows if r.speedup is not None and r.speedup < 1.0), key=lambda r: r.speedup
    )
    print(f"\nslower than torch (speedup < 1.0): {len(slower)}")
    for r in slower:
        print(f"  {r.speedup:.2f}x  {_range(r)}{r.name}  [{r.group}]{_known_reason(r.name)}")
    ranged = [r for r in slower if r.speedup_high is not None]
    if ranged:
        beyond = [r for r in ranged if r.speedup_high < 1.0]
        print(
            f"  of the {len(ranged)} with a range, slower in every repeat (the largest "
            f"single-repeat speedup < 1.0; the others are within the noise of parity): "
            f"{len(beyond)}"
        )
    above = sorted(
        (
            r
            for r in rows
            if r.group in SAMPLER_GROUPS
            and r.floor_ratio is not None
            and r.floor_ratio > FLOOR_TARGET
        ),
        key=lambda r: -r.floor_ratio,
    )
    print(f"\nsamplers above {FLOOR_TARGET:g}x their floor: {len(above)}")
    for r in above:
        print(f"  {r.floor_ratio:.1f}x  {r.name}  (floor: {r.floor_note}){_above_reason(r.name)}")
    explained = [r for r in above if _above_reason(r.name)]
    if above:
        print(
            f"  of the {len(above)}, with a measured reason ({_PROFILE}): {len(explained)}; "
            f"without: {len(above) - len(explained)}"
        )
    errors = [r for r in rows if r.error]
    print(f"\nerrors on aleatorch's side: {len(errors)}")
    for r in errors:
        print(f"  {r.name}: {r.error}")
    rounding = [r for r in rows if "ours worse" in r.note]
    if rounding:
        print(f"\nfloat32 results further from float64 than torch's: {len(rounding)}")
        for r in rounding:
            print(f"  {r.name}: {r.note}")
    flagged = [r for r in rows if r.note.startswith("!!")]
    if flagged:
        print(f"\nrows whose two sides disagree (!!): {len(flagged)}")
        for r in flagged:
            print(f"  {r.name}: {r.note}")
    _print_compiled_summary(rows)


def _known_reason(name: str) -> str:
    """The reason ``KNOWN_SLOWER`` gives for the case (on a line of its own), or nothing."""
    for start, end, reason in KNOWN_SLOWER:
        if name.startswith(start) and name.endswith(end):
            return f"\n      ({reason})"
    return ""


def _above_reason(name: str) -> str:
    """The reason ``KNOWN_ABOVE_FLOOR`` gives for a sampler (on a line of its own), or
    nothing."""
    for starts, reason in KNOWN_ABOVE_FLOOR:
        if name.startswith(starts):
            return f"\n      ({reason})"
    return ""


def _range(r: Row) -> str:
    """``(low-high) `` of the single-repeat speedups, and the page faults per call of each
    side, or nothing where not measured."""
    out = ""
    if r.speedup_low is not None and r.speedup_high is not None:
        out = f"({r.speedup_low:.2f}-{r.speedup_high:.2f})  "
    if r.ours_faults is not None and r.theirs_faults is not None:
        out += f"[faults/call {r.ours_faults:.0f} vs {r.theirs_faults:.0f}]  "
    return out


def _print_compiled_summary(rows: list[Row]) -> None:
    """Where rows have a compiled side: the geometric mean of ``/compiled`` per group, the
    cases over ``COMPILED_TARGET``, and the compile failures."""
    timed = [r for r in rows if r.compiled_ratio is not None]
    failed = [r for r in rows if "compile failed" in r.note]
    if not timed and not failed:
        return
    print(f"\neager / compiled (torch.compile, inductor; target <= {COMPILED_TARGET:g}x):")
    by_group: dict[str, list[float]] = {}
    for r in timed:
        by_group.setdefault(r.group or "other", []).append(r.compiled_ratio)
    width = max([len("group")] + [len(g) for g in by_group])
    print(f"{'group':<{width}} | {'cases':>5} | {'/compiled':>9} | {'max':>7}")
    for name, ratios in by_group.items():
        print(
            f"{name:<{width}} | {len(ratios):>5} | {_ratio(_geomean(ratios)):>9} | "
            f"{_ratio(max(ratios)):>7}"
        )
    over = sorted(
        (r for r in timed if r.compiled_ratio > COMPILED_TARGET), key=lambda r: -r.compiled_ratio
    )
    print(f"\nover {COMPILED_TARGET:g}x the compiled time: {len(over)}")
    for r in over:
        print(
            f"  {r.compiled_ratio:.2f}x  {r.name}  "
            f"({fmt_time(r.compiled_eager_s or r.ours_s)} eager, {fmt_time(r.compiled_s)} compiled)"
        )
    if failed:
        print(f"\ncompile failures: {len(failed)}")
        for r in failed:
            print(f"  {r.name}: {r.note}")
