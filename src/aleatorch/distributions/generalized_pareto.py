"""The generalized Pareto distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..special import log1mexp
from ..special.double_float import div_residual, two_sum
from ..utils import _readable, as_params, masked_compute

__all__ = ["GeneralizedPareto"]


def _log_sf_near_end(value, loc, scale, c):
    """``log sf = log(1 + w) / |xi|`` near the upper end ``b = mu + sigma / |xi|`` (xi < 0).

    There ``w = xi z`` is rounded to half an ulp of 1, so ``1 + w`` keeps few correct digits
    (1e-7 of it at sf = 1e-30); instead ``1 + w = (b - x) / (sigma / |xi|)`` with ``b``
    carried as a pair ``b_hi + b_lo``: ``b_hi - x`` rounds once, relative to the small
    difference itself. (Through the error-free sums autograd sees the plain formula: the
    pair's low parts have zero derivative.)"""
    abs_c = -c
    span, span_lo = div_residual(scale, abs_c)  # sigma / |xi|
    end, end_lo = two_sum(loc, span)
    one_plus_w = ((end - value) + (end_lo + span_lo)) * (1 / span)
    return torch.log(one_plus_w.clamp(min=torch.finfo(value.dtype).tiny)) / abs_c


_SERIES_BELOW = 1e-4  # |w| below which the ratios use their Taylor series (error ~w^4/5)


def _log1p_ratio(w: torch.Tensor) -> torch.Tensor:
    """``log1p(w) / w``, 1 at ``w = 0``, with exact values and gradients near 0."""
    small = w.abs() < _SERIES_BELOW
    safe = torch.where(small, 1.0, w)
    series = 1 - w * (0.5 - w * (1 / 3 - w * 0.25))
    return torch.where(small, series, torch.log1p(safe) / safe)


def _expm1_over(c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``expm1(c s) / c`` for ``s >= 0`` (``s`` at ``c = 0``), exact near ``c s = 0``, and
    ``-1/c`` for ``c < 0`` at ``s = inf`` (the upper end of a bounded support)."""
    v = c * s.clamp(max=torch.finfo(s.dtype).max)  # no 0 * inf at c = 0
    small = v.abs() < _SERIES_BELOW
    series = s * (1 + v * (0.5 + v * (1 / 6 + v / 24)))
    return torch.where(
        small, series, torch.expm1(torch.where(small, 1.0, v)) / torch.where(small, 1.0, c)
    )


def _log_prob_general(value, loc, scale, c):
    """``log p`` for every case, with ``where`` (for the few entries that need a branch):
    ``log sf = -z log1p(w) / w`` (its series near ``w = 0``), near the upper end of a
    bounded support from ``b - x`` (:func:`_log_sf_near_end`), ``-inf`` outside."""
    z = (value - loc) / scale
    w = c * z
    plain = -z * _log1p_ratio(w)
    near = (c < 0) & (w < -0.5) & (w > -1)
    # safe where: the other entries see harmless stand-ins
    near_end = _log_sf_near_end(
        torch.where(near, value, 0.0),
        torch.where(near, loc, 0.0),
        torch.where(near, scale, 1.0),
        torch.where(near, c, -1.0),
    )
    log_sf = torch.where(near, near_end, plain)
    inside = (z >= 0) & (w > -1)
    return torch.where(inside, (1 + c) * log_sf - scale.log(), -math.inf)


class GeneralizedPareto(Distribution):
    r"""Generalized Pareto distribution with location ``loc``, ``scale`` and shape
    ``concentration``.

    .. math:: p(x) = \frac{1}{\sigma} (1 + \xi z)^{-1/\xi - 1}, \quad z = \frac{x - \mu}{\sigma}
              \qquad (\xi = 0: \ \tfrac{1}{\sigma} e^{-z})

    Support: :math:`[\mu, \infty)` for :math:`\xi \ge 0`, :math:`[\mu, \mu - \sigma/\xi]` for
    :math:`\xi < 0`. Every formula is written through ``log1p(w)/w`` and ``expm1(v)/v``, so
    :math:`\xi = 0` (the exponential) and its neighbourhood are exact, gradients included.
    Mean (NaN for :math:`\xi \ge 1`) and variance (NaN for :math:`\xi \ge 1/2`) as torch's.

    Args:
        loc: the location (lower end of the support) :math:`\mu`.
        scale: the scale :math:`\sigma > 0`.
        concentration: the shape :math:`\xi` (any real).

    Example:
        >>> import aleatorch as D
        >>> D.GeneralizedPareto(0.0, 1.0, 0.5).log_prob(torch.tensor(1.0))
        tensor(-1.2164)
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    has_rsample = True

    # (1 + c z)^(-1/c) and its logs overflow float16: half precision is computed in float32.
    _half_in_float32 = True

    def __init__(
        self, loc: Any, scale: Any, concentration: Any, validate_args: bool | None = None
    ) -> None:
        self.loc, self.scale, self.concentration = as_params(
            loc, scale, concentration, owner=self._name
        )
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        # loc + sigma / |xi| for xi < 0, inf for xi >= 0 (sigma / +0; the + 0.0 turns a -0
        # from the clamp into +0)
        upper = self.loc + self.scale / ((-self.concentration).clamp(min=0) + 0.0)
        return constraints.interval(self.loc, upper)

    @property
    def mean(self) -> torch.Tensor:
        # loc + scale / (1 - c); +inf for c >= 1, where the integral diverges
        c = self.concentration
        ok = c < 1
        return torch.where(ok, self.loc + self.scale / (1 - torch.where(ok, c, 0.0)), math.inf)

    @property
    def variance(self) -> torch.Tensor:
        c = self.concentration
        ok = c < 0.5
        safe = torch.where(ok, c, 0.0)
        var = self.scale.square() / ((1 - safe).square() * (1 - 2 * safe))
        return torch.where(ok, var, math.inf)  # E[X^2] diverges for c >= 1/2

    @property
    def mode(self) -> torch.Tensor:
        return self.loc.expand(self.batch_shape)

    @property
    def median(self) -> torch.Tensor:
        return self._quantile_of_log_sf(torch.full_like(self.loc, -math.log(2)))

    def _quantile_of_log_sf(self, log_sf):
        # x = mu + sigma ((1-u)^-xi - 1) / xi = mu + sigma s expm1(xi s) / (xi s), s = -log sf
        return self.loc + self.scale * _expm1_over(self.concentration, -log_sf)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        # log(1 - u) for u in [0, 1) is finite: every draw lies in the support.
        return self._quantile_of_log_sf(torch.log1p(-u))

    def _log_sf(self, value):
        # log sf = -log1p(xi z) / xi = -z log1p(xi z) / (xi z)
        z = (value - self.loc) / self.scale
        w = self.concentration * z
        plain = -z * _log1p_ratio(w)
        # Near the upper end b = mu + sigma / |xi| of a bounded support (xi < 0), 1 + w
        # cancels (see _log_sf_near_end).
        # Only the entries with -1 < w < -1/2 need it (none for xi >= 0): on CPU in eager
        # mode it runs on those alone (utils.masked_compute); at and beyond the end (w <= -1)
        # the plain form's -inf or NaN is kept.
        c = self.concentration
        near = (c < 0) & (w < -0.5) & (w > -1)
        near_end = masked_compute(
            near, _log_sf_near_end, (value, self.loc, self.scale, c), (0.0, 0.0, 1.0, -1.0), plain
        )
        return near_end, z

    def _log_prob(self, value):
        # log p = -log sigma - (1 + xi) log1p(xi z) / xi
        log_scale = self._cached("log_scale", self.scale.log)
        if _readable((value, self.loc, self.scale, self.concentration)):
            return self._log_prob_split(value, log_scale)
        log_sf, z = self._log_sf(value)
        inside = (z >= 0) & (self.concentration * z > -1)
        return torch.where(inside, (1 + self.concentration) * log_sf - log_scale, -math.inf)

    def _log_prob_split(self, value, log_scale):
        """CPU eager: the plain form ``-(1 + xi) z log1p(w) / w - log sigma`` on the ordinary
        entries (``0 <= z <= max``, ``-3/4 <= w``, ``|w| >= 1e-4``), with no ``where``; the
        few others (series, upper end, outside the support) are recomputed alone by
        :func:`_log_prob_general` and scattered in. (Down to ``w = -3/4`` the plain form
        amplifies the rounding of ``w`` at most 2.2 times, ``|w| / ((1 + w) |log1p(w)|)``;
        the end form takes over below.)"""
        loc, scale, c = self.loc, self.scale, self.concentration
        big = torch.finfo(value.dtype).max
        z = (value - loc) / scale
        # The clamps change only the other entries, and keep their (discarded) values and
        # gradients finite: 0 <= zs, 1e-4 <= |ws| <= max, ws >= -3/4.
        zs = z.clamp(0, big)
        w = c * zs
        ws = w.clamp(-0.75, big)
        ws = ws.abs().clamp(min=_SERIES_BELOW).copysign(ws)
        out = (-1 - c) * (zs * (torch.log1p(ws) / ws)) - log_scale
        other = (zs != z) | (ws != w)  # NaN entries too
        chosen = other.view(-1).nonzero()
        if chosen.numel() == 0:
            return out
        chosen = chosen.squeeze(-1)
        shape = out.shape
        parts = [t.expand(shape).reshape(-1)[chosen] for t in (value, loc, scale, c)]
        return out.reshape(-1).index_put((chosen,), _log_prob_general(*parts)).reshape(shape)

    def _log_survival_function(self, value):
        return self._log_sf(value)[0]

    def _survival_function(self, value):
        return self._log_sf(value)[0].exp()

    def _cdf(self, value):
        return -torch.expm1(self._log_sf(value)[0])

    def _log_cdf(self, value):
        return log1mexp(self._log_sf(value)[0])

    def _icdf(self, value):
        return self._quantile_of_log_sf(torch.log1p(-value))

    def _entropy(self):
        # H = log sigma + xi + 1
        return self.scale.log().add_(self.concentration).add_(1).expand(self.batch_shape)
