"""Twin of ``torch.distributions.von_mises``: re-exports ``VonMises``."""

from .distributions.von_mises import VonMises

__all__ = ["VonMises"]
