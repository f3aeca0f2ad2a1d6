r"""The inverse of the regularized incomplete beta function in :math:`x` (the Beta quantile).

:func:`betaincinv` solves :math:`I_x(a, b) = p` and :func:`betainccinv` solves
:math:`1 - I_x(a, b) = q`. The equation is first oriented so that the probability is at most
1/2: :math:`I_x(a, b) = p` for :math:`p \le 1/2`, else :math:`I_{1-x}(b, a) = 1 - p` (so that
:math:`\log p` is the well-conditioned target and :math:`1 - p` is never rounded). The unknown
is the log-odds :math:`s = \log x - \log(1 - x)`, which gives both :math:`x = \sigma(s)` and
:math:`1 - x = \sigma(-s)` to full relative accuracy, and the residual is
:math:`r(s) = \log I - \log p`, whose derivative is
:math:`r'(s) = x (1 - x) f(x) / I = \exp(\log K - \log I)` with :math:`K = x^a (1-x)^b / B(a, b)`
(the kernel :func:`aleatorch.special.incomplete_beta` already computes). In the tails
:math:`\log I` is nearly linear in :math:`s` (:math:`I \approx K / a`), so Newton's method
converges there from far away.

Initial guess (Numerical Recipes, 3rd ed., §6.14.1): for :math:`a, b \ge 1` a normal
approximation of the quantile mapped through :math:`x = a / (a + b e^{2w})`; otherwise the
power laws :math:`I \approx x^a / (a B(a, b))` near 0 and :math:`1 - I \approx (1-x)^b /
(b B(a, b))` near 1, whichever side the probability falls on. Then a fixed number of Newton
steps, safeguarded by a bracket: each residual's sign moves one end of :math:`[lo, hi]`, and a
step that would leave the bracket is replaced by its midpoint. No data-dependent control flow.

Gradients come from the implicit function theorem: :math:`\partial x / \partial p = 1 / f(x)`
and :math:`\partial x / \partial a = -\partial_a I_x(a, b) / f(x)` (likewise for :math:`b`),
which is the implicit reparameterization gradient of a Beta sample
(:func:`aleatorch._samplers.implicit.beta_implicit_gradients`, the same code).
"""

from __future__ import annotations

import math

import torch

from ..special.compile_safe import expm1
from ..utils import as_params
from .incomplete_beta import _evaluate_anywhere

__all__ = ["betainccinv", "betaincinv", "betaincinv_log_odds"]

# Newton steps per working precision (measured: the worst entry of a grid of a, b from 1e-3
# to 1e5 and p from 1e-300 to 1 - 1e-16 settles after 9 steps in float64; see the tests).
_STEPS = {torch.float64: 8, torch.float32: 6}
# |s| beyond which x or 1 - x is below the smallest subnormal of the result's dtype
_S_LIMIT = {torch.float64: 745.0, torch.float32: 110.0}


def _log_sigmoid(s: torch.Tensor) -> torch.Tensor:
    # exp of it keeps the subnormals that torch.sigmoid flushes to 0 (below s = -709)
    return torch.nn.functional.logsigmoid(s)


def _initial_log_odds(a, b, log_p, log_q):
    r"""A first guess of :math:`s = \log\frac{x}{1-x}` for :math:`I_x(a, b) = p \le 1/2`."""
    total = a + b
    # Normal approximation (a, b >= 1): a rational fit of the normal quantile at p.
    t = torch.sqrt(-2 * log_p)
    z = t - (2.30753 + 0.27061 * t) / (1 + t * (0.99229 + 0.04481 * t))
    lam = (z * z - 3) / 6
    h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1))
    w = z * torch.sqrt(lam + h) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (
        lam + 5 / 6 - 2 / (3 * h)
    )
    normal = torch.log(a) - torch.log(b) - 2 * w
    # Power laws at both ends, split where they would meet.
    log_t = a * torch.log(a / total) - torch.log(a)
    log_u = b * torch.log(b / total) - torch.log(b)
    log_sum = torch.logaddexp(log_t, log_u)
    log_x = (torch.log(a) + log_sum + log_p) / a
    log_y = (torch.log(b) + log_sum + log_q) / b
    # s = log x - log(1 - x) from whichever of x, 1 - x is known
    from_x = log_x - torch.log(-expm1(log_x.clamp(max=-1e-300)))
    from_y = torch.log(-expm1(log_y.clamp(max=-1e-300))) - log_y
    low_side = log_p < log_t - log_sum
    powers = torch.where(low_side, from_x, from_y)
    guess = torch.where((a >= 1) & (b >= 1), normal, powers)
    return guess.nan_to_num(0.0)


