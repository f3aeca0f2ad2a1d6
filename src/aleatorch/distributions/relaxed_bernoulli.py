"""The relaxed (binary Concrete) Bernoulli distribution and its logit."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import blocks_wanted, uniform_blocks
from ..distribution import Distribution, _shape_str
from ..errors import ShapeError
from ..special import softplus
from ..utils import as_params, broadcast_shapes
from ..wrappers.transformed import TransformedDistribution
from ._params import BinaryGivenParameter, probs_or_logits

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]

_PI2_OVER_3 = math.pi**2 / 3


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``1 / (1 + e^-x)``, as ``e^x / (1 + e^x)`` for ``x < 0``: the far left tail comes out
    as the right subnormal (``torch.sigmoid`` gives 0 in float32 below ``x ~ -88``, where
    ``e^-x`` overflows)."""
    negative = x < 0
    e = torch.exp(torch.where(negative, x, -x))
    return torch.where(negative, e / (1 + e), 1 / (1 + e))


def _logistic_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """``log(u / (1 - u))`` for uniform ``u`` (overwritten), kept finite. torch's float32 and
    float64 uniforms lie on the grid ``k 2^-24`` (``2^-53``), where ``1 - u`` is exact: there
    ``log(1 - u)`` is ``log1p(-u)`` at a third of the cost."""
    u = u.clamp_(min=torch.finfo(u.dtype).tiny)
    log_u = torch.log(u)
    if u.dtype in (torch.float32, torch.float64):
        return log_u.sub_(u.neg_().add_(1).log_())
    return log_u.sub_(u.neg_().log1p_())


