"""aleatorch: probability distributions for PyTorch.

A drop-in for ``torch.distributions``::

    import aleatorch as D   # where you wrote: import torch.distributions as D

Every public name is listed here, in one place.
"""

from . import constraints, kl, utils
from .distribution import Distribution, validation
from .distributions import cross_kl as _cross_kl  # noqa: F401  (registers cross-family KL)
from .distributions.bernoulli import Bernoulli
from .distributions.beta import Beta
from .distributions.binomial import Binomial
from .distributions.categorical import Categorical
from .distributions.dirichlet import Dirichlet
from .distributions.exponential import Exponential
from .distributions.gamma import Gamma
from .distributions.laplace import Laplace
from .distributions.multivariate_normal import MultivariateNormal
from .distributions.normal import Normal
from .distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .distributions.poisson import Poisson
from .distributions.uniform import Uniform
from .errors import (
    AleatorchError,
    DeviceError,
    MethodNotImplementedError,
    NoRsampleError,
    ParameterError,
    ShapeError,
    SupportError,
)
from .exp_family import ExponentialFamily
from .kl import kl_divergence, register_kl
from .wrappers.independent import Independent

__version__ = "0.1.0"

set_default_validate_args = Distribution.set_default_validate_args

__all__ = [
    "AleatorchError",
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "DeviceError",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "Independent",
    "Laplace",
    "MethodNotImplementedError",
    "MultivariateNormal",
    "NoRsampleError",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "ParameterError",
    "Poisson",
    "ShapeError",
    "SupportError",
    "Uniform",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
    "set_default_validate_args",
    "utils",
    "validation",
]
