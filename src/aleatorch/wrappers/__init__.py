"""Distributions built from other distributions (Independent, ...)."""

from .independent import Independent

__all__ = ["Independent"]
