"""One distribution per module."""
