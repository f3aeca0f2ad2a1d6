"""The Kumaraswamy distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import uniform_words
from ..special.compile_safe import expm1
from ..special.incomplete_beta import _lgamma_ratio
from ..special.logspace import log1mexp
from ..utils import _inplace_ok, _readable, as_params, broadcast_shapes
from ..wrappers.transformed import TransformedDistribution
from .uniform import Uniform

__all__ = ["Kumaraswamy"]

_LOG_HALF = -math.log(2.0)
_EULER = 0.5772156649015329


def _times(c: torch.Tensor, log_value: torch.Tensor) -> torch.Tensor:
    """``c * log_value`` with ``0 * (-inf) = 0`` (the density's factors at the ends); the
    gradient in ``c`` stays ``log_value`` wherever that is finite."""
    zero_times_inf = (c == 0) & torch.isinf(log_value)
    return c * torch.where(zero_times_inf, torch.zeros_like(log_value), log_value)


def _log_moment(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    r"""``log E[X^n] = log Gamma(1 + c) - [log Gamma(b + 1 + c) - log Gamma(b + 1)]``, c = n/a.

    The bracket from Stirling's series (no cancellation of two large ``lgamma``s when ``b`` is
    large); plain ``lgamma`` differences once ``c`` dwarfs ``b``, where they do not cancel and
    the series' product of ten ratios could overflow.
    """
    c = n / a
    big = b + 1
    # Far beyond b (a tiny: c up to 1e308, where lgamma(1 + c) is inf and the difference
    # inf - inf), log Gamma(1 + c) - log Gamma(b + 1 + c) = -b log(c + (b + 1) / 2) up to
    # b^3 / (24 c^2), below rounding once c > 1e8 (b + 1).
    far = c > 1e8 * big
    asymptotic = torch.lgamma(big) - b * torch.log(c + big / 2)
    c = torch.where(far, torch.ones_like(c), c)
    by_series = c < 100 * big
    ratio = _lgamma_ratio(torch.where(by_series, c, torch.zeros_like(c)), big)
    direct = torch.lgamma(big + c) - torch.lgamma(big)
    return torch.where(far, asymptotic, torch.lgamma(1 + c) - torch.where(by_series, ratio, direct))


#: From this many draws the uniforms come from int64 words (fewer calls below it).
_WORDS_FROM = 65536


def _eager_draws(a: torch.Tensor) -> bool:
    """CPU eager outside every torch.func transform (under vmap even an unbatched tensor
    must get batched draws), float32 or float64."""
    return a.dtype in (torch.float32, torch.float64) and _readable((a,))


def _log_uniforms(shape: torch.Size, dtype: torch.dtype, generator) -> torch.Tensor:
    """``log u`` for uniforms ``u`` on ``(0, 1]``: ``u = 1 - k 2^-24`` (float32, ``k`` the
    low 24 bits of a random 32-bit word, two words per int64 of ``random_``: torch.rand's
    grid, reflected, ~0.8 ms less per 1M) or ``1 - torch.rand`` (float64); never 0."""
    m = math.prod(shape)
    if dtype != torch.float32:
        return torch.rand(shape, dtype=dtype, generator=generator).neg_().log1p_()
    return uniform_words(m, generator)[0].mul_(-(2.0**-24)).log1p_().view(shape)


class Kumaraswamy(TransformedDistribution):
    r"""Kumaraswamy distribution on the unit interval, a Beta look-alike with a closed-form cdf.

    .. math:: p(x) = a b \, x^{a - 1} (1 - x^a)^{b - 1}, \qquad
              F(x) = 1 - (1 - x^a)^b, \qquad x \in [0, 1]

    A ``TransformedDistribution`` (``Uniform(0, 1)`` by ``x -> x^{1/b}``, ``x -> 1 - x``,
    ``x -> x^{1/a}``), as in torch, but every method has a closed form computed in log space
    (``log(1 - x^a)`` as ``log1mexp(a log x)``), and the base is built only on demand. Moments:
    :math:`E[X^n] = b \, B(1 + n/a, b)`.

    The mode is :math:`((a - 1) / (ab - 1))^{1/a}` for :math:`a, b \ge 1` (torch 2.13 returns
    NaN, pytorch#173912). At the edges: ``0`` when ``a < 1 <= b`` and ``1`` when
    ``b < 1 <= a`` (the density is unbounded there); with both below 1 the end with the
    stronger singularity (``1`` when ``b <= a``, else ``0``, as for ``Beta``); NaN for
    ``a = b = 1``, the uniform distribution, where every point is a mode.

    Args:
        concentration1: the exponent :math:`a > 0` of ``x``.
        concentration0: the exponent :math:`b > 0` of ``1 - x^a``.

    Example:
        >>> import aleatorch as D
        >>> D.Kumaraswamy(2.0, 3.0).cdf(torch.tensor(0.5))
        tensor(0.5781)
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
        self._init_family(self.concentration1.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import AffineTransform, PowerTransform

        a, b = self.concentration1, self.concentration0
        base = Uniform(torch.zeros_like(b), torch.ones_like(b), validate_args=False)
        transforms = [
            PowerTransform(b.reciprocal()),
            AffineTransform(1.0, -1.0),
            PowerTransform(a.reciprocal()),
        ]
        return base, transforms

    # ------------------------------------------------------------- sampling

    def _rsample(self, sample_shape, generator):
        a, b = self.concentration1, self.concentration0
        shape = self._extended_shape(sample_shape)
        finfo = torch.finfo(a.dtype)
        # Inversion with 1 - q uniform: x = (1 - u^(1/b))^(1/a), in log space. One branch
        # of log(1 - e^t) suffices here: where log(-expm1(t)) loses digits (t << 0) the
        # draw is within an ulp of 1 anyway.
        eager = _eager_draws(a)
        if eager and math.prod(shape) >= _WORDS_FROM:
            log_u = _log_uniforms(shape, a.dtype, generator)
        else:
            u = torch.rand(shape, dtype=a.dtype, device=a.device, generator=generator)
            log_u = u.clamp_(min=finfo.tiny).log_()
        if eager and _inplace_ok(a, b):  # no graph: the chain in the uniforms' buffer
            log_x = log_u.div_(b).expm1_().neg_().log_().div_(a)
            return log_x.exp_().clamp_(min=finfo.tiny, max=1 - finfo.eps / 2)
        log_x = torch.log(-expm1(log_u / b)) / a
        # 0 and 1 have infinite log-density for some parameters: keep draws inside.
        return log_x.exp().clamp(min=finfo.tiny, max=1 - finfo.eps / 2)

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    # ------------------------------------------------------------ densities

    def _log_prob(self, value):
        a, b = self.concentration1, self.concentration0
        if value.numel() > 0 and _inplace_ok(value, a, b):
            fast = self._log_prob_inside(value)
            if fast is not None:
                return fast
        log_x = value.log()
        log_rest = log1mexp(a * log_x)  # log(1 - x^a)
        return a.log() + b.log() + _times(a - 1, log_x) + _times(b - 1, log_rest)

    def _log_prob_inside(self, value):
        """``_log_prob`` with no graph (CPU eager) where every value is inside (0, 1) and
        every ``log(1 - x^a)`` is finite (two reductions; else None): no ``0 * inf`` to
        guard, log1mexp's two branches chosen by lerp, over few fresh buffers."""
        a, b = self.concentration1, self.concentration0
        if broadcast_shapes(value.shape, a.shape) != value.shape:
            return None  # (value's buffers hold the result)
        lo, hi = torch.aminmax(value)
        if not (lo.item() > 0 and hi.item() < 1):
            return None
        log_x = value.log()
        t = torch.mul(a, log_x)  # a log x < 0; log(1 - x^a) = log1mexp(t)
        near = t.clamp(min=_LOG_HALF).expm1_().neg_().log_()
        log_rest = t.clamp(max=_LOG_HALF).exp_().neg_().log1p_()
        # weight 1 above log(1/2) (near), 0 at and below (far): an exact choice
        weight = t.sub_(_LOG_HALF).sign_().clamp_(min=0)
        torch.lerp(log_rest, near, weight, out=log_rest)
        if not log_rest.min().item() > -math.inf:  # x^a rounded to 1, or NaN
            return None
        log_ab, a_1, b_1 = self._cached("log_normalizer", lambda: (a.log() + b.log(), a - 1, b - 1))
        out = torch.mul(log_x, a_1, out=log_x)
        return torch.addcmul(out, b_1, log_rest, out=out).add_(log_ab)

    def _log_sf(self, value):
        """``log P(X > x) = b log(1 - x^a)``."""
        a, b = self.concentration1, self.concentration0
        return b * log1mexp(a * value.clamp(min=0, max=1).log())

    def _cdf(self, value):
        return -expm1(self._log_sf(value))

    def _survival_function(self, value):
        return self._log_sf(value).exp()

    def _log_cdf(self, value):
        # log(1 - exp(-v)) with v = -b log(1 - x^a) >= 0. Where v is below the normal floats
        # (x^a tiny) it would lose its digits: there v = b x^a (1 + O(x^a)), so
        # log F = log b + a log x to within v / 2 + x^a, negligible.
        a, b = self.concentration1, self.concentration0
        log_xa = a * value.clamp(min=0, max=1).log()
        v = -b * log1mexp(log_xa)
        normal = v > torch.finfo(v.dtype).tiny
        v_safe = torch.where(normal, v, torch.ones_like(v))
        return torch.where(normal, torch.log(-expm1(-v_safe)), b.log() + log_xa)

    def _log_survival_function(self, value):
        return self._log_sf(value)

    def _icdf(self, value):
        a, b = self.concentration1, self.concentration0
        # x = (1 - (1 - q)^(1/b))^(1/a)
        return (log1mexp(torch.log1p(-value) / b) / a).exp()

    # ------------------------------------------------------------ summaries

    def _entropy(self):
        # H = (1 - 1/b) + (1 - 1/a) H_b - log(a b), with the harmonic number
        # H_b = digamma(b + 1) + Euler's constant.
        a, b = self.concentration1, self.concentration0
        if a.requires_grad or b.requires_grad:
            harmonic = torch.digamma(b + 1) + _EULER
            return (1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic - a.log() - b.log()
        # the same values, in place: fewer fresh buffers
        h = torch.digamma(b + 1).add_(_EULER).mul_(a.reciprocal().neg_().add_(1))
        return h.add_(b.reciprocal().neg_().add_(1)).sub_(a.log()).sub_(b.log())

    def _wide_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters in float64 where the device has it: the moments are differences
        of log-gammas (and the variance a small difference of moments), which would lose
        up to ~1e-4 relative in float32; on parameters alone the wider pass costs nothing."""
        a, b = self.concentration1, self.concentration0
        if a.dtype == torch.float64 or a.device.type == "mps":
            return a, b
        return a.double(), b.double()

    @property
    def mean(self) -> torch.Tensor:
        a, b = self._wide_parameters()
        return _log_moment(a, b, 1).exp().to(self.concentration1.dtype)

    @property
    def variance(self) -> torch.Tensor:
        a, b = self._wide_parameters()
        log_m1 = _log_moment(a, b, 1)
        # m2 - m1^2 = m2 (1 - m1^2 / m2), the ratio's log formed before anything cancels; the
        # ratio is at most 1, so nothing overflows when m1^2 underflows (a tiny).
        log_m2 = _log_moment(a, b, 2)
        variance = -expm1(2 * log_m1 - log_m2) * log_m2.exp()
        return variance.to(self.concentration1.dtype)

    @property
    def mode(self) -> torch.Tensor:
        a, b = self.concentration1, self.concentration0
        interior = (a >= 1) & (b >= 1) & ((a > 1) | (b > 1))
        one = torch.ones_like(a)
        ratio = torch.where(interior, (a - 1) / torch.where(interior, a * b - 1, one), one)
        inner = ratio.pow(a.reciprocal())
        edge = torch.where((a < 1) & (b < 1), a >= b, b < 1).to(a.dtype)
        uniform = (a == 1) & (b == 1)
        mode = torch.where(interior, inner, edge)
        return torch.where(uniform, torch.full_like(mode, math.nan), mode)

    @property
    def median(self) -> torch.Tensor:
        a, b = self.concentration1, self.concentration0
        return (log1mexp(_LOG_HALF / b) / a).exp()
