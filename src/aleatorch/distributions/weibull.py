"""The Weibull distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_exponential
from .._samplers.draws import blocks_wanted, uniform_blocks
from ..kl import register_kl
from ..special import log1mexp
from ..special.compile_safe import expm1
from ..special.logspace import expm1mx, log_ratio
from ..utils import _inplace_ok, _readable, as_params
from ..wrappers.transformed import TransformedDistribution
from .gumbel import lgamma_two_plus_excess

__all__ = ["Weibull"]

_EULER_GAMMA = 0.57721566490153286061
_LOG_LOG_2 = math.log(math.log(2))

# log Gamma(1 + 2h) - 2 log Gamma(1 + h) = sum_{n >= 2} c_n h^n with
# c_n = (-1)^n zeta(n) (2^n - 2) / n (from the series of log Gamma(1 + x)), n = 2..24:
# enough for float64 when h < 0.1.
_VARIANCE_SERIES = (
    1.6449340668482264,
    -2.4041138063191885,
    3.7881313179889835,
    -6.22156653086022,
    10.51254497383931,
    -18.150286992874612,
    31.879456059284735,
    -56.78047559347799,
    102.30164557806299,
    -186.0919190803662,
    341.2506231957703,
    -630.0773094089744,
    1170.2145262106094,
    -2184.466816943389,
    4095.9375942242555,
    -7710.058882793788,
    14563.500037382839,
    -27594.052655221698,
    52428.75001498928,
    -99864.33334285778,
    190650.13636970092,
    -364722.0434821298,
    699050.6250024727,
)
_SERIES_BELOW = 0.1


def _log_variance_ratio(h: torch.Tensor) -> torch.Tensor:
    """``log Gamma(1 + 2h) - 2 log Gamma(1 + h)`` (positive) for ``h > 0``.

    For small ``h`` (a large Weibull concentration ``1/h``) the two terms cancel to about
    ``1.64 h^2``, and rounding ``1 + h`` alone costs ``eps / h^2`` relative: the power series
    is used there instead.
    """
    small = h < _SERIES_BELOW
    hs = torch.where(small, h, 0.0)
    series = torch.full_like(hs, _VARIANCE_SERIES[-1])
    for c in reversed(_VARIANCE_SERIES[:-1]):
        series = series * hs + c
    series = series * hs.square()
    hl = torch.where(small, 1.0, h)
    direct = torch.lgamma(1 + 2 * hl) - 2 * torch.lgamma(1 + hl)
    return torch.where(small, series, direct)


class Weibull(TransformedDistribution):
    r"""Weibull distribution with scale ``scale`` and shape ``concentration``.

    .. math:: p(x) = \frac{k}{\lambda} \left(\frac{x}{\lambda}\right)^{k - 1}
              \exp\left(-\left(\frac{x}{\lambda}\right)^k\right)

    Support: ``(0, inf)``. A ``TransformedDistribution`` (of ``Exponential(1)`` by
    ``PowerTransform(1 / k)`` and ``AffineTransform(0, lambda)``), as in torch, with a closed
    form for every method. The mode is 0 for ``k <= 1`` (torch 2.13 gives a negative or NaN
    value there).

    Args:
        scale: the scale :math:`\lambda > 0`.
        concentration: the shape :math:`k > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Weibull(1.0, 2.0).log_prob(torch.tensor(1.0))
        tensor(-0.3069)
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    # lgamma and powers overflow float16 (torch.full_like(h, 7e5) alone does): half
    # precision is computed in float32 (see Distribution._half_in_float32).
    _half_in_float32 = True
    # A property, as torch's (inherited from TransformedDistribution), that builds no base.
    has_rsample = property(lambda self: True)

    def __init__(self, scale: Any, concentration: Any, validate_args: bool | None = None) -> None:
        self.scale, self.concentration = as_params(scale, concentration, owner=self._name)
        self._init_family(self.scale.shape, validate_args=validate_args)

    @property
    def concentration_reciprocal(self) -> torch.Tensor:
        """``1 / concentration`` (an attribute in torch)."""
        return self.concentration.reciprocal()

    def _base_and_transforms(self):
        from ..transforms import AffineTransform, PowerTransform
        from .exponential import Exponential

        transforms = [
            PowerTransform(exponent=self.concentration_reciprocal),
            AffineTransform(loc=0, scale=self.scale),
        ]
        return Exponential(torch.ones_like(self.scale), validate_args=False), transforms

    def _rsample(self, sample_shape, generator):
        # x = lambda E^(1/k) for E ~ Exp(1); E and x are kept above `tiny`, so that log E is
        # finite and an underflow (small k) stays in the open support.
        shape = self._extended_shape(sample_shape)
        tiny = torch.finfo(self.scale.dtype).tiny
        params = (self.scale, self.concentration)
        graph = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        if not graph and blocks_wanted(self.scale, shape):
            # CPU eager, large: each block in cache, written once; E = -log(1 - u) (1 - u is
            # exact on the uniforms' grid; a third of -log1p(-u)'s cost)
            out = torch.empty(shape, dtype=self.scale.dtype)
            for rows, u, (scale, k) in uniform_blocks(shape, out.dtype, generator, params):
                e = u.neg_().add_(1).log_().neg_().clamp_(min=tiny)
                torch.mul(scale, e.log_().div_(k).exp_(), out=out[rows]).clamp_(min=tiny)
            return out
        e = standard_exponential(self.scale, shape, generator).clamp_(min=tiny)
        return (self.scale * torch.exp(e.log() / self.concentration)).clamp(min=tiny)

    def _sample(self, sample_shape, generator):
        # The closed-form sampler, not the generic path through the base.
        return self._rsample(sample_shape, generator)

    def _ratio(self, value):
        """``z = x / lambda`` (0 at and below 0), where it is a positive finite number, and
        ``log z``: from ``z`` there, else as ``log x - log lambda`` (z overflows or underflows
        for a scale near finfo.max or the smallest normal)."""
        x = value.clamp(min=0)
        ratio = x / self.scale
        direct = (ratio > 0) & torch.isfinite(ratio)
        safe = torch.where(direct, ratio, 1.0)
        return direct, safe, torch.where(direct, safe.log(), x.log() - self.scale.log())

    def _log_ratio(self, value):
        return self._ratio(value)[2]

    def _power(self, value, ratio=None):
        """``(x / lambda)^k``, 0 at and below 0: ``pow`` where ``x / lambda`` is a normal
        number (exact to rounding), ``exp(k log z)`` otherwise."""
        direct, safe, log_z = self._ratio(value) if ratio is None else ratio
        k = self.concentration
        return torch.where(direct, safe.pow(k), torch.exp(k * log_z))

    def _log_term(self):
        # log k - log lambda depends on the parameters alone: cached while they are unchanged.
        k = self.concentration
        return self._cached("log_normalizer", lambda: k.log() - self.scale.log())

    def _log_prob(self, value):
        k = self.concentration
        # log k - log lambda depends on the parameters alone: cached while they are unchanged.
        const = self._log_term()
        if _readable((value, k, self.scale)):
            # CPU eager: where every z = x / lambda is a normal finite number (so x > 0),
            # the plain form is the exact one and no entry needs a branch; one reduction
            # says so. (Else, and under compile/vmap/accelerators, the general form below.)
            z = value / self.scale
            if z.numel() > 0:
                finfo = torch.finfo(z.dtype)
                lo, hi = torch.aminmax(z)
                if lo.item() >= finfo.tiny and hi.item() <= finfo.max:
                    # z^k may overflow: -inf, and the clamp keeps (k - 1) log z from being
                    # +inf there (inf - inf).
                    if _inplace_ok(value, k, self.scale):  # no graph: over z's buffers
                        linear = z.log().mul_(k - 1).clamp_(max=finfo.max)
                        return linear.add_(const).sub_(z.pow_(k))
                    linear = ((k - 1) * z.log()).clamp(max=finfo.max)
                    return linear.add_(const).sub_(z.pow(k))
        ratio = self._ratio(value)
        log_z = ratio[2]
        power = self._power(value, ratio)
        # (k - 1) log z is 0 at k = 1, also at z = 0.
        linear = (k - 1) * torch.where((k == 1) & torch.isinf(log_z), 0.0, log_z)
        log_prob = const + linear - power
        # Where z^k overflows it outweighs (k - 1) log z: -inf, not inf - inf.
        log_prob = torch.where(torch.isinf(power), -math.inf, log_prob)
        return torch.where(value >= 0, log_prob, -math.inf)

    def _cdf(self, value):
        return -expm1(-self._power(value))

    def _survival_function(self, value):
        return torch.exp(-self._power(value))

    def _log_cdf(self, value):
        # log(1 - exp(-z)) = log z + log((1 - exp(-z)) / z) for z < 1, so that a z^k that
        # underflows (x far below the scale) still gives its finite log, k log(x / lambda).
        log_power = self.concentration * self._log_ratio(value)
        power = log_power.exp()
        small = power < 1
        z = torch.where(small & (power > 0), power, 1.0)
        ratio = torch.where(power > 0, -expm1(-z) / z, 1.0)
        return torch.where(small, log_power + ratio.log(), log1mexp(-power))

    def _log_survival_function(self, value):
        return -self._power(value)

    def _icdf(self, value):
        return self.scale * (-torch.log1p(-value)).pow(self.concentration_reciprocal)

    def _entropy(self):
        # H = gamma (1 - 1/k) + log(lambda / k) + 1
        # = (1 + gamma) - (log k - log lambda) - gamma / k, from log_prob's cached term
        k = self.concentration
        h = torch.rsub(self._log_term(), 1 + _EULER_GAMMA)
        return h.addcdiv_(k.new_ones(()), k, value=-_EULER_GAMMA)

    @property
    def mean(self) -> torch.Tensor:
        return self.scale * torch.exp(torch.lgamma(1 + self.concentration_reciprocal))

    @property
    def mode(self) -> torch.Tensor:
        # lambda ((k - 1) / k)^(1/k) for k > 1; the density is largest at 0 for k <= 1.
        k = self.concentration
        above = k > 1
        ks = torch.where(above, k, 2.0)
        mode = self.scale * torch.exp(torch.log1p(-ks.reciprocal()) / ks)
        return torch.where(above, mode, 0.0)

    @property
    def median(self) -> torch.Tensor:
        return self.scale * torch.exp(_LOG_LOG_2 * self.concentration_reciprocal)

    @property
    def variance(self) -> torch.Tensor:
        # lambda^2 (Gamma(1 + 2h) - Gamma(1 + h)^2), h = 1/k, without the cancellation:
        # lambda^2 Gamma(1 + h)^2 expm1(log Gamma(1 + 2h) - 2 log Gamma(1 + h)).
        h = self.concentration_reciprocal
        ratio = expm1(_log_variance_ratio(h))
        return (self.scale * torch.exp(torch.lgamma(1 + h))).square() * ratio


@register_kl(Weibull, Weibull)
def _kl_weibull_weibull(p: Weibull, q: Weibull) -> torch.Tensor:
    r"""``KL(Weibull(l_p, k_p) || Weibull(l_q, k_q))`` in closed form (torch has none).

    From ``E[log(X / l_p)] = -gamma / k_p`` and ``E[X^s] = l_p^s Gamma(1 + s / k_p)``:

    .. math:: \log\frac{k_p}{k_q} + k_q \log\frac{l_q}{l_p} + \gamma\left(\frac{k_q}{k_p} - 1
              \right) + \left(\frac{l_p}{l_q}\right)^{k_q} \Gamma\left(1 + \frac{k_q}{k_p}
              \right) - 1
    """
    # With r = k_q / k_p = 1 + e and u = k_q log(l_p / l_q) + log Gamma(1 + r) this is
    # (e^u - 1 - u) + g(e), g as for the Gumbel KL: two nonnegative terms, exact for nearly
    # equal laws.
    e = (q.concentration - p.concentration) / p.concentration
    g = lgamma_two_plus_excess(e)
    log_gamma_one_plus_r = g - _EULER_GAMMA * e + torch.log1p(e)
    u = q.concentration * log_ratio(p.scale, q.scale) + log_gamma_one_plus_r
    return expm1mx(u) + g
