"""Distributions built from other distributions (Independent, TransformedDistribution, ...)."""

from .independent import Independent
from .mixture_same_family import MixtureSameFamily
from .transformed import TransformedDistribution

__all__ = ["Independent", "MixtureSameFamily", "TransformedDistribution"]
