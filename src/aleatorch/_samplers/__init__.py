"""Sampling algorithms too long (or too shared) to live in the distribution files."""

from .draws import standard_exponential
from .gamma import log_standard_gamma, standard_gamma
from .implicit import beta_implicit_gradients, implicit_beta, implicit_dirichlet

__all__ = [
    "beta_implicit_gradients",
    "implicit_beta",
    "implicit_dirichlet",
    "log_standard_gamma",
    "standard_exponential",
    "standard_gamma",
]
