"""The von Mises distribution on the circle."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch._higher_order_ops.while_loop import while_loop

from .. import constraints
from .._generic_icdf import _with_implicit_gradient
from .._samplers.draws import uniforms
from ..distribution import Distribution
from ..special.bessel_i0 import (
    circular_variance,
    log_i0e,
    polynomial_wanted,
    scaled_variance_fraction,
)
from ..special.bisection import bisect_floats
from ..special.von_mises import log_arc_mass
from ..utils import _flat_list, _is_functorch_wrapped, _readable, as_params

__all__ = ["VonMises"]

_LOG_2PI = math.log(2 * math.pi)
_PI_HI = math.pi
_PI_LO = 1.2246467991473532e-16  # pi - float64(pi)
# Best-Fisher accepts at least ~65% of proposals for every concentration, so after this many
# vectorised rounds an entry is still rejected with probability below 0.35**12 ~ 3e-6; those
# rare entries get further rounds until accepted (exact), in a torch.while_loop when compiled.
_ROUNDS = 12
# Above this concentration samples come from the normal limit N(loc, 1 / kappa), whose
# density differs from the von Mises one by O(1 / (24 kappa)) ~ 4e-8.
_NORMAL_LIMIT = 1e6
# The largest float below pi of each dtype: draws lie in [-pi, pi), and a wrapped angle
# can round onto float32(pi) > pi (or float64(pi), the bound itself); clamping to this moves
# one ulp of mass, below the rounding of the angle itself.
_PI_BELOW = {torch.float32: 3.1415925025939941, torch.float64: math.nextafter(math.pi, 0)}


_SERIES_FROM = 300.0

# The cdf: the Bessel series below this concentration, the asymptotic expansion from it on
# (both ~1e-16 absolute there against 40-digit mpmath quadrature, tests/distributions/
# test_von_mises_cdf.py); the term counts keep them so on either side.
_CDF_SWITCH = 25.0
_SERIES_TERMS = 56
_ASYMPTOTIC_TERMS = 20
_KAPPA_MAX = 1e300


class _CenteredCdf:
    """``F(t) = P(T <= t)`` for ``T ~ VonMises(0, kappa)`` and ``t`` in ``[-pi, pi]`` (float64).

    The terms that depend on ``kappa`` alone are computed once (the icdf evaluates ``F`` at
    every bisection step). Both methods are evaluated everywhere and one is selected; each
    sees only concentrations it handles (safe where: no NaN or inf in the graph).

    Series (``kappa < 25``): ``F = 1/2 + t / (2 pi) + (1/pi) sum_j rho_j sin(j t) / j`` with
    ``rho_j = I_j(k) / I_0(k) = r_1 ... r_j``, the ratios ``r_j = I_j / I_(j-1) = k / (2 j +
    k r_(j+1))`` from a backward recursion started at 0 (as in Hill, ACM Algorithm 518).

    Asymptotic (``kappa >= 25``): ``W = sin(T / 2)`` has density ``exp(-a w^2) / (pi I0e(k)
    sqrt(1 - w^2))`` on ``[-1, 1]``, ``a = 2 k``. Expanding ``1 / sqrt(1 - w^2) = sum_m c_m
    w^(2m)``, ``c_m = binom(2m, m) / 4^m``, each term integrates against the Gaussian from
    ``-inf`` (the mass below ``w = -1`` is ``< exp(-2 k)``) by ``J_0(w) = sqrt(pi / a)
    Phi(w sqrt(2 a))`` and ``J_m = |w|^(2m-1) exp(-a w^2) / (2 a) + (2m-1) / (2 a) J_(m-1)``
    for ``w <= 0``. Unrolled, ``sum_m c_m J_m = T_0 J_0 + exp(-a w^2) / (2 a) sum_(i>=1)
    T_i |w|^(2i-1)`` with ``T_i = c_i + (2i+1) / (2a) T_(i+1)``: positive terms only, so the
    lower tail keeps its relative accuracy; the upper half is ``1 - F(-t)``.
    """

    def __init__(self, kappa: torch.Tensor) -> None:
        # Past 1e300 the cdf is a step at 0 to float64 precision; the clamp keeps 2 kappa
        # (and so i0e(kappa) > 0) finite for concentrations up to finfo.max.
        kappa = kappa.clamp(max=_KAPPA_MAX)
        self.small = kappa < _CDF_SWITCH
        k = torch.where(self.small, kappa, 1.0)
        ratio = torch.zeros_like(k)
        ratios = []
        for j in range(_SERIES_TERMS, 0, -1):
            ratio = k / (2 * j + k * ratio)
            ratios.append(ratio)
        rho = torch.ones_like(k)
        self.fourier = []  # rho_j / (pi j), j = 1, 2, ...
        for j, ratio in enumerate(reversed(ratios), start=1):
            rho = rho * ratio
            self.fourier.append(rho / (math.pi * j))

        self.a = 2 * torch.where(self.small, _CDF_SWITCH, kappa)
        c = [1.0]
        for m in range(1, _ASYMPTOTIC_TERMS):
            c.append(c[-1] * (2 * m - 1) / (2 * m))
        t_next = torch.full_like(self.a, c[-1])
        self.taylor = [t_next]  # T_(M-1), ..., T_0
        for i in range(_ASYMPTOTIC_TERMS - 2, -1, -1):
            t_next = c[i] + (2 * i + 1) / (2 * self.a) * t_next
            self.taylor.append(t_next)
        self.norm = math.pi * torch.special.i0e(self.a / 2)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        series = 0.5 + t / (2 * math.pi)
        for j, coefficient in enumerate(self.fourier, start=1):
            series = torch.addcmul(series, coefficient, torch.sin(j * t))

        lower = t <= 0
        half = torch.sin(0.5 * t)
        w = torch.where(lower, half, -half)  # -|sin(t/2)|, one-sided slope at t = 0
        w2 = w * w
        a = self.a
        poly = self.taylor[0]
        for coefficient in self.taylor[1:-1]:  # Horner in w^2 down to T_1
            poly = torch.addcmul(coefficient, poly, w2)
        gauss = torch.exp(-a * w2) / (2 * a)
        # Phi(w sqrt(2a)) = erfc(-w sqrt(a)) / 2: torch's ndtr is only absolutely accurate
        j0 = torch.sqrt(math.pi / a) * 0.5 * torch.special.erfc(-w * torch.sqrt(a))
        tail = (self.taylor[-1] * j0 - gauss * w * poly) / self.norm
        asymptotic = torch.where(lower, tail, 1 - tail)
        return torch.where(self.small, series, asymptotic)


def _circular_variance(kappa: torch.Tensor) -> torch.Tensor:
    """``1 - I_1(kappa) / I_0(kappa)``, to full precision for every kappa.

    ``1 - A`` cancels for large kappa (relative error ~ 2 kappa eps), so above 300 it is the
    asymptotic series ``1/(2k) + 1/(8k^2) + 1/(8k^3) + 25/(128k^4) + 13/(32k^5) +
    1073/(1024k^6)`` (checked against 50-digit mpmath: 1e-14 relative at 300), and below it
    the direct form in float64 (error < 1e-13). Large float32 and half tensors:
    ``special.bessel_i0``."""
    if polynomial_wanted(kappa):
        return circular_variance(kappa)
    k = kappa.to(torch.float64)
    big = k > _SERIES_FROM
    direct = 1 - torch.special.i1e(k) / torch.special.i0e(k)
    t = 1 / torch.where(big, k, _SERIES_FROM)  # safe where: no 1/k of small k in the graph
    series = t * (
        0.5 + t * (0.125 + t * (0.125 + t * (25 / 128 + t * (13 / 32 + t * 1073 / 1024))))
    )
    return torch.where(big, series, direct).to(kappa.dtype)


def _envelope(kappa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best and Fisher's wrapped-Cauchy envelope, as ``(q, a, b)``.

    The proposal is ``T = 2 atan(y)``, ``y = q tan(pi (u - 1/2))``, ``q = (1 - rho) / (1 +
    rho)`` (a wrapped Cauchy of mean resultant ``rho``; with ``z = cos(pi u)`` it is Best and
    Fisher's ``cos T = (1 + r z) / (r + z)``, ``r = (1 + rho^2) / (2 rho)``). Their
    acceptance variable ``c = kappa (r - cos T) = a + b sin^2(T / 2)``, with ``a = kappa (r -
    1) = kappa (1 - rho)^2 / (2 rho)``, ``b = 2 kappa``, ``sin^2(T / 2) = y^2 / (1 + y^2)``:
    no cancellation, and ``kappa / rho = (tau + sqrt(2 tau)) / 2`` is finite at ``kappa =
    0`` (``q = 1``, ``a = 1``, ``b = 0``: the uniform law).

    The test ``c e^(1 - c) >= u`` is exact for every ``rho`` in ``(0, 1)`` (Best and Fisher's
    ``rho = (tau - sqrt(2 tau)) / (2 kappa)``, ``tau = 1 + sqrt(1 + 4 kappa^2)``, only makes
    it efficient), as long as ``q`` and ``a`` share it: ``1 - rho`` is exact in floating
    point for ``rho >= 1/2`` (Sterbenz) and within one rounding below, so the parameters'
    precision suffices."""
    tau = 1 + torch.sqrt(1 + 4 * kappa * kappa)
    half_spread = 0.5 * (tau + torch.sqrt(2 * tau))  # kappa / rho
    rho = kappa / half_spread
    omega = 1 - rho
    return omega / (1 + rho), omega * omega * (0.5 * half_spread), 2 * kappa


