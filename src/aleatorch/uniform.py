"""Twin of ``torch.distributions.uniform``: re-exports ``Uniform``."""

from .distributions.uniform import Uniform

__all__ = ["Uniform"]
