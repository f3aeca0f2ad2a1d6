"""Examples of the other families torch builds on TransformedDistribution: Kumaraswamy,
InverseGamma, LogisticNormal and the relaxed (Concrete) families."""

EXAMPLES = []