def _propose(q, a, b, u):
    """One Best-Fisher round from the uniforms ``u[0]``, ``u[1]`` (overwritten): ``y = tan(T
    / 2)`` for the candidate angle ``T``, and whether it is accepted: ``u1 <= c e^(1 - c)``
    (an ``exp`` is cheaper than the ``log`` of ``log(c / u1) >= c - 1``; their squeeze ``c (2
    - c) > u1``, which implies it, would only spare an op that every entry takes anyway)."""
    y = q * torch.tan(u[0].sub_(0.5).mul_(math.pi))
    y2 = y * y
    c = torch.addcmul(a, b, y2.div_(y2 + 1))
    return y, c * torch.exp(1 - c) >= u[1]


def _all_true(mask: torch.Tensor) -> bool:
    """Whether every entry of ``mask`` is true, read through torch.func wrappers: under
    vmap the rounds go on while any sample of any batch is still rejected (a sample keeps
    its first accepted candidate, so extra rounds change nothing in its law)."""
    while _is_functorch_wrapped(mask):
        mask = torch._C._functorch.get_unwrapped(mask)
    return bool(mask.all())


def _wrap(x: torch.Tensor, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` (overwritten) less the nearest whole number of turns, in ``[-pi, pi]`` (cheaper
    than ``remainder``); the turns are counted in ``scratch`` (of ``x``'s shape) if given."""
    return x.sub_(torch.mul(x, 0.5 / math.pi, out=scratch).round_().mul_(2 * math.pi))


def _propose_in_place(q, a, b, u, spare=None):
    """:func:`_propose` for CPU eager, in place in ``u`` (the returned ``y`` is ``u[0]``) and
    two more buffers, the rows of ``spare`` (of ``u``'s shape) when given (a fresh 4 MB
    buffer can cost ~1 ms of page faults per million entries, more than the arithmetic on
    it); returns whether each candidate is *rejected*."""
    y = u[0].sub_(0.5).mul_(math.pi).tan_().mul_(q)
    if spare is None:
        c = y * y
        scratch = torch.add(c, 1)
    else:
        c = torch.mul(y, y, out=spare[0])
        scratch = torch.add(c, 1, out=spare[1])
    c = torch.addcmul(a, b, c.div_(scratch), out=c)
    return y, torch.sub(1, c, out=scratch).exp_().mul_(c) < u[1]


# Up to this many draws (CPU eager) the rejection runs on Python floats: the tensor rounds
# cost ~15 torch calls each on a few entries (construct + sample of 6 entries: 397 -> ~60 us).
_PYTHON_DRAWS = 64


def _sample_on_floats(kappa, loc, shape, generator):
    """The Best-Fisher sampler of ``VonMises._sample`` on Python floats (float64) for a few
    draws, the uniforms drawn by torch (``generator=``) a round at a time: the same law, the
    envelope and test of :func:`_envelope` and :func:`_propose` without rounding to the
    parameters' precision; the normal limit above ``_NORMAL_LIMIT``, NaN for an invalid
    concentration."""
    n = math.prod(shape)
    kappas = _flat_list(kappa.detach().expand(shape))
    locs = _flat_list(loc.detach().expand(shape))
    angles = [math.nan] * n
    pending = []
    for i, k in enumerate(kappas):
        if k > _NORMAL_LIMIT:
            angles[i] = math.inf  # marked: the normal limit, drawn below
        elif k >= 0:
            pending.append(i)
    while pending:
        u = _flat_list(torch.rand((2, len(pending)), dtype=torch.float64, generator=generator))
        rejected = []
        for j, i in enumerate(pending):
            k = kappas[i]
            tau = 1 + math.sqrt(1 + 4 * k * k)
            half_spread = 0.5 * (tau + math.sqrt(2 * tau))
            rho = k / half_spread
            q = (1 - rho) / (1 + rho)
            y = q * math.tan(math.pi * (u[j] - 0.5))
            y2 = y * y
            c = (1 - rho) ** 2 * 0.5 * half_spread + 2 * k * y2 / (1 + y2)
            u1 = u[len(pending) + j]
            if u1 == 0 or math.log(c / u1) >= c - 1:
                angles[i] = 2 * math.atan(y)
            else:
                rejected.append(i)
        pending = rejected
    limit = [i for i, a in enumerate(angles) if a == math.inf]
    if limit:
        z = _flat_list(torch.randn(len(limit), dtype=torch.float64, generator=generator))
        for i, zi in zip(limit, z, strict=True):
            angles[i] = zi / math.sqrt(kappas[i])
    turn = 2 * math.pi
    for i, (a, m) in enumerate(zip(angles, locs, strict=True)):
        x = a + math.remainder(m, turn) if math.isfinite(m) else math.nan
        angles[i] = math.remainder(x, turn) if math.isfinite(x) else math.nan
    out = torch.tensor(angles, dtype=kappa.dtype).reshape(shape)
    edge = _PI_BELOW.get(out.dtype, math.pi)
    return out.clamp_(-edge, edge)


class VonMises(Distribution):
    r"""The von Mises (circular normal) distribution.

    .. math:: p(x) = \frac{\exp(\kappa \cos(x - \mu))}{2 \pi I_0(\kappa)}

    Support: the real line, read as angles modulo :math:`2\pi` (samples lie in
    :math:`[-\pi, \pi)`). ``mean`` and ``mode`` are the circular mean :math:`\mu`;
    ``variance`` is the circular variance :math:`1 - I_1(\kappa) / I_0(\kappa)` (torch's
    definitions). Sampling: Best and Fisher (1979), "Efficient simulation of the von Mises
    distribution", Applied Statistics 28, 152-157.

    The cdf is that of the draws, which lie in :math:`[-\pi, \pi)`: ``cdf(x) = P(-pi <= X
    <= x)``, 0 at :math:`-\pi` and 1 at :math:`\pi`, continued to the real line as
    scipy.stats.vonmises continues its own, ``cdf(x + 2 pi) = cdf(x) + 1`` (continuous,
    increasing, the density its derivative everywhere, smooth in both parameters). scipy
    anchors it at ``loc - pi`` instead, so the two agree for ``loc = 0`` (mod 2 pi) and
    otherwise differ by a constant, scipy's cdf at :math:`-\pi`. ``icdf`` maps
    ``[0, 1]`` onto :math:`[-\pi, \pi]`, so ``icdf(U)`` is distributed as the draws, and
    ``median`` is ``icdf(0.5)`` (``mean`` stays the circular mean ``loc``). torch has
    neither. cdf, sf and their logs sum positive arc masses, each by a fixed Gauss-Legendre
    rule in log space (:mod:`aleatorch.special.von_mises`): ~1e-15 relative in every tail,
    down to log masses like -1881 at :math:`\kappa = 10^3`. The icdf bisects a centred cdf
    (a Bessel-function series for :math:`\kappa < 25`, an asymptotic expansion above).

    Args:
        loc: the location :math:`\mu` (an angle in radians).
        concentration: the concentration :math:`\kappa > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.VonMises(0.0, 1.0).log_prob(torch.tensor(0.0))
        tensor(-1.0738)
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real

    # kappa cos(x - loc) and the Bessel series overflow float16: half precision is
    # computed in float32.
    _half_in_float32 = True

    def __init__(self, loc: Any, concentration: Any, validate_args: bool | None = None) -> None:
        self.loc, self.concentration = as_params(loc, concentration, owner=self._name)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        return _circular_variance(self.concentration)

    def _log_prob(self, value):
        # k cos(d) - log I_0(k) = -2 k sin^2(d / 2) - log i0e(k): no cancellation between
        # two terms of size k (torch loses ~k * eps there, 1e-4 at k = 2000 in float32).
        # log(2 pi) + log i0e(kappa) depends on kappa alone and i0e is costly (~20 ns an
        # entry): it is cached while kappa is unchanged (Distribution._cached).
        kappa = self.concentration
        half = torch.sin(0.5 * (value - self.loc))
        # kappa * (2 half^2), not (2 kappa) * ...: 2 kappa overflows near finfo.max.
        return -kappa * (2 * half * half) - self._log_normalizer_term()

    def _log_normalizer_term(self):
        # log(2 pi) + log i0e(kappa), shared by log_prob and entropy
        return self._cached("log_normalizer", self._log_normalizer)

    def _log_normalizer(self):
        return log_i0e(self.concentration) + _LOG_2PI

    def _entropy(self):
        # H = log(2 pi I_0(k)) - k I_1(k) / I_0(k), with log I_0(k) = log i0e(k) + k.
        kappa = self.concentration
        if polynomial_wanted(kappa):
            return scaled_variance_fraction(kappa).add_(self._log_normalizer_term())
        k = kappa.to(torch.float64)  # float64 throughout: k V(k) never meets a subnormal V
        return (_LOG_2PI + torch.special.i0e(k).log() + k * _circular_variance(k)).to(kappa.dtype)

    def _cdf_parts(self, value):
        """``value - loc`` reduced to ``[-pi, pi]`` (float64), its number of turns, the
        centered cdf ``F0``, and the anchor ``A = F0(t0) + n0`` at ``-pi`` (``t0``, ``n0``
        the reduction of ``-pi - loc``): ``cdf(x) = F0(t) + n - A``."""
        loc = self.loc.to(torch.float64)
        f0 = _CenteredCdf(self.concentration.to(torch.float64))
        start = -math.pi - loc
        start_turns = torch.round(start / (2 * math.pi))
        anchor = f0(start - 2 * math.pi * start_turns) + start_turns
        d = value.to(torch.float64) - loc
        turns = torch.round(d / (2 * math.pi))
        return d - 2 * math.pi * turns, turns, f0, anchor

    def _arc(self, value, upper):
        """The log mass of the arc ``[-pi, x0]`` (or, if ``upper``, ``[x0, pi]``) by
        :func:`log_arc_mass` (float64), and the turns ``m`` with ``x = x0 + 2 pi m``, ``x0``
        in ``[-pi, pi)``: ``cdf = m + exp(lower)``, ``sf = exp(upper) - m``. Every arc is a
        sum of positive pieces, so both tails keep their relative accuracy however small
        (``e^-1881`` at kappa = 1e3)."""
        x = value.to(torch.float64)
        loc = self.loc.to(torch.float64)
        kappa = self.concentration.to(torch.float64)
        turns = torch.floor((x + _PI_HI) / (2 * _PI_HI))
        x0 = (x - turns * (2 * _PI_HI)) - turns * (2 * _PI_LO)
        centred = x0 - loc
        # (-pi and pi as double-float pairs: the arcs next to them keep their lengths' digits)
        if upper:
            # [x0, pi] under loc is [-pi, -x0] under -loc (the density is even about loc):
            # the arc starts at -pi, as for the cdf, so its first piece is per parameter
            length = ((_PI_HI - x0) + _PI_LO).clamp(0, 2 * _PI_HI)
            log_mass = log_arc_mass((loc - _PI_HI) - _PI_LO, -centred, length, kappa)
            # the whole circle from x0 = -pi: exactly 1, so that sf(pi) = 0 exactly
            log_mass = torch.where(length >= 2 * _PI_HI, 0.0, log_mass)
        else:
            length = ((x0 + _PI_HI) + _PI_LO).clamp(0, 2 * _PI_HI)
            log_mass = log_arc_mass((-_PI_HI - loc) - _PI_LO, centred, length, kappa)
        return log_mass, turns

    def _cdf(self, value):
        lower, turns = self._arc(value, upper=False)
        return (turns + lower.exp()).to(self.loc.dtype)

    def _survival_function(self, value):
        upper, turns = self._arc(value, upper=True)
        return (upper.exp() - turns).to(self.loc.dtype)

    # Past the ends of the support the cdf runs on linearly, as the turns count; below 0 its
    # log is -inf.
    def _log_cdf(self, value):
        lower, turns = self._arc(value, upper=False)
        more = turns > 0
        beyond = torch.log(torch.where(more, turns + lower.exp(), 1.0))
        out = torch.where(turns == 0, lower, torch.where(more, beyond, -math.inf))
        return out.to(self.loc.dtype)

    def _log_survival_function(self, value):
        upper, turns = self._arc(value, upper=True)
        more = turns < 0
        beyond = torch.log(torch.where(more, upper.exp() - turns, 1.0))
        out = torch.where(turns == 0, upper, torch.where(more, beyond, -math.inf))
        return out.to(self.loc.dtype)

    def _icdf(self, value):
        # Bisection over the floats of [-pi, pi] (exact to the last bit, a fixed trip count),
        # asking the survival function in the upper half; gradients by implicit
        # differentiation of the cdf at the root.
        dtype = self.loc.dtype
        shape = torch.broadcast_shapes(value.shape, self.batch_shape)
        q = value.to(dtype).expand(shape)
        with torch.no_grad():
            loc = self.loc.detach()
            _, _, f0, anchor = self._cdf_parts(loc.detach())
            loc = loc.to(torch.float64)
            q64 = q.detach().to(torch.float64)
            upper = q64 > 0.5
            sign = torch.where(upper, -1.0, 1.0).to(torch.float64)
            # cdf < q  <=>  F0(t) + n < q + A;  1 - cdf > 1 - q  <=>  F0(-t) - n > 1 - q - A
            target = torch.where(upper, 1 - q64 - anchor, q64 + anchor)

            def below(x):
                d = x.to(torch.float64) - loc
                turns = torch.round(d / (2 * math.pi))
                f = f0(sign * (d - 2 * math.pi * turns)) + sign * turns
                return torch.where(upper, f > target, f < target)

            edge = torch.full(shape, math.pi, dtype=dtype, device=q.device)
            x = bisect_floats(below, -edge, edge)
            x = torch.where(q64 <= 0, -edge, torch.where(q64 >= 1, edge, x))
        if not torch.is_grad_enabled():
            return x
        return _with_implicit_gradient(self, x, q)

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        if math.prod(shape) <= _PYTHON_DRAWS and _readable((self.concentration, self.loc)):
            return _sample_on_floats(self.concentration, self.loc, shape, generator)
        # In the parameters' precision: every quantity of the test is computed without
        # cancellation (_envelope), so rounding moves the acceptance probability by a few
        # eps at most, for every kappa (tests/test_speed_von_mises.py: KS at 1e6 draws).
        q, a, b, rows, huge, invalid, special = self._cached("envelope", self._envelope_parts)
        # loc reduced to [-pi, pi] once (the sum then rounds as in [-2 pi, 2 pi]); in place
        # only in CPU eager (under vmap an unbatched angle cannot take a batched loc)
        loc = self._cached("reduced_loc", lambda: _wrap(self.loc.detach().clone()))
        # CPU eager with readable values (a loc batched by vmap is not: the traced rounds)
        eager = special is not None and _readable((self.loc,))
        if eager:
            y, spare = self._rejection_eager(q, a, b, rows, shape, generator)
            if not special:  # 2 atan(y) + loc in one pass, wrapped over the spare buffer
                edge = _PI_BELOW.get(y.dtype, math.pi)
                angle = torch.add(loc, y.atan_(), alpha=2, out=y)
                return _wrap(angle, spare).clamp_(-edge, edge)
        else:
            done = (huge | invalid).expand(shape)
            y = self._rejection_traced(q, a, b, done, shape, generator)
        # y is ours (in place); atan (vectorised) costs a third of atan2(y, 1)
        angle = y.atan_().mul_(2)
        if not eager or special:
            z = torch.randn(shape, dtype=y.dtype, device=y.device, generator=generator)
            kappa = self.concentration.detach()
            angle = torch.where(huge, z * torch.where(huge, kappa, 1.0).rsqrt(), angle)
            angle = angle.masked_fill(invalid, math.nan)
        edge = _PI_BELOW.get(angle.dtype, math.pi)
        if eager:
            return _wrap(angle.add_(loc)).clamp_(-edge, edge)
        return _wrap(angle + loc).clamp(-edge, edge)  # (clamp_ has no vmap batching rule)

    def _envelope_parts(self):
        """``(q, a, b)`` of :func:`_envelope` (CPU eager: views of the rows of a ``(3, n)``
        tensor, also returned; else None); which concentrations are huge (above
        _NORMAL_LIMIT the envelope is too narrow for the test: those entries, and an infinite
        kappa, a point mass, are drawn from the normal limit N(0, 1 / kappa)) or invalid (a
        NaN or negative kappa, validation off: NaN), neither of which enters the rejection
        loop (it could not end for them); and whether any is either (None unless CPU
        eager)."""
        kappa = self.concentration.detach()
        huge = kappa > _NORMAL_LIMIT
        invalid = ~(kappa >= 0)
        q, a, b = _envelope(torch.where(huge | invalid, 1.0, kappa))
        if not _readable((kappa,)):
            return q, a, b, None, huge, invalid, None
        rows = torch.stack([q.reshape(-1), a.reshape(-1), b.reshape(-1)])
        q, a, b = (row.view(kappa.shape) for row in rows)
        return q, a, b, rows, huge, invalid, bool((huge | invalid).any())

    @staticmethod
    def _rejection_eager(q, a, b, rows, shape, generator):
        """CPU eager: a round on every entry, then rounds on the still-rejected entries only
        (~20-30%, then ~3%: no full-size work after the first round), two candidates each,
        the first accepted kept, until all are accepted. ``rows`` holds ``(q, a, b)``
        flattened; entry ``i`` of the draws uses column ``i mod n``. Returns the draws and
        a spare buffer of their shape (dead scratch of the first round), or None."""
        u, spare = uniforms((2, *shape), q.dtype, q.device, generator)
        y, rejected = _propose_in_place(q, a, b, u, spare)
        first_spare = None if spare is None else spare[0]
        y = y.reshape(-1)
        pending = rejected.reshape(-1).nonzero().squeeze(-1)
        n = rows.shape[1]
        while pending.numel():
            # two candidates at once for each entry: one pass over both costs less than a
            # round per candidate (a gather, a scatter and a compaction each)
            columns = rows.index_select(1, pending if n == y.numel() else pending % n)
            u, spare = uniforms((2, 2, pending.numel()), q.dtype, q.device, generator)
            candidate, rejected = _propose_in_place(*columns, u, spare)
            y.index_copy_(0, pending, torch.where(rejected[0], candidate[1], candidate[0]))
            pending = pending[rejected[0] & rejected[1]]
        return y.reshape(shape), first_spare

    @staticmethod
    def _rejection_traced(q, a, b, done, shape, generator):
        """Compile, vmap, accelerators: fixed full-size rounds, then a loop until every
        entry is accepted (a torch.while_loop when compiled)."""
        y = torch.zeros(shape, dtype=q.dtype, device=q.device)

        def another_round(y, done):
            u = torch.rand((2, *shape), dtype=q.dtype, device=q.device, generator=generator)
            candidate, accept = _propose(q, a, b, u)
            return torch.where(done, y, candidate), done | accept

        for _ in range(_ROUNDS):  # a fixed trip count: no host sync, compile-friendly
            y, done = another_round(y, done)

        def still_rejected(y, done):
            return ~done.all()

        if torch.compiler.is_compiling():
            y, _ = while_loop(still_rejected, another_round, (y, done))
        else:
            # Eager while_loop would compile its body (and cannot take a generator): the same
            # loop in Python, one host read, which in ~3e-6 of the entries runs a round.
            while not _all_true(done):
                y, done = another_round(y, done)
        return y
