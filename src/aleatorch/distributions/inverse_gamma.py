"""The inverse-gamma distribution."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from ..distribution import Distribution
from ..special.incomplete_gamma import gammainccinv
from ..special.stirling import log_minus_digamma, stirlerr
from ..special.xlogy import x_log_y
from ..utils import (
    _WIDENED_LIMIT,
    PYTHON_NUMEL,
    _flat_list,
    as_params,
    from_floats,
    python_wanted,
    textbook_dtype,
)
from ..wrappers.transformed import TransformedDistribution
from ._gamma_tails import incomplete_gamma_tail
from .gamma import (
    _FLOAT32_LIMIT,
    _S_SERIES,
    _SHIFT,
    _T_SERIES,
    _TEXTBOOK_LIMIT,
    Gamma,
    _blocks_pay,
    _log_density_terms,
    _textbook_terms,
    _work,
    blockwise,
    float32_within,
    fused_gamma,
    gamma_log_density,
    stirling_excess,
)

__all__ = ["InverseGamma"]


def _textbook_log_density(a, rate, const, value, dtype):
    """``const - (a + 1) log y - r / y`` in the terms' dtype (-inf at 0, not inf - inf),
    rounded to ``dtype``."""
    value = value.to(torch.promote_types(a.dtype, value.dtype))
    out = const - x_log_y(a + 1, value) - rate / value
    return torch.where(value == 0, -math.inf, out).to(dtype)


def _python_log_prob(a: torch.Tensor, rate: torch.Tensor, value: torch.Tensor):
    """``a log r - lgamma(a) - (a + 1) log y - r / y`` entry by entry in Python floats for a
    few entries, as Gamma's ``_python_log_prob`` (the same range, else None)."""
    if not (value.shape == a.shape == rate.shape) or not a.numel():
        return None
    log, lgamma, out = math.log, math.lgamma, []
    for c, r, y in zip(_flat_list(a), _flat_list(rate), _flat_list(value)):
        if not (0.0 < c <= _WIDENED_LIMIT and 0.0 < r < math.inf and 0.0 < y < math.inf):
            return None  # (NaN too)
        out.append(c * log(r) - lgamma(c) - (c + 1.0) * log(y) - r / y)
    return from_floats(out, a.dtype, a.shape)


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _entropy_float32(a: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """``H = log(z^(5/2) / p) + s + (a + 1) u - 4 + log(2 pi)/2 + log r`` (float32, from
    ``gamma.shifted_stirling``: ``lgamma(a) - (1 + a) psi(a)`` is Gamma's
    ``lgamma(a) + (1 - a) psi(a)`` minus ``2 psi(a) = 2 log z - 2 u``). For a block whose
    concentrations are all at least ``_SHIFT`` the same series at ``z = a`` itself
    (``_entropy_unshifted``); CPU eager only (``gamma.float32_within``)."""
    if float(a.detach().amin()) >= _SHIFT:  # (a value read: no graph of its own)
        return _entropy_unshifted(a, rate)
    h, u = stirling_excess(a, power=-1.5)
    return h.add_(u, alpha=2).add_(rate.log()).add_(_HALF_LOG_2PI - _SHIFT)


def _unshifted_coefficients() -> list[float]:
    """``P(w)``, ``w = 1/a``, by rising powers: ``S(a) + (1 + w) (1/2 + V(a)) + log(2 pi)/2``
    with Stirling's ``S(a) = sum s_k w^(2k+1)`` (``lgamma``) and ``V(a) = sum t_k w^(2k+2)``
    (``psi(a) = log a - w/2 - V(a)``): ``(1 + a) (w/2 + V) = (1 + w) (1/2 + a V)``."""
    p = [0.0] * (2 * len(_T_SERIES) + 1)
    p[0], p[1] = 0.5 + _HALF_LOG_2PI, 0.5
    for k, s_k in enumerate(_S_SERIES):
        p[2 * k + 1] += s_k
    for k, t_k in enumerate(_T_SERIES):
        p[2 * k + 1] += t_k
        p[2 * k + 2] += t_k
    return p


_UNSHIFTED = _unshifted_coefficients()


def _entropy_unshifted(a: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """``H = P(1/a) - 3/2 log a + log r`` (``_unshifted_coefficients``) for float32
    ``a >= _SHIFT``: Stirling's series at ``a`` itself, truncated where the shifted form's is
    (the first omitted terms are below 4e-9 there); every term at most the size of the
    result but for the logs, and ~2.5x fewer passes than the shifted form."""
    w = a.reciprocal()
    out = w * _UNSHIFTED[-1]
    for c in _UNSHIFTED[-2:0:-1]:
        out = out.add_(c).mul_(w)
    out = out.add_(_UNSHIFTED[0]).add_(a.log(), alpha=-1.5)
    return out.add_(rate.log())


class InverseGamma(TransformedDistribution):
    r"""Inverse-gamma distribution: ``Y = 1 / X`` for ``X ~ Gamma(concentration, rate)``.

    .. math:: p(y) = \frac{\beta^\alpha}{\Gamma(\alpha)} y^{-\alpha - 1} e^{-\beta / y},
              \quad y > 0

    A ``TransformedDistribution`` (``Gamma`` by ``PowerTransform(-1)``), as in torch, with
    closed forms: ``cdf(y) = Q(alpha, beta / y)`` and ``sf(y) = P(alpha, beta / y)`` (the
    regularized incomplete gamma functions of :mod:`aleatorch.special`, differentiable in
    ``concentration`` too, unlike torch's ``igamma``) and ``icdf(q) = beta / Q^{-1}(alpha, q)``.
    ``rsample`` is ``beta / G`` with torch's
    gamma sampler, so it carries its implicit reparameterization gradient. As torch, ``mean``
    is ``inf`` for ``alpha <= 1`` and ``variance`` is ``inf`` for ``alpha <= 2``.

    Args:
        concentration: the shape :math:`\alpha > 0`.
        rate: the scale :math:`\beta > 0` of ``Y`` (the rate of ``1 / Y``).

    Example:
        >>> import aleatorch as D
        >>> D.InverseGamma(3.0, 2.0).mean
        tensor(1.)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    _parameters_in_base = {"concentration": "concentration", "rate": "rate"}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = as_params(concentration, rate, owner=self._name)
        self._init_family(self.concentration.shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import PowerTransform

        base = Gamma(self.concentration, self.rate, validate_args=False)
        return base, [PowerTransform(-self.rate.new_ones(()))]

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        a = self.concentration
        y = fused_gamma(self, a, self.rate, shape, generator, inverse=True)
        if y is not None:
            return y
        finfo = torch.finfo(a.dtype)
        g = standard_gamma(a.expand(shape), generator).clamp(min=finfo.tiny)
        return (self.rate / g).clamp(max=finfo.max)

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    def _log_prob(self, value):
        # log p(y) = log(a / 2 pi) / 2 - stirlerr(a) - log y - bd0(a, rate / y) for a >= 10
        # (see gamma_log_density): no lgamma difference of size a log a.
        a, rate = self.concentration, self.rate
        if a.numel() <= PYTHON_NUMEL and a.dtype == rate.dtype == value.dtype:
            if python_wanted(a, rate, value):
                out = _python_log_prob(a, rate, value)
                if out is not None:
                    return out
        dtype = torch.promote_types(torch.promote_types(a.dtype, rate.dtype), value.dtype)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_LIMIT, a))
        if work is not None:
            # a log r - lgamma(a) - (a + 1) log y - r / y, while a is moderate or in float64
            # for float32 parameters up to 1e8 (utils.textbook_dtype), as Gamma's
            a, rate, const = _textbook_terms(self, work)
            if _blocks_pay(value, a, rate, const):
                return blockwise(
                    partial(_textbook_log_density, dtype=dtype), (a, rate, const, value)
                )
            return _textbook_log_density(a, rate, const, value, dtype)
        terms = self._cached("log_normalizer", lambda: _log_density_terms(_work(a), _work(rate)))
        return gamma_log_density(a, rate, value, terms, inverse=True).to(dtype)

    # cdf(y) = Q(a, rate / y), sf(y) = P(a, rate / y): rate / y in float64 with its rounding
    # error added back (see _gamma_tails; the tails amplify it by sqrt(a) z).
    def _cdf(self, value):
        return incomplete_gamma_tail("Q", self.concentration, self.rate, value, inverse=True)

    def _survival_function(self, value):
        return incomplete_gamma_tail("P", self.concentration, self.rate, value, inverse=True)

    def _log_cdf(self, value):
        return incomplete_gamma_tail("log Q", self.concentration, self.rate, value, inverse=True)

    def _log_survival_function(self, value):
        return incomplete_gamma_tail("log P", self.concentration, self.rate, value, inverse=True)

    def _icdf(self, value):
        return self.rate / gammainccinv(self.concentration, value)

    median = Distribution.median  # icdf(1/2): no closed form

    def _entropy(self):
        # H = a + log r + lgamma(a) - (1 + a) digamma(a); with lgamma(a) = (a - 1/2) log a - a
        # + log(2 pi)/2 + stirlerr(a) and digamma(a) = log a - L(a) (L = log_minus_digamma):
        # H = log r + log(2 pi)/2 - 3/2 log a + stirlerr(a) + (1 + a) L(a), without the
        # cancellation of the terms of size a log a (computed in float64).
        a, rate = self.concentration, self.rate
        dtype = torch.promote_types(a.dtype, rate.dtype)
        if float32_within(_FLOAT32_LIMIT, (a,), rate):
            # float32 up to 1e8: from shifted_stirling, a few ulps, no lgamma/digamma calls
            return blockwise(_entropy_float32, (a, rate))
        work = textbook_dtype(_TEXTBOOK_LIMIT, a)
        if work is not None:
            a, rate = a.to(work), rate.to(work)
            return (a + rate.log() + torch.lgamma(a) - (1 + a) * torch.digamma(a)).to(dtype)
        a, rate = _work(a), _work(rate)
        h = _HALF_LOG_2PI - 1.5 * torch.log(a) + stirlerr(a) + (1 + a) * log_minus_digamma(a)
        return (h + torch.log(rate)).to(dtype)

    @property
    def mean(self) -> torch.Tensor:
        a = self.concentration
        finite = a > 1
        mean = self.rate / torch.where(finite, a - 1, torch.ones_like(a))
        return torch.where(finite, mean, math.inf)

    @property
    def mode(self) -> torch.Tensor:
        return self.rate / (self.concentration + 1)

    @property
    def variance(self) -> torch.Tensor:
        a = self.concentration
        finite = a > 2
        a_safe = torch.where(finite, a, torch.full_like(a, 3.0))
        variance = self.rate.square() / ((a_safe - 1).square() * (a_safe - 2))
        return torch.where(finite, variance, math.inf)
