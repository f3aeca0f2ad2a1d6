"""Twin of ``torch.distributions.mixture_same_family``: re-exports ``MixtureSameFamily``."""

from .wrappers.mixture_same_family import MixtureSameFamily

__all__ = ["MixtureSameFamily"]
