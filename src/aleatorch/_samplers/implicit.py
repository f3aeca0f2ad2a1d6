r"""Implicit reparameterization gradients of Beta and Dirichlet samples, exact per sample.

A sample :math:`x` of :math:`\mathrm{Beta}(a, b)` solves :math:`I_x(a, b) = u` for a uniform
:math:`u` held fixed, so by the implicit function theorem (Figurnov, Mohamed & Mnih 2018,
"Implicit reparameterization gradients")

.. math:: \frac{\partial x}{\partial a} = -\frac{\partial_a I_x(a, b)}{f(x; a, b)}, \qquad
          \frac{\partial x}{\partial b} = -\frac{\partial_b I_x(a, b)}{f(x; a, b)}.

The smaller tail :math:`w = I_u(p, q)` (:math:`(p, q, u, v) = (a, b, x, 1 - x)` below the switch
point :math:`x < (a + 1) / (a + b + 2)`, else :math:`(b, a, 1 - x, x)` and :math:`I = 1 - w`) is
:math:`w = K F` with :math:`K = u^p v^q / (p B(p, q))` and the continued fraction (Numerical
Recipes, 3rd ed., eq. 6.4.5)

.. math:: F = \cfrac{1}{1 + \cfrac{d_1}{1 + \cfrac{d_2}{1 + \cdots}}}, \quad
          d_{2m+1} = -\frac{(p+m)(p+q+m)\,u}{(p+2m)(p+2m+1)}, \quad
          d_{2m} = \frac{m(q-m)\,u}{(p+2m-1)(p+2m)}.

Since :math:`f = K p / (u v)`, the density cancels out of the quotient:

.. math:: -\frac{\partial_p w}{f} = -\frac{uv}{p} F \Big(\log u - \psi(p+1) + \psi(p+q)
          + \frac{\partial_p F}{F}\Big), \qquad
          -\frac{\partial_q w}{f} = -\frac{uv}{p} F \Big(\log v - \psi(q) + \psi(p+q)
          + \frac{\partial_q F}{F}\Big),

with no exponential to under- or overflow, and :math:`\partial F` from forward-mode
differentiation of the fraction's backward recurrence. Everything runs in float64.

A Dirichlet sample has marginals :math:`x_i \sim \mathrm{Beta}(\alpha_i, s - \alpha_i)`,
:math:`s = \sum_j \alpha_j`, and the rest, renormalized, is independent of :math:`x_i`. Hence
:math:`\partial x_i / \partial \alpha_i = D_i` (the Beta gradient in its first parameter) and
:math:`\partial x_j / \partial \alpha_i = -x_j D_i / (1 - x_i)` for :math:`j \ne i`: the
vector-Jacobian product is :math:`\bar\alpha_i = \frac{D_i}{1 - x_i}(g_i - \sum_j x_j g_j)`.
"""

from __future__ import annotations

import torch

from ..utils import broadcast_shapes

__all__ = [
    "beta_gradient_kernel",
    "beta_implicit_gradients",
    "beta_log_tail_gradients",
    "implicit_beta",
    "implicit_dirichlet",
]

# Bernoulli numbers B_2k / (2k) of the asymptotic series of the digamma function.
_DIGAMMA_SERIES = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12, -3617 / 8160]
# Recurrence steps before the series: Z >= 10 leaves its error below 1e-16 of the result, and
# Z >= 5 (for float32 results) below 1e-12.
_DIGAMMA_SHIFT = {torch.float64: 10, torch.float32: 5}


