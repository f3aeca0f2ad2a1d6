"""The von Mises distribution on the circle."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch._higher_order_ops.while_loop import while_loop

from .. import constraints
from ..distribution import Distribution
from ..utils import as_params

__all__ = ["VonMises"]

_LOG_2PI = math.log(2 * math.pi)
# Best-Fisher accepts at least ~65% of proposals for every concentration, so after this many
# vectorised rounds an entry is still rejected with probability below 0.35**12 ~ 3e-6; those
# rare entries get further rounds until accepted (exact), in a torch.while_loop when compiled.
_ROUNDS = 12


_SERIES_FROM = 300.0


def _circular_variance(kappa: torch.Tensor) -> torch.Tensor:
    """``1 - I_1(kappa) / I_0(kappa)``, to full precision for every kappa.

    ``1 - A`` cancels for large kappa (relative error ~ 2 kappa eps), so above 300 it is the
    asymptotic series ``1/(2k) + 1/(8k^2) + 1/(8k^3) + 25/(128k^4) + 13/(32k^5) +
    1073/(1024k^6)`` (checked against 50-digit mpmath: 1e-14 relative at 300), and below it
    the direct form in float64 (error < 1e-13)."""
    k = kappa.to(torch.float64)
    big = k > _SERIES_FROM
    direct = 1 - torch.special.i1e(k) / torch.special.i0e(k)
    t = 1 / torch.where(big, k, _SERIES_FROM)  # safe where: no 1/k of small k in the graph
    series = t * (
        0.5 + t * (0.125 + t * (0.125 + t * (25 / 128 + t * (13 / 32 + t * 1073 / 1024))))
    )
    return torch.where(big, series, direct).to(kappa.dtype)


def _proposal_r(kappa: torch.Tensor) -> torch.Tensor:
    """Best and Fisher's wrapped-Cauchy envelope parameter ``r = (1 + rho^2) / (2 rho)``.

    ``rho = (tau - sqrt(2 tau)) / (2 kappa)`` with ``tau = 1 + sqrt(1 + 4 kappa^2)`` cancels
    catastrophically for small kappa; with ``s = sqrt(1 + 4 kappa^2)``, ``tau - 2 = 4 kappa^2 /
    (s + 1)`` gives ``rho = 2 kappa tau / ((s + 1)(tau + sqrt(2 tau)))``, accurate everywhere
    (``rho ~ kappa / 2`` as kappa -> 0, where torch needs a Taylor branch)."""
    s = torch.sqrt(1 + 4 * kappa * kappa)
    tau = 1 + s
    rho = 2 * kappa * tau / ((s + 1) * (tau + torch.sqrt(2 * tau)))
    return (1 + rho * rho) / (2 * rho)


def _propose(kappa, r, shape, generator):
    """One Best-Fisher round: a candidate angle in [0, pi] with a random sign, and whether it
    is accepted."""
    u = torch.rand((3,) + shape, dtype=kappa.dtype, device=kappa.device, generator=generator)
    z = torch.cos(math.pi * u[0])
    f = (1 + r * z) / (r + z)
    c = kappa * (r - f)
    accept = (c * (2 - c) > u[1]) | (torch.log(c / u[1]) + 1 - c >= 0)
    angle = torch.copysign(torch.acos(f.clamp(-1, 1)), u[2] - 0.5)
    return angle, accept


class VonMises(Distribution):
    r"""The von Mises (circular normal) distribution.

    .. math:: p(x) = \frac{\exp(\kappa \cos(x - \mu))}{2 \pi I_0(\kappa)}

    Support: the real line, read as angles modulo :math:`2\pi` (samples lie in
    :math:`[-\pi, \pi)`). ``mean`` and ``mode`` are the circular mean :math:`\mu`;
    ``variance`` is the circular variance :math:`1 - I_1(\kappa) / I_0(\kappa)` (torch's
    definitions). Sampling: Best and Fisher (1979), "Efficient simulation of the von Mises
    distribution", Applied Statistics 28, 152-157.

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
        kappa = self.concentration
        half = torch.sin(0.5 * (value - self.loc))
        return -2 * kappa * half * half - _LOG_2PI - torch.special.i0e(kappa).log()

    def _entropy(self):
        # H = log(2 pi I_0(k)) - k I_1(k) / I_0(k), with log I_0(k) = log i0e(k) + k.
        kappa = self.concentration
        return _LOG_2PI + torch.special.i0e(kappa).log() + kappa * _circular_variance(kappa)

    def _sample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        # float64 internally: the envelope is nearly flat for small kappa, where float32
        # rounding would bias the acceptance test.
        kappa = self.concentration.detach().to(torch.float64).expand(shape)
        r = _proposal_r(kappa)
        angle = torch.zeros(shape, dtype=torch.float64, device=kappa.device)
        done = torch.zeros(shape, dtype=torch.bool, device=kappa.device)
        for _ in range(_ROUNDS):  # a fixed trip count: no host sync, compile-friendly
            candidate, accept = _propose(kappa, r, shape, generator)
            angle = torch.where(done, angle, candidate)
            done = done | accept

        def still_rejected(angle, done):
            return ~done.all()

        def another_round(angle, done):
            candidate, accept = _propose(kappa, r, shape, generator)
            return torch.where(done, angle, candidate), done | accept

        if torch.compiler.is_compiling():
            angle, _ = while_loop(still_rejected, another_round, (angle, done))
        else:
            # Eager while_loop would compile its body (and cannot take a generator): the same
            # loop in Python, one host read, which in ~3e-6 of the entries runs a round.
            while still_rejected(angle, done):
                angle, done = another_round(angle, done)
        loc = self.loc.detach().to(torch.float64)
        return (torch.remainder(angle + loc + math.pi, 2 * math.pi) - math.pi).to(self.loc.dtype)
