"""The Dirichlet distribution."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch

from .. import constraints
from .._samplers import implicit_dirichlet, log_standard_gamma
from .._samplers.gamma import (
    _COLUMNS_UP_TO,
    cached_rounds,
    few_dirichlet,
    simplex_from_logs_,
    simplex_from_major_logs_,
)
from ..errors import ParameterError
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special.xlogy import log_floor, x_log_y
from ..utils import (
    _WIDENED_LIMIT,
    PYTHON_NUMEL,
    _flat_list,
    _readable,
    as_params,
    from_floats,
    python_wanted,
    sum_last,
    textbook_dtype,
)
from ._beta_exact import dirichlet_entropy, dirichlet_kl, dirichlet_log_prob, working
from .gamma import (
    _FLOAT32_LIMIT,
    _HALF_LOG_2PI,
    _SHIFT,
    ONE,
    _blocks_pay,
    blockwise,
    float32_within,
    stirling_excess,
)

__all__ = ["Dirichlet"]

# Total concentration up to which log_prob and entropy use lgamma/digamma directly
# (utils.textbook_range): their terms stay below ~60, a few tens of ulps of the result.
_TEXTBOOK_TOTAL = 20.0


def _entropy_float32(c: torch.Tensor) -> torch.Tensor:
    """float32 ``H = sum_i G(c_i) - G_t + (k - 1) (u_t - 4 + log(2 pi)/2)``, ``t = sum c``,
    with ``G(x) = lgamma(x) + (1 - x) psi(x) + z - log(2 pi)/2`` and
    ``G_t + (k - 1) (log z_t - u_t)`` the same for ``lgamma(t) + (k - t) psi(t)``
    (``gamma.stirling_excess``; the ``z`` cancel but for ``-(k - 1) 4``)."""
    k = c.shape[-1]
    h = stirling_excess(c)[0].sum(-1)
    g_t, u_t = stirling_excess(c.sum(-1), power=k - 0.5)
    return h.sub_(g_t).add_(u_t + (_HALF_LOG_2PI - _SHIFT), alpha=k - 1)


def _textbook_terms(minus_one, value, log_norm, dtype):
    """``sum_i (c_i - 1) log x_i + log_norm`` in the terms' dtype, rounded to ``dtype``."""
    x = value.to(torch.promote_types(minus_one.dtype, value.dtype))
    return sum_last(x_log_y(minus_one, x)).add_(log_norm).to(dtype)


def _textbook_block(minus_one, floor, value, log_norm, dtype):
    """:func:`_textbook_terms` of a block, with :func:`log_floor` of ``minus_one`` given."""
    x = value.to(minus_one.dtype, copy=True)  # (written over below: never the caller's)
    terms = x.log_().clamp_(min=floor).mul_(minus_one)
    return sum_last(terms).add_(log_norm).to(dtype)


def _small_textbook_dtype(c: torch.Tensor) -> torch.dtype | None:
    """``utils.textbook_dtype(_TEXTBOOK_TOTAL, c.sum(-1))`` for a small CPU tensor, with the
    totals summed in Python (no reduction to launch)."""
    if not _readable((c,)):
        return None
    k = c.shape[-1]
    values = _flat_list(c)
    totals = [abs(sum(values[i : i + k])) for i in range(0, len(values), k)]
    largest = max(totals, default=0.0)
    if any(t != t for t in totals):
        return None
    if largest <= _TEXTBOOK_TOTAL:
        return c.dtype
    return torch.float64 if largest <= _WIDENED_LIMIT and c.dtype != torch.float64 else None


def _python_log_prob(c: torch.Tensor, value: torch.Tensor) -> torch.Tensor | None:
    """``sum_i (c_i - 1) log x_i + lgamma(t) - sum_i lgamma(c_i)``, ``t = sum_i c_i``, row by
    row in Python floats (double precision: the textbook tier, utils.textbook_dtype) for a
    few entries, where each torch call costs more than the arithmetic. None (the tensor path)
    when a gradient is wanted, the shapes differ, a total leaves the textbook range, or an
    entry is not finite and positive (the faces of the simplex, out-of-support values)."""
    if c.shape != value.shape or not python_wanted(c, value):
        return None
    limit = _WIDENED_LIMIT  # float32 parameters: the double-precision textbook tier
    k = c.shape[-1]
    cs, xs = _flat_list(c), _flat_list(value)
    out = []
    lgamma, log = math.lgamma, math.log
    for i in range(0, len(cs), k):
        total = 0.0
        acc = 0.0
        for a, x in zip(cs[i : i + k], xs[i : i + k]):
            if not (0.0 < a < math.inf and 0.0 < x < math.inf):
                return None  # (NaN too)
            total += a
            acc += (a - 1.0) * log(x) - lgamma(a)
        if total > limit:
            return None
        out.append(acc + lgamma(total))
    return from_floats(out, c.dtype, c.shape[:-1]) if out else None


