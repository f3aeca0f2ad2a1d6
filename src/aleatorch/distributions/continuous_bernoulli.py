"""The continuous Bernoulli distribution (Loaiza-Ganem & Cunningham, 2019)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import blocks_wanted, uniform_blocks
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special import log1mexp
from ..special.compile_safe import expm1
from ..utils import _inplace_ok, clamp_probs, masked_compute
from ._bregman import bregman_gap
from ._params import BinaryGivenParameter, probs_or_logits
from .gamma import blockwise

__all__ = ["ContinuousBernoulli"]


def _bernoulli_numbers(count: int) -> list[Fraction]:
    """``B_2, B_4, ..., B_{2 count}`` (Akiyama-Tanigawa)."""
    out, row = [], []
    for m in range(2 * count + 1):
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        if m >= 2 and m % 2 == 0:
            out.append(row[0])
    return out


# log Z(eta) = log((e^eta - 1) / eta) = eta/2 + sum_n B_2n / ((2n)! 2n) eta^2n. For |eta| < 1
# the terms fall like (2 pi)^-2n: 14 of them reach 1e-22. Above 1 the closed forms have no
# cancellation worth a digit, and below it the series is exact to rounding, gradients
# included (the closed forms' derivatives cancel like 1/eta^2 near 0, and are 0/0 at 0).
_SWITCH = 1.0
_B = _bernoulli_numbers(14)
_FACTORIAL = [1]
for _i in range(1, 29):
    _FACTORIAL.append(_FACTORIAL[-1] * _i)
_LOG_Z = [float(b / (_FACTORIAL[2 * n] * 2 * n)) for n, b in enumerate(_B, 1)]
_MEAN = [float(b / _FACTORIAL[2 * n]) for n, b in enumerate(_B, 1)]
_VARIANCE = [float((2 * n - 1) * b / _FACTORIAL[2 * n]) for n, b in enumerate(_B, 1)]
# H = log Z - eta E[X] = -sum_n (2n - 1) B_2n / ((2n)! 2n) eta^2n: the eta / 2 terms cancel.
_ENTROPY = [-float((2 * n - 1) * b / (_FACTORIAL[2 * n] * 2 * n)) for n, b in enumerate(_B, 1)]


def _even_series(coefficients: list[float], t: torch.Tensor) -> torch.Tensor:
    """``sum_n coefficients[n] t^n`` by Horner's rule (``t = eta^2 < 1``): all 14 terms in
    float64, 7 below (the terms fall like ``(2 pi)^-2n``: the 8th is under 1e-11)."""
    coefficients = coefficients if t.dtype == torch.float64 else coefficients[:7]
    acc = torch.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = acc * t + c
    return acc


def _split(eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(small, eta_small, eta_large)``: the mask of the series region and ``eta`` clamped
    into each form's own range (``|eta_large| >= 1``, sign kept), so the unused branch sees a
    harmless value and no NaN reaches a gradient; clamps, not selects (cheaper on CPU)."""
    a = eta.abs()
    small = a < _SWITCH
    eta_small = eta.clamp(-_SWITCH, _SWITCH)
    eta_large = torch.copysign(a.clamp(min=_SWITCH), eta)
    return small, eta_small, eta_large


def _log_normalizer_series(s: torch.Tensor) -> torch.Tensor:
    """``log((e^s - 1) / s)`` by its series, for ``|s| < 1``."""
    return s / 2 + s * s * _even_series(_LOG_Z, s * s)


def log_normalizer(eta: torch.Tensor) -> torch.Tensor:
    """``log((e^eta - 1) / eta)``, 0 at ``eta = 0``, accurate with its derivatives everywhere."""
    small, s, big = _split(eta)
    series = _log_normalizer_series(s)
    a = big.abs()
    closed = big.clamp(min=0) + log1mexp(-a) - a.log()
    return torch.where(small, series, closed)


def _mean(eta: torch.Tensor) -> torch.Tensor:
    """``E[X] = d log Z / d eta = 1 / (1 - e^-eta) - 1 / eta``."""
    small, s, big = _split(eta)
    series = 0.5 + s * _even_series(_MEAN, s * s)
    closed = -1 / expm1(-big) - 1 / big
    return torch.where(small, series, closed)


