"""The generic inverse cdf: bisection of the cdf, with implicit gradients.

``Distribution.icdf`` falls back on :func:`invert_cdf` when a family has a cdf but no closed
form inverse. The search runs over ``support.bounds`` (see :mod:`aleatorch.constraints`):
over the bit patterns of the floats for a continuous support, which finds the exact float
quantile in a fixed number of steps, and over the integers for a discrete one (see
:mod:`aleatorch.special.bisection`).

Gradients come from the implicit function theorem: at the root ``F(x; theta) = q``,
``dx = (dq - dF) / f(x)``. The returned value is ``x + ((q - F) - stop_grad(q - F)) / f(x)``,
which equals ``x`` exactly and carries that gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .special.bisection import bisect_floats, bisect_integers
from .utils import broadcast_shapes

if TYPE_CHECKING:
    from .distribution import Distribution

__all__ = ["invert_cdf"]


def invert_cdf(dist: Distribution, q: torch.Tensor) -> torch.Tensor:
    """The smallest ``x`` in the support with ``cdf(x) >= q``, for every entry of ``q``.

    Args:
        dist: a univariate distribution implementing ``_cdf`` or ``_log_cdf``.
        q: probabilities in ``[0, 1]``, broadcastable with ``dist.batch_shape``.

    Returns:
        The quantiles, of shape ``broadcast(q.shape, batch_shape)``; differentiable in ``q``
        and in the parameters for a continuous support.

    Raises:
        NotImplementedError: the support is not a univariate interval.
    """
    support = dist.support
    lower, upper = support.bounds
    shape = broadcast_shapes(q.shape, dist.batch_shape)
    dtype = dist._dtype()
    q = q.to(dtype).expand(shape)
    lower_t = torch.as_tensor(lower, dtype=dtype, device=q.device).expand(shape)
    upper_t = torch.as_tensor(upper, dtype=dtype, device=q.device).expand(shape)
    with torch.no_grad():
        below = _cdf_below(dist, q.detach())
        if support.is_discrete:
            x = bisect_integers(below, lower_t, upper_t)
        else:
            x = bisect_floats(below, lower_t, upper_t)
        x = torch.where(q <= 0, lower_t, torch.where(q >= 1, upper_t, x))
    if support.is_discrete or not torch.is_grad_enabled():
        return x
    return _with_implicit_gradient(dist, x, q)


def _cdf_below(dist: Distribution, q: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A test ``x -> cdf(x) < q``, asked in the most accurate space the distribution offers.

    Which methods to use and the ``q``-only terms are settled once, not at every step.
    """
    has = dist._implemented.__contains__
    if has("_log_cdf"):
        log_q = torch.log(q)

        def lower_half(x):
            return dist._log_cdf(x) < log_q
    else:

        def lower_half(x):
            return dist._cdf(x) < q

    if has("_log_survival_function"):
        log_one_minus_q = torch.log1p(-q)

        def upper_half(x):
            return dist._log_survival_function(x) > log_one_minus_q
    elif has("_survival_function"):
        one_minus_q = 1 - q

        def upper_half(x):
            return dist._survival_function(x) > one_minus_q
    else:
        return lower_half
    # The survival function keeps relative accuracy in the upper tail, where 1 - cdf cancels.
    in_upper_half = q > 0.5
    return lambda x: torch.where(in_upper_half, upper_half(x), lower_half(x))


def _with_implicit_gradient(dist: Distribution, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    cdf = dist._cdf(x) if "_cdf" in dist._implemented else dist._log_cdf(x).exp()
    density = dist._log_prob(x).exp().detach()
    residual = q - cdf
    step = (residual - residual.detach()) / torch.where(
        density > 0, density, torch.ones_like(density)
    )
    return x + step
