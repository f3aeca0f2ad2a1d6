"""aleatorch.special against scipy.special on 1M float64 elements, one thread.

Times are CPU time of the calling thread (``time.thread_time``), the minimum over repeats:
on a busy machine this is far steadier than wall time, and both sides run on one thread.

    .venv/bin/python benchmarks/bench_special.py [-k NAME] [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.special as sc
import torch

import aleatorch.special as S


def _cases(n: int, rng: np.random.Generator) -> list[tuple[str, object, object]]:
    a = 10.0 ** rng.uniform(-1, 3, n)
    b = 10.0 ** rng.uniform(-1, 3, n)
    x01 = rng.uniform(0, 1, n)
    xg = a * 10.0 ** rng.uniform(-0.5, 0.5, n)
    df = 10.0 ** rng.uniform(-1, 4, n)
    t = rng.standard_normal(n) * 3
    at, bt, x01t, xgt, dft, tt = (torch.from_numpy(v) for v in (a, b, x01, xg, df, t))
    return [
        ("betainc", lambda: S.betainc(at, bt, x01t), lambda: sc.betainc(a, b, x01)),
        ("betaincinv", lambda: S.betaincinv(at, bt, x01t), lambda: sc.betaincinv(a, b, x01)),
        ("gammainc", lambda: S.gammainc(at, xgt), lambda: sc.gammainc(a, xg)),
        ("gammaincc", lambda: S.gammaincc(at, xgt), lambda: sc.gammaincc(a, xg)),
        ("gammaincinv", lambda: S.gammaincinv(at, x01t), lambda: sc.gammaincinv(a, x01)),
        ("ndtri", lambda: S.ndtri(x01t), lambda: sc.ndtri(x01)),
        ("stdtr", lambda: S.stdtr(dft, tt), lambda: sc.stdtr(df, t)),
        ("stdtrit", lambda: S.stdtrit(dft, x01t), lambda: sc.stdtrit(df, x01)),
    ]


def _cpu_time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="keep the functions whose name contains this")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1000 elements, one repeat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = 1_000 if args.quick else 1_000_000
    repeats = 1 if args.quick else args.repeats
    print(f"{'function':<12} | {'aleatorch':>10} | {'scipy':>10} | ratio (ours / scipy), n = {n}")
    for name, ours, theirs in _cases(n, np.random.default_rng(0)):
        if args.k not in name:
            continue
        ours_s, theirs_s = _cpu_time(ours, repeats), _cpu_time(theirs, repeats)
        ratio = ours_s / theirs_s
        print(f"{name:<12} | {ours_s * 1e3:8.1f}ms | {theirs_s * 1e3:8.1f}ms | {ratio:6.2f}x")


if __name__ == "__main__":
    main()
