"""Helpers shared by the constructors of the distribution classes."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ParameterError
from ..utils import as_params


def probs_or_logits(owner: str, probs: Any, logits: Any) -> tuple[str, torch.Tensor]:
    """Return ``("probs", tensor)`` or ``("logits", tensor)``: exactly one must be given."""
    if (probs is None) == (logits is None):
        given = "both were" if probs is not None else "neither was"
        raise ParameterError(f"{owner}: give exactly one of 'probs' or 'logits', but {given} given")
    if probs is not None:
        return "probs", as_params(probs, owner=owner)[0]
    return "logits", as_params(logits, owner=owner)[0]
