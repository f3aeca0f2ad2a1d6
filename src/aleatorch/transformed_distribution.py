"""torch's module path for ``TransformedDistribution``."""

from .wrappers.transformed import TransformedDistribution

__all__ = ["TransformedDistribution"]
