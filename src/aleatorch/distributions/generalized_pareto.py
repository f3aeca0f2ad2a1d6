"""The generalized Pareto distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import blocks_wanted, uniform_blocks
from ..distribution import Distribution
from ..special import log1mexp
from ..special.compile_safe import expm1
from ..special.double_float import div_residual, two_sum
from ..utils import _inplace_ok, _readable, as_params, broadcast_shapes, masked_compute

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
        small, series, expm1(torch.where(small, 1.0, v)) / torch.where(small, 1.0, c)
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


_FOLD = 8


def _indices_below(flat: torch.Tensor, bound: float) -> torch.Tensor:
    """The indices of the entries of the 1-d ``flat`` below ``bound``, when few are: the
    entries are folded into ``_FOLD`` rows, a column is searched only if its minimum is below
    ``bound`` (a bool mask and ``nonzero`` over every entry cost ~1.3 ms per 1M; the fold's
    column minimum ~0.06 ms)."""
    n = flat.numel()
    width = n // _FOLD
    rows = flat[: width * _FOLD].view(_FOLD, width)
    columns = rows.amin(0).lt(bound).nonzero().squeeze(-1)
    hits = rows[:, columns].lt(bound).nonzero()
    found = hits[:, 0] * width + columns[hits[:, 1]]
    tail = flat[width * _FOLD :].lt(bound).nonzero().squeeze(-1) + width * _FOLD
    return torch.cat((found, tail))


def _quantile_values(loc, scale, c, s, out=None):
    """The quantile ``mu + sigma s expm1(v) / v`` at ``s = -log(1 - u) >= 0``, ``v = xi s``,
    values only (into ``out`` when given). Near ``v = 0`` ``expm1(v) / v`` is within an ulp
    or two of its series, and only ``v = 0`` (``xi = 0`` or ``u = 0``) is 0/0, set to its
    limit 1 (no where); ``v`` is kept below finfo.max, so ``inf / inf`` never occurs (expm1
    of it is inf: the quantile overflows, as it should)."""
    v = (c * s).clamp_(max=torch.finfo(s.dtype).max)
    ratio = expm1(v).div_(v).nan_to_num_(nan=1.0, posinf=math.inf, neginf=-math.inf)
    return torch.addcmul(loc, scale, ratio.mul_(s), out=out)


_SLOPE_SERIES_BELOW = 0.25
#: terms of the series of r'(v) below _SLOPE_SERIES_BELOW: (n + 1) v^n / (n + 2)!, n < N
_SLOPE_TERMS = {torch.float64: 13, torch.float32: 7}


def _ratio_slope(v: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """``r'(v)`` for ``r(v) = expm1(v) / v``: ``(e^v - r) / v = r + (1 - r) / v`` from
    ``|v| = 1/4`` on (the cancellation costs at most 16 ulps), its Taylor series
    ``sum_n (n + 1) v^n / (n + 2)!`` below; chosen by a 0/1 weight, not a where."""
    small = v.clamp(-_SLOPE_SERIES_BELOW, _SLOPE_SERIES_BELOW)
    terms = _SLOPE_TERMS.get(v.dtype, 13)
    # Horner, in place on one buffer: a_0 + v (a_1 + v (...)), a_n = (n + 1) / (n + 2)!
    series = small * (terms / math.factorial(terms + 1))
    for n in range(terms - 2, 0, -1):
        series.add_((n + 1) / math.factorial(n + 2)).mul_(small)
    series.add_(0.5)
    wide = v.abs().clamp(min=_SLOPE_SERIES_BELOW).copysign(v)
    direct = ratio + (1 - ratio) / wide
    weight = (v.abs() - _SLOPE_SERIES_BELOW).sign_().clamp_(min=0)
    return torch.lerp(series, direct, weight)


class _Quantile(torch.autograd.Function):
    """``x = mu + sigma s r(xi s)``, ``r(v) = expm1(v) / v``, with the values of
    :func:`_quantile_values` and the gradients ``dx/dmu = 1``, ``dx/dsigma = s r``,
    ``dx/dxi = sigma s^2 r'(xi s)`` (no gradient in ``s``, a fixed draw)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(loc, scale, c, s):
        return _quantile_values(loc, scale, c, s)

    @staticmethod
    def setup_context(ctx, inputs, output):
        loc, scale, c, s = inputs
        ctx.save_for_backward(scale, c, s)
        ctx.loc_shape = loc.shape

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        scale, c, s = ctx.saved_tensors
        want_loc, want_scale, want_c = ctx.needs_input_grad[:3]
        v = (c * s).clamp(max=torch.finfo(s.dtype).max)
        ratio = expm1(v).div_(v).nan_to_num_(nan=1.0, posinf=math.inf, neginf=-math.inf)
        grad_loc = grad.sum_to_size(ctx.loc_shape) if want_loc else None
        # A draw that overflowed (inf) gets gradient 0 in sigma and xi, not NaN.
        grad_scale = grad_c = None
        if want_scale:
            grad_scale = (grad * s * ratio).nan_to_num_(nan=0.0).sum_to_size(scale.shape)
        if want_c:
            slope = _ratio_slope(v, ratio)
            grad_c = (grad * scale * s.square() * slope).nan_to_num_(nan=0.0)
            grad_c = grad_c.sum_to_size(c.shape)
        return grad_loc, grad_scale, grad_c, None


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
        params = (self.loc, self.scale, self.concentration)
        grad = torch.is_grad_enabled() and any(t.requires_grad for t in params)
        if not grad and blocks_wanted(self.loc, shape):
            # CPU eager, large: each block's quantiles in cache, written once; -log(1 - u)
            # (1 - u is exact on the uniforms' grid) costs a third of -log1p(-u)
            out = torch.empty(shape, dtype=self.loc.dtype)
            for rows, u, block in uniform_blocks(shape, out.dtype, generator, params):
                _quantile_values(*block, u.neg_().add_(1).log_().neg_(), out=out[rows])
            return out
        u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        # log(1 - u) for u in [0, 1) is finite: every draw lies in the support.
        s = torch.log1p(-u).neg_()
        if grad:
            return _Quantile.apply(*params, s)
        return _quantile_values(*params, s)

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
        params = (self.loc, self.scale, self.concentration)
        if _inplace_ok(value, *params):
            return self._log_prob_in_place(value, log_scale)
        if _readable((value, *params)):
            return self._log_prob_split(value, log_scale)
        log_sf, z = self._log_sf(value)
        inside = (z >= 0) & (self.concentration * z > -1)
        return torch.where(inside, (1 + self.concentration) * log_sf - log_scale, -math.inf)

    def _log_prob_in_place(self, value, log_scale):
        """No graph (CPU eager): ``-(log sigma + (1 + xi) z / q)``, ``q = w / log1p(w)``,
        over three fresh buffers, with no clamp and no where. ``q`` is 0/0 at ``w = 0`` and
        ``w / 0`` at a subnormal ``w`` (``log1p`` flushes those to 0): both are set to the
        limit 1. The entries outside ``0 <= z``, ``-3/4 <= w <= max`` (one reduction each
        says whether any exists, :func:`_indices_below` finds them; a NaN sends everything
        to :meth:`_log_prob_split`) are recomputed by :func:`_log_prob_general` and
        scattered in."""
        c = self.concentration
        z = torch.sub(value, self.loc)
        big = torch.finfo(z.dtype).max
        shape = broadcast_shapes(z.shape, self.scale.shape, c.shape)
        if z.shape != shape:  # parameters wider than value and loc: a buffer of that shape
            z = z.expand(shape).contiguous()
        z.div_(self.scale)
        w = torch.mul(c, z)
        q = torch.log1p(w)
        torch.div(w, q, out=q).nan_to_num_(nan=1.0, posinf=1.0, neginf=1.0)
        z_min = z.min().item() if z.numel() else 0.0
        w_min, w_max = torch.aminmax(w) if w.numel() else (0.0, 0.0)
        w_min, w_max = float(w_min), float(w_max)
        if not w_max <= big or not z_min >= -big:  # a NaN or an overflowing w
            return self._log_prob_split(value, log_scale)
        chosen = None
        if z_min < 0:  # 0 <= z and -3/4 <= w fail together where min(z, w + 3/4) < 0
            chosen = _indices_below(torch.minimum(z, w.add_(0.75), out=w).view(-1), 0.0)
        elif w_min < -0.75:
            chosen = _indices_below(w.view(-1), -0.75)
        one_plus_c = self._cached("one_plus_concentration", lambda: 1 + c)
        out = torch.addcdiv(log_scale, z.mul_(one_plus_c), q, out=q).neg_()
        if chosen is None or chosen.numel() == 0:
            return out
        index = None
        parts = []
        for t in (value, self.loc, self.scale, c):
            if t.shape == shape:
                parts.append(t.reshape(-1)[chosen])
            else:
                index = torch.unravel_index(chosen, shape) if index is None else index
                parts.append(t.expand(shape)[index])
        out.view(-1).index_put_((chosen,), _log_prob_general(*parts).to(out.dtype))
        return out

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
        return -expm1(self._log_sf(value)[0])

    def _log_cdf(self, value):
        return log1mexp(self._log_sf(value)[0])

    def _icdf(self, value):
        return self._quantile_of_log_sf(torch.log1p(-value))

    def _entropy(self):
        # H = log sigma + xi + 1 (log sigma cached, shared with log_prob)
        log_scale = self._cached("log_scale", self.scale.log)
        return torch.add(log_scale, self.concentration).add_(1).expand(self.batch_shape)
