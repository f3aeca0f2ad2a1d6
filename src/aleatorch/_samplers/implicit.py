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
differentiation of the recurrences of the fraction's numerator and denominator. Everything runs
in float64 (a float32 fraction was measured up to 3e4 float32 ulps off where the brackets
cancel).

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


def _log1p(t: torch.Tensor) -> torch.Tensor:
    r"""``log1p(t)`` for :math:`t > -1`: :math:`\log u` with :math:`u = 1 + t` rounded, less
    its rounding error :math:`e = (u - 1) - t` (computed exactly) over :math:`u`. Within 1
    eps relative (as ``torch.log1p``, against mpmath) and, in float64 on CPU, half its cost:
    torch's float64 log1p is not vectorized (~6.5 ns an entry here, log ~0.9)."""
    u = t + 1.0
    return torch.log(u).sub_((u - 1.0).sub_(t).div_(u))


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
    total.add_(_log1p(h / big))
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


# Entries per pass on CPU, and so per block the fraction takes alone: the setup's float64
# temporaries (digamma differences, logs) then stay in a 2 MB L2 (setup ~15% and Beta's kernel
# ~5% faster than with 1 << 16; 1 << 14 is slower: dispatch). The first-derivative kernel
# splits each pass by tail into two blocks, so it takes 2 * _CHUNK a pass (blocks of ~16K
# entries cost it ~5%); merged blocks hold up to 2 * _CHUNK entries (their size, 16K to 128K,
# was measured not to matter).
_CHUNK = 1 << 15
_CHECK_EVERY = 3  # pairs of terms between convergence checks (each ~0.6 pair and a sync)
_SOLO_CHECKS = (3, 6, 8)  # the pairs after which the solo blocks are tested
_SOLO_PAIRS = 8  # pairs each block takes alone, before the slow entries of all are merged
_COMPACT_FRACTION = 8  # drop converged entries once they are 1/8 of those left
_MAX_PAIRS = 4000  # far beyond need: ~1.2 sqrt(min(p, q)) + 60 pairs reach 1e-13
_RESCALE_PAIRS = 16  # pairs between rescalings of the eager numerators and denominators
_TRACED_PAIRS = {torch.float64: 180, torch.float32: 128}  # parameters <= 1e4, no checks
# The bound on the last step's relative change of g and of each bracket, scaled per entry by
# min(1, 10 (1 - u)) (_Wallis._tolerances) down to _TOLERANCE_FLOOR. float32 results need
# ~1e-7: 1e-9 leaves them within 0.5 float32 ulp of the float64 ones on the benchmark's Beta
# and Dirichlet entries (u < 0.9 there: not scaled) and within 0.65 ulp for parameters 1e-3
# to 1e4 (200K draws; unscaled, up to 11 ulps off mpmath at p ~ 1e4, q ~ 1, u ~ 0.999; 2e-9
# scaled, 1.1 ulps).
_TOLERANCE = {torch.float64: 1e-15, torch.float32: 1e-9}
_TOLERANCE_FLOOR = 1e-15


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
    ``wrt`` names the derivatives carried (``"p"``, ``"q"`` or both): the Dirichlet gradient
    needs one per entry, which saves a third of the work per term. With ``eager`` (not under
    vmap), results are written over the inputs they replace (``out=``): the same numbers,
    one memory pass fewer per operation. The kernels now run :class:`_Wallis` (cheaper per
    term); this ratio form stays as the independent evaluation the tests check it against.
    """

    _STATE = ("p", "q", "u", "nu", "pq", "r0", "c", "d", "g")

    def __init__(self, p, q, u, base_p, base_q, wrt: str = "pq", eager: bool = False):
        self.wrt, self.eager = wrt, eager
        self.p, self.q, self.u, self.nu = p, q, u, -u
        self.pq = p + q
        self.c, self.d = torch.ones_like(u), torch.zeros_like(u)
        self.g = torch.ones_like(u)
        self.gam, self.eps, self.bracket = {}, {}, {}
        for t, base in (("p", base_p), ("q", base_q)):
            if t in wrt:  # own buffers: the eager terms write into them
                self.gam[t], self.eps[t] = torch.zeros_like(u), torch.zeros_like(u)
                self.bracket[t] = base.clone()
        self.r0 = None  # 1 / (p + 2m)
        self.m = 0.0  # a float: a Python int would be converted at every use

    def _term(self, a, lam_p, lam_q, a_q=None, check=False):
        # Consumes a, a_q and the lambdas; eager, also the previous C, D and gammas.
        c_prev, d_prev = self.c, self.d
        gam, eps = self.gam, self.eps
        if a_q is not None and "q" in gam:  # before C_{k-1}, D_{k-1} are overwritten
            gam_q, eps_q = torch.div(a_q, c_prev), a_q.mul_(d_prev)
        eager = self.eager
        ratio = torch.div(a, c_prev, out=c_prev) if eager else a / c_prev
        self.c = ratio + 1.0
        r = ratio.div_(self.c)  # 1 - 1/C_k
        t = a.mul_(d_prev)
        self.d = (torch.add(t, 1.0, out=d_prev) if eager else t + 1.0).reciprocal_()
        s = t.mul_(self.d)  # 1 - D_k
        for k, lam in (("p", lam_p), ("q", lam_q)):
            if k in gam and lam is not None:
                old = gam[k]
                gam[k] = (torch.sub(lam, old, out=old) if eager else lam - old).mul_(r)
                eps[k] = lam.sub_(eps[k]).mul_(s)
        if a_q is not None and "q" in gam:
            gam["q"] = gam_q.div_(self.c).sub_(r.mul_(gam["q"]))
            eps["q"] = eps_q.mul_(self.d).sub_(s.mul_(eps["q"]))
        if not check:
            for k, bracket in self.bracket.items():
                bracket.sub_(gam[k]).add_(eps[k])
            self.g.mul_(self.c).mul_(self.d)
            return None
        increments = {}
        for k, bracket in self.bracket.items():
            increments[k] = gam[k] - eps[k]
            bracket.sub_(increments[k])
        step = self.c * self.d
        self.g.mul_(step)
        return step, increments

    def pair(self, check=False):
        r"""Add the terms :math:`d_{2m+1}, d_{2m+2}`; with ``check``, return :math:`C D` and
        the bracket increments of the second."""
        p, m = self.p, self.m
        want_p, want_q = "p" in self.gam, "q" in self.gam
        self.m += 1.0
        p_q_m = torch.add(self.pq, m)
        r_s = torch.reciprocal(p_q_m)  # 1 / (p + q + m)
        r_1 = torch.add(p, 2.0 * m + 1.0).reciprocal_()  # 1 / (p + 2m + 1)
        # d_{2m+1} = -(p+m)(p+q+m) u / ((p+2m)(p+2m+1))
        lam_p = None
        if m == 0.0:  # the factors p cancel
            a = p_q_m.mul_(r_1).mul_(self.nu)
            if want_p:
                lam_p = r_s - r_1
        else:
            p_m = p + m
            if want_p:
                lam_p = torch.reciprocal(p_m).add_(r_s).sub_(self.r0).sub_(r_1)
            a = p_m.mul_(p_q_m).mul_(self.r0).mul_(r_1).mul_(self.nu)
        self._term(a, lam_p, r_s if want_q else None)
        # d_{2m+2} = (m+1)(q-m-1) u / ((p+2m+1)(p+2m+2))
        self.r0 = r_2 = torch.add(p, 2.0 * m + 2.0).reciprocal_()
        a_q = torch.mul(r_1, r_2).mul_(self.u).mul_(m + 1.0)
        a = torch.sub(self.q, m + 1.0).mul_(a_q)
        lam_p = r_1.add_(r_2).neg_() if want_p else None
        return self._term(a, lam_p, None, a_q if want_q else None, check)

    def results(self):
        """:math:`g` and the brackets in :math:`p` and :math:`q` (None where not wanted)."""
        return self.g, self.bracket.get("p"), self.bracket.get("q")

    def keep(self, index):
        """Drop the converged entries: keep only ``index``."""
        for name in self._STATE:
            setattr(self, name, getattr(self, name).index_select(0, index))
        for table in (self.gam, self.eps, self.bracket):
            for k, v in table.items():
                table[k] = v.index_select(0, index)

    @staticmethod
    def cat(states):
        """One state of several at the same term."""
        first = states[0]
        for name in first._STATE:
            setattr(first, name, torch.cat([getattr(s, name) for s in states]))
        for attr in ("gam", "eps", "bracket"):
            table = getattr(first, attr)
            for k in table:
                table[k] = torch.cat([getattr(s, attr)[k] for s in states])
        return first


class _Wallis:
    r"""The fraction :math:`g = 1/F` of :class:`_Lentz` (the eager path's), from the forward
    recurrences of its numerator and denominator :math:`X_k = X_{k-1} + d_k X_{k-2}`
    (:math:`A_{-1} = A_0 = B_0 = 1, B_{-1} = 0`, :math:`g_k = A_k / B_k`) and of their
    derivatives :math:`\partial X_k = \partial X_{k-1} + d_k \partial X_{k-2} + \partial d_k
    X_{k-2}` in :math:`t \in` ``wrt``: four fused multiply-adds per term and derivative, about
    half the work per term of the ratios, and no division. The convergence test (``done``)
    takes the last term's step :math:`g_k / g_{k-1} - 1` and bracket increment from the two
    last convergents, against a tolerance that shrinks as :math:`u \to 1` (``_tolerances``).
    :math:`|d_k| \lesssim 1` below the switch point, so :math:`A, B` change by at most a
    factor 2 per term; they are rescaled every ``_RESCALE_PAIRS`` pairs all the same.
    :math:`\partial_q d_{2m+2} = (m+1) u / ((p+2m+1)(p+2m+2))` is taken as it is (no division
    by :math:`q - m - 1`, which vanishes for an integer :math:`q`).
    """

    def __init__(self, p, q, u, base_p, base_q, wrt: str = "pq", eager: bool = False):
        self.wrt, self.eager = wrt, eager
        self.p, self.q, self.u = p, q, u
        self.pq = p + q
        self.base = {t: b for t, b in (("p", base_p), ("q", base_q)) if t in wrt}
        self.r0 = None  # 1 / (p + 2m)
        self.m = 0.0  # a float: a Python int would be converted at every use
        self.pairs = 0
        self.brackets = {}  # those of the last ``done``
        self._scaled = None  # (tolerance, the per-entry tolerances of _tolerances)

    def _first(self, d, derivs):
        # A_1 = 1 + d_1, B_1 = 1 and their derivatives, from A_{-1} = A_0 = B_0 = 1, B_{-1} = 0.
        self.a1, self.a2 = d.add(1.0), torch.ones_like(d)
        self.b1, self.b2 = torch.ones_like(d), torch.ones_like(d)
        self.da = {t: [dd, torch.zeros_like(d)] for t, dd in derivs.items()}
        self.db = {t: [torch.zeros_like(d), torch.zeros_like(d)] for t in derivs}

    def _term(self, d, derivs):
        # X_k = X_{k-1} + d X_{k-2}, written over X_{k-2}; derivatives first (they read X_{k-2}).
        # Eager, over X_{k-2} (out=); traced, new tensors (vmap has no rule for addcmul_).
        a2, b2, eager = self.a2, self.b2, self.eager
        for t, dd in derivs.items():
            for x2, pair in ((a2, self.da[t]), (b2, self.db[t])):
                one, two = pair
                if eager:
                    pair[0] = torch.addcmul(one, d, two, out=two).addcmul_(dd, x2)
                else:
                    pair[0] = torch.addcmul(torch.addcmul(one, d, two), dd, x2)
                pair[1] = one
        a1, b1 = self.a1, self.b1
        self.a1 = torch.addcmul(a1, d, a2, out=a2) if eager else torch.addcmul(a1, d, a2)
        self.b1 = torch.addcmul(b1, d, b2, out=b2) if eager else torch.addcmul(b1, d, b2)
        self.a2, self.b2 = a1, b1

    def pair(self):
        """Add the terms :math:`d_{2m+1}, d_{2m+2}`."""
        p, m, wrt = self.p, self.m, self.wrt
        self.m += 1.0
        self.brackets = {}
        self.pairs += 1
        s = torch.add(self.pq, m)
        r_s = torch.reciprocal(s)  # 1 / (p + q + m)
        r_1 = torch.add(p, 2.0 * m + 1.0).reciprocal_()  # 1 / (p + 2m + 1)
        # d_{2m+1} = -(p+m)(p+q+m) u / ((p+2m)(p+2m+1))
        if m == 0.0:  # the factors p cancel
            d = s.mul_(r_1).mul_(self.u).neg_()
            lam_p = (r_s - r_1) if "p" in wrt else None
        else:
            p_m = p + m
            lam_p = torch.reciprocal(p_m).add_(r_s).sub_(self.r0).sub_(r_1) if "p" in wrt else None
            d = p_m.mul_(s).mul_(self.r0).mul_(r_1).mul_(self.u).neg_()
        derivs = {}
        if "p" in wrt:
            derivs["p"] = lam_p.mul_(d)
        if "q" in wrt:
            derivs["q"] = r_s.mul_(d)
        if m == 0.0:
            self._first(d, derivs)
        else:
            self._term(d, derivs)
        # d_{2m+2} = (m+1)(q-m-1) u / ((p+2m+1)(p+2m+2))
        self.r0 = r_2 = torch.add(p, 2.0 * m + 2.0).reciprocal_()
        d_q = torch.mul(r_1, r_2).mul_(self.u).mul_(m + 1.0)  # its derivative in q
        d = torch.sub(self.q, m + 1.0).mul_(d_q)
        derivs = {}
        if "p" in wrt:
            derivs["p"] = r_1.add_(r_2).mul_(d).neg_()
        if "q" in wrt:
            derivs["q"] = d_q
        self._term(d, derivs)
        if self.pairs % _RESCALE_PAIRS == 0:
            self._rescale()

    def _rescale(self):
        scale = self.b1.reciprocal()
        self.a1, self.a2, self.b1, self.b2 = (
            x * scale for x in (self.a1, self.a2, self.b1, self.b2)
        )
        for table in (self.da, self.db):
            for pair in table.values():
                pair[:] = [x * scale for x in pair]

    def _log_derivative(self, t, k):
        # d log g_k / dt for the last (k = 0) or the previous (k = 1) term
        a, b = (self.a1, self.b1) if k == 0 else (self.a2, self.b2)
        return torch.div(self.da[t][k], a).sub_(self.db[t][k] / b)

    def _tolerances(self, tolerance: float):
        # ``tolerance`` times min(1, 10 (1 - u)) per entry, at least _TOLERANCE_FLOOR. As u -> 1
        # the odd terms d_{2m+1} -> -u approach -1, the edge of the fraction's convergence:
        # it slows from geometric to algebraic, and the error left grows to many times the
        # last step. (Below u = 0.9, as for the benchmark's entries, the tolerance is as given.)
        # Eager, where no entry is that near 1, the float itself (one pass less per test).
        if self._scaled is None or self._scaled[0] != tolerance:
            scaled = tolerance
            if not self.eager or bool((self.u > 0.9).any()):
                scale = torch.clamp((1.0 - self.u).mul_(10.0), max=1.0).mul_(tolerance)
                scaled = torch.clamp(scale, min=_TOLERANCE_FLOOR)
            self._scaled = (tolerance, scaled)
        return self._scaled[1]

    def done(self, tolerance: float):
        """Whether the last term moved :math:`g` and each bracket by at most ``tolerance``
        (scaled per entry, see ``_tolerances``) of their values; a NaN (from a NaN or an
        endpoint sample) counts as done, since no further term can change it."""
        tolerance = self._tolerances(tolerance)
        now, before = self.a1 * self.b2, self.a2 * self.b1
        done = torch.gt(now.sub_(before).abs_(), before.abs_().mul_(tolerance)).logical_not_()
        self.brackets = {}
        for t, base in self.base.items():
            last = self._log_derivative(t, 0)
            step = self._log_derivative(t, 1).sub_(last).abs_()
            bracket = self.brackets[t] = base - last
            done &= torch.gt(step, bracket.abs().mul_(tolerance)).logical_not_()
        return done

    def results(self):
        """:math:`g` and the brackets in :math:`p` and :math:`q` (None where not wanted)."""
        if not self.brackets:  # (else those of ``done``, at the same term)
            self.brackets = {t: base - self._log_derivative(t, 0) for t, base in self.base.items()}
        g = self.a1 / self.b1
        return g, self.brackets.get("p"), self.brackets.get("q")

    def _tensors(self):
        yield from ("p", "q", "u", "pq", "r0", "a1", "a2", "b1", "b2")

    def keep(self, index):
        """Drop the converged entries: keep only ``index``."""
        for name in self._tensors():
            setattr(self, name, getattr(self, name).index_select(0, index))
        for table in (self.da, self.db):
            for pair in table.values():
                pair[:] = [x.index_select(0, index) for x in pair]
        for k, v in self.base.items():
            self.base[k] = v.index_select(0, index)
        self.brackets = {}  # (the next ``done`` sets them)
        if self._scaled is not None and isinstance(self._scaled[1], torch.Tensor):
            self._scaled = (self._scaled[0], self._scaled[1].index_select(0, index))

    @staticmethod
    def cat(states):
        """One state of several at the same term."""
        first = states[0]
        for name in first._tensors():
            setattr(first, name, torch.cat([getattr(s, name) for s in states]))
        for attr in ("da", "db"):
            for t, pair in getattr(first, attr).items():
                pair[:] = [torch.cat([getattr(s, attr)[t][k] for s in states]) for k in (0, 1)]
        for k in first.base:
            first.base[k] = torch.cat([s.base[k] for s in states])
        first.brackets = {}
        scaled = [s._scaled for s in states]  # kept where all hold the same float
        if not all(t is not None and isinstance(t[1], float) and t == scaled[0] for t in scaled):
            first._scaled = None
        return first


def _has_values(t: torch.Tensor) -> bool:
    """Whether Python can branch on ``t``'s values (not under vmap or a compiler's tracing)."""
    if torch.compiler.is_compiling():
        return False
    try:
        return bool(t.new_ones(()).bool())
    except RuntimeError:
        return False


def _fraction_fixed(p, q, u, base_p, base_q, pairs: int, tolerance: float):
    # No data-dependent control flow: a fixed depth for the documented parameter range. Each
    # entry keeps its values from the first test it passes (as the eager path does): past
    # convergence, the numerators' and denominators' derivatives grow and their quotients
    # cancel more and more.
    state = _Wallis(p, q, u, base_p, base_q)
    kept = None
    for pair in range(1, pairs + 2):
        state.pair()
        if pair % _CHECK_EVERY and pair != pairs + 1:
            continue
        done = state.done(tolerance)
        values = state.results()
        if kept is None:
            kept = [done, *values]
            continue
        old, kept[0] = kept[0], kept[0] | done
        kept[1:] = [None if v is None else torch.where(old, k, v) for k, v in zip(kept[1:], values)]
    return tuple(kept[1:])


def _fraction_adaptive(blocks, tolerance: float, wrt: str):
    # ``blocks``: flat (p, q, u, base_p, base_q) each (a base None where not in ``wrt``);
    # returns (g, bracket_p, bracket_q) of each block (None for a direction not in ``wrt``).
    # Each entry leaves the active set once the fraction and its derivatives have
    # converged, so the slowest entries do not set the work for all. Removing entries costs
    # about as much as a few terms: it waits until enough of a block have converged, and
    # those that have meanwhile go on (more terms keep them converged). Each block takes
    # its first ``_SOLO_PAIRS`` pairs alone (its state stays in cache); the survivors of all,
    # then at the same term, are merged (up to ``2 * _CHUNK`` entries a block), so that the few
    # slow entries cost one call per operation, not one per block.
    sizes = [block[2].numel() for block in blocks]
    like = blocks[0][2]
    out = [like.new_empty(sum(sizes)) if k in "g" + wrt else None for k in "gpq"]
    survivors, offset = [], 0
    for size, block in zip(sizes, blocks):
        # (a slice until the first compaction: its results are copied, not scattered)
        entry = [_Wallis(*block, wrt=wrt, eager=True), slice(offset, offset + size), None]
        survivors += _advance([entry], 0, _SOLO_PAIRS, tolerance, out)
        offset += size
    for entry in survivors:
        if isinstance(entry[1], slice):
            entry[1] = torch.arange(entry[1].start, entry[1].stop, device=like.device)
    _advance(_merge(survivors), _SOLO_PAIRS, _MAX_PAIRS, tolerance, out)
    return [(None,) * len(sizes) if c is None else torch.split(c, sizes) for c in out]


def _checks_after(pairs: int) -> bool:
    # Whether the convergence test follows pair number ``pairs`` (counted from 1).
    if pairs <= _SOLO_PAIRS:
        return pairs in _SOLO_CHECKS
    return pairs % _CHECK_EVERY == 0


def _advance(pending, first: int, stop: int, tolerance: float, out):
    # Pairs ``first`` to ``stop - 1`` of the fractions in ``pending`` ([state, index (their
    # positions in ``out``: a tensor, or a slice), converged]), writing the finished into
    # ``out``; returns the unfinished.
    for pair in range(first, stop):
        last = pair == _MAX_PAIRS - 1
        if not _checks_after(pair + 1) and not last:
            for entry in pending:
                entry[0].pair()
            continue
        survivors = []
        for entry in pending:
            lentz, index, converged = entry
            lentz.pair()
            done = lentz.done(tolerance)
            if converged is not None:
                done |= converged
            count = int(done.count_nonzero())  # (bool sum: ~4x the time)
            if not last and count * _COMPACT_FRACTION < done.numel():
                entry[2] = done
                survivors.append(entry)
                continue
            # Store every active entry (those not finished are overwritten later), then keep
            # the unfinished: one nonzero, no indexing of the finished.
            contiguous = isinstance(index, slice)
            for column, value in zip(out, lentz.results()):
                if column is None:
                    continue
                if contiguous:
                    column[index].copy_(value)
                else:
                    column.scatter_(0, index, value)
            if last or count == done.numel():
                continue
            active = (~done).nonzero().squeeze(-1)
            lentz.keep(active)
            kept = active.add_(index.start) if contiguous else index.index_select(0, active)
            survivors.append([lentz, kept, None])
        pending = _merge(survivors) if pair >= _SOLO_PAIRS else survivors
        if not pending:
            break
    return pending


def _merge(entries):
    # Concatenate the compacted blocks into as few as hold ``2 * _CHUNK`` entries each.
    out, group, count = [], [], 0
    for entry in [*entries, None]:
        size = 0 if entry is None else entry[1].numel()
        if entry is not None and entry[2] is None and count + size <= 2 * _CHUNK:
            group.append(entry)
            count += size
            continue
        if len(group) == 1:
            out.append(group[0])
        elif group:
            lentz = _Wallis.cat([e[0] for e in group])
            out.append([lentz, torch.cat([e[1] for e in group]), None])
        group, count = [], 0
        if entry is None:
            continue
        if entry[2] is None:
            group, count = [entry], size
        else:
            out.append(entry)
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


def _choose(weight, yes, no):
    # where(weight == 1, yes, no) for a 0/1 float weight and finite yes, no: exact, and on
    # CPU ~5x cheaper than a where whose mask splits the entries at random.
    return torch.lerp(no, yes, weight)


def _log_of_larger(small, large):
    # log(large) with large = 1 - small, from the smaller of the two: log1p(-small) where
    # small < 1/2 (as _log1p: the log of v = 1 - small less its rounding error over v), else
    # log(large) (v = large, no correction). One log for both.
    weight = (0.5 - small).sign_().clamp(min=0.0)  # (clamp_ has no vmap batching rule)
    v = _choose(weight, 1.0 - small, large)
    return torch.log(v).sub_((v - 1.0).add_(small).mul_(weight).div_(v))


def _tail_setup(a, b, x, y, *differences, dtype: torch.dtype):
    # The tail of each entry, its (p, q, u, v) and the brackets' starting values, with no
    # data-dependent control flow; ``y`` None for 1 - x; ``differences``: those of
    # _base_differences at these entries, or none to compute the two that the tail needs.
    a, b, x = (t.to(torch.float64) for t in (a, b, x))
    if y is None:  # 1 - x is exact where x >= 1/2, and log1p(-x) right everywhere
        y = 1.0 - x
        log_x, log_y = torch.log(x), _log1p(-x)
    else:  # each log from the smaller of x, y: the larger may have been rounded (x = 1e-6
        # and y = 1 - x leave log y wrong by 1e-16, which is 1e-10 of it)
        y = y.to(torch.float64)
        log_x = _log_of_larger(y, x)
        log_y = _log_of_larger(x, y)
    lower = x * (a + b + 2.0) < a + 1.0
    weight = lower.to(torch.float64)
    p, q = _choose(weight, a, b), _choose(weight, b, a)
    u = _choose(weight, x, y)
    if differences:
        lower_p, lower_q, upper_p, upper_q = differences
        base_p = _choose(weight, lower_p, upper_p)
        base_q = _choose(weight, lower_q, upper_q)
    else:  # psi(p + q) - psi(p + 1) and psi(p + q) - psi(q)
        shift = _DIGAMMA_SHIFT.get(dtype, 10)
        base_p = _digamma_difference(p + 1.0, q - 1.0, shift)
        base_q = _digamma_difference(q, p, shift)
    base_p = base_p + _choose(weight, log_x, log_y)  # + log u
    base_q = base_q + _choose(weight, log_y, log_x)  # + log v
    return lower, p, q, u, x * y, base_p, base_q


def _tail_finish(lower, p, uv, g, bracket_p, bracket_q, dtype, scaled: bool, log_tail: bool):
    # h_a, h_b of _scaled_gradients (times xy in ``dtype`` if ``scaled``), or with
    # ``log_tail`` those of beta_log_tail_gradients.
    if log_tail:  # the brackets are d log w / dp and d log w / dq
        weight = lower.to(bracket_p.dtype)
        return lower, _choose(weight, bracket_p, bracket_q), _choose(weight, bracket_q, bracket_p)
    # -(uv/p) F bracket, divided by uv = xy; the upper tail w = 1 - I flips the sign.
    scale = (p * g).reciprocal_().neg_()
    if scaled:
        scale.mul_(uv)
    h_p, h_q = bracket_p * scale, bracket_q * scale
    weight = lower.to(h_p.dtype)
    h_a, h_b = _choose(weight, h_p, h_q.neg()), _choose(weight, h_q, h_p.neg())
    return (h_a.to(dtype), h_b.to(dtype)) if scaled else (h_a, h_b)


def _tail_gradients(a, b, x, y, *differences, dtype: torch.dtype, scaled: bool, log_tail: bool):
    # The traced path: a fixed depth.
    lower, p, q, u, uv, base_p, base_q = _tail_setup(a, b, x, y, *differences, dtype=dtype)
    g, bracket_p, bracket_q = _fraction_fixed(
        p, q, u, base_p, base_q, _TRACED_PAIRS[dtype], _TOLERANCE[dtype]
    )
    return _tail_finish(lower, p, uv, g, bracket_p, bracket_q, dtype, scaled, log_tail)


def _eager_both(a, b, x, y, differences, *, dtype, scaled, log_tail):
    # _tail_gradients with readable values, on flat inputs: chunks of ``_CHUNK`` entries on
    # CPU (temporaries stay in cache), the fraction over all chunks at once.
    n = x.numel()
    step = _CHUNK if x.device.type == "cpu" else n
    chunks = []
    for start in range(0, n, step):
        cut = slice(start, start + step)
        parts = [None if t is None else t[cut] for t in (a, b, x, y, *differences)]
        chunks.append(_tail_setup(*parts, dtype=dtype))
    fractions = _fraction_adaptive([c[1:4] + c[5:] for c in chunks], _TOLERANCE[dtype], "pq")
    parts = [
        _tail_finish(c[0], c[1], c[4], *f, dtype, scaled, log_tail)
        for c, f in zip(chunks, zip(*fractions))
    ]
    return tuple(torch.cat(column) for column in zip(*parts))


def _flat_chunks(tensors, step: int):
    # (start, float64 chunks of the flat ``tensors``, None kept) for each ``step`` entries.
    n = tensors[2].numel()
    for start in range(0, n, step):
        cut = slice(start, start + step)
        yield start, [None if t is None else t[cut].to(torch.float64) for t in tensors]


def _eager_first(chunks, n: int, *, dtype, scaled: bool, device):
    # h_a (times xy in ``dtype`` if ``scaled``) of _tail_gradients with readable values, on
    # ``chunks`` of flat float64 inputs, (start, [a, b, x, y or None, *differences]) as
    # _flat_chunks gives them (CPU: ``2 * _CHUNK`` entries, temporaries in cache), ``n`` entries in
    # all. Each chunk is split by tail with one ``nonzero`` each way: below the switch point
    # (p = a) the derivative in p, above it (q = a) the one in q, each with its one digamma
    # difference and no ``where`` to pick (p, q, u); the fraction then runs over all chunks'
    # entries of one side at once. The log in either bracket is log x: log u below the
    # switch point, log v above it.
    shift = _DIGAMMA_SHIFT.get(dtype, 10)
    f64 = torch.float64
    sides = {True: ([], []), False: ([], [])}  # lower: (blocks, (index, p, x y or None))
    for start, (a_c, b_c, x_c, y_c, *differences) in chunks:
        if y_c is None:  # 1 - x is exact where x >= 1/2
            y_c = 1.0 - x_c
            log_x = torch.log(x_c)
        else:  # from the smaller of x, y (see _tail_setup)
            log_x = _log_of_larger(y_c, x_c)
        lower = x_c * (a_c + b_c + 2.0) < a_c + 1.0
        for is_lower, mask in ((True, lower), (False, ~lower)):
            index = mask.nonzero().squeeze(-1)
            if index.numel() == 0:
                continue
            a_s, b_s, x_s, y_s, base = (
                t.index_select(0, index) for t in (a_c, b_c, x_c, y_c, log_x)
            )
            if differences:  # psi(a + b) - psi(a + 1) below, psi(a + b) - psi(a) above
                diff = differences[0 if is_lower else 3].index_select(0, index)
            elif is_lower:
                diff = _digamma_difference(a_s + 1.0, b_s - 1.0, shift)
            else:
                diff = _digamma_difference(a_s, b_s, shift)
            base.add_(diff)
            blocks, meta = sides[is_lower]
            if is_lower:  # (p, q, u) = (a, b, x)
                blocks.append((a_s, b_s, x_s, base, None))
            else:  # (b, a, y)
                blocks.append((b_s, a_s, y_s, None, base))
            xy = x_s * y_s if scaled else None  # (unscaled: no pass, no memory held)
            meta.append((index.add_(start), a_s if is_lower else b_s, xy))
    out = torch.empty(n, dtype=f64, device=device)
    for is_lower, (blocks, meta) in sides.items():
        if not blocks:
            continue
        results = _fraction_adaptive(blocks, _TOLERANCE[dtype], "p" if is_lower else "q")
        for (index, p, xy), g, bracket_p, bracket_q in zip(meta, *results):
            # -(uv/p) F bracket, divided by uv = xy; the upper tail w = 1 - I flips the sign.
            scale = (p * g).reciprocal_()
            if is_lower:
                h = bracket_p.mul(scale.neg_())
            else:
                h = bracket_q.mul(scale)
            out.scatter_(0, index, h.mul_(xy) if scaled else h)
    return out.to(dtype) if scaled else out, None


def _scaled_gradients(
    a,
    b,
    x,
    y,
    dtype: torch.dtype,
    scaled: bool = False,
    log_tail: bool = False,
    first_only: bool = False,
):
    r""":math:`h_a, h_b` with :math:`\partial x/\partial a = x y h_a`, :math:`\partial x/\partial
    b = x y h_b` (float64 tensors), or with ``scaled`` these gradients themselves in ``dtype``;
    ``y`` is :math:`1 - x` (None: computed), passed in so that it keeps its digits near 1.
    ``a`` and ``b`` may have fewer entries than ``x`` (broadcasting): the digamma differences,
    the costliest part after the fraction, are then taken at their shape (all four, both
    tails'), else per entry after the choice of the tail (two). With ``first_only`` (eager
    only), :math:`h_b` may be None and is not computed.
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
    tensors = [t.expand(shape) for t in (a, b, x) + (() if y is None else (y,)) + differences]
    if y is None:
        tensors.insert(3, None)
    if not eager or shape.numel() == 0:
        out = _tail_gradients(*tensors, dtype=dtype, scaled=scaled, log_tail=log_tail)
        return out
    flat = [None if t is None else t.reshape(-1) for t in tensors]
    if first_only and not log_tail:
        step = 2 * _CHUNK if x.device.type == "cpu" else shape.numel()
        chunks = _flat_chunks(flat, step)
        out = _eager_first(chunks, shape.numel(), dtype=dtype, scaled=scaled, device=x.device)
    else:
        out = _eager_both(*flat[:4], flat[4:], dtype=dtype, scaled=scaled, log_tail=log_tail)
    return tuple(None if t is None else t.reshape(shape) for t in out)


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
        Both gradients in the dtype of ``x``, of ``x``'s shape; relative error below 1e-9 in
        float64 for parameters from 1e-3 to 1e4 (against mpmath; the worst measured, 2e-11,
        is the derivative in b for a ~ 0.05, b ~ 8e3).
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
    k = t.shape[-1]
    if k <= 4:  # written out over the columns (the same sums): ~3x cheaper than the scans
        columns, out = t.unbind(-1), []
        for i in range(k):
            before = after = None
            for j in range(i):
                before = columns[j] if before is None else before + columns[j]
            for j in range(k - 1, i, -1):  # the suffix, summed from the end
                after = columns[j] if after is None else after + columns[j]
            if before is None and after is None:
                out.append(torch.zeros_like(columns[i]))
            elif before is None or after is None:
                out.append(after if before is None else before)
            else:
                out.append(before + after)
        return torch.stack(out, -1)
    zero = torch.zeros_like(t[..., :1])
    before = torch.cat([zero, t[..., :-1].cumsum(-1)], -1)
    after = torch.cat([t[..., 1:].flip(-1).cumsum(-1).flip(-1), zero], -1)
    return before + after


