"""The Wishart distribution over symmetric positive-definite matrices."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from .. import constraints
from .._samplers import log_standard_gamma
from .._samplers.gamma import cached_rounds
from ..errors import ParameterError, ShapeError
from ..exp_family import ExponentialFamily
from ..special.stirling import log1pmx
from ..utils import (
    _inplace_ok,
    _readable,
    as_params,
    broadcast_shapes,
    lazy_property,
    refuse_half_precision,
)
from .multivariate_normal import _half_log_det, _precision_to_scale_tril

__all__ = ["Wishart"]

_LOG_2 = math.log(2.0)
_MATRICES = ("covariance_matrix", "precision_matrix", "scale_tril")


def _log_multigamma(a: torch.Tensor, p: int) -> torch.Tensor:
    r"""``log Gamma_p(a) = p(p-1)/4 log(pi) + sum_{j<p} lgamma(a - j/2)``, without torch's
    host-side domain check (``torch.mvlgamma`` reads the tensor to raise)."""
    halves = torch.arange(p, dtype=a.dtype, device=a.device) / 2
    return 0.25 * p * (p - 1) * math.log(math.pi) + torch.lgamma(a.unsqueeze(-1) - halves).sum(-1)


def _multigamma_sums(a: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum_{j<p} lgamma(a - j/2)`` and ``sum_{j<p} digamma(a - j/2)``, from
    ``lgamma`` and ``digamma`` at ``a`` and ``a - 1/2`` only: below those, ``lgamma(x) =
    lgamma(x + 1) - log x`` and ``psi(x) = psi(x + 1) - 1/x`` (on CPU a log costs ~1/15 of
    torch's ``lgamma``, a reciprocal ~1/50 of its ``digamma``)."""
    lgammas, digammas = [torch.lgamma(a)], [torch.digamma(a)]
    if p > 1:
        x = a - 0.5
        lgammas.append(torch.lgamma(x))
        digammas.append(torch.digamma(x))
    for j in range(2, p):
        x = a - 0.5 * j
        lgammas.append(lgammas[j - 2] - x.log())
        digammas.append(digammas[j - 2] - x.reciprocal())
    return sum(lgammas[1:], lgammas[0]), sum(digammas[1:], digammas[0])


def _multidigamma(a: torch.Tensor, p: int) -> torch.Tensor:
    """``psi_p(a) = sum_{j<p} digamma(a - j/2)``, the derivative of ``log Gamma_p``."""
    halves = torch.arange(p, dtype=a.dtype, device=a.device) / 2
    return torch.digamma(a.unsqueeze(-1) - halves).sum(-1)


#: Bartlett products of at most this size are written out in elementwise ops when there are
#: at least ``_ELEMENTWISE_MIN_BATCH`` matrices: two batched matmuls of tiny matrices cost
#: more than the 10-40 elementwise passes (p = 3, 111k matrices, 1 thread, normals included:
#: tril + diag_embed + two bmm ~17 ms against ~4 ms).
_ELEMENTWISE_MAX_P = 4
_ELEMENTWISE_MIN_BATCH = 4096


def _bartlett(
    df: torch.Tensor,
    scale_tril: torch.Tensor,
    shape: torch.Size,
    generator,
    suspects=False,
    tril_by_entry=None,
    prepared=None,
):
    """Bartlett's draw ``(L A)(L A)^T`` of shape ``shape`` (``... + (p, p)``): ``A`` lower
    triangular with standard normals below the diagonal and ``A_ii^2 ~ chi^2(df - i)``.

    With ``suspects``, also a mask of the matrices that may have rounded to a singular one
    (see ``_suspects``), or None where every matrix must be checked. ``tril_by_entry``: the
    factor with its two matrix dims first, contiguous (a cached copy), if at hand;
    ``prepared``: the gamma rounds' terms (``cached_rounds``), if at hand."""
    p = shape[-1]
    # A_ii^2 = 2 Gamma((df - i) / 2), drawn in log space (exact for small df - i, where the
    # gamma draw itself can underflow).
    if _gamma_batch(shape):
        # entry-major: every entry of A, L, M and X a contiguous tensor of the batch shape
        entry_major = shape[-1:] + shape[:-2]
        # with the rounds' terms at hand, their flat concentrations (no graph: df has none)
        a = _gamma_concentrations(df, shape) if prepared is None else prepared.a.view(entry_major)
        log_g = log_standard_gamma(a, entry_major, generator, prepared)
        if tril_by_entry is None:
            tril_by_entry = scale_tril.movedim((-2, -1), (0, 1))
        if _inplace_ok(log_g, scale_tril):  # no graph (CPU eager): see _bartlett_in_place
            return _bartlett_in_place(log_g, tril_by_entry, shape, generator, suspects)
        diag = (0.5 * (log_g + _LOG_2)).exp().clamp(min=torch.finfo(df.dtype).tiny)
        return _bartlett_elementwise(diag, tril_by_entry, shape, generator, suspects)
    steps = torch.arange(p, dtype=df.dtype, device=df.device)
    a = 0.5 * (df.unsqueeze(-1) - steps)
    log_g = log_standard_gamma(a, shape[:-1], generator)
    diag = (0.5 * (log_g + _LOG_2)).exp().clamp(min=torch.finfo(df.dtype).tiny)
    noise = torch.randn(shape, dtype=df.dtype, device=df.device, generator=generator)
    m = scale_tril @ (noise.tril(-1) + torch.diag_embed(diag))
    x = m @ m.mT
    return (x, None) if suspects else x


