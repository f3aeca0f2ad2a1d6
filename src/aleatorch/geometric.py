"""Twin of ``torch.distributions.geometric``: re-exports ``Geometric``."""

from .distributions.geometric import Geometric

__all__ = ["Geometric"]
