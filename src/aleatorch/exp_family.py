"""Exponential families: ``p(x) = h(x) exp(<eta, T(x)> - A(eta))``."""

from __future__ import annotations

import torch

from .distribution import Distribution

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
