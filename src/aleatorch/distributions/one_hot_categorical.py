"""The one-hot categorical distribution (and its straight-through variant)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .. import constraints
from ..distribution import Distribution
from ..kl import register_kl
from ..utils import _inplace_ok, _readable, lazy_property
from ._params import rsample_hint
from .categorical import (
    _SHORT_SUM,
    _WRITTEN_OUT_FROM,
    Categorical,
    CategoricalParameter,
    _kl_categorical_categorical,
    normalized_probs_or_logits,
    python_labels,
    sum_last,
)

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


def _argmax_last(x: torch.Tensor) -> torch.Tensor:
    """``x.argmax(-1)`` (the first largest entry); on CPU eager, over a short last dim of a
    large tensor, written out as a scan (torch's argmax over a short last dim does not
    vectorize: ~4 ms for 333k rows of 3, written out ~0.9 ms): ``j`` is the answer so far
    where ``x_j`` exceeds every earlier entry. NaN entries are passed over (argmax would
    return the first NaN's index); a value with a NaN is outside the support."""
    k = x.shape[-1]
    if k < 2 or k > _SHORT_SUM or x.numel() < _WRITTEN_OUT_FROM or not _readable((x,)):
        return x.argmax(-1)
    with torch.no_grad():
        cols = x.unbind(-1)
        top, label = cols[0], None
        for j in range(1, k):
            term = torch.gt(cols[j], top).to(torch.uint8).mul_(j)
            if j < k - 1:
                top = torch.maximum(top, cols[j])
            label = term if label is None else torch.maximum(label, term, out=label)
    return label


# one-hot rows of this many bytes are copied as one word of this dtype (see _sample)
_ROW_WORDS = {8: torch.int64, 16: torch.complex128}


class OneHotCategorical(CategoricalParameter, Distribution):
    r"""Categorical distribution whose samples are one-hot vectors of length ``K``.

    .. math:: P(X = e_k) = p_k, \quad k \in \{0, \dots, K - 1\}

    where :math:`e_k` is the k-th unit vector. Parameters as :class:`Categorical`: exactly
    one of ``probs`` or ``logits``, the categories along the last dim. The event shape is
    ``(K,)``; samples have the parameter's floating dtype.

    Args:
        probs: category weights :math:`p` (shape ``batch_shape + (K,)``).
        logits: category log-weights :math:`\log p + c`.

    Example:
        >>> import aleatorch as D
        >>> D.OneHotCategorical(probs=torch.tensor([0.2, 0.8])).log_prob(torch.tensor([0.0, 1.0]))
        tensor(-0.2231)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    @property
    def _rsample_hint(self) -> str:
        return rsample_hint("OneHotCategoricalStraightThrough", "RelaxedOneHotCategorical")

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        name, param = normalized_probs_or_logits(type(self).__name__, probs, logits, validate_args)
        self._set_given(name, param)
        super().__init__(param.shape[:-1], param.shape[-1:], validate_args=validate_args)

    @lazy_property
    def _categorical(self) -> Categorical:
        # Shares the (already normalized) parameters; rebuilt lazily after expand().
        cat = Categorical.__new__(Categorical)
        cat._set_given(self._given, self._param)
        Distribution.__init__(cat, self._batch_shape, validate_args=False)
        return cat

    @property
    def _num_events(self) -> int:
        return self._param.size(-1)

    @property
    def mean(self) -> torch.Tensor:
        return self.probs

    @property
    def mode(self) -> torch.Tensor:
        return F.one_hot(self._param.argmax(-1), self._num_events).to(self._param)

    @property
    def variance(self) -> torch.Tensor:
        return self.probs * (1 - self.probs)

    def _sample(self, sample_shape, generator):
        p, k = self._param, self._num_events
        few = python_labels(self, sample_shape, generator)
        if few is not None:  # few labels (CPU eager): the one-hot rows written in Python
            rows = [[0.0] * k for _ in few]
            for row, label in zip(rows, few, strict=True):
                row[label] = 1.0
            return torch.tensor(rows, dtype=p.dtype).reshape(self._extended_shape(sample_shape))
        labels = self._categorical._labels(sample_shape, generator)
        if labels.dtype != torch.uint8:
            return F.one_hot(labels, k).to(p)
        if not _readable((labels,)):  # x_j = [label == j]
            return torch.eq(labels.unsqueeze(-1), torch.arange(k, device=p.device)).to(p.dtype)
        # Copy the label's row of the identity (k <= _SHORT_SEARCH: a small table); a row
        # of 8 or 16 bytes as one word (bits unchanged): 250k rows of 4 float32 in ~0.2 ms
        # against ~0.7 ms for the comparisons, 333k rows of 3 in ~0.7 ms against ~0.9 ms.
        rows = torch.eye(k, dtype=p.dtype, device=p.device)
        word = _ROW_WORDS.get(k * p.dtype.itemsize)
        if word is not None:
            rows = rows.view(word).reshape(-1)
        picked = rows.index_select(0, labels.reshape(-1).to(torch.int32))
        return picked.view(p.dtype).view(labels.shape + (k,))

    def _log_prob(self, value):
        p = self._param
        if (
            p.numel() >= _WRITTEN_OUT_FROM
            and self._given == "probs"
            and 2 <= p.shape[-1] <= _SHORT_SUM
            and value.shape == p.shape
            and value.dtype == p.dtype
            and _inplace_ok(p, value)
        ):
            # For a one-hot x, sum_j x_j p_j = p_label exactly (one product is p_label, the
            # others 0), without the labels: ~2x cheaper than argmax + gather. Only without
            # a graph: at p_label = 0 the gradient would be 0 * inf = NaN off the label.
            return sum_last(value * p).log_()
        return self._categorical._log_prob(_argmax_last(value))

    def _entropy(self):
        return self._categorical._entropy()

    def _enumerate_support(self):
        p = self._param
        values = torch.eye(self._num_events, dtype=p.dtype, device=p.device)
        return values.view((self._num_events,) + (1,) * len(self._batch_shape) + (-1,))


class OneHotCategoricalStraightThrough(OneHotCategorical):
    r"""One-hot categorical with the straight-through gradient estimator.

    ``rsample`` returns a one-hot sample whose gradient is that of ``probs`` (Bengio et al.
    2013, "Estimating or Propagating Gradients Through Stochastic Neurons"): biased, but
    cheap and often good enough.

    .. math:: \tilde{x} = x + p - \mathrm{stop\_gradient}(p), \quad x \sim \mathrm{OneHot}(p)

    Example:
        >>> import aleatorch as D
        >>> D.OneHotCategoricalStraightThrough(logits=torch.zeros(3)).rsample().sum()
        tensor(1.)
    """

    has_rsample = True

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        # Its own signature, so a wrong keyword's TypeError names this class.
        super().__init__(probs, logits, validate_args=validate_args)

    def _rsample(self, sample_shape, generator):
        with torch.no_grad():
            sample = self._sample(sample_shape, generator)
        probs = self.probs
        if not (probs.requires_grad and torch.is_grad_enabled()):
            return sample  # p - p = 0 exactly: the sample itself, without two passes
        return sample + (probs - probs.detach())


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(
    p: OneHotCategorical, q: OneHotCategorical
) -> torch.Tensor:
    return _kl_categorical_categorical(p._categorical, q._categorical)
