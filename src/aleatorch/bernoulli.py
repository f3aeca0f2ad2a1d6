"""Twin of ``torch.distributions.bernoulli``: re-exports ``Bernoulli``."""

from .distributions.bernoulli import Bernoulli

__all__ = ["Bernoulli"]
