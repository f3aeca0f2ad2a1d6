"""Special functions aleatorch needs and torch lacks (or gets wrong in the tails)."""

from .logspace import log1mexp, ndtr_accurate, softplus
from .xlogy import x_log1p_y, x_log_y

__all__ = ["log1mexp", "ndtr_accurate", "softplus", "x_log1p_y", "x_log_y"]
