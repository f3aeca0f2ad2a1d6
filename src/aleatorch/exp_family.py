"""Exponential families: ``p(x) = h(x) exp(<eta, T(x)> - A(eta))``."""

from __future__ import annotations

import torch

from .distribution import Distribution
from .kl import register_kl

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    r"""Base class of exponential-family distributions.

    .. math:: p(x; \eta) = h(x) \exp(\langle \eta, T(x) \rangle - A(\eta))

    Subclasses give ``_natural_params`` (the tuple ``eta``), ``_log_normalizer(*eta)``
    (``A``) and ``_mean_carrier_measure`` (``E[log h(x)]``). The entropy then follows as
    ``A(eta) - <eta, grad A(eta)> - E[log h(x)]`` by autograd, for families without a closed
    form.
    """

    @property
    def _natural_params(self) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def _log_normalizer(self, *natural_params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self) -> torch.Tensor | float:
        raise NotImplementedError

    def _entropy(self) -> torch.Tensor:
        # Bregman identity: H = A(eta) - <eta, grad A(eta)> - E[log h(x)].
        result = -self._mean_carrier_measure
        natural_params = [p.detach().requires_grad_() for p in self._natural_params]
        log_normalizer = self._log_normalizer(*natural_params)
        gradients = torch.autograd.grad(log_normalizer.sum(), natural_params, create_graph=True)
        result = result + log_normalizer
        for eta, grad in zip(natural_params, gradients):
            result = result - (eta * grad).reshape(self._batch_shape + (-1,)).sum(-1)
        return result


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p: ExponentialFamily, q: ExponentialFamily) -> torch.Tensor:
    r"""KL between two members of one exponential family, as a Bregman divergence of ``A``:

    .. math:: KL(p \| q) = A(\eta_q) - A(\eta_p) - \langle \eta_q - \eta_p, \nabla A(\eta_p) \rangle

    The fallback for a family without a closed-form KL. ``grad A`` comes from autograd with
    ``create_graph=True`` on ``p``'s own natural parameters (torch detaches them), so the
    result is differentiable with respect to the parameters of both ``p`` and ``q``.
    """
    if type(p) is not type(q):
        raise NotImplementedError(
            f"kl_divergence({type(p).__name__}, {type(q).__name__}): the exponential-family "
            "(Bregman) form needs both distributions of the same family"
        )
    natural_p, natural_q = p._natural_params, q._natural_params
    attached = any(e.requires_grad for e in (*natural_p, *natural_q))
    with torch.enable_grad():
        eta_p = [e if e.requires_grad else e.detach().requires_grad_() for e in natural_p]
        log_normalizer_p = p._log_normalizer(*eta_p)
        gradients = torch.autograd.grad(log_normalizer_p.sum(), eta_p, create_graph=True)
    result = q._log_normalizer(*natural_q) - log_normalizer_p
    event_dims = len(q.event_shape)
    for e_p, e_q, g in zip(eta_p, natural_q, gradients):
        term = (e_q - e_p) * g
        if event_dims:
            term = term.reshape(term.shape[: term.dim() - event_dims] + (-1,)).sum(-1)
        result = result - term
    return result if attached else result.detach()
