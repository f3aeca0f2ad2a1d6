"""``MixtureSameFamily``: a finite mixture whose components belong to one batched family."""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch

from .. import constraints
from ..distribution import Distribution, _shape_str
from ..distributions.categorical import Categorical
from ..distributions.cauchy import Cauchy
from ..distributions.exponential import Exponential
from ..distributions.laplace import Laplace
from ..distributions.multivariate_normal import MultivariateNormal
from ..distributions.normal import Normal
from ..errors import ParameterError, ShapeError, foreign_hint
from ..transforms import Transform

__all__ = ["MixtureSameFamily"]

# Univariate families whose parameters (all of the component batch shape, in this order in
# the constructor) are gathered at the chosen labels before sampling (see _picked_component).
_PICKED: dict[type, tuple[str, ...]] = {
    Normal: ("loc", "scale"),
    Laplace: ("loc", "scale"),
    Cauchy: ("loc", "scale"),
    Exponential: ("rate",),
}

#: Draws from which ``_picked_component`` picks parameters by rows (``_rows``).
_ROWS_FROM = 1024

_CDF_SOURCES = frozenset({"_cdf", "_log_cdf"})
_CDF_FAMILY = frozenset({"_cdf", "_log_cdf", "_survival_function", "_log_survival_function"})


class _MixtureSupport(constraints.MixtureSameFamilyConstraint):
    """``MixtureSameFamilyConstraint`` with ``bounds``: the hull of the components' bounds,
    which the generic icdf searches (the mixture cdf is monotone on all of it)."""

    @property
    def bounds(self) -> tuple[Any, Any]:  # type: ignore[override]
        lower, upper = self.base_constraint.bounds
        # Per-component bounds (a tensor whose last dim indexes the components) reduce to
        # the smallest lower and the largest upper bound.
        if isinstance(lower, torch.Tensor) and lower.dim():
            lower = lower.amin(-1)
        if isinstance(upper, torch.Tensor) and upper.dim():
            upper = upper.amax(-1)
        return lower, upper


