"""Twin of ``torch.distributions.binomial``: re-exports ``Binomial``."""

from .distributions.binomial import Binomial

__all__ = ["Binomial"]
