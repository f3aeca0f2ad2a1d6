"""The chi-squared distribution."""

from __future__ import annotations

import math
from itertools import repeat
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from .._samplers.gamma import cached_rounds
from ..special.xlogy import x_log_y
from ..utils import PYTHON_NUMEL, _flat_list, as_params, from_floats, python_wanted, textbook_dtype
from .gamma import (
    _FLOAT32_LIMIT,
    _HALF_LOG_2PI,
    _SHIFT,
    _TEXTBOOK_LIMIT,
    HALF,
    ONE,
    Gamma,
    blockwise,
    float32_within,
    python_log_densities,
    stirling_excess,
)

_LOG_2 = math.log(2)


def _entropy_float32(df: torch.Tensor) -> torch.Tensor:
    """Gamma's float32 entropy at ``a = df / 2``, ``rate = 1/2`` (gamma.shifted_stirling)."""
    h, _ = stirling_excess(df * 0.5)
    return h.add_(_LOG_2 + _HALF_LOG_2PI - _SHIFT)


__all__ = ["Chi2"]


def _double(x: torch.Tensor, index) -> None:
    """``standard_gamma``'s ``finish``: ``2 G`` (exact; at least ``2 tiny``)."""
    x.mul_(2)


class Chi2(Gamma):
    r"""Chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``.

    .. math:: p(x) = \frac{x^{\nu/2 - 1} e^{-x/2}}{2^{\nu/2}\,\Gamma(\nu/2)}, \quad x \ge 0

    Support: :math:`[0, \infty)`. A subclass of :class:`Gamma`, as in torch: ``concentration``
    and ``rate`` are derived from ``df`` (so an in-place update of ``df`` is seen).

    Args:
        df: the degrees of freedom :math:`\nu > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Chi2(2.0).log_prob(torch.tensor(1.0))
        tensor(-1.1931)
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df: Any, validate_args: bool | None = None) -> None:
        (self.df,) = as_params(df, owner=self._name)
        # Gamma's __init__ would store concentration and rate; they are derived here.
        super(Gamma, self).__init__(self.df.shape, validate_args=validate_args)

    @property
    def concentration(self) -> torch.Tensor:
        return 0.5 * self.df

    @property
    def rate(self) -> torch.Tensor:
        return torch.full_like(self.df, 0.5)

    def _sample(self, sample_shape, generator):
        # Gamma's draw at a = df/2, rate 1/2, without forming the rate: g / (1/2) is 2 g
        # exactly (the same numbers as rsample), doubled block by block (no graph here)
        shape = self._extended_shape(sample_shape)
        df = self.df
        if shape == df.shape:
            # the rounds' parameter terms (a = df/2 among them) kept for the next draw
            prepared = cached_rounds(self, df, lambda: 0.5 * df, "value")
            if prepared is not None:
                return standard_gamma(prepared.a.view(shape), generator, prepared, _double)
        a = 0.5 * df
        return standard_gamma(a if a.shape == shape else a.expand(shape), generator, None, _double)

    def _rsample(self, sample_shape, generator):
        if self.df.requires_grad:
            return super()._rsample(sample_shape, generator)
        return self._sample(sample_shape, generator)  # (no graph to attach: the same numbers)

    def _entropy(self):
        # without forming concentration and rate (two temporaries of the batch's size)
        if float32_within(2 * _FLOAT32_LIMIT, (self.df,)):
            return blockwise(_entropy_float32, (self.df,))
        return super()._entropy()

    def _log_prob(self, value):
        df = self.df
        # small: Gamma's textbook terms without its caching (of no use at this size)
        small = df.numel() < self._cache_min_numel and df.dtype == value.dtype in ONE
        if small and df.numel() <= PYTHON_NUMEL and value.shape == df.shape:
            if python_wanted(df, value):  # Gamma's Python path at a = df / 2, rate = 1/2
                halves = [0.5 * d for d in _flat_list(df)]
                out = python_log_densities(halves, repeat(0.5), _flat_list(value))
                if out is not None:
                    return from_floats(out, df.dtype, df.shape)
        work = small and textbook_dtype(2 * _TEXTBOOK_LIMIT, df)
        if work:
            # (a - 1) log x - x/2 - a log 2 - lgamma(a), a = df/2, in utils.textbook_dtype
            dtype, x = df.dtype, value
            if work is not dtype:  # (.to costs ~1 us even as a no-op)
                df, x = df.to(work), value.to(work)
            a = df * HALF[work]
            out = x_log_y(a - ONE[work], x).add_(x, alpha=-0.5)
            out = out.sub_(torch.lgamma(a).add_(a, alpha=_LOG_2))
            return out if work is dtype else out.to(dtype)
        if small:
            return super()._log_prob(value)
        return self._cached_log_prob(value, df.dtype)
