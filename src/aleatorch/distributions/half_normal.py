"""The half-normal distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..kl import register_kl
from ..special.compile_safe import erf
from ..special.logspace import expm1mx, log_ratio
from ..utils import _inplace_ok, _min_at_least, as_params
from ..wrappers.transformed import TransformedDistribution
from .normal import Normal

__all__ = ["HalfNormal"]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2 = math.sqrt(2.0)
_LOG_NORMALIZER = 0.5 * math.log(2 / math.pi)  # log(2 / sqrt(2 pi))
_MEDIAN = 0.6744897501960817  # sqrt(2) erfinv(1/2), the upper quartile of N(0, 1)


class HalfNormal(TransformedDistribution):
    r"""Half-normal distribution: ``Y = |X|`` for ``X ~ Normal(0, scale)``.

    .. math:: p(y) = \frac{\sqrt 2}{\sigma\sqrt{\pi}} \exp\left(-\frac{y^2}{2\sigma^2}\right)

    Support: ``[0, inf)``. A ``TransformedDistribution`` (of ``Normal(0, scale)`` by
    ``AbsTransform``), as in torch, with a closed form for every method.

    Args:
        scale: the scale :math:`\sigma > 0` of the folded normal.

    Example:
        >>> import aleatorch as D
        >>> D.HalfNormal(1.0).log_prob(torch.tensor(1.0))
        tensor(-0.7258)
    """

    arg_constraints = {"scale": constraints.positive}
    _parameters_in_base = {"scale": "scale"}
    support = constraints.nonnegative
    has_rsample = True

    # log_ndtr/erfinv have no float16 kernel; (x / scale)^2 overflows it: half precision
    # is computed in float32.
    _half_in_float32 = True

    def __init__(self, scale: Any, validate_args: bool | None = None) -> None:
        (self.scale,) = as_params(scale, owner=self._name)
        self._init_family(self.scale.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import AbsTransform

        return Normal(0.0, self.scale, validate_args=False), [AbsTransform()]

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eps = torch.randn(
            shape, dtype=self.scale.dtype, device=self.scale.device, generator=generator
        )
        return eps.abs() * self.scale

    def _sample(self, sample_shape, generator):
        # The closed-form sampler, not the generic path through the base.
        return self._rsample(sample_shape, generator)

    def _log_term(self):
        # log(2 / sqrt(2 pi)) - log(scale), shared by log_prob and entropy
        return self._cached("log_normalizer", lambda: torch.rsub(self.scale.log(), _LOG_NORMALIZER))

    def _log_prob(self, value):
        # log(2 / sqrt(2 pi)) - log(scale) - z^2 / 2, z = value / scale; -inf below 0
        log_term = self._log_term()
        if _min_at_least(value, 0.0, self.scale):
            # no entry below 0 (NaN fails the test): no where (CPU eager)
            z = value / self.scale
            if _inplace_ok(value, self.scale):  # no graph: over z's own buffer
                return torch.addcmul(log_term, z, z, value=-0.5, out=z)
            return torch.addcmul(log_term, z, z, value=-0.5)
        z = value / self.scale
        return torch.where(value >= 0, torch.addcmul(log_term, z, z, value=-0.5), -math.inf)

    def _scaled(self, value):
        # z = y / (sigma sqrt 2), so that cdf = erf(z) and sf = erfc(z).
        return value.clamp(min=0) * _SQRT_HALF / self.scale

    def _cdf(self, value):
        return erf(self._scaled(value))

    def _survival_function(self, value):
        return torch.erfc(self._scaled(value))

    def _log_cdf(self, value):
        z = self._scaled(value)
        # log erf(z): direct where erf is small, log1p(-erfc) where erf is close to 1. The
        # stand-in z keeps the unused branch (and its zero gradient) finite.
        low = z < 0.5
        upper = torch.log1p(-torch.erfc(torch.where(low, 0.5, z)))
        return torch.where(low, erf(z).log(), upper)

    def _log_survival_function(self, value):
        # erfc(z) = 2 Phi(-sqrt(2) z): log_ndtr keeps the far tail where erfc underflows.
        return math.log(2) + torch.special.log_ndtr(-value.clamp(min=0) / self.scale)

    def _icdf(self, value):
        # sqrt(2) erfinv(q) near 0; -ndtri((1 - q) / 2) near 1, where 1 - q is exact.
        low = value < 0.5
        upper = -torch.special.ndtri(0.5 * (1 - torch.where(low, 0.5, value)))
        return self.scale * torch.where(low, _SQRT_2 * torch.erfinv(value), upper)

    def _entropy(self):
        # H = log(sigma) + (1 + log(pi / 2)) / 2 = 1/2 - (log(2 / sqrt(2 pi)) - log(sigma))
        return torch.rsub(self._log_term(), 0.5)

    @property
    def mean(self) -> torch.Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self) -> torch.Tensor:
        return torch.zeros_like(self.scale)

    @property
    def median(self) -> torch.Tensor:
        return self.scale * _MEDIAN

    @property
    def variance(self) -> torch.Tensor:
        return self.scale.square() * (1 - 2 / math.pi)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p: HalfNormal, q: HalfNormal) -> torch.Tensor:
    r"""``KL(HN(s_p) || HN(s_q))``: the same as between ``N(0, s_p^2)`` and ``N(0, s_q^2)``,
    since both fold the same way.

    .. math:: \tfrac12 \left(r - 1 - \log r\right), \quad r = s_p^2 / s_q^2

    written as ``(exp(2t) - 1 - 2t) / 2`` with ``t = log(s_p / s_q)`` (``log_ratio``: exact
    for nearly equal scales, no overflow or underflow of the ratio, e.g. 1e-3 against 1e8).
    """
    return 0.5 * expm1mx(2 * log_ratio(p.scale, q.scale))
