"""The multinomial distribution: category counts of ``total_count`` categorical draws."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from .. import constraints
from .._samplers.counts import LAWS_FROM, LawTables, law_index, reduced_laws
from ..distribution import Distribution
from ..errors import MethodNotImplementedError, ParameterError
from ..utils import _flat_list, _inplace_ok, _readable, broadcast_shapes
from .binomial import _LOG_FACTORIAL_MAX, _log_factorials
from .categorical import (
    Categorical,
    CategoricalParameter,
    normalized_probs_or_logits,
    python_labels,
    sum_last,
)
from .gamma import blockwise

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
        shape = sample_shape + self.batch_shape
        if math.prod(shape) >= LAWS_FROM and self.total_count > 0:
            tables = self._cached("law_tables", self._law_tables)
            if tables is not None and math.prod(shape) >= tables[0].worth:  # a few laws
                table, law, outcomes = tables
                index = table.draw(shape, law, generator).view(-1).to(torch.int32)
                return outcomes.index_select(0, index).view(self._extended_shape(sample_shape))
        if self.total_count > 0:
            labels = python_labels(self, (self.total_count, *sample_shape), generator)
            if labels is not None:  # few draws: tallied in Python (CPU eager)
                return self._tally(labels, sample_shape)
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
        # out of place: under vmap the labels are batched and the zeros are not
        return counts.scatter_add(-1, labels, torch.ones_like(labels, dtype=counts.dtype))

    def _tally(self, labels: list[int], sample_shape: torch.Size) -> torch.Tensor:
        """The counts per category of ``Categorical._labels``' flat list of labels
        (``(total_count, *sample_shape, *batch_shape)`` order), as a tensor."""
        probs = self._param
        k = probs.shape[-1]
        cells = len(labels) // self.total_count  # draws x rows
        counts = [0] * (cells * k)
        for i, label in enumerate(labels):
            counts[i % cells * k + label] += 1
        out = torch.tensor(counts, dtype=probs.dtype, device=probs.device)
        return out.view(self._extended_shape(sample_shape))

    def _law_tables(self) -> tuple[LawTables, torch.Tensor | None, torch.Tensor] | None:
        """For few distinct rows of probabilities (:func:`_samplers.counts.reduced_laws`)
        and at most ``_MAX_OUTCOMES`` outcomes: the tables of their laws over every outcome
        (``log P(x) = log n! - sum_i log x_i! + sum_i x_i log p_i`` in float64), the law index
        of each row and the outcomes (in the probabilities' dtype); else None."""
        probs, n = self.probs, self.total_count
        k = probs.shape[-1]
        if (
            probs.dtype not in (torch.float32, torch.float64)
            or not probs.numel()
            or not _readable((probs,))
            or math.comb(n + k - 1, k - 1) > _MAX_OUTCOMES
        ):
            return None
        reduced = reduced_laws([probs], probs.shape, len(self.batch_shape))
        if reduced is None:
            return None
        p = reduced[0].to(torch.float64).reshape(-1, k)
        p = p / p.sum(-1, keepdim=True)
        x = _outcomes(n, k)
        log_pmf = (
            math.lgamma(n + 1)
            - torch.lgamma(x + 1).sum(-1)
            + torch.special.xlogy(x[None], p[:, None]).sum(-1)
        )
        first = torch.zeros(p.shape[0], dtype=torch.float64)
        tables = LawTables.build(log_pmf, first, torch.float32, closed=True)
        if tables is None:
            return None
        law = law_index(reduced[0].shape[:-1], probs.device)
        return tables, law, x.to(device=probs.device, dtype=probs.dtype)

    def _log_prob(self, value):
        fast = self._python_log_prob(value)
        if fast is None:
            fast = self._table_log_prob(value)
        if fast is not None:
            return fast
        log_probs = self.logits
        # x log p with 0 log 0 = 0 (a zero-probability category observed 0 times).
        powers = value * log_probs
        powers = torch.where(value == 0, torch.zeros_like(powers), powers).sum(-1)
        log_coefficient = torch.lgamma(value.sum(-1) + 1) - torch.lgamma(value + 1).sum(-1)
        return log_coefficient + powers

    def _python_log_prob(self, value):
        """The table form's sum in Python floats (double precision), rounded once: for at most
        ``_PYTHON_ENTRIES`` finite nonnegative entries of the parameter's shape on CPU in eager
        mode, with no gradient wanted (else None); a few torch calls cost more."""
        logits = self.logits
        if (
            value.numel() > _PYTHON_ENTRIES
            or value.shape != logits.shape
            or not value.numel()
            or (torch.is_grad_enabled() and (value.requires_grad or logits.requires_grad))
            or not _readable((value, logits))
        ):
            return None
        xs, ls = _flat_list(value), _flat_list(logits)
        if not all(0 <= x < math.inf for x in xs):  # NaN fails too
            return None
        k = value.shape[-1]
        lgamma = math.lgamma
        out = []
        for i in range(0, len(xs), k):
            row = xs[i : i + k]
            total = lgamma(sum(row) + 1.0)
            for x, log_p in zip(row, ls[i : i + k]):
                if x:  # 0 log 0 = 0
                    total += x * log_p - lgamma(x + 1.0)
            out.append(total)
        dtype = torch.promote_types(logits.dtype, value.dtype)
        return torch.tensor(out, dtype=dtype, device=value.device).view(value.shape[:-1])

    def _table_log_prob(self, value):
        """``sum_i (x_i log p_i - log x_i!) + log n!`` with ``log j!`` read from a table (the
        lgamma form's numbers at a fraction of its cost) and ``0 log 0 = 0``: for at least
        ``_TABLE_FROM`` integer counts below ``2**20`` (sums too) on CPU in eager mode, with no
        gradient wanted for the value (else None)."""
        logits = self.logits
        if (
            value.requires_grad
            or value.numel() < _TABLE_FROM
            or value.dtype not in (torch.float32, torch.float64)
            or not _readable((value, logits))
        ):
            return None
        low, high = (float(x) for x in torch.aminmax(value))
        k = value.shape[-1]
        if not (low >= 0 and high * k < _LOG_FACTORIAL_MAX):  # NaN fails too
            return None
        counts = value.to(torch.int32)
        if not torch.equal(counts.to(value.dtype), value):  # a fraction
            return None
        degenerate = self._cached("degenerate", lambda: bool((logits == -math.inf).any()))
        graph = torch.is_grad_enabled() and logits.requires_grad
        if degenerate and (graph or bool(logits.isnan().any())):
            return None  # the where form keeps gradients (and NaN) at p = 0
        dtype = torch.promote_types(logits.dtype, value.dtype)
        table = _log_factorial_table(int(high) * k, dtype, value.device)
        log_factorials = table.index_select(0, counts.reshape(-1)).view(value.shape)
        if graph or value.shape != broadcast_shapes(value.shape, logits.shape):
            terms = value * logits - log_factorials
        else:
            terms = log_factorials.neg_().addcmul_(value, logits)
        if degenerate:  # x log p is NaN at x = 0, p = 0 (there 0), -inf at x > 0, p = 0
            terms.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
        total = sum_last(counts)  # n, from the value
        log_n_factorial = table.index_select(0, total.reshape(-1)).view(total.shape)
        out = sum_last(terms)
        return out.add_(log_n_factorial) if out.shape == total.shape else out + log_n_factorial

    def _entropy(self):
        r"""``H = -log n! - n sum_i p_i log p_i + sum_i E[log X_i!]`` with
        :math:`X_i \sim \mathrm{Binomial}(n, p_i)` and
        :math:`E[\log X!] = \sum_{j=2}^{n} a_j p^j q^{n-j}`, :math:`a_j = \binom{n}{j} \log j!`,
        by Horner's rule in :math:`p` (steps ``y p + a_j q^{n-j}``) in float64: every term is
        nonnegative (no cancellation) and the form is exact at ``p = 0`` and ``1``. Beyond
        ``_HORNER_COUNT`` draws (where ``a_j`` would overflow), the pmf sum."""
        n = self.total_count
        p = self.probs
        if n > _HORNER_COUNT or p.device.type == "mps":
            return self._pmf_entropy()
        if n >= 2 and not torch.compiler.is_compiling() and _inplace_ok(p, self.logits):
            # no graph: log p's -inf at p = 0 made 0 in one pass (no mask, no where; a NaN
            # p stays NaN through p log p), then in blocks that stay in cache across the
            # ~3n passes
            log_p = self.logits.nan_to_num(nan=math.nan, posinf=math.inf, neginf=0.0)
            a = _horner_coefficients(n)
            return blockwise(lambda *t: _horner_entropy(*t, n, a, True), (p, log_p), (1, 1))
        # Safe-where: log p is -inf at p = 0, and 0 * -inf would put NaN in the gradient.
        log_p = torch.where(p > 0, self.logits, torch.zeros_like(p))
        if n < 2:
            return (p * log_p).sum(-1).mul(-n)
        if torch.compiler.is_compiling():  # n may be symbolic: no Python math on it
            j = torch.arange(n + 1, dtype=torch.float64, device=p.device)
            log_factorial = torch.lgamma(j + 1)
            log_choose = log_factorial[n] - log_factorial - log_factorial.flip(0)
            return _horner_entropy(p, log_p, n, log_choose.exp() * log_factorial, False)
        return _horner_entropy(p, log_p, n, _horner_coefficients(n), False)

    def _pmf_entropy(self):
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
        log_k_factorial = torch.lgamma(k + 1)
        log_choose = (log_n_factorial - log_k_factorial - torch.lgamma(n - k + 1)).view(
            (-1,) + (1,) * p.dim()
        )
        k = k.view((-1,) + (1,) * p.dim())
        # The selects act on (batch, K), not on every label: log p = -inf at p = 0 gives
        # k log p = -inf (k >= 2); log q clamped to the lowest float gives (n - k) log q =
        # -inf below k = n (or the lowest float at n - 1: exp is 0 either way) and 0 at k = n.
        finite = torch.finfo(p.dtype).min
        log_p_or_inf = torch.where(positive, log_p, -math.inf)
        log_q = torch.log1p(-torch.where(below_one, p, torch.zeros_like(p)))
        log_q = torch.where(below_one, log_q, finite).clamp(min=finite)
        exponent = k * log_p_or_inf + (n - k) * log_q + log_choose
        pmf = exponent.exp_() if not exponent.requires_grad else exponent.exp()
        expected_log_factorial = torch.tensordot(log_k_factorial, pmf, dims=([0], [0]))
        return entropy + expected_log_factorial.sum(-1)


_MAX_OUTCOMES = 1 << 14  # outcomes of a law table at most
_PYTHON_ENTRIES = 32  # log_prob in Python floats up to this many entries
_TABLE_FROM = 1 << 13  # log_prob with log j! from a table from this many entries
# draws at most for the entropy by Horner's rule (C(n, j) log j! stays below the float64 max)
_HORNER_COUNT = 1000
_log_factorial_cast: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def _log_factorial_table(top: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``log j!`` for ``j = 0 .. top`` at least (``binomial._log_factorials``), in ``dtype``
    (rounded once from float64)."""
    table = _log_factorials(top, device)
    if dtype == torch.float64:
        return table
    cast = _log_factorial_cast.get((dtype, device))
    if cast is None or cast.numel() != table.numel():
        cast = table.to(dtype)
        _log_factorial_cast[(dtype, device)] = cast
    return cast


@functools.lru_cache(maxsize=64)
def _horner_coefficients(n: int) -> list[float]:
    """``C(n, j) log j!`` for ``j = 0 .. n`` (Python floats, double precision)."""
    return [math.comb(n, j) * math.lgamma(j + 1) for j in range(n + 1)]


@functools.lru_cache(maxsize=16)
def _outcomes(n: int, k: int) -> torch.Tensor:
    """Every ``x`` in ``{0, ..., n}^k`` with ``sum x = n`` (float64, ``(C(n + k - 1, k - 1),
    k)``), the first count varying slowest."""
    if k == 1:
        return torch.tensor([[float(n)]], dtype=torch.float64)
    parts = []
    for first in range(n + 1):
        rest = _outcomes(n - first, k - 1)
        parts.append(torch.cat([torch.full((rest.shape[0], 1), float(first)), rest.double()], 1))
    return torch.cat(parts)


def _horner_entropy(p: torch.Tensor, log_p: torch.Tensor, n: int, a, inplace: bool):
    """:meth:`Multinomial._entropy` for ``n >= 2`` draws from ``p`` and its ``log p``
    (0 at ``p = 0``), with ``a`` from :func:`_horner_coefficients` (Python floats, or a
    float64 tensor while compiling), in float64, rounded once."""
    p64 = p.to(torch.float64)
    entropy = sum_last(p64 * log_p.to(torch.float64)).mul(-n).sub(a[n])
    if n == 2:
        return entropy.add_(sum_last(p64 * p64 * a[2])).to(p.dtype)
    q = 1 - p64
    # y = sum_{j >= m} a_j p^(j - m) q^(n - j), from m = n - 1 down to m = 2
    if inplace:
        y = torch.mul(p64, a[n]).add_(q, alpha=a[n - 1])
        power = q.clone()
        for j in range(n - 2, 1, -1):
            y.mul_(p64).add_(power.mul_(q), alpha=a[j])
        y.mul_(p64).mul_(p64)
    else:
        y = p64 * a[n] + q * a[n - 1]
        power = q
        for j in range(n - 2, 1, -1):
            power = power * q
            y = y * p64 + power * a[j]
        y = y * p64 * p64
    return entropy.add_(sum_last(y)).to(p.dtype)


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
