"""Transforms onto the simplex and onto Cholesky factors, torch's names and shapes.

* :class:`SoftmaxTransform`, :class:`StickBreakingTransform`: real vectors onto the simplex.
* :class:`LowerCholeskyTransform`, :class:`PositiveDefiniteTransform`: square matrices onto
  lower Cholesky factors and onto positive-definite matrices.
* :class:`CorrCholeskyTransform`: ``n(n-1)/2`` reals onto the Cholesky factor of an
  ``n x n`` correlation matrix.

Where the dimensions of domain and codomain differ, ``log_abs_det_jacobian`` is taken in
the free coordinates named in each class (for instance the strictly lower triangle of a
correlation Cholesky factor). Every log-det is computed from ``x`` in log space, so it
stays finite where the output rounds to the boundary of its set.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import constraints
from ..special.compile_safe import atanh
from ..utils import softmax_last
from ._base import Transform

__all__ = [
    "CorrCholeskyTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "SoftmaxTransform",
    "StickBreakingTransform",
]


class _ParameterFree(Transform):
    """A transform without parameters: every instance of a class equals every other."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self))

    __hash__ = Transform.__hash__


def _need_dims(owner: Transform, shape, n: int) -> None:
    if len(shape) < n:
        raise ValueError(
            f"{type(owner).__name__}: expected a shape with at least {n} dim(s), got {tuple(shape)}"
        )


# --------------------------------------------------------------------------- simplex


class SoftmaxTransform(_ParameterFree):
    r"""``y = exp(x) / sum(exp(x))`` along the last dim, from real vectors onto the simplex.

    Not injective (adding a constant to ``x`` leaves ``y`` unchanged), so there is no
    log-det; ``inv`` returns one pre-image, ``log(y)``. Use it to optimize over the simplex
    (``transform_to``); :class:`StickBreakingTransform` is the bijection.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        return softmax_last(x)

    def _inverse(self, y):
        return y.log()

    def forward_shape(self, shape):
        _need_dims(self, shape, 1)
        return shape

    def inverse_shape(self, shape):
        _need_dims(self, shape, 1)
        return shape


def _stick_offsets(x: torch.Tensor) -> torch.Tensor:
    """``log(K), log(K - 1), ..., log(1)`` for ``K = x.shape[-1]``, in ``x``'s dtype."""
    k = x.shape[-1]
    return torch.arange(k, 0, -1, dtype=x.dtype, device=x.device).log()


class StickBreakingTransform(_ParameterFree):
    r"""Stick breaking, a bijection from ``R^K`` onto the simplex of ``K + 1`` entries.

    With ``z_k = sigmoid(x_k - log(K + 1 - k))`` (``k = 1..K``; the shift makes ``x = 0``
    the uniform vector), entry ``k`` takes the fraction ``z_k`` of what is left:

    .. math::

        y_k = z_k \prod_{j<k} (1 - z_j), \qquad y_{K+1} = \prod_{j \le K} (1 - z_j).

    Everything is evaluated in log space (``log z = logsigmoid(u)``,
    ``log(1 - z) = logsigmoid(-u)``) and clamped below at the dtype's ``tiny``, so no entry
    is exactly 0 even in float32 at ``|x| = 40``. The Jacobian of ``x -> y_{1..K}`` is
    triangular with diagonal ``y_k (1 - z_k)``:

    .. math::

        \log |\det J| = \sum_k \log y_k + \log(1 - z_k)
                      = \sum_k \operatorname{logsigmoid}(u_k)
                        + (K + 1 - k) \operatorname{logsigmoid}(-u_k).

    The inverse reads the remaining stick as the sum of the later entries (a reverse
    cumulative sum, free of the cancellation in ``1 - cumsum``):
    ``x_k = log y_k - log(sum_{j>k} y_j) + log(K + 1 - k)``.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    @staticmethod
    def _forward(x):
        u = x - _stick_offsets(x)
        log_z = F.logsigmoid(u)
        log_rest = F.logsigmoid(-u)
        # log of the stick left before each break: 0, then the running sum of log(1 - z).
        log_left = F.pad(log_rest.cumsum(-1), (1, 0))
        log_y = F.pad(log_z, (0, 1)) + log_left
        y = log_y.exp().clamp(min=torch.finfo(x.dtype).tiny)
        return y, u, log_z, log_rest

    def _call(self, x):
        return self._forward(x)[0]

    def _call_and_ladj(self, x):
        y, u, log_z, log_rest = self._forward(x)
        return y, self._ladj(u, log_z, log_rest)

    @staticmethod
    def _ladj(u, log_z, log_rest):
        weights = torch.arange(u.shape[-1], 0, -1, dtype=u.dtype, device=u.device)
        return (log_z + weights * log_rest).sum(-1)

    def _inverse(self, y):
        tiny = torch.finfo(y.dtype).tiny
        tail = y.flip(-1).cumsum(-1).flip(-1)[..., 1:]  # sum of the entries after k
        head = y[..., :-1]
        return head.clamp(min=tiny).log() - tail.clamp(min=tiny).log() + _stick_offsets(head)

    def log_abs_det_jacobian(self, x, y):
        u = x - _stick_offsets(x)
        return self._ladj(u, F.logsigmoid(u), F.logsigmoid(-u))

    def _inverse_and_ladj(self, y):
        x = self._inverse(y)
        return x, self.log_abs_det_jacobian(x, y)

    def forward_shape(self, shape):
        _need_dims(self, shape, 1)
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        _need_dims(self, shape, 1)
        return shape[:-1] + (shape[-1] - 1,)


# ------------------------------------------------------------------ Cholesky factors


def _replace_diagonal(m: torch.Tensor, diagonal: torch.Tensor) -> torch.Tensor:
    """The strictly lower triangle of ``m`` plus ``diag(diagonal)``."""
    return m.tril(-1) + torch.diag_embed(diagonal)


def _diagonal(m: torch.Tensor) -> torch.Tensor:
    return m.diagonal(dim1=-2, dim2=-1)


class LowerCholeskyTransform(_ParameterFree):
    r"""A square matrix to a lower-triangular one with a positive diagonal.

    ``L = tril(x, -1) + diag(exp(diag(x)))``; the upper triangle of ``x`` is dropped, so
    (as in torch) ``bijective`` is False, but restricted to lower-triangular ``x`` the map
    is a bijection and ``inv`` (``tril(L, -1) + diag(log(diag(L)))``) inverts it. The
    log-det, in the coordinates of the lower triangles of ``x`` and ``L``, is
    ``sum_i x_ii`` (torch defines none).
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return _replace_diagonal(x, _diagonal(x).exp())

    def _inverse(self, y):
        return _replace_diagonal(y, _diagonal(y).log())

    def log_abs_det_jacobian(self, x, y):
        return _diagonal(x).sum(-1)