def _digamma_difference(z: torch.Tensor, h: torch.Tensor, shift: int = 10) -> torch.Tensor:
    r""":math:`\psi(z + h) - \psi(z)` for :math:`z > 0, z + h > 0`, without cancellation.

    Subtracting two digammas loses all digits when :math:`|h| \ll z` (e.g. :math:`\psi(10^4 +
    10^{-3}) - \psi(10^4) \approx 10^{-7}` out of values near 9), which is where a Beta with one
    tiny parameter needs it. Instead the recurrence :math:`\psi(z+1) = \psi(z) + 1/z` gives

    .. math:: \psi(z+h) - \psi(z) = \sum_{k<n} \frac{h}{(z+k)(z+h+k)} + \log(1 + h/Z)
              + \frac{h}{2 Z (Z + h)} + \sum_{j=1}^{8} \frac{B_{2j}}{2j}
              \big(Z^{-2j} - (Z + h)^{-2j}\big), \quad Z = z + n,

    from the asymptotic series :math:`\psi(Z) = \log Z - 1/(2Z) - \sum_j B_{2j}/(2j Z^{2j})`
    (truncation error below :math:`10^{-16}` of the result for :math:`n = 10`, the default,
    and :math:`10^{-12}` for :math:`n = 5`). Every term is
    proportional to :math:`h` and none cancels: :math:`(z+k)(z+h+k) = zz' + k(z+z') + k^2` with
    :math:`z' = z + h > 0` is a sum of positive terms, and the series is :math:`(V - W) P[V, W]`
    with :math:`V = Z^{-2}, W = (Z+h)^{-2}`, :math:`V - W = h (Z + Z') / (Z Z')^2` and the divided
    difference :math:`P[V, W]` of :math:`P(t) = \sum_j B_{2j} t^j / (2j)` by Horner's scheme.

    (Taking ``digamma(z + h) - digamma(z)`` where it does not cancel would not save time: two
    digammas cost more on CPU than this whole evaluation.)
    """
    n = float(shift)  # floats: Python ints would be converted at every use
    zh = z + h
    prod, width = z * zh, z + zh
    # (No fused addcmul_/addcdiv_ here: vmap has no batching rule for them.)
    total = prod.reciprocal()
    for k in range(1, shift):
        total.add_(torch.add(prod, width, alpha=float(k)).add_(float(k * k)).reciprocal_())
    inv = torch.add(prod, width, alpha=n).add_(n * n).reciprocal_()  # 1 / (Z Z')
    total.add_(inv, alpha=0.5).mul_(h)
    big = z + n
    total.add_(torch.log1p(h / big))
    v, w = big.reciprocal_().square_(), (zh + n).reciprocal_().square_()
    coefficients = _DIGAMMA_SERIES
    # Horner for P(W) (``high``) and for the divided difference (``diff``), highest term first.
    diff = torch.full_like(v, coefficients[-1])
    high = w * coefficients[-1] + coefficients[-2]
    for c in reversed(coefficients[:-2]):
        diff = torch.addcmul(high, v, diff)
        high.mul_(w).add_(c)
    diff = torch.addcmul(high, v, diff)
    # (V - W) = h (Z + Z') / (Z Z')^2
    total.add_(width.add_(2.0 * n).mul_(h).mul_(inv).mul_(inv).mul_(diff))
    return total


_CHUNK = 1 << 16  # elements per pass on CPU (1 << 15 and 1 << 17 are slower)
_CHECK_EVERY = 2  # pairs of terms between convergence checks (each costs a sync)
_COMPACT_FRACTION = 8  # drop converged entries once they are 1/8 of those left
_MAX_PAIRS = 4000  # far beyond need: ~1.2 sqrt(min(p, q)) + 60 pairs reach 1e-13
_TRACED_PAIRS = {torch.float64: 180, torch.float32: 128}  # parameters <= 1e4, no checks
# float32 results need 1e-7: 1e-9 leaves them at their rounding (measured against 1e-15).
_TOLERANCE = {torch.float64: 1e-15, torch.float32: 1e-9}


