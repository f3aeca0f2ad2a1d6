"""Twin of ``torch.distributions.logistic_normal``: re-exports ``LogisticNormal``."""

from .distributions.logistic_normal import LogisticNormal

__all__ = ["LogisticNormal"]
