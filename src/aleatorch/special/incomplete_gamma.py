r"""The regularized incomplete gamma functions, their logarithms and their inverses.

.. math:: P(a, x) = \frac{1}{\Gamma(a)} \int_0^x t^{a-1} e^{-t} \, dt, \qquad
          Q(a, x) = 1 - P(a, x), \qquad a > 0, \; x \ge 0.

Every entry is reduced to its smaller-or-natural tail :math:`w` (:math:`P` or :math:`Q`), computed
to full relative accuracy in log space by one of four methods; the other tail is :math:`1 - w`
(or ``log1mexp`` in log space), so neither is formed by cancellation, and
``log_gammainc``/``log_gammaincc`` stay finite where the functions underflow
(``log P(1000, 1) = -5913.13``). All methods run on every entry with fixed trip counts and are
chosen with ``torch.where`` (no data-dependent control flow: the code runs under ``vmap``;
inputs of the unused methods are replaced by harmless values):

* Temme's uniform asymptotic expansion (Temme, "Special functions", 1996, §11.2.4; DLMF 8.12.8)
  for :math:`a \ge 10` and :math:`-0.6 \le \mu = x/a - 1 \le 1`, where the series and the
  continued fraction need :math:`O(\sqrt a)` terms and their prefactor loses digits (torch's
  ``igamma`` at :math:`a = 10^6`, :math:`x = 995000` is off in the 6th digit):

  .. math:: w = e^{-a\varphi} \Big(\tfrac12 \operatorname{erfcx}(\pm\eta\sqrt{a/2})
            \pm \frac{1}{\sqrt{2\pi a}} \sum_{k<14} c_k(\eta)\, a^{-k}\Big),

  :math:`\varphi = \mu - \log(1+\mu) = \eta^2/2`, :math:`\eta` of the sign of :math:`\mu`
  (``-`` for the lower tail :math:`P` when :math:`x < a`). The :math:`c_k` are Taylor polynomials
  in :math:`\eta` built at import in exact rational arithmetic from
  :math:`c_0 = 1/\mu - 1/\eta`, :math:`c_k = \eta^{-1} c_{k-1}' + (-1)^k g_k / \mu` (:math:`g_k`
  Stirling's coefficients of :math:`\Gamma`), with :math:`\mu(\eta)` from
  :math:`\mu\mu' = \eta(1 + \mu)`, and evaluated all at once as a matrix product. Measured
  truncation error (in 40-digit arithmetic) below :math:`3 \times 10^{-16}` over that region.
* the power series :math:`P = \frac{x^a e^{-x}}{\Gamma(a+1)} \sum_n \frac{x^n}{(a+1)\cdots(a+n)}`
  (50 terms) for :math:`x < \max(a + 1, 2.5)` outside Temme's region;
* there, for :math:`a < 1`, :math:`Q` directly (as :math:`1 - P` it would cancel as
  :math:`a \to 0`): :math:`Q = -\operatorname{expm1}(a\log x - \log\Gamma(1+a)) - \frac{x^a}
  {\Gamma(1+a)} \sum_{n \ge 1} \frac{a(-x)^n}{n!(a+n)}`, with :math:`\log\Gamma(1+a)` from its
  Taylor series (zeta values) for :math:`a \le 0.2`;
* Legendre's continued fraction :math:`Q = x^a e^{-x} / \Gamma(a) \cdot 1/(x+1-a-1(1-a)/(x+3-a-
  \cdots))` (50 terms, summed backward) elsewhere (:math:`a < 1`, :math:`x \approx 2.5` needs
  the most terms; it would need 100 at :math:`x \approx 1`, hence the switch at 2.5).

The prefactor :math:`x^a e^{-x} / \Gamma(a) = \sqrt{a/2\pi}\, e^{-a\varphi - \delta(a)}`
(:math:`\delta` the remainder of Stirling's series) has no ``lgamma`` difference to cancel, so
its relative error stays a few ulps of :math:`a\varphi` (< 1e-13 wherever it does not underflow).
Measured against 50-digit mpmath values (tests/test_special_incomplete_gamma.py) for
:math:`10^{-3} \le a \le 10^6` and both tails: relative error below 3e-13 for :math:`P`,
:math:`Q`, :math:`\log P`, :math:`\log Q`.

Gradients (a ``torch.autograd.Function``): in :math:`x` the density
:math:`x^{a-1} e^{-x} / \Gamma(a)` from the same prefactor; in :math:`a` (torch's ``igamma`` has
none, pytorch#80025) forward-mode differentiation (``torch.func.jvp``) of the same fixed-length
computation, re-run in the backward pass, so the derivative is about as accurate as the value
(measured: 2e-13 relative). The backward pass is itself differentiable in ``x`` only (no second
derivatives involving ``a``). Everything runs in float64 (in cache-sized chunks on CPU); other
dtypes are rounded back.

The inverses solve :math:`\log P(a, e^t) = \log p` (for :math:`p \le 1/2`) or
:math:`\log Q(a, e^t) = \log q` by Newton's method in :math:`t = \log x`: from the best (shortest
first step) of a Wilson–Hilferty guess and the small-:math:`x` (:math:`P \approx x^a/\Gamma(a+1)`)
and large-:math:`x` (:math:`Q \approx x^{a-1}e^{-x}/\Gamma(a)`) tail guesses, 5 steps. Both
functions are concave in :math:`t` (the log of a gamma variable has a log-concave density), so
the iterates approach the root from one side without overshooting once on it; roots below the
float range (:math:`a \to 0`) come from the small-:math:`x` form. Their gradients come from the
implicit function theorem.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from ..special.compile_safe import expm1
from .logspace import log1mexp
from .stirling import _STIRLERR_SERIES

__all__ = [
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "log_gammainc",
    "log_gammaincc",
]

_TEMME_MIN_A = 10.0
_TEMME_MU = (-0.6, 1.0)
_TEMME_ORDERS = 14  # c_0 .. c_13
_TEMME_DEGREE = 30  # Taylor terms of each c_k in eta
_SERIES_TERMS = 50
_FRACTION_TERMS = 50
_SERIES_MIN_X = 2.5  # the series (and for a < 1 the small-a form of Q) below max(a+1, 2.5)
_SMALL_A_TERMS = 30
_NEWTON_STEPS = 4
_CHUNK = 1 << 14  # elements per pass on CPU: keeps the temporaries in cache
_LOG_2PI = math.log(2 * math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_HALF = math.sqrt(0.5)

# Stirling: lgamma(a) = (a - 1/2) log a - a + log(2 pi)/2 + delta(a), delta(a) ~
# sum_k B_2k / (2k (2k-1) a^(2k-1)): the coefficients, in powers of 1/a^2 (a >= 10: < 1e-17).
_STIRLING = _STIRLERR_SERIES[:7]
_STIRLING_FROM = 10.0


def _horner(coefficients: list[float], t: torch.Tensor) -> torch.Tensor:
    """``sum_k coefficients[k] t^k`` (out of place: forward-mode differentiable)."""
    total = torch.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        total = total * t + c
    return total


def _stirling_remainder(a: torch.Tensor) -> torch.Tensor:
    """``delta(a) = lgamma(a) - (a - 1/2) log a + a - log(2 pi)/2``."""
    big = a.clamp(min=_STIRLING_FROM)
    series = _horner(_STIRLING, big.reciprocal().square()) / big
    small = a.clamp(max=_STIRLING_FROM)
    direct = torch.lgamma(small) - (small - 0.5) * torch.log(small) + small - 0.5 * _LOG_2PI
    return torch.where(a >= _STIRLING_FROM, series, direct)


# phi(mu) / mu^2 = 1/(2 + mu) - 2 s T(s^2) / (2 + mu)^2, s = mu / (2 + mu),
# T(v) = 1/3 + v/5 + v^2/7 + ... (from log1p(mu) = 2 atanh(s)); |s| <= 3/7 in Temme's region.
_ATANH_TAIL = [1.0 / (2 * k + 3) for k in range(26)]


def _bernoulli(n: int) -> list[Fraction]:
    b = [Fraction(1)] + [Fraction(0)] * n
    for m in range(1, n + 1):
        b[m] = -sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1)
    return b


def _temme_coefficients(orders: int, degree: int) -> list[list[float]]:
    """Taylor coefficients in eta of Temme's c_0 .. c_{orders-1}, exact until rounded."""
    size = degree + 2 * orders + 4
    # mu(eta) = sum m[n] eta^n from mu mu' = eta (1 + mu), m[1] = 1.
    m = [Fraction(0), Fraction(1)] + [Fraction(0)] * (size - 1)
    for n in range(2, size + 1):
        cross = sum((n - k + 1) * m[k] * m[n - k + 1] for k in range(2, n))
        m[n] = (m[n - 1] - cross) / (n + 1)
    # w = eta / mu, so 1/mu = w / eta.
    ratio = m[1:]
    w = [Fraction(1)] + [Fraction(0)] * (size - 1)
    for n in range(1, size):
        w[n] = -sum(ratio[k] * w[n - k] for k in range(1, n + 1))
    # Stirling: Gamma(z) ~ sqrt(2 pi / z) z^z e^-z sum_k g_k z^-k, the exp of
    # sum_j B_2j / (2j (2j-1) z^(2j-1)).
    bern = _bernoulli(2 * orders + 2)
    log_terms = [Fraction(0)] * (orders + 1)
    for j in range(1, orders + 2):
        if 2 * j - 1 <= orders:
            log_terms[2 * j - 1] = bern[2 * j] / (2 * j * (2 * j - 1))
    g = [Fraction(1)] + [Fraction(0)] * orders
    for n in range(1, orders + 1):
        g[n] = sum(k * log_terms[k] * g[n - k] for k in range(1, n + 1)) / n
    c = w[1:]  # c_0 = (w - 1) / eta
    out = [c]
    for k in range(1, orders):
        # eta c_k = c_{k-1}' + (-1)^k g_k w: its constant term vanishes.
        top = [(n + 1) * c[n + 1] + (-1) ** k * g[k] * w[n] for n in range(len(c) - 1)]
        assert top[0] == 0
        c = top[1:]
        out.append(c)
    return [[float(v) for v in coefficients[:degree]] for coefficients in out]


