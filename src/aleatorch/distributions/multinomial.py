"""The multinomial distribution: category counts of ``total_count`` categorical draws."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..errors import MethodNotImplementedError, ParameterError
from ..utils import _readable
from .categorical import Categorical, CategoricalParameter, normalized_probs_or_logits

__all__ = ["Multinomial"]


class Multinomial(CategoricalParameter, Distribution):
    r"""Multinomial distribution: how often each of ``K`` categories occurs in ``total_count``
    independent categorical draws.

    .. math::
        P(X = x) = \frac{n!}{\prod_i x_i!} \prod_i p_i^{x_i}, \quad
        x \in \{0, \dots, n\}^K, \ \sum_i x_i = n

    The last dim of the parameter indexes the categories. Give exactly one of ``probs``
    (nonnegative, normalized along the last dim) or ``logits`` (normalized with logsumexp).
    As torch's, ``log_prob`` takes :math:`n = \sum_i x_i` from the value, and ``total_count``
    is one Python int for the whole batch (it fixes the event's support).

    Args:
        total_count: the number of draws :math:`n` (a Python int).
        probs: category weights :math:`p` (shape ``batch_shape + (K,)``).
        logits: category log-weights :math:`\log p + c`.

    Example:
        >>> import aleatorch as D
        >>> d = D.Multinomial(4, probs=torch.tensor([0.5, 0.5]))
        >>> d.log_prob(torch.tensor([2.0, 2.0]))
        tensor(-0.9808)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    _rsample_hint = "it is discrete; use .sample() with a score-function estimator"

    def __init__(
        self,
        total_count: int = 1,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(total_count, int) or isinstance(total_count, bool):
            raise MethodNotImplementedError(
                f"{self._name}: total_count must be one Python int for the whole batch "
                f"(inhomogeneous total_count is not supported), but it is {total_count!r}"
            )
        if total_count < 0:
            raise ParameterError(
                f"{self._name}: parameter 'total_count' must be a nonnegative integer, but it "
                f"is {total_count}"
            )
        self.total_count = total_count
        name, param = normalized_probs_or_logits(self._name, probs, logits, validate_args)
        self._set_given(name, param)
        super().__init__(param.shape[:-1], param.shape[-1:], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def mean(self) -> torch.Tensor:
        return self.total_count * self.probs

    @property
    def variance(self) -> torch.Tensor:
        p = self.probs
        return self.total_count * p * (1 - p)

    def _sample(self, sample_shape, generator):
        # Counts of total_count categorical labels (inverse-cdf sampling), added up per
        # category with one scatter.
        sample_shape = torch.Size(sample_shape)
        categorical = Categorical(probs=self.probs.detach(), validate_args=False)
        direct = _counts_directly(categorical.probs, self.total_count, sample_shape, generator)
        if direct is not None:
            return direct.reshape(self._extended_shape(sample_shape))
        labels = categorical._sample(torch.Size((self.total_count,)) + sample_shape, generator)
        shape = self._extended_shape(sample_shape)
        counts = torch.zeros(shape, dtype=self.probs.dtype, device=self.probs.device)
        if self.total_count == 0:
            return counts
        labels = labels.movedim(0, -1)
        return counts.scatter_add_(-1, labels, torch.ones_like(labels, dtype=counts.dtype))

    def _log_prob(self, value):
        log_probs = self.logits
        # x log p with 0 log 0 = 0 (a zero-probability category observed 0 times).
        powers = value * log_probs
        powers = torch.where(value == 0, torch.zeros_like(powers), powers).sum(-1)
        log_coefficient = torch.lgamma(value.sum(-1) + 1) - torch.lgamma(value + 1).sum(-1)
        return log_coefficient + powers

    def _entropy(self):
        # H = -log n! - n sum_i p_i log p_i + sum_i E[log X_i!], where X_i ~ Binomial(n, p_i):
        # log P(x) = log n! - sum_i log x_i! + sum_i x_i log p_i, E[X_i] = n p_i. The
        # expectations are sums over k = 2..n (log 0! = log 1! = 0): O(n K) work.
        n = self.total_count
        p = self.probs
        positive, below_one = p > 0, p < 1
        # Safe-where: log p is -inf at p = 0, and 0 * -inf would put NaN in the gradient.
        log_p = torch.where(positive, self.logits, torch.zeros_like(p))
        log_n_factorial = torch.lgamma(torch.tensor(n + 1.0, dtype=p.dtype, device=p.device))
        entropy = -n * (p * log_p).sum(-1) - log_n_factorial
        if n < 2:
            return entropy
        k = torch.arange(2, n + 1, dtype=p.dtype, device=p.device)
        k = k.view((-1,) + (1,) * p.dim())
        log_q = torch.log1p(-torch.where(below_one, p, torch.zeros_like(p)))
        log_q = torch.where(below_one, log_q, torch.full_like(p, -math.inf))
        log_choose = log_n_factorial - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
        k_log_p = torch.where(positive, k * log_p, -math.inf)
        rest_log_q = torch.where(k < n, (n - k) * log_q, torch.zeros_like(log_q))
        pmf = torch.exp(log_choose + k_log_p + rest_log_q)
        expected_log_factorial = (pmf * torch.lgamma(k + 1)).sum(0)
        return entropy + expected_log_factorial.sum(-1)


# Counting by comparisons costs draws x categories: beyond this many categories, the labels
# by sorted search are cheaper.
_DIRECT_CATEGORIES = 8


def _counts_directly(probs, total_count, sample_shape, generator):
    """The counts of ``total_count`` categorical draws per row, from the same uniforms and
    targets as ``Categorical._sample`` (so the same counts), without the labels: the number
    of draws with label ``<= j`` is that of targets ``(1 - u) cdf_K <= cdf_j`` (the sorted
    search takes the first ``cdf_j`` at or above the target), and the counts are its
    differences. As ``(S..., rows, K)``, or None where the labels are cheaper (many
    categories) or the shortcut does not apply (not CPU eager, low precision)."""
    k = probs.shape[-1]
    if (
        total_count == 0
        or probs.numel() == 0
        or k > _DIRECT_CATEGORIES
        or probs.dtype not in (torch.float32, torch.float64)
        or not _readable((probs,))
    ):
        return None
    rows = probs.reshape(-1, k)
    low, high = torch.aminmax(rows)
    if not (float(low) >= 0 and float(high) < math.inf):  # NaN fails too
        return None  # invalid weights (validation off): the labels' path raises
    draws = math.prod(sample_shape)
    u = torch.rand(
        (rows.shape[0], total_count * draws),
        dtype=probs.dtype,
        device=probs.device,
        generator=generator,
    )
    cdf = rows.cumsum(-1)
    target = torch.rsub(u, 1).mul_(cdf[:, -1:]).view(rows.shape[0], total_count, draws)
    at_most = [(target <= cdf[:, j, None, None]).sum(1, dtype=torch.int32) for j in range(k - 1)]
    every = torch.full((rows.shape[0], draws), total_count, dtype=torch.int32, device=u.device)
    at_most = torch.stack([*at_most, every], -1)  # (rows, S, K): draws with label <= j
    counts = torch.diff(at_most, dim=-1, prepend=torch.zeros_like(at_most[..., :1]))
    return counts.to(probs.dtype).transpose(0, 1)
