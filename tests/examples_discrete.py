"""Examples of the discrete families (filled by their issue)."""

EXAMPLES = []
