"""Twin of ``torch.distributions.beta``: re-exports ``Beta``."""

from .distributions.beta import Beta

__all__ = ["Beta"]
