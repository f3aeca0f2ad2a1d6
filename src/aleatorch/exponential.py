"""Twin of ``torch.distributions.exponential``: re-exports ``Exponential``."""

from .distributions.exponential import Exponential

__all__ = ["Exponential"]
