"""aleatorch: probability distributions for PyTorch.

A drop-in for ``torch.distributions``::

    import aleatorch as D   # where you wrote: import torch.distributions as D

Every public name is listed here, in one place.
"""

from . import constraints, kl, utils
from .distribution import Distribution, validation
from .distributions.bernoulli import Bernoulli
from .distributions.binomial import Binomial
from .distributions.categorical import Categorical
from .distributions.normal import Normal
from .distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .distributions.poisson import Poisson
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

__version__ = "0.1.0"

set_default_validate_args = Distribution.set_default_validate_args

__all__ = [
    "AleatorchError",
    "Bernoulli",
    "Binomial",
    "Categorical",
    "DeviceError",
    "Distribution",
    "ExponentialFamily",
    "MethodNotImplementedError",
    "NoRsampleError",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "ParameterError",
    "Poisson",
    "ShapeError",
    "SupportError",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
    "set_default_validate_args",
    "utils",
    "validation",
]