def _solve_log_odds(a, b, log_p, log_q, s, precision: torch.dtype):
    r"""The log-odds :math:`s` with :math:`I_{\sigma(s)}(a, b) = p`, from the guess ``s``.

    The residual is :math:`r = \log I - \log p` for :math:`p \le q` and
    :math:`r = \log q - \log(1 - I)` otherwise (the smaller probability is the
    well-conditioned target); both increase with :math:`s`, with
    :math:`r' = K / I` or :math:`K / (1 - I)`, :math:`K = x (1-x) f(x)`. A step solves the
    local model :math:`r(s + \Delta) \approx r + r' (e^{\kappa \Delta} - 1) / \kappa`,
    :math:`\kappa = r''/r' = \partial_s \log r'` (:math:`\partial_s \log K = a(1-x) - bx`):
    exact for the power laws of the ends (:math:`I \propto x^a`, :math:`\kappa \to 0`, a
    Newton step in :math:`s`) and for gamma-like tails (:math:`\log(1 - I) \approx -bx`,
    :math:`\kappa \approx 1`, a Newton step in :math:`x`). Where the model has no root it
    falls back on Newton's step, and on the bracket's midpoint if that leaves the bracket.
    """
    lower = log_p <= log_q
    log_target = torch.where(lower, log_p, log_q)
    sign = torch.where(lower, 1.0, -1.0)
    limit = _S_LIMIT[precision]
    s = s.clamp(-limit, limit)
    lo = torch.full_like(s, -limit)
    hi = torch.full_like(s, limit)
    for _ in range(_STEPS[precision]):
        log_x, log_y = _log_sigmoid(s), _log_sigmoid(-s)
        x, y = torch.exp(log_x), torch.exp(log_y)
        _, log_density, log_cdf, log_sf = _evaluate_anywhere(
            a, b, x, y, "log_cdf", True, True, precision
        )
        log_tail = torch.where(lower, log_cdf, log_sf)
        residual = sign * (log_tail - log_target)
        too_high = residual > 0
        hi = torch.where(too_high, s, hi)
        lo = torch.where(too_high, lo, s)
        slope = torch.exp(log_density + log_x + log_y - log_tail)
        kappa = a * y - b * x - sign * slope
        newton = -residual / slope
        u = -kappa * newton
        usable = u < 1
        u_ = torch.where(usable & (u != 0), u, 0.5)
        ratio = torch.where(u == 0, -1.0, torch.log1p(-u_) / u_)  # -> -1 as u -> 0
        step = torch.where(usable, -newton * ratio, newton)
        proposal = s + step
        inside = (proposal >= lo) & (proposal <= hi)
        s = torch.where(inside, proposal, 0.5 * (lo + hi))
    return s


def _inverse(a, b, p, q, precision: torch.dtype):
    """``(x, 1 - x)`` with ``I_x(a, b) = p`` (``q = 1 - p``), in float64."""
    invalid = ~((a > 0) & (b > 0) & (p >= 0) & (q >= 0))
    one = torch.ones_like(p)
    a = torch.where(invalid, one, a)
    b = torch.where(invalid, one, b)
    log_p = torch.log(torch.where(invalid, 0.5 * one, p))
    log_q = torch.log(torch.where(invalid, 0.5 * one, q))
    # the guess for the smaller of p, q (I_{1-x}(b, a) = q above the median)
    upper = p > q
    guess = _initial_log_odds(
        torch.where(upper, b, a),
        torch.where(upper, a, b),
        torch.where(upper, log_q, log_p).clamp(min=-1e300),
        torch.where(upper, log_p, log_q),
    )
    guess = torch.where(upper, -guess, guess)
    s = _solve_log_odds(a, b, log_p, log_q, guess, precision)
    # The median of a symmetric law is 1/2 exactly. (Where the density there is small -- 2e-3
    # for Beta(1e-3, 1e-3) -- the cdf is flat and Newton's root carries the kernel's rounding
    # times I / (x f) = 500: 0.5 + 4e-13.)
    s = torch.where((a == b) & (p == q), 0.0, s)
    x, y = torch.exp(_log_sigmoid(s)), torch.exp(_log_sigmoid(-s))
    # at the limit the root lies beyond it: x (or 1 - x) underflows to 0
    limit = _S_LIMIT[precision]
    zero, full = (p <= 0) | (s <= -limit), (q <= 0) | (s >= limit)
    x = torch.where(zero, 0.0, torch.where(full, 1.0, x))
    y = torch.where(zero, 1.0, torch.where(full, 0.0, y))
    s = torch.where(zero, -math.inf, torch.where(full, math.inf, s))
    x, y, s = (torch.where(invalid, math.nan, t) for t in (x, y, s))
    return x, y, s


