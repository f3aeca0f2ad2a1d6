"""Twin of ``torch.distributions.wishart``: re-exports ``Wishart``."""

from .distributions.wishart import Wishart

__all__ = ["Wishart"]
