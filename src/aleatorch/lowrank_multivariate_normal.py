"""Twin of ``torch.distributions.lowrank_multivariate_normal`` (same public names)."""

from .distributions.low_rank_multivariate_normal import LowRankMultivariateNormal

__all__ = ["LowRankMultivariateNormal"]
