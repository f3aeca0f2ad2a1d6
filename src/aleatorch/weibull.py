"""Twin of ``torch.distributions.weibull``: re-exports ``Weibull``."""

from .distributions.weibull import Weibull

__all__ = ["Weibull"]