def _positive_definite_ladj(x: torch.Tensor) -> torch.Tensor:
    # Sigma = L L^T in lower-triangle coordinates: d Sigma_ij / d L_ij is L_jj (i > j) and
    # 2 L_ii (i = j), in a triangular order, so log|det| = n log 2 + sum_j (n - j) log L_jj
    # (0-based j); with log L_jj = x_jj the chain adds sum_j x_jj.
    n = x.shape[-1]
    weights = torch.arange(n + 1, 1, -1, dtype=x.dtype, device=x.device)
    return n * math.log(2.0) + (weights * _diagonal(x)).sum(-1)


class PositiveDefiniteTransform(_ParameterFree):
    r"""A square matrix to a positive-definite one: ``Sigma = L L^T``, ``L`` from
    :class:`LowerCholeskyTransform`.

    ``inv`` takes the Cholesky factor of ``Sigma`` and inverts
    :class:`LowerCholeskyTransform`. Like that transform it drops the upper triangle of
    ``x`` (``bijective`` is False, as in torch). The log-det, in the coordinates of the
    lower triangles of ``x`` and ``Sigma`` (torch defines none), is

    .. math::

        \log |\det J| = n \log 2 + \sum_{j=1}^{n} (n - j + 2)\, x_{jj}.
    """

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        low = _replace_diagonal(x, _diagonal(x).exp())
        return low @ low.mT

    def _inverse(self, y):
        low = torch.linalg.cholesky(y)
        return _replace_diagonal(low, _diagonal(low).log())

    def log_abs_det_jacobian(self, x, y):
        return _positive_definite_ladj(x)

    def _call_and_ladj(self, x):
        return self._call(x), _positive_definite_ladj(x)

    def _inverse_and_ladj(self, y):
        x = self._inverse(y)
        return x, _positive_definite_ladj(x)


# ------------------------------------------------------------- correlation Cholesky


def _tril_size(owner: Transform, count: int) -> int:
    """The ``n`` with ``n(n-1)/2 == count``; ValueError naming ``owner`` if there is none."""
    count = int(count)  # a Tensor under torch.jit.trace; a constant of the trace
    n = round((0.25 + 2 * count) ** 0.5 + 0.5)
    if count < 0 or n * (n - 1) // 2 != count:
        raise ValueError(
            f"{type(owner).__name__}: the last dim ({count}) must be n(n-1)/2 for some n "
            "(the strictly lower triangle of an n x n matrix: 1, 3, 6, 10, ...)"
        )
    return n


