"""The LKJ distribution over Cholesky factors of correlation matrices."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..errors import ParameterError
from ..special.incomplete_beta import _lgamma_ratio
from ..utils import _readable, as_params
from .beta import Beta

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
        shape = self._extended_shape(sample_shape)
        d, eta = self.dim, self.concentration
        rows = torch.arange(d, dtype=eta.dtype, device=eta.device)
        # Row 0 has no off-diagonal entry: its Beta(0, .) draw is replaced by 0 below, so
        # give it any valid parameter (1/2).
        conc1 = (0.5 * rows).clamp(min=0.5)
        conc0 = (eta + 0.5 * (d - 2)).unsqueeze(-1) - 0.5 * (rows - 1).clamp(min=0)
        y = Beta(conc1, conc0, validate_args=False).sample(sample_shape, generator=generator)
        y = torch.where(rows == 0, 0.0, y).unsqueeze(-1)
        normal = torch.randn(shape, dtype=eta.dtype, device=eta.device, generator=generator)
        normal = normal.tril(-1)
        # Row 0 is all zeros: divide by 1 there instead of 0.
        norm = normal.norm(dim=-1, keepdim=True)
        direction = normal / torch.where(norm > 0, norm, 1.0)
        w = y.sqrt() * direction
        diag = (1 - y.squeeze(-1)).clamp(min=torch.finfo(eta.dtype).tiny).sqrt()
        return w + torch.diag_embed(diag)

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
