r"""Closed-form ``KL(p || q)`` between the transformed families (Gumbel, Pareto) and others.

The same-family pairs live next to their classes. As in ``cross_kl``, most pairs are
``H(p, q) - H(p)`` with the cross-entropy ``H(p, q) = -E_p[log q(X)]`` written from a few
expectations under ``p``:

* ``q = Gumbel(mu, beta)``: ``-log q(x) = log beta + (x - mu)/beta + exp(-(x - mu)/beta)``,
  so ``H(p, q)`` needs ``E_p[X]`` and the moment generating function ``M_p(-1/beta)``;
* ``p = Pareto(x_m, alpha)``: ``E[log X] = log x_m + 1/alpha``,
  ``E[X] = alpha x_m / (alpha - 1)`` (``alpha > 1``, else infinite) and
  ``Var X = x_m^2 alpha / ((alpha - 1)^2 (alpha - 2))`` (``alpha > 2``, else infinite).

Where the divergence is infinite (``p`` puts mass where ``q`` has none, or a moment ``q``
needs is infinite), the result is ``+inf``; the finite branch is computed from safe stand-in
parameters there, so gradients stay finite where the value is finite.
"""

from __future__ import annotations

import math

import torch

from ..kl import register_kl
from ..special.compile_safe import expm1
from .beta import Beta
from .cross_kl import _inf_pair, _uniform_mean_log
from .exponential import Exponential
from .gamma import Gamma
from .gumbel import Gumbel
from .laplace import Laplace
from .normal import Normal
from .pareto import Pareto
from .uniform import Uniform

__all__: list[str] = []

_EULER_GAMMA = 0.57721566490153286061
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_INF = math.inf


# ------------------------------------------------------------------ q = Gumbel


def _gumbel_cross_entropy(mean: torch.Tensor, log_mgf_term: torch.Tensor, q: Gumbel):
    r"""``-E_p[log q(X)]`` for ``q = Gumbel(mu, beta)``, from ``E_p[X]`` and
    ``log(exp(mu/beta) M_p(-1/beta))`` (kept in log space against overflow).

    .. math:: \log\beta + \frac{E[X] - \mu}{\beta} + e^{\mu/\beta}\,E\left[e^{-X/\beta}\right]
    """
    return q.scale.log() + (mean - q.loc) / q.scale + log_mgf_term.exp()


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p: Exponential, q: Gumbel) -> torch.Tensor:
    r"""``KL(Exp(r) || Gumbel(mu, beta))``, with ``M_p(-1/beta) = r beta / (r beta + 1)``.

    .. math:: \log(r\beta) - 1 + \frac{1}{r\beta} - \frac{\mu}{\beta}
        + \exp\left(\frac{\mu}{\beta} - \log\left(1 + \frac{1}{r\beta}\right)\right)
    """
    rb = p.rate * q.scale
    log_mgf_term = q.loc / q.scale - torch.log1p(rb.reciprocal())
    return _gumbel_cross_entropy(p.rate.reciprocal(), log_mgf_term, q) - p.entropy()


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p: Gamma, q: Gumbel) -> torch.Tensor:
    r"""``KL(Gamma(a, r) || Gumbel(mu, beta))``, with
    ``M_p(-1/beta) = (1 + 1/(r beta))^{-a}``.

    .. math:: \log\beta + \frac{a/r - \mu}{\beta}
        + \exp\left(\frac{\mu}{\beta} - a\log\left(1 + \frac{1}{r\beta}\right)\right) - H(p)
    """
    a = p.concentration
    log_mgf_term = q.loc / q.scale - a * torch.log1p((p.rate * q.scale).reciprocal())
    return _gumbel_cross_entropy(a / p.rate, log_mgf_term, q) - p.entropy()


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p: Normal, q: Gumbel) -> torch.Tensor:
    r"""``KL(N(m, s^2) || Gumbel(mu, beta))``, with
    ``M_p(-1/beta) = exp(-m/beta + s^2 / (2 beta^2))``.

    .. math:: \log\frac{\beta}{s} - \tfrac12\log 2\pi - \tfrac12 + \frac{m - \mu}{\beta}
        + \exp\left(\frac{\mu - m}{\beta} + \frac{s^2}{2\beta^2}\right)
    """
    z = (p.loc - q.loc) / q.scale
    log_mgf_term = 0.5 * (p.scale / q.scale).square() - z
    return _gumbel_cross_entropy(p.loc, log_mgf_term, q) - p.entropy()


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p: Uniform, q: Gumbel) -> torch.Tensor:
    r"""``KL(U(l, h) || Gumbel(mu, beta))``, with
    ``e^{mu/beta} M_p(-1/beta) = beta (e^{(mu - l)/beta} - e^{(mu - h)/beta}) / (h - l)``.

    .. math:: \log\frac{\beta}{h - l} + \frac{(l + h)/2 - \mu}{\beta}
        + \frac{\beta}{h - l}\, e^{(\mu - l)/\beta} \left(1 - e^{-(h - l)/\beta}\right)
    """
    width = (p.high - p.low) / q.scale
    log_mgf_term = (q.loc - p.low) / q.scale + torch.log(-expm1(-width)) - width.log()
    return _gumbel_cross_entropy((p.low + p.high) / 2, log_mgf_term, q) - p.entropy()


