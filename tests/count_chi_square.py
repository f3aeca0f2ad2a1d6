"""A chi-square test of integer draws against a scipy discrete law, shared by the count
sampler tests."""

from __future__ import annotations

import numpy as np
from scipy import stats


def chi_square_p(draws: np.ndarray, law, bins: int = 200) -> float:
    """p-value of a chi-square test of integer ``draws`` against the scipy ``law``, with
    ``bins`` bins between its quantiles (so each holds about ``1 / bins`` of the mass)."""
    edges = np.unique(law.ppf(np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    # bin j holds the integers in (edges[j - 1], edges[j]]; the first (-inf, edges[0]]
    cdf = law.cdf(edges)
    probs = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    index = np.searchsorted(edges, draws, side="left")
    observed = np.bincount(index, minlength=len(probs)).astype(float)
    keep = probs > 0
    assert observed[~keep].sum() == 0  # no draw where the law has no mass
    observed, probs = observed[keep], probs[keep]
    if len(probs) < 2:
        assert observed.sum() == len(draws)
        return 1.0
    expected = probs / probs.sum() * len(draws)
    return float(stats.chisquare(observed, expected).pvalue)
