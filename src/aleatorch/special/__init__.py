"""Special functions aleatorch needs and torch lacks (or gets wrong in the tails)."""

from .bessel import log_ive
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
from .normal import log_ndtr, ndtri, ndtri_exp
from .owens_t import owens_t
from .stirling import bd0, lbeta, log1pmx, log_minus_digamma, stirlerr
from .student_t import log_stdtr, stdtr, stdtrit
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
    "log_ndtr",
    "ndtri",
    "ndtri_exp",
    "log_stdtr",
    "stdtr",
    "stdtrit",
    "owens_t",
    "log_ive",
]
