"""Run one compatibility scenario in this (fresh) interpreter and print its results as JSON.

    python compat/run_scenario.py --backend torch|aleatorch --scenario NAME --seeds 0,1,2

With ``--backend aleatorch``, ``aleatorch.install()`` is called before any library (Pyro,
zuko, stable-baselines3) is imported, except for the scenarios in ``scenarios.PLAIN``, which
are handed the ``aleatorch`` module directly. The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["torch", "aleatorch"], required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    torch.set_num_threads(1)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import scenarios  # imports torch and numpy only; the libraries load inside the scenarios

    if args.scenario not in scenarios.SCENARIOS:
        parser.error(f"unknown scenario {args.scenario!r}: {sorted(scenarios.SCENARIOS)}")
    installed = False
    if args.backend == "aleatorch" and args.scenario not in scenarios.PLAIN:
        import aleatorch

        aleatorch.install()
        installed = aleatorch.is_installed()
    runs = []
    start = time.perf_counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        result = scenarios.SCENARIOS[args.scenario](seed, args.backend)
        runs.append({"seed": seed, **result})
    out = {
        "backend": args.backend,
        "scenario": args.scenario,
        "installed": installed,
        "seconds": time.perf_counter() - start,
        "runs": runs,
    }
    sys.stdout.write("\n" + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
