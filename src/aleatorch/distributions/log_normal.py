"""The log-normal distribution."""

from __future__ import annotations

import decimal
import math
from typing import Any

import torch

from .. import constraints
from ..special.compile_safe import expm1
from ..special.double_float import div_residual, two_prod, two_sum
from ..special.extra_precision import log_pair
from ..special.normal import log_ndtr
from ..transforms import ExpTransform
from ..utils import (
    _inplace_ok,
    _number_operand,
    _readable,
    as_params,
    broadcast_shapes,
    python_location_scale,
)
from ..wrappers.transformed import TransformedDistribution
from .normal import Normal

__all__ = ["LogNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
# log_prob: below this many entries, (log x - mu) / sigma in float64 directly
_FEW = 64
with decimal.localcontext() as _ctx:
    _ctx.prec = 40
    _SQRT_HALF = decimal.Decimal(0.5).sqrt()
    # sqrt(1/2) = _SQRT_HALF_HI + _SQRT_HALF_LO to ~2^-106
    _SQRT_HALF_HI = float(_SQRT_HALF)
    _SQRT_HALF_LO = float(_SQRT_HALF - decimal.Decimal(_SQRT_HALF_HI))
# Below float64, the standardized value is computed in a wider dtype (its rounding is
# amplified by 1 / scale); float64 carries it as a pair instead.
_WIDER = {torch.float32: torch.float64, torch.float16: torch.float32, torch.bfloat16: torch.float32}
# float32 log_prob with no graph: evaluated in blocks of this many entries (two buffers reused,
# in cache: the float64 log is most of the cost, fresh 1M-entry buffers the rest)
_BLOCK = 131072
# ... and on a first call, which forms the parameter terms too (seven buffers, 1.3 MB, in L2)
_ONE_USE_BLOCK = 32768


def _residual(wide, narrow):
    """``wide - narrow`` in the narrow dtype, detached; 0 where ``wide`` is infinite."""
    lo = wide.detach() - narrow.detach().to(wide.dtype)
    return torch.where(torch.isfinite(lo), lo, 0.0).to(narrow.dtype)


def _log_prob_blocks(value, terms, block=_BLOCK):
    """``LogNormal._log_prob_in_place`` below float64 (the same steps, the same numbers) on
    blocks of leading rows of ``value`` (of the result's shape). ``terms(cut)`` gives the
    block's ``(shift, inverse, const)``, ``cut(t)`` being a parameter's rows of the block
    (those of that leading size sliced alike, others broadcast whole)."""
    rows = value.shape[0]
    step = max(1, block * rows // value.numel())
    out = torch.empty_like(value)
    wide = torch.empty((step, *value.shape[1:]), dtype=torch.float64, device=value.device)
    narrow = torch.empty((step, *value.shape[1:]), dtype=value.dtype, device=value.device)
    for i in range(0, rows, step):
        j = min(rows, i + step)

        def cut(t, i=i, j=j):
            return t[i:j] if t.dim() == value.dim() and t.shape[0] == rows else t

        shift, inverse, const = terms(cut)
        w, log_value, z = wide[: j - i], narrow[: j - i], out[i:j]
        w.copy_(value[i:j]).log_()
        log_value.copy_(w)
        torch.addcmul(shift, w, inverse, out=w)
        z.copy_(w)
        torch.addcmul(const, z, z, value=0.5, out=z).add_(log_value).neg_()
    return out


def _standard_normal_log_density(z: float) -> float:
    return -0.5 * z * z - _HALF_LOG_2PI


def _log_of_positive(x: float) -> tuple[float, float] | None:
    """``(log x, -log x)``: the pre-image of ``x = e^y`` and ``log|dy/dx|``; None unless
    ``0 < x < inf`` (NaN too)."""
    if not 0.0 < x < math.inf:
        return None
    log_x = math.log(x)
    return log_x, -log_x


def _log_term_of(scale: torch.Tensor) -> torch.Tensor:
    """``log(sigma) + log(2 pi)/2``."""
    return torch.add(scale.log(), _number_operand(_HALF_LOG_2PI, scale))


def _float64_standardizer_of(loc: torch.Tensor, scale: torch.Tensor):
    """``(-mu / sigma, 1 / sigma)`` in float64: ``z = log(x) / sigma - mu / sigma``."""
    inverse = scale.to(torch.float64).reciprocal()
    return -loc.to(torch.float64) * inverse, inverse


def _block_terms(loc: torch.Tensor, scale: torch.Tensor):
    """``terms(cut)`` for :func:`_log_prob_blocks` that forms each block's ``(shift,
    inverse, const)`` from the block's parameters (the same numbers as
    :func:`_float64_standardizer_of` and :func:`_log_term_of`) into scratch buffers reused
    from block to block (a fresh buffer per block and term would take its page faults)."""
    scratch: dict[str, torch.Tensor] = {}

    def buffer(key: str, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
        held = scratch.get(key)
        if held is None or held.shape != shape:
            held = scratch[key] = torch.empty(shape, dtype=dtype, device=loc.device)
        return held

    def terms(cut):
        mu, sigma = cut(loc), cut(scale)
        inverse = buffer("inverse", sigma.shape, torch.float64).copy_(sigma).reciprocal_()
        minus_mu = buffer("loc", mu.shape, torch.float64).copy_(mu).neg_()
        shape = broadcast_shapes(mu.shape, sigma.shape)
        shift = torch.mul(minus_mu, inverse, out=buffer("shift", shape, torch.float64))
        const = torch.log(sigma, out=buffer("const", sigma.shape, sigma.dtype))
        return shift, inverse, const.add_(_number_operand(_HALF_LOG_2PI, sigma))

    return terms


class LogNormal(TransformedDistribution):
    r"""Log-normal distribution: ``Y = exp(X)`` for ``X ~ Normal(loc, scale)``.

    .. math:: p(y) = \frac{1}{y \sigma \sqrt{2\pi}}
              \exp\left(-\frac{(\log y - \mu)^2}{2\sigma^2}\right)

    Support: ``(0, inf)``. A ``TransformedDistribution`` (of ``Normal`` by ``ExpTransform``),
    as in torch, but every method has a closed form, and the base is built only on demand.

    Args:
        loc: the mean :math:`\mu` of ``log Y``.
        scale: the standard deviation :math:`\sigma > 0` of ``log Y``.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    _parameters_in_base = {"loc": "loc", "scale": "scale"}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = as_params(loc, scale, owner="LogNormal")
        self._init_family(self.loc.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        return Normal(self.loc, self.scale, validate_args=False), [ExpTransform()]

    def _wide_z(self, value):
        """``z`` computed in the wider dtype (``value`` below float64)."""
        wide = _WIDER[value.dtype]
        # z = log x / sigma - mu / sigma in one pass (the rounding of 1 / sigma in the
        # wider dtype is far below the narrow one's)
        inv_scale = 1 / self.scale.to(wide)
        return torch.addcmul(-self.loc.to(wide) * inv_scale, value.to(wide).log(), inv_scale)

    def _z_pair(self, value):
        """``z = (log x - mu) / sigma = hi + lo``: ``hi`` differentiable, ``lo`` a detached
        correction (``z`` to about twice the precision: ``1 / sigma`` amplifies the rounding
        of ``log x``, by 1e3 ulps at ``sigma = 1e-3``)."""
        if value.dtype in _WIDER:
            z_wide = self._wide_z(value)
            z = z_wide.to(value.dtype)
            return z, _residual(z_wide, z)
        z = (value.log() - self.loc) / self.scale
        with torch.no_grad():
            loc, scale = self.loc.detach(), self.scale.detach()
            log_hi, log_lo = log_pair(value.detach())
            d, d_err = two_sum(log_hi, -loc)  # log x - mu = d + d_err + log_lo
            q, q_err = div_residual(d, scale)
            lo = (q - z.detach()) + (q_err + (d_err + log_lo) / scale)
            lo = torch.where(torch.isfinite(lo), lo, 0.0)
        return z, lo

    def _half_z_pair(self, value):
        """``u = z / sqrt 2 = hi + lo`` (the argument of ``erfc``), as :meth:`_z_pair`."""
        if value.dtype in _WIDER:
            u_wide = self._wide_z(value) * _SQRT_HALF_HI
            u = u_wide.to(value.dtype)
            return u, _residual(u_wide, u)
        z, z_lo = self._z_pair(value)
        u = z * _SQRT_HALF_HI
        with torch.no_grad():
            zd = z.detach()
            _, err = two_prod(zd, zd.new_tensor(_SQRT_HALF_HI))
            lo = err + (zd * _SQRT_HALF_LO + z_lo * _SQRT_HALF_HI)
            lo = torch.where(torch.isfinite(lo), lo, 0.0)
        return u, lo

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        # (exp_ in place on addcmul's fresh output: addcmul's backward keeps its inputs)
        return torch.addcmul(self.loc, eps, self.scale).exp_()

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        if not torch.is_grad_enabled() and _readable((eps, self.loc, self.scale)):
            # no graph (sample runs under no_grad): written over the draws
            return torch.addcmul(self.loc, eps, self.scale, out=eps).exp_()
        return torch.addcmul(self.loc, eps, self.scale).exp_()

    def _log_prob(self, value):
        # -z^2/2 - log(sigma) - log(2 pi)/2 - log x. Below float64, z = (log x - mu) / sigma
        # is formed in float64: the rounding of log x is amplified by |log x| / sigma (1.3e3
        # eps at mu = 2, sigma = 1e-3 in float32), and float64 leaves none of it.
        out = python_location_scale(  # (few entries, no graph: in Python floats)
            self.loc, self.scale, value, _standard_normal_log_density, _log_of_positive
        )
        if out is not None:
            return out
        full = broadcast_shapes(value.shape, self.loc.shape) == value.shape
        if full and _inplace_ok(value, self.loc, self.scale):
            return self._log_prob_in_place(value)
        const = self._log_term()
        if value.dtype == torch.float64 or self.loc.dtype == torch.float64:
            log_value = value.log()
            z = (log_value - self.loc) / self.scale
        else:
            wide = value.to(torch.float64).log()
            if value.numel() < _FEW and self.loc.numel() < _FEW:  # fewer ops than the standardizer
                z = ((wide - self.loc) / self.scale).to(value.dtype)  # (widened in the ops)
            else:
                shift, inverse = self._cached("float64_standardizer", self._float64_standardizer)
                z = torch.addcmul(shift, wide, inverse).to(value.dtype)
            log_value = wide.to(value.dtype)
        return torch.addcmul(const, z, z, value=0.5).add_(log_value).neg_()

    def _log_term(self):
        # log(sigma) + log(2 pi)/2, shared by log_prob and entropy
        return self._cached("log_normalizer", lambda: _log_term_of(self.scale))

    def _log_prob_in_place(self, value):
        """``_log_prob`` with no graph (CPU eager) for a value of the result's shape: the same
        steps over few fresh buffers (in blocks below float64, on large values)."""
        if value.dtype == torch.float64 or self.loc.dtype == torch.float64:
            log_value = value.log()
            z = torch.sub(log_value, self.loc).div_(self.scale)
        else:
            if value.numel() >= 2 * _BLOCK and value.dim() > 0:
                return self._log_prob_blocked(value)
            wide = value.to(torch.float64).log_()
            log_value = wide.to(value.dtype)
            if value.numel() < _FEW and self.loc.numel() < _FEW:
                # (the parameters widen exactly inside the float64 ops: no copies)
                wide.sub_(self.loc).div_(self.scale)
            else:
                shift, inverse = self._cached("float64_standardizer", self._float64_standardizer)
                torch.addcmul(shift, wide, inverse, out=wide)
            z = wide.to(value.dtype)
        return torch.addcmul(self._log_term(), z, z, value=0.5, out=z).add_(log_value).neg_()

    def _log_prob_blocked(self, value):
        """``_log_prob_in_place`` in blocks: the parameter terms read from the cache, or on a
        first call that finds none formed block by block (see ``_blocks_of_one_use``)."""
        if self._blocks_of_one_use():
            return _log_prob_blocks(value, _block_terms(self.loc, self.scale), _ONE_USE_BLOCK)
        shift, inverse = self._cached("float64_standardizer", self._float64_standardizer)
        const = self._log_term()
        return _log_prob_blocks(value, lambda cut: (cut(shift), cut(inverse), cut(const)))

    def _float64_standardizer(self):
        return _float64_standardizer_of(self.loc, self.scale)

    def _blocks_of_one_use(self) -> bool:
        """Whether a blocked log_prob forms its parameter terms block by block: on the first
        call, when none are held (a distribution built for one log_prob, as in a training
        step, would otherwise form 40 bytes per entry of float64 terms it never reuses, ~6 ms
        per 1M); from the second call on, the terms are formed whole and kept."""
        if self._cached_if_formed("float64_standardizer") is not None:
            return False
        first = not self.__dict__.get("_blocked_log_prob_seen", False)
        self.__dict__["_blocked_log_prob_seen"] = True
        return first

    def _erfc_half(self, value, sign):
        # Phi(sign z) = erfc(-sign u) / 2, u = z / sqrt 2 = hi + lo, corrected to first order
        # by d/du erfc(-sign u) / 2 = sign exp(-u^2) / sqrt(pi)
        u, u_lo = self._half_z_pair(value)
        corr = (sign * _INV_SQRT_PI) * u_lo * torch.exp(-u * u)
        return 0.5 * torch.special.erfc(-sign * u) + corr

    def _cdf(self, value):
        return self._erfc_half(value, 1.0)

    def _survival_function(self, value):
        return self._erfc_half(value, -1.0)

    def _log_ndtr(self, value, sign):
        # log Phi(sign z), corrected to first order by the slope phi / Phi of log Phi
        z, z_lo = self._z_pair(value)
        t = sign * z
        log_cdf = log_ndtr(t)
        finite = torch.isfinite(t)
        t_safe = torch.where(finite, t, 0.0)
        slope = torch.exp(-0.5 * t_safe * t_safe - _HALF_LOG_2PI - log_cdf)
        return log_cdf + torch.where(finite, sign * z_lo * slope, 0.0)

    def _log_cdf(self, value):
        return self._log_ndtr(value, 1.0)

    def _log_survival_function(self, value):
        return self._log_ndtr(value, -1.0)

    def _icdf(self, value):
        return (self.loc + self.scale * torch.special.ndtri(value)).exp()

    def _entropy(self):
        # H = mu + log(sigma) + (1 + log(2 pi)) / 2
        return torch.add(self.loc, self._log_term()).add_(0.5)

    @property
    def mean(self) -> torch.Tensor:
        return (self.loc + 0.5 * self.scale.square()).exp()

    @property
    def mode(self) -> torch.Tensor:
        return (self.loc - self.scale.square()).exp()

    @property
    def median(self) -> torch.Tensor:
        return self.loc.exp()

    @property
    def variance(self) -> torch.Tensor:
        s2 = self.scale.square()
        # (exp(s^2) - 1) exp(2 mu + s^2), with expm1 for small s.
        return expm1(s2) * (2 * self.loc + s2).exp()
