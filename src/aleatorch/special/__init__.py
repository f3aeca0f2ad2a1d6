"""Special functions aleatorch needs and torch lacks (or gets wrong in the tails)."""

from .logspace import log1mexp, log_ndtr_complement, ndtr_accurate, softplus, xlogy_safe

__all__ = ["log1mexp", "log_ndtr_complement", "ndtr_accurate", "softplus", "xlogy_safe"]