class _Lentz:
    r"""Modified Lentz evaluation of :math:`g = 1 + d_1/(1 + d_2/(1 + \cdots)) = 1/F` with the
    forward-mode derivatives of its ratios :math:`C_k = 1 + d_k / C_{k-1}`, :math:`D_k = 1 / (1
    + d_k D_{k-1})` in :math:`t \in \{p, q\}`, carried as logarithmic derivatives: with
    :math:`\lambda_k = \partial_t d_k / d_k`,

    .. math:: \frac{\partial_t C_k}{C_k} = \Big(1 - \frac{1}{C_k}\Big)
              \Big(\lambda_k - \frac{\partial_t C_{k-1}}{C_{k-1}}\Big), \qquad
              -\frac{\partial_t D_k}{D_k} = (1 - D_k)
              \Big(\lambda_k + \frac{\partial_t D_{k-1}}{D_{k-1}}\Big),

    where :math:`1 - 1/C_k = (d_k / C_{k-1}) / C_k` and :math:`1 - D_k = d_k D_{k-1} D_k` are
    formed without cancellation. The brackets :math:`L = \mathrm{base} - \partial \log g`
    accumulate the increments :math:`\partial \log (C_k D_k)`. :math:`\lambda_k` of the even
    terms in :math:`q` is :math:`1/(q - m)`, infinite for an integer :math:`q`: those take
    :math:`\partial_q d_k` itself (:math:`(1 - 1/C_k)\lambda_k = \partial_q d_k / (C_{k-1} C_k)`).
    """

    def __init__(self, p, q, u, base_p, base_q):
        self.p, self.q, self.u = p, q, u
        self.pq, self.neg_u = p + q, -u
        self.c, self.d = torch.ones_like(u), torch.zeros_like(u)
        zero = torch.zeros_like(u)
        self.gam_p, self.gam_q, self.eps_p, self.eps_q = zero, zero, zero, zero
        self.g = torch.ones_like(u)
        self.bracket_p, self.bracket_q = base_p.clone(), base_q.clone()
        self.r0 = None  # 1 / (p + 2m)
        self.m = 0.0  # a float: a Python int would be converted at every use

    def _term(self, a, lam_p, lam_q, a_q=None, check=False):
        # Updates all but lam_q, which it takes over (consumes) like a and a_q.
        c_prev, d_prev = self.c, self.d
        ratio = a / c_prev
        self.c = ratio + 1.0
        r = ratio.div_(self.c)  # 1 - 1/C_k
        t = a.mul_(d_prev)
        self.d = (t + 1.0).reciprocal_()
        s = t.mul_(self.d)  # 1 - D_k
        self.gam_p = torch.sub(lam_p, self.gam_p).mul_(r)
        self.eps_p = lam_p.sub_(self.eps_p).mul_(s)
        if a_q is None:
            self.gam_q = torch.sub(lam_q, self.gam_q).mul_(r)
            self.eps_q = lam_q.sub_(self.eps_q).mul_(s)
        else:
            self.gam_q = torch.div(a_q, c_prev).div_(self.c).sub_(r.mul_(self.gam_q))
            self.eps_q = a_q.mul_(d_prev).mul_(self.d).sub_(s.mul_(self.eps_q))
        if not check:
            self.bracket_p.sub_(self.gam_p).add_(self.eps_p)
            self.bracket_q.sub_(self.gam_q).add_(self.eps_q)
            self.g.mul_(self.c).mul_(self.d)
            return None
        inc_p, inc_q = self.gam_p - self.eps_p, self.gam_q - self.eps_q
        self.bracket_p.sub_(inc_p)
        self.bracket_q.sub_(inc_q)
        step = self.c * self.d
        self.g.mul_(step)
        return step, inc_p, inc_q

    def pair(self, check=False):
        r"""Add the terms :math:`d_{2m+1}, d_{2m+2}`; with ``check``, return :math:`C D` and
        the bracket increments of the second."""
        p, m = self.p, self.m
        self.m += 1.0
        p_q_m = torch.add(self.pq, m)
        r_s = torch.reciprocal(p_q_m)  # 1 / (p + q + m)
        r_1 = torch.add(p, 2.0 * m + 1.0).reciprocal_()  # 1 / (p + 2m + 1)
        # d_{2m+1} = -(p+m)(p+q+m) u / ((p+2m)(p+2m+1))
        if m == 0.0:  # the factors p cancel
            a = p_q_m.mul_(r_1).mul_(self.neg_u)
            lam_p = r_s - r_1
        else:
            p_m = p + m
            lam_p = torch.reciprocal(p_m).add_(r_s).sub_(self.r0).sub_(r_1)
            a = p_m.mul_(p_q_m).mul_(self.r0).mul_(r_1).mul_(self.neg_u)
        self._term(a, lam_p, r_s)
        # d_{2m+2} = (m+1)(q-m-1) u / ((p+2m+1)(p+2m+2))
        self.r0 = r_2 = torch.add(p, 2.0 * m + 2.0).reciprocal_()
        a_q = torch.mul(r_1, r_2).mul_(self.u).mul_(m + 1.0)
        a = torch.sub(self.q, m + 1.0).mul_(a_q)
        lam_p = r_1.add_(r_2).neg_()
        return self._term(a, lam_p, None, a_q, check)

    def keep(self, index):
        """Drop the converged entries: keep only ``index``."""
        for name in _STATE:
            setattr(self, name, getattr(self, name).index_select(0, index))


