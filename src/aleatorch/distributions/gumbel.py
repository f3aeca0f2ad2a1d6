"""The Gumbel (maximum extreme value, type I) distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..kl import register_kl
from ..special import log1mexp
from ..special.compile_safe import expm1
from ..special.logspace import expm1mx
from ..special.stirling import _ZETA
from ..utils import _inplace_ok, as_params, broadcast_shapes
from ..wrappers.transformed import TransformedDistribution

__all__ = ["Gumbel"]

_KL_SERIES_BELOW = 0.2
_EULER_GAMMA = 0.57721566490153286061
_LOG_LOG_2 = math.log(math.log(2))


# log_prob with no graph: exp(y) in blocks of this many entries into one scratch buffer
# (1 MB in float32, in L2; a second 1M-entry buffer costs its page faults: 1M float32
# entries 2.0-2.2 ms with blocks of 256K, 2.2-2.3 ms with 64K, 2.0-2.5 ms unblocked)
_BLOCK = 262144


def _minus_exp_plus_blocks(y: torch.Tensor, add: torch.Tensor) -> torch.Tensor:
    """``y - exp(y) + add`` written over ``y`` (contiguous, ``add`` of its shape), block by
    block through one scratch buffer."""
    flat, extra = y.view(-1), add.view(-1)
    scratch = torch.empty(_BLOCK, dtype=y.dtype, device=y.device)
    n = flat.numel()
    for i in range(0, n, _BLOCK):
        j = min(n, i + _BLOCK)
        block, e = flat[i:j], scratch[: j - i]
        block.sub_(torch.exp(block, out=e)).add_(extra[i:j])
    return y


class Gumbel(TransformedDistribution):
    r"""Gumbel distribution with location ``loc`` and scale ``scale``.

    .. math:: p(x) = \frac{1}{\beta} \exp\left(-z - e^{-z}\right), \quad z = \frac{x - \mu}{\beta}

    Support: the real line. A ``TransformedDistribution`` (``Y = mu - beta log(-log U)`` for
    ``U`` uniform, as in torch), with a closed form for every method.

    Args:
        loc: the location (mode) :math:`\mu`.
        scale: the scale :math:`\beta > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Gumbel(0.0, 1.0).log_prob(torch.tensor(0.0))
        tensor(-1.)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    # A property, as torch's (inherited from TransformedDistribution), that builds no base.
    has_rsample = property(lambda self: True)

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = as_params(loc, scale, owner=self._name)
        self._init_family(self.loc.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import AffineTransform, ExpTransform
        from .uniform import Uniform

        finfo = torch.finfo(self.loc.dtype)
        low = torch.full_like(self.loc, finfo.tiny)
        base = Uniform(low, torch.full_like(self.loc, 1 - finfo.eps), validate_args=False)
        transforms = [
            ExpTransform().inv,
            AffineTransform(loc=0, scale=-torch.ones_like(self.scale)),
            ExpTransform().inv,
            AffineTransform(loc=self.loc, scale=-self.scale),
        ]
        return base, transforms

    def _rsample(self, sample_shape, generator):
        # x = mu - beta log(E) for E = -log U ~ Exp(1), in place on the fresh uniform draw
        # (torch's exponential_ is ~6x slower than rand on CPU). U >= tiny keeps log E finite.
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        log_e = u.clamp_(min=torch.finfo(u.dtype).tiny).log_().neg_().log_()
        return self.loc - self.scale * log_e

    def _sample(self, sample_shape, generator):
        # The closed-form sampler, not the generic path through the base.
        return self._rsample(sample_shape, generator)

    def _standardize(self, value):
        return (value - self.loc) / self.scale

    def _log_term(self):
        # -log(beta), shared by log_prob and entropy
        return self._cached("log_normalizer", lambda: self.scale.log().neg_())

    def _log_prob(self, value):
        # -log(beta) - (z + exp(-z)), z = (x - mu) / beta.
        # Below -log(finfo.max) exp(-z) is inf anyway: the clamp keeps z = -inf (a value far
        # left of a loc near finfo.max) from giving -(-inf + inf) = NaN instead of -inf.
        log_term = self._log_term()
        if _inplace_ok(value, self.loc, self.scale):
            y = torch.sub(self.loc, value)  # -z, then y - exp(y) - log(beta) in place
            if broadcast_shapes(y.shape, self.scale.shape) == y.shape:
                y.div_(self.scale).clamp_(max=math.log(torch.finfo(y.dtype).max) + 1)
                if (
                    y.numel() > 2 * _BLOCK
                    and log_term.shape == y.shape
                    and y.is_contiguous()
                    and log_term.is_contiguous()
                ):
                    return _minus_exp_plus_blocks(y, log_term)
                return y.sub_(torch.exp(y)).add_(log_term)
        z = self._standardize(value)
        z = z.clamp(min=-math.log(torch.finfo(z.dtype).max) - 1)
        return log_term - (z + torch.exp(-z))

    # With t = exp(-z): cdf = exp(-t), log cdf = -t, sf = -expm1(-t), log sf = log1mexp(-t).
    def _cdf(self, value):
        return torch.exp(-torch.exp(-self._standardize(value)))

    def _survival_function(self, value):
        return -expm1(-torch.exp(-self._standardize(value)))

    def _log_cdf(self, value):
        return -torch.exp(-self._standardize(value))

    def _log_survival_function(self, value):
        return log1mexp(-torch.exp(-self._standardize(value)))

    def _icdf(self, value):
        return self.loc - self.scale * torch.log(-torch.log(value))

    def _entropy(self):
        # H = log(beta) + gamma + 1
        return torch.rsub(self._log_term(), 1 + _EULER_GAMMA)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc + _EULER_GAMMA * self.scale

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def median(self) -> torch.Tensor:
        return self.loc - _LOG_LOG_2 * self.scale

    @property
    def stddev(self) -> torch.Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self) -> torch.Tensor:
        return (math.pi**2 / 6) * self.scale.square()


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel) -> torch.Tensor:
    r"""``KL(Gumbel(m_p, b_p) || Gumbel(m_q, b_q))``, with ``r = b_p / b_q = 1 + e`` and
    ``d = (m_p - m_q) / b_q``.

    .. math:: \log\frac{b_q}{b_p} + \gamma (r - 1) + d + e^{-d}\,\Gamma(1 + r) - 1

    from ``E[Z] = gamma`` and ``E[exp(-r Z)] = Gamma(1 + r)`` for a standard Gumbel ``Z``.
    With ``u = log Gamma(1 + r) - d`` it is ``(e^u - 1 - u) + g(e)``,
    ``g(e) = log Gamma(2 + e) + gamma e - log1p(e) = sum_k>=2 (-1)^k zeta(k) e^k / k``: two
    nonnegative terms, each exact for nearly equal laws (the series for ``|e| <= 0.2``).
    """
    e = (p.scale - q.scale) / q.scale
    d = (p.loc - q.loc) / q.scale
    g = lgamma_two_plus_excess(e)
    log_gamma_one_plus_r = g - _EULER_GAMMA * e + torch.log1p(e)
    return expm1mx(log_gamma_one_plus_r - d) + g


def lgamma_two_plus_excess(e: torch.Tensor) -> torch.Tensor:
    r"""``g(e) = log Gamma(2 + e) + gamma e - log1p(e) >= 0`` for ``e > -1``: the series
    :math:`\sum_{k \ge 2} (-1)^k \zeta(k) e^k / k` for ``|e| <= 0.2`` (exact where ``g``
    is tiny), the direct sum beyond. Shared by the Gumbel and Weibull KLs."""
    small = e.abs() <= _KL_SERIES_BELOW
    t = torch.where(small, e, torch.zeros_like(e))
    series = torch.zeros_like(t)
    for k in range(len(_ZETA) + 1, 1, -1):  # sum_k (-1)^k zeta(k) t^(k-2) / k, Horner
        series = series * t + (-1) ** k * _ZETA[k - 2] / k
    far = torch.where(small, torch.ones_like(e), e)
    direct = torch.lgamma(2 + far) + _EULER_GAMMA * far - torch.log1p(far)
    return torch.where(small, series * t * t, direct)