def _variance(eta: torch.Tensor) -> torch.Tensor:
    """``Var X = 1 / eta^2 - 1 / (4 sinh^2(eta / 2))``."""
    small, s, big = _split(eta)
    series = _even_series(_VARIANCE, s * s)
    closed = big.square().reciprocal() - (2 * torch.sinh(big / 2)).square().reciprocal()
    return torch.where(small, series, closed)


def _log1p_ratio(u: torch.Tensor) -> torch.Tensor:
    """``log1p(u) / u`` (1 at 0), with its derivative, for ``u > -1``."""
    small = u.abs() < 1e-3
    s = torch.where(small, u, torch.zeros_like(u))
    big = torch.where(small, torch.ones_like(u), u)
    # 1 - u/2 + u^2/3 - ...: 7 terms leave < 1e-24 below 1e-3.
    series = torch.zeros_like(s)
    for k in range(7, 0, -1):
        series = series * -s + 1.0 / k
    return torch.where(small, series, torch.log1p(big) / big)


# Below this |eta| the law is uniform to rounding (its density is off by |eta| / 2); a smaller
# floor would drive exp, expm1 and log1p into a slow path through subnormal powers (log1p of
# float32 arguments below ~1e-10: 8x on CPU, for every vector holding one).
_RATE_FLOOR = {torch.float64: 1e-20, torch.float32: 1e-8}


def _bounded_rate(eta: torch.Tensor) -> torch.Tensor:
    """``|eta|``, at least ``_RATE_FLOOR`` (1e-12 in other dtypes) and finite."""
    return eta.abs().clamp(_RATE_FLOOR.get(eta.dtype, 1e-12), torch.finfo(eta.dtype).max)


