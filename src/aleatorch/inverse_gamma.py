"""Twin of ``torch.distributions.inverse_gamma``: re-exports ``InverseGamma``."""

from .distributions.inverse_gamma import InverseGamma

__all__ = ["InverseGamma"]
