"""Twin of ``torch.distributions.kumaraswamy``: re-exports ``Kumaraswamy``."""

from .distributions.kumaraswamy import Kumaraswamy

__all__ = ["Kumaraswamy"]