def _squash(t: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``sigmoid(t)`` kept inside ``(0, 1)``: between the smallest normal and ``1 - eps/2``
    (in place only in ``out``: the sigmoid's backward reads its own result)."""
    finfo = torch.finfo(t.dtype)
    y = torch.sigmoid(t, out=out)
    if out is None:
        return y.clamp(min=finfo.tiny, max=1 - finfo.eps / 2)
    return y.clamp_(min=finfo.tiny, max=1 - finfo.eps / 2)


class TemperatureParameter:
    """Mixin for the relaxed families: a positive ``temperature`` besides probs/logits.

    torch keeps ``temperature`` out of ``arg_constraints`` (so do we, for parity); it is
    checked here (positive), and counted among the tensors cached terms derive from.
    """

    temperature: torch.Tensor

    def _parameter_relations(
        self,
    ) -> Iterable[tuple[str, str, torch.Tensor, dict[str, torch.Tensor]]]:
        t = self.temperature
        # The Python test of a few CPU entries first: comparing a tensor costs ~3 us.
        yield "temperature", "positive (> 0)", constraints.positive.all_ok(t) or t > 0, {}

    def _cache_sources(self) -> tuple[torch.Tensor, ...]:
        return (*super()._cache_sources(), self.temperature)  # type: ignore[misc]

    def __repr__(self) -> str:
        text = super().__repr__()
        t = self.temperature
        shown = (
            f"{t.item():.6g}"
            if t.numel() == 1
            else f"Tensor(shape={_shape_str(tuple(t.shape))}, dtype={t.dtype})"
        )
        head = f"{self._name}("  # type: ignore[attr-defined]
        return f"{head}temperature: {shown}, {text[len(head) :]}"


class _RelaxedBinaryParameter(TemperatureParameter, BinaryGivenParameter):
    """``temperature`` and ``probs``/``logits``, shared by the two binary families."""

    def _set_parameters(self, temperature: Any, probs: Any, logits: Any) -> torch.Size:
        """Store the parameters; return the batch shape (the temperature's dims included:
        torch leaves them out, so a batched temperature gave samples of another shape)."""
        name, param = probs_or_logits(self._name, probs, logits)
        temperature, param = as_params(temperature, param, owner=self._name, broadcast=False)
        try:
            batch_shape = broadcast_shapes(temperature.shape, param.shape)
        except RuntimeError:
            raise ShapeError(
                f"{self._name}: temperature of shape {tuple(temperature.shape)} does not "
                f"broadcast with {name} of shape {tuple(param.shape)}"
            ) from None
        self.temperature = temperature
        self._set_given(name, param if param.shape == batch_shape else param.expand(batch_shape))
        return batch_shape

    def _relaxed_logit(self, sample_shape, generator, squash: bool) -> torch.Tensor:
        """``t = (L + logits) / temperature`` for logistic noise ``L``, or with ``squash``
        ``sigmoid(t)`` kept inside ``(0, 1)``."""
        shape = self._extended_shape(sample_shape)
        logits, tau = self.logits, self.temperature
        grad = torch.is_grad_enabled() and (logits.requires_grad or tau.requires_grad)
        if grad or not blocks_wanted(logits, shape):
            param = self._param
            u = torch.rand(shape, dtype=param.dtype, device=param.device, generator=generator)
            t = (_logistic_from_uniform(u) + logits) / tau
            return _squash(t) if squash else t
        # CPU eager, large: each block's draws in cache, written once
        out = torch.empty(shape, dtype=logits.dtype)
        for rows, u, (ell, t) in uniform_blocks(shape, out.dtype, generator, (logits, tau)):
            noise = _logistic_from_uniform(u).add_(ell)
            if squash:
                _squash(noise.div_(t), out=out[rows])
            else:
                torch.div(noise, t, out=out[rows])
        return out

    def _logistic_log_density(self, t: torch.Tensor) -> torch.Tensor:
        """``log tau + d - 2 softplus(d)`` with ``d = logits - tau t``, the density of the
        logit; written with ``-|d|`` so that neither exp nor softplus overflows."""
        nd = -torch.addcmul(self.logits, self.temperature, t, value=-1).abs()
        return torch.add(self.temperature.log() + nd, softplus(nd), alpha=-2)


class LogitRelaxedBernoulli(_RelaxedBinaryParameter, Distribution):
    r"""The logit of a relaxed Bernoulli: a logistic distribution.

    .. math:: p(t) = \frac{\tau e^{\ell - \tau t}}{(1 + e^{\ell - \tau t})^2}, \qquad
              F(t) = \mathrm{sigmoid}(\tau t - \ell), \qquad t \in \mathbb R

    i.e. ``Logistic(loc=logits / tau, scale=1 / tau)`` (Maddison et al. 2017, "The Concrete
    Distribution"). Every method has a closed form: cdf, icdf, entropy ``2 - log tau``,
    mean = mode = median ``logits / tau``, variance ``pi^2 / (3 tau^2)``. ``has_rsample`` is
    True (torch 2.13 has the sampler but leaves the flag False). A batched temperature counts
    in ``batch_shape``. torch exports this class only from ``torch.distributions.
    relaxed_bernoulli``; aleatorch exports it at top level too.

    Args:
        temperature: the temperature :math:`\tau > 0`.
        probs: the probability :math:`p` of the Bernoulli being relaxed.
        logits: its log-odds :math:`\ell = \log(p / (1 - p))` (give exactly one).

    Example:
        >>> import aleatorch as D
        >>> D.LogitRelaxedBernoulli(torch.tensor(0.5), logits=1.0).cdf(torch.tensor(2.0))
        tensor(0.5000)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(
        self,
        temperature: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape = self._set_parameters(temperature, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def _rsample(self, sample_shape, generator):
        return self._relaxed_logit(sample_shape, generator, squash=False)

    def _log_prob(self, value):
        return self._logistic_log_density(value)

    def _standardized(self, value):
        return self.temperature * value - self.logits

    def _cdf(self, value):
        return _sigmoid(self._standardized(value))

    def _survival_function(self, value):
        return _sigmoid(-self._standardized(value))

    def _log_cdf(self, value):
        return -softplus(-self._standardized(value))

    def _log_survival_function(self, value):
        return -softplus(self._standardized(value))

    def _icdf(self, value):
        return (value.log() - torch.log1p(-value) + self.logits) / self.temperature

    def _entropy(self):
        return (2 - self.temperature.log()).expand(self._batch_shape)

    @property
    def mean(self) -> torch.Tensor:
        return (self.logits / self.temperature).expand(self._batch_shape)

    @property
    def mode(self) -> torch.Tensor:
        return self.mean

    @property
    def median(self) -> torch.Tensor:
        return self.mean

    @property
    def variance(self) -> torch.Tensor:
        return (_PI2_OVER_3 / self.temperature.square()).expand(self._batch_shape)


class RelaxedBernoulli(_RelaxedBinaryParameter, TransformedDistribution):
    r"""Relaxed Bernoulli (binary Concrete): ``Y = sigmoid(T)``, ``T ~ LogitRelaxedBernoulli``.

    .. math:: p(y) = \frac{\tau \, e^{\ell} \, y^{-\tau - 1} (1 - y)^{-\tau - 1}}
              {\left(e^{\ell} y^{-\tau} + (1 - y)^{-\tau}\right)^2}, \qquad
              F(y) = \mathrm{sigmoid}\left(\tau \log\frac{y}{1 - y} - \ell\right),
              \qquad y \in [0, 1]

    A continuous relaxation of ``Bernoulli(logits=l)`` whose samples approach 0/1 as the
    temperature goes to 0. A ``TransformedDistribution`` (``LogitRelaxedBernoulli`` by
    ``SigmoidTransform``), as in torch, with direct ``log_prob`` (through the logit, stable
    in float32), cdf, survival function, icdf and median. Samples are kept inside the open
    interval (at low temperature ``sigmoid`` rounds many to 0 or 1, where the log-density is
    infinite). No entropy, mean or variance (no closed forms).

    Args:
        temperature: the temperature :math:`\tau > 0`.
        probs: the probability :math:`p` of the Bernoulli being relaxed.
        logits: its log-odds :math:`\ell` (give exactly one).

    Example:
        >>> import aleatorch as D
        >>> D.RelaxedBernoulli(torch.tensor(0.5), probs=0.5).cdf(torch.tensor(0.5))
        tensor(0.5000)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _unavailable = frozenset({"_entropy"})

    def __init__(
        self,
        temperature: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape = self._set_parameters(temperature, probs, logits)
        self._init_family(batch_shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import SigmoidTransform

        base = LogitRelaxedBernoulli(
            self.temperature, **{self._given: self._param}, validate_args=False
        )
        return base, [SigmoidTransform()]

    def _rsample(self, sample_shape, generator):
        return self._relaxed_logit(sample_shape, generator, squash=True)

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    def _log_prob(self, value):
        # 0 and 1 are read as the nearest floats inside: the density there is a limit (0 or
        # inf), and log 0 would give inf - inf.
        finfo = torch.finfo(value.dtype)
        value = value.clamp(min=finfo.tiny, max=1 - finfo.eps / 2)
        log_y, log_1my = value.log(), torch.log1p(-value)
        return self._logistic_log_density(log_y - log_1my) - log_y - log_1my

    def _standardized(self, value):
        return self.temperature * (value.log() - torch.log1p(-value)) - self.logits

    def _cdf(self, value):
        return _sigmoid(self._standardized(value))

    def _survival_function(self, value):
        return _sigmoid(-self._standardized(value))

    def _log_cdf(self, value):
        return -softplus(-self._standardized(value))

    def _log_survival_function(self, value):
        return -softplus(self._standardized(value))

    def _icdf(self, value):
        return _sigmoid((value.log() - torch.log1p(-value) + self.logits) / self.temperature)

    @property
    def median(self) -> torch.Tensor:
        return _sigmoid(self.logits / self.temperature).expand(self._batch_shape)

    @property
    def mean(self) -> torch.Tensor:
        raise self._missing("mean")

    @property
    def mode(self) -> torch.Tensor:
        raise self._missing("mode")

    @property
    def variance(self) -> torch.Tensor:
        raise self._missing("variance")
