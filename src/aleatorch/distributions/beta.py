"""The beta distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import implicit_beta, log_standard_gamma
from .._samplers.gamma import cached_rounds, few_beta
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special.incomplete_beta import betainc, betaincc, log_betainc
from ..special.incomplete_beta_inverse import betaincinv
from ..special.xlogy import x_log1p_y, x_log_y
from ..utils import (
    _WIDENED_LIMIT,
    PYTHON_NUMEL,
    _flat_list,
    _readable,
    as_params,
    from_floats,
    python_wanted,
    textbook_dtype,
)
from ._beta_exact import beta_log_prob, dirichlet_entropy, dirichlet_kl, working
from .gamma import (
    _FLOAT32_LIMIT,
    _HALF_LOG_2PI,
    _SHIFT,
    ONE,
    blockwise,
    float32_within,
    stirling_excess,
)

__all__ = ["Beta"]

# Concentrations up to which log_prob uses lgamma directly (utils.textbook_dtype): its terms
# stay below ~40, a float32 error of at most ~40 ulps of 1 (measured: see tests/accuracy).
_TEXTBOOK_LIMIT = 10.0


def _log_beta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


def _pair(p: Beta) -> torch.Tensor:
    """The concentrations as a Dirichlet's ``(..., 2)`` vector ``(alpha, beta)``."""
    return torch.stack(torch.broadcast_tensors(p.concentration1, p.concentration0), -1)


