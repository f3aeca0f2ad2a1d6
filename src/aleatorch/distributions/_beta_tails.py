"""The cdf family of a count distribution whose tails are regularized incomplete betas
(Binomial, NegativeBinomial)."""

from __future__ import annotations

import torch

from ..special.incomplete_beta import betainc, betaincc, log_betainc


class IncompleteBetaTails:
    """Mixin: ``cdf(k) = I_q(a, b)`` and ``sf(k) = I_p(b, a)`` for the family's ``(a, b)``.

    The family gives ``_tail_arguments(value) -> (a, b, below, above)`` (``below``: the value
    is under the support, so the cdf is 0; ``above``: it is at or past the top, or the law is
    a point mass there, so the cdf is 1) and ``_success_failure_probs() -> (p, q)`` with
    ``p + q = 1``, passed to the incomplete beta as ``x = q, 1 - x = p`` so neither is
    rounded.
    """

    def _cdf(self, value):
        a, b, below, above = self._tail_arguments(value)
        p, q = self._success_failure_probs()
        cdf = betainc(a, b, q, p)
        return torch.where(below, 0.0, torch.where(above, 1.0, cdf))

    def _survival_function(self, value):
        a, b, below, above = self._tail_arguments(value)
        p, q = self._success_failure_probs()
        sf = betaincc(a, b, q, p)
        return torch.where(below, 1.0, torch.where(above, 0.0, sf))

    def _log_cdf(self, value):
        a, b, below, above = self._tail_arguments(value)
        p, q = self._success_failure_probs()
        log_cdf = log_betainc(a, b, q, p)
        return torch.where(below, -torch.inf, torch.where(above, 0.0, log_cdf))

    def _log_survival_function(self, value):
        a, b, below, above = self._tail_arguments(value)
        p, q = self._success_failure_probs()
        log_sf = log_betainc(b, a, p, q)
        return torch.where(below, 0.0, torch.where(above, -torch.inf, log_sf))
