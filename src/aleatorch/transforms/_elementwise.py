"""Elementwise maps: exp, affine, tanh, sigmoid, power, softplus, abs and a cdf.

Each acts entry by entry (``event_dim`` 0 unless stated), is monotone (it has a ``sign``;
``AbsTransform`` is the exception: it is neither monotone nor invertible) and computes its
value and log-det together where they share work.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

import torch
import torch.nn.functional as F

from .. import constraints
from ..special.compile_safe import atanh, expm1
from ..utils import _inplace_ok, _number_operand, broadcast_shapes
from ._base import Transform, _sum_rightmost

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "PowerTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "TanhTransform",
]


_TWO_LOG_2 = 2 * math.log(2.0)


def _below_one(dtype: torch.dtype) -> float:
    """The largest number below 1 in ``dtype``: ``1 - eps / 2``."""
    return 1.0 - torch.finfo(dtype).eps / 2


class ExpTransform(Transform):
    r"""``y = exp(x)``, from the real line onto ``(0, inf)``; ``log |dy/dx| = x``."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExpTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x

    def _call_and_ladj(self, x):
        return x.exp(), x

    def _inverse_and_ladj(self, y):
        x = y.log()
        return x, x


class AffineTransform(Transform):
    r"""``y = loc + scale * x``, ``log |det J| = sum log |scale|`` over the event dims.

    Args:
        loc: a number or a tensor, broadcast against ``x``.
        scale: a number or a tensor (nonzero for the inverse to exist).
        event_dim: how many rightmost dims form one event (the log-det sums over them).
        cache_size: 0 or 1.
    """

    bijective = True

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.loc = loc
        self.scale = scale
        self._event_dim = event_dim

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self._event_dim

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return (
            constraints.independent(constraints.real, self._event_dim)
            if self._event_dim
            else constraints.real
        )

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return (
            constraints.independent(constraints.real, self._event_dim)
            if self._event_dim
            else constraints.real
        )

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AffineTransform) or self._event_dim != other._event_dim:
            return False
        return _same(self.loc, other.loc) and _same(self.scale, other.scale)

    __hash__ = Transform.__hash__

    @property
    def sign(self) -> Any:
        if isinstance(self.scale, Number):
            return 1 if float(self.scale) > 0 else -1 if float(self.scale) < 0 else 0
        return self.scale.sign()

    def _operands(self, like: torch.Tensor) -> tuple[Any, Any]:
        """``loc`` and ``scale``; two numbers as kept 0-dim constants of ``like``'s dtype
        (utils._number_operand: the same numbers). A tensor parameter may widen the result,
        to which a constant would have been rounded first: then both stay as they are."""
        loc, scale = self.loc, self.scale
        if isinstance(loc, torch.Tensor) or isinstance(scale, torch.Tensor):
            return loc, scale
        return _number_operand(loc, like), _number_operand(scale, like)

    def _call(self, x):
        loc, scale = self._operands(x)
        if isinstance(self.loc, int | float) and x.is_floating_point():
            return torch.mul(x, scale).add_(loc)  # in place on a fresh product
        return loc + scale * x

    def _inverse(self, y):
        loc, scale = self._operands(y)
        params = [t for t in (self.loc, self.scale) if isinstance(t, torch.Tensor)]
        if y.is_floating_point() and _inplace_ok(y, *params):
            x = torch.sub(y, loc)
            if not isinstance(self.scale, torch.Tensor) or (
                scale.dtype == x.dtype and broadcast_shapes(x.shape, scale.shape) == x.shape
            ):  # no graph: divided in place
                return x.div_(scale)
            return x / scale
        return (y - loc) / scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale
        if isinstance(scale, Number):
            # one number, expanded (a view: no 1M-entry buffer to fill); on the CPU a kept
            # constant where the view cannot be written to (more than one entry share it)
            log_scale = math.log(abs(scale))
            if x.numel() > 1 and x.is_cpu:
                log_scale = _number_operand(log_scale, x)
            if not isinstance(log_scale, torch.Tensor):
                log_scale = x.new_full((), log_scale)
            log_scale = log_scale.expand(x.shape)
        else:
            log_scale = scale.abs().log()
        event_dim = self._event_dim
        shape = x.shape[: x.dim() - event_dim] if event_dim else x.shape
        if event_dim:
            log_scale = _sum_rightmost(log_scale, event_dim)
        return log_scale.expand(shape)

    def forward_shape(self, shape):
        return torch.broadcast_shapes(
            shape, getattr(self.loc, "shape", ()), getattr(self.scale, "shape", ())
        )

    def inverse_shape(self, shape):
        return torch.broadcast_shapes(
            shape, getattr(self.loc, "shape", ()), getattr(self.scale, "shape", ())
        )

    def __repr__(self) -> str:
        return (
            f"AffineTransform(loc={self.loc!r}, scale={self.scale!r}, event_dim={self._event_dim})"
        )


