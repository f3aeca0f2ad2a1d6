"""Examples of the multivariate families (filled by their issue)."""

EXAMPLES = []
