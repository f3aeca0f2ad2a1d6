"""Generic inverse cdf by bisection, with implicit gradients.

Continuous supports are bisected over the *bit patterns* of the floating-point numbers: the
map from a float to its ordered integer key is monotone, so ``k`` bisection steps over a
``k``-bit dtype find the exact float quantile anywhere in ``[lower, upper]`` (infinite bounds
included) with a fixed trip count and no bracketing. Discrete supports are bisected over the
integers.

Gradients come from the implicit function theorem: at the root ``F(x; theta) = q``,
``dx = (dq - dF) / f(x)``. The returned value is ``x + ((q - F) - stop_grad(q - F)) / f(x)``,
which equals ``x`` exactly and carries that gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import constraints
from ..distribution import _overrides

_INT_OF_FLOAT = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def support_bounds(support: constraints.Constraint) -> tuple[Any, Any]:
    """The closed hull ``[lower, upper]`` of a univariate support."""
    c = constraints
    if isinstance(support, (c._Interval, c._IntegerInterval)):
        return support.lower_bound, support.upper_bound
    if isinstance(support, (c._GreaterThan, c._GreaterThanEq, c._IntegerGreaterThan)):
        return support.lower_bound, math.inf
    if isinstance(support, (c._LessThan, c._IntegerLessThan)):
        return -math.inf, support.upper_bound
    if isinstance(support, c._Boolean):
        return 0, 1
    if isinstance(support, c._Real):
        return -math.inf, math.inf
    raise NotImplementedError(f"no generic icdf over the support {support!r}")


def _to_key(x: torch.Tensor) -> torch.Tensor:
    int_dtype = _INT_OF_FLOAT[x.dtype]
    bits = x.contiguous().view(int_dtype)
    magnitude = bits & torch.iinfo(int_dtype).max
    return torch.where(bits < 0, -magnitude, bits)


def _from_key(key: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    sign = torch.iinfo(key.dtype).min
    bits = torch.where(key < 0, (-key) | sign, key)
    return bits.view(dtype)


def _midpoint(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    # Overflow-free floor((lo + hi) / 2) for integers of any sign.
    return (lo >> 1) + (hi >> 1) + (lo & hi & 1)


def _cdf_below(dist: Any, q: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A test ``x -> cdf(x) < q``, asked in the most accurate space the distribution offers.

    Which methods to use and the ``q``-only terms are settled once, not at every step.
    """
    cls = type(dist)
    if _overrides(cls, "_log_cdf"):
        log_q = torch.log(q)

        def lower_half(x):
            return dist._log_cdf(x) < log_q
    else:

        def lower_half(x):
            return dist._cdf(x) < q

    if _overrides(cls, "_log_survival_function"):
        log_one_minus_q = torch.log1p(-q)

        def upper_half(x):
            return dist._log_survival_function(x) > log_one_minus_q
    elif _overrides(cls, "_survival_function"):
        one_minus_q = 1 - q

        def upper_half(x):
            return dist._survival_function(x) > one_minus_q
    else:
        return lower_half
    in_upper_half = q > 0.5
    return lambda x: torch.where(in_upper_half, upper_half(x), lower_half(x))


def invert_cdf(dist: Any, q: torch.Tensor) -> torch.Tensor:
    """The smallest ``x`` in the support with ``cdf(x) >= q``, for every entry of ``q``."""
    support = dist.support
    lower, upper = support_bounds(support)
    shape = torch.broadcast_shapes(q.shape, dist.batch_shape)
    dtype = dist._dtype()
    q = q.to(dtype).expand(shape)
    lower_t = torch.as_tensor(lower, dtype=dtype, device=q.device).expand(shape)
    upper_t = torch.as_tensor(upper, dtype=dtype, device=q.device).expand(shape)
    with torch.no_grad():
        below = _cdf_below(dist, q.detach())
        if support.is_discrete:
            x = _bisect_integers(below, lower_t, upper_t)
        else:
            x = _bisect_floats(below, lower_t, upper_t)
        x = torch.where(q <= 0, lower_t, torch.where(q >= 1, upper_t, x))
    if support.is_discrete or not torch.is_grad_enabled():
        return x
    return _with_implicit_gradient(dist, x, q)


def _bisect(lo, hi, steps: int, to_value, below):
    """Keep ``below(to_value(lo))`` true and ``below(to_value(hi))`` false; return ``hi``."""
    for _ in range(steps):
        mid = _midpoint(lo, hi)
        is_below = below(to_value(mid))
        lo = torch.where(is_below, mid, lo)
        hi = torch.where(is_below, hi, mid)
    return hi


def _bisect_floats(below, lower, upper):
    lo, hi = _to_key(lower), _to_key(upper)
    steps = torch.iinfo(lo.dtype).bits
    hi = _bisect(lo, hi, steps, lambda key: _from_key(key, lower.dtype), below)
    return _from_key(hi, lower.dtype)


def _bisect_integers(below, lower, upper):
    # Integers above 2**53 are not all representable in float64; searching below is enough
    # for any cdf that reaches 1 in floating point.
    cap = 2.0**53 if lower.dtype == torch.float64 else 2.0**24
    lo = (lower - 1).to(torch.int64)
    hi = upper.clamp(max=cap).to(torch.int64)
    return _bisect(lo, hi, 64, lambda k: k.to(lower.dtype), below).to(lower.dtype)


def _with_implicit_gradient(dist, x, q):
    cdf = dist._cdf(x) if _overrides(type(dist), "_cdf") else dist._log_cdf(x).exp()
    density = dist._log_prob(x).exp().detach()
    residual = q - cdf
    step = (residual - residual.detach()) / torch.where(
        density > 0, density, torch.ones_like(density)
    )
    return x + step
