"""Shared pieces of families parametrized by a location and a scale."""

from __future__ import annotations

from typing import Any

import torch

from ..utils import as_params


class SymmetricLocationScale:
    """Mixin for a family symmetric and unimodal about ``loc``, with a ``scale > 0``.

    Stores the two parameters (promoted and broadcast as views) and gives ``mean``, ``mode``
    and ``median``, which all equal ``loc``.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = as_params(loc, scale, owner=type(self).__name__)
        super().__init__(self.loc.shape, validate_args=validate_args)  # type: ignore[call-arg]

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def median(self) -> torch.Tensor:
        return self.loc
