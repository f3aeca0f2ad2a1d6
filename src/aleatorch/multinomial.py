"""Twin of ``torch.distributions.multinomial``: re-exports ``Multinomial``."""

from .distributions.multinomial import Multinomial

__all__ = ["Multinomial"]
