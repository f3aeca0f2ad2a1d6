"""The Cauchy (Lorentz) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import blocks_wanted, uniform_blocks
from ..distribution import Distribution
from ..kl import register_kl
from ..utils import _SMALL_NUMEL, _flat_list, _inplace_ok, _readable, python_location_scale
from ._location_scale import SymmetricLocationScale

__all__ = ["Cauchy"]

_LOG_PI = math.log(math.pi)
_LOG_4 = math.log(4)


def _standard_log_density(z: float) -> float:
    return -_LOG_PI - math.log1p(z * z)


# Up to this many draws, sampling is one cauchy_ call (CPU eager): cheaper than two normals
# and their ratio below a few hundred entries (measured, one thread).
_FEW_DRAWS = 64
_transforms_active = torch._C._are_functorch_transforms_active


def _tan_pi_centered(q: torch.Tensor) -> torch.Tensor:
    """``tan(pi (q - 1/2))`` for ``q`` in ``[0, 1]``, with relative accuracy in both tails.

    Near 0 and 1, ``pi (q - 1/2)`` rounds close to ``-pi/2`` or ``pi/2``; there
    ``-1 / tan(pi q)`` and ``1 / tan(pi (1 - q))`` use the exact ``q`` and ``1 - q``.
    """
    mid = (q - 0.5).abs() <= 0.25
    low = (q < 0.5) & ~mid
    high = (q > 0.5) & ~mid
    # Safe where: each branch sees a harmless argument where it is not chosen.
    centre = torch.tan(math.pi * (torch.where(mid, q, 0.5) - 0.5))
    lower = -torch.tan(math.pi * torch.where(low, q, 0.25)).reciprocal()
    upper = torch.tan(math.pi * (1 - torch.where(high, q, 0.75))).reciprocal()
    return torch.where(mid, centre, torch.where(low, lower, upper))


def _ratio(normals: torch.Tensor) -> torch.Tensor:
    """``normals[0] / normals[1]`` (in place), a standard Cauchy draw, kept finite
    (nan_to_num_: +-inf to +-finfo.max, and 0/0 to 0)."""
    return normals[0].div_(normals[1]).nan_to_num_()


_NEG_LOG_PI: dict[torch.dtype, torch.Tensor] = {}


def _neg_log_pi(dtype: torch.dtype) -> torch.Tensor:
    """``-log(pi)`` as a 0-dim tensor of ``dtype``: cheaper than a Python scalar operand."""
    const = _NEG_LOG_PI.get(dtype)
    if const is None:
        const = _NEG_LOG_PI[dtype] = torch.tensor(-_LOG_PI, dtype=dtype)
    return const


class Cauchy(SymmetricLocationScale, Distribution):
    r"""Cauchy distribution with location ``loc`` and half width ``scale``.

    .. math:: p(x) = \frac{1}{\pi \gamma \left(1 + \left(\frac{x - x_0}{\gamma}\right)^2\right)}

    Support: the real line. The mean is undefined (NaN) and the variance infinite.

    Args:
        loc: the location (median and mode) :math:`x_0`.
        scale: the half width at half maximum :math:`\gamma > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Cauchy(0.0, 1.0).log_prob(torch.tensor(0.0))
        tensor(-1.1447)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self._set_location_scale(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return torch.full_like(self.loc, math.nan)

    @property
    def variance(self) -> torch.Tensor:
        return torch.full_like(self.loc, math.inf)

    def _rsample(self, sample_shape, generator):
        # N1 / N2 for independent standard normals is a standard Cauchy draw: two normals
        # cost less than the exact inverse cdf (three tans and their wheres), and the tail
        # is as heavy as the normals allow (N2 near 0). An infinite ratio is kept finite.
        loc = self.loc
        shape = self._extended_shape(sample_shape)
        dtype = loc.dtype
        if (
            shape.numel() <= _FEW_DRAWS
            and loc.is_cpu
            and (dtype is torch.float32 or dtype is torch.float64)
            and not torch.compiler.is_compiling()
            and not _transforms_active()
        ):
            # Few draws, CPU eager: torch's cauchy_ is one call, tan(pi (u - 1/2)) in float64
            # from 53-bit uniforms, rounded once to the dtype: finite (|z| < 2e16), and its
            # tails resolved on the 2^-53 grid of u (tests/test_small_call_paths.py).
            z = torch.empty(shape, dtype=dtype).cauchy_(generator=generator)
        elif not (
            torch.is_grad_enabled() and (loc.requires_grad or self.scale.requires_grad)
        ) and blocks_wanted(loc, shape):
            # CPU eager, large: each block's normals and ratio in cache, written once
            out = torch.empty(shape, dtype=dtype)
            params = (loc, self.scale)
            for rows, normals, block in uniform_blocks(
                shape, dtype, generator, params, per_entry=2, normal=True
            ):
                torch.addcmul(*block, _ratio(normals), out=out[rows])
            return out
        else:
            normals = torch.randn(
                (2, *shape), dtype=dtype, device=loc.device, generator=generator
            )  # both in one call
            z = _ratio(normals)
        return torch.addcmul(loc, self.scale, z)

    def _standardize(self, value):
        return (value - self.loc) / self.scale

    def _log_prob(self, value):
        # few entries, no graph: in Python floats
        out = python_location_scale(self.loc, self.scale, value, _standard_log_density)
        if out is not None:
            return out
        # log p = -log(pi gamma) - log1p(z^2); log(pi gamma) is cached while the parameters
        # are unchanged.
        if value.numel() > _SMALL_NUMEL and _inplace_ok(value, self.loc, self.scale):
            # No graph, CPU eager: as below, over one fresh buffer.
            square = torch.sub(value, self.loc).div_(self.scale).square_()
            if math.isfinite(square.sum().item()):
                return square.log1p_().add_(self._log_normalizer()).neg_()
        z = (value - self.loc) / self.scale
        if _readable((z,)):
            # CPU eager: where no z^2 overflows (their sum is finite), log1p(z^2) itself.
            square = z * z
            if square.numel() <= _SMALL_NUMEL:
                # Few entries (nothing to cache): the sum in Python floats, and
                # (-log(pi) - log(gamma)) - log1p(z^2) in the fewest torch calls (the same
                # roundings as the cached form).
                if math.isfinite(sum(_flat_list(square))):
                    const = torch.sub(_neg_log_pi(square.dtype), self.scale.log())
                    return torch.sub(const, torch.log1p(square))
            elif math.isfinite(square.sum().item()):
                return torch.log1p(square).add_(self._log_normalizer()).neg_()
        # as 2 log hypot(1, z): no overflow of z^2 for large z.
        return -self._log_normalizer() - 2 * torch.hypot(z, z.new_ones(())).log()

    def _log_normalizer(self):
        return self._cached("log_normalizer", lambda: self.scale.log() + _LOG_PI)

    # cdf = atan2(1, -z) / pi and sf = atan2(1, z) / pi: both tails keep relative accuracy
    # (1/2 + atan(z)/pi would cancel for z << 0).
    def _cdf(self, value):
        z = self._standardize(value)
        return torch.atan2(z.new_ones(()), -z) / math.pi

    def _survival_function(self, value):
        z = self._standardize(value)
        return torch.atan2(z.new_ones(()), z) / math.pi

    @staticmethod
    def _log_sf_standard(z):
        # sf(z) = atan2(1, z) / pi everywhere; below 0 its log is log1p(-cdf(z)), exact
        # where log sf ~ -1e-9 (both branches are exact formulas: gradients agree at 0).
        one = z.new_ones(())
        upper = (torch.atan2(one, z) / math.pi).log()
        lower = torch.log1p(-torch.atan2(one, -z) / math.pi)
        return torch.where(z > 0, upper, lower)

    def _log_cdf(self, value):
        return self._log_sf_standard(-self._standardize(value))

    def _log_survival_function(self, value):
        return self._log_sf_standard(self._standardize(value))

    def _icdf(self, value):
        return self.loc + self.scale * _tan_pi_centered(value)

    def _entropy(self):
        # H = log(4 pi gamma) = log(pi gamma) + log 4, from the cached log(pi gamma)
        return torch.add(self._log_normalizer(), _LOG_4)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p: Cauchy, q: Cauchy) -> torch.Tensor:
    # KL = log(((g_p + g_q)^2 + (x_p - x_q)^2) / (4 g_p g_q))  (Chyzak & Nielsen, 2019),
    # as log1p(((g_p - g_q)^2 + (x_p - x_q)^2) / (4 g_p g_q)): exact for nearly equal laws.
    # The ratio is formed as (d / 2g_p) (d / 2g_q), which neither overflows nor underflows.
    scale_gap = (p.scale - q.scale) / (2 * p.scale) * ((p.scale - q.scale) / (2 * q.scale))
    loc_gap = (p.loc - q.loc) / (2 * p.scale) * ((p.loc - q.loc) / (2 * q.scale))
    return torch.log1p(scale_gap + loc_gap)
