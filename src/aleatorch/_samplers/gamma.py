r"""Log-space samples of the standard gamma distribution, accurate for tiny concentrations.

For :math:`a \to 0` a draw of :math:`\mathrm{Gamma}(a, 1)` is of order :math:`U^{1/a}`: below the
smallest float for most draws once :math:`a \lesssim 10^{-3}`, so its logarithm (and every ratio
of gammas, as in Beta and Dirichlet sampling) is lost. The boosting identity

.. math:: G_a \overset{d}{=} G_{a+1} \, U^{1/a}, \qquad
          \log G_a = \log G_{a+1} + \log(U) / a

(Marsaglia & Tsang 2000, "A simple method for generating gamma variables", §6) keeps the log
exact, since :math:`G_{a+1}` never underflows.
"""

from __future__ import annotations

import math
import operator

import torch

from ..distribution import _no_caching
from .implicit import IdentityOnSample
from .marsaglia_tsang import (
    _KERNEL_LOG_FROM,
    Prepared,
    _below_one,
    _eager_ok,
    _from_floats,
    log_marsaglia_tsang,
    marsaglia_tsang,
    marsaglia_tsang_with_uniform,
    prepare_rounds,
)

__all__ = [
    "cached_rounds",
    "few_beta",
    "few_dirichlet",
    "log_standard_gamma",
    "simplex_from_logs_",
    "simplex_from_major_logs_",
    "standard_gamma",
]

_HALF = (torch.float16, torch.bfloat16)
_FLOAT_TINY = {torch.float32: torch.finfo(torch.float32).tiny, torch.float64: 2.0**-1022}


class _ImplicitGamma(IdentityOnSample):
    """Identity on the draw ``x``; backward multiplies by torch's implicit gradient
    ``_standard_gamma_grad(a, x)`` (``dx/da = -(dF/da)/f`` at fixed ``F(x; a)``), as the
    autograd of ``torch._standard_gamma`` does."""

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        return grad * torch._standard_gamma_grad(a, x), None


class _ImplicitLogGamma(torch.autograd.Function):
    r"""Identity on the draws :math:`\ell = \log G_a` (``forward(a, log_g, log_u)``);
    backward gives their pathwise gradient: where the boost was used (``log_u`` given and
    :math:`a < 1`), :math:`\ell = \log G_{a+1} + \log(U)/a`, so :math:`d\ell/da = g'(a + 1,
    G_{a+1}) / G_{a+1} - \log(U)/a^2` with :math:`g'` torch's implicit gradient
    (``_standard_gamma_grad``); elsewhere :math:`g'(a, G_a) / G_a`."""

    @staticmethod
    def forward(a, log_g, log_u):
        return log_g.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output, inputs[2])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        a, log_g, log_u = ctx.saved_tensors
        if log_u is None:
            g = log_g.exp()
            return grad * torch._standard_gamma_grad(a, g) / g, None, None
        small = _below_one(a)
        inv = small / a
        boost = log_u * inv  # log(U) / a where a < 1, else 0
        g = (log_g - boost).exp()  # G_{a+1} where a < 1, else G_a
        slope = torch._standard_gamma_grad(a + small, g) / g - boost / a
        return grad * slope, None, None


def standard_gamma(
    concentration: torch.Tensor,
    generator: torch.Generator | None = None,
    prepared: Prepared | None = None,
    finish=None,
) -> torch.Tensor:
    """Draws of Gamma(a, 1), one per entry of ``concentration``, reparameterized with torch's
    implicit gradient (``_standard_gamma_grad``). Half-precision concentrations are drawn in
    float32 and returned in their own dtype. ``prepared``: ``prepare_rounds(concentration,
    "value")`` (a distribution's cached terms), or None. ``finish``: see ``marsaglia_tsang``
    (float32 or float64, no graph to record: the gradient needs the draws themselves)."""
    if concentration.dtype in _HALF:
        return standard_gamma(concentration.float(), generator).to(concentration.dtype)
    x = marsaglia_tsang(concentration, generator, prepared=prepared, finish=finish)
    if torch.is_grad_enabled() and concentration.requires_grad:
        return _ImplicitGamma.apply(concentration, x)
    return x


