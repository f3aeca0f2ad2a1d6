"""aleatorch: probability distributions for PyTorch.

A drop-in for ``torch.distributions``::

    import aleatorch as D   # where you wrote: import torch.distributions as D

Every public name is listed here, in one place.
"""

from . import constraint_registry, constraints, kl, transforms, utils
from ._install import install, is_installed, uninstall
from .constraint_registry import biject_to, transform_to
from .distribution import Distribution, validation
from .distributions import cross_kl as _cross_kl  # noqa: F401  (registers cross-family KL)
from .distributions import parity_discrete_kl as _parity_discrete_kl  # noqa: F401  (KL pairs)
from .distributions import same_family_kl as _same_family_kl  # noqa: F401  (KL pairs)
from .distributions import transformed_kl as _transformed_kl  # noqa: F401  (registers KL pairs)
from .distributions.bernoulli import Bernoulli
from .distributions.beta import Beta
from .distributions.binomial import Binomial
from .distributions.categorical import Categorical
from .distributions.cauchy import Cauchy
from .distributions.chi2 import Chi2
from .distributions.continuous_bernoulli import ContinuousBernoulli
from .distributions.dirichlet import Dirichlet
from .distributions.exponential import Exponential
from .distributions.fisher_snedecor import FisherSnedecor
from .distributions.gamma import Gamma
from .distributions.generalized_pareto import GeneralizedPareto
from .distributions.geometric import Geometric
from .distributions.gumbel import Gumbel
from .distributions.half_cauchy import HalfCauchy
from .distributions.half_normal import HalfNormal
from .distributions.inverse_gamma import InverseGamma
from .distributions.kumaraswamy import Kumaraswamy
from .distributions.laplace import Laplace
from .distributions.lkj_cholesky import LKJCholesky
from .distributions.log_normal import LogNormal
from .distributions.logistic_normal import LogisticNormal
from .distributions.low_rank_multivariate_normal import LowRankMultivariateNormal
from .distributions.multinomial import Multinomial
from .distributions.multivariate_normal import MultivariateNormal
from .distributions.negative_binomial import NegativeBinomial
from .distributions.normal import Normal
from .distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .distributions.pareto import Pareto
from .distributions.poisson import Poisson
from .distributions.relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .distributions.relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .distributions.student_t import StudentT
from .distributions.uniform import Uniform
from .distributions.von_mises import VonMises
from .distributions.weibull import Weibull
from .distributions.wishart import Wishart
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
from .wrappers.mixture_same_family import MixtureSameFamily
from .wrappers.transformed import TransformedDistribution

__version__ = "0.1.0"

set_default_validate_args = Distribution.set_default_validate_args

__all__ = [
    "AleatorchError",
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "ContinuousBernoulli",
    "DeviceError",
    "Dirichlet",
    "Distribution",
    "ExpRelaxedCategorical",
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "Geometric",
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
    "Multinomial",
    "MultivariateNormal",
    "NegativeBinomial",
    "LowRankMultivariateNormal",
    "MixtureSameFamily",
    "VonMises",
    "Wishart",
    "LKJCholesky",
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
    "Cauchy",
    "Chi2",
    "FisherSnedecor",
    "GeneralizedPareto",
    "StudentT",
    "Uniform",
    "Weibull",
    "biject_to",
    "constraint_registry",
    "constraints",
    "install",
    "is_installed",
    "kl",
    "kl_divergence",
    "register_kl",
    "set_default_validate_args",
    "transform_to",
    "transforms",
    "uninstall",
    "utils",
    "validation",
    *_transforms_all,
]
