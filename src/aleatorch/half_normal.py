"""Twin of ``torch.distributions.half_normal``: re-exports ``HalfNormal``."""

from .distributions.half_normal import HalfNormal

__all__ = ["HalfNormal"]
