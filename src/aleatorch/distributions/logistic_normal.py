"""The logistic-normal distribution on the simplex (stick-breaking of a normal vector)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .. import constraints
from ..distribution import Distribution
from ..utils import _inplace_ok, as_params
from ..wrappers.independent import Independent
from ..wrappers.transformed import TransformedDistribution
from .normal import Normal

__all__ = ["LogisticNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: Draws from which a draw with no graph is worked in place (``_sticks_in_place``).
_IN_PLACE_FROM = 4096


def _log_tiny(dtype: torch.dtype) -> float:
    """A bound whose exp is at least the smallest normal float of ``dtype``."""
    finfo = torch.finfo(dtype)
    return math.log(finfo.tiny) * (1 - 4 * finfo.eps)


class LogisticNormal(TransformedDistribution):
    r"""Logistic-normal distribution: a normal vector mapped onto the simplex by stick breaking.

    With :math:`X \sim \mathcal N(\mu, \sigma^2)` in :math:`\mathbb R^K` (independent
    coordinates), :math:`z_k = \mathrm{sigmoid}(X_k - \log(K - k))` is the fraction of the
    remaining stick taken at step :math:`k = 0, \dots, K - 1`, and
    :math:`Y_k = z_k \prod_{j<k} (1 - z_j)`, :math:`Y_K = \prod_j (1 - z_j)`. The density of
    :math:`Y` (on its first K coordinates) is

    .. math:: \log p(y) = \sum_{k<K} \log \mathcal N(x_k; \mu_k, \sigma_k^2)
              - \sum_{k \le K} \log y_k, \qquad
              x_k = \log \frac{y_k}{\sum_{j>k} y_j} + \log(K - k)

    Support: the simplex of dimension ``K + 1`` (event_shape ``(K + 1,)``, ``K`` the last dim
    of the parameters; a scalar counts as ``K = 1``). A ``TransformedDistribution``
    (``Normal`` by ``StickBreakingTransform``), as in torch; ``log_prob`` and ``rsample`` are
    direct (remaining sticks summed from the right, not as ``1 - cumsum``), and there is no
    cdf, entropy, mean or variance.

    Args:
        loc: the mean :math:`\mu` of the normal vector.
        scale: its standard deviations :math:`\sigma > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.LogisticNormal(torch.zeros(2), torch.ones(2)).event_shape
        torch.Size([3])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    _parameters_in_base = {"loc": "base_dist.loc", "scale": "base_dist.scale"}
    support = constraints.simplex
    has_rsample = True
    # z * z and log(K - k) sums overflow float16: half precision is computed in float32.
    _half_in_float32 = True
    _unavailable = frozenset(
        {
            "_cdf",
            "_log_cdf",
            "_survival_function",
            "_log_survival_function",
            "_icdf",
            "_entropy",
        }
    )

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        loc, scale = as_params(loc, scale, owner=self._name)
        if loc.dim() == 0:  # one stick-breaking step: a point of the 1-simplex
            loc, scale = loc.expand(1), scale.expand(1)
        self.loc, self.scale = loc, scale
        event_shape = torch.Size((loc.shape[-1] + 1,))
        self._init_family(loc.shape[:-1], event_shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import StickBreakingTransform

        base = Independent(
            Normal(self.loc, self.scale, validate_args=False), 1, validate_args=False
        )
        return base, [StickBreakingTransform()]

    def _log_offsets(self) -> torch.Tensor:
        """``log(K - k)`` for ``k = 0, ..., K - 1``: centres the sticks at equal shares."""
        k = self.loc.shape[-1]
        return torch.arange(k, 0, -1, dtype=self.loc.dtype, device=self.loc.device).log()

    def _rsample(self, sample_shape, generator):
        loc = self.loc
        shape = self._extended_shape(sample_shape)[:-1] + loc.shape[-1:]
        eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        # no graph wanted (sample, or rsample of parameters without grad), and enough draws
        # that fresh buffers cost more than the ops
        if eps.numel() >= _IN_PLACE_FROM and _inplace_ok(eps, loc, self.scale):
            return self._sticks_in_place(eps)
        return self._rsample_from(eps)

    def _rsample_from(self, eps: torch.Tensor) -> torch.Tensor:
        loc, scale = self.loc, self.scale
        # minus_x = -x, x = loc + scale eps - log(K - k), in one pass over the draws.
        shifted = self._cached("_shifted_loc", lambda: self._log_offsets() - loc)
        minus_x = torch.addcmul(shifted, eps, scale, value=-1.0)
        # In log space: log y_k = log z_k + sum_{j<k} log(1 - z_j) = x_k + sum_{j<=k}
        # log(1 - z_j) (log z = x + log(1 - z)), then the last stick: one logsigmoid.
        log_kept = F.logsigmoid(minus_x).cumsum(-1)
        log_y = torch.cat([log_kept - minus_x, log_kept[..., -1:]], dim=-1)
        # No stick underflows to 0: clamped in log space just above log(tiny), in place on
        # cat's fresh output (cat's backward keeps nothing; exp_ keeps its own result).
        return log_y.clamp_min_(_log_tiny(loc.dtype)).exp_()

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    def _sticks_in_place(self, eps: torch.Tensor) -> torch.Tensor:
        """``_rsample_from``'s steps with no graph, written over the draws and into one
        output buffer."""
        loc, scale = self.loc, self.scale
        shape = eps.shape
        shifted = self._cached("_shifted_loc", lambda: self._log_offsets() - loc)
        minus_x = torch.addcmul(shifted, eps, scale, value=-1.0, out=eps)
        log_kept = F.logsigmoid(minus_x)
        if shape[-1] == 2:  # one add: cumsum's number (one rounding either way), ~0.4x its cost
            log_kept[..., 1].add_(log_kept[..., 0])
        else:
            log_kept.cumsum_(-1)
        log_y = torch.empty(shape[:-1] + (shape[-1] + 1,), dtype=loc.dtype, device=loc.device)
        torch.sub(log_kept, minus_x, out=log_y[..., :-1])
        log_y[..., -1:] = log_kept[..., -1:]
        return log_y.clamp_min_(_log_tiny(loc.dtype)).exp_()

    def _log_prob(self, value):
        # On the boundary of the simplex (a coordinate 0) the density is 0: the normal term
        # of an infinite x wins over -log y. The log-density is computed at an inner point
        # there (safe-where: no NaN gradient from log 0), then replaced by -inf.
        boundary = (value <= 0).any(-1)
        value = torch.where(boundary.unsqueeze(-1), 1.0 / value.shape[-1], value)
        log_y = value.log()
        # The stick left after each step, summed from the right: exact for small pieces.
        rest = value.flip(-1).cumsum(-1).flip(-1)[..., 1:]
        x = log_y[..., :-1] - rest.log() + self._log_offsets()
        z = (x - self.loc) / self.scale
        normal = (-0.5 * z * z - self.scale.log()).sum(-1) - _HALF_LOG_2PI * z.shape[-1]
        return torch.where(boundary, -math.inf, normal - log_y.sum(-1))

    @property
    def mean(self) -> torch.Tensor:
        raise self._missing("mean")

    @property
    def mode(self) -> torch.Tensor:
        raise self._missing("mode")

    @property
    def variance(self) -> torch.Tensor:
        raise self._missing("variance")

    median = Distribution.median