class MixtureSameFamily(Distribution):
    r"""A mixture of ``K`` components of one family, weighted by a Categorical.

    .. math:: p(x) = \sum_{k=1}^{K} w_k \, p_k(x), \qquad
              F(x) = \sum_{k=1}^{K} w_k \, F_k(x)

    The rightmost batch dim of ``component_distribution`` indexes the components; the
    mixture's ``batch_shape`` is the rest of it, and ``event_shape`` is the components'.
    ``mixture_distribution.batch_shape`` must broadcast to that ``batch_shape``.

    Support: the components' support.

    ``mean`` and ``variance`` (law of total variance) always; for univariate components
    with a cdf also ``cdf``, ``log_cdf``, ``survival_function``, ``log_survival_function``
    and ``icdf`` (by bisection of the cdf). Beyond torch (pytorch#39178): ``rsample`` for
    univariate components with a cdf and ``rsample``, by implicit reparameterization: the
    draw carries the gradient ``dx/dtheta = -(dF(x)/dtheta) / p(x)`` with respect to the
    weights and the component parameters.

    Args:
        mixture_distribution: a :class:`Categorical` over the ``K`` components (weights
            :math:`w`), with a batch shape that broadcasts to the mixture's.
        component_distribution: the components, with batch shape ``batch_shape + (K,)``.

    Example:
        >>> import aleatorch as D
        >>> mix = D.Categorical(logits=torch.zeros(2))
        >>> comp = D.Normal(torch.tensor([-1.0, 1.0]), torch.ones(2))
        >>> D.MixtureSameFamily(mix, comp).mean
        tensor(0.)
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(
        self,
        mixture_distribution: Categorical,
        component_distribution: Distribution,
        validate_args: bool | None = None,
    ) -> None:
        name = self._name
        if not isinstance(mixture_distribution, Categorical):
            raise ParameterError(
                f"{name}: mixture_distribution must be an aleatorch Categorical, got "
                f"{type(mixture_distribution).__name__}.{foreign_hint(mixture_distribution)}"
            )
        if not isinstance(component_distribution, Distribution):
            raise ParameterError(
                f"{name}: component_distribution must be an aleatorch Distribution, got "
                f"{type(component_distribution).__name__}.{foreign_hint(component_distribution)}"
            )
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape
        if not component_batch:
            raise ShapeError(
                f"{name}: component_distribution needs a batch dim for the components (its "
                f"rightmost one), but its batch_shape is ()"
            )
        batch, k = component_batch[:-1], component_batch[-1]
        if len(mixture_batch) > len(batch) or any(
            m != 1 and m != c for m, c in zip(reversed(mixture_batch), reversed(batch))
        ):
            raise ShapeError(
                f"{name}: mixture_distribution.batch_shape {_shape_str(mixture_batch)} must "
                f"broadcast to component_distribution.batch_shape[:-1] {_shape_str(batch)} "
                "(the component batch_shape without its component dim)"
            )
        km = mixture_distribution._num_events
        if km != k:
            raise ShapeError(
                f"{name}: mixture_distribution has {km} categories but component_distribution "
                f"has {k} components (the last dim of its batch_shape "
                f"{_shape_str(component_batch)}); they must be equal"
            )
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = k
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(batch, component_distribution.event_shape, validate_args)

    def _validate_parameters(self) -> None:
        # As Independent: a validating mixture checks parts that were built unchecked.
        for part in (self._mixture_distribution, self._component_distribution):
            if not part._validate_args:
                part._validate_parameters()

    @property
    def mixture_distribution(self) -> Categorical:
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Distribution:
        return self._component_distribution

    # ---------------------------------------------------------- capabilities

    def _univariate_with_cdf(self) -> bool:
        return not self._event_ndims and bool(
            self._component_distribution._implemented & _CDF_SOURCES
        )

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self._univariate_with_cdf() and self._component_distribution.has_rsample

    @property
    def _implemented(self) -> frozenset[str]:  # type: ignore[override]
        own = frozenset({"_sample"})
        if self._univariate_with_cdf():
            own = own | _CDF_FAMILY
        if self.has_rsample:
            own = own | {"_rsample"}
        return own

    @property
    def _rsample_hint(self) -> str:  # type: ignore[override]
        return (
            "it has one only for univariate components that have a cdf and rsample (implicit "
            "reparameterization through the mixture cdf); use .sample() with a "
            "score-function estimator, or sum over the components with log_prob"
        )

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return _MixtureSupport(self._component_distribution.support)

    def _dtype(self) -> torch.dtype:
        return self._component_distribution._dtype()

    def _device(self) -> torch.device | None:
        return self._component_distribution._device()

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> MixtureSameFamily:
        batch_shape = self._sample_shape(batch_shape, "expand", "batch_shape")
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,)
        )
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        new._batch_shape = batch_shape
        new._event_shape = self._event_shape
        if "_validate_args" in self.__dict__:
            new._validate_args = self._validate_args
        return new

    # ---------------------------------------------------------------- helpers

    def _pad(self, value: torch.Tensor) -> torch.Tensor:
        """Insert the component dim just left of the event dims."""
        return value.unsqueeze(-1 - self._event_ndims)

    def _pad_weights(self, weights: torch.Tensor) -> torch.Tensor:
        return weights.reshape(weights.shape + (1,) * self._event_ndims)

    def _mix(self, component_values: torch.Tensor) -> torch.Tensor:
        """``sum_k w_k v_k`` over the component dim."""
        weights = self._pad_weights(self._mixture_distribution.probs)
        return (weights * component_values).sum(-1 - self._event_ndims)

    def _log_mix(self, component_log_values: torch.Tensor) -> torch.Tensor:
        """``log sum_k w_k exp(l_k)``: the Categorical's logits are normalized."""
        return torch.logsumexp(component_log_values + self._mixture_distribution.logits, dim=-1)

    # ---------------------------------------------------------------- summaries

    @property
    def mean(self) -> torch.Tensor:
        return self._mix(self._component_distribution.mean)

    @property
    def variance(self) -> torch.Tensor:
        # Law of total variance: E[Var(X | k)] + Var(E[X | k]).
        component = self._component_distribution
        means = component.mean
        spread = (means - self._pad(self._mix(means))).pow(2)
        return self._mix(component.variance) + self._mix(spread)

    # ---------------------------------------------------------------- sampling

    def _sample(self, sample_shape, generator):
        kwargs = {} if generator is None else {"generator": generator}
        # The Categorical's own labels (uint8 for few components: no int64 copy; this
        # sample's wrapper has done what the Categorical's would, and its failure
        # handler checks the parts), aligned (sample_shape + mixture batch) with
        # sample_shape + batch_shape.
        index = self._mixture_distribution._labels(sample_shape, generator)
        batch = self._batch_shape
        aligned = sample_shape + (1,) * (len(batch) - len(index.shape[len(sample_shape) :]))
        index = index.reshape(aligned + index.shape[len(sample_shape) :])
        index = index.expand(sample_shape + batch)
        picked = self._picked_component(index)
        if picked is not None:
            return picked.sample(**kwargs)
        # else every component drawn, one picked per draw along the component dim
        values = self._component_distribution.sample(sample_shape, **kwargs)
        index = index.long().reshape(index.shape + (1,) * (1 + self._event_ndims))
        index = index.expand(sample_shape + batch + (1,) + self._event_shape)
        dim = len(sample_shape) + len(batch)
        return values.gather(dim, index).squeeze(dim)

    def _picked_component(self, index: torch.Tensor) -> Distribution | None:
        """For the families of ``_PICKED`` and MultivariateNormal: the component each draw
        chose, as one distribution of the labels' shape (its parameters picked at the
        labels), so that each draw costs one component draw rather than one per component;
        else None."""
        comp = self._component_distribution
        if type(comp) is MultivariateNormal:
            return _picked_normal(comp, index)
        names = _PICKED.get(type(comp))
        if names is None:
            return None
        params = [getattr(comp, name) for name in names]
        if any(p.shape != comp.batch_shape for p in params):
            return None
        if index.numel() < _ROWS_FROM:  # few draws: one gather per parameter, fewer ops
            at = index.long().unsqueeze(-1)
            full = index.shape + comp.batch_shape[-1:]
            chosen = [p.expand(full).gather(-1, at).squeeze(-1) for p in params]
        else:  # a gather along a short last dim costs ~10x an index_select of rows
            rows = _rows(index, comp.batch_shape)
            chosen = [p.reshape(-1).index_select(0, rows).reshape(index.shape) for p in params]
        return type(comp)(*chosen, validate_args=False)

    def _rsample(self, sample_shape, generator):
        with torch.no_grad():
            x = self._sample(sample_shape, generator)
        if not torch.is_grad_enabled() or not _may_carry_grad(self):
            return x
        # Implicit reparameterization: x = F^{-1}(u; theta) for a fixed uniform u, so
        # dx/dtheta = -(dF(x)/dtheta) / p(x) = (dS(x)/dtheta) / p(x). The added term is
        # exactly 0 in value and carries that gradient; the survival function is used in
        # the upper half, where 1 - F would lose the digits of a small tail.
        cdf = self._cdf(x)
        survival = self._survival_function(x)
        upper = cdf.detach() > 0.5
        change = torch.where(upper, survival - survival.detach(), cdf.detach() - cdf)
        density = self._log_prob(x).exp().detach()
        density = torch.where(density > 0, density, torch.ones_like(density))
        return x + change / density

    # ---------------------------------------------------------------- densities

    def _log_prob(self, value):
        component = self._component_distribution
        value = self._pad(value)
        # The private form where the public one would add nothing: the mixture has just
        # converted the value and checked its shape (and, validating, its support), and
        # a failure reaches the mixture's own handler.
        if (
            "log_prob" not in component._implemented
            and (self._validate_args or not component._validate_args)
            and not component._run_in_float32
        ):
            log_prob = component._log_prob(value)
        else:
            log_prob = component.log_prob(value)
        return self._log_mix(log_prob)

    # Only offered for univariate components with a cdf (see _implemented). The value was
    # checked against the mixture support, or is a point of the generic icdf's search over
    # the hull of the component supports: the components' private forms (where they have
    # them) take it without a second check, which would refuse a search point outside one
    # component's support (Uniform components with different bounds).
    def _component(self, method: str, value: torch.Tensor) -> torch.Tensor:
        component = self._component_distribution
        value = self._pad(value)
        if "_" + method in component._implemented:
            return getattr(component, "_" + method)(value)
        return getattr(component, method)(value)

    # A weighted mean of probabilities is a probability: rounding (in bfloat16 it reaches
    # 1e-3) must not push it above 1, nor its log above 0.
    def _cdf(self, value):
        return self._mix(self._component("cdf", value)).clamp(max=1)

    def _log_cdf(self, value):
        return self._log_mix(self._component("log_cdf", value)).clamp(max=0)

    def _survival_function(self, value):
        return self._mix(self._component("survival_function", value)).clamp(max=1)

    def _log_survival_function(self, value):
        return self._log_mix(self._component("log_survival_function", value)).clamp(max=0)

    def __repr__(self) -> str:
        return (
            f"{self._name}(mixture_distribution={self._mixture_distribution!r}, "
            f"component_distribution={self._component_distribution!r})"
        )