class IdentityOnSample(torch.autograd.Function):
    """``forward(param, x)``: identity on the sample ``x``, saving ``(param, x)``; a subclass
    gives the backward, the implicit gradient of ``x`` in ``param``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(param, x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)


class _ImplicitDirichlet(IdentityOnSample):
    """Identity on the sample ``x``; backward gives the implicit gradient in ``alpha``."""

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None
        if x.shape[-1] == 1:  # x = 1 whatever alpha
            return torch.zeros_like(alpha), None
        if alpha.shape == x.shape and x.device.type == "cpu" and _has_values(x):  # (in cache)
            return _dirichlet_vjp_chunked(alpha, x, grad), None
        alpha64, x64, g = (t.to(torch.float64) for t in (alpha, x, grad))
        # Both complements as sums of the other entries: 1 - x_i and s - alpha_i keep their
        # digits when one entry dominates (x_i rounds to 1, alpha_i = 1e4 next to 1e-3).
        y = _exclusive_sum(x64)
        h, _ = _scaled_gradients(alpha64, _exclusive_sum(alpha64), x64, y, x.dtype, first_only=True)
        terms = _dirichlet_vjp_terms(x64, y, h, g)
        return terms.sum_to_size(alpha.shape).to(alpha.dtype), None


def _dirichlet_chunks(alpha, x, rows: int):
    # The chunks of _flat_chunks for _eager_first, (alpha, s - alpha, x, 1 - x) as sums of the
    # other entries, formed per ``rows`` rows (in cache, not as full float64 tensors).
    k = x.shape[-1]
    a_rows, x_rows = alpha.reshape(-1, k), x.reshape(-1, k)
    for i in range(0, a_rows.shape[0], rows):
        a, v = (t[i : i + rows].to(torch.float64) for t in (a_rows, x_rows))
        yield i * k, [t.reshape(-1) for t in (a, _exclusive_sum(a), v, _exclusive_sum(v))]


def _dirichlet_vjp_chunked(alpha, x, grad):
    # _ImplicitDirichlet's backward on CPU with readable values and alpha of x's shape, by
    # chunks of rows before and after the fraction: the float64 copies, complements and
    # products of 1M entries cost ~4x more as full passes (out of cache) than chunk by chunk.
    k = x.shape[-1]
    rows = max(1, 2 * _CHUNK // k)
    chunks = _dirichlet_chunks(alpha, x, rows)
    h, _ = _eager_first(chunks, x.numel(), dtype=x.dtype, scaled=False, device=x.device)
    h, x_rows, g_rows = h.view(-1, k), x.reshape(-1, k), grad.reshape(-1, k)
    out = torch.empty(x_rows.shape, dtype=alpha.dtype, device=x.device)
    for i in range(0, x_rows.shape[0], rows):
        v, g = (t[i : i + rows].to(torch.float64) for t in (x_rows, g_rows))
        out[i : i + rows] = _dirichlet_vjp_terms(v, _exclusive_sum(v), h[i : i + rows], g)
    return out.view(x.shape)


def _dirichlet_vjp_terms(x, y, h, g):
    # D_i / (1 - x_i) = x_i h_i, times g_i - sum_j x_j g_j written as a sum over j != i
    # (y: 1 - x as the sums of the other entries); float64, no graph.
    return (x * h).mul_(g * y - _exclusive_sum(x * g))


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
