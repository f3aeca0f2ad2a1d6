r"""KL divergences between :class:`ContinuousBernoulli` and other families (torch's pairs).

With :math:`\eta` the continuous Bernoulli's logit and :math:`\log Z(\eta)` its log-normalizer,
:math:`\log q(x) = \eta x - \log Z(\eta)` on :math:`[0, 1]`, so
:math:`\mathrm{KL}(p \,\|\, \mathcal{CB}) = -H(p) - \eta E_p[X] + \log Z(\eta)` when ``p`` lives
in :math:`[0, 1]`, and :math:`+\infty` when it does not. Where the support of ``p`` is a
Uniform's, a boundary shared with :math:`[0, 1]` is no loss of support (torch returns
:math:`+\infty` at ``low = 0`` and ``high = 1``; the measure-zero endpoint changes nothing).
"""

from __future__ import annotations

import math

import torch

from ..kl import register_kl
from .beta import Beta
from .continuous_bernoulli import ContinuousBernoulli, _mean, _variance, log_normalizer
from .cross_kl import _inf_pair
from .exponential import Exponential
from .gamma import Gamma
from .gumbel import Gumbel
from .laplace import Laplace
from .normal import Normal
from .pareto import Pareto
from .uniform import Uniform

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p: Beta, q: ContinuousBernoulli) -> torch.Tensor:
    eta = q.logits
    return -p.entropy() - eta * p.mean + log_normalizer(eta)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p: Uniform, q: ContinuousBernoulli) -> torch.Tensor:
    # Finite iff [low, high] lies in [0, 1]: -log(high - low) - eta (low + high)/2 + log Z.
    eta = q.logits
    kl = -(p.high - p.low).log() - eta * (p.low + p.high) / 2 + log_normalizer(eta)
    outside = (p.low < 0) | (p.high > 1)
    return torch.where(outside, torch.full_like(kl, math.inf), kl)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p: ContinuousBernoulli, q: Exponential) -> torch.Tensor:
    # -H(p) - E_p[log rate - rate X]
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p: ContinuousBernoulli, q: Normal) -> torch.Tensor:
    # -H(p) + log(sigma sqrt(2 pi)) + E_p[(X - mu)^2] / (2 sigma^2)
    eta = p.logits
    second = _variance(eta) + (_mean(eta) - q.loc).square()
    return -p.entropy() + q.scale.log() + _HALF_LOG_2PI + second / (2 * q.scale.square())


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p: ContinuousBernoulli, q: Uniform) -> torch.Tensor:
    # Finite iff [0, 1] lies in [low, high]: -H(p) + log(high - low).
    kl = -p.entropy() + (q.high - q.low).log()
    outside = (q.low > 0) | (q.high < 1)
    return torch.where(outside, torch.full_like(kl, math.inf), kl)


@register_kl(ContinuousBernoulli, Pareto)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Pareto, ContinuousBernoulli)
def _kl_continuous_bernoulli_infinite(p, q) -> torch.Tensor:
    r"""``+inf``: one support is :math:`[0, 1]`, the other reaches beyond it (a Pareto's
    :math:`[s, \infty)`, the positive or the whole real line), so ``p`` puts mass where
    ``q``'s density is 0.
    """
    return _inf_pair(p, q)
