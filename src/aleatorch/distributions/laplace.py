"""The Laplace (double exponential) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..kl import register_kl
from ..special.logspace import expm1mx, log_ratio
from ..utils import _SMALL_NUMEL, _inplace_ok, _scalar_tensor
from ._location_scale import SymmetricLocationScale

__all__ = ["Laplace"]

_LOG_HALF = -math.log(2.0)

# eps/2 - 1 per dtype: the shift of 2u in _rsample
_EPS_HALF_MINUS_1 = {
    dtype: torch.finfo(dtype).eps / 2 - 1
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}


class Laplace(SymmetricLocationScale, Distribution):
    r"""Laplace distribution with location ``loc`` and scale ``scale``.

    .. math:: p(x) = \frac{1}{2b} \exp\left(-\frac{|x - \mu|}{b}\right)

    Support: the real line.

    Args:
        loc: the location (mean, median and mode) :math:`\mu`.
        scale: the scale :math:`b > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Laplace(0.0, 1.0).log_prob(torch.tensor(1.0))
        tensor(-1.6931)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    # 2 * scale and log(2 scale) overflow float16: half precision is computed in float32.
    _half_in_float32 = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self._set_location_scale(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def stddev(self) -> torch.Tensor:
        return math.sqrt(2) * self.scale

    @property
    def variance(self) -> torch.Tensor:
        return 2 * self.scale.pow(2)

    def _rsample(self, sample_shape, generator):
        loc = self.loc
        dtype = loc.dtype
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=dtype, device=loc.device, generator=generator)
        # rand gives multiples of eps/2 in [0, 1); w = 2u - (1 - eps/2) (one add: 2u and the
        # sum are exact) is then an odd multiple of eps/2, symmetric about 0 and never 0 or
        # +-1, so the magnitude log1p(-|w|) is finite and the sign never vanishes.
        if u.numel() > _SMALL_NUMEL:  # in place on the fresh uniforms
            w = u.mul_(2.0).add_(_EPS_HALF_MINUS_1[dtype])
        else:  # (few entries: one op, with a cached scalar operand)
            w = torch.add(_scalar_tensor(_EPS_HALF_MINUS_1[dtype], dtype), u, alpha=2)
        # z = -sign(w) log1p(-|w|) (copysign keeps only the magnitude of log1p), a standard
        # Laplace draw; x = loc + scale z in one op.
        # (in place on the fresh |w|: no graph reaches the draws)
        z = w.abs().neg_().log1p_().copysign_(w)
        return torch.addcmul(loc, self.scale, z)

    def _log_term(self):
        # -log(2 b) as -log 2 - log b: 2 b overflows for b above finfo.max / 2. (Below the
        # cache's size computed without its look-up.)
        if self.scale.numel() < self._cache_min_numel:
            return self._neg_log_2b()
        return self._cached("log_normalizer", self._neg_log_2b)

    def _neg_log_2b(self):
        scale = self.scale
        return torch.sub(_scalar_tensor(_LOG_HALF, scale.dtype), scale.log())

    def _log_prob(self, value):
        # -log(2 b) - |x - mu| / b, the division and subtraction in one addcdiv
        log_term = self._log_term()
        if value.numel() > _SMALL_NUMEL and _inplace_ok(value, self.loc, self.scale):
            # no graph: over |x - mu|'s buffer
            distance = torch.sub(value, self.loc).abs_()
            return torch.addcdiv(log_term, distance, self.scale, value=-1, out=distance)
        # (few entries: the check costs more than the buffer it would save)
        return torch.addcdiv(log_term, (value - self.loc).abs(), self.scale, value=-1)

    def _tail(self, value, sign: int):
        """z and exp(-|z|), the mass beyond |z| on one side (times 2): exact in both tails.

        ``-|z|`` is written as ``where(sign * z < 0, z, -z)`` so that at ``z = 0`` its
        derivative belongs to the branch the caller takes there (``abs`` has derivative 0 at
        0, which would give the cdf a zero gradient at the median)."""
        z = (value - self.loc) / self.scale
        return z, torch.exp(torch.where(sign * z < 0, sign * z, -sign * z))

    def _cdf(self, value):
        z, e = self._tail(value, +1)
        return torch.where(z < 0, 0.5 * e, 1 - 0.5 * e)

    def _survival_function(self, value):
        z, e = self._tail(value, -1)
        return torch.where(z > 0, 0.5 * e, 1 - 0.5 * e)

    def _log_cdf(self, value):
        z, e = self._tail(value, +1)
        return torch.where(z < 0, _LOG_HALF + z, torch.log1p(-0.5 * e))

    def _log_survival_function(self, value):
        z, e = self._tail(value, -1)
        return torch.where(z > 0, _LOG_HALF - z, torch.log1p(-0.5 * e))

    def _icdf(self, value):
        # log(2 min(q, 1 - q)): 1 - q is exact where it is the smaller one (q >= 1/2).
        tail = torch.where(value < 0.5, value, 1 - value)
        t = torch.log(2 * tail)
        return torch.where(value < 0.5, self.loc + self.scale * t, self.loc - self.scale * t)

    def _entropy(self):
        # 1 + log(2 b), from the cached -log(2 b) of _log_prob
        return torch.rsub(self._log_term(), 1)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace) -> torch.Tensor:
    # KL = log(b_q/b_p) + |mu_p - mu_q|/b_q + (b_p/b_q) exp(-|mu_p - mu_q|/b_p) - 1, with
    # r = b_p/b_q = e^s and t = |mu_p - mu_q|/b_p it is (e^s - 1 - s) + r (e^-t - 1 + t): two
    # nonnegative terms, each exact near 0 through expm1mx (s from log_ratio, exact for
    # nearly equal scales).
    s = log_ratio(p.scale, q.scale)
    t = (p.loc - q.loc).abs() / p.scale
    return expm1mx(s) + (p.scale / q.scale) * expm1mx(-t)
