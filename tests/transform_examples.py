"""The registry of example transforms that the generic transform suite runs.

Each :class:`TransformExample` builds a transform (float64 parameters) and draws inputs in
its domain. The generic suite (``test_transforms.py``) checks every example: round trip,
``log_abs_det_jacobian`` against the autograd Jacobian, ``sign`` against the derivative,
images in the codomain, ``forward_shape``/``inverse_shape``, the value-and-log-det hooks,
caching, equality, pickling and float32. A new transform gets its coverage by adding an
example in the ``transform_examples_*.py`` file of its group.

For a transform whose input or output is not a flat vector of free coordinates (a simplex,
a Cholesky factor), ``to_coords_x``/``from_coords_x``/``to_coords_y`` give the square
parametrization in which its log-det is defined (e.g. the strictly lower triangle of a
correlation Cholesky factor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _flatten_event(event_dim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda t: t.reshape(-1) if event_dim else t.reshape(1)


@dataclass
class TransformExample:
    """One transform, and how to draw inputs in its domain.

    Attributes:
        name: the test id.
        make: ``cache_size -> transform`` (float64 parameters).
        draw_x: ``(batch_shape, generator) -> x``, float64, in the domain, of shape
            ``batch_shape + event shape of an input``.
        batch_shapes: the batch shapes the suite draws inputs of.
        to_coords_x: one input event -> the vector of its free coordinates.
        from_coords_x: that vector -> one input event (the inverse of ``to_coords_x``).
        to_coords_y: one output event -> the vector of its free coordinates.
        rtol, atol: float64 tolerances (round trip, log-det against autograd).
        float32_atol: tolerance of float32 outputs against float64 (on the outputs' scale).
        ladj: whether the transform has a log-det (torch's PositiveDefiniteTransform has none).
        bijective_tests: whether to run the inverse checks.
    """

    name: str
    make: Callable[[int], Any]
    draw_x: Callable[[tuple[int, ...], torch.Generator], torch.Tensor]
    batch_shapes: tuple[tuple[int, ...], ...] = ((), (3,), (2, 3))
    to_coords_x: Callable[[torch.Tensor], torch.Tensor] | None = None
    from_coords_x: Callable[[torch.Tensor], torch.Tensor] | None = None
    to_coords_y: Callable[[torch.Tensor], torch.Tensor] | None = None
    rtol: float = 1e-9
    atol: float = 1e-9
    float32_atol: float = 1e-5
    ladj: bool = True
    bijective_tests: bool = True


def normal_x(event_shape: tuple[int, ...] = (), scale: float = 2.0):
    """Inputs on the real line (standard normal draws times ``scale``)."""

    def draw(batch_shape, generator):
        shape = tuple(batch_shape) + tuple(event_shape)
        return scale * torch.randn(shape, generator=generator, dtype=torch.float64)

    return draw


def uniform_x(low: float, high: float, event_shape: tuple[int, ...] = ()):
    """Inputs uniform on ``(low, high)``."""

    def draw(batch_shape, generator):
        shape = tuple(batch_shape) + tuple(event_shape)
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return low + (high - low) * u

    return draw


def _collect() -> list[TransformExample]:
    from transform_examples_elementwise import EXAMPLES as elementwise
    from transform_examples_matrix import EXAMPLES as matrix
    from transform_examples_structural import EXAMPLES as structural

    return elementwise + structural + matrix


TRANSFORM_EXAMPLES: list[TransformExample] = _collect()
