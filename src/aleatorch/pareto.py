"""Twin of ``torch.distributions.pareto``: re-exports ``Pareto``."""

from .distributions.pareto import Pareto

__all__ = ["Pareto"]
