"""Log-space helpers accurate near 0 and in the tails."""

from __future__ import annotations

import math

import torch

_LOG_HALF = -math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate for x near 0 and for x very negative.

    Uses ``log(-expm1(x))`` for ``x > -log 2`` and ``log1p(-exp(x))`` below (Maechler 2012,
    "Accurately computing log(1 - exp(-|a|))").
    """
    return torch.where(
        x > _LOG_HALF,
        torch.log(-torch.expm1(x)),
        torch.log1p(-torch.exp(x)),
    )


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
