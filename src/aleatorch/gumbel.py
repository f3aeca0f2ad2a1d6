"""Twin of ``torch.distributions.gumbel``: re-exports ``Gumbel``."""

from .distributions.gumbel import Gumbel

__all__ = ["Gumbel"]
