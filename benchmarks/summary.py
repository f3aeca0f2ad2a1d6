"""``make bench``: every benchmark script, then one summary over all of them.

The summary gives, per group (small construct + log_prob with validation on and off, small
construct + sample and construct + rsample, large log_prob, entropy, sample, rsample,
rsample + backward, and the groups of the other scripts), the geometric mean of the speedup
over torch.distributions and of the ratio to the floor; it lists every case slower than
torch, every sampler above 3x its floor, and every case that failed on aleatorch's side.
With ``--compiled`` (passed to ``bench_large.py``), or rows that have a compiled side, also
the geometric mean of ``/compiled`` (eager / torch.compile) per group and every case over
1.5x.

Run: ``python benchmarks/summary.py [--quick] [-k NAME] [--repeats N] [--device D]
[--json PATH] [--compiled]`` (the options go to every script, ``--compiled`` to
``bench_large.py`` only; ``--json`` saves all rows in one file), or
``python benchmarks/summary.py --from A.json B.json ...`` to summarise saved results.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

from _harness import Row, load_rows, print_summary

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = ["bench_small.py", "bench_large.py", "bench_mvn.py", "bench_transformed.py"]


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="passed to every script")
    parser.add_argument("-k", dest="filter", default="", help="passed to every script")
    parser.add_argument("--repeats", type=int, default=None, help="passed to every script")
    parser.add_argument("--device", default="cpu", help="passed to every script")
    parser.add_argument("--json", default=None, metavar="PATH", help="save every row here")
    parser.add_argument("--max-memory-gb", type=float, default=None, help="passed on")
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="passed to bench_large.py: also time log_prob and entropy under torch.compile",
    )
    parser.add_argument(
        "--from",
        dest="saved",
        nargs="+",
        default=None,
        metavar="JSON",
        help="summarise these saved results (from a script's --json) instead of running",
    )
    parser.add_argument(
        "--scripts", nargs="+", default=SCRIPTS, help="the scripts to run (default: all)"
    )
    return parser.parse_args()


def _run(opts: argparse.Namespace, out_dir: pathlib.Path) -> list[pathlib.Path]:
    paths = []
    for script in opts.scripts:
        path = out_dir / f"{pathlib.Path(script).stem}.json"
        cmd = [sys.executable, str(HERE / script), "--json", str(path), "--device", opts.device]
        if opts.quick:
            cmd.append("--quick")
        if opts.filter:
            cmd += ["-k", opts.filter]
        if opts.repeats:
            cmd += ["--repeats", str(opts.repeats)]
        if opts.max_memory_gb is not None:
            cmd += ["--max-memory-gb", str(opts.max_memory_gb)]
        if opts.compiled and script == "bench_large.py":
            cmd.append("--compiled")
        print(f"\n$ {' '.join(cmd[1:])}", flush=True)
        result = subprocess.run(cmd, cwd=HERE)
        if result.returncode != 0:
            print(f"{script} failed (exit status {result.returncode})")
            continue
        paths.append(path)
    return paths


def main() -> None:
    opts = _parse()
    rows: list[Row] = []
    failed = False
    if opts.saved:
        paths = [pathlib.Path(p) for p in opts.saved]
    else:
        tmp = tempfile.TemporaryDirectory()
        paths = _run(opts, pathlib.Path(tmp.name))
        failed = len(paths) < len(opts.scripts)
    for path in paths:
        rows += load_rows(str(path))
    print_summary(rows)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump([vars(r) for r in rows], f, indent=1)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
