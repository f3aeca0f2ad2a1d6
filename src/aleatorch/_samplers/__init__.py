"""Sampling algorithms too long (or too shared) to live in the distribution files."""

from .gamma import log_standard_gamma

__all__ = ["log_standard_gamma"]
