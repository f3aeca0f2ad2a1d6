"""Log-space helpers accurate near 0 and in the tails."""

from __future__ import annotations

import math

import torch

from ..special.compile_safe import expm1

_LOG_HALF = -math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate for x near 0 and for x very negative.

    Uses ``log(-expm1(x))`` for ``x > -log 2`` and ``log1p(-exp(x))`` below (Maechler 2012,
    "Accurately computing log(1 - exp(-|a|))").
    """
    # Each branch sees its argument clamped to its own side: the unused one stays finite and
    # passes no gradient (no 0 * inf = NaN at x = 0), at the cost of a clamp, not a where.
    near = torch.log(-expm1(x.clamp(min=_LOG_HALF)))
    far = torch.log1p(-torch.exp(x.clamp(max=_LOG_HALF)))
    return torch.where(x > _LOG_HALF, near, far)


def ndtr_accurate(x: torch.Tensor) -> torch.Tensor:
    """Standard normal cdf ``Phi(x)`` with full relative accuracy in the lower tail.

    ``torch.special.ndtr`` computes ``0.5 * (1 + erf(x / sqrt 2))`` which is 0 below -8 or so;
    ``0.5 * erfc(-x / sqrt 2)`` keeps the relative accuracy there.
    """
    return 0.5 * torch.special.erfc(-x * _SQRT_HALF)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))`` to full precision in every dtype.

    ``F.softplus`` returns ``x`` above 20, which is exact in float32 but costs up to ~5e5 eps in
    float64; ``logaddexp(x, 0)`` is exact there.
    """
    if x.dtype == torch.float64:
        return torch.logaddexp(x, x.new_zeros(()))
    return torch.nn.functional.softplus(x)


# 1 / k! for k = 2..19: the series of expm1(x) - x, to below float64 rounding for |x| <= 1/2.
_EXPM1MX_COEFFICIENTS = [1.0 / math.factorial(k) for k in range(19, 1, -1)]


def expm1mx(x: torch.Tensor) -> torch.Tensor:
    """``exp(x) - 1 - x``, accurate where it is tiny (``x**2 / 2`` near 0; subtracting ``x``
    from ``expm1(x)`` there loses the digits).

    A fixed-length Taylor series (Horner) for ``|x| <= 1/2``, ``expm1(x) - x`` beyond.
    """
    small = x.abs() <= 0.5
    t = torch.where(small, x, torch.zeros_like(x))
    series = torch.zeros_like(x)
    for c in _EXPM1MX_COEFFICIENTS:
        series = series * t + c
    return torch.where(small, series * t * t, expm1(x) - x)


def log_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(a / b)`` for positive ``a``, ``b``: to full relative precision when ``a`` is
    close to ``b`` (``log1p((a - b) / b)``: the difference is exact there), and without
    overflow or underflow of the ratio when they are far apart (``log a - log b``)."""
    close = (a - b).abs() <= 0.5 * b
    near = torch.log1p(torch.where(close, (a - b) / b, torch.zeros_like(a)))
    far = (
        torch.where(close, torch.ones_like(a), a).log()
        - torch.where(close, torch.ones_like(b), b).log()
    )
    return torch.where(close, near, far)
