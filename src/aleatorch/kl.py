"""Kullback-Leibler divergences: ``kl_divergence(p, q)`` and the ``register_kl`` registry.

Dispatch is on the pair of types: among the registered pairs ``(P, Q)`` with ``p`` an
instance of ``P`` and ``q`` of ``Q``, the most specific one wins (lowest positions in the
two MROs). When two incomparable pairs tie, a warning names both and the one more specific in ``p``
is used (as torch does).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from .distribution import Distribution
from .errors import MethodNotImplementedError, ShapeError, foreign_hint
from .utils import broadcast_shapes

__all__ = ["kl_divergence", "register_kl"]

_KLFunction = Callable[[Any, Any], torch.Tensor]
_KL_REGISTRY: dict[tuple[type, type], _KLFunction] = {}
_KL_MEMOIZE: dict[tuple[type, type], _KLFunction | None] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[_KLFunction], _KLFunction]:
    """Decorator registering a pairwise function as ``KL(p || q)`` for ``p: type_p, q: type_q``.

    Example:
        >>> @register_kl(Normal, Normal)  # doctest: +SKIP
        ... def kl_normal_normal(p, q):
        ...     ...
    """
    # Any class with a log_prob is accepted: libraries register pairs against their own
    # abstract bases (Pyro: ``register_kl(Delta, pyro.distributions.Distribution)``).
    for kind in (type_p, type_q):
        if not (isinstance(kind, type) and callable(getattr(kind, "log_prob", None))):
            raise TypeError(f"register_kl expects Distribution classes, got {kind!r}")
        if foreign_hint(kind):
            raise TypeError(
                f"register_kl expects aleatorch Distribution classes.{foreign_hint(kind)}"
            )

    def decorator(fun: _KLFunction) -> _KLFunction:
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()
        return fun

    return decorator


def _dispatch(type_p: type, type_q: type) -> _KLFunction | None:
    matches = [
        (super_p, super_q)
        for super_p, super_q in _KL_REGISTRY
        if issubclass(type_p, super_p) and issubclass(type_q, super_q)
    ]
    if not matches:
        return None

    def rank(pair: tuple[type, type]) -> tuple[int, int]:
        return type_p.__mro__.index(pair[0]), type_q.__mro__.index(pair[1])

    best = min(matches, key=rank)
    best_q_first = min(matches, key=lambda pair: rank(pair)[::-1])
    if best != best_q_first:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}): both "
            f"({best[0].__name__}, {best[1].__name__}) and ({best_q_first[0].__name__}, "
            f"{best_q_first[1].__name__}) apply; using the first. Register the exact pair "
            "to decide.",
            RuntimeWarning,
            stacklevel=3,
        )
    return _KL_REGISTRY[best]


def _dispatch_kl(type_p: type, type_q: type) -> Any:
    """torch's private name for the lookup: the registered function for the pair of types
    (most specific match, as ``kl_divergence`` uses), or ``NotImplemented`` when none
    applies."""
    fun = _dispatch(type_p, type_q)
    return NotImplemented if fun is None else fun


def kl_divergence(
    p: Distribution, q: Distribution, *, n_samples: int | None = None
) -> torch.Tensor:
    r"""``KL(p || q) = E_p[log p(x) - log q(x)]``, batched over ``batch_shape``.

    Args:
        p, q: the distributions.
        n_samples: opt in to a Monte Carlo estimate from ``n_samples`` draws of ``p``
            (``rsample`` when ``p`` has it, so the estimate is differentiable), used only when
            no closed form is registered for the pair; never chosen silently.

    Raises:
        NotImplementedError: if no closed form is registered for the pair of types and
            ``n_samples`` is not given.
    """
    key = (type(p), type(q))
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _dispatch(*key)
    fun = _KL_MEMOIZE[key]
    if fun is not None:
        if p.batch_shape != q.batch_shape:
            _check_batch_shapes(p, q)
        return fun(p, q)
    if n_samples is not None:
        return _monte_carlo_kl(p, q, n_samples)
    foreign = foreign_hint(p) or foreign_hint(q)
    if foreign:
        raise TypeError(
            f"kl_divergence({type(p).__name__}, {type(q).__name__}): "
            f"{'p' if foreign_hint(p) else 'q'} is not an aleatorch distribution.{foreign}"
        )
    raise MethodNotImplementedError(
        f"No KL(p || q) is implemented for p of type {type(p).__name__} and q of type "
        f"{type(q).__name__}; register one with @register_kl({type(p).__name__}, "
        f"{type(q).__name__}), or ask for a Monte Carlo estimate: "
        "kl_divergence(p, q, n_samples=1000)."
    )


def _check_batch_shapes(p: Distribution, q: Distribution) -> None:
    try:
        broadcast_shapes(p.batch_shape, q.batch_shape)
    except RuntimeError:
        raise ShapeError(
            f"kl_divergence({type(p).__name__}, {type(q).__name__}): the batch shapes "
            f"{tuple(p.batch_shape)} of p and {tuple(q.batch_shape)} of q do not broadcast"
        ) from None


def _monte_carlo_kl(p: Distribution, q: Distribution, n_samples: int) -> torch.Tensor:
    """The mean of ``log p(x) - log q(x)`` over ``n_samples`` draws ``x`` of ``p``."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"kl_divergence: n_samples must be a positive integer, got {n_samples!r}")
    x = p.rsample((n_samples,)) if p.has_rsample else p.sample((n_samples,))
    return (p.log_prob(x) - q.log_prob(x)).mean(0)
