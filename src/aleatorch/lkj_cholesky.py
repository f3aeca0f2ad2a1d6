"""Twin of ``torch.distributions.lkj_cholesky``: re-exports ``LKJCholesky``."""

from .distributions.lkj_cholesky import LKJCholesky

__all__ = ["LKJCholesky"]
