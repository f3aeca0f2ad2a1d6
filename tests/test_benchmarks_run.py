"""The benchmark scripts still run (``--quick``: one call per side on tiny inputs, numbers
unread), cover every registry family, and ``benchmarks/summary.py`` summarises their rows;
``bench_large.py --compiled`` (inductor) still runs on one cheap family, and the harness
reports a compiled side, or its failure, in the rows.

Timings are never asserted: timed tests stay out of the suite.
"""

import json
import mmap
import pathlib
import re
import subprocess
import sys

import pytest
import torch

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
ALL_SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))
# The scripts on the shared harness (tables, --json, the summary); others (bench_special.py,
# aleatorch.special against scipy) only have to run.
SCRIPTS = [s for s in ALL_SCRIPTS if "from _harness import" in (BENCHMARKS / s).read_text()]
OTHER_SCRIPTS = [s for s in ALL_SCRIPTS if s not in SCRIPTS]
REQUIRED_GROUPS = [
    "small validate on",
    "small validate off",
    "small sample",
    "small rsample",
    "large log_prob",
    "large entropy",
    "large sample",
    "large rsample+backward",
]


def _quick_runs(out):
    """Every script with ``--quick`` (and ``--json`` for the harness ones), run side by side
    (the machine has 2 cores)."""
    procs = {
        script: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / script), "--quick"]
            + (["--json", str(out / script)] if script in SCRIPTS else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=BENCHMARKS,
        )
        for script in ALL_SCRIPTS
    }
    results = {}
    for script, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[script] = (proc.returncode, stdout, stderr, out / script)
    return results