# ---------------------------------------------------------------- q = Normal


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p: Gumbel, q: Normal) -> torch.Tensor:
    r"""``KL(Gumbel(mu, beta) || N(m, s^2))``, from ``E[X] = mu + gamma beta``,
    ``Var X = pi^2 beta^2 / 6`` and ``H(p) = log beta + gamma + 1``.

    .. math:: \log\frac{s}{\beta} + \tfrac12\log 2\pi - \gamma - 1
        + \frac{\pi^2\beta^2/6 + (\mu + \gamma\beta - m)^2}{2 s^2}
    """
    z = (p.loc + _EULER_GAMMA * p.scale - q.loc) / q.scale
    r = p.scale / q.scale
    return (
        0.5 * ((math.pi**2 / 6) * r.square() + z.square())
        - r.log()
        + (_HALF_LOG_2PI - _EULER_GAMMA - 1)
    )


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p: Pareto, q: Normal) -> torch.Tensor:
    r"""``KL(Pareto(x_m, alpha) || N(m, s^2))``: infinite for ``alpha <= 2`` (infinite
    variance), otherwise

    .. math:: \log s + \tfrac12\log 2\pi + \frac{\mathrm{Var}\,X + (E[X] - m)^2}{2 s^2}
        - \log\frac{x_m}{\alpha} - 1 - \frac{1}{\alpha}
    """
    finite = p.alpha > 2
    a = torch.where(finite, p.alpha, 3.0)
    mean = a * p.scale / (a - 1)
    variance = mean.square() / (a * (a - 2))
    z = (mean - q.loc) / q.scale
    cross_entropy = 0.5 * (variance / q.scale.square() + z.square()) + q.scale.log() + _HALF_LOG_2PI
    entropy = (p.scale / a).log() + (1 + a.reciprocal())
    return torch.where(finite, cross_entropy - entropy, _INF)


# ---------------------------------------------------------- q = Exponential, Gamma


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p: Pareto, q: Exponential) -> torch.Tensor:
    r"""``KL(Pareto(x_m, alpha) || Exp(r))``: infinite for ``alpha <= 1``, otherwise

    .. math:: \log\frac{\alpha}{r x_m} - 1 - \frac{1}{\alpha} + \frac{r\,\alpha x_m}{\alpha - 1}
    """
    finite = p.alpha > 1
    a = torch.where(finite, p.alpha, 2.0)
    rx = q.rate * p.scale
    kl = (a / rx).log() - 1 - a.reciprocal() + rx * a / (a - 1)
    return torch.where(finite, kl, _INF)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p: Pareto, q: Gamma) -> torch.Tensor:
    r"""``KL(Pareto(x_m, alpha) || Gamma(c, r))``: infinite for ``alpha <= 1``, otherwise

    .. math:: \log\Gamma(c) - c\log r - (c - 1)\left(\log x_m + \frac{1}{\alpha}\right)
        + \frac{r\,\alpha x_m}{\alpha - 1} - \log\frac{x_m}{\alpha} - 1 - \frac{1}{\alpha}
    """
    finite = p.alpha > 1
    a = torch.where(finite, p.alpha, 2.0)
    c, rate = q.concentration, q.rate
    mean_log = p.scale.log() + a.reciprocal()
    cross_entropy = (
        torch.lgamma(c) - c * rate.log() - (c - 1) * mean_log + rate * a * p.scale / (a - 1)
    )
    entropy = (p.scale / a).log() + (1 + a.reciprocal())
    return torch.where(finite, cross_entropy - entropy, _INF)


# ---------------------------------------------------------------- q = Pareto


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p: Uniform, q: Pareto) -> torch.Tensor:
    r"""``KL(U(l, h) || Pareto(x_m, alpha))``: infinite where ``l < x_m``, otherwise

    .. math:: (\alpha + 1)\,E[\log X] - \log\alpha - \alpha\log x_m - \log(h - l),
        \quad E[\log X] = \frac{h\log h - l\log l}{h - l} - 1
    """
    outside = p.low < q.scale
    # Stand-in bounds where infinite: log(low) of a low <= 0 would make NaN gradients.
    low = torch.where(outside, 1.0, p.low)
    high = torch.where(outside, 2.0, p.high)
    mean_log = _uniform_mean_log(low, high)
    kl = (q.alpha + 1) * mean_log - q.alpha.log() - q.alpha * q.scale.log() - (high - low).log()
    return torch.where(outside, _INF, kl)


# ------------------------------------------------------------ always infinite


@register_kl(Beta, Pareto)
@register_kl(Exponential, Pareto)
@register_kl(Gamma, Pareto)
@register_kl(Laplace, Pareto)
@register_kl(Normal, Pareto)
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Pareto, Beta)
@register_kl(Pareto, Uniform)
def _kl_transformed_infinite(p, q) -> torch.Tensor:
    r"""``+inf``: ``p`` puts mass where ``q``'s density is 0 (a Pareto has none below its
    scale; Gumbel's support is the real line; Pareto's is unbounded above).

    .. math:: \mathrm{KL}(p \,\|\, q) = \infty \quad\text{when}\quad P_p(q(X) = 0) > 0
    """
    return _inf_pair(p, q)
