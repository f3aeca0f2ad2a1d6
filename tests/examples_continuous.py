"""Examples of the continuous families (filled by their issue)."""

EXAMPLES = []