def _same(a: Any, b: Any) -> bool:
    """Equality of two numbers or tensors, as one boolean (tensors: every entry equal)."""
    if isinstance(a, Number) and isinstance(b, Number):
        return a == b
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return False
        return bool((a == b).all())
    return False


class TanhTransform(Transform):
    r"""``y = tanh(x)``, from the real line onto ``(-1, 1)``.

    The log-det is the stable ``log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))``,
    finite for every finite ``x``. The inverse clamps ``y`` to the largest values of its
    dtype inside ``(-1, 1)``, so ``atanh`` never meets ``+-1``: the pre-image of a sample
    that rounded to 1 in float32 is 9.0 instead of inf, and a squashed Gaussian's
    ``log_prob`` of its own samples stays finite. (With ``cache_size=1`` the exact pre-image
    is reused instead.)
    """

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TanhTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        bound = _below_one(y.dtype)
        clamped = y.clamp(-bound, bound)
        # no graph: atanh over the clamp's fresh buffer (one 1M temporary less)
        return clamped.atanh_() if _inplace_ok(y) else atanh(clamped)

    def log_abs_det_jacobian(self, x, y):
        # 2 log 2 + u - 2 softplus(u) with u = -2x: three tensor ops (with no graph, the
        # sum written over u's fresh buffer).
        u = x * _number_operand(-2.0, x)
        out = u if _inplace_ok(x) else None
        return torch.add(u, F.softplus(u), alpha=-2.0, out=out).add_(_number_operand(_TWO_LOG_2, x))


class SigmoidTransform(Transform):
    r"""``y = 1 / (1 + exp(-x))``, from the real line onto ``(0, 1)``.

    ``log |dy/dx| = -softplus(-x) - softplus(x)``. Outputs and inverse inputs are clamped
    to ``[tiny, 1 - eps/2]`` of their dtype, so neither end ever rounds to exactly 0 or 1.
    """

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigmoidTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return _clamp_probability(torch.sigmoid(x))

    def _inverse(self, y):
        y = _clamp_probability(y)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x) - F.softplus(x)


def _clamp_probability(p: torch.Tensor) -> torch.Tensor:
    finfo = torch.finfo(p.dtype)
    return p.clamp(finfo.tiny, 1.0 - finfo.eps / 2)


class AbsTransform(Transform):
    r"""``y = |x|``, from the real line onto ``[0, inf)``.

    Not injective, so it has no log-det and no ``sign``; as in torch, its "inverse" returns
    ``y`` itself (the non-negative pre-image), which makes ``t.inv(t(x))`` equal ``|x|``.
    """

    domain = constraints.real
    codomain = constraints.positive

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AbsTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


class PowerTransform(Transform):
    r"""``y = x ** exponent`` on ``(0, inf)``, for any nonzero (possibly negative) exponent.

    .. math:: \log |dy/dx| = \log |p| + (p - 1) \log x

    computed from ``log x`` (not from ``y / x``, which overflows once ``y`` does). The inverse
    is ``y ** (1 / p)``, with ``1 / p`` taken in the wider of the exponent's and ``y``'s
    dtypes, so a float64 round trip is exact to float64 even for ``exponent=3.``.

    Args:
        exponent: a number (stored, as torch does, as a tensor of the default dtype) or a
            tensor, broadcast against ``x``.
        cache_size: 0 or 1.
    """

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent: torch.Tensor, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        if isinstance(exponent, Number) and not isinstance(exponent, bool):
            exponent = torch.tensor(float(exponent), dtype=torch.get_default_dtype())
        elif not isinstance(exponent, torch.Tensor):
            raise TypeError(
                f"PowerTransform: exponent must be a number or a tensor, got "
                f"{type(exponent).__name__}"
            )
        self.exponent = exponent

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return PowerTransform(self.exponent, cache_size=cache_size)

    @property
    def sign(self) -> Any:
        """``sign(exponent)``: ``x ** p`` increases for ``p > 0`` and decreases for ``p < 0``."""
        return self.exponent.sign()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PowerTransform):
            return False
        a, b = self.exponent, other.exponent
        try:
            torch.broadcast_shapes(a.shape, b.shape)
        except RuntimeError:
            return False
        return bool(a.eq(b).all())

    __hash__ = Transform.__hash__

    def _exponent_like(self, t: torch.Tensor) -> torch.Tensor:
        """The exponent in the wider of its dtype and ``t``'s (a float32 ``3.`` -> float64)."""
        p = self.exponent
        if not p.is_floating_point() or not t.is_floating_point():
            return p
        dtype = torch.promote_types(p.dtype, t.dtype)
        return p if dtype == p.dtype else p.to(dtype)

    def _ladj_from_log_x(self, p: torch.Tensor, log_x: torch.Tensor) -> torch.Tensor:
        return p.abs().log() + (p - 1) * log_x

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(self._exponent_like(y).reciprocal())

    def log_abs_det_jacobian(self, x, y):
        return self._ladj_from_log_x(self._exponent_like(x), x.log())

    def _call_and_ladj(self, x):
        return x.pow(self.exponent), self.log_abs_det_jacobian(x, None)

    def _inverse_and_ladj(self, y):
        p = self._exponent_like(y)
        x = y.pow(p.reciprocal())
        return x, self._ladj_from_log_x(p, x.log())

    def forward_shape(self, shape):
        return torch.broadcast_shapes(shape, self.exponent.shape)

    def inverse_shape(self, shape):
        return torch.broadcast_shapes(shape, self.exponent.shape)

    def __repr__(self) -> str:
        return f"PowerTransform(exponent={self.exponent!r})"


