"""Twin of ``torch.distributions.laplace``: re-exports ``Laplace``."""

from .distributions.laplace import Laplace

__all__ = ["Laplace"]