def _run(script: str, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """One benchmark script run in ``benchmarks/``, its output captured as text."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=BENCHMARKS,
    )


def _rows(path):
    return json.loads(path.read_text())["rows"]


def test_the_expected_scripts_exist():
    assert {"bench_small.py", "bench_large.py", "bench_mvn.py", "bench_transformed.py"} <= set(
        SCRIPTS
    )
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import summary
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert set(summary.SCRIPTS) == set(SCRIPTS), "summary.py runs every harness script"


def test_quick_runs_cover_every_family_and_are_summarised(tmp_path):
    """One test (the scripts run once, side by side, even under pytest-xdist)."""
    runs = _quick_runs(tmp_path)
    for script in SCRIPTS:
        _script_runs_and_prints_its_table(runs, script)
    for script in OTHER_SCRIPTS:
        returncode, stdout, stderr, _ = runs[script]
        assert returncode == 0 and stdout, f"{script}: {stderr}"
    _every_registry_family_is_benchmarked(runs)
    _large_cases_have_floors_and_groups(runs)
    _summary_of_the_saved_rows(runs)


def _script_runs_and_prints_its_table(quick_runs, script):
    returncode, stdout, stderr, path = quick_runs[script]
    assert returncode == 0, f"{script}: {stderr}"
    assert re.search(r"^case\s+\|\s+aleatorch \|\s+torch \|\s+speedup", stdout, re.M)
    assert "compiled" not in stdout, "without --compiled nothing is compiled"
    assert "median speedup" in stdout
    # A benchmark comparing different things is a bug, whatever the speed.
    assert "!!" not in stdout, stdout
    assert _rows(path), f"{script}: no row saved"


def _registry_labels():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _registry
    finally:
        sys.path.remove(str(BENCHMARKS))
    return _registry, [f.label for f in _registry.families()]


def _every_registry_family_is_benchmarked(quick_runs):
    sys.path.insert(0, str(BENCHMARKS.parent / "tests"))
    from examples import EXAMPLES

    _, labels = _registry_labels()
    assert len(labels) == len(set(labels)) == len(EXAMPLES)
    for ex, label in zip(EXAMPLES, labels, strict=True):
        assert label.startswith(ex.cls.__name__), (label, ex.cls)
    small = {r["name"]: r for r in _rows(quick_runs["bench_small.py"][3])}
    large = _rows(quick_runs["bench_large.py"][3])
    for label in labels:
        assert f"{label} validate=on" in small and f"{label} validate=off" in small, label
        assert small[f"{label} sample"]["group"] == "small sample", label
        ops = {r["name"].rsplit(" ", 1)[1] for r in large if r["name"].startswith(f"{label} ")}
        assert {"log_prob", "sample"} <= ops or "setup" in ops, (label, ops)
        if "setup" not in ops:  # rsample in both scripts, or in neither
            assert (f"{label} rsample" in small) == ("rsample" in ops), (label, ops)


def _large_cases_have_floors_and_groups(quick_runs):
    for row in _rows(quick_runs["bench_large.py"][3]):
        assert row["group"].startswith("large "), row
        if not row["error"]:
            assert row["floor_s"] is not None and row["floor_s"] > 0, row
            assert row["floor_note"], row
        assert row["compiled_s"] is None and row["compile_s"] is None, row


def test_every_registry_class_has_a_documented_floor():
    registry, _ = _registry_labels()
    sys.path.insert(0, str(BENCHMARKS.parent / "tests"))
    from examples import EXAMPLES

    missing = {ex.cls.__name__ for ex in EXAMPLES} - registry.FLOORS.keys()
    assert not missing, f"add these families to benchmarks/_registry.py FLOORS: {missing}"
    readme = (BENCHMARKS / "README.md").read_text()
    for name in registry.FLOORS:
        assert re.search(rf"^\|.*\b{name}\b.*\|", readme, re.M), (
            f"benchmarks/README.md does not list the floor of {name}"
        )


def _summary_of_the_saved_rows(quick_runs):
    paths = [str(quick_runs[s][3]) for s in SCRIPTS]
    result = _run("summary.py", "--from", *paths, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for group in REQUIRED_GROUPS:
        assert re.search(rf"^{re.escape(group)}\s+\|\s+\d+ \|\s+\d+ \|\s+[\d.]+x \|", out, re.M), (
            group,
            out,
        )
    assert re.search(r"^large sample\s+\|.*\|\s+[\d.]+x$", out, re.M), out  # ratio to floor
    assert "slower than torch (speedup < 1.0):" in out
    assert "samplers above 3x their floor:" in out
    assert "errors on aleatorch's side:" in out


def _harness():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _harness
    finally:
        sys.path.remove(str(BENCHMARKS))
    return _harness


def test_harness_times_a_compiled_side_and_reports_a_failed_compile():
    """In process, with the eager backend (no C++ compile): the row gains the compiled and
    eager times and their ratio; a compile that raises is a note, not a crash."""
    h = _harness()
    x = torch.linspace(0.1, 1.0, 1000)

    def f():
        return x.log() * 2

    def broken():
        raise RuntimeError("no such backend")

    ok = h._run_one(
        h.Case("f", f, None, compiled=lambda: torch.compile(f, backend="eager")),
        repeats=1,
        target_s=0.0,
    )
    assert ok.compiled_s > 0 and ok.compiled_ratio == ok.ours_s / ok.compiled_s
    assert ok.compiled_eager_s is None and ok.compile_s > 0 and "compile " in ok.note
    eager = h._run_one(
        h.Case("f", f, None, compiled=lambda: torch.compile(f, backend="eager"), compiled_eager=f),
        repeats=1,
        target_s=0.0,
    )
    assert eager.compiled_eager_s > 0
    assert eager.compiled_ratio == eager.compiled_eager_s / eager.compiled_s
    failed = h._run_one(h.Case("f", f, None, compiled=broken), repeats=1, target_s=0.0)
    assert failed.ours_s > 0 and failed.compiled_s is None and failed.compiled_ratio is None
    assert "compile failed: RuntimeError: no such backend" in failed.note
    error = RuntimeError("C++ compile error\nCommand: g++ " + "-D X " * 50 + "\nk.cpp:9: error: no")
    assert h._compile_error(error).endswith("[error: no]")


@pytest.mark.slow
def test_compiled_flag_on_one_family(tmp_path):
    """``bench_large.py --quick --compiled`` on Exponential (two inductor compiles of a few
    seconds): log_prob and entropy get compiled times, the samplers none, and the summary
    gives the /compiled means per group."""
    path = tmp_path / "large.json"
    result = _run(
        "bench_large.py",
        "--quick",
        "--compiled",
        "-k",
        "Exponential ",
        "--json",
        str(path),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^case\s+\|.*\|\s+eager off \|\s+compiled \|\s+/compiled$", out, re.M)
    assert "over 1.5x the compiled time:" in out
    rows = {r["name"].rsplit(" ", 1)[1]: r for r in _rows(path)}
    assert {"log_prob", "entropy", "sample"} <= rows.keys()
    for op in ("log_prob", "entropy"):
        row = rows[op]
        assert row["compiled_s"] > 0 and row["compiled_eager_s"] > 0, row
        assert row["compile_s"] > 0 and "compile failed" not in row["note"], row
        assert "differs" not in row["note"], row
    assert rows["sample"]["compiled_s"] is None
    summary = _run("summary.py", "--from", str(path), timeout=120)
    assert summary.returncode == 0, summary.stderr
    for group in ("large log_prob", "large entropy"):
        assert re.search(rf"^{group}\s+\|\s+1 \|\s+[\d.]+x \|\s+[\d.]+x$", summary.stdout, re.M)
    assert "over 1.5x the compiled time:" in summary.stdout


def test_fresh_leaves_are_freed_without_the_cyclic_collector():
    # The timing loops turn the cyclic collector off: a spec copy that kept its leaves in a
    # reference cycle leaked every timed rsample+backward call's leaves and grads.
    import gc
    import weakref

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _registry
    finally:
        sys.path.remove(str(BENCHMARKS))
    spec = next(f.spec for f in _registry.families() if f.label == "Normal")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        copy, fresh = _registry.with_fresh_leaves(spec)
        assert fresh, "Normal has differentiable parameters"
        leaf = weakref.ref(fresh[0])
        del copy, fresh
        assert leaf() is None
    finally:
        if was_enabled:
            gc.enable()


def test_speedup_range_of_the_single_repeats(capsys):
    """Each row keeps the smallest and largest single-repeat speedup (torch's time over
    ours in the same round), and the summary tells cases slower in every repeat from
    those within the noise of parity."""
    h = _harness()
    assert h._paired_range([1.0, 2.0, 4.0], [2.0, 1.0, 6.0]) == (0.5, 2.0)
    assert h._paired_range([1.0], [2.0]) == (None, None)  # a slow side: measured once
    assert h._paired_range([1.0, 2.0], [2.0]) == (None, None)

    x = torch.linspace(0.1, 1.0, 1000)
    row = h._run_one(h.Case("f", lambda: x.exp(), lambda: x.exp()), repeats=3, target_s=0.0)
    assert row.speedup_low <= row.speedup <= row.speedup_high
    assert row.ours_faults >= 0 and row.theirs_faults >= 0
    alone = h._run_one(h.Case("g", lambda: x.exp(), None), repeats=3, target_s=0.0)
    assert alone.speedup_low is None and alone.speedup_high is None
    assert alone.ours_faults >= 0 and alone.theirs_faults is None
    # each call touching every page of a fresh anonymous 8 MB mapping faults on each page

    def touch_fresh_pages():
        m = mmap.mmap(-1, 1 << 23)
        m[:: mmap.PAGESIZE] = b"\1" * ((1 << 23) // mmap.PAGESIZE)
        m.close()

    fresh = h._run_one(h.Case("fresh", touch_fresh_pages, lambda: x.exp()), repeats=3, target_s=0.0)
    assert fresh.ours_faults >= (1 << 23) // mmap.PAGESIZE > 100 > fresh.theirs_faults

    rows = [
        h.Row("always slower", 2.0, 1.0, speedup_low=0.4, speedup_high=0.6, group="large sample"),
        h.Row(
            "noisy",
            1.0,
            0.9,
            speedup_low=0.8,
            speedup_high=1.1,
            group="large sample",
            ours_faults=700.4,
            theirs_faults=12.0,
        ),
        h.Row("faster", 1.0, 3.0, speedup_low=2.5, speedup_high=3.5, group="large sample"),
        h.Row("Dirichlet 9x3 rsample+backward", 3.0, 1.0, group="large rsample+backward"),
    ]
    h.print_summary(rows)
    out = capsys.readouterr().out
    assert "slower than torch (speedup < 1.0): 3" in out
    assert re.search(r"0\.33x  Dirichlet 9x3 rsample\+backward .*\n +\(the exact implicit", out)
    assert "0.50x  (0.40-0.60)  always slower" in out
    assert "0.90x  (0.80-1.10)  [faults/call 700 vs 12]  noisy" in out
    assert re.search(r"of the 2 with a range, slower in every repeat .*: 1$", out, re.M)


def test_samplers_above_their_floor_carry_their_reason(capsys):
    """The summary prints ``KNOWN_ABOVE_FLOOR``'s reason beside a sampler above 3x its floor
    whose name it lists (a family name is matched whole: ``Beta`` is not ``BetaX``), and
    counts the samplers above with and without one."""
    h = _harness()
    rows = [
        h.Row("Gamma 9x3 sample", 4.0, None, floor_s=1.0, group="large sample"),
        h.Row("VonMises 9x3 sample", 5.0, None, floor_s=1.0, group="large sample"),
        h.Row("Unexplained 9x3 rsample", 3.5, None, floor_s=1.0, group="large rsample"),
        h.Row("Gammaish 9x3 sample", 3.2, None, floor_s=1.0, group="large sample"),
        h.Row("Poisson 9x3 sample", 2.0, None, floor_s=1.0, group="large sample"),  # below 3x
    ]
    h.print_summary(rows)
    out = capsys.readouterr().out
    assert "samplers above 3x their floor: 4" in out
    assert re.search(r"4\.0x  Gamma 9x3 sample .*\n +\(Marsaglia-Tsang in torch ops", out)
    assert re.search(r"5\.0x  VonMises 9x3 sample .*\n +\(Best-Fisher rejection", out)
    assert re.search(r"3\.5x  Unexplained 9x3 rsample .*\)\n  3\.2x  Gammaish", out)
    assert re.search(r"3\.2x  Gammaish 9x3 sample .*\)\n  of the 4", out)
    assert "Poisson" not in out
    assert re.search(r"of the 4, with a measured reason .*: 2; without: 2$", out, re.M)


def test_sampler_profile_splits_the_time():
    """``sampler_profile.py`` runs and gives, per family, the median beside the floor and the
    split into draws, rejection bookkeeping and arithmetic (VonMises: all three)."""
    result = _run(
        "sampler_profile.py",
        "-k",
        "VonMises",
        "--entries",
        "30000",
        "--repeats",
        "1",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("VonMises "))
    cells = [c.strip() for c in line.split("|")]
    assert len(cells) == 7
    median, floor = (float(c.removesuffix("ms")) for c in cells[1:3])
    assert median > 0 and floor > 0
    assert float(cells[3].removesuffix("x")) == pytest.approx(median / floor, rel=0.02, abs=0.01)
    draws = float(cells[4].split("ms")[0])
    rejection = float(cells[5].removesuffix("ms"))
    arithmetic = float(cells[6].split("ms")[0])
    assert draws > 0 and rejection > 0 and arithmetic > 0
    assert "VonMises: floor = three uniforms per entry" in result.stdout


def test_rounds_measure_each_library_after_the_floor_and_after_the_other():
    """Where both libraries are timed, a round runs ``floor, ours, torch, floor, torch,
    ours`` (each library once after the floor, once after the other; the eager and compiled
    sides mirrored after them), else each side once."""
    h = _harness()
    assert h._round_order(3, True, True) == [2, 0, 1, 2, 1, 0]
    assert h._round_order(2, True, False) == [0, 1, 1, 0]
    assert h._round_order(5, True, True) == [2, 0, 1, 2, 1, 0, 3, 4, 4, 3]
    assert h._round_order(2, False, True) == [0, 1]

    calls = []
    case = h.Case(
        "order",
        lambda: calls.append("ours"),
        lambda: calls.append("torch"),
        check=None,
        floor=lambda: calls.append("floor"),
    )
    row = h._run_one(case, repeats=2, target_s=0.0)
    timed = calls[3:]  # after each side's first (warm-up) call
    assert timed == ["floor", "ours", "torch", "floor", "torch", "ours"] * 2
    assert row.ours_s > 0 and row.theirs_s > 0 and row.floor_s > 0
