"""Twin of ``torch.distributions.negative_binomial``: re-exports ``NegativeBinomial``."""

from .distributions.negative_binomial import NegativeBinomial

__all__ = ["NegativeBinomial"]
