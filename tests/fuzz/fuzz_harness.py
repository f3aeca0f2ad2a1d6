"""The fuzz harness: probes every registered family (tests/examples.py) with edge inputs and
classifies each outcome (issue 10).

A probe builds one distribution from an example's parameters, with possibly one parameter
replaced by an edge value (0, -0.0, the smallest normal, the largest finite, +-inf, NaN, a
negative number), in float64, float32, float16 or bfloat16, with validation on or off, from
tensors or Python numbers or parameters whose shapes do not broadcast; then it calls every
method on values of several kinds (a sample, an edge value, a Python number, another dtype, a
wrong shape, something that is no number). Each call is classified:

* ``ok``: a value, finite where the truth is finite (the example's scipy reference where it
  has one; a cdf in [0, 1]; no NaN from valid inputs);
* ``clear``: an aleatorch error (or a TypeError raised by aleatorch's own code) whose message
  names the distribution (or a class it is built on) and, for a parameter, the parameter;
* ``known``: a failure listed in :data:`KNOWN_DEFECTS`;
* ``fail``: anything else: another exception type, an exception raised inside torch, a
  message that names neither, NaN or inf where the truth is finite, a call over the time
  limit.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import aleatorch as D
from aleatorch.errors import AleatorchError

# (family, method, input kind) -> the issue-10 defect it shows. A probe's failure is allowed
# only when its family and method match and the kind is one of the probe's tags (see
# Probe.tags: "dtype=float16", "scale=huge", "value=wrong_shape", "validate=off", ...).
KNOWN_DEFECTS: dict[tuple[str, str, str], str] = {}

METHODS_WITH_VALUE = ("log_prob", "cdf", "log_cdf", "log_survival_function", "icdf")
METHODS = METHODS_WITH_VALUE + ("entropy", "mean", "variance", "sample", "rsample", "expand")

TIME_LIMIT = float(os.environ.get("ALEATORCH_FUZZ_TIME_LIMIT", "20"))
# Record failures instead of raising them (to list every defect in one run).
COLLECT = os.environ.get("ALEATORCH_FUZZ_COLLECT", "") not in ("", "0")

OUTCOMES: Counter = Counter()
FAILURES: dict[str, str] = {}  # signature -> one repro

HALF = (torch.float16, torch.bfloat16)
ALEATORCH_DIR = os.path.dirname(D.__file__)
TORCH_DIR = os.path.dirname(torch.__file__)


def edge_values(dtype: torch.dtype) -> dict[str, float]:
    info = torch.finfo(dtype)
    return {
        "zero": 0.0,
        "negzero": -0.0,
        "tiny": info.tiny,
        "huge": info.max,
        "inf": math.inf,
        "-inf": -math.inf,
        "nan": math.nan,
        "negative": -1.5,
    }


# ------------------------------------------------------------------ running with a time limit

_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)


class Timeout(Exception):
    pass


def call_with_limit(fn, *args):
    """``fn(*args)`` in a worker thread; :class:`Timeout` past TIME_LIMIT (the stuck thread is
    abandoned, and later calls go to a fresh one), so that no hang hangs the suite."""
    global _executor
    future = _executor.submit(fn, *args)
    try:
        return future.result(timeout=TIME_LIMIT)
    except concurrent.futures.TimeoutError:
        _executor.shutdown(wait=False)
        _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        raise Timeout(f"over the {TIME_LIMIT:g} s limit") from None


# ------------------------------------------------------------------------ probes


@dataclass
class Probe:
    family: str
    tags: set[str] = field(default_factory=set)
    repro: str = ""
    primary: str = ""  # the tag that says what is special about this probe (see main_tag)


def main_tag(tags: set[str], method: str) -> str:
    """The input kind an allow-list entry names: an edge parameter ("scale=huge"), else a
    special value ("value=edge", for a method that takes one), else a half dtype, else
    validation off."""
    for tag in sorted(tags):
        name = tag.split("=")[0]
        if name not in ("dtype", "validate", "params", "value", "shape"):
            return tag
    for tag in sorted(tags) if method in METHODS_WITH_VALUE else ():
        if tag.startswith("value=") and tag not in ("value=sample", "value=python"):
            return tag
    for tag in ("dtype=float16", "dtype=bfloat16", "validate=off"):
        if tag in tags:
            return tag
    return next((t for t in sorted(tags) if t.startswith("params=")), "any")


def known_defect(probe: Probe, method: str) -> str | None:
    for tag in probe.tags:
        reason = KNOWN_DEFECTS.get((probe.family, method, tag))
        if reason is not None:
            return reason
    return None


def names_of(obj: Any) -> set[str]:
    """Class names an error message may name: the class, its bases, and nested families."""
    out = {c.__name__ for c in type(obj).__mro__ if c.__module__.startswith("aleatorch")}
    for v in vars(obj).values() if hasattr(obj, "__dict__") else ():
        if isinstance(v, D.Distribution) and v is not obj:
            out |= names_of(v)
    return out - {"Distribution", "ExponentialFamily", "object"}


def innermost_file(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last or ""


def classify_error(exc: BaseException, names: set[str], argument: str | None) -> tuple[str, str]:
    """``("clear", "")`` or ``("fail", why)``."""
    if isinstance(exc, Timeout):
        return "fail", "timeout"
    where = innermost_file(exc)
    ours = isinstance(exc, AleatorchError) or (
        isinstance(exc, TypeError) and where.startswith(ALEATORCH_DIR)
    )
    if not ours:
        inside = "torch" if where.startswith(TORCH_DIR) else os.path.basename(where)
        return "fail", f"{type(exc).__name__} raised in {inside}"
    message = str(exc)
    if not any(n in message for n in names):
        return "fail", f"{type(exc).__name__} message names no distribution"
    if argument is not None and argument not in message:
        return "fail", f"{type(exc).__name__} message does not name {argument!r}"
    return "clear", ""


def record(probe: Probe, method: str, outcome: str, why: str, detail: str) -> str | None:
    """Count the outcome; return a failure description unless allowed."""
    if outcome == "fail" and known_defect(probe, method) is not None:
        outcome = "known"
    OUTCOMES[outcome] += 1
    OUTCOMES["probes"] += 1
    if outcome != "fail":
        return None
    tags = ", ".join(sorted(probe.tags))
    primary = main_tag(probe.tags, method)
    signature = f"{probe.family}.{method} <{primary}>: {why} [{tags}]"
    text = f"{signature}\n    {probe.repro}.{method}{detail}"
    FAILURES.setdefault(f"{probe.family}.{method} <{primary}>: {why}", text)
    return text


def summary_lines(counts: Counter) -> list[str]:
    rows = [
        ("probes (calls)", counts["probes"]),
        ("OK values", counts["ok"]),
        ("clear errors", counts["clear"]),
        ("allow-listed known defects", counts["known"]),
        ("failures", counts["fail"]),
    ]
    lines = [f"{name:<28}{n:>10}" for name, n in rows]
    if FAILURES:
        lines.append(f"distinct failures ({len(FAILURES)}):")
        lines += sorted(FAILURES.values())
    return lines


# ------------------------------------------------------------------------ inputs


def _as_float_tensor(v: Any) -> torch.Tensor:
    return torch.as_tensor(v, dtype=torch.float64).detach().clone()


def mutable_params(ex: Any, index: int) -> list[str]:
    """Top-level numeric parameters (floating or integer), in ``arg_constraints``."""
    out = []
    for k, v in ex.params[index].items():
        if k not in ex.cls.arg_constraints or v is None:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(k)
        elif isinstance(v, list) and (not v or not isinstance(v[0], D.transforms.Transform)):
            out.append(k)
        elif isinstance(v, torch.Tensor):
            out.append(k)
    return out


def build_kwargs(ex: Any, index: int, dtype: torch.dtype, mutation: dict) -> tuple[dict, str]:
    """Constructor kwargs in ``dtype`` with ``mutation`` applied, and their repr."""
    import examples

    params = ex.params[index]
    mode = mutation["mode"]
    kwargs = examples.to_tensors(params, dtype)
    if mode == "python":  # scalar parameters as Python numbers (torch takes no lists)
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor) and v.dim() == 0:
                kwargs[k] = v.item()
    if mode == "edge":
        name, value, placement = mutation["name"], mutation["value"], mutation["placement"]
        p = _as_float_tensor(params[name]).to(dtype)
        if placement == "all":
            new = torch.full_like(p, value)
        else:
            if p.dim() == 0:
                shape = mutation["batch_shape"] or (2,)
                p = p.expand(shape)
            new = p.clone()
            new.view(-1)[0] = value
        kwargs[name] = new
    elif mode == "wrong_shape":
        names = mutation["names"]
        for j, name in enumerate(names):
            p = _as_float_tensor(params[name]).to(dtype)
            kwargs[name] = p.expand((7 - 2 * j,) + p.shape).clone()
    text = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    return kwargs, f"{ex.cls.__name__}({text}"


def _short(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        if v.numel() <= 6:
            return f"torch.tensor({v.tolist()}, dtype={v.dtype})"
        return f"<tensor {tuple(v.shape)} {v.dtype}>"
    if isinstance(v, D.Distribution):
        return type(v).__name__ + "(...)"
    return repr(v)


def reference_params(ex: Any, index: int, kwargs: dict, mutation: dict) -> dict | None:
    """The numpy parameters of the built distribution for ``ex.reference``."""
    if ex.reference is None or mutation["mode"] == "wrong_shape":
        return None
    try:
        out = ex.numpy_params(index)
        for k, v in kwargs.items():
            if k in out and isinstance(v, torch.Tensor) and v.is_floating_point():
                out[k] = v.detach().double().numpy()
            elif k in out and isinstance(v, float):
                out[k] = np.asarray(v, dtype=np.float64)
    except Exception:
        return None
    return out


# (No icdf: scipy's discrete ppf aborts the process at some extreme parameters; icdf is
# checked for NaN from valid inputs instead.)
_REF_METHODS = {
    "log_prob": ("log_prob", None),
    "cdf": ("cdf", None),
    "log_cdf": ("cdf", np.log),
    "log_survival_function": ("sf", np.log),
    "entropy": ("entropy", None),
    "mean": ("mean", None),
    "variance": ("variance", None),
}


def truth(ref: Any, method: str, value: Any) -> np.ndarray | None:
    """The reference's value (float64 numpy), or None when it has none or it fails."""
    if ref is None or method not in _REF_METHODS:
        return None
    name, post = _REF_METHODS[method]
    fn = getattr(ref, name, None)
    if fn is None:
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = fn(value.detach().double().numpy()) if value is not None else fn()
            out = np.asarray(out, dtype=np.float64)
            return post(out) if post is not None else out
    except Exception:
        return None