def _picked_normal(comp: MultivariateNormal, index: torch.Tensor) -> MultivariateNormal:
    """The MultivariateNormal of the labels' shape whose mean and Cholesky factor are those
    of the chosen components: rows picked by ``index_select`` from the parameters flattened
    to ``(batch * K, ...)``; the factor as it is where the components share it (one GEMM
    then draws them all), else gathered along the component dim where it is shared across
    the batch."""
    d = comp.event_shape[0]
    k = comp.batch_shape[-1]
    rows = _rows(index, comp.batch_shape)
    loc = comp.loc.reshape(-1, d).index_select(0, rows).reshape(index.shape + (d,))
    tril = comp._unbroadcasted_scale_tril
    if tril.dim() == 2 or tril.shape[-3] == 1:  # one factor for every component
        tril = tril if tril.dim() == 2 else tril.squeeze(-3)
    elif tril.shape[:-2] == comp.batch_shape:
        tril = tril.reshape(-1, d, d).index_select(0, rows).reshape(index.shape + (d, d))
    else:
        at = index.long()[..., None, None, None].expand(index.shape + (1, d, d))
        tril = tril.expand(index.shape + (k, d, d)).gather(-3, at).squeeze(-3)
    return MultivariateNormal(loc, scale_tril=tril, validate_args=False)


