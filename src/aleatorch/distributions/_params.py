"""Helpers shared by the constructors of the distribution classes."""

from __future__ import annotations

from typing import Any

import torch

from ..distribution import SCORE_FUNCTION_HINT
from ..errors import ParameterError
from ..special.compile_safe import expm1
from ..special.logspace import softplus
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


# (-1)^j / ((j + 2)(j + 1)), j = 0..27: the series (1 + u) log1p(u) - u = u^2 sum_j c_j u^j,
# below float64 rounding for |u| <= 1/4 (the first omitted term is 4^-28 / 870 relative).
_KL_SERIES = [(-1.0) ** j / ((j + 2) * (j + 1)) for j in range(27, -1, -1)]
_KL_SERIES_RADIUS = 0.25


def _relative_entropy_term(a, b, u, log_ratio):
    """``a log(a / b) - a + b >= 0`` for one outcome with probabilities ``a`` (under p) and
    ``b`` (under q), given ``u = a / b - 1`` and ``log_ratio = log(a / b)``.

    Near ``u = 0`` it is ``b f(u)`` with ``f(u) = (1 + u) log1p(u) - u = u^2/2 - u^3/6 + ...``
    summed as a series, so the tiny result keeps full relative precision; elsewhere the
    direct form (its terms no longer cancel), with ``0 log(0 / b) = 0`` and ``a log(a / 0) =
    inf``.
    """
    near = u.abs() <= _KL_SERIES_RADIUS  # False for NaN
    t = torch.where(near, u, torch.zeros_like(u))
    series = torch.zeros_like(t)
    for c in _KL_SERIES:
        series = series * t + c
    close = b * (t * t * series)
    safe_log_ratio = torch.where(near | (a == 0), torch.zeros_like(log_ratio), log_ratio)
    far = a * safe_log_ratio - a + b
    return torch.where(near, close, far).clamp(min=0)


def binary_kl(p: BinaryGivenParameter, q: BinaryGivenParameter) -> torch.Tensor:
    """``KL(Bernoulli(p) || Bernoulli(q)) = p log(p/q) + (1-p) log((1-p)/(1-q))``, summed as
    two nonnegative terms ``a log(a/b) - a + b`` (their ``-a + b`` parts cancel exactly), each
    to full relative precision when p and q are nearly equal: the ratio ``p/q - 1`` comes
    from the difference of the given parameters, never from rounded ratios of probabilities.
    From logits ``l``, ``m``: ``p/q - 1 = sigmoid(-l) expm1(l - m)`` and
    ``(1-p)/(1-q) - 1 = sigmoid(l) expm1(m - l)``.
    """
    if p._given == "logits" and q._given == "logits":
        lp, lq = torch.broadcast_tensors(p.logits, q.logits)
        d = lp - lq
        success = _relative_entropy_term(
            torch.sigmoid(lp),
            torch.sigmoid(lq),
            torch.sigmoid(-lp) * expm1(d),
            softplus(-lq) - softplus(-lp),
        )
        failure = _relative_entropy_term(
            torch.sigmoid(-lp),
            torch.sigmoid(-lq),
            torch.sigmoid(lp) * expm1(-d),
            softplus(lq) - softplus(lp),
        )
        return success + failure
    a, b = torch.broadcast_tensors(p.probs, q.probs)
    # Where a term's own probability under p is 0 it is b, whatever its log: keep the logs
    # finite there so that their gradients stay finite (safe-where pattern).
    log_a = torch.log(torch.where(a > 0, a, torch.ones_like(a)))
    log1m_a = torch.log1p(-torch.where(a < 1, a, torch.zeros_like(a)))
    success = _relative_entropy_term(a, b, (a - b) / b, log_a - torch.log(b))
    failure = _relative_entropy_term(1 - a, 1 - b, (b - a) / (1 - b), log1m_a - torch.log1p(-b))
    return success + failure