_STATE = ("p", "q", "u", "pq", "neg_u", "r0", "c", "d", "g", "gam_p", "gam_q", "eps_p", "eps_q")
_STATE += ("bracket_p", "bracket_q")


def _has_values(t: torch.Tensor) -> bool:
    """Whether Python can branch on ``t``'s values (not under vmap or a compiler's tracing)."""
    if torch.compiler.is_compiling():
        return False
    try:
        return bool(t.new_ones(()).bool())
    except RuntimeError:
        return False


def _fraction_fixed(p, q, u, base_p, base_q, pairs: int):
    # No data-dependent control flow: a fixed depth for the documented parameter range.
    lentz = _Lentz(p, q, u, base_p, base_q)
    for _ in range(pairs + 1):
        lentz.pair()
    return lentz.g, lentz.bracket_p, lentz.bracket_q


def _fraction_adaptive(p, q, u, base_p, base_q, tolerance: float):
    # Flat inputs; each entry leaves the active set once the fraction and both derivatives
    # have converged, so the slowest entries do not set the work for all. Removing entries
    # costs about as much as a few terms: it waits until enough have converged, and those
    # that have meanwhile go on (more terms keep them converged).
    lentz = _Lentz(p, q, u, base_p, base_q)
    out = None
    index = torch.arange(u.numel(), device=u.device)
    converged = None
    for pair in range(_MAX_PAIRS):
        last = pair == _MAX_PAIRS - 1
        if pair % _CHECK_EVERY != _CHECK_EVERY - 1 and not last:
            lentz.pair()
            continue
        step, inc_p, inc_q = lentz.pair(check=True)
        done = (
            ((step - 1.0).abs_() <= tolerance)
            & (inc_p.abs_() <= lentz.bracket_p.abs() * tolerance)
            & (inc_q.abs_() <= lentz.bracket_q.abs() * tolerance)
        )
        if converged is not None:
            done |= converged
        count = int(done.sum())
        if last or count == done.numel():
            if out is None:
                return lentz.g, lentz.bracket_p, lentz.bracket_q
            for column, value in zip(out, (lentz.g, lentz.bracket_p, lentz.bracket_q)):
                column.index_copy_(0, index, value)
            return out
        if count * _COMPACT_FRACTION < done.numel():
            converged = done
            continue
        converged = None
        # Store every active entry (those not finished are overwritten later), then keep
        # the unfinished: one nonzero, no indexing of the finished.
        if out is None:
            out = (lentz.g, lentz.bracket_p, lentz.bracket_q)  # keep() replaces, not mutates
        else:
            for column, value in zip(out, (lentz.g, lentz.bracket_p, lentz.bracket_q)):
                column.index_copy_(0, index, value)
        active = (~done).nonzero().squeeze(-1)
        index = index.index_select(0, active)
        lentz.keep(active)
    return out