def _gamma_batch(shape: torch.Size) -> bool:
    """Whether ``_bartlett`` draws ``shape`` entry-major (elementwise products)."""
    return shape[-1] <= _ELEMENTWISE_MAX_P and math.prod(shape[:-2]) >= _ELEMENTWISE_MIN_BATCH


def _gamma_concentrations(df: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The elementwise ``_bartlett``'s gamma concentrations ``(df - i) / 2``, entry-major
    (``i`` first), of their draws' shape."""
    p = shape[-1]
    steps = torch.arange(p, dtype=df.dtype, device=df.device)
    a = 0.5 * (df - steps.view((p,) + (1,) * (len(shape) - 2)))
    return a.expand(shape[-1:] + shape[:-2])


def _bartlett_elementwise(diag, tril_by_entry, shape, generator, suspects):
    """``_bartlett`` for small ``p``, entry by entry: ``M = L A`` with ``M_ij = sum_{j<=k<=i}
    L_ik A_kj`` and ``X_ij = sum_{k<=j} M_ik M_jk`` (``j <= i``), mirrored. Only the
    ``p(p-1)/2`` normals below the diagonal are drawn. ``diag`` and ``tril_by_entry`` have
    their entry dims first."""
    p = shape[-1]
    noise = torch.randn(
        (p * (p - 1) // 2,) + shape[:-2],
        dtype=diag.dtype,
        device=diag.device,
        generator=generator,
    ).unbind(0)
    a_diag = diag.unbind(0)
    below = iter(noise)
    a = [[a_diag[i] if i == j else next(below) for j in range(i + 1)] for i in range(p)]
    el = [[tril_by_entry[i, k] for k in range(i + 1)] for i in range(p)]
    m = [[None] * (i + 1) for i in range(p)]
    for i in range(p):
        for j in range(i + 1):
            acc = el[i][i] * a[i][j]
            for k in range(j, i):
                acc = torch.addcmul(acc, el[i][k], a[k][j])
            m[i][j] = acc
    x = [[None] * (i + 1) for i in range(p)]
    for i in range(p):
        for j in range(i + 1):
            acc = m[i][0] * m[j][0]
            for k in range(1, j + 1):
                acc = torch.addcmul(acc, m[i][k], m[j][k])
            x[i][j] = acc
    entries = [x[i][j] if j <= i else x[j][i] for i in range(p) for j in range(p)]
    out = torch.stack(torch.broadcast_tensors(*entries), dim=-1).unflatten(-1, (p, p))
    if not suspects:
        return out
    with torch.no_grad():
        m_diag = [m[j][j].square() for j in range(p)]
        det = _det_correlation(m_diag, [x[j][j] for j in range(p)])
        return out, _suspects(det, p)


#: Matrices in a block of ``_bartlett_in_place`` (float32; half as many in float64): its
#: scratch buffer stays small, and each of its ~30 ops per block covers enough entries that
#: its ~1.5 us of dispatch stays small (blocks of 16k-1M matrices cost within noise).
_BLOCK = 1 << 16


def _bartlett_in_place(log_g, tril_by_entry, shape, generator, suspects):
    """``_bartlett_elementwise`` without a graph, block by block along the first batch dim,
    over the fresh draws: ``log_g`` (the diagonal's log-gammas, entry-major) becomes ``A``'s
    diagonal, then is overwritten with ``A`` by ``M = L A`` column by column, bottom row
    first (``M_ij`` reads ``A_kj`` for ``j <= k <= i`` only); ``X``'s ``p(p+1)/2`` entries
    go to one scratch buffer, scattered into the matrix-major output by one
    ``index_select`` (a strided copy per entry, or a transposing copy, costs 2-4x more).
    With ``suspects``, the matrices' ``det(C)`` (see ``_suspects``) are left in ``log_g[0]``."""
    p = shape[-1]
    batch = shape[:-2]
    noise = torch.randn(
        (p * (p - 1) // 2,) + batch, dtype=log_g.dtype, device=log_g.device, generator=generator
    )
    out = torch.empty(shape, dtype=log_g.dtype, device=log_g.device)
    rest = math.prod(batch[1:])
    step = max(1, _BLOCK * 4 // log_g.element_size() // max(rest, 1))
    lower = [(i, j) for i in range(p) for j in range(i + 1)]
    scratch = log_g.new_empty(len(lower) * min(step, batch[0]) * rest)
    tiny = torch.finfo(log_g.dtype).tiny
    # the factor's entries are sliced along the first batch dim where they have it
    sliced = tril_by_entry.dim() - 2 == len(batch) and tril_by_entry.shape[2] != 1
    for start in range(0, batch[0], step):
        stop = min(start + step, batch[0])
        diag = log_g[:, start:stop].add_(_LOG_2).mul_(0.5).exp_().clamp_(min=tiny)
        below = iter(noise[:, start:stop].unbind(0))
        a_diag = diag.unbind(0)
        m = [[a_diag[i] if i == j else next(below) for j in range(i + 1)] for i in range(p)]
        tril = tril_by_entry[:, :, start:stop] if sliced else tril_by_entry
        for j in range(p):
            for i in range(p - 1, j - 1, -1):
                acc = m[i][j].mul_(tril[i, i])
                for k in range(j, i):
                    acc.addcmul_(tril[i, k], m[k][j])
        count = (stop - start) * rest
        x = scratch[: len(lower) * count].view((len(lower),) + m[0][0].shape)
        for row, (i, j) in enumerate(lower):
            acc = torch.mul(m[i][0], m[j][0], out=x[row])
            for k in range(1, j + 1):
                acc.addcmul_(m[i][k], m[j][k])
        torch.index_select(
            scratch[: x.numel()], 0, _scatter_index(p, count), out=out[start:stop].view(-1)
        )
        if suspects:  # in place over M's diagonal: det(C) lands in log_g[0]
            m_diag = [m[j][j].square_() for j in range(p)]
            _det_correlation(m_diag, [x[lower.index((j, j))] for j in range(p)])
    if not suspects:
        return out
    return out, _suspects(log_g[0], p)


@functools.lru_cache(maxsize=4)
def _scatter_index(p: int, count: int) -> torch.Tensor:
    """Where entry ``(i, j)`` of matrix ``q`` of the output (matrix-major) is in a buffer of
    the lower triangle's ``p(p+1)/2`` entries, each a row of ``count`` matrices."""
    lower = [(i, j) for i in range(p) for j in range(i + 1)]
    rows = torch.tensor([lower.index((max(i, j), min(i, j))) for i in range(p) for j in range(p)])
    index = rows * count + torch.arange(count).unsqueeze(-1)
    return index.reshape(-1).to(torch.int32 if count * len(lower) < 2**31 else torch.int64)


def _det_correlation(m_diag, x_diag) -> torch.Tensor:
    """``det(C) = prod_j M_jj^2 / X_jj`` for ``X = M M^T`` (``M`` lower triangular) and its
    correlation matrix ``C = D^-1 X D^-1``, ``D = diag(X)^(1/2)``; each factor lies in
    ``[0, 1]`` (no overflow at any scale). ``m_diag``: the ``M_jj^2``, overwritten; the
    result is in the first."""
    det = m_diag[0].div_(x_diag[0])
    for square, x_jj in zip(m_diag[1:], x_diag[1:]):
        det.mul_(square.div_(x_jj))
    return det


def _suspects(det: torch.Tensor, p: int) -> torch.Tensor:
    """The matrices ``X = M M^T`` whose Cholesky factorization may fail in floating point,
    from ``det(C)`` (``_det_correlation``). The factorization is backward stable: it succeeds
    while the smallest eigenvalue of ``C`` exceeds the scaled rounding of forming and
    factoring ``X``, at most ``2 p (p + 1) eps``; and as the other ``p - 1`` eigenvalues sum
    to at most ``tr(C) = p``, ``lambda_min(C) >= det(C) ((p - 1) / p)^(p - 1)``. A matrix is a
    suspect unless that bound exceeds ``tau``, 16 times the rounding bound (NaN included);
    the suspects are then checked exactly."""
    tau = 32 * p * (p + 1) * torch.finfo(det.dtype).eps
    threshold = tau * (p / (p - 1)) ** (p - 1) if p > 1 else tau
    return det.ge(threshold).logical_not_()


#: Above this ``df / 2 - (p - 1) / 2`` (the smallest lgamma argument), Stirling's series to
#: O(1/a) replaces lgamma in the log-density (error O(1/a^2)): its terms of size df log df
#: would overflow (inf - inf) for df near finfo.max.
_STIRLING_FROM = 1e8
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

#: The entropy's switch, per dtype: from this smallest lgamma argument ``a = df/2 - (p-1)/2``
#: on, Stirling's series with this many Bernoulli numbers (``_series_entropy``). The exact
#: form cancels terms of size ``a log a`` down to ``~log a``, losing ``~a/2`` ulps: below the
#: switch it stays within ~3 ulps of the entropy (5 for p = 1, df < 1, where it nears 0), the
#: series within ~1.6 above it (against mpmath; 3 terms suffice from a = 4 in float32, 11
#: from a = 7 in float64, where the series' truncation falls below an ulp).
_ENTROPY_SERIES = {torch.float32: (6.0, 3), torch.float64: (7.0, 11)}
#: Bernoulli numbers B_2, B_4, ..., B_22.
_BERNOULLI = (
    1 / 6,
    -1 / 30,
    1 / 42,
    -1 / 30,
    5 / 66,
    -691 / 2730,
    7 / 6,
    -3617 / 510,
    43867 / 798,
    -174611 / 330,
    854513 / 138,
)


def _stirling_args(half_n: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Whether ``half_n`` is large, the lgamma arguments ``a_j = half_n - j/2`` (1e9 where
    not large, safe-where) and ``j``."""
    j = torch.arange(p, dtype=half_n.dtype, device=half_n.device)
    large = half_n - 0.5 * (p - 1) > _STIRLING_FROM
    a = torch.where(large, half_n, 1e9).unsqueeze(-1) - j / 2
    return large, a, j


def _exact_entropy(half_n: torch.Tensor, p: int) -> torch.Tensor:
    """The entropy less ``(p + 1) log det(Sigma) / 2``: ``p (p + 1)/2 log 2 + log Gamma_p(h)
    - (h - (p + 1)/2) psi_p(h) + p h`` with ``h = df / 2``, from lgamma and digamma."""
    lgammas, digammas = _multigamma_sums(half_n, p)
    const = 0.5 * p * (p + 1) * _LOG_2 + 0.25 * p * (p - 1) * math.log(math.pi)
    exact = torch.addcmul(lgammas + const, half_n - 0.5 * (p + 1), digammas, value=-1)
    return torch.add(exact, half_n, alpha=p)


def _horner(x: torch.Tensor, coefs: list[float], inplace: bool) -> torch.Tensor:
    """``sum_i coefs[i] x^(n - i)`` (``n = len(coefs)``, highest power first), by Horner's
    rule; ``inplace``: written over its own fresh intermediate (each fresh buffer of a large
    batch costs more than its arithmetic)."""
    acc = x * coefs[0]
    for coef in coefs[1:]:
        acc = acc.add_(coef).mul_(x) if inplace else (acc + coef) * x
    return acc


def _series_entropy(half_n: torch.Tensor, p: int, terms: int) -> torch.Tensor:
    """``_exact_entropy`` by Stirling's series, its ``a log a`` terms cancelled in closed
    form: with ``a = h - j/2`` and ``c = (p + 1 - j)/2``, the ``j``-th ``f_j = lgamma(a) -
    (a - c) psi(a) + a`` is ``(c - 1/2) log a + log(2 pi)/2 + 1/2 - c/(2a) + sum_k B_2k
    [a^(1-2k)/(2k - 1) - c a^(-2k)/(2k)]``, every term at most ``log a`` in size. The series
    is summed for ``j = 0, 1`` only: below, ``f_j = f_(j-2) - log a - c/a`` (from
    ``lgamma(a + 1) = lgamma(a) + log a`` and ``psi(a + 1) = psi(a) + 1/a``)."""
    inplace = _inplace_ok(half_n)
    odd = [_BERNOULLI[k - 1] / (2 * k - 1) for k in range(terms, 1, -1)]
    even = [_BERNOULLI[k - 1] / (2 * k) for k in range(terms, 1, -1)]
    f = []
    for j in range(min(p, 2)):
        c = 0.5 * (p + 1 - j)
        a = half_n - 0.5 * j if j else half_n
        r = a.reciprocal()
        x = r * r
        # the tails -c/(2a) + sum_k B_2k [r x^(k-1)/(2k - 1) - c x^k/(2k)]
        odd_x = _horner(x, odd, inplace) + (1 / 6 - 0.5 * c)
        even_x = _horner(x, even, inplace) + 1 / 12
        tails = r * torch.addcmul(odd_x, r, even_x, value=-c)
        f.append(torch.add(tails, a.log(), alpha=c - 0.5))
    for j in range(2, p):
        a = half_n - 0.5 * j
        f.append(f[j - 2] - a.log() - 0.5 * (p + 1 - j) / a)
    const = (
        0.5 * p * (p + 1) * _LOG_2
        + 0.25 * p * (p - 1) * math.log(math.pi)
        + p * (_HALF_LOG_2PI + 0.5)
        + 0.25 * p * (p - 1)  # the j/2
    )
    return sum(f[1:], f[0]) + const


def _large_df_log_prob(half_n, half_log_det, half_log_det_x, trace, p: int) -> torch.Tensor:
    """The log-density for large df, its df-sized terms gathered in one bracket times
    half_n: log Gamma_p(h) = p(p-1)/4 log pi + sum_j [h (log a_j - 1) - (j + 1)/2 log a_j
    + j/2 + log(2 pi)/2 + 1/(12 a_j)]."""
    _, a, j = _stirling_args(half_n, p)
    log_a = a.log()
    bracket = 2 * (half_log_det_x - half_log_det) - p * _LOG_2 - (log_a - 1).sum(-1)
    rest = (-0.5 * (j + 1) * log_a + 0.5 * j + _HALF_LOG_2PI + 1 / (12 * a)).sum(-1)
    return (
        half_n * bracket
        - (p + 1) * half_log_det_x
        - 0.5 * trace
        - 0.25 * p * (p - 1) * math.log(math.pi)
        - rest
    )


#: The KL's switch, per dtype: where both laws' second lgamma arguments ``df/2 - 1/2``
#: (``df/2`` for p = 1) are at least this, the df part comes from Stirling's series with this
#: many Bernoulli numbers (``_series_gap``); its truncation is then below ``|B_2K+2|
#: a^-(2K+2)`` of each gap (2e-8 in float32, 4e-17 in float64). Below, lgamma and digamma.
_KL_SERIES = {torch.float32: (6.0, 3), torch.float64: (12.0, 7)}


def _exact_gap(half_p: torch.Tensor, half_q: torch.Tensor, p: int) -> torch.Tensor:
    """``log Gamma_p(h_q) - log Gamma_p(h_p) - (h_q - h_p) psi_p(h_p)`` from lgamma and
    digamma, ``j`` by ``j`` (exact while the arguments are small; it cancels terms of size
    ``h log h``)."""
    halves = torch.arange(p, dtype=half_p.dtype, device=half_p.device) / 2
    x = half_p.unsqueeze(-1) - halves
    gaps = torch.lgamma(half_q.unsqueeze(-1) - halves) - torch.lgamma(x)
    return torch.addcmul(gaps, (half_q - half_p).unsqueeze(-1), torch.digamma(x), value=-1).sum(-1)


def _series_gap(x: torch.Tensor, d: torch.Tensor, terms: int) -> torch.Tensor:
    """The Bregman gap ``lgamma(x + d) - lgamma(x) - d psi(x) >= 0`` for ``x`` and ``x + d``
    past the KL's switch, by Stirling's series ``lgamma(z) = (z - 1/2) log z - z + log(2 pi)/2
    + sum_k c_k z^(1-2k)`` (``c_k = B_2k / (2k (2k - 1))``) with its large terms cancelled in
    closed form. With ``t = d/x`` and ``u = 1/(1 + t)``: the leading terms leave ``x g(t) -
    log1pmx(t)/2``, ``g(t) = (1 + t) log1p(t) - t``, both >= 0; each ``z^-m`` leaves its own
    gap ``x^-m e_m``, ``e_m = u^m - 1 + m t = u (e_(m-1) + m t^2)`` (``e_0 = 0``), a sum of
    positive terms (``O(t^2)``, where the direct difference would cancel)."""
    t = d / x
    y_half = x + d - 0.5
    # x g(t) - log1pmx(t)/2 = (x + d - 1/2) log1pmx(t) + d t (at most ~4x cancellation up to
    # t = 1), = (x + d - 1/2) log1p(t) - d + t/2 beyond (the other form would cancel ~t)
    near = torch.addcmul(y_half * log1pmx(t), d, t)
    far = torch.add(y_half * torch.log1p(t), d - 0.5 * t, alpha=-1)
    leading = torch.where(t > 1, far, near)
    u = x / (x + d)
    t2 = t * t
    e = t2 * u  # e_1
    power = x.reciprocal()
    inv2 = power * power
    rest = e * power * (_BERNOULLI[0] / 2)
    inplace = _inplace_ok(x, d)  # over its own fresh intermediates
    for k in range(2, terms + 1):
        c = _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
        if inplace:
            e.add_(t2, alpha=2 * k - 2).mul_(u).add_(t2, alpha=2 * k - 1).mul_(u)
            rest.addcmul_(power.mul_(inv2), e, value=c)
        else:
            e = u * torch.add(e, t2, alpha=2 * k - 2)
            e = u * torch.add(e, t2, alpha=2 * k - 1)
            power = power * inv2
            rest = torch.addcmul(rest, power, e, value=c)
    return leading.add_(rest) if inplace else leading + rest


def _series_multigamma_gap(half_p: torch.Tensor, half_q: torch.Tensor, p: int, terms: int):
    """``_exact_gap`` past the switch: the gaps at ``a_j = h_p - j/2`` for ``j = 0, 1`` by
    ``_series_gap``, below by ``gap(a - 1) = gap(a) - log1pmx(d / (a - 1))`` (from ``lgamma(z
    + 1) = lgamma(z) + log z`` and ``psi(z + 1) = psi(z) + 1/z``; each step adds ``>= 0``)."""
    d = half_q - half_p  # exact where the two are close
    gaps = [_series_gap(half_p, d, terms)]
    if p > 1:
        gaps.append(_series_gap(half_p - 0.5, d, terms))
    for j in range(2, p):
        gaps.append(gaps[j - 2] - log1pmx(d / (half_p - 0.5 * j)))
    return sum(gaps[1:], gaps[0])


def _log1pmx_float(t: float) -> float:
    """``log1p(t) - t`` on a Python float: ``-2v^2/(1 - v) + 2v^3 sum_j v^2j/(2j + 3)`` with
    ``v = t/(2 + t)`` (``log1p(t) = 2 atanh(v)``, no cancellation) for ``|t| < 0.3``."""
    if abs(t) >= 0.3:
        return math.log1p(t) - t
    v = t / (2 + t)
    v2 = v * v
    tail = 0.0
    for j in range(13, -1, -1):  # |v| <= 0.18: v^28 / 31 < 1e-22
        tail = tail * v2 + 1 / (2 * j + 3)
    return -2 * v2 / (1 - v) + 2 * v * v2 * tail


def _series_gap_float(x: float, d: float) -> float:
    """``_series_gap`` on Python floats (float64, float64's number of terms)."""
    t = d / x
    if t > 1:
        leading = (x + d - 0.5) * math.log1p(t) - (d - 0.5 * t)
    else:
        leading = (x + d - 0.5) * _log1pmx_float(t) + d * t
    u = x / (x + d)
    t2 = t * t
    e = t2 * u
    power = 1 / x
    rest = e * power * (_BERNOULLI[0] / 2)
    for k in range(2, _KL_SERIES[torch.float64][1] + 1):
        e = u * (u * (e + (2 * k - 2) * t2) + (2 * k - 1) * t2)
        power /= x * x
        rest += _BERNOULLI[k - 1] / (2 * k * (2 * k - 1)) * power * e
    return leading + rest


def _series_multigamma_gap_float(half_p: float, half_q: float, p: int) -> float:
    """``_series_multigamma_gap`` on Python floats, for one pair of laws without a graph, past
    either dtype's switch (float64's terms leave ``|B_16| 6^-16 ~ 3e-12`` of the gap at
    float32's switch, far below its rounding)."""
    d = half_q - half_p
    gaps = [_series_gap_float(half_p, d)]
    if p > 1:
        gaps.append(_series_gap_float(half_p - 0.5, d))
    for j in range(2, p):
        gaps.append(gaps[j - 2] - _log1pmx_float(d / (half_p - 0.5 * j)))
    return sum(gaps)


def _multigamma_gap(half_p: torch.Tensor, half_q: torch.Tensor, p: int) -> torch.Tensor:
    """The df part of ``KL(Wishart(n_p) || Wishart(n_q))``: ``log Gamma_p(h_q) - log
    Gamma_p(h_p) - (h_q - h_p) psi_p(h_p) >= 0`` (``h = n/2``), the Bregman gap of ``log
    Gamma_p``; by ``_series_multigamma_gap`` where both ``h`` are past the switch."""
    dtype = torch.promote_types(half_p.dtype, half_q.dtype)
    half_p, half_q = torch.broadcast_tensors(half_p.to(dtype), half_q.to(dtype))
    start, terms = _KL_SERIES[dtype]
    smallest = torch.minimum(half_p, half_q)
    threshold = start + (0.5 if p > 1 else 0.0)
    if _readable((half_p, half_q)):  # CPU eager: each form on its own entries, without wheres
        if smallest.numel() == 1:  # one read, no reduction
            if float(smallest.detach()) < threshold:
                return _exact_gap(half_p, half_q, p)
            if _inplace_ok(half_p, half_q):  # no graph: on Python floats (~40x cheaper)
                gap = _series_multigamma_gap_float(float(half_p), float(half_q), p)
                return torch.tensor(gap, dtype=dtype).reshape(half_p.shape)
            return _series_multigamma_gap(half_p, half_q, p, terms)
        large = smallest >= threshold
        if not bool(large.any()):  # the usual case
            return _exact_gap(half_p, half_q, p)
        if bool(large.all()):
            return _series_multigamma_gap(half_p, half_q, p, terms)
        flat_p, flat_q = half_p.reshape(-1), half_q.reshape(-1)
        out = torch.empty_like(flat_p)
        big = large.view(-1).nonzero().squeeze(-1)
        small = large.view(-1).logical_not_().nonzero().squeeze(-1)
        series = _series_multigamma_gap(flat_p[big], flat_q[big], p, terms)
        out.index_copy_(0, big, series)
        out.index_copy_(0, small, _exact_gap(flat_p[small], flat_q[small], p))
        return out.view_as(half_p)
    # safe wheres: each form sees only arguments where it is accurate and finite
    large = smallest >= threshold
    safe = start + 1.0
    series = _series_multigamma_gap(
        torch.where(large, half_p, safe), torch.where(large, half_q, safe), p, terms
    )
    low = 0.5 * (p + 1)
    exact = _exact_gap(torch.where(large, low, half_p), torch.where(large, low, half_q), p)
    return torch.where(large, series, exact)


class Wishart(ExponentialFamily):
    r"""Wishart distribution of ``p x p`` symmetric positive-definite matrices.

    .. math::
        p(X) = \frac{\det(X)^{(n - p - 1)/2} \exp(-\operatorname{tr}(\Sigma^{-1} X) / 2)}
                    {2^{np/2} \det(\Sigma)^{n/2} \Gamma_p(n/2)}

    Support: symmetric positive-definite matrices (``event_shape == (p, p)``).

    Give exactly one of ``covariance_matrix`` (the scale matrix :math:`\Sigma`),
    ``precision_matrix`` (:math:`\Sigma^{-1}`) or ``scale_tril`` (:math:`L`, with
    :math:`\Sigma = L L^\top`). ``rsample`` uses the Bartlett decomposition
    :math:`X = (L A)(L A)^\top` with :math:`A` lower triangular, :math:`A_{ii}^2 \sim
    \chi^2_{n - i}` (``i = 0..p-1``, drawn reparameterized from log-gamma draws, so
    gradients reach ``df``) and standard normal entries below the diagonal.

    Args:
        df: the degrees of freedom :math:`n > p - 1`, of batch shape.
        covariance_matrix: symmetric positive-definite :math:`\Sigma`, ``(..., p, p)``.
        precision_matrix: symmetric positive-definite :math:`\Sigma^{-1}`, ``(..., p, p)``.
        scale_tril: lower-triangular :math:`L` with a positive diagonal, ``(..., p, p)``.

    Example:
        >>> import aleatorch as D
        >>> d = D.Wishart(torch.tensor(3.0), covariance_matrix=torch.eye(2))
        >>> d.log_prob(torch.eye(2))
        tensor(-3.5310)
    """

    arg_constraints = {
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
        "df": constraints.positive,
    }
    support = constraints.positive_definite
    has_rsample = True
    #: Redraws of samples that round to a singular matrix (``rsample``'s ``max_try_correction``).
    _max_redraws = 10
    _cache_min_numel = 0  # a Cholesky factorization is worth caching at any size

    def __init__(
        self,
        df: Any,
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
        df, matrix = as_params(df, matrix, owner=self._name, broadcast=False)
        refuse_half_precision(self._name, df, "the Cholesky factorization")
        if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
            raise ShapeError(
                f"{self._name}: '{name}' must be a square matrix of shape (..., p, p), but "
                f"its shape is {tuple(matrix.shape)}"
            )
        try:
            batch_shape = broadcast_shapes(df.shape, matrix.shape[:-2])
        except RuntimeError:
            raise ShapeError(
                f"{self._name}: the shape of 'df' {tuple(df.shape)} and the batch dims of "
                f"'{name}' {tuple(matrix.shape[:-2])} do not broadcast"
            ) from None
        self.df = df.expand(batch_shape)
        setattr(self, name, matrix.expand(batch_shape + matrix.shape[-2:]))
        # The factor keeps the matrix's own batch shape (no solve repeated per df entry).
        self._given_matrix = (name, matrix)
        super().__init__(batch_shape, matrix.shape[-2:], validate_args=validate_args)

    def _parameter_relations(self):
        p = self._event_shape[-1]
        rule = f"greater than p - 1 = {p - 1} (p = {p} is the matrix dimension)"
        yield "df", rule, self.df > p - 1, {}

    # -------------------------------------------------------------- derived parameters

    @lazy_property
    def _factor_terms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The Cholesky factor of the scale matrix and ``log det(Sigma) / 2``."""
        name, matrix = self._given_matrix
        if name == "scale_tril":
            factor = matrix
        elif name == "covariance_matrix":
            factor = torch.linalg.cholesky_ex(matrix)[0]
        else:
            factor = _precision_to_scale_tril(matrix)[0]
        return factor, _half_log_det(factor)

    @property
    def _unbroadcasted_scale_tril(self) -> torch.Tensor:
        return self._factor_terms[0]

    def _full(self, matrix: torch.Tensor) -> torch.Tensor:
        return matrix.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def scale_tril(self) -> torch.Tensor:
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self) -> torch.Tensor:
        factor = self._unbroadcasted_scale_tril
        return self._full(factor @ factor.mT)

    @lazy_property
    def precision_matrix(self) -> torch.Tensor:
        return self._full(torch.cholesky_inverse(self._unbroadcasted_scale_tril))

    # ---------------------------------------------------------------------- summaries

    def _scale(self) -> torch.Tensor:
        """Sigma at the factor's own batch shape, always as ``L L^T``: a given covariance
        then gets the symmetric gradient of the Cholesky map on every path (as MVN's)."""
        factor = self._unbroadcasted_scale_tril
        return factor @ factor.mT

    @property
    def mean(self) -> torch.Tensor:
        return self.df[..., None, None] * self._scale()

    @property
    def mode(self) -> torch.Tensor:
        # (n - p - 1) Sigma where n > p + 1; no maximum in the open cone otherwise (NaN).
        factor = self.df - self._event_shape[-1] - 1
        factor = torch.where(factor > 0, factor, torch.nan)
        return factor[..., None, None] * self.covariance_matrix

    @property
    def variance(self) -> torch.Tensor:
        # Var(X_ij) = n (Sigma_ij^2 + Sigma_ii Sigma_jj).
        scale = self._scale()
        diag = scale.diagonal(dim1=-2, dim2=-1)
        outer = diag.unsqueeze(-1) * diag.unsqueeze(-2)
        return self.df[..., None, None] * (scale.pow(2) + outer)

    def _entropy(self) -> torch.Tensor:
        p = self._event_shape[-1]
        n, half_log_det = self.df, self._factor_terms[1]
        half_n = 0.5 * n
        start, terms = _ENTROPY_SERIES[n.dtype]
        large = half_n - 0.5 * (p - 1) >= start
        if _readable((n,)):  # CPU eager: each form on its own entries, without wheres
            if not bool(large.any()):  # the usual case
                return _exact_entropy(half_n, p).add(half_log_det, alpha=p + 1)
            if bool(large.all()):
                return _series_entropy(half_n, p, terms).add(half_log_det, alpha=p + 1)
            # both: each form on its own entries, gathered and scattered by index
            flat, body = half_n.reshape(-1), torch.empty_like(half_n).view(-1)
            big = large.view(-1).nonzero().squeeze(-1)
            small = large.view(-1).logical_not_().nonzero().squeeze(-1)
            body.index_copy_(0, big, _series_entropy(flat.index_select(0, big), p, terms))
            body.index_copy_(0, small, _exact_entropy(flat.index_select(0, small), p))
            body = body.view_as(half_n)
        else:  # safe wheres: each form sees only arguments where it is accurate and finite
            exact = _exact_entropy(torch.where(large, 0.5 * (p + 1), half_n), p)
            safe = torch.where(large, half_n, start + 0.5 * (p - 1))
            body = torch.where(large, _series_entropy(safe, p, terms), exact)
        return body.add(half_log_det, alpha=p + 1)

    # ----------------------------------------------------------------------- the math

    def rsample(
        self,
        sample_shape=torch.Size(),
        max_try_correction: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """A reparameterized sample; ``max_try_correction`` (torch's argument) bounds the
        redraws of samples that round to a singular matrix (see ``_redraw_singular``)."""
        if max_try_correction is None:
            return super().rsample(sample_shape, generator=generator)
        self._max_redraws = int(max_try_correction)  # for this call only
        try:
            return super().rsample(sample_shape, generator=generator)
        finally:
            del self._max_redraws

    def _rsample(self, sample_shape, generator):
        shape = self._extended_shape(sample_shape)  # sample + batch + (p, p)
        df, tril = self.df, self._unbroadcasted_scale_tril
        # traced where values cannot steer Python: compile, torch.func (whose draws are
        # batched even for unbatched parameters), or nothing to draw
        if not _readable((df, tril)) or not math.prod(shape):
            return _bartlett(df, tril, shape, generator)
        by_entry = prepared = None
        p = shape[-1]
        if p <= _ELEMENTWISE_MAX_P:
            by_entry = self._cached(
                "tril_by_entry", lambda: tril.movedim((-2, -1), (0, 1)).contiguous()
            )
            if shape[:-2] == self.batch_shape and _gamma_batch(shape):
                # the gamma rounds' parameter terms, kept for the next draw of this shape
                prepared = cached_rounds(self, df, lambda: _gamma_concentrations(df, shape), "log")
        x, suspects = _bartlett(df, tril, shape, generator, True, by_entry, prepared)
        return self._redraw_singular(x, shape, generator, suspects)

    def _redraw_singular(self, x, shape, generator, suspects=None):
        """Redraw, up to ``_max_redraws`` times, the samples that rounded to a matrix without
        a Cholesky factor (df near p - 1 in float32: the smallest Bartlett factor can be
        1e-20 of the largest), so that ``log_prob`` of a sample never fails the support
        check; torch does the same. Only on CPU in eager mode, where the check is free of a
        device sync; elsewhere the sample is returned as drawn. ``suspects`` (a mask of the
        batch, or None for all) says which matrices need the exact check."""
        p = shape[-1]
        flat = x.reshape(-1, p, p)
        rows = None if suspects is None else suspects.reshape(-1).nonzero().squeeze(-1)
        for _ in range(self._max_redraws):
            if rows is None:
                singular = torch.linalg.cholesky_ex(flat.detach()).info.ne(0)
                rows = singular.nonzero().squeeze(-1)
            elif rows.numel():
                singular = torch.linalg.cholesky_ex(flat.detach()[rows]).info.ne(0)
                rows = rows[singular]
            if not rows.numel():
                break
            df = self.df.expand(shape[:-2]).reshape(-1)[rows]
            tril = self._unbroadcasted_scale_tril.expand(shape).reshape(-1, p, p)[rows]
            fresh = _bartlett(df, tril, torch.Size((rows.numel(), p, p)), generator)
            if flat.requires_grad:
                flat = flat.index_put((rows,), fresh)
            else:  # our own fresh draws: no copy of the whole batch
                flat.index_put_((rows,), fresh)
        return flat.reshape(shape)

    def _log_prob(self, value):
        p = self._event_shape[-1]
        n = self.df
        factor, half_log_det = self._factor_terms
        if p <= _ELEMENTWISE_MAX_P and value.numel() >= _ELEMENTWISE_MIN_BATCH * p * p:
            half_log_det_x, trace = self._value_terms_written_out(value)
        else:
            value_factor = torch.linalg.cholesky_ex(value)[0]
            half_log_det_x = _half_log_det(value_factor)
            # tr(Sigma^{-1} X) = |L^{-1} L_X|_F^2, by one triangular solve.
            z = torch.linalg.solve_triangular(factor, value_factor, upper=False)
            trace = z.pow(2).sum((-2, -1))
        large = 0.5 * n - 0.5 * (p - 1) > _STIRLING_FROM
        # CPU eager, no large df (the usual case): the Stirling branch and both wheres are
        # skipped; the traced form below gives the same numbers.
        few = _readable((n,)) and not bool(large.any())
        n_exact = n if few else torch.where(large, float(p + 1), n)  # safe where
        const = self._cached(
            "log_normalizer",
            lambda: (
                n_exact * half_log_det
                + 0.5 * n_exact * p * _LOG_2
                + _log_multigamma(0.5 * n_exact, p)
            ),
        )
        exact = (n_exact - p - 1) * half_log_det_x - 0.5 * trace - const
        if few:
            return exact
        big = _large_df_log_prob(0.5 * n, half_log_det, half_log_det_x, trace, p)
        return torch.where(large, big, exact)

    def _value_terms_written_out(self, value: torch.Tensor):
        """``log det(X) / 2`` and ``tr(Sigma^-1 X) = |W L_X|_F^2`` (``W = L^-1``, cached) for
        small ``p``, entry by entry over the batch: the Cholesky factor ``L_X`` column by
        column (pivots ``d_j = X_jj - sum_k L_jk^2``, ``L_ij = (X_ij - sum_k L_ik L_jk) /
        sqrt(d_j)``, ``log det X = sum_j log d_j``), ~20x cheaper than a batched LAPACK call on
        tiny matrices. float32 values are factored in float64 (not on MPS): a near-singular
        sample's log-determinant then carries no ``cond(X) eps`` of float32 factoring."""
        p = self._event_shape[-1]
        wide = value.dtype == torch.float32 and value.device.type != "mps"
        dtype = torch.float64 if wide else value.dtype
        x = [[value[..., i, j].to(dtype) for j in range(i + 1)] for i in range(p)]
        el = [[None] * (i + 1) for i in range(p)]
        pivots = []
        # A float32 value that factors in float32 may not in float64 (a sample at df near
        # p - 1): pivots are kept above eps^2 X_jj of the value's dtype, far below what its
        # rounding resolves, so that such values get a finite (if arbitrary) log-density.
        floor = torch.finfo(value.dtype).eps ** 2
        for j in range(p):
            d = x[j][j]
            for k in range(j):
                d = torch.addcmul(d, el[j][k], el[j][k], value=-1)
            if j:
                d = torch.maximum(d, x[j][j] * floor)
            pivots.append(d)
            el[j][j] = d.sqrt()
            inv = el[j][j].reciprocal()
            for i in range(j + 1, p):
                acc = x[i][j]
                for k in range(j):
                    acc = torch.addcmul(acc, el[i][k], el[j][k], value=-1)
                el[i][j] = acc * inv
        if wide:  # the product of float32-range pivots cannot leave float64's range
            product = pivots[0]
            for d in pivots[1:]:
                product = product * d
            log_det = product.log()
        else:
            log_det = pivots[0].log()
            for d in pivots[1:]:
                log_det = log_det + d.log()
        w = self._cached(
            "inverse_tril_by_entry",
            lambda: (
                torch.linalg.solve_triangular(
                    self._unbroadcasted_scale_tril,
                    torch.eye(p, dtype=value.dtype, device=value.device),
                    upper=False,
                )
                .to(dtype)
                .movedim((-2, -1), (0, 1))
                .contiguous()
            ),
        )
        trace = None
        for i in range(p):
            for j in range(i + 1):
                z = w[i, j] * el[j][j]  # (W L_X)_ij = sum_{j<=k<=i} W_ik (L_X)_kj
                for k in range(j + 1, i + 1):
                    z = torch.addcmul(z, w[i, k], el[k][j])
                trace = z * z if trace is None else torch.addcmul(trace, z, z)
        return (0.5 * log_det).to(value.dtype), trace.to(value.dtype)

    # ------------------------------------------------------------ exponential family

    @property
    def _natural_params(self):
        return (-0.5 * self.precision_matrix, 0.5 * self.df)

    def _log_normalizer(self, x, y):
        # A(eta) = -eta_2 log det(-eta_1) + log Gamma_p(eta_2).
        p = self._event_shape[-1]
        return -y * torch.logdet(-x) + _log_multigamma(y, p)

    @property
    def _mean_carrier_measure(self):
        # E[log h(X)] with h(X) = det(X)^{-(p+1)/2} and
        # E[log det X] = psi_p(n/2) + p log 2 + log det Sigma.
        p = self._event_shape[-1]
        e_log_det = _multidigamma(0.5 * self.df, p) + p * _LOG_2 + 2 * self._factor_terms[1]
        return -0.5 * (p + 1) * e_log_det
