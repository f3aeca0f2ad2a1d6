"""The relaxed one-hot categorical (Concrete / Gumbel-softmax) distribution and its log."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..errors import ShapeError
from ..utils import as_params, broadcast_shapes, softmax_last
from ..wrappers.transformed import TransformedDistribution
from .categorical import CategoricalParameter, normalized_probs_or_logits
from .relaxed_bernoulli import TemperatureParameter

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]


class _RelaxedCategoricalParameter(TemperatureParameter, CategoricalParameter):
    """``temperature`` and normalized ``probs``/``logits``, shared by the two families.

    The temperature broadcasts against ``batch_shape + event_shape`` as in torch: a scalar,
    or a tensor whose last dim is 1 (``(n, 1)`` for ``n`` distributions); its other dims are
    batch dims (torch leaves them out of ``batch_shape``, pytorch#37162).
    """

    def _set_parameters(
        self, temperature: Any, probs: Any, logits: Any, validate_args: bool | None
    ) -> tuple[torch.Size, torch.Size]:
        name, param = normalized_probs_or_logits(self._name, probs, logits, validate_args)
        temperature, param = as_params(temperature, param, owner=self._name, broadcast=False)
        if temperature.dim() and temperature.shape[-1] != 1:
            raise ShapeError(
                f"{self._name}: temperature of shape {tuple(temperature.shape)} must be a "
                "scalar or end in a dim of size 1 (it broadcasts against batch_shape + "
                "event_shape, the categories last): for one temperature per distribution "
                "use temperature.unsqueeze(-1)"
            )
        try:
            batch_shape = broadcast_shapes(temperature.shape[:-1], param.shape[:-1])
        except RuntimeError:
            raise ShapeError(
                f"{self._name}: temperature of shape {tuple(temperature.shape)} does not "
                f"broadcast with {name} of shape {tuple(param.shape)}"
            ) from None
        self.temperature = temperature
        full = batch_shape + param.shape[-1:]
        self._set_given(name, param if param.shape == full else param.expand(full))
        return batch_shape, param.shape[-1:]

    @property
    def _num_events(self) -> int:
        return self._param.size(-1)

    def _concrete_log_normalizer(self) -> torch.Tensor:
        """``log((K - 1)!) + (K - 1) log tau``, of the temperature's batch shape."""
        t = self.temperature
        t = t.squeeze(-1) if t.dim() else t
        k = self._num_events
        return math.lgamma(k) + (k - 1) * t.log()

    def _gumbel_scores(self, sample_shape, generator) -> torch.Tensor:
        """``(logits + G) / tau`` with standard Gumbel noise ``G``, kept finite."""
        shape = self._extended_shape(sample_shape)
        logits = self.logits
        u = torch.rand(shape, dtype=logits.dtype, device=logits.device, generator=generator)
        gumbel = u.clamp_(min=torch.finfo(u.dtype).tiny).log_().neg_().log_().neg_()
        return (logits + gumbel) / self.temperature

    def _log_density_of_log(self, log_x: torch.Tensor) -> torch.Tensor:
        """The density of ``log X``: ``log((K-1)!) + (K-1) log tau + sum_k s_k - K logsumexp(s)``
        with ``s = logits - tau log x`` (invariant to a shift of the logits)."""
        s = self.logits - self.temperature * log_x
        k = self._num_events
        return s.sum(-1) - k * s.logsumexp(-1) + self._concrete_log_normalizer()


class ExpRelaxedCategorical(_RelaxedCategoricalParameter, Distribution):
    r"""The log of a relaxed one-hot categorical (Concrete) sample.

    .. math:: \log p(y) = \log (K-1)! + (K-1)\log\tau + \sum_k (\ell_k - \tau y_k)
              - K \log\sum_k e^{\ell_k - \tau y_k}

    for ``y = log x``, ``x`` on the simplex (a density on the ``K - 1``-dimensional set
    ``logsumexp(y) = 0``, in torch's convention). Samples are ``log softmax((logits + G) /
    tau)`` with standard Gumbel noise ``G`` (Maddison et al. 2017; Jang et al. 2017), finite
    at any temperature. ``log_prob`` has shape ``sample_shape + batch_shape`` also with a
    batched temperature (torch 2.13's does not, pytorch#37162). torch exports this class only
    from ``torch.distributions.relaxed_categorical``; aleatorch exports it at top level too.

    Args:
        temperature: :math:`\tau > 0`, a scalar or of shape ``batch_shape + (1,)``.
        probs: category probabilities (normalized along the last dim).
        logits: category log-weights :math:`\ell` (give exactly one).

    Example:
        >>> import aleatorch as D
        >>> d = D.ExpRelaxedCategorical(torch.tensor(0.5), logits=torch.zeros(3))
        >>> d.rsample().logsumexp(-1).abs() < 1e-6
        tensor(True)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        temperature: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape, event_shape = self._set_parameters(temperature, probs, logits, validate_args)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def _rsample(self, sample_shape, generator):
        scores = self._gumbel_scores(sample_shape, generator)
        return scores - scores.logsumexp(-1, keepdim=True)

    def _log_prob(self, value):
        return self._log_density_of_log(value)


class RelaxedOneHotCategorical(_RelaxedCategoricalParameter, TransformedDistribution):
    r"""Relaxed one-hot categorical (Concrete, Gumbel-softmax) distribution on the simplex.

    .. math:: p(x) = (K-1)! \, \tau^{K-1} \prod_{k} \frac{\pi_k x_k^{-\tau-1}}
              {\left(\sum_j \pi_j x_j^{-\tau}\right)^{K}}

    (a density on the first ``K - 1`` coordinates). Samples are ``softmax((logits + G) /
    tau)`` with standard Gumbel noise ``G``; entries that would round to 0 (low temperature,
    float32) are kept at the smallest normal float, so ``log_prob`` of a sample is finite.
    A ``TransformedDistribution`` (``ExpRelaxedCategorical`` by ``ExpTransform``), as in
    torch, with a direct ``log_prob`` of shape ``sample_shape + batch_shape`` also for a
    batched temperature (pytorch#37162). No cdf, entropy, mean or variance.

    Args:
        temperature: :math:`\tau > 0`, a scalar or of shape ``batch_shape + (1,)``.
        probs: category probabilities :math:`\pi` (normalized along the last dim).
        logits: category log-weights :math:`\log \pi + c` (give exactly one).

    Example:
        >>> import aleatorch as D
        >>> d = D.RelaxedOneHotCategorical(torch.tensor(0.5), probs=torch.tensor([0.2, 0.8]))
        >>> d.rsample().shape
        torch.Size([2])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True
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

    def __init__(
        self,
        temperature: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape, event_shape = self._set_parameters(temperature, probs, logits, validate_args)
        self._init_family(batch_shape, event_shape, validate_args=validate_args)

    def _base_and_transforms(self):
        from ..transforms import ExpTransform

        base = ExpRelaxedCategorical(
            self.temperature, **{self._given: self._param}, validate_args=False
        )
        return base, [ExpTransform()]

    def _rsample(self, sample_shape, generator):
        x = softmax_last(self._gumbel_scores(sample_shape, generator))
        return x.clamp(min=torch.finfo(x.dtype).tiny)

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    def _log_prob(self, value):
        # Entries below the smallest normal float (0 included) are read as that float: the
        # density at an exact 0 is a limit (0 or inf), and -inf would give inf - inf.
        log_x = value.clamp(min=torch.finfo(value.dtype).tiny).log()
        return self._log_density_of_log(log_x) - log_x.sum(-1)

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