def _chunked(fn, tensors, shape: torch.Size, eager: bool):
    """``fn`` over the tensors broadcast to ``shape``: on CPU with readable values, in flat
    chunks of ``_CHUNK`` entries, so that its temporaries stay in cache."""
    tensors = [t.expand(shape) for t in tensors]
    if not eager or tensors[0].device.type != "cpu" or shape.numel() <= _CHUNK:
        return fn(*tensors)
    flat = [t.reshape(-1) for t in tensors]
    parts = [fn(*(t[i : i + _CHUNK] for t in flat)) for i in range(0, shape.numel(), _CHUNK)]
    return tuple(torch.cat(column).reshape(shape) for column in zip(*parts))


def _base_differences(a, b, shift: int = 10):
    r""":math:`\psi(a+b) - \psi(a+1)`, :math:`\psi(a+b) - \psi(b)` (the lower tail's) and the same
    with :math:`a, b` swapped (the upper tail's): each proportional to its small argument."""
    return (
        _digamma_difference(a + 1.0, b - 1.0, shift),
        _digamma_difference(b, a, shift),
        _digamma_difference(b + 1.0, a - 1.0, shift),
        _digamma_difference(a, b, shift),
    )


def _tail_gradients(
    a, b, x, y, *differences, eager: bool, dtype: torch.dtype, scaled: bool, log_tail: bool
):
    # h_a, h_b of _scaled_gradients at one chunk (times xy in ``dtype`` if ``scaled``), or
    # with ``log_tail`` those of beta_log_tail_gradients; ``y`` None for 1 - x;
    # ``differences``: those of _base_differences at these entries, or none to compute the
    # two that the selected tail needs.
    a, b, x = (t.to(torch.float64) for t in (a, b, x))
    y = 1.0 - x if y is None else y.to(torch.float64)
    lower = x * (a + b + 2.0) < a + 1.0
    p, q = torch.where(lower, a, b), torch.where(lower, b, a)
    u, v = torch.where(lower, x, y), torch.where(lower, y, x)
    if differences:
        lower_p, lower_q, upper_p, upper_q = differences
        base_p = torch.where(lower, lower_p, upper_p)
        base_q = torch.where(lower, lower_q, upper_q)
    else:  # psi(p + q) - psi(p + 1) and psi(p + q) - psi(q)
        shift = _DIGAMMA_SHIFT.get(dtype, 10)
        base_p = _digamma_difference(p + 1.0, q - 1.0, shift)
        base_q = _digamma_difference(q, p, shift)
    # log v from u where u is the smaller: v = 1 - u may have been rounded (x = 1e-6 and
    # y = 1 - x leave log y wrong by 1e-16, which is 1e-10 of it).
    base_p = base_p + torch.where(v < 0.5, torch.log1p(-v), torch.log(u))
    base_q = base_q + torch.where(u < 0.5, torch.log1p(-u), torch.log(v))
    if eager:
        shape = u.shape
        flat = (t.reshape(-1) for t in (p, q, u, base_p, base_q))
        g, bracket_p, bracket_q = _fraction_adaptive(*flat, _TOLERANCE[dtype])
        g, bracket_p, bracket_q = (t.reshape(shape) for t in (g, bracket_p, bracket_q))
    else:
        g, bracket_p, bracket_q = _fraction_fixed(p, q, u, base_p, base_q, _TRACED_PAIRS[dtype])
    if log_tail:  # the brackets are d log w / dp and d log w / dq
        swap = ~lower
        return (
            lower,
            torch.where(swap, bracket_q, bracket_p),
            torch.where(swap, bracket_p, bracket_q),
        )
    # -(uv/p) F bracket, divided by uv = xy; the upper tail w = 1 - I flips the sign.
    scale = (p * g).reciprocal_().neg_()
    if scaled:
        scale.mul_(u).mul_(v)
    h_p, h_q = bracket_p * scale, bracket_q * scale
    h_a, h_b = torch.where(lower, h_p, h_q.neg()), torch.where(lower, h_q, h_p.neg())
    return (h_a.to(dtype), h_b.to(dtype)) if scaled else (h_a, h_b)


