"""Twin of ``torch.distributions.cauchy``: re-exports ``Cauchy``."""

from .distributions.cauchy import Cauchy

__all__ = ["Cauchy"]
