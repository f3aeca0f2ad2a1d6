"""Twin of ``torch.distributions.one_hot_categorical`` (same public names)."""

from .distributions.one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]
