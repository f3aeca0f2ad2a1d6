"""Worst error of each transform's log_abs_det_jacobian against autograd (float64).

Runs over the transform registry of the test suite (``tests/transform_examples*.py``): for
every example and batch shape, the log |det| of ``torch.autograd.functional.jacobian`` of the
free coordinates, event by event, against ``log_abs_det_jacobian``. Prints one line per
transform class. Run: ``python scripts/transform_ladj_errors.py``.
"""

from __future__ import annotations

import pathlib
import sys
from collections import defaultdict

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from transform_examples import TRANSFORM_EXAMPLES  # noqa: E402


def _errors(ex, shape, max_events: int = 6) -> list[float]:
    t = ex.make(0)
    x = ex.draw_x(shape, torch.Generator().manual_seed(0))
    y = t(x)
    x = x.expand(torch.broadcast_shapes(x.shape, t.inverse_shape(y.shape)))
    ladj = t.log_abs_det_jacobian(x, y)
    to_x = ex.to_coords_x or (lambda v: v.reshape(-1))
    to_y = ex.to_coords_y or (lambda v: v.reshape(-1))
    event_ndim = t.domain.event_dim
    events = x.reshape((-1,) + x.shape[x.dim() - event_ndim :])
    out = []
    for i in range(min(len(events), max_events)):
        index = (
            tuple(int(j) for j in torch.unravel_index(torch.tensor(i), ladj.shape))
            if ladj.dim()
            else ()
        )

        def f(v, index=index, event_shape=events[i].shape):
            full = x.clone()
            full[index] = ex.from_coords_x(v) if ex.from_coords_x else v.reshape(event_shape)
            return to_y(t(full)[index])

        jac = torch.autograd.functional.jacobian(f, to_x(events[i]))
        out.append(abs(float(torch.linalg.slogdet(jac).logabsdet - ladj[index])))
    return out


def main() -> None:
    worst: dict[str, float] = defaultdict(float)
    for ex in TRANSFORM_EXAMPLES:
        if not ex.ladj:
            continue
        name = type(ex.make(0)).__name__
        for shape in ex.batch_shapes:
            worst[name] = max([worst[name], *_errors(ex, shape)])
    width = max(len(n) for n in worst)
    print(f"{'transform':<{width}} | worst |log-det - autograd| (float64)")
    for name in sorted(worst):
        print(f"{name:<{width}} | {worst[name]:.2e}")
    print(f"{len(worst)} transform classes with a log-det checked")


if __name__ == "__main__":
    main()
