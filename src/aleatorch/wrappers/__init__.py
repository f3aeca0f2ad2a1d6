"""Distributions built from other distributions (Independent, TransformedDistribution)."""

from .independent import Independent
from .transformed import TransformedDistribution

__all__ = ["Independent", "TransformedDistribution"]