def _scaled_gradients(a, b, x, y, dtype: torch.dtype, scaled: bool = False, log_tail: bool = False):
    r""":math:`h_a, h_b` with :math:`\partial x/\partial a = x y h_a`, :math:`\partial x/\partial
    b = x y h_b` (float64 tensors), or with ``scaled`` these gradients themselves in ``dtype``;
    ``y`` is :math:`1 - x` (None: computed), passed in so that it keeps its digits near 1.
    ``a`` and ``b`` may have fewer entries than ``x`` (broadcasting): the digamma differences,
    the costliest part after the fraction, are then taken at their shape (all four, both
    tails'), else per entry after the choice of the tail (two).
    """
    eager = _has_values(x)
    shapes = [t.shape for t in (a, b, x) + (() if y is None else (y,))]
    shape = broadcast_shapes(*shapes)
    params = broadcast_shapes(a.shape, b.shape)
    differences = ()
    if 2 * params.numel() < shape.numel():
        a64, b64 = a.to(torch.float64), b.to(torch.float64)
        shift = _DIGAMMA_SHIFT.get(dtype, 10)
        differences = _chunked(
            lambda a, b: _base_differences(a, b, shift), (a64, b64), params, eager
        )

    def gradients(a, b, x, *rest):
        if y is None:
            rest = (None, *rest)
        return _tail_gradients(
            a, b, x, *rest, eager=eager, dtype=dtype, scaled=scaled, log_tail=log_tail
        )

    tensors = (a, b, x) + (() if y is None else (y,))
    return _chunked(gradients, tensors + differences, shape, eager)


