"""Twin of ``torch.distributions.categorical``: re-exports ``Categorical``."""

from .distributions.categorical import Categorical

__all__ = ["Categorical"]
