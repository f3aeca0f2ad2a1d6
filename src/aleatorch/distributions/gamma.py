"""The gamma distribution."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from .._samplers.gamma import cached_rounds
from ..exp_family import ExponentialFamily
from ..kl import register_kl
from ..special.incomplete_gamma import gammaincinv
from ..special.stirling import log1pmx, log_minus_digamma, stirlerr
from ..special.xlogy import _broadcasts_into, x_log_y
from ..utils import (
    _WIDENED_LIMIT,
    PYTHON_NUMEL,
    _flat_list,
    _inplace_ok,
    _readable,
    as_params,
    from_floats,
    python_wanted,
    textbook_dtype,
)
from ._gamma_tails import incomplete_gamma_tail

__all__ = ["Gamma"]

_LOG_2PI = math.log(2 * math.pi)
# From this concentration on, log_prob uses the saddle-point form (stirlerr and bd0); below
# it the direct formula has no large terms to cancel.
_SADDLE_FROM = 10.0
# Concentrations up to which log_prob and entropy use lgamma/digamma directly
# (utils.textbook_dtype, CPU eager): terms of the size of the result, a few tens of ulps.
_TEXTBOOK_LIMIT = 10.0
# KL: the Bregman term of lgamma by its Taylor series in the concentration difference
# (polygamma values) where |a_q / a_p - 1| < this, with this many terms (0.2^25/25 < 1e-19).
_KL_SERIES_BELOW = 0.2
_KL_SERIES_TERMS = 25
_KL_SERIES_MIN_A = 1e-8  # below it the polygamma values overflow float64
# trigamma(z) ~ 1/z + 1/(2 z^2) + sum_k B_2k / z^(2k+1): B_2k for k = 1..9, used for z >= 10.
_TRIGAMMA_SERIES = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]
_TRIGAMMA_SHIFT = 10
_BD0_TERMS = 12  # v^3/3 + ... + v^25/25: |v| < 0.1 leaves < 1e-27
# 1 as a 0-dim CPU tensor per dtype: ``a - ONE`` costs ~1.4 us on a small tensor, ``a - 1``
# ~3 us (the Python number is wrapped into a tensor at each call). CPU eager paths only.
ONE = {dtype: torch.ones((), dtype=dtype) for dtype in (torch.float32, torch.float64)}
HALF = {dtype: torch.full((), 0.5, dtype=dtype) for dtype in (torch.float32, torch.float64)}


def _python_log_prob(a: torch.Tensor, rate: torch.Tensor, value: torch.Tensor):
    """``a log r - lgamma(a) + (a - 1) log x - r x`` entry by entry in Python floats (double
    precision, the textbook tier) for a few entries; None (the tensor path) when the shapes
    differ or an entry is not finite and positive or lies beyond the textbook range."""
    if not (value.shape == a.shape == rate.shape) or not a.numel():
        return None
    out = python_log_densities(_flat_list(a), _flat_list(rate), _flat_list(value))
    return None if out is None else from_floats(out, a.dtype, a.shape)


def python_log_densities(concentrations, rates, values) -> list[float] | None:
    """``_python_log_prob`` over Python floats (iterables of one length): the log-densities,
    or None where an entry is out of its range."""
    limit = _WIDENED_LIMIT  # float32 parameters: the double-precision textbook tier
    log, lgamma, out = math.log, math.lgamma, []
    for c, r, x in zip(concentrations, rates, values):
        if not (0.0 < c <= limit and 0.0 < r < math.inf and 0.0 < x < math.inf):
            return None  # (NaN too)
        out.append(c * log(r) - lgamma(c) + (c - 1.0) * log(x) - r * x)
    return out


def _work(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float64: the terms below have condition numbers up to ``sqrt(a)``, so a
    float32 intermediate (``rate * x``) would cost that many ulps of the result."""
    return t.to(torch.float64)


