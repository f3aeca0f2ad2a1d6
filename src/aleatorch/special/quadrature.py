"""Fixed quadrature rules, computed once at import."""

from __future__ import annotations

import math

__all__ = ["gauss_legendre"]


def gauss_legendre(n: int) -> tuple[list[float], list[float]]:
    """Nodes and weights of the ``n``-point Gauss-Legendre rule on ``[-1, 1]`` (nodes in
    decreasing order), by Newton's method on the three-term recurrence of the Legendre
    polynomial ``P_n``; the weight of node ``x`` is ``2 / ((1 - x^2) P_n'(x)^2)``."""
    nodes, weights = [], []
    for i in range(n):
        x = math.cos(math.pi * (i + 0.75) / (n + 0.5))
        for _ in range(100):
            p_n, derivative = _legendre(n, x)
            step = p_n / derivative
            x -= step
            if abs(step) < 1e-17:
                break
        _, derivative = _legendre(n, x)
        nodes.append(x)
        weights.append(2 / ((1 - x * x) * derivative * derivative))
    return nodes, weights


def _legendre(n: int, x: float) -> tuple[float, float]:
    """``(P_n(x), P_n'(x))`` by the recurrence ``k P_k = (2k - 1) x P_{k-1} - (k - 1) P_{k-2}``."""
    p0, p1 = 1.0, x
    for k in range(2, n + 1):
        p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
    return p1, n * (x * p1 - p0) / (x * x - 1)
