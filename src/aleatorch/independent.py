"""Twin of ``torch.distributions.independent``: re-exports ``Independent``."""

from .wrappers.independent import Independent

__all__ = ["Independent"]
