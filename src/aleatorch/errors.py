"""Exception types and the formatting of kind error messages.

Every error raised for bad input subclasses the built-in exception a torch user already
catches (``ValueError`` or ``NotImplementedError``) and names the distribution, the parameter
or value, the rule in words, how many entries break it and the first few of them.
"""

from __future__ import annotations

import torch

__all__ = [
    "AleatorchError",
    "ParameterError",
    "SupportError",
    "ShapeError",
    "DeviceError",
    "NoRsampleError",
    "MethodNotImplementedError",
    "describe_violation",
]

MAX_SHOWN = 3
MAX_MATRIX = 6  # rows and columns of a matrix-valued entry shown in a message
NAN_HINT = "NaN usually comes from an earlier computation, e.g. a diverging optimizer step"


class AleatorchError(Exception):
    """Base class of every aleatorch exception."""


class ParameterError(AleatorchError, ValueError):
    """A distribution parameter breaks its constraint (or both/neither of a pair was given)."""


class SupportError(AleatorchError, ValueError):
    """A value given to ``log_prob``/``cdf``/... lies outside the distribution's support."""


class ShapeError(AleatorchError, ValueError):
    """A value's shape does not fit ``batch_shape`` and ``event_shape``."""


class DeviceError(AleatorchError, ValueError):
    """Parameters live on different devices."""


class NoRsampleError(AleatorchError, NotImplementedError):
    """``rsample`` was called on a distribution without a reparameterized sampler."""


class MethodNotImplementedError(AleatorchError, NotImplementedError):
    """A method is not available for this distribution."""


def _format_number(x: float) -> str:
    return f"{x:.6g}"


def _format_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _format_entry(entry: torch.Tensor) -> str:
    if entry.dim() == 0:
        return _format_number(entry.item())
    flat = entry.detach().reshape(-1).tolist()
    shown = ", ".join(_format_number(v) for v in flat[:6])
    more = ", ..." if len(flat) > 6 else ""
    return f"[{shown}{more}]"


def _format_matrix(matrix: torch.Tensor, indent: str) -> str:
    """A matrix one row a line, columns aligned, cut to ``MAX_MATRIX`` rows and columns."""
    rows, cols = matrix.shape
    cells = [[_format_number(v) for v in row[:MAX_MATRIX]] for row in matrix[:MAX_MATRIX].tolist()]
    width = max((len(c) for row in cells for c in row), default=0)
    more_cols = ", ..." if cols > MAX_MATRIX else ""
    lines = ["[" + ", ".join(c.rjust(width) for c in row) + more_cols + "]" for row in cells]
    if rows > MAX_MATRIX:
        lines.append("...")
    return indent + "[" + (",\n" + indent + " ").join(lines) + "]"


def _format_offender(name: str, index: tuple[int, ...], entry: torch.Tensor) -> str:
    """``  name[index] = entry``; a matrix (an entry of event_dim 2) goes on the lines below."""
    head = f"  {name}{_format_index(index)} ="
    if entry.dim() == 2:
        return f"{head}\n{_format_matrix(entry, '    ')}"
    return f"{head} {_format_entry(entry)}"


def describe_violation(
    owner: str,
    what: str,
    name: str,
    rule: str,
    value: torch.Tensor,
    ok: torch.Tensor,
    event_dim: int | None = None,
) -> str:
    """Build the message for a tensor some of whose entries break a rule.

    Args:
        owner: the distribution's name, e.g. ``"Normal"``.
        what: ``"parameter"`` or ``"value"``.
        name: the parameter's name, e.g. ``"scale"``.
        rule: the rule in plain words, e.g. ``"positive (> 0)"``.
        value: the offending tensor.
        ok: boolean tensor, ``value.shape[:value.dim() - event_dim]``, True where valid.
        event_dim: the rule's event dimensions; when given, ``value`` may broadcast against
            ``ok`` (a scalar value checked against a batched support).

    Entries of event_dim 2 (covariance matrices, Cholesky factors) are shown as matrices,
    summarized to at most ``MAX_MATRIX`` rows and columns.
    """
    value = value.detach()
    ok = ok.detach().to(device="cpu")
    if event_dim is not None:
        split = value.dim() - event_dim
        batch = torch.broadcast_shapes(ok.shape, value.shape[:split])
        value, ok = value.expand(batch + value.shape[split:]), ok.expand(batch)
    event_dim = value.dim() - ok.dim()
    bad = (~ok).nonzero().tolist()
    total = ok.numel()
    label = f"{what} '{name}'" if what == "parameter" else f"{name}"
    entries = value.cpu()
    event_nan = torch.isnan(entries)
    if event_dim:
        event_nan = event_nan.flatten(-event_dim).any(-1)
    if bad and all(bool(event_nan[tuple(i)]) for i in bad):
        where = ", ".join(_format_index(tuple(i)) for i in bad[:MAX_SHOWN])
        more = f" and {len(bad) - MAX_SHOWN} more" if len(bad) > MAX_SHOWN else ""
        if ok.dim() == 0:
            nan = "contains NaN" if event_dim else "is NaN"  # a vector or matrix: some entry
            return f"{owner}: {label} {nan} ({NAN_HINT})"
        return f"{owner}: {label} contains NaN at {where}{more} ({NAN_HINT})"
    if ok.dim() == 0 and event_dim == 2:
        return f"{owner}: {label} must be {rule}, but it is:\n{_format_matrix(entries, '  ')}"
    if ok.dim() == 0:
        return f"{owner}: {label} must be {rule}, but it is {_format_entry(entries)}"
    verb = "is" if len(bad) == 1 else "are"
    lines = [f"{owner}: {label} must be {rule}, but {len(bad)} of {total} entries {verb} not:"]
    for index in bad[:MAX_SHOWN]:
        lines.append(_format_offender(name, tuple(index), entries[tuple(index)]))
    if len(bad) > MAX_SHOWN:
        lines.append(f"  ... and {len(bad) - MAX_SHOWN} more")
    return "\n".join(lines)


def foreign_hint(obj: object) -> str:
    """A sentence to append when ``obj`` comes from torch.distributions, else ``""``.

    aleatorch and torch.distributions objects do not mix (a torch ``Categorical`` given to
    an aleatorch ``MixtureSameFamily``); this usually means the code that built ``obj`` was
    imported before ``aleatorch.install()``.
    """
    kind = obj if isinstance(obj, type) else type(obj)
    origin = next((c for c in kind.__mro__ if c.__module__.startswith("torch.distributions")), None)
    if origin is None:
        return ""
    return (
        f" It is torch.distributions' {origin.__name__}, and aleatorch and "
        f"torch.distributions objects do not mix: build it with aleatorch "
        f"({origin.__name__} has the same name there), or call aleatorch.install() before "
        "importing the code that builds it."
    )
