"""The multivariate normal distribution."""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution
from ..errors import ParameterError, ShapeError, describe_violation
from ..kl import register_kl
from ..utils import (
    _readable,
    as_params,
    broadcast_shapes,
    lazy_property,
    refuse_half_precision,
)

__all__ = ["MultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)
_MATRICES = ("covariance_matrix", "precision_matrix", "scale_tril")


def _shape_str(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _precision_to_scale_tril(precision: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # With J the exchange matrix, J P J = F F^T (Cholesky), so P = U U^T where U = J F J is
    # upper triangular. Then P^{-1} = U^{-T} U^{-1}, and U^{-T} = (J F^T J)^{-1} is lower
    # triangular with a positive diagonal: the scale_tril, from one triangular solve and
    # without forming P^{-1}.
    factor, info = torch.linalg.cholesky_ex(precision.flip(-2, -1))
    eye = torch.eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    lower = torch.linalg.solve_triangular(factor.flip(-2, -1).mT, eye, upper=False)
    return lower, info


#: Matrices of at most this size are factorized in elementwise ops (``_small_cholesky``) when
#: there are at least ``_SMALL_MIN_BATCH`` of them: LAPACK's per-matrix overhead dominates
#: tiny matrices (measured, 1 thread, d = 3, 111k matrices: 2.6 ms vs 7 ms forward, about
#: 10x faster backward); below that batch size the 6-40 elementwise ops cost more.
_SMALL_MAX_D = 4
_SMALL_MIN_BATCH = 4096


def _uses_small_cholesky(matrix: torch.Tensor) -> bool:
    d = matrix.shape[-1]
    return d <= _SMALL_MAX_D and matrix.numel() >= _SMALL_MIN_BATCH * d * d


def _small_cholesky(matrix: torch.Tensor) -> torch.Tensor:
    r"""Lower Cholesky factor of a batch of small matrices, in elementwise ops.

    The unblocked algorithm, column by column: :math:`L_{jj} = \sqrt{a_{jj} - \sum_{k<j}
    L_{jk}^2}`, :math:`L_{ij} = (a_{ij} - \sum_{k<j} L_{ik} L_{jk}) / L_{jj}`. An off-diagonal
    entry is read as ``lerp(a_ij, a_ji, 1/2)`` (exactly ``a_ij`` for a symmetric matrix), so
    the gradient is the symmetric one ``linalg.cholesky`` gives. A matrix that is not positive
    definite gets a diagonal entry that is NaN or 0.
    """
    d = matrix.shape[-1]
    rows: list[list[torch.Tensor]] = [[] for _ in range(d)]
    for j in range(d):
        pivot = matrix[..., j, j]
        for k in range(j):
            pivot = pivot - rows[j][k] * rows[j][k]
        diagonal = pivot.sqrt()
        rows[j].append(diagonal)
        for i in range(j + 1, d):
            entry = torch.lerp(matrix[..., i, j], matrix[..., j, i], 0.5)
            for k in range(j):
                entry = entry - rows[i][k] * rows[j][k]
            rows[i].append(entry / diagonal)
    zero = torch.zeros((), dtype=matrix.dtype, device=matrix.device).expand(matrix.shape[:-2])
    entries = [rows[i][j] if j <= i else zero for i in range(d) for j in range(d)]
    return torch.stack(entries, dim=-1).unflatten(-1, (d, d))


def _cholesky_ex(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``linalg.cholesky_ex``, by ``_small_cholesky`` for many small matrices (the status is
    then nonzero where a diagonal entry is not positive)."""
    if not _uses_small_cholesky(matrix):
        return torch.linalg.cholesky_ex(matrix)
    factor = _small_cholesky(matrix)
    info = (factor.diagonal(dim1=-2, dim2=-1) > 0).all(-1).logical_not().to(torch.int32)
    return factor, info


def _half_log_det(factor: torch.Tensor) -> torch.Tensor:
    """``log det(Sigma) / 2 = sum(log diag L)``, of the factor's own batch shape."""
    return factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(Distribution):
    r"""Multivariate normal (Gaussian) distribution of dimension :math:`d`.

    .. math::
        p(x) = (2\pi)^{-d/2} \det(\Sigma)^{-1/2}
               \exp\left(-\tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu)\right)

    Support: :math:`\mathbb{R}^d` (``event_shape == (d,)``).

    Give exactly one of ``covariance_matrix`` (:math:`\Sigma`), ``precision_matrix``
    (:math:`\Sigma^{-1}`) or ``scale_tril`` (the lower Cholesky factor :math:`L` with
    :math:`\Sigma = L L^\top`); the others are derived lazily from :math:`L`, the
    representation every formula uses. ``loc`` and the matrix broadcast over batch dims.

    Args:
        loc: the mean :math:`\mu`, of shape ``(..., d)``.
        covariance_matrix: symmetric positive-definite :math:`\Sigma`, ``(..., d, d)``.
        precision_matrix: symmetric positive-definite :math:`\Sigma^{-1}`, ``(..., d, d)``.
        scale_tril: lower-triangular :math:`L` with a positive diagonal, ``(..., d, d)``.

    Example:
        >>> import aleatorch as D
        >>> d = D.MultivariateNormal(torch.zeros(2), covariance_matrix=torch.eye(2))
        >>> d.log_prob(torch.zeros(2))
        tensor(-1.8379)
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    _cache_kept_by_expand = ("_factor", "_log_det_term")
    _cache_min_numel = 0  # a Cholesky factorization is worth caching at any size

    def __init__(
        self,
        loc: Any,
        covariance_matrix: Any = None,
        precision_matrix: Any = None,
        scale_tril: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        given = {
            name: m
            for name, m in zip(_MATRICES, (covariance_matrix, precision_matrix, scale_tril))
            if m is not None
        }
        if len(given) != 1:
            got = ", ".join(f"'{n}'" for n in given) or "none"
            raise ParameterError(
                f"{self._name}: give exactly one of 'covariance_matrix', "
                f"'precision_matrix' or 'scale_tril', but got {got}"
            )
        ((name, matrix),) = given.items()
        # Not broadcast together: loc's last dim and the matrix's last two are event dims.
        loc, matrix = as_params(loc, matrix, owner=self._name, broadcast=False)
        refuse_half_precision(self._name, loc, "the Cholesky factorization")
        batch_shape = self._check_shapes(loc, name, matrix)
        self.loc = loc.expand(batch_shape + loc.shape[-1:])
        setattr(self, name, matrix.expand(batch_shape + matrix.shape[-2:]))
        # The factor keeps the matrix's own batch shape: broadcasting it would multiply the
        # cost of every solve and of the log-determinant by the broadcast factor.
        self._given_matrix = (name, matrix)
        self._unchecked = (loc, name, matrix)
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        self.__dict__.pop("_unchecked", None)

    def _factorize(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The lower Cholesky factor of the covariance from the given matrix, and the
        factorization's status (None when the factor was given)."""
        name, matrix = self._given_matrix
        if name == "scale_tril":
            return matrix, None
        if name == "covariance_matrix":
            return _cholesky_ex(matrix)
        return _precision_to_scale_tril(matrix)

    def _check_shapes(self, loc: torch.Tensor, name: str, matrix: torch.Tensor) -> torch.Size:
        if loc.dim() < 1:
            raise ShapeError(
                f"{self._name}: 'loc' must be at least one-dimensional (its last dim is "
                f"the event dim d), but its shape is {_shape_str(loc.shape)}"
            )
        d = loc.shape[-1]
        if matrix.dim() < 2 or matrix.shape[-2:] != (d, d):
            raise ShapeError(
                f"{self._name}: '{name}' must have shape (..., {d}, {d}) to match 'loc' "
                f"of shape {_shape_str(loc.shape)}, but its shape is {_shape_str(matrix.shape)}"
            )
        try:
            return broadcast_shapes(loc.shape[:-1], matrix.shape[:-2])
        except RuntimeError:
            raise ShapeError(
                f"{self._name}: the batch dims of 'loc' {_shape_str(loc.shape[:-1])} and "
                f"of '{name}' {_shape_str(matrix.shape[:-2])} do not broadcast"
            ) from None

    def _validate_parameters(self) -> None:
        pending = self.__dict__.pop("_unchecked", None)
        if pending is None:  # asked again later (e.g. by a wrapper): check what is stored
            return super()._validate_parameters()
        loc, name, matrix = pending
        factor, info = self._factorize()
        # Validation and the first use share one factorization (kept only when it carries
        # no graph, by the caching rule).
        self._cached("_factor", lambda: factor)
        checks = [("loc", loc, constraints.real_vector)]
        if info is None:
            checks.append((name, matrix, constraints.lower_cholesky))
        for pname, value, constraint in checks:
            if not constraint.all_ok(value):
                self._raise_violation(pname, value, constraint.check(value))
        if info is not None:
            # Symmetric, finite and factorizable (a zero Cholesky status): one host read for
            # all. Finite: the precision's reversed factorization takes an infinite last
            # diagonal entry with a zero status.
            ok = torch.isclose(matrix, matrix.mT, atol=1e-6).all(-1).all(-1) & (info == 0)
            ok = ok & torch.isfinite(matrix).all(-1).all(-1)
            if not bool(ok.all()):
                self._raise_violation(name, matrix, ok)

    def _raise_violation(self, name: str, value: torch.Tensor, ok: torch.Tensor) -> None:
        rule = self.arg_constraints[name].description
        raise ParameterError(describe_violation(self._name, "parameter", name, rule, value, ok))

    # -------------------------------------------------------------- derived parameters

    @lazy_property
    def _factor(self) -> torch.Tensor:
        """The Cholesky factor of the covariance, of the given matrix's batch shape."""
        return self._factorize()[0]

    @lazy_property
    def _log_det_term(self) -> torch.Tensor:
        """``log det(Sigma) / 2``."""
        return _half_log_det(self._factor)

    @property
    def _factor_terms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The factor and ``log det(Sigma) / 2``: when a parameter requires grad nothing is
        cached, and one access still factorizes only once. Samplers read the factor alone."""
        factor = self._factor
        return factor, self._cached("_log_det_term", lambda: _half_log_det(factor))

    @property
    def _unbroadcasted_scale_tril(self) -> torch.Tensor:
        name, matrix = self._given_matrix
        if name == "scale_tril":  # the factor itself: no cache look-up (~4 us)
            return matrix
        return self._factor

    @lazy_property
    def scale_tril(self) -> torch.Tensor:
        factor = self._unbroadcasted_scale_tril
        return factor.expand(self._batch_shape + factor.shape[-2:])

    @lazy_property
    def covariance_matrix(self) -> torch.Tensor:
        factor = self._unbroadcasted_scale_tril
        return (factor @ factor.mT).expand(self._batch_shape + factor.shape[-2:])

    @lazy_property
    def precision_matrix(self) -> torch.Tensor:
        factor = self._unbroadcasted_scale_tril
        return torch.cholesky_inverse(factor).expand(self._batch_shape + factor.shape[-2:])

    # ---------------------------------------------------------------------- summaries

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        # diag(L L^T)_i is the squared norm of row i of L.
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(self.loc.shape)

    def _entropy(self) -> torch.Tensor:
        d = self._event_shape[0]
        half_log_det = self._log_det_term
        return (0.5 * d * (1.0 + _LOG_2PI) + half_log_det).expand(self._batch_shape)

    # ----------------------------------------------------------------------- the math

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)
        factor = self._unbroadcasted_scale_tril
        loc = self.loc
        if factor.dim() == 2:
            # One GEMM over all samples and batch entries: x = mu + eps L^T.
            eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
            return loc + eps @ factor.mT
        d = loc.shape[-1]
        if d <= _SMALL_MAX_D:
            # x = mu + sum_j L[:, j] eps_j, column by column: a few elementwise passes cost
            # less than a bmm of tiny matrices, and unbind's backward is one stack.
            # In place on the fresh sum outside torch.func (no batching rule for addcmul_).
            eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
            columns, draws = factor.unbind(-1), eps.unsqueeze(-1).unbind(-2)
            x = torch.addcmul(loc, columns[0], draws[0])
            add = torch.Tensor.addcmul_ if _readable((x, factor, eps)) else torch.addcmul
            for j in range(1, d):
                x = add(x, columns[j], draws[j])
            return x
        batch = self._batch_shape
        n = math.prod(sample_shape)
        # Samples as the columns of one (d, n) block per batch entry: a single bmm with no
        # copy of the factor per sample (a broadcast matmul would materialize n copies).
        eps = torch.randn(
            (batch.numel(), d, n), dtype=loc.dtype, device=loc.device, generator=generator
        )
        cols = torch.bmm(factor.expand(batch + (d, d)).reshape(-1, d, d), eps)
        return loc + cols.permute(2, 0, 1).reshape(shape)

    @staticmethod
    def _mahalanobis(factor: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        """``|L^{-1} diff|^2`` over the last dim, by triangular solves."""
        d = factor.shape[-1]
        if factor.dim() == 2:
            # Rows z_i with z_i L^T = diff_i: one solve for all points.
            z = torch.linalg.solve_triangular(
                factor.mT, diff.reshape(-1, d), upper=True, left=False
            )
            return z.pow(2).sum(-1).reshape(diff.shape[:-1])
        k = factor.dim() - 2
        if diff.dim() - 1 < k:
            diff = diff.reshape((1,) * (k + 1 - diff.dim()) + diff.shape)
        lead = diff.shape[:-1]
        sample, batch = lead[:-k], broadcast_shapes(lead[-k:], factor.shape[:-2])
        n, b = math.prod(sample), batch.numel()
        rhs = diff.expand(sample + batch + (d,)).reshape(n, b, d).transpose(0, 1)
        factors = factor.expand(batch + (d, d)).reshape(b, d, d)
        z = torch.linalg.solve_triangular(factors.mT, rhs, upper=True, left=False)
        return z.pow(2).sum(-1).T.reshape(sample + batch)

    def _log_prob(self, value):
        d = self._event_shape[0]
        factor, half_log_det = self._factor_terms
        maha = self._mahalanobis(factor, value - self.loc)
        return -0.5 * (d * _LOG_2PI + maha) - half_log_det


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> torch.Tensor:
    if p.event_shape != q.event_shape:
        raise ShapeError(
            "kl_divergence(MultivariateNormal, MultivariateNormal): the event shapes differ "
            f"({_shape_str(p.event_shape)} and {_shape_str(q.event_shape)})"
        )
    # 2 KL = tr(S_q^{-1} S_p) + |L_q^{-1}(mu_q - mu_p)|^2 - d + log det S_q - log det S_p.
    # With Z = L_q^{-1} [L_p | mu_q - mu_p], the first two terms are the squared Frobenius
    # norm of Z: one batched triangular solve.
    d = p.event_shape[0]
    batch = broadcast_shapes(p.batch_shape, q.batch_shape)
    (lp, half_log_det_p), (lq, half_log_det_q) = p._factor_terms, q._factor_terms
    diff = (q.loc - p.loc).expand(batch + (d,)).unsqueeze(-1)
    rhs = torch.cat([lp.expand(batch + (d, d)), diff], dim=-1)
    z = torch.linalg.solve_triangular(lq, rhs, upper=False)
    return 0.5 * (z.pow(2).sum((-2, -1)) - d) + half_log_det_q - half_log_det_p


# ---------------------------------------------------------------- torch's private helpers
# Not in ``__all__``, but user code imports them from ``torch.distributions.multivariate_normal``.


def _batch_mv(bmat: torch.Tensor, bvec: torch.Tensor) -> torch.Tensor:
    """Matrix-vector products ``bmat @ bvec`` over broadcast batch dims: ``(..., n, m)`` with
    ``(..., m)`` gives ``(..., n)``."""
    return (bmat @ bvec.unsqueeze(-1)).squeeze(-1)


def _batch_mahalanobis(bL: torch.Tensor, bx: torch.Tensor) -> torch.Tensor:
    """Squared Mahalanobis distance ``x^T (L L^T)^{-1} x`` for lower-triangular factors ``bL``
    ``(..., n, n)`` and vectors ``bx`` ``(..., n)``, over broadcast batch dims.

    torch requires ``bL``'s batch shape to broadcast to ``bx``'s; here any two broadcastable
    batch shapes work (extra leading dims of ``bx`` are sample dims).
    """
    return MultivariateNormal._mahalanobis(bL, bx)