def _log_density_terms(a: torch.Tensor, rate: torch.Tensor):
    """The parameter-only terms of ``log_prob`` (float64): ``a log r - lgamma(a)`` for the
    direct form, ``log(a / 2 pi) / 2 - stirlerr(a)`` for the saddle-point form."""
    small = a < _SADDLE_FROM
    a_small = torch.where(small, a, torch.ones_like(a))
    a_big = torch.where(small, torch.full_like(a, _SADDLE_FROM), a)
    direct = x_log_y(a_small, rate) - torch.lgamma(a_small)
    saddle = 0.5 * (torch.log(a_big) - _LOG_2PI) - stirlerr(a_big)
    return direct, saddle


def _split(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Veltkamp's split of float64 ``v`` into two halves of 26 bits (``v = hi + lo``)."""
    c = v * 134217729.0  # 2**27 + 1
    hi = c - (c - v)
    return hi, v - hi


def _product_error(u: torch.Tensor, v: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``u v - p`` exactly for ``p = fl(u v)`` (Dekker's two-product, float64; 0 where the
    split could overflow or the product is subnormal)."""
    safe = (p.abs() < 1e290) & (p.abs() > 1e-290) & (u.abs() < 1e290) & (v.abs() < 1e290)
    u = torch.where(safe, u, torch.ones_like(u))
    v = torch.where(safe, v, torch.ones_like(v))
    p = torch.where(safe, p, torch.ones_like(p))
    u_hi, u_lo = _split(u)
    v_hi, v_lo = _split(v)
    err = ((u_hi * v_hi - p) + u_hi * v_lo + u_lo * v_hi) + u_lo * v_lo
    return torch.where(safe, err, torch.zeros_like(err))


def _quotient_error(u: torch.Tensor, v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``u / v - q`` to working precision for ``q = fl(u / v)``: ``(u - q v) / v``, with
    ``u - q v`` exact (``q v`` by two-product; ``u - fl(q v)`` is exact by Sterbenz)."""
    p = q * v
    return ((u - p) - _product_error(q, v, p)) / v


def _bd0_near(a: torch.Tensor, diff: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``bd0(a, y)`` for ``|a - y| < 0.1 (a + y)`` given ``diff = a - y`` to full precision:
    with ``v = diff / (a + y)``, ``v diff + 2 a (v^3/3 + v^5/5 + ...)`` (``|v| < 0.1``)."""
    v = (0.5 * diff) / (0.5 * a + 0.5 * y)
    v2 = v * v
    tail = torch.full_like(v, 1.0 / (2 * _BD0_TERMS + 1))
    for j in range(_BD0_TERMS - 1, 0, -1):
        tail = tail * v2 + 1.0 / (2 * j + 1)
    return v * diff + a * (2 * v * v2 * tail)


def deviance(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Loader's ``bd0(x, m) = x log(x / m) + m - x >= 0`` (float64, ``x >= 0``, ``m >= 0``).

    As ``aleatorch.special.bd0``, but away from ``x = m`` with ``log(x / m)`` rather than
    ``log x - log m`` (whose rounding, ``eps log x``, is multiplied by ``x``: 50 ulps of
    ``bd0(130, 100)``), and grouped as ``x (log(x/m) - 1) + m`` so nothing overflows.
    """
    close = (0.5 * x - 0.5 * m).abs() < 0.1 * (0.5 * x + 0.5 * m)
    xc = torch.where(close, x, torch.ones_like(x))
    mc = torch.where(close, m, torch.ones_like(m))
    near = _bd0_near(xc, xc - mc, mc)
    positive = (x > 0) & ~close
    xf = torch.where(positive, x, torch.ones_like(x))
    mf = torch.where(positive, m, torch.ones_like(m))
    ratio = xf / torch.where(mf > 0, mf, torch.ones_like(mf))
    normal = (ratio >= torch.finfo(ratio.dtype).tiny) & (ratio < math.inf) & (mf > 0)
    log_ratio = torch.where(
        normal, torch.log(torch.where(normal, ratio, 1.0)), torch.log(xf) - torch.log(mf)
    )
    far = torch.where(positive, xf * (log_ratio - 1), torch.zeros_like(x)) + m
    return torch.where(close, near, far)


def gamma_log_density(a, rate, x, terms=None, inverse=False):
    r"""``log p(x)`` of ``Gamma(a, rate)`` in float64, without the ``lgamma`` cancellation
    (of ``InverseGamma(a, rate)`` if ``inverse``: ``y = rate / x`` below).

    For ``a >= 10``, with ``y = rate x``: :math:`\log p = \tfrac12\log\frac{a}{2\pi}
    - \mathrm{stirlerr}(a) - \log x - \mathrm{bd0}(a, y)`, where
    ``bd0(a, y) = a log(a/y) + y - a >= 0`` (Loader's deviance; R's ``dgamma``). Every term
    has the size of the result, so the relative error stays a few ulps at ``a = 1e6``, where
    ``a log r - lgamma(a) + (a - 1) log x - r x`` subtracts numbers of size ``1e7``.
    The inverse-gamma density is the same with ``y = rate / x``.
    """
    a, rate, x = _work(a), _work(rate), _work(x)
    direct_c, saddle_c = _log_density_terms(a, rate) if terms is None else terms
    small = a < _SADDLE_FROM
    a_small = torch.where(small, a, torch.ones_like(a))
    a_big = torch.where(small, torch.full_like(a, _SADDLE_FROM), a)
    if inverse:
        direct = direct_c - (a_small + 1) * torch.log(x) - rate / x
    else:
        direct = direct_c + x_log_y(a_small - 1, x) - rate * x
    positive = x > 0
    xs = torch.where(positive, x, torch.ones_like(x))
    log_x = torch.log(xs)
    y = rate / xs if inverse else rate * xs
    log_y = torch.log(rate) - log_x if inverse else torch.log(rate) + log_x
    # Half-sums: a + y may overflow at the largest floats.
    close = (0.5 * y - 0.5 * a_big).abs() < 0.1 * (0.5 * y + 0.5 * a_big)
    # Near the mode, bd0 depends on a - y, which the rounding of y = rate x (or rate / x)
    # would perturb by sqrt(a) ulps of the result: its rounding error is added back.
    y_c = torch.where(close, y, a_big)
    x_c = torch.where(close, xs, torch.ones_like(xs))
    r_c = torch.where(close, rate, a_big)
    y_err = _quotient_error(r_c, x_c, y_c) if inverse else _product_error(r_c, x_c, y_c)
    dev_close = _bd0_near(a_big, (a_big - y_c) - y_err.detach(), y_c)
    # Away from the mode: a log(a / y) + y - a from log y (y may underflow; grouped so
    # that nothing overflows at the largest floats).
    ratio = a_big / torch.where(y > 0, y, a_big)
    normal = (y >= torch.finfo(y.dtype).tiny) & (ratio < math.inf)
    log_ratio = torch.where(
        normal, torch.log(torch.where(normal, ratio, 1.0)), torch.log(a_big) - log_y
    )
    dev_far = a_big * (log_ratio - 1) + y
    saddle = saddle_c - log_x - torch.where(close, dev_close, dev_far)
    saddle = torch.where(positive, saddle, torch.where(x == 0, -math.inf, math.nan))
    return torch.where(small, direct, saddle)


# float32 entropies (shifted_stirling): the Stirling series of lgamma and digamma at
# z = x + _SHIFT >= 4; the terms they drop are below 4e-8 there (an ulp of 1 is 1.2e-7).
_SHIFT = 4.0
_HALF_LOG_2PI = 0.5 * _LOG_2PI
_S_SERIES = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680]  # S(z) = sum c_k z^(1-2k)
_T_SERIES = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132]  # T(z) = sum c_k z^(-2k)
# Entries per block of blockwise(): its ~10 temporaries stay in cache and are reused by the
# allocator (1M-entry temporaries are each returned to the OS and page-faulted back in).
_BLOCK = 65536
# Parameters up to which the float32 forms are used (z^4.5 stays finite to 2e8).
_FLOAT32_LIMIT = 1e8


def _horner(w: torch.Tensor, coefficients: list[float]) -> torch.Tensor:
    """``sum c_k w^k`` (k from 0), in place on one new tensor."""
    out = w * coefficients[-1]
    for c in coefficients[-2:0:-1]:
        out = out.add_(c).mul_(w)
    return out.add_(coefficients[0])


def shifted_stirling(x: torch.Tensor):
    r"""``(z, p, s, u)`` for float32 ``0 < x <= 2e8``: with ``z = x + 4`` and
    ``p = x (x+1) (x+2) (x+3)``,

    .. math:: \log\Gamma(x) = (z - \tfrac12)\log z - z + \tfrac12\log 2\pi + s - \log p,
              \quad \psi(x) = \log z - u,

    ``s = S(z)``, ``u = 1/(2z) + T(z) + p'/p`` (Stirling's series; ``p'/p = sum 1/(x+k)``).
    So ``lgamma(x) + (1 - x) psi(x) = log(z^(9/2) / p) + s + (x - 1) u - z + log(2 pi)/2``,
    whose terms do not cancel (``log(z^(9/2) / p) ~ log(x)/2``, ``(x - 1) u ~ 4.5``)."""
    z = x + _SHIFT
    rz = z.reciprocal()
    rz2 = rz * rz
    s = _horner(rz2, _S_SERIES).mul_(rz)
    u = _horner(rz2, _T_SERIES).mul_(rz).add_(0.5).mul_(rz)
    y = (x + 3).mul_(x)  # p = y (y + 2), p' = 2 (y + 1) (2 x + 3)
    p = (y + 2).mul_(y)
    u = u.addcdiv_((x * 4 + 6).mul_(y + 1), p)
    return z, p, s, u


def stirling_excess(x: torch.Tensor, power: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log(z^(4 + power) / p) + s + (x - 1) u, u)`` of :func:`shifted_stirling`
    (``power`` a half-integer): with ``power = 1/2`` the first is
    ``lgamma(x) + (1 - x) psi(x) + z - log(2 pi)/2``, and each further ``z`` adds ``log z``."""
    z, p, s, u = shifted_stirling(x)
    whole = int(power + 3.5)  # z^(4 + power) = z^whole sqrt(z)
    root = z.sqrt()
    if whole <= 4:  # z^4.5 stays finite for z <= 2e8
        if whole == 0:
            h = root / p
        else:
            h = z * z if whole >= 2 else z * root
            if whole == 3:
                h = h.mul_(z)
            elif whole == 4:
                h = h.square_()
            h = (h.mul_(root) if whole >= 2 else h).div_(p)
    else:  # z^4 / p ~ 1 first
        h = (z * z).square_().div_(p).mul_(root)
        for _ in range(min(whole, 8) - 4):
            h = h.mul_(z)
    # z^4.5 / p ~ 43 / x overflows below x = 1.3e-37, where H ~ -1/x: no digits lost
    h = h.clamp_(max=torch.finfo(h.dtype).max).log_()
    if whole > 8:
        h = h.add_(z.log(), alpha=whole - 8)
    return h.add_(s).addcmul_(x - 1, u), u


def float32_within(limit: float, bounded: tuple[torch.Tensor, ...], *others: torch.Tensor) -> bool:
    """Whether the float32 forms apply: every tensor float32, CPU eager (utils._readable),
    and the ``bounded`` ones at most ``limit`` (``amax``: no temporary; NaN fails)."""
    tensors = (*bounded, *others)
    if not all(t.dtype == torch.float32 for t in tensors) or not _readable(tensors):
        return False
    return all(t.numel() == 0 or float(t.detach().amax()) <= limit for t in bounded)


def blockwise(fn, tensors: tuple[torch.Tensor, ...], event_dims: tuple[int, ...] = ()):
    """``fn(*tensors)`` (elementwise over the batch) on blocks of ``_BLOCK`` entries, or in
    one call when small or differentiated; for CPU eager callers (float32_within: no
    data-dependent loop reaches a trace). ``event_dims[i]`` trailing dims of ``tensors[i]``
    are kept whole (a Dirichlet's k)."""
    event_dims = event_dims or (0,) * len(tensors)
    events = [t.shape[t.dim() - e :] for t, e in zip(tensors, event_dims, strict=True)]
    batch = torch.broadcast_shapes(
        *(t.shape[: t.dim() - e] for t, e in zip(tensors, event_dims, strict=True))
    )
    width = max((math.prod(e) for e in events), default=1) or 1
    n = math.prod(batch)
    if n * width <= 2 * _BLOCK or (
        torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    ):
        return fn(*tensors)
    flat = [t.expand(batch + e).reshape((n, *e)) for t, e in zip(tensors, events, strict=True)]
    step = max(1, _BLOCK // width)
    first = fn(*(t[:step] for t in flat))
    out = first.new_empty((n, *first.shape[1:]))
    out[:step] = first
    for i in range(step, n, step):
        out[i : i + step] = fn(*(t[i : i + step] for t in flat))
    return out.reshape(batch + first.shape[1:])


def _gamma_entropy(a: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """float32 ``H = log(z^(9/2) / p) + s + (a - 1) u - 4 + log(2 pi)/2 - log r``
    (:func:`shifted_stirling`, ``z - a = 4``)."""
    h, _ = stirling_excess(a)
    return h.sub_(rate.log()).add_(_HALF_LOG_2PI - _SHIFT)


def _textbook_log_density(a, rate, const, value, dtype):
    """``(a - 1) log x - r x + const`` in the terms' dtype, rounded to ``dtype``."""
    value = value.to(torch.promote_types(a.dtype, value.dtype))
    out = x_log_y(a - 1, value)
    # (in place: the shapes fit, and no operand is batched by vmap where out is not)
    if (
        out.shape != value.shape
        or not _broadcasts_into(rate.shape, out.shape)
        or not _readable((rate, const))
    ):
        return (out - rate * value + const).to(dtype)
    return out.addcmul_(rate, value, value=-1).add_(const).to(dtype)


def _blocks_pay(value: torch.Tensor, *terms: torch.Tensor) -> bool:
    """Whether a wider-dtype log-density of ``value`` should run in cache-sized blocks
    (``blockwise``): CPU eager, no graph, every term of the value's shape and the work wider
    than the value (its temporaries, a fresh 8 MB buffer each per 1M entries, then cost more
    in page faults and memory traffic than the arithmetic)."""
    if value.numel() <= 2 * _BLOCK or terms[0].dtype == value.dtype:
        return False
    if any(t.shape != value.shape for t in terms) or not _inplace_ok(value, *terms):
        return False
    return value.device.type == "cpu"


def _textbook_terms(d, work: torch.dtype):
    """``(a, rate, a log(rate) - lgamma(a))`` of a gamma or inverse-gamma law ``d`` in
    ``work`` (utils.textbook_dtype), cached with its other parameter-only terms."""
    a, rate = d._cached("textbook_params", lambda: (d.concentration.to(work), d.rate.to(work)))
    const = d._cached("textbook_const", lambda: a * rate.log() - torch.lgamma(a))
    return a, rate, const


def _flat_operand(t: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """``t``'s entries in the flat order of ``shape``: one element as a 0-dim tensor, or a
    flat view where ``t`` has ``shape`` (contiguous); else None (a copy would be needed)."""
    if t.numel() == 1:
        return t.reshape(())
    return t.view(-1) if t.shape == shape and t.is_contiguous() else None


def _take(flat: torch.Tensor, index) -> torch.Tensor:
    if flat.dim() == 0:
        return flat
    return flat[index] if isinstance(index, slice) else flat.index_select(0, index)


def fused_gamma(dist, a, operand, shape, generator, inverse: bool = False):
    """``G / operand`` (Gamma: the rate) or with ``inverse`` ``operand / G`` (InverseGamma)
    for ``G ~ Gamma(a, 1)`` drawn to ``shape``, at least ``tiny`` (``operand / G`` at most
    the largest float), computed block by block while the draws are in cache (no extra pass
    over the result), with the rounds' parameter terms kept in ``dist``'s cache
    (``cached_rounds``); None where that does not apply (a graph to record, not CPU eager,
    not float32/float64, an operand that is neither one element nor of ``shape``)."""
    if a.dtype not in ONE or operand.dtype != a.dtype or not _readable((a, operand)):
        return None
    if torch.is_grad_enabled() and (a.requires_grad or operand.requires_grad):
        return None
    flat = _flat_operand(operand.detach(), shape)
    if flat is None:
        return None
    finfo = torch.finfo(a.dtype)

    def finish(x, index):
        if inverse:  # (x is at least tiny: no division by 0)
            torch.div(_take(flat, index), x, out=x).clamp_(max=finfo.max)
        else:
            x.div_(_take(flat, index)).clamp_(min=finfo.tiny)

    prepared = cached_rounds(dist, a, lambda: a, "value") if a.shape == shape else None
    return standard_gamma(a if a.shape == shape else a.expand(shape), generator, prepared, finish)


class Gamma(ExponentialFamily):
    r"""Gamma distribution with shape ``concentration`` and inverse scale ``rate``.

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{\alpha - 1} e^{-\beta x}, \quad x \ge 0

    Support: :math:`[0, \infty)`. Log-density, entropy and KL are computed without
    differences of large ``lgamma`` values (``stirlerr``/``bd0`` forms, in float64 inside),
    so they keep full relative precision for concentrations up to ``1e6`` and beyond.

    Args:
        concentration: the shape :math:`\alpha > 0`.
        rate: the rate :math:`\beta > 0` (the inverse of the scale).

    Example:
        >>> import aleatorch as D
        >>> D.Gamma(2.0, 3.0).log_prob(torch.tensor(1.0))
        tensor(-0.8028)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = as_params(concentration, rate, owner=self._name)
        super().__init__(self.concentration.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> torch.Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> torch.Tensor:
        return self.concentration / self.rate.pow(2)

    @property
    def stddev(self) -> torch.Tensor:
        # sqrt(alpha) / beta: the variance overflows first (beta = 1e-300 in float64).
        return self.concentration.sqrt() / self.rate

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        a = self.concentration
        draws = fused_gamma(self, a, self.rate, shape, generator)
        if draws is not None:
            return draws
        g = standard_gamma(a if a.shape == shape else a.expand(shape), generator)
        # Draws below the smallest normal float would make log_prob infinite; the gradient
        # (torch's implicit reparameterization of _standard_gamma) flows through the rest.
        tiny = torch.finfo(g.dtype).tiny
        if g.requires_grad or self.rate.requires_grad or not _readable((g, self.rate)):
            return (g / self.rate).clamp(min=tiny)
        return g.div_(self.rate).clamp_(min=tiny)  # a fresh tensor (CPU eager): in place

    def _log_prob(self, value):
        a, rate = self.concentration, self.rate
        # small: the textbook terms below without the caching (of no use at this size)
        small = a.numel() < self._cache_min_numel and a.dtype == rate.dtype == value.dtype in ONE
        if small and a.numel() <= PYTHON_NUMEL and python_wanted(a, rate, value):
            out = _python_log_prob(a, rate, value)
            if out is not None:
                return out
        # (in place below: every operand a plain CPU eager tensor, none batched by vmap)
        work = small and _readable((rate, value)) and textbook_dtype(_TEXTBOOK_LIMIT, a)
        if work:
            dtype, x = a.dtype, value
            if work is not dtype:  # (.to costs ~1 us even as a no-op; 0-dim a would not
                a, rate, x = a.to(work), rate.to(work), value.to(work)  # promote x)
            out = x_log_y(a - ONE[work], x).addcmul_(rate, x, value=-1)
            out = out.addcmul_(a, rate.log()).sub_(torch.lgamma(a))
            return out if work is dtype else out.to(dtype)
        return self._cached_log_prob(value, torch.promote_types(a.dtype, rate.dtype))

    def _cached_log_prob(self, value, param_dtype):
        """``_log_prob`` from the cached parameter-only terms: ``concentration`` and ``rate``
        are read only when those are formed (Chi2 derives both from ``df`` at every read,
        two passes over the batch)."""
        dtype = torch.promote_types(param_dtype, value.dtype)
        work = self._cached("textbook", lambda: textbook_dtype(_TEXTBOOK_LIMIT, self.concentration))
        if work is not None:
            # a log r - lgamma(a) + (a - 1) log x - r x: terms of the size of the result
            # while a is moderate, or in float64 for float32 parameters up to 1e8
            # (utils.textbook_dtype). Parameter-only terms are formed at batch size.
            a, rate, const = _textbook_terms(self, work)
            if _blocks_pay(value, a, rate, const):
                return blockwise(
                    partial(_textbook_log_density, dtype=dtype), (a, rate, const, value)
                )
            return _textbook_log_density(a, rate, const, value, dtype)
        a, rate = self.concentration, self.rate
        terms = self._cached("log_normalizer", lambda: _log_density_terms(_work(a), _work(rate)))
        return gamma_log_density(a, rate, value, terms).to(dtype)

    # The regularized incomplete gamma functions of aleatorch.special (differentiable in the
    # concentration too, accurate in both tails and at large concentrations) at rate * x
    # formed in float64 with its rounding error added back (see _gamma_tails).
    def _cdf(self, value):
        return incomplete_gamma_tail("P", self.concentration, self.rate, value)

    def _survival_function(self, value):
        return incomplete_gamma_tail("Q", self.concentration, self.rate, value)

    def _log_cdf(self, value):
        return incomplete_gamma_tail("log P", self.concentration, self.rate, value)

    def _log_survival_function(self, value):
        return incomplete_gamma_tail("log Q", self.concentration, self.rate, value)

    def _icdf(self, value):
        return gammaincinv(self.concentration, value) / self.rate

    def _entropy(self):
        # H = a - log r + lgamma(a) + (1 - a) digamma(a). With lgamma(a) = (a - 1/2) log a - a
        # + log(2 pi)/2 + stirlerr(a) and digamma(a) = log a - L(a), L = log_minus_digamma:
        # H = log(2 pi a)/2 + stirlerr(a) + (a - 1) L(a) - log r, whose terms do not cancel
        # (a L(a) -> 1/2); the direct form loses everything in float32 at a = 1e7.
        a, rate = self.concentration, self.rate
        dtype = torch.promote_types(a.dtype, rate.dtype)
        if float32_within(_FLOAT32_LIMIT, (a,), rate):
            # float32 up to 1e8: from shifted_stirling, a few ulps, no lgamma/digamma calls
            return blockwise(_gamma_entropy, (a, rate))
        work = textbook_dtype(_TEXTBOOK_LIMIT, a)
        if work is not None:
            a, rate = a.to(work), rate.to(work)
            return (a - rate.log() + torch.lgamma(a) + (1 - a) * torch.digamma(a)).to(dtype)
        a, rate = _work(a), _work(rate)
        h = 0.5 * (_LOG_2PI + torch.log(a)) + stirlerr(a) + (a - 1) * log_minus_digamma(a)
        return (h - torch.log(rate)).to(dtype)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return torch.lgamma(x + 1) + (x + 1) * torch.log(-y.reciprocal())


def trigamma(a: torch.Tensor) -> torch.Tensor:
    """``psi'(a)`` for ``a > 0``: ``sum_{k<10} 1/(a+k)^2`` plus the asymptotic series at
    ``a + 10`` (torch's ``polygamma(1, .)`` is off by 5e-10 relative at ``a = 1``)."""
    head = torch.zeros_like(a)
    for k in range(_TRIGAMMA_SHIFT):
        head = head + (a + k).reciprocal().square()
    z = a + _TRIGAMMA_SHIFT
    inv2 = z.reciprocal().square()
    tail = torch.full_like(z, _TRIGAMMA_SERIES[-1])
    for c in reversed(_TRIGAMMA_SERIES[:-1]):
        tail = tail * inv2 + c
    return head + (1 + (0.5 + tail / z) / z) / z


def lgamma_bregman(a_p: torch.Tensor, a_q: torch.Tensor) -> torch.Tensor:
    r""":math:`\log\Gamma(a_q) - \log\Gamma(a_p) - (a_q - a_p)\psi(a_p) \ge 0` in float64.

    Near ``a_q = a_p`` (``|t| < 0.2``, ``t = a_q / a_p - 1``) by its Taylor series
    :math:`\sum_{n \ge 2} \psi^{(n-1)}(a_p)\,\delta^n / n!`; elsewhere, for ``a_p >= 10``,
    from Stirling's form: ``bd0(a_q, a_p) - log1pmx(t) / 2`` plus the ``stirlerr`` terms
    (no ``lgamma`` difference of size ``a log a``); else directly.
    """
    delta = a_q - a_p
    t = delta / a_p
    near = (t.abs() < _KL_SERIES_BELOW) & (a_p > _KL_SERIES_MIN_A)
    ap_n = torch.where(near, a_p, torch.ones_like(a_p))
    d_n = torch.where(near, delta, torch.zeros_like(delta))
    series = torch.zeros_like(ap_n)
    power = d_n
    for n in range(2, _KL_SERIES_TERMS + 2):
        power = power * d_n / n  # delta^n / n!
        derivative = trigamma(ap_n) if n == 2 else torch.polygamma(n - 1, ap_n)
        series = series + derivative * power
    big = a_p >= _SADDLE_FROM
    ap_b = torch.where(big & ~near, a_p, torch.full_like(a_p, _SADDLE_FROM))
    aq_b = torch.where(big & ~near, a_q, torch.full_like(a_q, 2 * _SADDLE_FROM))
    t_b = (aq_b - ap_b) / ap_b
    # d/da stirlerr(a) = 1/(2a) - L(a)
    remainder = (
        stirlerr(aq_b) - stirlerr(ap_b) - (aq_b - ap_b) * (0.5 / ap_b - log_minus_digamma(ap_b))
    )
    stirling = deviance(aq_b, ap_b) - 0.5 * log1pmx(t_b) + remainder
    direct = torch.lgamma(a_q) - torch.lgamma(a_p) - delta * torch.digamma(a_p)
    return torch.where(near, series, torch.where(big, stirling, direct))


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma) -> torch.Tensor:
    # KL = [lgamma(a_q) - lgamma(a_p) - (a_q - a_p) psi(a_p)] + a_p (d - log1p d)
    #      - (a_q - a_p) log1p(d), with d = b_q / b_p - 1 = (b_q - b_p) / b_p: the first
    # term is lgamma's Bregman divergence (>= 0), the second -a_p log1pmx(d) >= 0; both keep
    # full relative precision between nearly equal members (computed in float64).
    dtype = torch.promote_types(p.concentration.dtype, q.concentration.dtype)
    a_p, b_p = _work(p.concentration), _work(p.rate)
    a_q, b_q = _work(q.concentration), _work(q.rate)
    # For |d| >= 1/2, d itself (not log1p(d)) would lose digits as b_q / b_p -> 0: there the
    # ratio is used directly.
    d = (b_q - b_p) / b_p
    near = d.abs() < 0.5
    d_n = torch.where(near, d, torch.zeros_like(d))
    ratio = torch.where(near, torch.ones_like(d), b_q / b_p)
    log_ratio = torch.where(near, torch.log1p(d_n), torch.log(ratio))
    rate_term = torch.where(near, -log1pmx(d_n), ratio - 1 - torch.log(ratio))
    kl = lgamma_bregman(a_p, a_q) + a_p * rate_term - (a_q - a_p) * log_ratio
    return kl.to(dtype)