class Dirichlet(ExponentialFamily):
    r"""Dirichlet distribution over the probability simplex, with concentration ``concentration``.

    .. math:: p(x) = \frac{\Gamma(\alpha_0)}{\prod_i \Gamma(\alpha_i)} \prod_{i=1}^k
              x_i^{\alpha_i - 1}, \quad \alpha_0 = \sum_i \alpha_i

    Support: the simplex :math:`\{x : x_i \ge 0, \sum_i x_i = 1\}`; ``event_shape`` is
    ``(k,)``.

    Args:
        concentration: :math:`\alpha`, positive, of shape ``batch_shape + (k,)``.

    Sampling normalizes gamma draws in log space (``softmax`` of
    :func:`aleatorch._samplers.log_standard_gamma`), which stays exact for tiny
    concentrations where the gamma draws themselves underflow. ``rsample`` gradients are the
    implicit reparameterization ones, through each marginal
    :math:`x_i \sim \mathrm{Beta}(\alpha_i, \alpha_0 - \alpha_i)` (see
    :mod:`aleatorch._samplers.implicit`).

    Example:
        >>> import aleatorch as D
        >>> D.Dirichlet(torch.tensor([1.0, 2.0, 3.0])).log_prob(torch.tensor([0.2, 0.3, 0.5]))
        tensor(1.5041)
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Any, validate_args: bool | None = None) -> None:
        (self.concentration,) = as_params(concentration, owner=self._name)
        if self.concentration.dim() < 1:
            raise ParameterError(
                f"{self._name}: parameter 'concentration' must have at least one dim (the "
                f"categories, k), but it is a scalar: {self.concentration.item():g}"
            )
        shape = self.concentration.shape
        if shape[-1] == 0:
            raise ParameterError(
                f"{self._name}: parameter 'concentration' has shape {tuple(shape)}: its last "
                "dim (the categories) is empty, and a Dirichlet needs at least one category"
            )
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        # in float64: the sum of float16 concentrations (65504) overflows
        (c,), dtype = working(self.concentration)
        return (c / c.sum(-1, keepdim=True)).to(dtype)

    @property
    def mode(self) -> torch.Tensor:
        # (alpha_i - 1)_+ normalized. When every alpha_i <= 1 and some < 1, that is 0/0: the
        # density is unbounded towards the faces x_i = 0 of the alpha_i < 1, and the vertex
        # of the largest alpha is taken (torch's convention when all are < 1; Beta(1, 0.5)'s
        # mode 1 likewise). All alpha_i = 1 (flat) stays NaN.
        c = self.concentration
        cm1 = (c - 1).clamp(min=0)
        total = cm1.sum(-1, keepdim=True)
        interior = cm1 / total
        vertex = torch.nn.functional.one_hot(c.argmax(-1), c.shape[-1]).to(c.dtype)
        at_vertex = (total == 0) & (c < 1).any(-1, keepdim=True)
        return torch.where(at_vertex, vertex, interior)

    @property
    def variance(self) -> torch.Tensor:
        # pi (1 - pi) / (total + 1), pi = c / total, in float64 (total^3 overflows half
        # precision, total^2 underflows it at the smallest concentrations)
        (c,), dtype = working(self.concentration)
        total = c.sum(-1, keepdim=True)
        return ((c / total) * ((total - c) / total) / (total + 1)).to(dtype)

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        c = self.concentration
        # The draw carries no gradient: the implicit one (through each Beta marginal) is
        # attached below; the pathwise one through the normalized gammas differs.
        x = few_dirichlet(c, shape, generator)  # a few draws (CPU eager): in Python floats
        if x is not None:
            return implicit_dirichlet(c, x)
        dtype = c.dtype
        if dtype in (torch.float16, torch.bfloat16):
            # half-precision gamma draws overflow (concentration 65504): draw in float32
            c = c.float()
        with torch.no_grad():
            # softmax written out (torch's kernel is ~5x slower over a short last dim),
            # in place on the fresh draws
            prepared = None
            if shape == c.shape and 2 <= shape[-1] <= _COLUMNS_UP_TO:
                # the rounds' parameter terms kept for the next draw of this shape, laid out
                # categories first (contiguous columns for the normalization)
                major = c.movedim(-1, 0)
                prepared = cached_rounds(self, c, lambda: major, "log")
            if prepared is not None:
                log_g = log_standard_gamma(major, major.shape, generator, prepared)
                x = simplex_from_major_logs_(log_g)
            else:
                x = simplex_from_logs_(log_standard_gamma(c, shape, generator))
            if x.dtype != dtype:  # (drawn in float32) 0 has infinite log-density too
                x = x.clamp_(min=torch.finfo(dtype).tiny)
        return implicit_dirichlet(c, x).to(dtype)

    def _log_prob(self, value):
        # sum (c_i - 1) log x_i + lgamma(sum c) - sum lgamma(c_i): directly while the total
        # concentration is moderate (utils.textbook_range), else without the lgamma
        # differences (see aleatorch.distributions._beta_exact)
        # (in float64 for float32 concentrations up to 1e8: utils.textbook_dtype)
        c = self.concentration
        if c.numel() < self._cache_min_numel and c.dtype == value.dtype in ONE:
            # small: the terms below without the caching (of no use at this size)
            if c.numel() <= PYTHON_NUMEL:
                out = _python_log_prob(c, value)
                if out is not None:
                    return out
            work = _small_textbook_dtype(c)
            if work is not None:
                # (the ops promote value to work: cw has at least one dim)
                cw = c if work is c.dtype else c.to(work)
                terms = x_log_y(cw - ONE[work], value).sub_(torch.lgamma(cw))
                out = terms.sum(-1).add_(torch.lgamma(cw.sum(-1)))
                if not any(v != v for v in _flat_list(out)):  # (+inf - inf: see below)
                    return out if work is c.dtype else out.to(c.dtype)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_TOTAL, c.sum(-1)))
        if work is not None:
            cw = self._cached("textbook_concentration", lambda: c.to(work))
            log_norm = self._cached(
                "log_normalizer", lambda: torch.lgamma(cw.sum(-1)) - torch.lgamma(cw).sum(-1)
            )
            dtype = torch.promote_types(c.dtype, value.dtype)
            if work != dtype and _blocks_pay(value, cw):
                # wider than the value: in cache-sized blocks (a 1M-entry float64 temporary
                # per op costs more in memory traffic than its arithmetic)
                minus_one, floor = self._cached(
                    "textbook_minus_one", lambda: (cw - 1, log_floor(cw - 1))
                )
                out = blockwise(
                    partial(_textbook_block, dtype=dtype),
                    (minus_one, floor, value, log_norm),
                    event_dims=(1, 1, 1, 0),
                )
            else:
                out = _textbook_terms(cw - 1, value, log_norm, dtype)
            # +inf - inf on a face of the simplex: the exact form takes the limit there (a
            # sum that is not NaN rules NaN out in one cheap pass)
            if not bool(out.sum().isnan()) or not bool(out.isnan().any()):
                return out
        return dirichlet_log_prob(c, value)

    def _entropy(self):
        # sum lgamma(c_i) - lgamma(s) - (k - s) psi(s) - sum (c_i - 1) psi(c_i): directly
        # while the total is moderate, else regrouped without cancellation
        c = self.concentration
        if float32_within(_FLOAT32_LIMIT / c.shape[-1], (c,)):
            # float32 totals up to 1e8: from gamma.shifted_stirling, a few ulps, no
            # lgamma/digamma calls
            return blockwise(_entropy_float32, (c,), event_dims=(1,))
        work = textbook_dtype(_TEXTBOOK_TOTAL, c.sum(-1))
        if work is not None:
            cw = c.to(work)
            total = cw.sum(-1)
            return (
                torch.lgamma(cw).sum(-1)
                - torch.lgamma(total)
                - (c.shape[-1] - total) * torch.digamma(total)
                - ((cw - 1) * torch.digamma(cw)).sum(-1)
            ).to(c.dtype)
        return dirichlet_entropy(c)

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return torch.lgamma(x).sum(-1) - torch.lgamma(x.sum(-1))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet) -> torch.Tensor:
    # log Gamma(s_p) - log Gamma(s_q) - sum_i [log Gamma(a_i) - log Gamma(b_i)]
    # + sum_i (a_i - b_i) (psi(a_i) - psi(s_p)), from the parameter differences: full relative
    # precision between nearly equal laws, never negative
    a, b = torch.broadcast_tensors(p.concentration, q.concentration)
    return dirichlet_kl(a, b)
