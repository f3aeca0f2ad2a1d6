"""The benchmark scripts still run (``--quick``: one repeat on small inputs, numbers unread)."""

import pathlib
import re
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))


def test_the_expected_scripts_exist():
    assert {"bench_small.py", "bench_large.py", "bench_mvn.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_runs_and_prints_its_table(script):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BENCHMARKS,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^case\s+\|\s+aleatorch \|\s+torch \|\s+speedup$", result.stdout, re.M)
    assert "median speedup" in result.stdout
    # A benchmark comparing different things is a bug, whatever the speed.
    assert "!!" not in result.stdout, result.stdout
