"""Twin of ``torch.distributions.fishersnedecor``: re-exports ``FisherSnedecor``."""

from .distributions.fisher_snedecor import FisherSnedecor

__all__ = ["FisherSnedecor"]