def _rows(index: torch.Tensor, batch_shape: torch.Size) -> torch.Tensor:
    """Where each draw's chosen component is in parameters of ``batch_shape`` (components
    last) flattened: ``b K + label`` for draw ``(s, b)``, int32 where it fits (half the
    int64 index's bytes). The labels end in the batch dims, so a broadcast add of the batch
    offsets (an int64 remainder over every draw costs 3x more); not in place: under vmap
    the labels are batched."""
    k = batch_shape[-1]
    batch = math.prod(batch_shape[:-1])
    dtype = torch.int32 if batch * k < 2**31 else torch.int64
    if batch > 1:
        offsets = torch.arange(0, batch * k, k, dtype=dtype, device=index.device)
        return (index.reshape(-1, batch) + offsets).reshape(-1)
    return index.reshape(-1).to(dtype)


_INERT = (type(None), bool, int, float, complex, str, torch.Size, torch.dtype, torch.device)


def _may_carry_grad(obj: Any, depth: int = 0) -> bool:
    """Whether a tensor that requires grad may be reached from ``obj``: the attributes of
    distributions, transforms and constraints, and containers, are searched; anything else
    (or a structure nested deeper than 8) counts as yes. Under torch.func transforms always
    yes (wrapped tensors)."""
    if isinstance(obj, torch.Tensor):
        return obj.requires_grad
    if isinstance(obj, _INERT) or isinstance(obj, type) or isinstance(obj, weakref.ref):
        return False
    if depth > 8 or torch._C._functorch.maybe_current_level() is not None:
        return True
    if isinstance(obj, list | tuple | set | frozenset):
        return any(_may_carry_grad(v, depth + 1) for v in obj)
    if isinstance(obj, dict):
        return any(_may_carry_grad(v, depth + 1) for v in obj.values())
    if isinstance(obj, Distribution | Transform | constraints.Constraint):
        return any(_may_carry_grad(v, depth + 1) for v in vars(obj).values())
    return True
