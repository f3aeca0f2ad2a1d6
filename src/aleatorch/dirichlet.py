"""Twin of ``torch.distributions.dirichlet``: re-exports ``Dirichlet``."""

from .distributions.dirichlet import Dirichlet

__all__ = ["Dirichlet"]