def finite_parameters(kwargs: dict) -> bool:
    """Whether every numeric parameter (nested ones included) is finite."""
    for v in kwargs.values():
        if isinstance(v, D.Distribution):
            inner = {k: w for k, w in vars(v).items() if k in type(v).arg_constraints}
            if not finite_parameters(inner):
                return False
        elif isinstance(v, (int, float)) and not math.isfinite(v):
            return False
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            if not bool(torch.isfinite(v).all()):
                return False
    return True


def check_value(
    result: Any, method: str, valid: bool, expected: np.ndarray | None
) -> tuple[str, str]:
    """Classify a returned value."""
    if not isinstance(result, torch.Tensor) or not valid:
        return "ok", ""
    r = result.detach().double()
    nan, inf = torch.isnan(r), torch.isinf(r)
    if expected is not None:
        # Finite and representable in the result's dtype.
        big = torch.finfo(result.dtype).max if result.is_floating_point() else math.inf
        with np.errstate(invalid="ignore"):
            representable = np.isfinite(expected) & (np.abs(expected) <= big)
        try:
            finite = torch.from_numpy(np.broadcast_to(representable, r.shape).copy())
        except ValueError:
            finite = None
        if finite is not None and bool((finite & (nan | inf)).any()):
            return "fail", "NaN/inf where the reference is finite"
    if method in ("cdf", "log_cdf", "log_survival_function", "icdf", "sample", "rsample"):
        if bool(nan.any()):
            return "fail", "NaN from valid inputs"
    if method == "log_prob" and bool(nan.any()):
        return "fail", "NaN from valid inputs"
    if method == "cdf" and bool(((r < 0) | (r > 1)).any()):
        return "fail", "cdf outside [0, 1]"
    if method in ("log_cdf", "log_survival_function") and bool((r > 1e-6).any()):
        return "fail", "log probability > 0"
    return "ok", ""
