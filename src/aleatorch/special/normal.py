r"""Standard normal quantiles, also for probabilities given in log space.

* :func:`ndtri` is :math:`\Phi^{-1}(p)`: torch's kernel is accurate to an ulp in both tails
  (checked against mpmath at 50 digits in ``tests/test_special_normal_student.py``), so this
  is a thin wrapper that adds float16 / bfloat16 support (computed in float32).
* :func:`log_ndtr` is :math:`\log \Phi(x)`: torch's kernel below 3, and
  :math:`\log(1 - Q(x))` above, with :math:`Q` from ``erfcx`` and an exactly split
  :math:`e^{-x^2/2}` (torch's loses ~:math:`x^2` ulps there: 400 at x = 37).
* :func:`ndtri_exp` is :math:`\Phi^{-1}(e^y)`, the inverse of :func:`log_ndtr`: quantiles of
  probabilities too small for the dtype (``y`` down to ``-1e5`` and beyond) and of
  probabilities so close to 1 that ``exp(y)`` rounds to 1.

All functions are branch-free on tensor values and differentiable by autograd.
"""

from __future__ import annotations

import math

import torch

from ..special.compile_safe import expm1

__all__ = ["log_ndtr", "ndtri", "ndtri_exp"]

_LOG_2PI = math.log(2 * math.pi)
_HALF_LOG_2PI = 0.5 * _LOG_2PI
# Above this y the quantile is -ndtri(-expm1(y)) (1 - e^y is then computed exactly); below it
# ndtri(exp(y)), down to where exp(y) leaves the normal range of the dtype.
_NEAR_ONE = math.log(-math.expm1(-2.0))
_DEEP = {torch.float64: -700.0, torch.float32: -80.0}
_NEWTON_STEPS = 3


def _working(x) -> tuple[torch.Tensor, torch.dtype]:
    x = torch.as_tensor(x)
    dtype = x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()
    work = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    return x.to(work), dtype


def ndtri(p) -> torch.Tensor:
    r"""The standard normal quantile :math:`\Phi^{-1}(p)`, :math:`p \in [0, 1]`.

    .. math:: \Phi(x) = \frac{1}{\sqrt{2\pi}} \int_{-\infty}^x e^{-t^2/2} \, dt = p

    Full relative accuracy down to the smallest subnormal ``p``; for ``p`` near 1 the
    result is ``-ndtri(1 - p)`` (pass ``1 - p`` yourself when you have it more accurately).
    Differentiable (:math:`dx/dp = 1 / \varphi(x)`).

    Example:
        >>> ndtri(torch.tensor(0.975))
        tensor(1.9600)
    """
    p, dtype = _working(p)
    return torch.special.ndtri(p).to(dtype)


def exp_neg_half_square(h: torch.Tensor) -> torch.Tensor:
    """``exp(-h^2/2)`` for ``h >= 0`` without the rounding of ``h^2``, which would cost
    ``h^2`` ulps (~1400 at h = 37): with ``h = hi + lo``, ``hi`` on a grid of 1/64 (``hi^2``
    exact), ``h^2 = hi^2 + lo (h + hi)``. 0 from h = 40 on (it underflows every dtype)."""
    below = h < 40
    h = torch.where(below, h, 0.0)
    hi = torch.round(h * 64) / 64
    lo = h - hi
    value = torch.exp(-0.5 * hi * hi) * torch.exp(-0.5 * lo * (h + hi))
    return torch.where(below, value, 0.0)


def upper_normal_tail(h: torch.Tensor) -> torch.Tensor:
    """``Q(h) = 1 - Phi(h)`` for ``h >= 0`` as ``erfcx(h / sqrt 2) exp(-h^2/2) / 2``: the
    scaled function is insensitive to the rounding of its argument, unlike ``erfc``."""
    return 0.5 * torch.special.erfcx(h * math.sqrt(0.5)) * exp_neg_half_square(h)


def log_ndtr(x) -> torch.Tensor:
    r""":math:`\log \Phi(x)`, finite far into the lower tail (:math:`\approx -x^2/2`) and
    :math:`= \log(1 - Q(x))` with :math:`Q(x) = 1 - \Phi(x)` to full relative accuracy in
    the upper one (torch's kernel, used below 3, loses ~:math:`x^2` ulps there).
    Differentiable.

    Example:
        >>> log_ndtr(torch.tensor(-40.0))
        tensor(-804.6085)
    """
    x, dtype = _working(x)
    upper = x > 3
    tail = torch.log1p(-upper_normal_tail(torch.where(upper, x, 3.0)))
    return torch.where(upper, tail, torch.special.log_ndtr(x)).to(dtype)


def _log_density(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * x * x - _HALF_LOG_2PI


def _newton_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One Newton step on ``log_ndtr(x) = y``; the slope is ``phi(x) / Phi(x)``."""
    log_cdf = torch.special.log_ndtr(x)
    return x - (log_cdf - y) * torch.exp(log_cdf - _log_density(x))


def _deep_tail(y: torch.Tensor) -> torch.Tensor:
    """``Phi^-1(e^y)`` for ``y`` below the dtype's normal range of ``exp``.

    Start from the Mills-ratio asymptote ``log Phi(x) ~ -x^2/2 - log(-x) - log(2 pi)/2``
    solved by two fixed-point steps, polish with Newton steps taken without gradient, and
    end with one differentiable step: at convergence its value is unchanged and its
    derivative in ``y`` is ``Phi(x) / phi(x) = e^y / phi(x)``, the derivative of the
    quantile (implicit function theorem), with no custom autograd."""
    with torch.no_grad():
        s = -2 * y.detach() - _LOG_2PI
        x = -torch.sqrt(s)
        for _ in range(2):
            x = -torch.sqrt(s - 2 * torch.log(-x))
        for _ in range(_NEWTON_STEPS):
            x = _newton_step(x, y.detach())
    return _newton_step(x, y)


def ndtri_exp(y) -> torch.Tensor:
    r"""The normal quantile of a log-probability: :math:`\Phi^{-1}(e^y)` for :math:`y \le 0`.

    .. math:: \log \Phi(x) = y

    The inverse of :func:`log_ndtr`. Full precision where ``exp(y)`` underflows (``y`` down
    to ``-1e5`` and beyond: :math:`x \approx -\sqrt{-2y}`) and where ``exp(y)`` rounds to 1
    (:math:`x = -\Phi^{-1}(-\mathrm{expm1}(y))`). ``y = 0`` gives ``+inf``, ``y = -inf``
    gives ``-inf`` and ``y > 0`` NaN. Differentiable:
    :math:`dx/dy = e^y / \varphi(x)`.

    Example:
        >>> ndtri_exp(torch.tensor(-1e4, dtype=torch.float64))
        tensor(-141.3798, dtype=torch.float64)
    """
    y, dtype = _working(y)
    deep_from = _DEEP.get(y.dtype, _DEEP[torch.float32])
    near_one = y > _NEAR_ONE
    deep = y < deep_from
    # Safe where: each branch sees a harmless argument where it is not selected, so no
    # inf/NaN reaches the gradient through the unselected side.
    middle = torch.special.ndtri(torch.exp(torch.where(near_one | deep, -1.0, y)))
    top = -torch.special.ndtri(-expm1(torch.where(near_one, y, -1.0)))
    finite_deep = deep & (y > -math.inf)
    tail = _deep_tail(torch.where(finite_deep, y, deep_from))
    tail = torch.where(y == -math.inf, -math.inf, tail)
    x = torch.where(near_one, top, torch.where(deep, tail, middle))
    return torch.where(y > 0, math.nan, x).to(dtype)