def beta_implicit_gradients(
    a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The implicit gradients :math:`\partial x/\partial a, \partial x/\partial b` of Beta.

    .. math:: \frac{\partial x}{\partial a} = -\frac{\partial_a I_x(a, b)}{f(x; a, b)}

    Args:
        a: the first concentration, broadcastable to ``x``'s shape.
        b: the second concentration, broadcastable to ``x``'s shape.
        x: the sample, in the open interval :math:`(0, 1)`.
        y: :math:`1 - x`, when known more accurately than by subtraction (defaults to it).

    Returns:
        Both gradients in the dtype of ``x``, of ``x``'s shape; relative error below 1e-10 in
        float64 for parameters from 1e-3 to 1e4 (against mpmath).
    """
    return _scaled_gradients(a, b, x, y, x.dtype, scaled=True)


@torch.library.custom_op("aleatorch::beta_gradient_kernel", mutates_args=())
def _gradient_kernel_op(
    a: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    float32: bool,
    log_tail: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dtype = torch.float32 if float32 else torch.float64
    out = _scaled_gradients(a, b, x, y, dtype, log_tail=log_tail)
    if log_tail:
        return out[0].to(x.dtype), out[1], out[2]
    return x.new_empty(0), out[0], out[1]


@_gradient_kernel_op.register_fake
def _(a, b, x, y, float32, log_tail):
    shape = broadcast_shapes(a.shape, b.shape, x.shape, y.shape)
    return x.new_empty(shape if log_tail else (0,)), x.new_empty(shape), x.new_empty(shape)


def _gradient_kernel(a, b, x, y, dtype: torch.dtype, log_tail: bool):
    """_scaled_gradients (float64 ``h_a, h_b``, or with ``log_tail`` those of
    beta_log_tail_gradients); under ``torch.compile`` one opaque operator, so that inductor
    does not build a kernel of the whole fraction (it runs with its adaptive depth, as eager)."""
    if not torch.compiler.is_compiling():
        return _scaled_gradients(a, b, x, y, dtype, log_tail=log_tail)
    float32 = dtype == torch.float32
    first, d_a, d_b = _gradient_kernel_op(a, b, x, y, float32, log_tail)
    return (first > 0, d_a, d_b) if log_tail else (d_a, d_b)


def beta_log_tail_gradients(
    a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The parameter derivatives of the log of the tail of :math:`I_x(a, b)` the fraction sums.

    Returns ``(lower, d log w / da, d log w / db)`` (float64, of the broadcast shape), where
    ``lower`` tells which tail :math:`w` is: :math:`I_x(a, b)` where true, :math:`1 - I_x(a,
    b)` elsewhere (the switch point :math:`x (a + b + 2) < a + 1`). These are the brackets
    above, :math:`\partial_p \log w = \log u - \psi(p + 1) + \psi(p + q) + \partial_p F / F`,
    which the implicit gradients divide by the density: the same evaluation serves the
    derivatives of the incomplete beta function itself (:mod:`aleatorch.special.incomplete_beta`).
    ``x`` must lie in the open interval :math:`(0, 1)`; ``dtype`` sets the truncation
    (float32's stops earlier).
    """
    y = 1.0 - x if y is None else y
    return _gradient_kernel(a, b, x, y, dtype, log_tail=True)


def beta_gradient_kernel(a, b, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Float64 :math:`h_a, h_b` with :math:`\partial x / \partial a = x (1 - x) h_a` (likewise
    for :math:`b`): the derivatives of the log-odds of :math:`x` at fixed :math:`I_x(a, b)`
    (float64 arguments, ``y = 1 - x``; traceable under ``torch.compile``)."""
    return _gradient_kernel(a, b, x, y, torch.float64, log_tail=False)


class _ImplicitBeta(torch.autograd.Function):
    """Identity on the sample ``x``; backward gives the implicit gradients in ``a`` and ``b``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(a, b, x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, _ = inputs
        ctx.save_for_backward(a, b, output)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        a, b, x = ctx.saved_tensors
        dx_da, dx_db = beta_implicit_gradients(a, b, x)
        # Parameters broadcast over the samples: sum each gradient back to its shape.
        grad_a = (grad * dx_da).sum_to_size(a.shape) if ctx.needs_input_grad[0] else None
        grad_b = (grad * dx_db).sum_to_size(b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None


def _exclusive_sum(t: torch.Tensor) -> torch.Tensor:
    # sum_{j != i} t_j from a prefix and a suffix sum: no cancellation when t_i dominates.
    zero = torch.zeros_like(t[..., :1])
    before = torch.cat([zero, t[..., :-1].cumsum(-1)], -1)
    after = torch.cat([t[..., 1:].flip(-1).cumsum(-1).flip(-1), zero], -1)
    return before + after


class _ImplicitDirichlet(torch.autograd.Function):
    """Identity on the sample ``x``; backward gives the implicit gradient in ``alpha``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(alpha, x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        if x.shape[-1] == 1:  # x = 1 whatever alpha
            return torch.zeros_like(alpha), None
        alpha64, x64, g = (t.to(torch.float64) for t in (alpha, x, grad))
        # Both complements as sums of the other entries: 1 - x_i and s - alpha_i keep their
        # digits when one entry dominates (x_i rounds to 1, alpha_i = 1e4 next to 1e-3).
        y = _exclusive_sum(x64)
        h, _ = _scaled_gradients(alpha64, _exclusive_sum(alpha64), x64, y, x.dtype)
        # D_i / (1 - x_i) = x_i h_i, times g_i - sum_j x_j g_j written as a sum over j != i.
        centered = g * y - _exclusive_sum(x64 * g)
        return (x64 * h * centered).sum_to_size(alpha.shape).to(alpha.dtype), None


def _wants_grad(*params: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(p.requires_grad for p in params)


def implicit_beta(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Attach the implicit gradients in ``a`` and ``b`` to a Beta sample ``x``.

    ``x`` must carry no gradient of its own (draw it under ``torch.no_grad()``); ``a`` and
    ``b`` broadcast to its shape, and their gradients are summed back to their own shapes.
    """
    return _ImplicitBeta.apply(a, b, x) if _wants_grad(a, b) else x


def implicit_dirichlet(alpha: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Attach the implicit gradient in ``alpha`` (broadcast to ``x``) to a Dirichlet sample."""
    return _ImplicitDirichlet.apply(alpha, x) if _wants_grad(alpha) else x