def _sampler_terms(eta: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(s, e, f, m)`` of ``_sample_from_mode``: ``s = sign(eta) a`` (``a = |eta|`` bounded,
    never 0: -0.0 counts as negative, like the mode), ``e = expm1(-a)``, ``f = 2 e^-a`` (at
    least twice the smallest normal, so ``a y <= -log(tiny)`` never overflows ``expm1`` in the
    gradient), and the mode ``m = [s > 0]``."""
    a = _bounded_rate(eta)
    s = torch.copysign(a, eta)
    minus_a = a.neg_()
    e = expm1(minus_a)
    f = minus_a.exp_().clamp_(min=torch.finfo(a.dtype).tiny).mul_(2)
    return s, e, f, (s > 0).to(s.dtype)


def _sample_from_mode(terms: tuple[torch.Tensor, ...], r: torch.Tensor) -> torch.Tensor:
    """``q`` with the sample ``x = m + q``: ``|q|`` is the distance from the mode ``m``,
    ``y = -log w / a ~ CB(-a)`` (``w = e^-a + r (1 - e^-a)``, ``r`` uniform), exact in
    distribution. ``log w`` is ``log1p(t)``, ``t = -(1 - r)(1 - e^-a)``, where ``t >= -1/2``,
    else ``log w``, both exact to rounding: as ``log1p(max(t, -1/2)) + log(min(2 w, 1))`` (one
    term is exactly 0), no select needed."""
    s, e, f, _ = terms
    t = ((1 - r) * e).clamp_(min=-0.5).log1p_()
    w = torch.addcmul(f, r, e, value=-2.0).clamp_(max=1).log_()
    # |q| <= 1 (rounding at r = 0, where w = e^-a, may leave it above).
    return t.add_(w).div_(s).clamp_(-1, 1)


def _sample_in_blocks(terms: tuple[torch.Tensor, ...], shape: torch.Size, generator):
    """``m + q`` of :func:`_sample_from_mode` block by block (CPU eager, large, no
    gradient): each block's uniforms and temporaries stay in cache, the sample is written
    once."""
    out = torch.empty(shape, dtype=terms[0].dtype)
    for rows, r, (s, e, f, m) in uniform_blocks(shape, out.dtype, generator, terms):
        torch.add(_sample_from_mode((s, e, f, m), r), m, out=out[rows])
    return out


# dx/deta below |eta| = _GRADIENT_SWITCH by a series in (a, a y) with this many terms (the
# first dropped is below 2e-8 of the result in float32, 3e-18 in float64).
_GRADIENT_SWITCH = 0.5
_GRADIENT_TERMS = {torch.float64: 15}
_INVERSE_FACTORIALS = [1 / math.factorial(k + 1) for k in range(16)]


def _gradient_series(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(y - F_a(y)) / a`` for small ``a``: ``y (1 - y) a / expm1(a) sum_j (a y)^j Q_j`` with
    ``Q_j = sum_{k > j} a^{k-1-j} / (k+1)!`` (all terms positive)."""
    terms = _GRADIENT_TERMS.get(y.dtype, 8)
    c = _INVERSE_FACTORIALS
    z = a * y
    coef = torch.full_like(a, c[terms])
    acc = coef
    for j in range(terms - 2, -1, -1):
        coef = coef * a + c[j + 1]
        acc = torch.addcmul(coef, acc, z)
    return acc * (y - y * y) * (a / expm1(a))


def _sample_gradient(eta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``dx/deta`` at fixed ``r`` for a sample at distance ``y`` from the mode:
    ``(y - F_a(y)) / a``, ``a = |eta|``, ``F_a(y) = expm1(a y) / expm1(a)`` (the cdf of
    ``CB(a)``; ``a y`` stays below ``-log(tiny)``, see ``_sample_from_mode``), in which the
    difference cancels like ``a y (1 - y) / 2`` for small ``a``: there by its series."""
    a = _bounded_rate(eta)
    inv_a = a.reciprocal()
    closed = torch.addcmul(y * inv_a, expm1(a * y), expm1(a).mul_(a).reciprocal_().neg_()).clamp_(
        min=0
    )  # x rises with eta: no negative rounding where F_a(y) = y = 1
    small = a < _GRADIENT_SWITCH
    return masked_compute(small, _gradient_series, (a, y), (_GRADIENT_SWITCH / 2, 0.5), closed)


class _Reparameterized(torch.autograd.Function):
    """``x = q + m`` (``_sample_from_mode``), with the implicit gradient ``dx/deta``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(eta, q, mode):
        return q + mode

    @staticmethod
    def setup_context(ctx, inputs, output):
        eta, q, _ = inputs
        ctx.save_for_backward(eta, q)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        eta, q = ctx.saved_tensors
        grad_eta = (grad * _sample_gradient(eta, q.abs())).sum_to_size(eta.shape)
        return grad_eta, None, None


class ContinuousBernoulli(BinaryGivenParameter, ExponentialFamily):
    r"""Continuous Bernoulli distribution on :math:`[0, 1]`.

    .. math::
        p(x) = C(\lambda) \lambda^x (1 - \lambda)^{1 - x} = \frac{\eta e^{\eta x}}{e^\eta - 1},
        \quad \eta = \log\frac{\lambda}{1 - \lambda}, \quad x \in [0, 1]

    Give exactly one of ``probs`` (:math:`\lambda \in [0, 1]`) or ``logits``
    (:math:`\eta`). Everything is computed from :math:`\eta` through
    :math:`\log Z(\eta) = \log((e^\eta - 1)/\eta)`, by a Bernoulli-number series for
    :math:`|\eta| < 1` and closed forms above, both exact to rounding: unlike torch's, the
    results near :math:`\lambda = 1/2` need no cut of ``probs``, and ``lims`` (kept for
    torch's signature) changes nothing.

    Example:
        >>> import aleatorch as D
        >>> D.ContinuousBernoulli(probs=0.5).log_prob(torch.tensor(0.3))
        tensor(0.)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    # The normalizer's log-space terms lose all accuracy in bfloat16: half precision is
    # computed in float32.
    _half_in_float32 = True

    def __init__(
        self,
        probs: Any = None,
        logits: Any = None,
        lims: tuple[float, float] = (0.499, 0.501),
        validate_args: bool | None = None,
    ) -> None:
        name, param = probs_or_logits(self._name, probs, logits)
        self._set_given(name, param)
        self._lims = lims
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return _mean(self.logits)

    @property
    def variance(self) -> torch.Tensor:
        return _variance(self.logits)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        eta = self.logits
        grad = torch.is_grad_enabled() and eta.requires_grad
        with torch.no_grad():
            terms = self._cached("_sampler_terms", lambda: _sampler_terms(self.logits.detach()))
            if not grad and blocks_wanted(eta, shape):
                return _sample_in_blocks(terms, shape, generator)
            r = torch.rand(shape, dtype=eta.dtype, device=eta.device, generator=generator)
            q = _sample_from_mode(terms, r)
        if grad:
            return _Reparameterized.apply(eta, q, terms[3])
        return q.add_(terms[3])

    def _log_prob(self, value):
        eta = self.logits
        return eta * value - self._cached("log_normalizer", lambda: log_normalizer(eta))

    def _log_cdf(self, value):
        # F(x) = (e^{eta x} - 1) / (e^eta - 1) = x Z(eta x) / Z(eta).
        eta = self.logits
        x = value.clamp(0, 1)
        log_cdf = x.log() + log_normalizer(eta * x) - log_normalizer(eta)
        # At most 0: rounding (float32 logits against a float64 value) can push it above.
        return torch.where(value >= 1, torch.zeros_like(log_cdf), log_cdf.clamp(max=0))

    def _cdf(self, value):
        return self._log_cdf(value).exp()

    def _log_survival_function(self, value):
        # 1 - F(x) = e^{eta x} (1 - x) Z(eta (1 - x)) / Z(eta).
        eta = self.logits
        x = value.clamp(0, 1)
        rest = 1 - x
        log_sf = eta * x + rest.log() + log_normalizer(eta * rest) - log_normalizer(eta)
        return torch.where(value <= 0, torch.zeros_like(log_sf), log_sf.clamp(max=0))

    def _survival_function(self, value):
        return self._log_survival_function(value).exp()

    def _icdf(self, value):
        # x = log1p(u) / eta with u = q (e^eta - 1), in the form that is exact where it is used:
        # * |eta| < 1: as q Z(eta) L(q eta Z(eta)) with L(u) = log1p(u) / u (no 0/0 at eta = 0,
        #   and exact derivatives there), Z by its series;
        # * u = q expm1(eta) directly where it is small (|u| < 1/2 for eta <= -1, u < 1 for
        #   eta >= 1): a rounded exp(log u) would carry |log u| eps;
        # * else from log |u| = log q + max(eta, 0) + log1p(-e^-|eta|): for eta >= 1,
        #   log1p(u) = logaddexp(0, log u) (u overflows for large eta), and for eta <= -1,
        #   log1p(u) = log((1 - q) + q e^eta) = logaddexp(log1p(-q), log q + eta) (near q = 1,
        #   log1p of about -q would lose 1 - q to rounding).
        eta = self.logits
        low = eta.abs() < 1
        neg = eta <= -1
        e = torch.where(low, eta, torch.zeros_like(eta))
        z = _log_normalizer_series(e).exp()
        x_low = value * z * _log1p_ratio(value * e * z)
        e = torch.where(low, torch.full_like(eta, 2.0), eta)
        log_q = value.log()
        log_u = log_q + e.clamp(min=0) + torch.log1p(-torch.exp(-e.abs()))
        direct = torch.where(neg, value < 0.5, (log_u < 0) & (eta < 700)) & ~low
        e_direct = torch.where(direct, e, torch.full_like(eta, 2.0))
        x_direct = torch.log1p(value * expm1(e_direct)) / e_direct
        q_neg = torch.where(neg, value, torch.full_like(value, 0.5))  # safe where: no log1p(-1)
        first = torch.where(neg, torch.log1p(-q_neg), torch.zeros_like(log_u))
        second = torch.where(neg, log_q + e, log_u)
        x_far = torch.logaddexp(first, second) / e
        return torch.where(low, x_low, torch.where(direct, x_direct, x_far))

    def _entropy(self):
        # H(eta) = H(-eta); with a = |eta|, by the series below 1, else
        # H = log((1 - e^-a) / a) + 1 - a / expm1(a) (no cancellation worth a digit for
        # a >= 1; 1 - log a once expm1(a) overflows). Clamps, not selects, keep each form's
        # argument in its own range.
        eta = self.logits
        if eta.numel() >= self._cache_min_numel and _inplace_ok(eta):
            # in blocks: the ~25 passes over its four buffers then stay in cache
            return blockwise(_entropy_in_place, (eta,))
        a = eta.abs()
        s = eta.clamp(-_SWITCH, _SWITCH)
        t = s * s
        series = t * _even_series(_ENTROPY, t)
        big = a.clamp(min=_SWITCH)
        closed = torch.log(-expm1(-big) / big) + (1 - big / expm1(big))
        return torch.where(a < _SWITCH, series, closed)

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return log_normalizer(x)


def _entropy_in_place(eta: torch.Tensor) -> torch.Tensor:
    """``ContinuousBernoulli._entropy`` with no graph (CPU eager): the same two forms over
    four fresh buffers, the series kept for ``|eta| <= 1`` by a lerp with a 0/1 weight (an
    exact choice between finite values; the series is as exact at ``|eta| = 1``)."""
    t = eta.clamp(-_SWITCH, _SWITCH).square_()
    coefficients = _ENTROPY if t.dtype == torch.float64 else _ENTROPY[:7]
    series = torch.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        series.mul_(t).add_(c)
    series.mul_(t)
    big = torch.abs(eta, out=t).clamp_(min=_SWITCH)
    # log((1 - e^-a) / a) + (1 - a / expm1(a)), a = max(|eta|, 1)
    closed = torch.neg(big).expm1_().neg_().div_(big).log_()
    e = expm1(big)
    closed.add_(big.div_(e).neg_().add_(1))
    weight = torch.abs(eta, out=e).sub_(_SWITCH).sign_().clamp_(min=0)
    return torch.lerp(series, closed, weight, out=series)


def _logit_gap(p: ContinuousBernoulli, q: ContinuousBernoulli) -> torch.Tensor:
    """``eta_q - eta_p``, from the given parameters: from probabilities ``u`` and ``v`` as
    ``log1p((v - u) / u) - log1p((u - v) / (1 - u))`` (``v - u`` is exact for close values,
    where the difference of two rounded logits would be off by ``eps |eta| / |eta_q - eta_p|``
    relative), except where ``probs_to_logits`` clamps a probability."""
    eta_p, eta_q = p.logits, q.logits
    gap = eta_q - eta_p
    if p._given != "probs" or q._given != "probs":
        return gap
    u, v = torch.broadcast_tensors(p.probs, q.probs)
    inside = (clamp_probs(u) == u) & (clamp_probs(v) == v)
    u = torch.where(inside, u, torch.full_like(u, 0.5))  # safe where: no 0 divisor
    v = torch.where(inside, v, torch.full_like(v, 0.5))
    exact = torch.log1p((v - u) / u) - torch.log1p((u - v) / (1 - u))
    return torch.where(inside, exact, gap)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli(p: ContinuousBernoulli, q: ContinuousBernoulli) -> torch.Tensor:
    # KL = log Z(eta_q) - log Z(eta_p) - (eta_q - eta_p) E_p[X]: the Bregman divergence of
    # log Z, whose second derivative Var X is analytic but for poles at 2 pi i k (k != 0). So:
    # * |d| <= sqrt(m^2 + 4 pi^2) / 4 (d = eta_q - eta_p; m = min(|eta_p|, |eta_q|) if the
    #   signs agree, else 0: the distance to the poles is at least 4 |d|) by the quadrature of
    #   _bregman, to rounding, positive, however small;
    # * else with m >= 2 pi, on the side eta > 0 (reflecting eta -> -eta adds a linear term
    #   to log Z and leaves the divergence alone), from log Z = eta - log eta + log(1 - e^-eta)
    #   the linear parts cancel exactly: KL = w - log1p(w) (w = d / eta_p, here |w| > 1/5) +
    #   log(1 - e^-b) - log(1 - e^-a) - d e^-a / (1 - e^-a) (a, b = |eta_p|, |eta_q|);
    # * else the direct form, whose terms are of the size of the result.
    eta_p, eta_q = torch.broadcast_tensors(p.logits, q.logits)
    d = _logit_gap(p, q)
    same_sign = eta_p * eta_q > 0
    a, b = eta_p.abs(), eta_q.abs()
    m = torch.where(same_sign, torch.minimum(a, b), torch.zeros_like(a))
    finite = torch.isfinite(eta_p) & torch.isfinite(eta_q) & torch.isfinite(d)
    near = finite & (4 * d.abs() <= torch.sqrt(m * m + 4 * math.pi**2))
    large = finite & ~near & (m >= 2 * math.pi)
    a = torch.where(large, a, torch.full_like(a, 8.0))  # safe where: no 0 divisor, no inf
    b = torch.where(large, b, torch.full_like(b, 16.0))
    w = (b - a) / a
    tail = log1mexp(-b) - log1mexp(-a) - (b - a) / expm1(a)
    reflected = (w - torch.log1p(w)) + tail
    direct = (eta_p - eta_q) * _mean(eta_p) - log_normalizer(eta_p) + log_normalizer(eta_q)
    far = torch.where(large, reflected, direct)
    gap = lambda eta, step: bregman_gap(_variance, eta, step)  # noqa: E731
    return masked_compute(near, gap, (eta_p, d), (0.0, 0.0), far)
