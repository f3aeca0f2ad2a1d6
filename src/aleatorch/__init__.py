"""aleatorch: probability distributions for PyTorch.

A drop-in for ``torch.distributions``::

    import aleatorch as D   # where you wrote: import torch.distributions as D

Every public name is listed here, in one place.
"""

from . import constraint_registry, constraints, kl, transforms, utils
from .constraint_registry import biject_to, transform_to
from .distribution import Distribution, validation
from .distributions import cross_kl as _cross_kl  # noqa: F401  (registers cross-family KL)
from .distributions import transformed_kl as _transformed_kl  # noqa: F401  (registers KL pairs)
from .distributions.bernoulli import Bernoulli
from .distributions.beta import Beta
from .distributions.binomial import Binomial
from .distributions.categorical import Categorical
from .distributions.dirichlet import Dirichlet
from .distributions.exponential import Exponential
from .distributions.gamma import Gamma
from .distributions.gumbel import Gumbel
from .distributions.half_cauchy import HalfCauchy
from .distributions.half_normal import HalfNormal
from .distributions.inverse_gamma import InverseGamma
from .distributions.kumaraswamy import Kumaraswamy
from .distributions.laplace import Laplace
from .distributions.log_normal import LogNormal
from .distributions.logistic_normal import LogisticNormal
from .distributions.multivariate_normal import MultivariateNormal
from .distributions.normal import Normal
from .distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .distributions.pareto import Pareto
from .distributions.poisson import Poisson
from .distributions.relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .distributions.relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .distributions.uniform import Uniform
from .distributions.weibull import Weibull
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
    "ExpRelaxedCategorical",
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "Independent",
    "InverseGamma",
    "Kumaraswamy",
    "Laplace",
    "LogNormal",
    "LogisticNormal",
    "LogitRelaxedBernoulli",
    "MethodNotImplementedError",
    "MultivariateNormal",
    "NoRsampleError",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "ParameterError",
    "Pareto",
    "Poisson",
    "RelaxedBernoulli",
    "RelaxedOneHotCategorical",
    "ShapeError",
    "SupportError",
    "TransformedDistribution",
    "Uniform",
    "Weibull",
    "biject_to",
    "constraint_registry",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
    "set_default_validate_args",
    "transform_to",
    "transforms",
    "utils",
    "validation",
    *_transforms_all,
]
