"""log_prob, entropy, sample, rsample, rsample + backward on ~1M entries, every family.

Each registry Example (``tests/examples_*.py``) is batched up to about 1M entries: a leading
batch dimension repeats its parameters (materialised, so every entry is read). The
distributions are built once with validation on (so ``log_prob`` also checks its value, and
may reuse what an earlier call cached); ``rsample + backward`` builds them inside the timed
call from fresh leaves with validation off, since a new graph is needed each time.

Beside each case, the floor: for ``log_prob`` and ``entropy`` one read of every input
(parameters, and the value) and one write of the output; for the samplers the uniforms and
normals the family needs at least (``_registry.FLOORS``, listed in ``README.md``).

With ``--compiled``, ``log_prob`` and ``entropy`` are also timed compiled by
``torch.compile`` (inductor, ``fullgraph=True``, static shapes) on a distribution built with
validation off, beside the same method run eagerly on it: ``/compiled = eager / compiled``
(issue 11: at most 1.5). Each compile comes after ``torch._dynamo.reset()``; its time
(the warm-up calls' wall time) is in the note, not in the timings.
Run: ``python benchmarks/bench_large.py [--quick] [-k NAME] [--repeats N] [--device D]
[--json PATH] [--compiled]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from _harness import Case, parse_args, print_table, run_cases, save_json, setup
from _registry import (
    Spec,
    batched,
    families,
    float64_pair,
    floor_description,
    floor_op,
    leaves,
    with_fresh_leaves,
)


def _read_write(inputs: list[torch.Tensor], like: torch.Tensor) -> Callable[[], object]:
    """Read every input once (a reduction) and write an output of ``like``'s shape."""

    def floor() -> torch.Tensor:
        for t in inputs:
            t.sum()
        return torch.zeros_like(like)

    return floor


_LOSS_WEIGHTS: dict[tuple[torch.Size, torch.dtype], torch.Tensor] = {}


def _weighted_loss(x: torch.Tensor) -> torch.Tensor:
    """``(x * w).sum()`` with fixed random weights ``w`` of ``x``'s shape (one per shape, the
    same for both libraries): a plain ``x.sum()`` would make the backward of a family on the
    simplex (Dirichlet) degenerate, its gradient being identically zero."""
    key = (x.shape, x.dtype)
    if key not in _LOSS_WEIGHTS:
        generator = torch.Generator().manual_seed(1)
        _LOSS_WEIGHTS[key] = torch.rand(x.shape, dtype=x.dtype, generator=generator)
    return (x * _LOSS_WEIGHTS[key]).sum()


def _rsample_backward(spec: Spec, side: str = "ours") -> None:
    fresh, _ = with_fresh_leaves(spec)
    _weighted_loss(fresh.build(side, validate_args=False).rsample()).backward()


def _rsample_backward_torch(spec: Spec) -> None:
    _rsample_backward(spec, "torch")


def _compiled(d, method: str, *args: torch.Tensor) -> Callable[[], Callable[[], object]]:
    """Builds ``d.<method>(*args)`` compiled by inductor, in one graph."""

    def build() -> Callable[[], object]:
        fn = torch.compile(getattr(d, method), backend="inductor", fullgraph=True, dynamic=False)
        return lambda: fn(*args)

    return build


