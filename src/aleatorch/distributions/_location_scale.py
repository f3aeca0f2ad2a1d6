"""Shared pieces of families parametrized by a location and a scale."""

from __future__ import annotations

from typing import Any

import torch

from ..utils import as_params


class SymmetricLocationScale:
    """Mixin for a family symmetric and unimodal about ``loc``, with a ``scale > 0``.

    Stores the two parameters (promoted and broadcast as views) and gives ``mean``, ``mode``
    and ``median``, which all equal ``loc``. Each family writes its own ``__init__`` (so its
    signature and TypeErrors name it) and calls :meth:`_set_location_scale` there.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def _set_location_scale(self, loc: Any, scale: Any) -> None:
        """Store ``loc`` and ``scale`` as tensors of one dtype and device, broadcast as views."""
        self.loc, self.scale = as_params(loc, scale, owner=type(self).__name__)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def median(self) -> torch.Tensor:
        return self.loc
