"""``c * log(y)`` and ``c * log1p(y)`` with ``0 * log 0 = 0``, fast at every size."""

from __future__ import annotations

import math

import torch

__all__ = ["log_floor", "x_log1p_y", "x_log_y"]

# Below this many entries the fused xlogy/xlog1py win (Python overhead dominates); above it
# the two vectorized passes of _times_log do (xlogy is ~15x slower than log per entry on CPU).
_FUSED_BELOW = 4096


def _times_log(coefficient: torch.Tensor, log_value: torch.Tensor) -> torch.Tensor:
    """``coefficient * log_value`` with ``0 * log 0 = 0``, reusing ``log_value``'s memory.

    Does what ``xlogy(c, x)`` does for ``log_value = log(x)`` (or ``log1p(-x)``, unlike
    ``xlog1py`` which is not vectorized on CPU) in two cheap passes: where ``c = 0`` the log
    is floored at ``-max`` so the product is 0, and its derivative in ``c`` stays the log.
    """
    floor = log_floor(coefficient)
    if _broadcasts_into(coefficient.shape, log_value.shape):
        return log_value.clamp_(min=floor).mul_(coefficient)
    return torch.clamp(log_value, min=floor).mul_(coefficient)


def log_floor(coefficient: torch.Tensor) -> torch.Tensor:
    """The floor of :func:`_times_log`: ``-max`` where ``coefficient = 0``, else ``-inf``
    (parameter-only: a distribution may keep it for its next calls)."""
    finite = -torch.finfo(coefficient.dtype).max
    return torch.full_like(coefficient, -math.inf).masked_fill_(coefficient == 0, finite)


def _broadcasts_into(small: torch.Size, big: torch.Size) -> bool:
    """Whether ``small`` broadcasts to ``big`` unchanged (so ``big`` can be updated in place)."""
    return len(small) <= len(big) and all(
        s == 1 or s == b for s, b in zip(reversed(small), reversed(big))
    )


def x_log_y(coefficient: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``coefficient * log(y)`` with ``0 * log 0 = 0``, like ``torch.special.xlogy``.

    Small inputs go to ``xlogy`` itself; large ones to a log and a multiply, several times
    faster on CPU. Both give the same values, and the same gradients wherever ``y > 0``: in
    ``coefficient`` it is ``log(y)``, also at ``coefficient = 0``. At ``y = 0`` the gradient
    in ``coefficient`` (mathematically ``-inf``) is 0 for small inputs and ``-finfo.max``
    for large ones.

    Args:
        coefficient: the factor, broadcastable with ``y``.
        y: where to take the log, ``y >= 0``.

    Returns:
        The product, of the broadcast shape.
    """
    if y.numel() < _FUSED_BELOW:
        return torch.special.xlogy(coefficient, y)
    return _times_log(coefficient, torch.log(y))


def x_log1p_y(coefficient: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``coefficient * log1p(y)`` with ``0 * log 0 = 0``, like ``torch.special.xlog1py``.

    The same two paths as :func:`x_log_y` (``xlog1py`` is not vectorized on CPU), with the
    same gradients wherever ``y > -1``; at ``y = -1`` see :func:`x_log_y`.

    Args:
        coefficient: the factor, broadcastable with ``y``.
        y: where to take ``log1p``, ``y >= -1``.

    Returns:
        The product, of the broadcast shape.
    """
    if y.numel() < _FUSED_BELOW:
        return torch.special.xlog1py(coefficient, y)
    return _times_log(coefficient, torch.log1p(y))