def _family_cases(label: str, spec: Spec, n: int, compiled: bool = False) -> list[Case]:
    big = batched(spec, n)
    ours = big.build("ours", validate_args=True)
    # --compiled: the same distribution without validation, eager and compiled
    off = big.build("ours", validate_args=False) if compiled else None
    torch_error = None
    try:
        theirs = big.build("torch", validate_args=True)
    except LookupError:  # torch has no such family: our times and floors only
        theirs = None
    except Exception as exc:  # noqa: BLE001  (torch rejects it: each row says so)
        theirs, torch_error = None, exc
    torch.manual_seed(0)
    try:
        value = ours.sample()
    except Exception:  # noqa: BLE001  (the sample row shows the error; torch's value will do)
        if theirs is None:
            raise
        value = theirs.sample()
    shape = "x".join(str(s) for s in ours.batch_shape + ours.event_shape)
    name = f"{label} {shape}"
    params = leaves(big, differentiable=False)
    dtype = value.dtype if value.is_floating_point() else torch.get_default_dtype()
    entropy_like = torch.zeros(ours.batch_shape)
    draws = floor_op(ours, dtype)
    words = floor_description(ours)

    def torch_side(fn: Callable[[object], object]) -> Callable[[], object] | None:
        if torch_error is not None:
            return _raise(torch_error)
        return None if theirs is None else (lambda: fn(theirs))

    out = [
        Case(
            f"{name} log_prob",
            lambda: ours.log_prob(value),
            torch_side(lambda d: d.log_prob(value)),
            floor=_read_write([*params, value], entropy_like),
            floor_note="read the parameters and the value, write the output",
            group="large log_prob",
            reference=lambda: float64_pair(big, "log_prob", value),
            compiled=_compiled(off, "log_prob", value) if compiled else None,
            compiled_eager=(lambda: off.log_prob(value)) if compiled else None,
        ),
        Case(
            f"{name} entropy",
            ours.entropy,
            torch_side(lambda d: d.entropy()),
            floor=_read_write(params, entropy_like),
            floor_note="read the parameters, write the output",
            group="large entropy",
            reference=lambda: float64_pair(big, "entropy"),
            compiled=_compiled(off, "entropy") if compiled else None,
            compiled_eager=off.entropy if compiled else None,
        ),
        Case(
            f"{name} sample",
            ours.sample,
            torch_side(lambda d: d.sample()),
            check="shape",
            floor=draws,
            floor_note=words,
            group="large sample",
        ),
    ]
    if not ours.has_rsample:
        return out
    torch_r = theirs is not None and theirs.has_rsample
    out.append(
        Case(
            f"{name} rsample",
            ours.rsample,
            (lambda: theirs.rsample()) if torch_r else None,
            check="shape",
            floor=draws,
            floor_note=words,
            group="large rsample",
        )
    )
    if leaves(big):  # something to differentiate
        out.append(
            Case(
                f"{name} rsample+backward",
                lambda: _rsample_backward(big),
                (lambda: _rsample_backward_torch(big)) if torch_r else None,
                check=None,
                floor=draws,
                floor_note=f"{words} (the backward pass has no floor of its own)",
                group="large rsample+backward",
            )
        )
    return out


def _raise(exc: Exception) -> Callable[[], object]:
    def raise_again() -> None:
        raise exc

    return raise_again


def _failing(label: str, exc: Exception) -> list[Case]:
    """A family whose setup fails on aleatorch's side: one error row."""
    return [Case(f"{label} setup", _raise(exc), None, group="large log_prob")]


def cases(n: int, compiled: bool = False) -> list[Case]:
    out = []
    for family in families():
        try:
            out += _family_cases(family.label, family.spec, n, compiled)
        except Exception as exc:  # noqa: BLE001  (an error row, not a crash)
            out += _failing(family.label, exc)
    return out


def main() -> None:
    opts = parse_args(__doc__.splitlines()[0], compiled=True)
    setup(opts.device, opts.max_memory_gb)
    if opts.compiled:
        # compile in this process: a pool of compile workers only competes for the cores
        torch._inductor.config.compile_threads = 1
    n = 1_000 if opts.quick else 1_000_000
    repeats = opts.repeats or (1 if opts.quick else 5)
    rows = run_cases(
        cases(n, opts.compiled),
        repeats=repeats,
        target_s=0.0 if opts.quick else 0.03,
        name_filter=opts.filter,
    )
    title = f"large tensors: every registry family batched to about {n} entries"
    print_table(title, rows, quick=opts.quick, compiled=opts.compiled)
    if opts.json:
        save_json(opts.json, "bench_large.py", title, rows, quick=opts.quick)


if __name__ == "__main__":
    main()