def _temme_matrix() -> torch.Tensor:
    """(degree, orders) float64 matrix of the c_k's Taylor coefficients, cut where a term
    stays below 1e-19 of the sum for |eta| <= 0.8 and a >= 10."""
    columns = _temme_coefficients(_TEMME_ORDERS, _TEMME_DEGREE)
    used = 1
    for k, column in enumerate(columns):
        for n, c in enumerate(column):
            if abs(c) * 0.8**n * _TEMME_MIN_A ** (-k) > 1e-19:
                used = max(used, n + 1)
    return torch.tensor([column[:used] for column in columns], dtype=torch.float64).T


_TEMME = _temme_matrix()


# --------------------------------------------------------------------------------------------
# The kernel: float64, differentiable by torch.func.jvp (no in-place ops on its inputs' path)
# --------------------------------------------------------------------------------------------


def _phi(x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``mu = x/a - 1`` and ``phi = mu - log(1 + mu) >= 0`` to full relative accuracy."""
    mu = (x - a) / a
    s = mu / (mu + 2.0)
    v = s * s
    series = mu * s - 2.0 * s * v * _horner(_ATANH_TAIL, v)
    direct = mu - torch.log(x / a)
    return mu, torch.where(s.abs() < 1 / 3, series, direct)


def _log_prefactor(a: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    r""":math:`\log(x^a e^{-x} / \Gamma(a)) = -a\varphi + \tfrac12\log(a/2\pi) - \delta(a)`."""
    return 0.5 * (torch.log(a) - _LOG_2PI) - _stirling_remainder(a) - a * phi


def _temme(a: torch.Tensor, mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log of the smaller tail and whether it is the lower one, in Temme's region."""
    s = mu / (mu + 2.0)
    ratio = (mu + 2.0).reciprocal()
    ratio = ratio - 2.0 * s * _horner(_ATANH_TAIL, s * s) * ratio * ratio  # phi / mu^2
    eta = mu * torch.sqrt(2.0 * ratio)
    phi = mu * mu * ratio
    # c_k(eta) for every k at once: the powers of eta times the coefficient matrix.
    matrix = _TEMME.to(device=mu.device)
    powers = torch.cumprod(eta.unsqueeze(-1).expand(*eta.shape, matrix.shape[0] - 1), dim=-1)
    powers = torch.cat([torch.ones_like(eta).unsqueeze(-1), powers], dim=-1)
    c = powers @ matrix
    inv_a = a.reciprocal()
    total = c[..., -1]
    for k in range(matrix.shape[1] - 2, -1, -1):
        total = total * inv_a + c[..., k]
    lower = mu < 0
    sign = torch.where(lower, -1.0, 1.0)
    z = sign * eta * torch.sqrt(0.5 * a)
    bracket = 0.5 * torch.special.erfcx(z) + sign * total * _INV_SQRT_2PI * torch.rsqrt(a)
    return torch.log(bracket) - a * phi, lower


def _series(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log of sum_n x^n / ((a+1)...(a+n))."""
    term = torch.ones_like(x)
    total = torch.ones_like(x)
    for n in range(1, _SERIES_TERMS + 1):
        term = term * x / (a + float(n))
        total = total + term
    return torch.log(total)


def _fraction(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log of 1 / (x+1-a - 1(1-a) / (x+3-a - 2(2-a) / ...)), summed backward."""
    base = x - a + 1.0
    t = base + 2.0 * _FRACTION_TERMS
    for n in range(_FRACTION_TERMS, 0, -1):
        t = (base + 2.0 * (n - 1)) + (float(n) * (a - float(n))) / t
    return -torch.log(t)


def _zeta(k: int) -> float:
    """Riemann's zeta at an integer k >= 2 (Euler-Maclaurin from n = 30; error < 1e-17)."""
    n = 30
    head = math.fsum(j ** (-k) for j in range(1, n))
    corrections = [1 / 12, -1 / 720, 1 / 30240, -1 / 1209600]
    tail = n ** (1 - k) / (k - 1) + 0.5 * n ** (-k)
    rising = k
    for j, c in enumerate(corrections):
        tail += c * rising * n ** (-k - 2 * j - 1)
        rising *= (k + 2 * j + 1) * (k + 2 * j + 2)
    return head + tail


# lgamma(1 + a) = -euler_gamma a + sum_k (-1)^k zeta(k) a^k / k, used for a <= 0.2.
_LGAMMA1P = [0.0, -0.5772156649015329] + [(-1) ** k * _zeta(k) / k for k in range(2, 26)]


def _lgamma1p(a: torch.Tensor) -> torch.Tensor:
    """``lgamma(1 + a)`` to full relative accuracy near ``a = 0`` (for ``0 < a < 1``)."""
    small = a.clamp(max=0.2)
    return torch.where(a <= 0.2, _horner(_LGAMMA1P, small), torch.lgamma(1.0 + a))


def _small_a_upper(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""log Q for a < 1, x < a + 1 (where Q = 1 - P would cancel for a -> 0):

    .. math:: Q = -\operatorname{expm1}(a \log x - \log\Gamma(1+a))
              - \frac{x^a}{\Gamma(1+a)} \sum_{n\ge1} \frac{a (-x)^n}{n! (a+n)}.
    """
    log_lead = a * torch.log(x) - _lgamma1p(a)
    term = torch.ones_like(x)
    total = torch.zeros_like(x)
    for n in range(1, _SMALL_A_TERMS + 1):
        term = term * (-x / float(n))
        total = total + term / (a + float(n))
    return torch.log(-expm1(log_lead) - torch.exp(log_lead) * a * total)


def _kernel(a: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(log P, log Q, log prefactor)`` for float64 ``a > 0``, ``0 < x < inf``."""
    mu, phi = _phi(x, a)
    log_pre = _log_prefactor(a, phi)
    temme = (a >= _TEMME_MIN_A) & (mu >= _TEMME_MU[0]) & (mu <= _TEMME_MU[1])
    series = ~temme & (x < torch.clamp(a + 1.0, min=_SERIES_MIN_X))
    fraction = ~temme & ~series
    small_a = series & (a < 1.0)
    mu_t = torch.where(temme, mu, torch.zeros_like(mu))
    a_t = torch.where(temme, a, torch.full_like(a, _TEMME_MIN_A))
    log_t, lower_t = _temme(a_t, mu_t)
    log_s = _series(a, torch.where(series, x, torch.zeros_like(x))) - torch.log(a)
    log_f = _fraction(a, torch.where(fraction, x, 2.0 * a + 2.0))
    one = torch.ones_like(a)
    log_q_small = _small_a_upper(torch.where(small_a, a, 0.5 * one), torch.where(small_a, x, one))
    lower = torch.where(temme, lower_t, series)
    log_w = torch.where(temme, log_t, torch.where(series, log_s + log_pre, log_f + log_pre))
    log_other = log1mexp(torch.clamp(log_w, max=-1e-300))
    log_p = torch.where(lower, log_w, log_other)
    # For a -> 0, P -> 1 here: log P = log1p(-Q) from the accurate Q.
    from_q = small_a & (log_q_small < -math.log(2.0))
    log_p = torch.where(from_q, log1mexp(torch.clamp(log_q_small, max=-1e-300)), log_p)
    log_q = torch.where(small_a, log_q_small, torch.where(lower, log_other, log_w))
    return log_p, log_q, log_pre


def _edges(a: torch.Tensor, x: torch.Tensor):
    """Safe inputs for the kernel and the masks of the entries it does not decide."""
    bad = (a <= 0) | (x < 0) | torch.isnan(a) | torch.isnan(x) | torch.isinf(a)
    zero = x == 0
    inf = torch.isinf(x) & ~bad
    inside = ~(bad | zero | inf)
    one = torch.ones_like(a)
    return torch.where(inside, a, one), torch.where(inside, x, one), bad, zero, inf


def _chunked_kernel(a: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``_kernel``'s log P, log Q, over cache-sized pieces of the flattened inputs on CPU."""
    if x.device.type != "cpu" or x.numel() <= _CHUNK:
        log_p, log_q, _ = _kernel(a, x)
        return log_p, log_q
    pieces = [
        _kernel(a_i, x_i)
        for a_i, x_i in zip(a.reshape(-1).split(_CHUNK), x.reshape(-1).split(_CHUNK))
    ]
    log_p = torch.cat([piece[0] for piece in pieces]).reshape(x.shape)
    log_q = torch.cat([piece[1] for piece in pieces]).reshape(x.shape)
    return log_p, log_q


def _log_tails(a: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a_s, x_s, bad, zero, inf = _edges(a, x)
    log_p, log_q = _chunked_kernel(a_s, x_s)
    nan = torch.full_like(log_p, math.nan)
    log_p = torch.where(zero, -math.inf, torch.where(inf, 0.0, log_p))
    log_q = torch.where(zero, 0.0, torch.where(inf, -math.inf, log_q))
    return torch.where(bad, nan, log_p), torch.where(bad, nan, log_q)


def _value(a: torch.Tensor, x: torch.Tensor, kind: int) -> torch.Tensor:
    """kind 0: P, 1: Q, 2: log P, 3: log Q."""
    log_p, log_q = _log_tails(a, x)
    if kind >= 2:
        return log_p if kind == 2 else log_q
    # The smaller tail is exp(log); the other 1 minus it (exact enough: it is >= 1/2; and
    # -expm1 would lose the derivative, which torch forms as 1 + expm1 = 0 for log < -37).
    # (torch.where, not minimum: at a tie minimum's derivative is the mean of both sides.)
    p_is_small = log_p <= log_q
    p, q = torch.exp(log_p), torch.exp(log_q)
    if kind == 0:
        out = torch.where(p_is_small, p, 1.0 - q)
    else:
        out = torch.where(p_is_small, 1.0 - p, q)
    return torch.where(torch.isnan(log_p), log_p, out)


def _log_density(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``log(x^(a-1) e^-x / Gamma(a))`` (the derivative of P in x), accurate for large a."""
    a_s, x_s, bad, zero, inf = _edges(a, x)
    _, phi = _phi(x_s, a_s)
    inner = _log_prefactor(a_s, phi) - torch.log(x_s)
    at_zero = torch.where(a < 1, math.inf, torch.where(a == 1, 0.0, -math.inf))
    out = torch.where(zero, at_zero, torch.where(inf, -math.inf, inner))
    return torch.where(bad, math.nan, out)


class _IncompleteGamma(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(a, x, kind):
        return _value(a, x, kind)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, x, kind = inputs
        ctx.kind = kind
        ctx.save_for_backward(a, x, output)

    @staticmethod
    def backward(ctx, grad):
        a, x, out = ctx.saved_tensors
        kind = ctx.kind
        grad_a = grad_x = None
        if ctx.needs_input_grad[1]:
            log_f = _log_density(a, x)
            if kind >= 2:  # d log P / dx = f / P
                log_f = log_f - out
            dx = torch.exp(log_f)
            grad_x = grad * (dx if kind in (0, 2) else -dx)
        if ctx.needs_input_grad[0]:
            # (Forward mode through the same computation; the primal is made dense: a dual
            # tensor cannot be built on a broadcast view.)
            primal = a.detach().clone(memory_format=torch.contiguous_format)
            with torch.no_grad():
                _, da = torch.func.jvp(
                    lambda a_: _value(a_, x.detach(), kind), (primal,), (torch.ones_like(primal),)
                )
            # At the edges (x = 0 or inf) the value is constant in a.
            da = torch.where(torch.isfinite(x) & (x > 0), da, torch.zeros_like(da))
            grad_a = grad * da
        return grad_a, grad_x, None


def _prepare(a, x) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    device = next((v.device for v in (a, x) if isinstance(v, torch.Tensor)), None)
    a, x = torch.as_tensor(a, device=device), torch.as_tensor(x, device=device)
    dtype = torch.promote_types(a.dtype, x.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    a, x = torch.broadcast_tensors(a.to(torch.float64), x.to(torch.float64))
    return a, x, dtype


def _apply(a, x, kind: int) -> torch.Tensor:
    a, x, dtype = _prepare(a, x)
    return _IncompleteGamma.apply(a, x, kind).to(dtype)


def gammainc(a, x) -> torch.Tensor:
    r"""The regularized lower incomplete gamma function :math:`P(a, x)`.

    Like ``torch.special.gammainc``, with a gradient in ``a`` too and full relative accuracy
    (also for :math:`a` up to :math:`10^6` near :math:`x = a`). ``nan`` for :math:`a \le 0` or
    :math:`x < 0`.

    Args:
        a: the shape :math:`a > 0`.
        x: the argument :math:`x \ge 0`, broadcastable with ``a``.
    """
    return _apply(a, x, 0)


def gammaincc(a, x) -> torch.Tensor:
    r"""The regularized upper incomplete gamma function :math:`Q(a, x) = 1 - P(a, x)`."""
    return _apply(a, x, 1)


def log_gammainc(a, x) -> torch.Tensor:
    r""":math:`\log P(a, x)`, finite wherever :math:`P > 0` even if it underflows."""
    return _apply(a, x, 2)


def log_gammaincc(a, x) -> torch.Tensor:
    r""":math:`\log Q(a, x)`, finite wherever :math:`Q > 0` even if it underflows."""
    return _apply(a, x, 3)


# --------------------------------------------------------------------------------------------
# Inverses
# --------------------------------------------------------------------------------------------


def _solve(a: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """x with P(a, x) = p (Q = q) for float64 ``a > 0``, ``0 < p < 1`` given in logs."""
    use_lower = log_p <= log_q
    lgamma_a = torch.lgamma(a)
    # Wilson-Hilferty: x ~ a (1 - 1/(9a) + z / (3 sqrt a))^3, z the normal quantile of p.
    z_small = torch.special.ndtri(torch.exp(torch.minimum(log_p, log_q)))
    z = torch.where(use_lower, z_small, -z_small)
    nine_a = 9.0 * a
    cube = 1.0 - 1.0 / nine_a + z * torch.rsqrt(nine_a)
    wh = a * cube.clamp(min=1e-3) ** 3
    # P <= x^a / Gamma(a + 1), and Q ~ x^(a-1) e^-x / Gamma(a) for large x.
    log_small_x = (log_p + torch.log(a) + lgamma_a) / a
    small_x = torch.exp(log_small_x)
    large = -log_q - lgamma_a
    large_x = large.clamp(min=1.0)
    for _ in range(3):
        large_x = (large + (a - 1.0) * torch.log(large_x)).clamp(min=1.0)

    def newton_step(t):
        lp, lq, log_pre = _kernel(a, torch.exp(t))
        lower_step = (log_p - lp) * torch.exp(lp - log_pre)
        upper_step = (lq - log_q) * torch.exp(lq - log_pre)
        step = torch.where(use_lower, lower_step, upper_step)
        return torch.nan_to_num(step, nan=math.inf).clamp(-50.0, 50.0)

    # Start from the guess whose Newton step is the shortest.
    t = step = None
    for guess in (wh, small_x, large_x):
        t_c = torch.log(guess.clamp(min=1e-300, max=1e300))
        step_c = newton_step(t_c)
        if t is None:
            t, step = t_c, step_c
        else:
            better = step_c.abs() < step.abs()
            t, step = torch.where(better, t_c, t), torch.where(better, step_c, step)
    for _ in range(_NEWTON_STEPS):
        t = t + step
        step = newton_step(t)
    t = t + step
    # Roots below the smallest normal float (a -> 0, p -> 0): x^a / Gamma(a + 1) = p is exact
    # to far more digits than survive the underflow.
    return torch.where(log_small_x < -700.0, small_x, torch.exp(t))


def _inverse(a, y, upper: bool) -> torch.Tensor:
    a, y, dtype = _prepare(a, y)
    with torch.no_grad():
        a_d, y_d = a.detach(), y.detach()
        inside = (a_d > 0) & (y_d > 0) & (y_d < 1) & torch.isfinite(a_d)
        a_s = torch.where(inside, a_d, torch.ones_like(a_d))
        y_s = torch.where(inside, y_d, torch.full_like(y_d, 0.5))
        log_y, log_other = torch.log(y_s), torch.log1p(-y_s)
        log_p, log_q = (log_other, log_y) if upper else (log_y, log_other)
        if a_s.device.type == "cpu" and a_s.numel() > _CHUNK:
            pieces = zip(*(t.reshape(-1).split(_CHUNK) for t in (a_s, log_p, log_q)))
            x = torch.cat([_solve(*piece) for piece in pieces]).reshape(a_s.shape)
        else:
            x = _solve(a_s, log_p, log_q)
        low_end, high_end = (y_d == 1, y_d == 0) if upper else (y_d == 0, y_d == 1)
        x = torch.where(low_end, 0.0, torch.where(high_end, math.inf, x))
        x = torch.where(inside | low_end | high_end, x, math.nan)
        x = torch.where((a_d > 0) & ~torch.isnan(a_d), x, math.nan)
    if torch.is_grad_enabled() and (a.requires_grad or y.requires_grad):
        # Implicit function theorem: dx = (dy -+ dP) / f(x), attached with a zero residual.
        density = torch.exp(_log_density(a_d, x))
        if upper:
            residual = gammaincc(a, x) - y
        else:
            residual = y - gammainc(a, x)
        x = x + (residual - residual.detach()) / density
    return x.to(dtype)


def gammaincinv(a, p) -> torch.Tensor:
    r"""The inverse of :math:`P(a, \cdot)`: the :math:`x \ge 0` with :math:`P(a, x) = p`.

    Differentiable in ``a`` and ``p`` (implicit function theorem). ``0`` at ``p = 0``,
    ``inf`` at ``p = 1``, ``nan`` outside :math:`[0, 1]`.
    """
    return _inverse(a, p, upper=False)


def gammainccinv(a, q) -> torch.Tensor:
    r"""The inverse of :math:`Q(a, \cdot)`: the :math:`x \ge 0` with :math:`Q(a, x) = q`."""
    return _inverse(a, q, upper=True)
