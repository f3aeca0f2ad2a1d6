"""Fuzz every registered family (tests/examples.py) and method with edge inputs (issue 10).

One Hypothesis test per registered example; each drawn probe builds the family (an edge value
in one parameter, a dtype, validation on or off, tensors or Python numbers, parameters that
do not broadcast) and calls every method on one kind of value. The harness
(``fuzz_harness.py``) classifies each call; a failure not in ``KNOWN_DEFECTS`` fails the test.
Profiles: see ``conftest.py`` (``ALEATORCH_FUZZ=deep`` for ``make fuzz``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from examples import EXAMPLES
from fuzz_harness import (
    COLLECT,
    HALF,
    Probe,
    call_with_limit,
    check_value,
    classify_error,
    edge_values,
    finite_parameters,
    known_defect,
    mutable_params,
    names_of,
    record,
    reference_params,
    truth,
)
from fuzz_harness import build_kwargs as _build_kwargs
from hypothesis import given
from hypothesis import strategies as st

# float16/bfloat16 are the light path: drawn a third of the time.
DTYPES = [torch.float64, torch.float32, torch.float64, torch.float32, torch.float16, torch.bfloat16]
VALUE_KINDS = ["sample", "python", "edge", "other_dtype", "int", "bool", "wrong_shape", "junk"]
SHAPE_KINDS = ["empty", "grow", "int", "negative", "zero"]


def _ids() -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for ex in EXAMPLES:
        name = ex.cls.__name__
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{name}-{seen[name] - 1}")
    return out


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _value(x0: torch.Tensor, q0: torch.Tensor, kind: str, edge: float, dtype, method: str, dist):
    """The value of ``kind`` for ``method`` (a probability for icdf)."""
    x = q0 if method == "icdf" else x0
    if kind in ("sample", "edge", "int", "bool", "other_dtype", "python"):
        if kind == "edge":
            x = torch.full(x.shape, edge, dtype=torch.float64)
        if kind == "int":
            return x.round().long()
        if kind == "bool":
            return x != 0
        if kind == "other_dtype":
            return x.to(torch.float32 if dtype == torch.float64 else torch.float64)
        x = x.to(dtype)
        return x.tolist() if kind == "python" else x
    if kind == "wrong_shape":
        batch, event = tuple(dist.batch_shape), tuple(dist.event_shape)
        if event:
            shape = batch + event[:-1] + (event[-1] + 1,)
        elif batch:
            shape = batch[:-1] + (batch[-1] + 1,)
        else:
            shape = (3,)  # there is no wrong shape: this one broadcasts
        return torch.zeros(shape, dtype=dtype)
    return "a" if edge != edge else None  # junk: a string or None


def _is_valid_value(dist, value, method: str) -> bool:
    if not isinstance(value, (torch.Tensor, list, float, int)) or isinstance(value, bool):
        return False
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
        if not bool(torch.isfinite(t).all()):
            return False
        if method == "icdf":
            return bool(((t >= 0) & (t <= 1)).all())
        torch.broadcast_shapes(t.shape, dist.batch_shape + dist.event_shape)
        if t.shape[t.dim() - len(dist.event_shape) :] != dist.event_shape:
            return False
        support = dist.support
        return bool(support.check(t.to(dist.mean.dtype if False else t.dtype)).all())
    except Exception:
        return False


def _shape(kind: str, batch: tuple[int, ...]):
    return {
        "empty": (),
        "grow": (2,),
        "int": 2,
        "negative": (-2,),
        "zero": (0,),
    }[kind]


def run_probe(ex, index, dtype, validate, mutation, seed, value_kind, edge_label, shape_kind):
    probe = Probe(ex.cls.__name__)
    probe.tags = {
        f"dtype={_dtype_name(dtype)}",
        f"validate={'on' if validate else 'off'}",
        f"params={mutation['mode']}",
        f"value={value_kind}",
        f"shape={shape_kind}",
    }
    if mutation["mode"] == "edge":
        probe.tags.add(f"{mutation['name']}={mutation['label']}")
    failures = []
    try:  # nested distributions are built here
        kwargs, text = _build_kwargs(ex, index, dtype, mutation)
    except Exception as exc:
        probe.repro = f"{ex.cls.__name__}(<nested parameters in {dtype}>)"
        names = {type(v).__name__ for v in ex.params[index].values()} | {ex.cls.__name__}
        outcome, why = classify_error(exc, names, None)
        failures.append(record(probe, "__init__", outcome, why, f" -> {_exc(exc)}"))
        return [f for f in failures if f]
    probe.repro = f"{text}, validate_args={validate})"

    def build(check):
        return ex.cls(**kwargs, validate_args=check)

    try:
        dist = call_with_limit(build, validate)
    except Exception as exc:
        names = {c.__name__ for c in ex.cls.__mro__} - {"object", "Distribution"}
        arg = mutation.get("name") if mutation["mode"] == "edge" else None
        if isinstance(exc, TypeError) and dtype in HALF:
            arg = None  # a refused dtype: the message is about the dtype
        outcome, why = classify_error(exc, names, arg)
        if mutation["mode"] in ("valid", "python") and dtype not in HALF:
            outcome, why = "fail", f"valid parameters rejected: {type(exc).__name__}: {exc}"
        failures.append(record(probe, "__init__", outcome, why, f" -> {type(exc).__name__}"))
        return [f for f in failures if f]
    record(probe, "__init__", "ok", "", "")
    names = names_of(dist)

    # Which inputs are valid: parameters the validated constructor accepts.
    valid = validate and finite_parameters(kwargs)
    if not validate and finite_parameters(kwargs):
        try:
            call_with_limit(build, True)
            valid = True
        except Exception:
            valid = False
    ref = None
    if valid:
        numpy_params = reference_params(ex, index, kwargs, mutation)
        if numpy_params is not None:
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    ref = ex.reference(numpy_params)
            except Exception:
                ref = None

    gen = torch.Generator().manual_seed(seed)
    base = ex.build(index)
    x0 = base.sample(generator=gen)
    q0 = torch.rand(base.batch_shape, generator=gen, dtype=torch.float64)
    edge = edge_values(dtype)[edge_label] if edge_label != "one" else 1.0

    for method in ("log_prob", "cdf", "log_cdf", "log_survival_function", "icdf"):
        value = _value(x0, q0, value_kind, edge, dtype, method, dist)
        detail = f"({_describe(value)})"
        try:
            result = call_with_limit(getattr(dist, method), value)
        except Exception as exc:
            if method in ex.missing and isinstance(exc, NotImplementedError):
                outcome, why = classify_error(exc, names, None)
            else:
                outcome, why = classify_error(exc, names, None)
            failures.append(record(probe, method, outcome, why, f"{detail} -> {_exc(exc)}"))
            continue
        ok_value = valid and _is_valid_value(dist, value, method)
        if ok_value and method == "icdf":  # the truth at 0 and 1 may be infinite
            q = torch.as_tensor(value, dtype=torch.float64)
            ok_value = bool(((q > 0) & (q < 1)).all())
        expected = (
            truth(ref, method, torch.as_tensor(value, dtype=torch.float64)) if ok_value else None
        )
        outcome, why = check_value(result, method, ok_value, expected)
        failures.append(record(probe, method, outcome, why, f"{detail} -> {_describe(result)}"))

    for method in ("entropy", "mean", "variance"):
        try:
            result = call_with_limit(
                lambda m=method: getattr(dist, m)() if m == "entropy" else getattr(dist, m)
            )
        except Exception as exc:
            outcome, why = classify_error(exc, names, None)
            failures.append(record(probe, method, outcome, why, f" -> {_exc(exc)}"))
            continue
        expected = truth(ref, method, None) if valid else None
        outcome, why = check_value(result, method, valid, expected)
        failures.append(record(probe, method, outcome, why, f" -> {_describe(result)}"))

    shape = _shape(shape_kind, tuple(dist.batch_shape))
    for method in ("sample", "rsample"):
        if (known_defect(probe, method) or "").startswith("hang"):
            record(probe, method, "fail", "timeout (known hang, not run)", "")
            continue
        try:
            result = call_with_limit(lambda m=method: getattr(dist, m)(shape, generator=gen))
        except Exception as exc:
            outcome, why = classify_error(exc, names, None)
            failures.append(record(probe, method, outcome, why, f"({shape!r}) -> {_exc(exc)}"))
            continue
        outcome, why = check_value(result, method, valid, None)
        if outcome == "ok" and isinstance(shape, tuple) and min(shape, default=0) < 0:
            outcome, why = "fail", f"negative sample_shape accepted: {tuple(result.shape)}"
        failures.append(record(probe, method, outcome, why, f"({shape!r}) -> {_describe(result)}"))

    batch = tuple(dist.batch_shape)
    new_batch = {
        "empty": batch,
        "grow": (2,) + batch,
        "int": 4 if not batch else (4,) + batch,
        "negative": (-2,) + batch,
        "zero": (0,) + batch,
    }[shape_kind]
    try:
        result = call_with_limit(dist.expand, new_batch)
    except Exception as exc:
        outcome, why = classify_error(exc, names, None)
        failures.append(record(probe, "expand", outcome, why, f"({new_batch!r}) -> {_exc(exc)}"))
    else:
        want = torch.Size((new_batch,) if isinstance(new_batch, int) else new_batch)
        outcome, why = "ok", ""
        if result.batch_shape != want:
            outcome, why = "fail", f"expand gave batch_shape {tuple(result.batch_shape)}"
        failures.append(record(probe, "expand", outcome, why, f"({new_batch!r})"))
    return [f for f in failures if f]


def _describe(v) -> str:
    if isinstance(v, torch.Tensor):
        if v.numel() <= 4:
            return f"tensor({v.tolist()}, {_dtype_name(v.dtype)})"
        return f"<tensor {tuple(v.shape)} {_dtype_name(v.dtype)}>"
    return repr(v) if not isinstance(v, list) or len(str(v)) < 60 else "<list>"


def _exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


@pytest.mark.parametrize("ex", EXAMPLES, ids=_ids())
@given(data=st.data())
def test_fuzz(ex, data):
    index = data.draw(st.integers(0, len(ex.params) - 1), label="params index")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    validate = data.draw(st.booleans(), label="validate")
    names = mutable_params(ex, index)
    modes = ["valid", "python"] + ["edge"] * 3 * bool(names) + ["wrong_shape"] * (len(names) >= 2)
    mutation = {"mode": data.draw(st.sampled_from(modes), label="mode")}
    if mutation["mode"] == "edge":
        labels = list(edge_values(dtype))
        mutation["name"] = data.draw(st.sampled_from(names), label="parameter")
        mutation["label"] = data.draw(st.sampled_from(labels), label="edge")
        mutation["value"] = edge_values(dtype)[mutation["label"]]
        mutation["placement"] = data.draw(st.sampled_from(["all", "one"]), label="placement")
        mutation["batch_shape"] = tuple(ex.build(index).batch_shape)
    elif mutation["mode"] == "wrong_shape":
        mutation["names"] = names[:2]
    value_kind = data.draw(st.sampled_from(VALUE_KINDS), label="value kind")
    edge_label = data.draw(st.sampled_from([*edge_values(dtype), "one"]), label="value edge")
    shape_kind = data.draw(st.sampled_from(SHAPE_KINDS), label="shape kind")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    failures = run_probe(
        ex, index, dtype, validate, mutation, seed, value_kind, edge_label, shape_kind
    )
    if failures and not COLLECT:
        raise AssertionError("\n".join(failures))


def test_a_hang_is_a_failure_not_a_hang(monkeypatch):
    import fuzz_harness

    monkeypatch.setattr(fuzz_harness, "TIME_LIMIT", 0.2)
    with pytest.raises(fuzz_harness.Timeout):
        call_with_limit(__import__("time").sleep, 5)


def test_an_error_from_inside_torch_is_a_failure():
    try:
        torch.zeros(2) + torch.zeros(3)
    except RuntimeError as exc:
        assert classify_error(exc, {"Normal"}, None)[0] == "fail"
    else:
        raise AssertionError("torch broadcast shapes (2,) and (3,)")


def test_a_clear_error_must_name_the_distribution_and_the_parameter():
    import aleatorch as D

    try:
        D.Normal(0.0, -1.0)
    except ValueError as exc:
        assert classify_error(exc, {"Normal"}, "scale") == ("clear", "")
        assert classify_error(exc, {"Gamma"}, "scale")[0] == "fail"
        assert classify_error(exc, {"Normal"}, "loc")[0] == "fail"


def test_every_known_defect_names_a_family_a_method_and_an_input_kind():
    import fuzz_harness

    families = {ex.cls.__name__ for ex in EXAMPLES}
    for (family, method, kind), reason in fuzz_harness.KNOWN_DEFECTS.items():
        assert family in families, family
        assert method in fuzz_harness.METHODS or method == "__init__", method
        assert "=" in kind and kind != "any", kind  # never a blanket entry
        assert "issue 10" in reason, reason