def _shares(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a / (a + b)`` and ``b / (a + b)``, also where ``a + b`` overflows (both scaled by a
    power of two first)."""
    scale = torch.where(torch.maximum(a, b) > 2.0**900, 2.0**-128, 1.0).to(a.dtype)
    a, b = a * scale, b * scale
    total = a + b
    return a / total, b / total


def _entropy_float32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """float32 ``H = G(a) + G(b) - G_t + u_t - 4 + log(2 pi)/2`` with ``t = a + b``,
    ``G(x) = lgamma(x) + (1 - x) psi(x) + z - log(2 pi)/2`` and ``G_t + log z_t - u_t`` the
    same for ``lgamma(t) + (2 - t) psi(t)`` (``gamma.stirling_excess``; the ``z`` cancel)."""
    h, _ = stirling_excess(a)
    h = h.add_(stirling_excess(b)[0])
    g_t, u_t = stirling_excess(a + b, power=1.5)
    return h.sub_(g_t).add_(u_t).add_(_HALF_LOG_2PI - _SHIFT)


def _python_log_prob(a: torch.Tensor, b: torch.Tensor, value: torch.Tensor):
    """``(a - 1) log x + (b - 1) log(1 - x) - lgamma(a) - lgamma(b) + lgamma(a + b)`` entry by
    entry in Python floats (double precision, the textbook tier) for a few entries; None (the
    tensor path) when the shapes differ or an entry lies outside ``0 < x < 1``, ``a, b`` in
    the textbook range (NaN too)."""
    if not (value.shape == a.shape == b.shape) or not a.numel():
        return None
    limit = _WIDENED_LIMIT  # float32 parameters: the double-precision textbook tier
    log, log1p, lgamma, out = math.log, math.log1p, math.lgamma, []
    for p, q, x in zip(_flat_list(a), _flat_list(b), _flat_list(value)):
        if not (0.0 < p <= limit and 0.0 < q <= limit and 0.0 < x < 1.0):
            return None
        log_beta = lgamma(p) + lgamma(q) - lgamma(p + q)
        out.append((p - 1.0) * log(x) + (q - 1.0) * log1p(-x) - log_beta)
    return from_floats(out, a.dtype, a.shape)


# Entries per block of _shares_from_logs_ (its three passes stay in cache).
_SHARES_BLOCK = 1 << 16


def _shares_from_logs_(log_x: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """``X = G1 / (G1 + G2) = sigmoid(log G1 - log G2)`` in ``[tiny, 1 - eps/2]`` (0 and 1
    have infinite log-density when a parameter is below 1: the samples stay in the open
    interval, like the smallest gamma draw torch keeps positive), written over the fresh
    ``log_x`` (no graph); CPU eager, contiguous: in blocks while in cache."""
    finfo = torch.finfo(log_x.dtype)
    bounds = (finfo.tiny, 1 - finfo.eps / 2)
    blocked = log_x.numel() > _SHARES_BLOCK and _readable((log_x, log_y))
    if not (blocked and log_x.is_contiguous() and log_y.is_contiguous()):
        return log_x.sub_(log_y).sigmoid_().clamp_(*bounds)
    x, y = log_x.view(-1), log_y.view(-1)
    for start in range(0, x.numel(), _SHARES_BLOCK):
        part = x[start : start + _SHARES_BLOCK].sub_(y[start : start + _SHARES_BLOCK])
        part.sigmoid_().clamp_(*bounds)
    return log_x


class Beta(ExponentialFamily):
    r"""Beta distribution with shape parameters ``concentration1`` and ``concentration0``.

    .. math:: p(x) = \frac{x^{\alpha - 1} (1 - x)^{\beta - 1}}{B(\alpha, \beta)}

    Support: :math:`[0, 1]`.

    Args:
        concentration1: :math:`\alpha > 0`, the exponent of :math:`x` (plus one).
        concentration0: :math:`\beta > 0`, the exponent of :math:`1 - x` (plus one).

    Sampling draws :math:`\log G_\alpha` and :math:`\log G_\beta` in log space (see
    :func:`aleatorch._samplers.log_standard_gamma`) and returns
    :math:`\sigma(\log G_\alpha - \log G_\beta)`, which stays exact for tiny concentrations
    where the gamma draws themselves underflow. ``rsample`` gradients are the implicit
    reparameterization ones, :math:`\partial x / \partial \alpha = -\partial_\alpha
    I_x(\alpha, \beta) / p(x)` per sample (see :mod:`aleatorch._samplers.implicit`).
    ``cdf`` is :func:`aleatorch.special.betainc` and ``icdf`` :func:`aleatorch.special.betaincinv`,
    both differentiable in the value and in both concentrations.

    Example:
        >>> import aleatorch as D
        >>> D.Beta(2.0, 3.0).log_prob(torch.tensor(0.5))
        tensor(0.4055)
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(
        self, concentration1: Any, concentration0: Any, validate_args: bool | None = None
    ) -> None:
        self.concentration1, self.concentration0 = as_params(
            concentration1, concentration0, owner=self._name
        )
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        (a, b), dtype = working(self.concentration1, self.concentration0)
        return _shares(a, b)[0].to(dtype)

    @property
    def mode(self) -> torch.Tensor:
        a, b = self.concentration1, self.concentration0
        interior = (a - 1) / (a + b - 2)  # NaN for a = b = 1, where every x is a mode
        # With a parameter below 1 the density is unbounded at that end; with both below 1
        # the end of the larger one is taken, x = 1 on ties (as Dirichlet([a, b]).mode[0]).
        edge = torch.where((a < 1) & (b < 1), a >= b, b < 1).to(a.dtype)
        return torch.where((a < 1) | (b < 1), edge, interior)

    @property
    def variance(self) -> torch.Tensor:
        # x0 (1 - x0) / (a + b + 1), x0 = a / (a + b): no overflow of (a + b)^3
        (a, b), dtype = working(self.concentration1, self.concentration0)
        x0, y0 = _shares(a, b)
        return (x0 * y0 / (a + b + 1)).to(dtype)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        a, b = self.concentration1, self.concentration0
        # The draw itself carries no gradient: the implicit one, -(dI_x/da) / f(x) per
        # sample, is attached below (the pathwise one through G1 / (G1 + G2) differs).
        x = few_beta(a, b, shape, generator)  # a few draws (CPU eager): in Python floats
        if x is None:
            with torch.no_grad():
                # (the rounds' parameter terms kept for the next draw of this shape)
                log_x = log_standard_gamma(a, shape, generator, self._rounds(a, shape, 1))
                log_y = log_standard_gamma(b, shape, generator, self._rounds(b, shape, 0))
                x = _shares_from_logs_(log_x, log_y)
        return implicit_beta(a, b, x)

    def _rounds(self, c: torch.Tensor, shape: torch.Size, which: int):
        """The gamma rounds' cached terms for concentration ``which`` (1 or 0), or None."""
        if c.shape != shape:
            return None
        return cached_rounds(self, c, lambda: c, "log", name=f"gamma_rounds_{which}")

    def _log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        # small: the textbook terms below without the caching (of no use at this size)
        small = a.numel() < self._cache_min_numel and a.dtype == b.dtype == value.dtype in ONE
        if small and a.numel() <= PYTHON_NUMEL and python_wanted(a, b, value):
            out = _python_log_prob(a, b, value)
            if out is not None:
                return out
        work = small and textbook_dtype(_TEXTBOOK_LIMIT, a, b)
        if work:
            dtype, one, x = a.dtype, ONE[work], value
            if work is not dtype:  # (.to costs ~1 us even as a no-op; 0-dim a would not
                a, b, x = a.to(work), b.to(work), value.to(work)  # promote x)
            out = x_log_y(a - one, x).add_(x_log1p_y(b - one, -x))
            log_beta = torch.lgamma(a).add_(torch.lgamma(b)).sub_(torch.lgamma(a + b))
            out = out.sub_(log_beta)
            return out if work is dtype else out.to(dtype)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_LIMIT, a, b))
        if work is not None:
            # log1p(-x) keeps log(1 - x) accurate for small x; 0 * log 0 = 0 at the ends. In
            # float64 for float32 concentrations up to 1e8 (utils.textbook_dtype).
            dtype = torch.promote_types(a.dtype, value.dtype)
            a, b = self._cached("textbook_params", lambda: (a.to(work), b.to(work)))
            value = value.to(torch.promote_types(work, value.dtype))
            out = x_log_y(a - 1, value).add_(x_log1p_y(b - 1, -value))
            return out.sub_(self._cached("log_beta", lambda: _log_beta(a, b))).to(dtype)
        # without the lgamma differences (see aleatorch.distributions._beta_exact)
        return beta_log_prob(a, b, value)

    def _cdf(self, value):
        return betainc(self.concentration1, self.concentration0, value)

    def _survival_function(self, value):
        return betaincc(self.concentration1, self.concentration0, value)

    def _log_cdf(self, value):
        return log_betainc(self.concentration1, self.concentration0, value)

    def _log_survival_function(self, value):
        return log_betainc(self.concentration0, self.concentration1, 1 - value, value)

    def _icdf(self, value):
        return betaincinv(self.concentration1, self.concentration0, value)

    def _entropy(self):
        # log B(a, b) - (a - 1) psi(a) - (b - 1) psi(b) + (a + b - 2) psi(a + b): directly for
        # moderate concentrations, else regrouped without cancellation (the Dirichlet
        # entropy at k = 2)
        a, b = self.concentration1, self.concentration0
        if float32_within(_FLOAT32_LIMIT, (a, b)):
            # float32 up to 1e8: from gamma.shifted_stirling, a few ulps, no lgamma/digamma
            return blockwise(_entropy_float32, (a, b))
        work = textbook_dtype(_TEXTBOOK_LIMIT, a, b)
        if work is not None:
            dtype = a.dtype
            a, b = a.to(work), b.to(work)
            total = a + b
            return (
                _log_beta(a, b)
                - (a - 1) * torch.digamma(a)
                - (b - 1) * torch.digamma(b)
                + (total - 2) * torch.digamma(total)
            ).to(dtype)
        return dirichlet_entropy(_pair(self))

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return _log_beta(x, y)


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta) -> torch.Tensor:
    # log B(a_q, b_q) - log B(a_p, b_p) + (a_p - a_q) psi(a_p) + (b_p - b_q) psi(b_p)
    # + (a_q - a_p + b_q - b_p) psi(a_p + b_p), from the parameter differences: full relative
    # precision between nearly equal laws, never negative (the Dirichlet KL at k = 2)
    return dirichlet_kl(_pair(p), _pair(q))