class _InverseWithDerivatives(torch.autograd.Function):
    r"""Returns ``out`` (``x`` or its log-odds ``s``) unchanged; backward: the implicit
    function theorem at ``I_x(a, b) = p``, from the float64 ``x, 1 - x, a, b``.

    ``sign`` is +1 when the target is ``p = I`` and -1 when it is ``q = 1 - I``;
    ``log_odds``: the output is :math:`s = \log(x / (1 - x))`, :math:`ds = dx / (x (1 - x))`.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(out, a, b, target, x64, y64, a64, b64, sign, log_odds):
        return out.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        out, _, _, _, x64, y64, a64, b64, sign, log_odds = inputs
        ctx.sign, ctx.log_odds, ctx.dtype = sign, log_odds, out.dtype
        ctx.save_for_backward(x64, y64, a64, b64)

    @staticmethod
    def backward(ctx, grad):
        from .._samplers.implicit import beta_gradient_kernel

        x, y, a, b = ctx.saved_tensors
        grad_a = grad_b = grad_target = None
        with torch.no_grad():
            edge = (x <= 0) | (y <= 0) | x.isnan()
            half, ones = torch.full_like(x, 0.5), torch.ones_like(x)
            xs, ys = torch.where(edge, half, x), torch.where(edge, half, y)
            if ctx.needs_input_grad[3]:
                # dx/dp = 1 / f(x), ds/dp = 1 / (x y f(x)) = 1 / K
                _, log_density, _, _ = _evaluate_anywhere(
                    a, b, x, y, "cdf", True, False, torch.float64
                )
                if ctx.log_odds:
                    log_density = log_density + torch.log(xs) + torch.log(ys)
                d_target = ctx.sign * torch.exp(-log_density)
                grad_target = grad * torch.where(edge & ctx.log_odds, 0.0, d_target).to(ctx.dtype)
            if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
                # ds/da = h_a, dx/da = x y h_a (likewise for b)
                h_a, h_b = beta_gradient_kernel(
                    torch.where(edge, ones, a), torch.where(edge, ones, b), xs, ys
                )
                scale = torch.where(edge, 0.0, 1.0 if ctx.log_odds else x * y)
                grad_a = grad * (h_a * scale).to(ctx.dtype) if ctx.needs_input_grad[1] else None
                grad_b = grad * (h_b * scale).to(ctx.dtype) if ctx.needs_input_grad[2] else None
        return (None, grad_a, grad_b, grad_target) + (None,) * 6


def _inverse_public(name: str, a, b, target, lower: bool, log_odds: bool = False):
    a, b, target = as_params(a, b, target, owner=name)
    dtype = target.dtype
    precision = torch.float64 if dtype == torch.float64 else torch.float32
    with torch.no_grad():
        a64, b64, t64 = (v.detach().to(torch.float64) for v in (a, b, target))
        p, q = (t64, 1 - t64) if lower else (1 - t64, t64)
        x64, y64, s64 = _inverse(a64, b64, p, q, precision)
        out = (s64 if log_odds else x64).to(dtype, copy=True)  # a distinct input below
    grad = torch.is_grad_enabled() and any(v.requires_grad for v in (a, b, target))
    if not grad:
        return out
    sign = 1.0 if lower else -1.0
    return _InverseWithDerivatives.apply(out, a, b, target, x64, y64, a64, b64, sign, log_odds)


def betaincinv_log_odds(a, b, p, *, upper: bool = False) -> torch.Tensor:
    r"""The log-odds :math:`\log\frac{x}{1 - x}` of ``betaincinv(a, b, p)`` (of
    ``betainccinv(a, b, p)`` with ``upper``), exact where :math:`x` or :math:`1 - x` would
    round (F and logistic-beta quantiles need both); :math:`\mp\infty` at :math:`p = 0, 1`.
    Differentiable as :func:`betaincinv`."""
    name = "betainccinv" if upper else "betaincinv"
    return _inverse_public(name, a, b, p, lower=not upper, log_odds=True)


def betaincinv(a, b, p) -> torch.Tensor:
    r"""The inverse of :math:`I_x(a, b)` in :math:`x`: the :math:`p`-quantile of Beta(a, b).

    .. math:: I_x(a, b) = \frac{1}{B(a, b)} \int_0^x t^{a-1} (1-t)^{b-1} \, dt = p

    For :math:`a, b \in [10^{-3}, 10^5]` the relative error is ~1e-13 in float64 (where the
    quantile is above the subnormal range) and within a rounding in float32; :math:`p = 0`
    gives 0 and :math:`p = 1` gives 1. Broadcasts its arguments; out-of-domain entries
    (``a <= 0``, ``b <= 0``, ``p`` outside ``[0, 1]``) give NaN. For :math:`p` close to 1 use
    :func:`betainccinv` with :math:`q = 1 - p`, which keeps the digits that ``1 - q`` rounds.

    Differentiable in ``a``, ``b`` and ``p`` (implicit function theorem:
    :math:`\partial x / \partial p = 1 / f(x)`, :math:`\partial x / \partial a =
    -\partial_a I_x(a, b) / f(x)`).

    Example:
        >>> betaincinv(torch.tensor(2.0), torch.tensor(3.0), torch.tensor(0.6875))
        tensor(0.5000)
    """
    return _inverse_public("betaincinv", a, b, p, lower=True)


def betainccinv(a, b, q) -> torch.Tensor:
    r"""The inverse of :math:`1 - I_x(a, b)` in :math:`x`: the upper :math:`q`-quantile.

    Solves :math:`1 - I_x(a, b) = q` with :math:`1 - I` never formed by subtraction, so tiny
    :math:`q` (far upper tail) keep full relative accuracy. Same accuracy, domain and
    gradients as :func:`betaincinv` (:math:`\partial x / \partial q = -1 / f(x)`).

    Example:
        >>> betainccinv(torch.tensor(2.0), torch.tensor(3.0), torch.tensor(0.3125))
        tensor(0.5000)
    """
    return _inverse_public("betainccinv", a, b, q, lower=False)
