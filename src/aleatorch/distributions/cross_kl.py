r"""Closed-form ``KL(p || q)`` between distributions of different families.

Each same-family KL lives next to its class; this module holds the cross-family pairs. Most
finite pairs are ``KL(p || q) = H(p, q) - H(p)``, where the cross-entropy ``H(p, q) =
-E_p[log q(X)]`` depends on ``p`` only through a moment or two (``E[X]``, ``Var X``,
``E[log X]``), so one function per target family serves several sources.

Where ``p`` puts mass outside the support of ``q``, the divergence is ``+inf``; the
result then has the broadcast batch shape of ``p`` and ``q``, their promoted dtype and
``p``'s device. Masks select ``inf`` with ``torch.where`` after the finite branch was
computed from safe stand-in parameters, so gradients stay finite where the value is finite.
"""

from __future__ import annotations

import math

import torch

from ..kl import register_kl
from ..special.compile_safe import erf
from ..utils import broadcast_shapes
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .exponential import Exponential
from .gamma import Gamma
from .laplace import Laplace
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform

__all__: list[str] = []

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.57721566490153286061
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INF = math.inf


def _inf_pair(p, q) -> torch.Tensor:
    """``+inf`` with the broadcast batch shape of ``p`` and ``q`` (their supports do not nest)."""
    shape = p.batch_shape
    if q.batch_shape != shape:  # broadcasting costs time: only when needed
        shape = broadcast_shapes(shape, q.batch_shape)
    dtype = torch.promote_types(p._dtype(), q._dtype())
    return torch.full(shape, _INF, dtype=dtype, device=p._device())


