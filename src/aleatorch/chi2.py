"""Twin of ``torch.distributions.chi2``: re-exports ``Chi2``."""

from .distributions.chi2 import Chi2

__all__ = ["Chi2"]
