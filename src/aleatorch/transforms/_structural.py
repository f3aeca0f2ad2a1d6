"""Transforms built from other transforms or acting on shapes, torch's names and semantics.

* :class:`IndependentTransform`: a transform with extra rightmost dims counted as event
  dims (its log-det summed over them).
* :class:`ReshapeTransform`: reshapes the event; the log-det is 0.
* :class:`CatTransform`, :class:`StackTransform`: one transform per slice of ``x`` along a
  dim, as ``torch.cat``/``torch.stack`` would assemble them.

Each evaluates its parts through their value-and-log-det hooks, so a flow built from them
computes every part once.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch

from .. import constraints
from ..errors import ShapeError
from ._base import Transform, _sum_rightmost

__all__ = ["CatTransform", "IndependentTransform", "ReshapeTransform", "StackTransform"]


class IndependentTransform(Transform):
    r"""``base_transform`` with ``reinterpreted_batch_ndims`` more rightmost dims in its event.

    Values are those of the base; the log-det is the base's summed over the extra dims:

    .. math:: \log |\det J(x)| = \sum_{\text{extra dims}} \log |\det J_{\text{base}}(x)|

    Args:
        base_transform: the transform applied.
        reinterpreted_batch_ndims: how many batch dims of the base become event dims.
        cache_size: 0 or 1 (the base gets the same).
    """

    def __init__(
        self,
        base_transform: Transform,
        reinterpreted_batch_ndims: int,
        cache_size: int = 0,
    ) -> None:
        if not isinstance(base_transform, Transform):
            raise TypeError(
                "IndependentTransform: base_transform must be a Transform, got "
                f"{type(base_transform).__name__}"
            )
        try:
            ndims = operator.index(reinterpreted_batch_ndims)
        except TypeError:
            ndims = -1
        if ndims < 0:
            raise ValueError(
                "IndependentTransform: reinterpreted_batch_ndims must be an integer >= 0, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = ndims

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(
            self.base_transform, self.reinterpreted_batch_ndims, cache_size=cache_size
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, IndependentTransform)
            and self.reinterpreted_batch_ndims == other.reinterpreted_batch_ndims
            and self.base_transform == other.base_transform
        )

    __hash__ = Transform.__hash__

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return constraints.independent(self.base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return self.base_transform.bijective

    @property
    def sign(self) -> Any:
        return self.base_transform.sign

    def _check_dims(self, t: torch.Tensor, event_dim: int, what: str) -> None:
        if t.dim() < event_dim:
            raise ShapeError(
                f"IndependentTransform: the {what} needs at least {event_dim} dims (its event "
                f"dims), got shape {tuple(t.shape)}"
            )

    def _call(self, x):
        self._check_dims(x, self.domain.event_dim, "input")
        return self.base_transform(x)

    def _inverse(self, y):
        self._check_dims(y, self.codomain.event_dim, "output")
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        ladj = self.base_transform.log_abs_det_jacobian(x, y)
        return _sum_rightmost(ladj, self.reinterpreted_batch_ndims)

    def _call_and_ladj(self, x):
        self._check_dims(x, self.domain.event_dim, "input")
        y, ladj = self.base_transform.call_and_ladj(x)
        return y, _sum_rightmost(ladj, self.reinterpreted_batch_ndims)

    def _inverse_and_ladj(self, y):
        self._check_dims(y, self.codomain.event_dim, "output")
        x, ladj = self.base_transform.inverse_and_ladj(y)
        return x, _sum_rightmost(ladj, self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self) -> str:
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    r"""Reshape the rightmost ``in_shape`` of ``x`` to ``out_shape`` (batch dims kept).

    A permutation-free relabelling of coordinates, so ``log |det J| = 0``.

    Args:
        in_shape: the event shape of an input.
        out_shape: the event shape of an output (as many elements as ``in_shape``).
        cache_size: 0 or 1.
    """

    bijective = True

    def __init__(
        self,
        in_shape: torch.Size,
        out_shape: torch.Size,
        cache_size: int = 0,
    ) -> None:
        self.in_shape = torch.Size(in_shape)
        self.out_shape = torch.Size(out_shape)
        if self.in_shape.numel() != self.out_shape.numel():
            raise ValueError(
                f"ReshapeTransform: in_shape {tuple(self.in_shape)} and out_shape "
                f"{tuple(self.out_shape)} have different numbers of elements "
                f"({self.in_shape.numel()} and {self.out_shape.numel()})"
            )
        super().__init__(cache_size=cache_size)

    @constraints.dependent_property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @constraints.dependent_property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ReshapeTransform)
            and self.in_shape == other.in_shape
            and self.out_shape == other.out_shape
        )

    __hash__ = Transform.__hash__

    @staticmethod
    def _batch(shape, event: torch.Size, what: str) -> torch.Size:
        """``shape`` without its rightmost ``event``; ``ShapeError`` if it does not end so."""
        shape = torch.Size(shape)
        cut = len(shape) - len(event)
        if cut < 0 or shape[cut:] != event:
            raise ShapeError(
                f"ReshapeTransform: the {what} shape {tuple(shape)} does not end with the "
                f"event shape {tuple(event)}"
            )
        return shape[:cut]

    def _call(self, x):
        return x.reshape(self._batch(x.shape, self.in_shape, "input") + self.out_shape)

    def _inverse(self, y):
        return y.reshape(self._batch(y.shape, self.out_shape, "output") + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(self._batch(x.shape, self.in_shape, "input"))

    def forward_shape(self, shape):
        return self._batch(shape, self.in_shape, "input") + self.out_shape

    def inverse_shape(self, shape):
        return self._batch(shape, self.out_shape, "output") + self.in_shape

    def __repr__(self) -> str:
        return (
            f"ReshapeTransform(in_shape={tuple(self.in_shape)}, out_shape={tuple(self.out_shape)})"
        )


def _check_transforms(name: str, tseq: Sequence[Transform]) -> list[Transform]:
    tseq = list(tseq)
    if not tseq:
        raise ValueError(f"{name}: tseq must hold at least one transform")
    for t in tseq:
        if not isinstance(t, Transform):
            raise TypeError(
                f"{name}: every element of tseq must be a Transform, got {type(t).__name__}"
            )
    return tseq


def _joint_sign(name: str, parts: list[Transform], counts: list[int], dim: int, stack: bool) -> Any:
    """The sign of monotone parts laid out along ``dim`` (part ``i`` covers ``counts[i]``
    entries of ``dim``; a stacked part's sign lacks ``dim``).

    One value when every entry agrees; otherwise, for a negative ``dim``, a tensor that
    broadcasts against ``x``. A ``dim >= 0`` fixes no position from the right, so mixed
    signs along it raise ``NotImplementedError`` (as does a part without a sign).
    """
    signs = [part.sign for part in parts]
    if all(isinstance(s, (int, float)) for s in signs) and all(s == signs[0] for s in signs):
        return signs[0]
    device = next((s.device for s in signs if isinstance(s, torch.Tensor)), None)
    tensors = [torch.as_tensor(s, device=device) for s in signs]
    first = tensors[0].reshape(-1)[0]
    if all(bool((t == first).all()) for t in tensors):
        return first
    if dim >= 0:
        raise NotImplementedError(
            f"{name}: the parts' signs differ along dim {dim}, which counts from the left; "
            "with a negative dim the sign is a tensor"
        )
    # Give every sign the dims of x from ``dim`` rightwards, then lay them out along dim.
    laid = []
    for t in tensors:
        if stack:
            t = t.reshape((1,) * max(0, -dim - 1 - t.dim()) + t.shape).unsqueeze(dim)
        else:
            t = t.reshape((1,) * max(0, -dim - t.dim()) + t.shape)
        laid.append(t)
    ndim = max(t.dim() for t in laid)
    laid = [t.reshape((1,) * (ndim - t.dim()) + t.shape) for t in laid]
    at = ndim + dim
    common = torch.broadcast_shapes(*[t.shape[:at] + (1,) + t.shape[at + 1 :] for t in laid])
    laid = [
        t.expand(common[:at] + (count if t.shape[at] == 1 else t.shape[at],) + common[at + 1 :])
        for t, count in zip(laid, counts)
    ]
    return torch.cat(laid, dim=at)


class CatTransform(Transform):
    r"""Apply ``tseq[i]`` to the ``i``-th block of ``x`` along ``dim`` (``lengths[i]``
    entries) and concatenate the results, as ``torch.cat``.

    The event dim is the largest of the parts'. Each part's log-det is summed over the event
    dims it lacks; the blocks' log-dets are then concatenated along ``dim`` when ``dim`` is a
    batch dim, and added when it lies inside the event (torch's rule)::

        t = CatTransform([ExpTransform(), identity_transform], dim=-1, lengths=[2, 3])
        y = t(x)  # x[..., :2].exp() next to x[..., 2:]

    Args:
        tseq: the transforms, one per block.
        dim: the dim along which ``x`` is split.
        lengths: the blocks' sizes along ``dim`` (default: 1 each).
        cache_size: 0 or 1 (the parts get the same when 1).
    """

    transforms: list[Transform]

    def __init__(
        self,
        tseq: Sequence[Transform],
        dim: int = 0,
        lengths: Sequence[int] | None = None,
        cache_size: int = 0,
    ) -> None:
        tseq = _check_transforms("CatTransform", tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = tseq
        self.lengths = [1] * len(tseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(
                f"CatTransform: {len(self.lengths)} lengths for {len(self.transforms)} transforms"
            )
        self.dim = dim

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self) -> int:
        """The size of ``x`` along ``dim``: the sum of ``lengths``."""
        return sum(self.lengths)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CatTransform)
            and self.dim == other.dim
            and self.lengths == other.lengths
            and self.transforms == other.transforms
        )

    __hash__ = Transform.__hash__

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @property
    def sign(self) -> Any:
        return _joint_sign("CatTransform", self.transforms, self.lengths, self.dim, stack=False)

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    def _blocks(self, z: torch.Tensor, what: str) -> list[torch.Tensor]:
        if not -z.dim() <= self.dim < z.dim():
            raise ShapeError(
                f"CatTransform: dim {self.dim} is out of range for the {what} of shape "
                f"{tuple(z.shape)}"
            )
        if z.size(self.dim) != self.length:
            raise ShapeError(
                f"CatTransform: the {what} has size {z.size(self.dim)} along dim {self.dim}, "
                f"expected sum(lengths) = {self.length}"
            )
        return list(z.split(self.lengths, dim=self.dim))

    def _join_ladj(self, ladjs: list[torch.Tensor], ndim: int) -> torch.Tensor:
        event_dim = self.event_dim
        ladjs = [
            _sum_rightmost(ladj, event_dim - t.domain.event_dim)
            for t, ladj in zip(self.transforms, ladjs)
        ]
        # ``dim`` counted from the right of the log-det: negative iff it is a batch dim.
        dim = (self.dim - ndim if self.dim >= 0 else self.dim) + event_dim
        if dim < 0:
            return torch.cat(ladjs, dim=dim)
        total = ladjs[0]
        for ladj in ladjs[1:]:
            total = total + ladj
        return total

    def _call(self, x):
        blocks = self._blocks(x, "input")
        return torch.cat([t(b) for t, b in zip(self.transforms, blocks)], dim=self.dim)

    def _inverse(self, y):
        blocks = self._blocks(y, "output")
        return torch.cat([t.inv(b) for t, b in zip(self.transforms, blocks)], dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        pairs = zip(self.transforms, self._blocks(x, "input"), self._blocks(y, "output"))
        ladjs = [t.log_abs_det_jacobian(a, b) for t, a, b in pairs]
        return self._join_ladj(ladjs, x.dim())

    def _call_and_ladj(self, x):
        pairs = [t.call_and_ladj(b) for t, b in zip(self.transforms, self._blocks(x, "input"))]
        y = torch.cat([p[0] for p in pairs], dim=self.dim)
        return y, self._join_ladj([p[1] for p in pairs], x.dim())

    def _inverse_and_ladj(self, y):
        blocks = self._blocks(y, "output")
        pairs = [t.inverse_and_ladj(b) for t, b in zip(self.transforms, blocks)]
        x = torch.cat([p[0] for p in pairs], dim=self.dim)
        return x, self._join_ladj([p[1] for p in pairs], x.dim())

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"CatTransform([{inner}], dim={self.dim}, lengths={self.lengths})"


class StackTransform(Transform):
    r"""Apply ``tseq[i]`` to ``x.select(dim, i)`` and stack the results, as ``torch.stack``.

    The log-dets of the slices are stacked along ``dim`` too (torch's rule; see the note)::

        t = StackTransform([ExpTransform(), identity_transform], dim=0)
        y = t(x)  # x[0].exp() stacked with x[1]

    Note:
        The domain's event dim follows torch's ``constraints.stack`` (the parts' largest,
        plus one when ``dim`` plus that is negative), while the log-det always keeps one
        entry per slice along ``dim``. The two agree for ``dim >= 0``; with a negative
        ``dim`` the log-det can have more dims than ``x.shape[:-event_dim]`` (as in torch),
        so sum it over ``dim`` where one value per event is needed.

    Args:
        tseq: the transforms, one per slice (``x.size(dim) == len(tseq)``).
        dim: the dim along which ``x`` is sliced.
        cache_size: 0 or 1 (the parts get the same when 1).
    """

    transforms: list[Transform]

    def __init__(self, tseq: Sequence[Transform], dim: int = 0, cache_size: int = 0) -> None:
        tseq = _check_transforms("StackTransform", tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = tseq
        self.dim = dim

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StackTransform)
            and self.dim == other.dim
            and self.transforms == other.transforms
        )

    __hash__ = Transform.__hash__

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @property
    def sign(self) -> Any:
        counts = [1] * len(self.transforms)
        return _joint_sign("StackTransform", self.transforms, counts, self.dim, stack=True)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

    def _slices(self, z: torch.Tensor, what: str) -> tuple[torch.Tensor, ...]:
        if not -z.dim() <= self.dim < z.dim():
            raise ShapeError(
                f"StackTransform: dim {self.dim} is out of range for the {what} of shape "
                f"{tuple(z.shape)}"
            )
        if z.size(self.dim) != len(self.transforms):
            raise ShapeError(
                f"StackTransform: the {what} has size {z.size(self.dim)} along dim "
                f"{self.dim}, expected one entry per transform ({len(self.transforms)})"
            )
        return z.unbind(self.dim)

    def _call(self, x):
        slices = self._slices(x, "input")
        return torch.stack([t(s) for t, s in zip(self.transforms, slices)], dim=self.dim)

    def _inverse(self, y):
        slices = self._slices(y, "output")
        return torch.stack([t.inv(s) for t, s in zip(self.transforms, slices)], dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        pairs = zip(self.transforms, self._slices(x, "input"), self._slices(y, "output"))
        return torch.stack([t.log_abs_det_jacobian(a, b) for t, a, b in pairs], dim=self.dim)

    def _call_and_ladj(self, x):
        slices = self._slices(x, "input")
        pairs = [t.call_and_ladj(s) for t, s in zip(self.transforms, slices)]
        y = torch.stack([p[0] for p in pairs], dim=self.dim)
        return y, torch.stack([p[1] for p in pairs], dim=self.dim)

    def _inverse_and_ladj(self, y):
        slices = self._slices(y, "output")
        pairs = [t.inverse_and_ladj(s) for t, s in zip(self.transforms, slices)]
        x = torch.stack([p[0] for p in pairs], dim=self.dim)
        return x, torch.stack([p[1] for p in pairs], dim=self.dim)

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"StackTransform([{inner}], dim={self.dim})"
