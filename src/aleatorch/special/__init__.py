"""Special functions aleatorch needs and torch lacks (or gets wrong in the tails)."""

from .incomplete_beta import betainc, betaincc, log_betainc
from .incomplete_beta_inverse import betainccinv, betaincinv
from .incomplete_gamma import (
    gammainc,
    gammaincc,
    gammainccinv,
    gammaincinv,
    log_gammainc,
    log_gammaincc,
)
from .logspace import log1mexp, ndtr_accurate, softplus
from .stirling import bd0, lbeta, log1pmx, log_minus_digamma, stirlerr
from .xlogy import x_log1p_y, x_log_y

__all__ = [
    "betainc",
    "betaincc",
    "betainccinv",
    "betaincinv",
    "log_betainc",
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "log_gammainc",
    "log_gammaincc",
    "log1mexp",
    "bd0",
    "lbeta",
    "log1pmx",
    "log_minus_digamma",
    "stirlerr",
    "ndtr_accurate",
    "softplus",
    "x_log1p_y",
    "x_log_y",
]
