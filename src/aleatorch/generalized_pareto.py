"""Twin of ``torch.distributions.generalized_pareto``: re-exports ``GeneralizedPareto``."""

from .distributions.generalized_pareto import GeneralizedPareto

__all__ = ["GeneralizedPareto"]