def _strict_tril_index(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and columns of the strictly lower triangle, row by row: (1,0), (2,0), (2,1), ..."""
    rows, cols = torch.tril_indices(n, n, -1, device=device).unbind(0)
    return rows, cols


def _to_strict_tril(vec: torch.Tensor, n: int) -> torch.Tensor:
    rows, cols = _strict_tril_index(n, vec.device)
    out = vec.new_zeros(vec.shape[:-1] + (n, n))
    out[..., rows, cols] = vec
    return out


def _log_sech(x: torch.Tensor) -> torch.Tensor:
    # log sqrt(1 - tanh(x)^2) = log 2 - |x| - log1p(exp(-2|x|)): finite for every finite x.
    a = x.abs()
    return math.log(2.0) - a - F.softplus(-2.0 * a)


class CorrCholeskyTransform(_ParameterFree):
    r"""``n(n-1)/2`` reals onto the Cholesky factor of an ``n x n`` correlation matrix.

    The input fills the strictly lower triangle row by row (``(1,0), (2,0), (2,1), ...``)
    with partial correlations ``z_ij = tanh(x_ij)``; each row is then built by stick
    breaking on the squared norm (the onion / LKJ construction):

    .. math::

        y_{ij} = z_{ij} \prod_{k<j} \sqrt{1 - z_{ik}^2} \quad (j < i), \qquad
        y_{ii} = \prod_{k<i} \sqrt{1 - z_{ik}^2},

    so every row has unit norm and the diagonal is positive. The products run in log space
    (``log sqrt(1 - tanh^2 x) = log 2 - |x| - softplus(-2|x|)``), so the diagonal stays
    positive where ``tanh`` rounds to 1. In the coordinates ``x -> (y_ij)_{i>j}`` (the strictly
    lower triangle) the Jacobian of each row is triangular, and

    .. math::

        \log |\det J| = \sum_{i>k} (i - k + 1) \log \sqrt{1 - z_{ik}^2}.

    The inverse divides each entry by the norm of the rest of its row,
    ``r_ij = (sum_{k>=j} y_ik^2)^{1/2}``, and applies ``atanh``; near ``|z| = 1`` it uses
    ``atanh |z| = log(1 + |z|) + log r_ij - log r_i,j+1``, whose tail norms come from a
    log-sum-exp, so a row that rounded to a unit vector in float32 still has a finite
    pre-image.
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        n = _tril_size(self, x.shape[-1])
        log_rest = _to_strict_tril(_log_sech(x), n)
        # log of the stick left before entry j of each row: exclusive running sum.
        log_left = F.pad(log_rest.cumsum(-1)[..., :-1], (1, 0))
        log_left = log_left.clamp(min=math.log(torch.finfo(x.dtype).tiny))
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        return (_to_strict_tril(x.tanh(), n) + eye) * log_left.exp()

    def _inverse(self, y):
        n = y.shape[-1]
        rows, cols = _strict_tril_index(n, y.device)
        tiny = torch.finfo(y.dtype).tiny
        # log r_ij^2 = log sum_{k>=j} y_ik^2 over the lower triangle, scaled by log-sum-exp
        # (the squares of a float32 row can span more than the dtype's range).
        lower = torch.ones(n, n, dtype=torch.bool, device=y.device).tril()
        log_sq = 2.0 * y.abs().clamp(min=tiny).log()
        log_sq = log_sq.masked_fill(~lower, -math.inf)
        log_r2 = log_sq.flip(-1).logcumsumexp(-1).flip(-1)
        entry = y[..., rows, cols]
        log_r2_here = log_r2[..., rows, cols]
        log_r2_next = log_r2[..., rows, cols + 1]
        z = entry * (-0.5 * log_r2_here).exp()
        small = z.abs() < 0.5
        # Two branches, each fed only inputs where it is finite (so no NaN gradients).
        z_small = torch.where(small, z, torch.zeros_like(z))
        near_one = z.abs().log1p() + 0.5 * (log_r2_here - log_r2_next)
        return torch.where(small, atanh(z_small), entry.sign() * near_one)

    def log_abs_det_jacobian(self, x, y):
        return self._ladj(x)

    def _ladj(self, x):
        n = _tril_size(self, x.shape[-1])
        rows, cols = _strict_tril_index(n, x.device)
        weights = (rows - cols + 1).to(x.dtype)
        return (weights * _log_sech(x)).sum(-1)

    def _call_and_ladj(self, x):
        return self._call(x), self._ladj(x)

    def _inverse_and_ladj(self, y):
        x = self._inverse(y)
        return x, self._ladj(x)

    def forward_shape(self, shape):
        _need_dims(self, shape, 1)
        n = _tril_size(self, shape[-1])
        return shape[:-1] + (n, n)

    def inverse_shape(self, shape):
        _need_dims(self, shape, 2)
        if shape[-2] != shape[-1]:
            raise ValueError(
                f"{type(self).__name__}: expected square matrices, got shape {tuple(shape)}"
            )
        n = shape[-1]
        return shape[:-2] + (n * (n - 1) // 2,)
