"""Accuracy of every univariate family and same-family KL against 50-digit mpmath references
(docs/accuracy.md)."""
