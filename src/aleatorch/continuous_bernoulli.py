"""Twin of ``torch.distributions.continuous_bernoulli``: re-exports ``ContinuousBernoulli``."""

from .distributions.continuous_bernoulli import ContinuousBernoulli

__all__ = ["ContinuousBernoulli"]
