"""``Independent``: reinterpret batch dims of a distribution as event dims."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution, _shape_str
from ..errors import MethodNotImplementedError, ParameterError, foreign_hint
from ..kl import kl_divergence, register_kl

__all__ = ["Independent"]

_ALWAYS = frozenset({"_sample", "_rsample", "_entropy", "_enumerate_support"})
_CDF_SOURCES = frozenset({"_cdf", "_log_cdf"})
_CDF_FAMILY = frozenset({"_cdf", "_log_cdf", "_survival_function", "_log_survival_function"})


def _sum_rightmost(value: torch.Tensor, n: int) -> torch.Tensor:
    # sum(dim=()) would reduce over every dim, so n == 0 must not reach it.
    return value.sum(tuple(range(-n, 0))) if n else value


class Independent(Distribution):
    r"""Reinterpret the rightmost ``reinterpreted_batch_ndims`` batch dims as event dims.

    The entries along those dims are independent, so the density is the product of the
    base densities over them:

    .. math:: p(x) = \prod_{i} p_{\text{base}}(x_i)

    where :math:`i` runs over the reinterpreted dims. ``log_prob`` and ``entropy`` are the
    base's summed over those dims; sampling, ``mean``, ``mode`` and ``variance`` are the base's.

    Support: the base's support, with the reinterpreted dims as part of each event.

    With validation on, a base built without validation has its parameters checked here.

    Args:
        base_distribution: the distribution to wrap.
        reinterpreted_batch_ndims: how many rightmost batch dims become event dims
            (at most ``len(base_distribution.batch_shape)``).

    Example:
        >>> import aleatorch as D
        >>> d = D.Independent(D.Normal(torch.zeros(3), torch.ones(3)), 1)
        >>> d.batch_shape, d.event_shape
        (torch.Size([]), torch.Size([3]))
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(
        self,
        base_distribution: Distribution,
        reinterpreted_batch_ndims: int,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(base_distribution, Distribution):
            raise TypeError(
                f"{self._name}: base_distribution must be an aleatorch Distribution, got "
                f"{type(base_distribution).__name__}.{foreign_hint(base_distribution)}"
            )
        n = reinterpreted_batch_ndims
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError(
                f"{self._name}: reinterpreted_batch_ndims must be a nonnegative integer, but it "
                f"is {n!r}"
            )
        batch = base_distribution.batch_shape
        if n > len(batch):
            raise ParameterError(
                f"{self._name}: reinterpreted_batch_ndims must be at most the number of batch "
                f"dims of the base distribution, {len(batch)} (its batch_shape is "
                f"{_shape_str(batch)}), but it is {n}"
            )
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        split = len(batch) - n
        super().__init__(
            batch[:split], batch[split:] + base_distribution.event_shape, validate_args
        )

    def _validate_parameters(self) -> None:
        if not self.base_dist._validate_args:
            self.base_dist._validate_parameters()

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def _implemented(self) -> frozenset[str]:  # type: ignore[override]
        # Decided per instance: with no reinterpreted dims this is the base itself, with its
        # univariate cdf family; otherwise an event is a vector and has none.
        own = _ALWAYS
        if self.reinterpreted_batch_ndims == 0:
            base = self.base_dist._implemented
            if base & _CDF_SOURCES:
                own = own | _CDF_FAMILY
            if base & (_CDF_SOURCES | {"_icdf"}):
                own = own | {"_icdf"}
        return own

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        # Enumerating a product of supports is not offered (its size grows exponentially).
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def _rsample_hint(self) -> str:  # type: ignore[override]
        return self.base_dist._rsample_hint

    @property
    def support(self) -> constraints.Constraint | None:  # type: ignore[override]
        support = self.base_dist.support
        if support is None or not self.reinterpreted_batch_ndims:
            return support
        return constraints.independent(support, self.reinterpreted_batch_ndims)

    def _dtype(self) -> torch.dtype:
        return self.base_dist._dtype()

    def _device(self) -> torch.device | None:
        return self.base_dist._device()

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> Independent:
        batch_shape = self._sample_shape(batch_shape, "expand", "batch_shape")
        new = self._get_checked_instance(Independent, _instance)
        n = self.reinterpreted_batch_ndims
        new.base_dist = self.base_dist.expand(batch_shape + self._event_shape[:n])
        new.reinterpreted_batch_ndims = n
        new._batch_shape = batch_shape
        new._event_shape = self._event_shape
        if "_validate_args" in self.__dict__:
            new._validate_args = self._validate_args
        return new

    # ---------------------------------------------------------------- delegation

    @property
    def mean(self) -> torch.Tensor:
        return self.base_dist.mean

    @property
    def mode(self) -> torch.Tensor:
        return self.base_dist.mode

    @property
    def variance(self) -> torch.Tensor:
        return self.base_dist.variance

    @property
    def stddev(self) -> torch.Tensor:
        return self.base_dist.stddev

    @property
    def median(self) -> torch.Tensor:
        if self.reinterpreted_batch_ndims:
            return super().median  # raises: no median of a multivariate event
        return self.base_dist.median

    def _sample(self, sample_shape, generator):
        # A torch-style base may not take ``generator``: pass it only when there is one.
        kwargs = {} if generator is None else {"generator": generator}
        return self.base_dist.sample(sample_shape, **kwargs)

    def _rsample(self, sample_shape, generator):
        kwargs = {} if generator is None else {"generator": generator}
        return self.base_dist.rsample(sample_shape, **kwargs)

    def _log_prob(self, value):
        base = self.base_dist
        # The value was just checked against the same support (and a stricter shape rule),
        # so a validated wrapper skips the base's second check.
        if self._validate_args and "log_prob" not in base._implemented:
            log_prob = base._log_prob(value)
        else:
            log_prob = base.log_prob(value)
        return _sum_rightmost(log_prob, self.reinterpreted_batch_ndims)

    # Only offered when reinterpreted_batch_ndims == 0 (see _implemented): the base's own,
    # whose checks the value has just passed.
    def _cdf(self, value):
        return self.base_dist.cdf(value)

    def _log_cdf(self, value):
        return self.base_dist.log_cdf(value)

    def _survival_function(self, value):
        return self.base_dist.survival_function(value)

    def _log_survival_function(self, value):
        return self.base_dist.log_survival_function(value)

    def _icdf(self, value):
        return self.base_dist.icdf(value)

    def _entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def _enumerate_support(self):
        if self.reinterpreted_batch_ndims:
            raise MethodNotImplementedError(
                f"{self._name} does not implement enumerate_support when "
                "reinterpreted_batch_ndims > 0 (the support would be a cartesian product)"
            )
        return self.base_dist.enumerate_support(expand=False)

    def __repr__(self) -> str:
        return (
            f"{self._name}({self.base_dist!r}, "
            f"reinterpreted_batch_ndims={self.reinterpreted_batch_ndims})"
        )


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> torch.Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise MethodNotImplementedError(
            f"kl_divergence({p._name}, {q._name}) needs the same reinterpreted_batch_ndims "
            f"on both sides, got {p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}"
        )
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