def log_standard_gamma(
    concentration: torch.Tensor,
    shape: torch.Size,
    generator: torch.Generator | None = None,
    prepared: Prepared | None = None,
) -> torch.Tensor:
    r"""Draw :math:`\log G` with :math:`G \sim \mathrm{Gamma}(a, 1)`, reparameterized.

    Args:
        concentration: the shape :math:`a > 0`, broadcastable to ``shape``.
        shape: the shape of the result.
        generator: the random number generator.

    Returns:
        A tensor of ``shape`` and the concentration's dtype. Gradients with respect to
        :math:`a` are pathwise: through torch's implicit gradient of ``_standard_gamma`` at
        :math:`a + 1` and through :math:`-E / a` where the draw was boosted, else at
        :math:`a` (``a >= 1``, or a few draws all from torch's kernel).
        prepared: ``prepare_rounds(concentration, "log")`` where ``concentration`` has
            ``shape`` (a distribution's cached terms), or None.
    """
    if _eager_ok(concentration):
        # CPU eager: the logs straight from the rounds (boost included); with a graph, the
        # same numbers (sample and rsample agree) and their pathwise gradient attached
        if concentration.dtype in _HALF:  # drawn in float32
            out = log_standard_gamma(concentration.float(), shape, generator)
            return out.to(concentration.dtype)
        a = concentration if concentration.shape == shape else concentration.expand(shape)
        grad = torch.is_grad_enabled() and concentration.requires_grad
        log_g, log_u = log_marsaglia_tsang(a, generator, keep_u=grad, prepared=prepared)
        return _ImplicitLogGamma.apply(a, log_g, log_u) if grad else log_g
    if concentration.dtype in _HALF:  # drawn in float32
        out = log_standard_gamma(concentration.float(), shape, generator)
        return out.to(concentration.dtype)
    # 1 where a < 1, else 0 (arithmetic: a where on a mask that splits the entries costs more)
    small = _below_one(concentration.detach())
    # Boost every a < 1 to a + 1; the U^(1/a) factor is added back in log space below. U
    # comes from the accepted Marsaglia–Tsang pair itself (independent of the draw; its log
    # is finite: at least log(eps / 2) - 0 as 1 - u >= eps / 2 and the bound h <= 0).
    boosted = (concentration + small).expand(shape)
    g, log_u = marsaglia_tsang_with_uniform(boosted, generator)
    if torch.is_grad_enabled() and boosted.requires_grad:
        g = _ImplicitGamma.apply(boosted, g)
    # 1/a where a < 1 and 0/a = 0 elsewhere: no stray inf or NaN, in values or gradients.
    inv_small = small / concentration
    return torch.addcmul(g.log(), log_u, inv_small)


def cached_rounds(
    dist, param: torch.Tensor, concentration, mode: str, name: str = "gamma_rounds"
) -> Prepared | None:
    """``prepare_rounds(concentration(), mode)`` kept in ``dist``'s cache under ``name`` (see
    ``Distribution._cached``: keyed on the parameters' versions) where it is kept, else None
    (a parameter requiring grad, few entries, compile, torch.func, inference mode: the rounds
    then compute the terms block by block, as cheap as once)."""
    if param.requires_grad or param.numel() < dist._cache_min_numel or _no_caching():
        return None
    return dist._cached(name, lambda: prepare_rounds(concentration(), mode))


