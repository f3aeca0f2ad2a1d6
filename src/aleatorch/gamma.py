"""Twin of ``torch.distributions.gamma``: re-exports ``Gamma``."""

from .distributions.gamma import Gamma

__all__ = ["Gamma"]
