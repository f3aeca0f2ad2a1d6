"""Measure aleatorch against the 50-digit table: one group = (family, method, dtype), every
case of the group computed in one batched call.

Error of one case (``ours`` in the dtype under test, ``truth`` the reference at the inputs
rounded to that dtype):

- log-scale methods (log_prob, log_cdf, log_survival_function, entropy):
  ``|ours - truth| / max(1, |truth|)``;
- every other method and KL: ``|ours - truth| / max(|truth|, tiny)`` with ``tiny`` the
  dtype's smallest normal number (so a subnormal truth is judged absolutely);
- von Mises quantiles (angles in [-pi, pi]) relative to ``max(1, |truth|)``;
- an infinite or NaN truth must come back exactly; a finite truth never as inf or NaN; a truth
  that is a normal number of the dtype never as 0 (those count as an infinite error; a
  subnormal truth flushed to 0 is within ``budget * tiny``).

The budget is ``1e3 eps`` in float64 and ``1e2 eps`` in float32.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

import aleatorch as D

from .grid import CONTINUOUS

ROOT = pathlib.Path(__file__).resolve().parents[2]
TABLE_PATH = ROOT / "tests" / "data" / "accuracy_reference.json"
TABLE = json.loads(TABLE_PATH.read_text())

DTYPES = {"float64": torch.float64, "float32": torch.float32}
NP = {"float64": np.float64, "float32": np.float32}
EPS = {k: float(np.finfo(v).eps) for k, v in NP.items()}
TINY = {k: float(np.finfo(v).tiny) for k, v in NP.items()}
BUDGET = {"float64": 1e3 * EPS["float64"], "float32": 1e2 * EPS["float32"]}
LOG_SCALE = {"log_prob", "log_cdf", "log_survival_function", "entropy"}
NO_ARGUMENT = {"entropy", "mean", "variance"}
# Quantiles that are angles in [-pi, pi] (0 at the median of a centred von Mises): judged
# relative to max(1, |x|), as log-scale values are.
ANGLES = {("VonMises", "icdf")}
METHOD_ORDER = [*CONTINUOUS, "kl"]


def groups() -> list[tuple[str, str, str]]:
    out = []
    for family, per_dtype in TABLE["families"].items():
        for dtype, data in per_dtype.items():
            out += [(family, m, dtype) for m in data["cases"]]
    for dtype, rows in TABLE["kl"].items():
        out += sorted({(row[0], "kl", dtype) for row in rows})
    order = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(out, key=lambda g: (g[0], order[g[1]], g[2]))


@dataclass
class Measured:
    """Worst error of a group, its case, how many cases exceed the budget."""

    worst: float
    cases: int
    failures: int
    worst_case: str
    error: str | None = None
    over: tuple[str, ...] = ()  # every case over budget, worst first (for the report)

    @property
    def ok(self) -> bool:
        return self.error is None and self.failures == 0


def case_errors(
    ours: np.ndarray, truth: list[str], method: str, dtype: str, family: str = ""
) -> np.ndarray:
    t = np.array([float(s) for s in truth])
    o = np.asarray(ours, dtype=np.float64)
    with np.errstate(all="ignore"):
        t_rounded = t.astype(NP[dtype]).astype(np.float64)
        if method in LOG_SCALE or (family, method) in ANGLES:
            scale = np.maximum(1.0, np.abs(t))
        else:
            scale = np.maximum(np.abs(t), TINY[dtype])
        err = np.abs(o - t) / scale
        special = ~np.isfinite(t_rounded) | np.isnan(t)
        same = (o == t_rounded) | (np.isnan(o) & np.isnan(t))
        err = np.where(special, np.where(same, 0.0, np.inf), err)
        err = np.where(~special & ~np.isfinite(o), np.inf, err)
        lost = (o == 0) & (np.abs(t_rounded) >= TINY[dtype]) & (method not in LOG_SCALE)
        err = np.where(lost, np.inf, err)
    return err


def _describe(family, params, x, ours, truth) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    at = "" if x is None else f" at {x!r}"
    return f"{family}({args}){at}: ours {ours!r}, truth {truth}"


def measure(family: str, method: str, dtype: str) -> Measured:
    if method == "kl":
        return _measure_kl(family, dtype)
    data = TABLE["families"][family][dtype]
    sets, rows = data["params"], data["cases"][method]
    td = DTYPES[dtype]
    cls = getattr(D, family)
    parts = defaultdict(list)
    for row in rows:
        parts[tuple(sorted(sets[row[0]]))].append(row)
    ours, truth, described = [], [], []
    try:
        for keys, part in parts.items():
            kwargs = {k: torch.tensor([sets[r[0]][k] for r in part], dtype=td) for k in keys}
            dist = cls(**kwargs, validate_args=False)
            if method == "entropy":
                out = dist.entropy()
            elif method in NO_ARGUMENT:
                out = getattr(dist, method)
            else:
                out = getattr(dist, method)(torch.tensor([r[1] for r in part], dtype=td))
            out = out.detach().to(torch.float64).reshape(-1).numpy()
            ours += list(out)
            truth += [r[-1] for r in part]
            described += [(sets[r[0]], None if method in NO_ARGUMENT else r[1]) for r in part]
    except Exception as e:  # a crash or NotImplementedError: the whole group fails
        return Measured(math.inf, len(rows), len(rows), "", f"{type(e).__name__}: {e}")
    return _summarize(family, ours, truth, described, method, dtype)


def _measure_kl(family: str, dtype: str) -> Measured:
    td = DTYPES[dtype]
    cls = getattr(D, family)
    rows = [r for r in TABLE["kl"][dtype] if r[0] == family]
    ours, truth, described = [], [], []
    try:
        for _, p, q, value in rows:
            dp = cls(**{k: torch.tensor(v, dtype=td) for k, v in p.items()}, validate_args=False)
            dq = cls(**{k: torch.tensor(v, dtype=td) for k, v in q.items()}, validate_args=False)
            ours.append(float(D.kl_divergence(dp, dq)))
            truth.append(value)
            described.append(({"p": p, "q": q}, None))
    except Exception as e:
        return Measured(math.inf, len(rows), len(rows), "", f"{type(e).__name__}: {e}")
    return _summarize(f"KL[{family}]", ours, truth, described, "kl", dtype)


def _summarize(family, ours, truth, described, method, dtype) -> Measured:
    name = family[3:-1] if family.startswith("KL[") else family
    err = case_errors(np.array(ours, dtype=np.float64), truth, method, dtype, name)
    i = int(np.argmax(err)) if len(err) else 0
    worst = float(err[i]) if len(err) else 0.0
    over = [
        _case_text(family, method, described[j], ours[j], truth[j]) + f"  [error {err[j]:.3g}]"
        for j in np.argsort(-err)
        if err[j] > BUDGET[dtype]
    ]
    case = _case_text(family, method, described[i], ours[i], truth[i]) if ours else ""
    return Measured(worst, len(err), int(np.sum(err > BUDGET[dtype])), case, over=tuple(over))


def _case_text(family, method, described, ours, truth) -> str:
    params, x = described
    case = _describe(family, params, x, float(ours), truth)
    if method != "log_prob" and method not in NO_ARGUMENT and x is not None:
        case = case.replace(" at ", f" {method}(", 1).replace(":", "):", 1)
    return case
