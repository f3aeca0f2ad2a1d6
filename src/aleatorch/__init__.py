"""aleatorch: probability distributions for PyTorch.

A drop-in for ``torch.distributions``::

    import aleatorch as D   # where you wrote: import torch.distributions as D

Every public name is listed here, in one place.
"""

from . import constraints, kl, transforms, utils
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
from .distributions.log_normal import LogNormal
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
from .transforms import *  # noqa: F403
from .transforms import __all__ as _transforms_all
from .wrappers.independent import Independent
from .wrappers.transformed import TransformedDistribution

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
    "LogNormal",
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
    "TransformedDistribution",
    "Uniform",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
    "set_default_validate_args",
    "transforms",
    "utils",
    "validation",
    *_transforms_all,
]
