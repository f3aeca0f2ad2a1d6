"""Error measures of a computed value against an mpmath reference (shared by test modules)."""

from __future__ import annotations

import math

import mpmath
import torch


def log_error(ours: torch.Tensor, truth) -> float:
    """Error relative to max(1, |truth|) (log-densities, entropies); a truth beyond the
    dtype's range must come back as the infinity of its sign."""
    value = float(ours)
    if abs(truth) > torch.finfo(ours.dtype).max:
        assert value == math.copysign(math.inf, truth), (value, truth)
        return 0.0
    assert math.isfinite(value), (value, truth)
    return float(abs(mpmath.mpf(value) - truth) / max(1, abs(truth)))
