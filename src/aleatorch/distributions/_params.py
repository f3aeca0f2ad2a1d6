"""Helpers shared by the constructors of the distribution classes."""

from __future__ import annotations

from typing import Any

import torch

from ..distribution import SCORE_FUNCTION_HINT
from ..errors import ParameterError
from ..utils import as_params, lazy_property, logits_to_probs, probs_to_logits


def rsample_hint(*alternatives: str) -> str:
    """What to suggest when ``rsample`` is missing: a score-function estimator, or those of
    ``alternatives`` (aleatorch class names) that aleatorch has.

    Looked up when the message is made, so a hint names a class only once it exists.
    """
    import aleatorch  # at call time: the package is fully imported by then

    have = [name for name in alternatives if hasattr(aleatorch, name)]
    return ", or ".join([SCORE_FUNCTION_HINT, *have])


def probs_or_logits(owner: str, probs: Any, logits: Any) -> tuple[str, torch.Tensor]:
    """Return ``("probs", tensor)`` or ``("logits", tensor)``: exactly one must be given."""
    if (probs is None) == (logits is None):
        given = "both were" if probs is not None else "neither was"
        raise ParameterError(f"{owner}: give exactly one of 'probs' or 'logits', but {given} given")
    if probs is not None:
        return "probs", as_params(probs, owner=owner)[0]
    return "logits", as_params(logits, owner=owner)[0]


def count_and_given(
    owner: str, total_count: Any, probs: Any, logits: Any
) -> tuple[torch.Tensor, str, torch.Tensor]:
    """``(total_count, name, param)`` of a count family (Binomial, NegativeBinomial): the
    count and whichever of probs/logits was given, in one dtype, broadcast together."""
    name, _ = probs_or_logits(owner, probs, logits)
    given = probs if name == "probs" else logits
    total_count, param = as_params(total_count, given, owner=owner)
    return total_count, name, param


class GivenParameter:
    """Mixin for dual parametrizations: remembers which parameter was given.

    ``_given`` is the name given at construction (``"probs"`` or ``"logits"``); the other is a
    lazily cached derivation, so "which is in ``__dict__``" depends on access order and must
    not decide anything.
    """

    _given: str

    def _set_given(self, name: str, param: torch.Tensor) -> None:
        setattr(self, name, param)
        self._given = name

    @property
    def _param(self) -> torch.Tensor:
        """The parameter given at construction."""
        return self.__dict__[self._given]

    @property
    def param_shape(self) -> torch.Size:
        return self._param.size()


class BinaryGivenParameter(GivenParameter):
    """:class:`GivenParameter` for a success probability ``p`` and its log-odds."""

    @lazy_property
    def logits(self) -> torch.Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> torch.Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    def _trial_variance(self) -> torch.Tensor:
        """``p (1 - p)``, the variance of one trial; from logits as ``sigmoid(l) sigmoid(-l)``,
        which keeps ``1 - p`` exact for large logits."""
        if self._given == "logits":
            return torch.sigmoid(self.logits) * torch.sigmoid(-self.logits)
        return self.probs * (1 - self.probs)
