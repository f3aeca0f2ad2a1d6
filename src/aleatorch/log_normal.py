"""Twin of ``torch.distributions.log_normal``: re-exports ``LogNormal``."""

from .distributions.log_normal import LogNormal

__all__ = ["LogNormal"]
