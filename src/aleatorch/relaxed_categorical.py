"""Twin of ``torch.distributions.relaxed_categorical`` (same public names)."""

from .distributions.relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]
