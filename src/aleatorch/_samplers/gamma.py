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

from ..utils import _readable

__all__ = ["log_standard_gamma", "standard_gamma"]

_HALF = (torch.float16, torch.bfloat16)


def standard_gamma(
    concentration: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draws of Gamma(a, 1), one per entry of ``concentration``, reparameterized (torch's
    implicit gradient). Half-precision concentrations are drawn in float32 (torch has no
    half kernel) and returned in their own dtype."""
    if concentration.dtype in _HALF:
        draws = torch._standard_gamma(concentration.float(), generator=generator)
        return draws.to(concentration.dtype)
    return torch._standard_gamma(concentration, generator=generator)


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
        :math:`a + 1` (or :math:`a` when :math:`a \ge 1`) and through :math:`-E / a`.
    """
    small = concentration < 1
    if _readable((concentration,)) and not bool(small.any()):
        # CPU eager with no a < 1: nothing to boost, no uniforms to draw (the traced path
        # below draws them and adds 0 / inf = 0: the same law).
        return standard_gamma(concentration.expand(shape), generator=generator).log()
    # Boost every a < 1 to a + 1; the U^(1/a) factor is added back in log space below.
    boosted = torch.where(small, concentration + 1, concentration)
    log_g = standard_gamma(boosted.expand(shape), generator=generator).log()
    # log U = log(1 - u) with u uniform on [0, 1): never -inf, and ~5x cheaper than drawing
    # E = -log U with exponential_. Its lower tail stops at log(eps / 2) (-16.6 in float32,
    # -36.7 in float64), a probability of eps / 2 that no test at that precision can see.
    log_u = torch.rand(
        shape, dtype=concentration.dtype, device=concentration.device, generator=generator
    )
    log_u = log_u.neg_().log1p_()
    # 1/a where a < 1 and 1/inf = 0 elsewhere: no stray inf or NaN, in values or gradients.
    inv_small = torch.where(small, concentration, float("inf")).reciprocal()
    return torch.addcmul(log_g, log_u, inv_small)
