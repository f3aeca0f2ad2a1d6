"""The categorical distribution over ``{0, ..., K - 1}``."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from itertools import accumulate
from typing import Any

import torch
from torch.autograd import forward_ad

from .. import constraints
from ..distribution import Distribution, _no_caching, will_validate
from ..errors import ParameterError
from ..kl import register_kl
from ..utils import (
    _SHORT_SUM,
    _WRITTEN_OUT_FROM,
    _flat_list,
    _inplace_ok,
    _readable,
    broadcast_shapes,
    lazy_property,
    softmax_last,
    sum_last,
)
from ._params import GivenParameter, probs_or_logits, rsample_hint

__all__ = ["Categorical"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)
_BLOCK_ENTRIES = 1 << 20
# Over a last dim this short (on tensors of at least utils._WRITTEN_OUT_FROM entries) the
# sampler compares its targets with each running sum of the categories (utils.sum_last)
# instead of searching: searchsorted costs ~7 ns per row (2.5 ms for 333333 rows of 3, the
# comparisons 0.4 ms).
_SHORT_SEARCH = 16
# Up to this many labels (batch rows x draws), from at most this many probabilities, the
# sampler's inverse cdf runs on Python floats (CPU eager): its ~8 torch calls on a few
# entries cost more than the Python (3 x 3 logits, one draw each: sample 31 -> 21 us).
_PYTHON_LABELS = 64
_PYTHON_PROBS = 256


def normalized_probs_or_logits(
    owner: str, probs: Any, logits: Any, validate_args: bool | None = None
) -> tuple[str, torch.Tensor]:
    """The given parametrization, normalized along the last dim (probs sum to 1, logsumexp 0).

    When validating, rows that cannot be normalized (an infinite entry, probs summing to 0,
    every logit -inf) are reported as such, before normalizing turns them into NaN.
    """
    name, param, _ = _normalized_given(owner, probs, logits, validate_args)
    return name, param


def _normalized_given(
    owner: str, probs: Any, logits: Any, validate_args: bool | None
) -> tuple[str, torch.Tensor, bool]:
    """:func:`normalized_probs_or_logits`, and whether validation has already found the
    normalized probs a probability vector (see :func:`_normalized_probs`)."""
    name, param = probs_or_logits(owner, probs, logits)
    if param.dim() < 1:
        raise ParameterError(
            f"{owner}: parameter '{name}' must have at least one dim (the categories, last), "
            f"but it is a scalar"
        )
    if param.shape[-1] == 0:
        raise ParameterError(
            f"{owner}: parameter '{name}' has shape {tuple(param.shape)}: its last dim (the "
            "categories) is empty, and a distribution needs at least one category"
        )
    if name == "probs":
        return (name, *_normalized_probs(owner, param, validate_args))
    # Shifting by the max first is exact for nearby large logits (1e4 and 1e4 - 1 in float32),
    # where subtracting a rounded logsumexp would cost the ulp of 1e4.
    # The max is detached: the result does not depend on it.
    # (keepdim reductions on small tensors: two unsqueeze calls fewer)
    small = param.numel() < _WRITTEN_OUT_FROM
    top = param.detach().amax(-1, keepdim=True) if small else max_last(param.detach()).unsqueeze(-1)
    if will_validate(validate_args) and not _logits_normalizable(param):
        _check_normalizable(owner, name, param, top != -math.inf, param == math.inf)
    shifted = param - top
    total = shifted.exp().sum(-1, keepdim=True) if small else sum_last(shifted.exp()).unsqueeze(-1)
    return name, shifted - total.log(), False


def _normalized_probs(
    owner: str, param: torch.Tensor, validate_args: bool | None
) -> tuple[torch.Tensor, bool]:
    """``(probs / |sum|, checked)``: ``checked`` says that validation has already found the
    result a probability vector (0/0 and inf/inf give NaN, which fails that check), so
    the ``simplex`` check of construction can be skipped; otherwise, when validating, rows
    that cannot be normalized are reported as such."""
    total = sum_last(param).unsqueeze(-1)
    # Dividing by |sum| keeps the sign of negative entries, so validation still sees them
    # when every entry is negative.
    probs = param / total.abs()
    if not will_validate(validate_args):
        return probs, False
    if constraints.simplex.all_ok(probs):
        return probs, True
    _check_normalizable(owner, "probs", param, total != 0, param.isinf())
    return probs, False


def _logits_normalizable(logits: torch.Tensor) -> bool:
    """True when a Python look at a few CPU entries shows no +inf and a finite maximum in
    every row (~2 us against ~16 us for the tensor check); False (run the tensor check,
    which raises if need be) otherwise, or when the entries cannot be read for free."""
    flat = constraints._entries(logits)
    if flat is None or math.inf in flat:
        return False
    k = logits.shape[-1]
    return all(max(flat[i : i + k]) > -math.inf for i in range(0, len(flat), k))


def _check_normalizable(
    owner: str, name: str, param: torch.Tensor, row_ok: torch.Tensor, infinite: torch.Tensor
) -> None:
    """Raise for rows with no mass (``row_ok`` False) or with an infinite entry."""
    row_ok = row_ok.squeeze(-1)
    if param.numel() == 0 or bool(row_ok.all() & ~infinite.any()):
        return
    where = lambda index: "[" + ", ".join(map(str, index)) + "]"  # noqa: E731
    if not bool(row_ok.all()):
        rows = (~row_ok).nonzero().tolist()
        empty = "sum to 0" if name == "probs" else "are all -inf"
        shown = ", ".join(f"{name}{where(r)}" for r in rows[:3]) if param.dim() > 1 else name
        more = f" and {len(rows) - 3} more rows" if len(rows) > 3 else ""
        raise ParameterError(
            f"{owner}: the entries of {shown}{more} {empty}: no category has positive "
            f"probability, so {name} cannot be normalized"
        )
    entries = infinite.nonzero().tolist()
    shown = ", ".join(f"{name}{where(i)}" for i in entries[:3])
    more = f" and {len(entries) - 3} more" if len(entries) > 3 else ""
    rule, found = ("finite or -inf", "+inf") if name == "logits" else ("finite", "infinite")
    verb = "is" if len(entries) == 1 else "are"
    raise ParameterError(
        f"{owner}: parameter '{name}' must be {rule}, but {shown}{more} {verb} {found}"
    )


def max_last(x: torch.Tensor) -> torch.Tensor:
    """``x.amax(-1)``, as a running maximum over a short last dim of a large tensor."""
    k = x.shape[-1]
    if k < 2 or k > _SHORT_SUM or x.numel() < _WRITTEN_OUT_FROM:
        return x.amax(-1)
    cols = x.unbind(-1)
    top = torch.maximum(cols[0], cols[1])
    for col in cols[2:]:
        top = torch.maximum(top, col)
    return top


def _count_below(rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """For rows of ``k`` probabilities and uniforms ``u`` (one row of draws per row): the
    number of running sums ``c_0 <= ... <= c_{k-2}`` below ``t = (1 - u) c_{k-1}``, as uint8.

    That count is the smallest label ``j`` with ``c_j >= t`` (searchsorted's answer): ``t``
    lies in ``(0, c_{k-1}]``, so a zero-probability label (``c_j = c_{j-1}``, or ``c_0 = 0``)
    is never returned and the count never passes the last label.
    """
    cols = rows.unbind(-1)
    running = [cols[0]]
    for col in cols[1:]:
        running.append(running[-1] + col)
    target = torch.rsub(u, 1).mul_(running[-1].unsqueeze(-1))
    count = torch.lt(running[0].unsqueeze(-1), target).to(torch.uint8)
    for c in running[1:-1]:
        count += torch.lt(c.unsqueeze(-1), target)
    return count


def python_labels(d: Any, sample_shape: torch.Size, generator: Any) -> list[int] | None:
    """The labels of ``Categorical._labels`` computed on Python floats (float64) from the
    same uniforms, as a flat list (``sample_shape + batch_shape`` order), for ``d``
    (normalized ``probs`` or ``logits``) with few labels on CPU in eager mode; else None.

    For each row of running sums ``c`` of the probabilities (normalized logits are
    exponentiated here), the smallest label ``j`` with ``c_j >= (1 - u) c_{k-1}``. As in
    the tensor path, the target lies in ``(0, c_{k-1}]``, so no zero-probability label is
    returned and none past the last. Rows that validation would have rejected raise a
    RuntimeError (the ``min`` is a second guard).
    """
    param = d._param
    k = param.shape[-1]
    n = math.prod(sample_shape)
    rows = param.numel() // k
    if rows * n > _PYTHON_LABELS or param.numel() > _PYTHON_PROBS or not _readable((param,)):
        return None
    if torch._C._are_functorch_transforms_active():  # vmap: the uniforms would be batched
        return None
    dtype = torch.float32 if param.dtype in _LOW_PRECISION else param.dtype
    u = torch.rand((rows, n), dtype=dtype, device=param.device, generator=generator)
    weights = _flat_list(param)
    if d._given == "logits":  # normalized logits are <= 0 (up to rounding): no overflow
        weights = [math.exp(min(w, 0.0)) for w in weights]
    cdfs = [list(accumulate(weights[i : i + k])) for i in range(0, len(weights), k)]
    if (weights and min(weights) < 0) or not all(0 < cdf[-1] < math.inf for cdf in cdfs):
        # as torch's kernels do; the base class then names the parameter (validation off)
        raise RuntimeError("categorical sampling: probabilities negative, NaN, or not summable")
    draws = _flat_list(u)
    last = k - 1
    return [
        min(bisect_left(cdf, (1.0 - draws[r * n + j]) * cdf[-1]), last)
        for j in range(n)
        for r, cdf in enumerate(cdfs)
    ]


# int32 row numbers 0, 1, ..., kept for take_last up to this many rows (4 MB)
_ROWS_KEPT = 1 << 20
_rows = torch.empty(0, dtype=torch.int32)


def _row_numbers(n: int) -> torch.Tensor:
    """``arange(n)`` as int32 (CPU), a slice of one kept table when ``n <= _ROWS_KEPT``."""
    global _rows
    rows = _rows
    if rows.numel() >= n:
        return rows[:n]
    with torch.inference_mode(False):  # a normal tensor, usable outside inference mode
        rows = torch.arange(n, dtype=torch.int32)
    if n <= _ROWS_KEPT:
        _rows = rows
    return rows


# take_last's window: at least this many labels, a table of at most this many bytes
_TAKE_FROM = 1 << 16
_TAKE_BYTES = 8 << 20


def take_last(table: torch.Tensor, labels: torch.Tensor, checked: bool) -> torch.Tensor | None:
    """``table[..., labels]`` for integer ``labels`` of shape ``table.shape[:-1]`` (CPU eager),
    as ``index_select`` on the flat table at ``K r + label`` (row ``r``, int32). ``gather``
    over a short last dim loops per entry (333k rows of 3: 0.49 ms, this 0.41 ms, 0.31 ms
    when ``checked``); it wins again below 64k labels (the extra calls) and once the
    labels, the index and the table outgrow the cache (1M rows of 3: 1.6 ms, this 2.3 ms),
    hence the window. None outside it, or when a label is outside ``0..K-1`` (unless
    ``checked``), which would silently read a neighbouring row: the caller's ``gather``
    then raises as it should."""
    k = table.shape[-1]
    n = labels.numel()
    if (
        n < _TAKE_FROM
        or k > _SHORT_SUM
        or table.numel() * table.element_size() > _TAKE_BYTES
        or labels.is_floating_point()
        or labels.dtype == torch.bool
        or labels.shape != table.shape[:-1]
        or not table.is_contiguous()
        or not _readable((table, labels))
    ):
        return None
    if not checked:
        low, high = torch.aminmax(labels)
        if low.item() < 0 or high.item() >= k:
            return None
    index = labels.reshape(-1).to(torch.int32, copy=True).add_(_row_numbers(n), alpha=k)
    return table.view(-1).index_select(0, index).view(labels.shape)


def log_of_probs(probs: torch.Tensor) -> torch.Tensor:
    """``log(probs)``, exactly -inf at 0 (and below), with a finite gradient there
    (safe-where); a plain ``log`` of ``max(p, 0)`` where no derivative can be taken."""
    if not (probs.requires_grad or _no_caching() or forward_ad._current_level >= 0):
        return probs.clamp(min=0).log()
    positive = probs > 0
    safe = torch.where(positive, probs, torch.ones_like(probs))
    return torch.where(positive, safe.log(), torch.full_like(probs, -math.inf))


class CategoricalParameter(GivenParameter):
    """:class:`GivenParameter` for normalized category probabilities and their logits."""

    @lazy_property
    def logits(self) -> torch.Tensor:
        return log_of_probs(self.probs)

    @lazy_property
    def probs(self) -> torch.Tensor:
        logits = self.logits
        k = logits.shape[-1]
        if k < 2 or k > _SHORT_SUM or logits.numel() < _WRITTEN_OUT_FROM:
            return softmax_last(logits)
        # exp(x - max) / sum, with the max and the sum written out (see sum_last)
        e = (logits - max_last(logits.detach()).unsqueeze(-1)).exp()
        return e / sum_last(e).unsqueeze(-1)


class Categorical(CategoricalParameter, Distribution):
    r"""Categorical distribution over the labels ``0, ..., K - 1``.

    .. math:: P(X = k) = p_k, \quad k \in \{0, \dots, K - 1\}

    The last dim of the parameter indexes the categories; the others are batch dims.
    Give exactly one of ``probs`` (nonnegative, normalized along the last dim) or ``logits``
    (unnormalized log-probabilities, normalized with logsumexp; ``-inf`` gives probability 0).
    The other one is derived lazily. Samples are ``int64`` labels.

    Args:
        probs: category weights :math:`p` (shape ``batch_shape + (K,)``).
        logits: category log-weights :math:`\log p + c`.

    Example:
        >>> import aleatorch as D
        >>> D.Categorical(probs=torch.tensor([0.2, 0.3, 0.5])).log_prob(torch.tensor(2))
        tensor(-0.6931)
    """

    _integer_values = True  # labels index the probabilities as they are
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    @property
    def _rsample_hint(self) -> str:
        return rsample_hint("RelaxedOneHotCategorical")

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        name, param, checked = _normalized_given(type(self).__name__, probs, logits, validate_args)
        self._set_given(name, param)
        if checked:
            self._given_checked = True
        super().__init__(param.shape[:-1], validate_args=validate_args)

    def _validate_parameters(self) -> None:
        # Construction has already checked the normalized probs (see _normalized_probs).
        if not self.__dict__.pop("_given_checked", False):
            super()._validate_parameters()

    @property
    def _num_events(self) -> int:
        return self._param.size(-1)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> torch.Tensor:
        # Labels are unordered names: no mean (NaN, as torch).
        p = self._param
        return torch.full(self._batch_shape, math.nan, dtype=p.dtype, device=p.device)

    @property
    def variance(self) -> torch.Tensor:
        return self.mean

    @property
    def mode(self) -> torch.Tensor:
        return self._param.argmax(-1)

    def _cumulative_probs(self) -> torch.Tensor:
        probs = self.probs
        if probs.dtype in _LOW_PRECISION:
            # A half-precision running sum drifts by ~K eps; sum in float32 instead.
            probs = probs.float()
        return probs.cumsum(-1)

    def _sample(self, sample_shape, generator):
        return self._labels(sample_shape, generator).long()

    def _labels(self, sample_shape, generator) -> torch.Tensor:
        """The labels of ``sample_shape`` draws: uint8 over at most ``_SHORT_SEARCH``
        categories (a cheaper array to build on, see ``OneHotCategorical``), else int64."""
        # Inverse cdf: the smallest label whose cdf reaches (1 - u) times the total, much
        # cheaper than torch.multinomial.
        labels = python_labels(self, sample_shape, generator)
        if labels is not None:
            # (frombuffer: ~1 us against ~6 us for torch.tensor of a list; an exact tuple
            # parses faster than a torch.Size)
            shape = tuple(self._extended_shape(sample_shape))
            if not labels:
                return torch.zeros(shape, dtype=torch.int64)
            return torch.frombuffer(array("q", labels), dtype=torch.int64).view(shape)
        probs = self.probs
        if probs.dtype in _LOW_PRECISION:
            probs = probs.float()
        k = self._num_events
        rows = probs.reshape(-1, k)
        n = math.prod(sample_shape)
        u = torch.rand(
            (rows.shape[0], n), dtype=probs.dtype, device=probs.device, generator=generator
        )
        if 2 <= k <= _SHORT_SEARCH and u.numel() >= _WRITTEN_OUT_FROM:
            return _count_below(rows, u).T.reshape(self._extended_shape(sample_shape))
        # On CPU, work through the rows in blocks of ~4 MB: a cdf table the size of probs
        # would be a fresh large allocation per call, whose page faults cost more than the
        # cumsum itself. In one piece on CUDA, under torch.compile and under torch.func
        # transforms (whose batching rules have no out= variant of searchsorted).
        whole = (
            probs.is_cuda
            or torch.compiler.is_compiling()
            or torch._C._functorch.is_functorch_wrapped_tensor(probs)
        )
        block = rows.shape[0] if whole else max(1, _BLOCK_ENTRIES // k)
        if block >= rows.shape[0]:
            cdf = rows.cumsum(-1)
            target = torch.rsub(u, 1).mul_(cdf[:, -1:])
            return torch.searchsorted(cdf, target).T.reshape(self._extended_shape(sample_shape))
        index = torch.empty(u.shape, dtype=torch.long, device=probs.device)
        for start in range(0, rows.shape[0], block):
            cdf = rows[start : start + block].cumsum(-1)
            # (1 - u) * total lies in (0, total]: the first cdf entry >= it is never a
            # zero-probability label (its cdf equals its predecessor's, or is 0 for label 0)
            # and never past the last label.
            target = torch.rsub(u[start : start + block], 1).mul_(cdf[:, -1:])
            torch.searchsorted(cdf, target, out=index[start : start + block])
        return index.T.reshape(self._extended_shape(sample_shape))

    def _gather(
        self, table: torch.Tensor, value: torch.Tensor, checked: bool = False
    ) -> torch.Tensor:
        """``table[..., value]``: the entry of each value's label, broadcast over the batch
        (``checked``: the labels are known to lie in ``0..K-1``)."""
        picked = take_last(table, value, checked)
        if picked is not None:
            return picked
        if value.dtype is not torch.int64:  # (a no-op .long() costs ~1 us)
            value = value.long()
        index = value.unsqueeze(-1)
        if index.shape[:-1] != table.shape[:-1]:
            index, table = torch.broadcast_tensors(index, table)
            index = index[..., :1]
        return table.gather(-1, index).squeeze(-1)

    def _log_prob(self, value):
        # (the labels' range is checked again even when validating: wrappers such as
        # Independent and MixtureSameFamily call _log_prob on values they did not check)
        if self._given == "probs":
            # Gather first, then log only the gathered entries (log 0 = -inf exactly).
            picked = self._gather(self.probs, value)
            return picked.log_() if _inplace_ok(picked) else picked.log()
        return self._gather(self.logits, value)

    def _cdf(self, value):
        cdf = self._cumulative_probs().to(self._param.dtype)
        return self._gather(cdf, value).clamp(max=1)

    def _survival_function(self, value):
        # sum_{j > k} p_j summed from the top, accurate where the cdf is close to 1.
        probs = self.probs
        tail = probs.flip(-1).cumsum(-1).flip(-1)
        tail = torch.cat([tail[..., 1:], torch.zeros_like(tail[..., :1])], -1)
        return self._gather(tail, value).clamp(max=1)

    def _icdf(self, value):
        cdf = self._cumulative_probs()
        shape = broadcast_shapes(value.shape, self._batch_shape)
        nb = len(self._batch_shape)
        lead, batch = shape[: len(shape) - nb], shape[len(shape) - nb :]
        cdf = cdf.expand(batch + cdf.shape[-1:])
        q = value.to(cdf.dtype).expand(shape).reshape((math.prod(lead),) + batch).movedim(0, -1)
        # The smallest label with cdf >= q, against the cdf's own total so that rounding
        # cannot run past the last label; zero-probability labels are never returned for
        # q > 0 (q = 0 gives the lowest label).
        index = torch.searchsorted(cdf.contiguous(), (q * cdf[..., -1:]).contiguous())
        return index.movedim(-1, 0).reshape(lead + batch)

    def _entropy(self):
        # -sum p log p with 0 log 0 = 0: the -inf log-probabilities of p = 0 become 0 (one
        # pass), whose gradient is 0; a clamp to -finfo.max would give a gradient that
        # overflows under any factor above 1.
        return sum_last(self.probs * self.logits.nan_to_num(neginf=0.0)).neg_()

    def _enumerate_support(self):
        values = torch.arange(self._num_events, device=self._param.device)
        return values.view((-1,) + (1,) * len(self._batch_shape))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> torch.Tensor:
    # KL = sum_k p_k (log p_k - log q_k), with 0 log(0 / q) = 0 and p log(p / 0) = inf.
    pp = p.probs
    positive = pp > 0
    diff = torch.where(positive, p.logits - q.logits, torch.zeros_like(pp))
    return (pp * diff).sum(-1)