class SoftplusTransform(Transform):
    r"""``y = softplus(x) = log(1 + e^x)``, from the real line onto ``(0, inf)``.

    Computed as ``max(x, 0) + log1p(e^{-|x|})``, exact for every ``x`` (torch switches to
    ``y = x`` above 20). With ``t = log1p(e^{-|x|})`` shared:

    .. math:: \log |dy/dx| = \log \sigma(x) = -\mathrm{softplus}(-x) = -(\max(-x, 0) + t)

    The inverse ``x = \log(e^y - 1) = y + \log(1 - e^{-y})`` neither overflows for large
    ``y`` nor loses ``y`` near 0 (``y = 1e-30`` gives ``-69.08`` in float32); its second
    term, which is also the log-det at ``x``, is computed to full relative precision
    (``log(-expm1(-y))`` below ``log 2``, ``log1p(-e^{-y})`` above).
    """

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SoftplusTransform)

    __hash__ = Transform.__hash__

    def _call(self, x):
        return x.clamp(min=0) + (-x.abs()).exp().log1p()

    def _inverse(self, y):
        return y + _log1m_exp_neg(y)

    def log_abs_det_jacobian(self, x, y):
        return -((-x).clamp(min=0) + (-x.abs()).exp().log1p())

    def _call_and_ladj(self, x):
        t = (-x.abs()).exp().log1p()
        return x.clamp(min=0) + t, -((-x).clamp(min=0) + t)

    def _inverse_and_ladj(self, y):
        # -softplus(-x) = x - softplus(x) = log(1 - e^{-y}): the term the inverse adds to y.
        log_term = _log1m_exp_neg(y)
        return y + log_term, log_term


def _log1m_exp_neg(y: torch.Tensor) -> torch.Tensor:
    """``log(1 - e^{-y})`` for ``y > 0``, to full relative precision: ``log(-expm1(-y))``
    below ``log 2`` (where ``1 - e^{-y}`` is small) and ``log1p(-e^{-y})`` above."""
    return torch.where(y > _LOG_2, (-(-y).exp()).log1p(), expm1(-y).neg().log())


_LOG_2 = math.log(2.0)


class CumulativeDistributionTransform(Transform):
    r"""``y = F(x)``, the cdf of a univariate ``distribution``, onto ``[0, 1]``.

    The inverse is the distribution's ``icdf`` and ``log |dy/dx| = log f(x)``, its
    ``log_prob``. The domain is the distribution's support. Used to build copulas: push a
    multivariate base through the cdf of each margin.

    Args:
        distribution: an aleatorch distribution with ``cdf``, ``icdf`` and ``log_prob``.
        cache_size: 0 or 1.

    Two such transforms are equal when their distributions are the same object, or of the
    same class with equal parameters and shapes (so a pickled copy equals its original).
    """

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution: Any, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self.distribution.support

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CumulativeDistributionTransform) and _same_distribution(
            self.distribution, other.distribution
        )

    __hash__ = Transform.__hash__

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def __repr__(self) -> str:
        return f"CumulativeDistributionTransform({self.distribution!r})"


def _same_distribution(p: Any, q: Any) -> bool:
    """Whether ``p`` and ``q`` are one law: the same object, or the same class with equal
    state (parameters, shapes; cached terms left out)."""
    if p is q:
        return True
    if type(p) is not type(q):
        return False
    state_p = p.__getstate__() if hasattr(p, "__getstate__") else vars(p)
    state_q = q.__getstate__() if hasattr(q, "__getstate__") else vars(q)
    if not isinstance(state_p, dict) or not isinstance(state_q, dict):
        return False
    if state_p.keys() != state_q.keys():
        return False
    return all(_same_value(state_p[k], state_q[k]) for k in state_p)


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return _same(a, b)
    if type(a) is not type(b):
        return False
    if hasattr(a, "log_prob") and hasattr(a, "__dict__"):  # a nested distribution
        return _same_distribution(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (an object without a usable ==)
        return False
