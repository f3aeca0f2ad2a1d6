"""Twin of ``torch.distributions.half_cauchy``: re-exports ``HalfCauchy``."""

from .distributions.half_cauchy import HalfCauchy

__all__ = ["HalfCauchy"]
