"""Twin of ``torch.distributions.poisson``: re-exports ``Poisson``."""

from .distributions.poisson import Poisson

__all__ = ["Poisson"]
