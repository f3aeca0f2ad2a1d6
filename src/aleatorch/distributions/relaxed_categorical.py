"""The relaxed one-hot categorical (Concrete / Gumbel-softmax) distribution and its log."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from .._samplers.draws import uniforms
from ..distribution import Distribution
from ..errors import ShapeError
from ..utils import _inplace_ok, _readable, as_params, broadcast_shapes
from ..wrappers.transformed import TransformedDistribution
from .categorical import (
    _SHORT_SUM,
    _WRITTEN_OUT_FROM,
    CategoricalParameter,
    normalized_probs_or_logits,
    sum_last,
)
from .relaxed_bernoulli import TemperatureParameter

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]


def _min_last(x: torch.Tensor) -> torch.Tensor:
    """``x.amin(-1, keepdim=True)``, written out over a short last dim of a large tensor."""
    k = x.shape[-1]
    if k < 2 or k > _SHORT_SUM or x.numel() < _WRITTEN_OUT_FROM:
        return x.amin(-1, keepdim=True)
    cols = x.unbind(-1)
    low = torch.minimum(cols[0], cols[1])
    for col in cols[2:]:
        low = torch.minimum(low, col)
    return low.unsqueeze(-1)


def _sub_last_(x: torch.Tensor, col: torch.Tensor, op=torch.Tensor.sub_) -> torch.Tensor:
    """``x.sub_(col)`` (or ``op(x, col)``, an in-place binary op) for ``col`` of shape
    ``x.shape[:-1] + (1,)``, column by column over a short last dim of a large tensor (a
    broadcast operand costs ~1.4x, for ``div_`` ~2x)."""
    k = x.shape[-1]
    if (
        k > _SHORT_SUM
        or x.numel() < _WRITTEN_OUT_FROM
        or col.shape != x.shape[:-1] + (1,)
        or x.requires_grad  # autograd refuses in-place updates of unbind's views
    ):
        return op(x, col)
    col = col.squeeze(-1)
    for c in x.unbind(-1):
        op(c, col)
    return x


def _log_sum_exp_last(z: torch.Tensor) -> torch.Tensor:
    """``log(sum_k exp(z_k))`` over the last dim, kept (no graph; no ``exp(z)`` overflows or
    has a row sum of 0: ``z`` shifted to its row max, or ``_no_shift_needed``). One ``exp``
    over the contiguous ``z`` then the written-out row sums (the ``exp`` of strided
    columns is not vectorised: 1.5 against 1.4 ms per 1M)."""
    return sum_last(z.exp()).log_().unsqueeze(-1)


def _no_shift_needed(d: torch.Tensor, t: torch.Tensor) -> bool:
    """Whether ``exp(-d / t)`` and its row sums stay normal floats without the row shift
    (CPU eager, short rows): ``-d = logits + G`` lies between ``-log K - G_min`` for the
    row's largest logit (normalized logits: it is at least ``-log K``) and ``G_max``, with
    ``|G| <= 37`` in float64 and ``<= 17`` in float32 (the uniforms' range), so
    ``tau >= (G_max + log K) / 80`` keeps every row's exponents within ``[-80, 80]``."""
    k = d.shape[-1]
    if k > _SHORT_SUM or d.numel() < _WRITTEN_OUT_FROM or not _readable((t,)):
        return False
    g_max = 37.0 if d.dtype == torch.float64 else 17.0
    bound = (g_max + math.log(k)) / 80.0
    if d.dtype not in (torch.float32, torch.float64):
        return False
    low = t.detach().min() if t.numel() > 1 else t.detach()
    return float(low) >= bound


def _score_grads(ctx, dz, t, z):
    """The gradients in ``logits`` and ``tau`` of a loss with gradient ``dz`` (overwritten)
    in the scores ``z = (logits + G - m) / tau``: ``dz / tau`` and ``-sum(dz z) / tau``."""
    grad_logits = grad_t = None
    if ctx.needs_input_grad[0]:
        grad_logits = (dz / t).sum_to_size(ctx.logits_shape)
    if ctx.needs_input_grad[1]:
        grad_t = dz.mul_(z).sum_to_size(t.shape).div_(t).neg_()
    return grad_logits, grad_t, None


class _ConcreteSoftmax(torch.autograd.Function):
    """``x = max(s, tiny)``, ``s = softmax(z)`` over the last dim, for the scores ``z = (logits
    + G - m) / tau`` of ``_gumbel_scores`` (``G`` the Gumbel noise, ``m`` a detached shift
    per row; ``z`` given, computed without a graph), with the backward in one pass of
    written-out column ops where autograd's graph of exp, row sums, division and clamp
    replays broadcast divisions and full-size copies: ``dz = s (g' - sum_k g'_k s_k)`` with
    ``g' = g [s >= tiny]`` (the clamp), then :func:`_score_grads`.
    """

    @staticmethod
    def forward(ctx, logits, t, z):
        want_t = ctx.needs_input_grad[1]
        e = z.exp() if want_t else z.exp_()  # z itself only for d tau
        s = _sub_last_(e, sum_last(e).unsqueeze(-1), torch.Tensor.div_)
        ctx.save_for_backward(s, t, z if want_t else None)
        ctx.logits_shape = logits.shape
        return s.clamp(min=torch.finfo(s.dtype).tiny)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        s, t, z = ctx.saved_tensors
        g = torch.where(s >= torch.finfo(s.dtype).tiny, grad, 0.0)
        dz = _sub_last_(g, sum_last(g * s).unsqueeze(-1)).mul_(s)
        return _score_grads(ctx, dz, t, z)


class _ConcreteLogSoftmax(torch.autograd.Function):
    """``y = log softmax(z)`` over the last dim for the scores of :class:`_ConcreteSoftmax`,
    with the backward written out: ``dz = g - e^y sum_k g_k``, then :func:`_score_grads`."""

    @staticmethod
    def forward(ctx, logits, t, z):
        want_t = ctx.needs_input_grad[1]
        y = _sub_last_(z.clone() if want_t else z, _log_sum_exp_last(z))
        ctx.save_for_backward(y, t, z if want_t else None)
        ctx.logits_shape = logits.shape
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        y, t, z = ctx.saved_tensors
        dz = torch.addcmul(grad, y.exp(), sum_last(grad).unsqueeze(-1), value=-1)
        return _score_grads(ctx, dz, t, z)


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

    def _gumbel_scores(self, sample_shape, generator, scale_free=False) -> torch.Tensor:
        """``(logits + G) / tau`` with standard Gumbel noise ``G``, less its row max (detached:
        the results do not depend on it): at most 0 with a 0 in each row, so finite at any
        temperature (``(logits + G) / tau`` itself overflows for ``tau < 1e-37``).

        ``G = -log(-log u)``; with ``d = log(-log u) - logits = -(logits + G)`` the scores
        are ``(d - min_k d_k) / (-tau)``, computed in the uniforms' buffer on CPU eager.
        ``scale_free``: the caller only needs them up to a shift per row (a softmax), so
        the shift is left out where no exponent can overflow (``_no_shift_needed``)."""
        shape = self._extended_shape(sample_shape)
        logits, t = self.logits, self.temperature
        u = uniforms(shape, logits.dtype, logits.device, generator)[0]
        w = u.clamp_(min=torch.finfo(u.dtype).tiny).log_().neg_().log_()
        if not _readable((logits, t)):  # torch.func: no in-place update by a batched operand
            d = w - logits
            return (d - _min_last(d.detach())) / t.neg()
        d = w.sub_(logits)
        if scale_free and _no_shift_needed(d, t):
            return d.div_(t.neg())
        return _sub_last_(d, _min_last(d.detach())).div_(t.neg())

    def _written_out_rsample(self, function, sample_shape, generator) -> torch.Tensor | None:
        """``function.apply(logits, tau, z)`` for scores ``z`` drawn without a graph, where a
        graph is wanted on CPU eager (the values of the plain path, its backward written
        out); else None."""
        logits, t = self.logits, self.temperature
        if not (torch.is_grad_enabled() and (logits.requires_grad or t.requires_grad)):
            return None
        if not _readable((logits, t)):
            return None
        with torch.no_grad():
            z = self._gumbel_scores(sample_shape, generator, scale_free=True)
        return function.apply(logits, t, z)

    def _written_out_density(self, log_x: torch.Tensor, spent: bool) -> torch.Tensor:
        """:meth:`_log_density_of_log` (the same numbers) where :func:`_written_out_ok`
        holds: the row sums, max and shift written out column by column over the short last
        dim, every full-size step in place on one buffer (torch's reductions and
        ``logsumexp`` over a last dim of 4 cost ~1 ms per 1M each, a fresh 1M temporary
        ~0.3 ms more). ``spent``: ``log_x`` is our own buffer, overwritten, and the density
        is that of ``X`` (less ``sum_k log x_k``)."""
        t = self.temperature
        if spent:
            log_x_sum = sum_last(log_x)
            scaled = log_x.mul_(t)
        else:
            scaled = torch.mul(log_x, t)
        s = torch.sub(self.logits, scaled, out=scaled)
        cols = s.unbind(-1)
        s_sum = sum_last(s)
        top = torch.maximum(cols[0], cols[1])
        for col in cols[2:]:
            top = torch.maximum(top, col)  # (fresh at first: not a view of s)
        e = _sub_last_(s, top.unsqueeze(-1)).exp_()
        lse = sum_last(e).log_().add_(top)
        out = s_sum.sub_(lse.mul_(self._num_events)).add_(self._concrete_log_normalizer())
        return out.sub_(log_x_sum) if spent else out

    def _log_density_of_log(self, log_x: torch.Tensor) -> torch.Tensor:
        """The density of ``log X``: ``log((K-1)!) + (K-1) log tau + sum_k s_k - K logsumexp(s)``
        with ``s = logits - tau log x`` (invariant to a shift of the logits)."""
        s = self.logits - self.temperature * log_x
        k = self._num_events
        return s.sum(-1) - k * s.logsumexp(-1) + self._concrete_log_normalizer()


def _written_out_ok(value: torch.Tensor, logits: torch.Tensor, t: torch.Tensor) -> bool:
    """Whether :meth:`_RelaxedCategoricalParameter._written_out_density` applies: no graph
    (``_inplace_ok``), a large tensor with a short last dim, and a value whose shape is
    the broadcast shape (the scores are written over a buffer of that shape)."""
    return (
        2 <= value.shape[-1] <= _SHORT_SUM
        and value.numel() >= _WRITTEN_OUT_FROM
        and value.dtype == logits.dtype
        and _inplace_ok(value, logits, t)
        and broadcast_shapes(value.shape, logits.shape, t.shape) == value.shape
    )


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
        # log softmax is invariant to a shift per row
        y = self._written_out_rsample(_ConcreteLogSoftmax, sample_shape, generator)
        if y is not None:
            return y
        z = self._gumbel_scores(sample_shape, generator, scale_free=True)
        if z.requires_grad:
            return z - sum_last(z.exp()).log_().unsqueeze(-1)
        return _sub_last_(z, _log_sum_exp_last(z))

    def _log_prob(self, value):
        if _written_out_ok(value, self.logits, self.temperature):
            return self._written_out_density(value, spent=False)
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
        x = self._written_out_rsample(_ConcreteSoftmax, sample_shape, generator)
        if x is not None:
            return x
        e = self._gumbel_scores(
            sample_shape, generator, scale_free=True
        ).exp_()  # exp in place: no grad needs z
        total = sum_last(e).unsqueeze(-1)
        tiny = torch.finfo(e.dtype).tiny
        if e.requires_grad:
            return (e / total).clamp(min=tiny)
        return _sub_last_(e, total, torch.Tensor.div_).clamp_(min=tiny)

    def _sample(self, sample_shape, generator):
        return self._rsample(sample_shape, generator)

    def _log_prob(self, value):
        # Entries below the smallest normal float (0 included) are read as that float: the
        # density at an exact 0 is a limit (0 or inf), and -inf would give inf - inf.
        tiny = torch.finfo(value.dtype).tiny
        if _written_out_ok(value, self.logits, self.temperature):
            # (our own buffer of log x: the scores are formed over it)
            return self._written_out_density(value.clamp(min=tiny).log_(), spent=True)
        log_x = value.clamp(min=tiny).log()
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
