"""Transforms: bijections with log-det-Jacobians, torch.distributions.transforms' names.

See ``docs/design.md`` ("Transforms") for the contract and how to add one.
"""

from ._base import (  # noqa: F401  (_InverseTransform: torch exports it too)
    ComposeTransform,
    Transform,
    _InverseTransform,
    identity_transform,
)
from ._elementwise import *  # noqa: F403
from ._elementwise import __all__ as _elementwise_all
from ._matrix import *  # noqa: F403
from ._matrix import __all__ as _matrix_all
from ._structural import *  # noqa: F403
from ._structural import __all__ as _structural_all

__all__ = sorted(
    ["ComposeTransform", "Transform", "identity_transform"]
    + _elementwise_all
    + _matrix_all
    + _structural_all
)
