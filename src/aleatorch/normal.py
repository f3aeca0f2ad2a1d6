"""Twin of ``torch.distributions.normal``: re-exports ``Normal``."""

from .distributions.normal import Normal

__all__ = ["Normal"]