def simplex_from_logs_(log_g: torch.Tensor) -> torch.Tensor:
    r""":math:`e^{\ell - m} / \sum e^{\ell - m}` over the last dim, :math:`m` the row's
    largest :math:`\ell`, at least ``tiny`` (0 has infinite log-density for a concentration
    below 1), written over the fresh log-gammas ``log_g`` (no graph): Dirichlet draws. CPU
    eager, large, a short last dim: column by column (an op that broadcasts a row's max or
    sum over a short last dim costs ~3x more than the ``k`` strided ones)."""
    k = log_g.shape[-1]
    tiny = torch.finfo(log_g.dtype).tiny
    if not (1 < k <= _COLUMNS_UP_TO and log_g.numel() >= _COLUMNS_FROM and _eager_ok(log_g)):
        g = log_g.sub_(log_g.amax(-1, keepdim=True)).exp_()
        return g.div_(g.sum(-1, keepdim=True)).clamp_(min=tiny)
    cols = log_g.unbind(-1)
    top = torch.maximum(cols[0], cols[1])
    for col in cols[2:]:
        torch.maximum(top, col, out=top)
    for col in cols:
        col.sub_(top)
    _exp_above_tiny_(log_g)
    total = torch.add(cols[0], cols[1], out=top)
    for col in cols[2:]:
        total.add_(col)
    # (strided products cost less than strided quotients; within an ulp more)
    total.reciprocal_()
    for col in cols:
        col.mul_(total)
    return log_g.clamp_(min=tiny)


_COLUMNS_UP_TO = 8
_COLUMNS_FROM = 4096