def _uniform_mean_log(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    r"""``E[log X]`` for ``X ~ U(low, high)``, ``0 <= low < high``.

    .. math:: E[\log X] = \frac{h \log h - l \log l}{h - l} - 1
    """
    xlx = torch.special.xlogy
    return (xlx(high, high) - xlx(low, low)) / (high - low) - 1


def _safe_bounds(p: Uniform, outside: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``p``'s bounds, with ``(0, 1)`` where ``outside`` (where the result is ``inf`` anyway).

    Keeps the logarithms of the discarded branch finite, so its zero gradient stays zero.
    """
    return torch.where(outside, 0.0, p.low), torch.where(outside, 1.0, p.high)


# ------------------------------------------------------------------ q = Normal


@register_kl(Beta, Normal)
@register_kl(Exponential, Normal)
@register_kl(Gamma, Normal)
@register_kl(Laplace, Normal)
@register_kl(Uniform, Normal)
def _kl_to_normal(p, q: Normal) -> torch.Tensor:
    r"""``KL(p || N(mu, sigma^2))`` from the mean ``m``, variance ``v`` and entropy of ``p``.

    .. math:: \log\sigma + \tfrac12\log 2\pi + \frac{v + (m - \mu)^2}{2\sigma^2} - H(p)

    with ``(m, v)`` = Beta: ``(a/(a+b), ab/((a+b)^2(a+b+1)))``; Exponential: ``(1/r, 1/r^2)``;
    Gamma: ``(a/r, a/r^2)``; Laplace: ``(loc, 2 scale^2)``; Uniform: ``((l+h)/2, (h-l)^2/12)``.
    """
    z = (p.mean - q.loc) / q.scale
    cross_entropy = 0.5 * (p.variance / q.scale.pow(2) + z * z) + q.scale.log() + _HALF_LOG_2PI
    return cross_entropy - p.entropy()


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p: Normal, q: Laplace) -> torch.Tensor:
    r"""``KL(N(m, s^2) || Laplace(mu, b))``, with ``d = m - mu``.

    .. math:: \log\frac{2b}{s\sqrt{2\pi e}} + \frac{1}{b}\left(s\sqrt{2/\pi}\,
        e^{-d^2/2s^2} + d\,\mathrm{erf}\frac{d}{s\sqrt2}\right)

    (the bracket is the folded-normal mean ``E|X - mu|``).
    """
    d = p.loc - q.loc
    u = d / p.scale
    mean_abs = p.scale * _SQRT_2_OVER_PI * torch.exp(-0.5 * u * u) + d * erf(u * _SQRT_HALF)
    return (2 * q.scale / p.scale).log() + mean_abs / q.scale - (_HALF_LOG_2PI + 0.5)


# ------------------------------------------------------------- q = Exponential


@register_kl(Beta, Exponential)
@register_kl(Gamma, Exponential)
def _kl_to_exponential(p, q: Exponential) -> torch.Tensor:
    r"""``KL(p || Exp(r))`` for ``p`` on the positive half-line, from ``m = E_p[X]``.

    .. math:: r\,m - \log r - H(p)
    """
    return q.rate * p.mean - q.rate.log() - p.entropy()


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p: Uniform, q: Exponential) -> torch.Tensor:
    r"""``KL(U(l, h) || Exp(r))``: infinite where ``l < 0``.

    .. math:: r\,\frac{l + h}{2} - \log\big(r\,(h - l)\big)
    """
    result = q.rate * p.mean - (q.rate * (p.high - p.low)).log()
    return torch.where(p.low < 0, _INF, result)


# ------------------------------------------------------------------- q = Gamma


def _gamma_cross_entropy(mean: torch.Tensor, mean_log: torch.Tensor, q: Gamma) -> torch.Tensor:
    r"""``-E_p[log q(X)]`` for ``q = Gamma(a, r)``, from ``E_p[X]`` and ``E_p[log X]``.

    .. math:: \log\Gamma(a) - a\log r - (a - 1)\,E[\log X] + r\,E[X]
    """
    a, rate = q.concentration, q.rate
    return torch.lgamma(a) - a * rate.log() - (a - 1) * mean_log + rate * mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p: Beta, q: Gamma) -> torch.Tensor:
    r"""``KL(Beta(a, b) || Gamma(c, r))``, with ``E[log X] = psi(a) - psi(a + b)``.

    .. math:: \log\Gamma(c) - c\log r - (c - 1)(\psi(a) - \psi(a+b)) + r\frac{a}{a+b} - H(p)
    """
    a, b = p.concentration1, p.concentration0
    mean_log = torch.digamma(a) - torch.digamma(a + b)
    return _gamma_cross_entropy(p.mean, mean_log, q) - p.entropy()


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p: Exponential, q: Gamma) -> torch.Tensor:
    r"""``KL(Exp(s) || Gamma(c, r))``, with ``E[log X] = -gamma - log s`` (Euler's gamma).

    .. math:: \log\Gamma(c) - c\log\frac{r}{s} + \frac{r}{s} + (c - 1)\gamma - 1
    """
    ratio = q.rate / p.rate
    c = q.concentration
    return torch.lgamma(c) - c * ratio.log() + ratio + (c - 1) * _EULER_GAMMA - 1


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p: Uniform, q: Gamma) -> torch.Tensor:
    r"""``KL(U(l, h) || Gamma(c, r))``: infinite where ``l < 0``.

    .. math:: \log\Gamma(c) - c\log r - (c - 1)\,E[\log X] + r\frac{l + h}{2} - \log(h - l),
        \quad E[\log X] = \frac{h\log h - l\log l}{h - l} - 1
    """
    outside = p.low < 0
    low, high = _safe_bounds(p, outside)
    mean_log = _uniform_mean_log(low, high)
    result = _gamma_cross_entropy((low + high) / 2, mean_log, q) - (high - low).log()
    return torch.where(outside, _INF, result)


# -------------------------------------------------------------------- q = Beta


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p: Uniform, q: Beta) -> torch.Tensor:
    r"""``KL(U(l, h) || Beta(a, b))``: infinite unless ``0 <= l < h <= 1``.

    .. math:: \log B(a, b) - (a - 1)E[\log X] - (b - 1)E[\log(1 - X)] - \log(h - l)

    with ``E[log X]`` as for :func:`_kl_uniform_gamma` and ``E[log(1 - X)]`` its mirror image.
    """
    outside = (p.low < 0) | (p.high > 1)
    low, high = _safe_bounds(p, outside)
    width = high - low
    xlx = torch.special.xlogy
    # E[log X] = n1 / w - 1 and E[log(1 - X)] = n2 / w - 1 (1 - X is uniform on [1-h, 1-l]).
    n1 = xlx(high, high) - xlx(low, low)
    low1m, high1m = 1 - low, 1 - high
    n2 = xlx(low1m, low1m) - xlx(high1m, high1m)
    am1, bm1 = q.concentration1 - 1, q.concentration0 - 1
    log_beta = torch.lgamma(q.concentration1) + torch.lgamma(q.concentration0)
    log_beta = log_beta - torch.lgamma(q.concentration1 + q.concentration0)
    weighted = torch.addcmul(am1 * n1, bm1, n2) / width
    result = log_beta - weighted + (am1 + bm1) - width.log()
    return torch.where(outside, _INF, result)


# ----------------------------------------------------------------- q = Uniform


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p: Beta, q: Uniform) -> torch.Tensor:
    r"""``KL(Beta(a, b) || U(l, h))``: infinite unless ``[0, 1]`` lies in ``[l, h]``.

    .. math:: \log(h - l) - H(p)
    """
    result = (q.high - q.low).log() - p.entropy()
    return torch.where((q.low > 0) | (q.high < 1), _INF, result)


# ---------------------------------------------------------------- q = Poisson


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p: Bernoulli, q: Poisson) -> torch.Tensor:
    r"""``KL(Bernoulli(pi) || Poisson(r))``; ``log 0! = log 1! = 0`` leaves

    .. math:: r - \pi\log r - H(p)
    """
    return q.rate - torch.special.xlogy(p.probs, q.rate) - p.entropy()


# ------------------------------------------------ p puts mass outside q's support


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_bounded(p: Poisson, q) -> torch.Tensor:
    r"""``KL(Poisson(r) || q)`` for ``q`` on a finite set: ``+inf`` for ``r > 0``.

    At ``r = 0`` the Poisson is a point mass at 0 and the divergence is ``-log q(0)``.
    """
    zero = torch.zeros_like(p.rate)
    return torch.where(p.rate > 0, _INF, -q._log_prob(zero))


@register_kl(Exponential, Beta)
@register_kl(Exponential, Uniform)
@register_kl(Gamma, Beta)
@register_kl(Gamma, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Uniform)
def _kl_infinite(p, q) -> torch.Tensor:
    r"""``+inf``: ``p``'s support (a half-line or the real line) is not inside ``q``'s.

    .. math:: \mathrm{KL}(p \,\|\, q) = \infty \quad\text{when}\quad
        P_p(q(X) = 0) > 0
    """
    return _inf_pair(p, q)
