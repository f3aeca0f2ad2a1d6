"""Twin of ``torch.distributions.multivariate_normal``: re-exports ``MultivariateNormal``."""

from .distributions.multivariate_normal import MultivariateNormal
from .distributions.multivariate_normal import _batch_mahalanobis as _batch_mahalanobis
from .distributions.multivariate_normal import _batch_mv as _batch_mv

__all__ = ["MultivariateNormal"]
