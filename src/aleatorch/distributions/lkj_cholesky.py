"""The LKJ distribution over Cholesky factors of correlation matrices."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from .. import constraints
from .._samplers import standard_gamma
from ..distribution import Distribution
from ..errors import ParameterError
from ..special.incomplete_beta import _lgamma_ratio
from ..utils import _readable, as_params

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    r"""LKJ distribution of the lower Cholesky factor :math:`L` of a correlation matrix.

    The correlation matrix :math:`C = L L^\top` has density proportional to
    :math:`\det(C)^{\eta - 1}`; with the Jacobian of the Cholesky map, the density of the
    strictly-lower entries of :math:`L` is

    .. math::
        p(L) = \frac{1}{c_d(\eta)} \prod_{i=2}^{d} L_{ii}^{\,d - i + 2(\eta - 1)}

    with :math:`c_d(\eta)` the LKJ normalizing constant (Lewandowski, Kurowicka & Joe 2009).

    Support: lower-triangular matrices with a positive diagonal and rows of unit norm
    (``event_shape == (dim, dim)``). Sampling is the onion method (same paper, §3.2): row
    :math:`i` is :math:`\sqrt{y_i}\, u_i` on its first :math:`i` entries, with :math:`u_i`
    uniform on the unit sphere and :math:`y_i \sim \mathrm{Beta}(i/2, \eta + (d - 2)/2 -
    (i - 1)/2)`, and :math:`\sqrt{1 - y_i}` on the diagonal. There is no ``rsample``.

    Args:
        dim: the dimension :math:`d \ge 2` of the matrices.
        concentration: the shape :math:`\eta > 0` (1 gives uniform correlation matrices).

    Example:
        >>> import aleatorch as D
        >>> D.LKJCholesky(2, 1.0).log_prob(torch.eye(2))
        tensor(-0.6931)
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration: Any = 1.0, validate_args: bool | None = None):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ParameterError(
                f"{self._name}: 'dim' must be an integer of at least 2, but it is {dim!r}"
            )
        self.dim = dim
        (self.concentration,) = as_params(concentration, owner=self._name)
        shape = self.concentration.shape
        super().__init__(shape, torch.Size((dim, dim)), validate_args=validate_args)

    def _sample(self, sample_shape, generator):
        # The onion method with one gamma per row: for row i (i = 1..d-1) with i standard
        # normals z, |z|^2 / 2 ~ Gamma(i/2) is independent of the direction z / |z|, so with
        # chi ~ chi^2(2 b_i), b_i = eta + (d - 2)/2 - (i - 1)/2, y = |z|^2 / (|z|^2 + chi) is
        # the Beta(i/2, b_i) draw and the row is sqrt(y) z / |z| = z / sqrt(|z|^2 + chi),
        # with sqrt(1 - y) = sqrt(chi / (|z|^2 + chi)) on the diagonal (no cancellation).
        shape = self._extended_shape(sample_shape)
        d, eta = self.dim, self.concentration
        dtype, device = eta.dtype, eta.device
        batch = shape[:-2]
        rows = torch.arange(1, d, dtype=dtype, device=device)
        b = (eta + 0.5 * (d - 2)).unsqueeze(-1) - 0.5 * (rows - 1)
        # CPU eager, not under torch.func (whose draws are batched even for unbatched eta)
        if _readable((eta,)):
            return _onion_by_entry(b, shape, generator)
        chi = 2 * standard_gamma(b.expand(batch + (d - 1,)), generator)
        z = torch.randn(
            batch + (d * (d - 1) // 2,), dtype=dtype, device=device, generator=generator
        )
        tiny = torch.finfo(dtype).tiny
        parts = []  # (row i's off-diagonal entries, its diagonal entry)
        start = 0
        for i in range(1, d):
            zi = z[..., start : start + i]
            start += i
            total = zi.square().sum(-1) + chi[..., i - 1]
            diag = (chi[..., i - 1] / total).clamp(min=tiny).sqrt()
            parts.append((zi * total.rsqrt().unsqueeze(-1), diag))
        one = torch.ones_like(z[..., :1])
        rows = [torch.cat([one, one.new_zeros(batch + (d - 1,))], -1)]
        for i, (w, diag) in enumerate(parts, 1):
            rows.append(torch.cat([w, diag.unsqueeze(-1), one.new_zeros(batch + (d - 1 - i,))], -1))
        return torch.stack(rows, -2)

    def _log_prob(self, value):
        d, eta = self.dim, self.concentration
        log_diag = value.diagonal(dim1=-2, dim2=-1)[..., 1:].log()
        # Exponent of L_ii (i = 2..d, one-based): d - i + 2 (eta - 1), as
        # sum_i (d - i) log L_ii + (eta - 1) * 2 sum_i log L_ii: 2 (eta - 1) would overflow
        # for eta near finfo.max, and inf * log 1 is NaN where 0 is due.
        weights = torch.arange(d - 2, -1, -1, dtype=log_diag.dtype, device=log_diag.device)
        power = (log_diag * weights).sum(-1)
        power = torch.addcmul(power, eta - 1, 2 * log_diag.sum(-1))
        return power - self._cached("log_normalizer", self._log_normalizer)

    def _log_normalizer(self) -> torch.Tensor:
        r"""``log c_d(eta) = sum_{k=1}^{d-1} [k/2 log(pi) + lgamma(b_k) - lgamma(b_k + k/2)]``
        with ``b_k = eta + (d - 1 - k)/2``: integrating row ``k + 1`` of ``L`` out gives the
        area of a ``k``-ball times a Beta integral."""
        d, eta = self.dim, self.concentration
        half_k = torch.arange(1, d, dtype=eta.dtype, device=eta.device) * 0.5
        b = eta.unsqueeze(-1) + half_k.flip(0).sub_(0.5)  # (d - 1 - k) / 2
        # lgamma(b + k/2) - lgamma(b) by Stirling's series from b = 10 on: the two lgammas are
        # inf for a concentration near finfo.max (and cancel to eps * b before that).
        large = b >= 10
        if _readable((eta,)) and not large.any():
            # CPU eager, every b below 10 (the usual case): the direct form alone.
            diff = torch.lgamma(b + half_k) - torch.lgamma(b)
        else:
            ratio = _lgamma_ratio(half_k.expand_as(b), torch.where(large, b, 10.0))
            b_small = torch.where(large, 1.0, b)
            direct = torch.lgamma(b_small + half_k) - torch.lgamma(b_small)
            diff = torch.where(large, ratio, direct)
        # sum_k k/2 log(pi) = d (d - 1) / 4 log(pi)
        return (0.25 * d * (d - 1) * math.log(math.pi)) - diff.sum(-1)


def _onion_by_entry(b: torch.Tensor, shape: torch.Size, generator) -> torch.Tensor:
    """``LKJCholesky._sample``'s onion method in CPU eager mode, entry-major: each gamma
    and normal a contiguous tensor of the batch (an op over a short last dim, as the sums
    of squares of a row's normals, costs several times more), worked in place: row ``i``'s
    normals become ``z / sqrt(|z|^2 + 2 g)``, its gamma the diagonal ``sqrt(2 g / (|z|^2 +
    2 g))``. The output is gathered from those rows by one ``index_select`` (a strided
    write per entry touches every cache line of the output)."""
    d = shape[-1]
    n = math.prod(shape[:-2])
    below = d * (d - 1) // 2
    g = standard_gamma(b.expand(shape[:-2] + (d - 1,)).movedim(-1, 0), generator)
    # rows: the normals below the diagonal, the diagonal from row 1 on; then a 1 and a 0
    entries = b.new_empty((below + d - 1) * n + 2)
    z = entries[: below * n].view(below, n).normal_(generator=generator)
    entries[-2:] = torch.tensor([1.0, 0.0])
    diagonal = entries[below * n : -2].view(d - 1, n)
    g = g.reshape(d - 1, n)
    tiny = torch.finfo(b.dtype).tiny
    start = 0
    for i in range(1, d):
        row = z[start : start + i].unbind(0)
        start += i
        total = torch.mul(row[0], row[0])
        for entry in row[1:]:
            total.addcmul_(entry, entry)
        scale = total.add_(g[i - 1], alpha=2.0).rsqrt_()
        for entry in row:
            entry.mul_(scale)
        torch.mul(g[i - 1].mul_(2.0).sqrt_(), scale, out=diagonal[i - 1]).clamp_(min=tiny)
    return entries.index_select(0, _onion_index(d, n)).view(shape)


@functools.lru_cache(maxsize=1)
def _onion_index(d: int, n: int) -> torch.Tensor:
    """Where entry ``(i, j)`` of matrix ``q`` (matrix-major) is in ``_onion_by_entry``'s
    rows: the normals of row ``i`` below the diagonal, then the diagonal of rows ``1..d-1``,
    then a 1 (entry ``(0, 0)``) and a 0 (above the diagonal)."""
    below = d * (d - 1) // 2
    one, zero = (below + d - 1) * n, (below + d - 1) * n + 1
    source = []
    for i in range(d):
        for j in range(d):
            if i == j:
                source.append(one if i == 0 else (below + i - 1) * n)
            elif j < i:
                source.append((i * (i - 1) // 2 + j) * n)
            else:
                source.append(zero)
    base = torch.tensor(source)
    step = (base < one).long()  # the constant entries stay put
    index = base + step * torch.arange(n).unsqueeze(-1)
    return index.reshape(-1).to(torch.int32 if one < 2**31 else torch.int64)