def simplex_from_major_logs_(log_g: torch.Tensor) -> torch.Tensor:
    r"""``simplex_from_logs_`` for fresh log-gammas laid out categories first (shape
    ``(k,) + batch``, contiguous; no graph, ``2 <= k``), overwritten: every category a
    contiguous column, ~2x cheaper than the strided ones. Returns the draws, shape
    ``batch + (k,)``: :math:`e^{\ell_i - m} \cdot (1 / \sum_j e^{\ell_j - m})`, at least
    ``tiny``, computed in blocks of rows (``_SIMPLEX_BLOCK`` entries) that stay in cache
    across the passes (the clamp too)."""
    k = log_g.shape[0]
    out = torch.empty(log_g.shape[1:] + (k,), dtype=log_g.dtype)
    logs, rows = log_g.view(k, -1), out.view(-1, k)
    step = max(1, _SIMPLEX_BLOCK // k)
    scratch = torch.empty(min(step, logs.shape[1]), dtype=log_g.dtype)
    for start in range(0, logs.shape[1], step):
        block = logs[:, start : start + step]
        _simplex_block_(block, scratch[: block.shape[1]], rows[start : start + step])
    return out


def _simplex_block_(logs: torch.Tensor, scratch: torch.Tensor, out: torch.Tensor) -> None:
    """One block of ``simplex_from_major_logs_``: the rows ``out`` (m, k) from the columns
    ``logs`` (k, m), overwritten, with ``scratch`` (m entries) for the max and the sum."""
    cols = logs.unbind(0)
    top = torch.maximum(cols[0], cols[1], out=scratch)
    for col in cols[2:]:
        torch.maximum(top, col, out=top)
    _exp_above_tiny_(logs.sub_(top))
    total = torch.add(cols[0], cols[1], out=top)
    for col in cols[2:]:
        total.add_(col)
    total.reciprocal_()
    for i, col in enumerate(cols):
        torch.mul(col, total, out=out[:, i])
    out.clamp_(min=torch.finfo(out.dtype).tiny)


def _exp_above_tiny_(v: torch.Tensor) -> None:
    r""":math:`e^v` in place for the shifted logs :math:`v \le 0` of rows whose largest is 0,
    but 0 where :math:`e^v` is below ``tiny``: its share :math:`e^v / \sum_j e^{v_j}` is
    then below ``tiny`` too and clamped to it either way, and the sum (at least 1) is the
    same. Results below ``tiny`` (subnormal) send ``exp`` on a slow path on CPU (1% of them
    make it ~10x slower, measured), and the products after it too."""
    below = math.log(torch.finfo(v.dtype).tiny) - 0.01  # (exp's rounding included)
    torch.nn.functional.threshold_(v, below, -math.inf).exp_()


# Entries (all categories) per block of simplex_from_major_logs_: the block, its rows and
# the scratch stay in a 2 MB cache between the passes.
_SIMPLEX_BLOCK = 1 << 17


# Up to this many draws (CPU eager) Beta and Dirichlet samples are finished in Python floats.
_FEW = 64
# Below this concentration the boost's E / a may overflow a double: the tensor path.
_FEW_LOWEST = 1e-290
# Gamma draws below this are redone in log space (far above the subnormal doubles).
_FEW_VALUE_FLOOR = 1e-280


def _few_ok(tensors: tuple[torch.Tensor, ...], shape: torch.Size) -> bool:
    """Whether a few draws (1 to ``_FEW`` entries of ``shape``) may be made in Python floats:
    CPU eager (``_eager_ok``), float32 or float64, one dtype."""
    first = tensors[0]
    if first.dtype not in _FLOAT_TINY or not 0 < shape.numel() <= _FEW or not _eager_ok(first):
        return False
    for t in tensors[1:]:
        if t.dtype != first.dtype or not t.is_cpu:
            return False
    return True


def _few_rows(t: torch.Tensor, shape: torch.Size) -> list | None:
    """The entries of ``t`` expanded to ``shape`` as Python floats: a list of rows (lists
    along the last dim) for two dims or more, a flat list for one, ``[x]`` for none; None
    unless every entry is finite and at least ``_FEW_LOWEST``."""
    values = (t if t.shape == shape else t.expand(shape)).tolist()
    dims = len(shape)
    if dims < 2:
        values = values if dims else [values]
        ok = min(values) >= _FEW_LOWEST and sum(values) < math.inf
    else:
        for _ in range(dims - 2):
            values = [row for block in values for row in block]
        ok = min(map(min, values)) >= _FEW_LOWEST and sum(map(sum, values)) < math.inf
    return values if ok else None  # (a NaN or inf makes the sums NaN or inf)


def _few_simplex(values: list[float], k: int, generator, first: bool = False) -> list[float]:
    r"""Rows of ``k`` gamma draws, each row divided by its sum: :math:`G_i / \sum_j G_j` with
    :math:`G_i \sim \mathrm{Gamma}(a_i)` for the concentrations ``values``, in double
    precision. One call of torch's float64 kernel draws :math:`G_a` (``a >= 1``) or, boosted
    (``a < 1``), :math:`G_{a+1}` and :math:`E \sim \mathrm{Gamma}(1)`, i.e. :math:`E = -\log U`:
    :math:`G_a = G_{a+1} e^{-E/a}`. Where a draw falls below ``_FEW_VALUE_FLOOR`` (tiny
    ``a``) the rows are normalized from the logs :math:`\log G_{a+1} - E/a`, exact where
    :math:`G_a` itself underflows. ``first``: only the first entry of each row (Beta)."""
    n = len(values)
    conc = [v + 1.0 if v < 1.0 else v for v in values]  # exact in double for a float32 a
    small = [v for v in values if v < 1.0]
    g = torch._standard_gamma(_from_floats(conc + [1.0] * len(small), torch.float64), generator)
    g = g.tolist()
    w = g[:n]
    if small:
        exp, j = math.exp, n
        for i, v in enumerate(values):
            if v < 1.0:
                w[i] *= exp(-g[j] / v)
                j += 1
        if min(w) < _FEW_VALUE_FLOOR:
            j = n
            ell = list(map(math.log, g[:n]))
            for i, v in enumerate(values):
                if v < 1.0:
                    ell[i] -= g[j] / v
                    j += 1
            w = []
            for i in range(0, n, k):
                row = ell[i : i + k]
                top = max(row)
                w += [exp(v - top) for v in row]
    if first:  # (the first of each pair: Beta)
        return [x / (x + y) for x, y in zip(w[0::2], w[1::2])]
    out = []
    for i in range(0, n, k):
        row = w[i : i + k]
        total = sum(row)
        out += [v / total for v in row]
    return out


def _shaped(values: list[float], dtype: torch.dtype, shape: torch.Size) -> torch.Tensor:
    x = _from_floats(values, dtype)
    return x if len(shape) == 1 else x.view(*shape) if shape else x.view(())


# torch's Dirichlet kernel (``_sample_dirichlet``, CPU) draws the gammas in double precision
# (kept at least the smallest normal double, 2^-1022), divides by their sum and rounds the
# quotients once, kept in ``[tiny, 1 - eps/2]`` of the dtype. A draw below 2^-1022 changes the
# result only if the row's sum is below 2^-1022 / tiny (2^-896 for float32; 1 for float64),
# which needs every gamma of the row below it: ``P <= prod_j t^(a_j) / Gamma(1 + a_j)``, with
# ``1 / Gamma(1 + a) <= 2^0.176``. The kernel is used where that is below 2^-64 per draw.
_KERNEL_ROW_BITS = {torch.float32: 896.0}


def _kernel_exact(rows: list[list[float]], dtype: torch.dtype) -> bool:
    """Whether ``_sample_dirichlet`` on these rows of concentrations (two or more each) is
    exact in law but for events of probability below 2^-64 per row (``_KERNEL_ROW_BITS``).
    float64: the sum may be below 1, so every entry must keep its own underflow below 2^-64."""
    bits = _KERNEL_ROW_BITS.get(dtype)
    if bits is None:
        return min(map(min, rows)) >= _KERNEL_LOG_FROM[torch.float64]
    need = (64.0 + 0.176 * len(rows[0])) / bits
    return min(map(sum, rows)) >= need


def few_dirichlet(
    c: torch.Tensor, shape: torch.Size, generator: torch.Generator | None
) -> torch.Tensor | None:
    r"""Dirichlet draws of ``shape`` (last dim: the categories) for a few entries (CPU eager):
    torch's kernel where it is exact (``_kernel_exact``), else in Python floats
    (``_few_simplex``) rounded once to ``c``'s dtype, at least its ``tiny``. None where
    ``_few_ok`` or ``_few_rows`` refuses (the tensor path)."""
    if c.dtype not in _FLOAT_TINY or not 0 < shape.numel() <= _FEW or not _eager_ok(c):
        return None
    rows = _few_rows(c, shape)
    if rows is None:
        return None
    k = shape[-1]
    if len(shape) == 1:
        rows = [rows]
    if k > 1 and _kernel_exact(rows, c.dtype):  # (k = 1: x = 1, not 1 - eps/2)
        c = c.detach() if c.requires_grad else c
        return torch._sample_dirichlet(c if c.shape == shape else c.expand(shape), generator)
    out = _few_simplex([v for row in rows for v in row], k, generator)
    tiny = _FLOAT_TINY[c.dtype]
    if min(out) < tiny:
        out = [max(v, tiny) for v in out]
    return _shaped(out, c.dtype, shape)


def few_beta(
    a: torch.Tensor, b: torch.Tensor, shape: torch.Size, generator: torch.Generator | None
) -> torch.Tensor | None:
    r"""Beta draws of ``shape`` for a few entries (CPU eager): the first component of torch's
    Dirichlet kernel on the pairs where it is exact (``_kernel_exact``), else
    :math:`G_a / (G_a + G_b)` in Python floats (``_few_simplex``), rounded once to the dtype;
    in ``[tiny, 1 - eps/2]`` either way. None where ``_few_ok`` or ``_few_rows`` refuses (the
    tensor path)."""
    if not _few_ok((a, b), shape):
        return None
    va, vb = _few_rows(a, shape), _few_rows(b, shape)
    if va is None or vb is None:
        return None
    if len(shape) > 1:
        va, vb = [v for row in va for v in row], [v for row in vb for v in row]
    if a.dtype == torch.float64:
        exact = min(min(va), min(vb)) >= _KERNEL_LOG_FROM[torch.float64]
    else:
        exact = min(map(operator.add, va, vb)) >= (64.0 + 2 * 0.176) / _KERNEL_ROW_BITS[a.dtype]
    if exact:  # (see _kernel_exact; x in [tiny, 1 - eps/2] there)
        if a.requires_grad or b.requires_grad:
            a, b = a.detach(), b.detach()
        if a.shape != shape or b.shape != shape:
            a, b = a.expand(shape), b.expand(shape)
        return torch._sample_dirichlet(torch.stack([a, b], -1), generator).select(-1, 0)
    pairs = [v for pair in zip(va, vb) for v in pair]
    out = _few_simplex(pairs, 2, generator, first=True)
    tiny, top = _FLOAT_TINY[a.dtype], 1.0 - torch.finfo(a.dtype).eps / 2
    if min(out) < tiny or max(out) > top:
        out = [min(max(v, tiny), top) for v in out]
    return _shaped(out, a.dtype, shape)
