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

import torch

from ..utils import _flat_list
from .implicit import IdentityOnSample
from .marsaglia_tsang import (
    _KERNEL_LOG_FROM,
    _PYTHON_UP_TO,
    _below_one,
    _eager_ok,
    log_marsaglia_tsang,
    marsaglia_tsang,
    marsaglia_tsang_with_uniform,
)

__all__ = ["kernel_draws_exact", "log_standard_gamma", "standard_gamma"]

_HALF = (torch.float16, torch.bfloat16)


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
    concentration: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draws of Gamma(a, 1), one per entry of ``concentration``, reparameterized with torch's
    implicit gradient (``_standard_gamma_grad``). Half-precision concentrations are drawn in
    float32 and returned in their own dtype."""
    if concentration.dtype in _HALF:
        return standard_gamma(concentration.float(), generator).to(concentration.dtype)
    x = marsaglia_tsang(concentration, generator)
    if torch.is_grad_enabled() and concentration.requires_grad:
        return _ImplicitGamma.apply(concentration, x)
    return x


def log_standard_gamma(
    concentration: torch.Tensor, shape: torch.Size, generator: torch.Generator | None = None
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
    """
    if _eager_ok(concentration):
        # CPU eager: the logs straight from the rounds (boost included); with a graph, the
        # same numbers (sample and rsample agree) and their pathwise gradient attached
        if concentration.dtype in _HALF:  # drawn in float32
            out = log_standard_gamma(concentration.float(), shape, generator)
            return out.to(concentration.dtype)
        a = concentration if concentration.shape == shape else concentration.expand(shape)
        log_g, log_u = log_marsaglia_tsang(a, generator)
        if torch.is_grad_enabled() and concentration.requires_grad:
            return _ImplicitLogGamma.apply(a, log_g, log_u)
        return log_g
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


def kernel_draws_exact(concentrations: tuple[torch.Tensor, ...], shape: torch.Size) -> bool:
    """Whether a few draws (at most ``_PYTHON_UP_TO`` entries of ``shape``, CPU eager, float32
    or float64) may come straight from torch's gamma kernels (``_standard_gamma``,
    ``_sample_dirichlet``): every concentration is large enough that a draw underflows with
    probability below 2^-64 (``_KERNEL_LOG_FROM``), so the ratios of Beta and Dirichlet
    sampling are exact without the log-space path."""
    first = concentrations[0]
    threshold = _KERNEL_LOG_FROM.get(first.dtype)
    if threshold is None or shape.numel() > _PYTHON_UP_TO or not _eager_ok(first):
        return False
    for c in concentrations:
        if c.dtype != first.dtype or not c.is_cpu:
            return False
        if not min(_flat_list(c), default=0.0) >= threshold:  # also rejects NaN
            return False
    return True
