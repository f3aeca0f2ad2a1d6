"""Special functions aleatorch needs and torch lacks (or gets wrong in the tails)."""

from .logspace import log1mexp, ndtr_accurate, softplus

__all__ = ["log1mexp", "ndtr_accurate", "softplus"]
