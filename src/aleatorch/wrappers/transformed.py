"""``TransformedDistribution``: the law of ``Y = f(X)`` for a base ``X`` and transforms ``f``."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from ..distribution import _OPTIONAL_METHODS, Distribution, _shape_str
from ..errors import MethodNotImplementedError, ParameterError, ShapeError, foreign_hint
from ..kl import kl_divergence, register_kl
from ..transforms import AffineTransform, ComposeTransform, ExpTransform, TanhTransform, Transform
from ..transforms._base import _sum_rightmost
from ..utils import _inplace_ok, broadcast_shapes
from .independent import Independent

__all__ = ["TransformedDistribution"]

_CDF_FAMILY = frozenset({"_cdf", "_log_cdf", "_survival_function", "_log_survival_function"})
# From this many entries (128 KB of float32) a fresh buffer costs page faults, which writing
# the base's log_prob over its spent argument saves; below, the checks cost more than that.
_OVER_FROM = 1 << 15
_SWAPPED = {
    "cdf": "survival_function",
    "log_cdf": "log_survival_function",
    "survival_function": "cdf",
    "log_survival_function": "log_cdf",
}


def _fits(dst: torch.Tensor, src: torch.Tensor) -> bool:
    """Whether ``dst op= src`` may run in place: same dtype, ``src`` broadcasts to ``dst``'s
    shape, no graph wanted through either, both plain CPU eager tensors (``_inplace_ok``)."""
    return (
        src.dtype == dst.dtype
        and broadcast_shapes(dst.shape, src.shape) == dst.shape
        and _inplace_ok(dst, src)
    )


def _log_prob_over_of(base: Distribution):
    """``base._log_prob_over`` where it computes the base's own ``log_prob``: None for a
    subclass that overrides ``_log_prob`` or ``log_prob`` below the class defining it (its
    density is not that class's formula)."""
    cls = type(base)
    owner = next((c for c in cls.__mro__ if "_log_prob_over" in c.__dict__), None)
    if owner is None or cls._log_prob is not owner._log_prob or cls.log_prob is not owner.log_prob:
        return None
    return base._log_prob_over


def _spent_pre_image(first: Transform, y: torch.Tensor, *others: torch.Tensor) -> bool:
    """Whether ``log_prob - log_det`` may be written over the base's argument ``y``: ``y``
    is the fresh output of ``first``'s inverse (an uncached affine, exp or tanh map), read by
    nothing else now, of the result's shape and dtype, sharing no storage with ``others``,
    and no graph is wanted."""
    if type(first) not in (AffineTransform, ExpTransform, TanhTransform) or first._cache_size:
        return False
    if not _inplace_ok(y, *others) or not y.is_contiguous():
        return False
    if broadcast_shapes(*(t.shape for t in others)) != y.shape:
        return False
    address = y.untyped_storage().data_ptr()
    for t in others:
        if t.dtype != y.dtype or t.untyped_storage().data_ptr() == address:
            return False
    return True


class TransformedDistribution(Distribution):
    r"""The distribution of ``Y = f_n(... f_1(X))`` for ``X ~ base_distribution``.

    With bijective transforms the density follows from the change of variables:

    .. math:: \log p_Y(y) = \log p_X(x) - \sum_i \log |\det J_{f_i}(x_{i-1})|,
              \quad x = f^{-1}(y)

    Transforms with more event dims than the base make base batch dims part of the event
    (torch's shape rules). ``sample``/``rsample`` push base samples through the transforms.

    Beyond torch: when every transform is monotone and elementwise (it has a ``sign``),
    ``cdf``, ``log_cdf``, ``survival_function``, ``log_survival_function``, ``icdf`` and
    ``median`` come from the base's (a decreasing map swaps cdf and survival function);
    when every transform is affine, ``mean``, ``mode``, ``variance`` and ``entropy`` too.

    Args:
        base_distribution: the distribution of ``X``.
        transforms: a Transform or a list of them, applied first to last.
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._is_family = (
            cls._base_and_transforms is not TransformedDistribution._base_and_transforms
        )
        if cls._is_family:
            # A family with its own parameters (LogNormal): it knows what it offers, so its
            # capabilities are fixed per class, and the base is built only when needed.
            cls._implemented = (
                frozenset(
                    name
                    for name in _OPTIONAL_METHODS
                    if getattr(cls, name) is not getattr(Distribution, name)
                )
                - cls._unavailable
            )

    _is_family = False
    #: Methods a family subclass does not offer although the generic class defines them.
    _unavailable: frozenset[str] = frozenset()

    def __init__(
        self,
        base_distribution: Distribution,
        transforms: Transform | list[Transform],
        validate_args: bool | None = None,
    ) -> None:
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif type(transforms) is list and all([isinstance(t, Transform) for t in transforms]):
            transforms = list(transforms)
        elif isinstance(transforms, (list, tuple)):
            for t in transforms:
                if not isinstance(t, Transform):
                    raise ParameterError(
                        f"{self._name}: transforms must be a Transform or a list of Transforms, "
                        f"but the list holds a {type(t).__name__}.{foreign_hint(t)}"
                    )
            transforms = list(transforms)
        else:
            raise ParameterError(
                f"{self._name}: transforms must be a Transform or a list of Transforms, got "
                f"{type(transforms).__name__}.{foreign_hint(transforms)}"
            )
        if not isinstance(base_distribution, Distribution):
            raise ParameterError(
                f"{self._name}: base_distribution must be an aleatorch Distribution, got "
                f"{type(base_distribution).__name__}.{foreign_hint(base_distribution)}"
            )
        base, batch_shape, event_shape = _arrange(self._name, base_distribution, transforms)
        self.base_dist = base
        self.transforms = transforms
        super().__init__(batch_shape, event_shape, validate_args)

    def _validate_parameters(self) -> None:
        if type(self)._is_family:
            super()._validate_parameters()
            return
        # As Independent: a validating wrapper checks a base that was built unchecked.
        base = self.base_dist
        if isinstance(base, Independent) and not base._validate_args:
            base = base.base_dist
        if not base._validate_args:
            base._validate_parameters()

    # ----------------------------------------------------------- lazy parts

    # A family subclass (LogNormal) stores only its parameters: ``_base_and_transforms()``
    # builds the base and the transforms on first access (most calls use closed forms and
    # never need them), and ``expand`` drops them with the other derived state.
    _LAZY = ("base_dist", "transforms")

    def _base_and_transforms(self) -> tuple[Distribution, list[Transform]]:
        raise AttributeError(f"{self._name} has no base_dist")

    def _init_family(
        self, batch_shape: Any, event_shape: Any = (), validate_args: bool | None = None
    ) -> None:
        """What a family's ``__init__`` calls once its parameters are stored: the base
        constructor (shapes, validation), skipping the generic arrangement of parts."""
        Distribution.__init__(self, batch_shape, event_shape, validate_args)

    #: Parameters a family reads from its base when they were not stored, as torch's
    #: classes define them (``LogNormal.loc`` is ``base_dist.loc``): a subclass that builds
    #: the family through ``TransformedDistribution.__init__`` (Pyro's LogNormal) has them.
    _parameters_in_base: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: base_dist/transforms of a family not yet
        # built, or a family's parameter that lives on a base given from outside.
        cls = type(self)
        if name in TransformedDistribution._LAZY and cls._is_family:
            base, transforms = self._base_and_transforms()
            self.__dict__["base_dist"] = base
            self.__dict__["transforms"] = transforms
            return self.__dict__[name]
        path = cls._parameters_in_base.get(name)
        if path is not None and "base_dist" in self.__dict__:
            found = self.__dict__["base_dist"]
            for part in path.split("."):
                found = getattr(found, part)
            return found
        raise AttributeError(f"'{self._name}' object has no attribute '{name}'")

    # ---------------------------------------------------------- capabilities

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def _rsample_hint(self) -> str:  # type: ignore[override]
        return self.base_dist._rsample_hint

    @property
    def _implemented(self) -> frozenset[str]:  # type: ignore[override]
        memo = self.__dict__.get("_capabilities")
        if memo is None:
            memo = self.__dict__["_capabilities"] = self._capabilities_of_parts()
        return memo

    def _capabilities_of_parts(self) -> frozenset[str]:
        base = self.base_dist._implemented
        own = {"_sample", "_rsample"}
        sign = _sign_or_none(self.transforms)
        if sign is not None:
            if base & _CDF_FAMILY:
                own |= _CDF_FAMILY
            if base & (_CDF_FAMILY | {"_icdf"}):
                own.add("_icdf")
        if _all_affine(self.transforms) and "_entropy" in base:
            own.add("_entropy")
        return frozenset(own)

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        if not self.transforms:
            return self.base_dist.support
        support = self.transforms[-1].codomain
        extra = len(self._event_shape) - support.event_dim
        return constraints.independent(support, extra) if extra > 0 else support

    def _cache_sources(self) -> tuple[torch.Tensor, ...]:
        if type(self)._is_family:
            return super()._cache_sources()
        return self.base_dist._cache_sources()

    def _dtype(self) -> torch.dtype:
        if self.arg_constraints:
            return super()._dtype()
        return self.base_dist._dtype()

    def _device(self) -> torch.device | None:
        if self.arg_constraints:
            return super()._device()
        return self.base_dist._device()

    # ------------------------------------------------------------- expand

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> Distribution:
        batch_shape = self._sample_shape(batch_shape, "expand", "batch_shape")
        stored = all(name in self.__dict__ for name in type(self)._parameters_in_base)
        if type(self)._is_family and _instance is None and stored:
            new = super().expand(batch_shape)
            for name in (*TransformedDistribution._LAZY, "_capabilities"):
                new.__dict__.pop(name, None)
            return new
        if _instance is None and type(self)._is_family:  # a family rebuilt from its parts
            new = type(self).__new__(type(self))
        else:
            new = self._get_checked_instance(TransformedDistribution, _instance)
        shape = batch_shape + self._event_shape
        for t in reversed(self.transforms):
            shape = t.inverse_shape(shape)
        base_batch = shape[: len(shape) - len(self.base_dist.event_shape)]
        new.base_dist = self.base_dist.expand(base_batch)
        new.transforms = self.transforms
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        if "_validate_args" in self.__dict__:
            new._validate_args = self._validate_args
        new.__dict__.pop("_capabilities", None)
        return new

    # ----------------------------------------------------------- sampling

    def _push_forward(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def _sample(self, sample_shape, generator):
        if type(self)._is_family:  # its own sampler, without building the base
            return Distribution._sample(self, sample_shape, generator)
        kwargs = {} if generator is None else {"generator": generator}
        return self._push_forward(self.base_dist.sample(sample_shape, **kwargs))

    def _rsample(self, sample_shape, generator):
        kwargs = {} if generator is None else {"generator": generator}
        return self._push_forward(self.base_dist.rsample(sample_shape, **kwargs))

    # ----------------------------------------------------------- densities

    def _log_prob(self, value: torch.Tensor) -> torch.Tensor:
        event_dim = len(self._event_shape)
        terms = []  # the log-dets, each summed over its event dims
        y = value
        for t in reversed(self.transforms):
            x, ladj = t.inverse_and_ladj(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            terms.append(_sum_rightmost(ladj, event_dim - t.domain.event_dim))
            y = x
        base = self.base_dist
        if y is not value and event_dim == 0 and y.numel() >= _OVER_FROM:
            log_prob = self._base_log_prob_over(y, terms)
            if log_prob is not None:  # log_prob - (t_1 + ... + t_n), in the same order
                log_det = terms[0]
                for term in terms[1:]:
                    log_det = log_det + term
                return log_prob.sub_(log_det)
        log_prob = _sum_rightmost(base.log_prob(y), event_dim - len(base.event_shape))
        if not terms:
            return log_prob
        # log_prob - (t_1 + ... + t_n); with no graph written over a buffer of ours (the
        # base's spent argument, or the first sum), in the same order: the same numbers
        if y is not value and _spent_pre_image(self.transforms[0], y, log_prob, *terms):
            log_det = terms[0]
            if len(terms) > 1:
                if broadcast_shapes(terms[0].shape, terms[1].shape) == y.shape:
                    log_det = torch.add(terms[0], terms[1], out=y)
                else:
                    log_det = y.copy_(terms[0]).add_(terms[1])
            for term in terms[2:]:
                log_det.add_(term)
            return torch.sub(log_prob, log_det, out=y)
        log_det, owned = terms[0], False
        for term in terms[1:]:
            if owned and _fits(log_det, term):
                log_det.add_(term)
            else:
                log_det = log_det + term
                owned = _inplace_ok(log_det)
        if owned and _fits(log_det, log_prob):
            return torch.sub(log_prob, log_det, out=log_det)
        return log_prob - log_det

    def _base_log_prob_over(self, y: torch.Tensor, terms: list) -> torch.Tensor | None:
        """The base's ``log_prob`` at its spent argument ``y`` (see :func:`_spent_pre_image`),
        written over ``y`` by a base that can (``_log_prob_over``: one fresh buffer fewer);
        else None."""
        base = self.base_dist
        over = _log_prob_over_of(base)
        if over is None or base._run_in_float32 or base.event_shape:
            return None
        if not terms or not _spent_pre_image(self.transforms[0], y, *terms):
            return None
        return over(base._checked(y, "log_prob"))

    def _pre_image(self, value: torch.Tensor) -> torch.Tensor:
        for t in reversed(self.transforms):
            value = t.inv(value)
        return value

    def _monotone(self, method: str, value: torch.Tensor) -> torch.Tensor:
        """``method`` (cdf, log_cdf, survival_function, log_survival_function) through
        monotone transforms: a decreasing one swaps cdf and survival function.

        ``support`` (the last codomain, torch's rule) may be wider than the image (an affine
        map of an Exponential has support ``real``): a value outside the image has its
        pre-image clamped to the base's support, where the cdf is 0 or 1 as it should be."""
        x = self._pre_image(value)
        try:
            low, high = self.base_dist.support.bounds
        except NotImplementedError:
            pass
        else:
            x = torch.clamp(x, min=low, max=high)
        sign = _sign_or_none(self.transforms)
        base = self.base_dist
        if isinstance(sign, torch.Tensor):
            increasing = getattr(base, method)(x)
            decreasing = getattr(base, _SWAPPED[method])(x)
            return torch.where(sign > 0, increasing, decreasing)
        return getattr(base, method if sign > 0 else _SWAPPED[method])(x)

    def _cdf(self, value):
        return self._monotone("cdf", value)

    def _log_cdf(self, value):
        return self._monotone("log_cdf", value)

    def _survival_function(self, value):
        return self._monotone("survival_function", value)

    def _log_survival_function(self, value):
        return self._monotone("log_survival_function", value)

    def _icdf(self, value):
        sign = _sign_or_none(self.transforms)
        base = self.base_dist
        if isinstance(sign, torch.Tensor):
            x = torch.where(sign > 0, base.icdf(value), base.icdf(1 - value))
        else:
            x = base.icdf(value if sign > 0 else 1 - value)
        return self._push_forward(x)

    @property
    def median(self) -> torch.Tensor:
        if _sign_or_none(self.transforms) is None:
            raise self._missing("median")
        return self._push_forward(self.base_dist.median)

    # --------------------------------------------------- affine summaries

    def _affine_only(self, what: str) -> None:
        if not _all_affine(self.transforms) or any(t.event_dim for t in self.transforms):
            raise MethodNotImplementedError(
                f"{self._name} does not implement {what} (it is offered when every transform "
                "is an elementwise AffineTransform)"
            )

    @property
    def mean(self) -> torch.Tensor:
        self._affine_only("mean")
        return self._push_forward(self.base_dist.mean)

    @property
    def mode(self) -> torch.Tensor:
        self._affine_only("mode")
        return self._push_forward(self.base_dist.mode)

    @property
    def variance(self) -> torch.Tensor:
        self._affine_only("variance")
        variance = self.base_dist.variance
        for t in self.transforms:
            variance = variance * torch.as_tensor(t.scale, dtype=variance.dtype) ** 2
        return variance.expand(self._batch_shape + self._event_shape)

    def _entropy(self):
        # H(Y) = H(X) + E log|det J|, and an affine map's log-det does not depend on x.
        if "_entropy" not in self._implemented:
            raise MethodNotImplementedError(
                f"{self._name} does not implement entropy (it is offered when every transform "
                "is an AffineTransform and the base has an entropy)"
            )
        base = self.base_dist
        shape = base.batch_shape + base.event_shape
        chain = ComposeTransform(self.transforms)
        if all([type(t) is AffineTransform for t in chain.parts]):
            # The log-dets alone, each at an expanded zero of its input's shape (a view):
            # the points the map sends them to are never needed.
            zero = torch.zeros((), dtype=base._dtype(), device=base._device())
            ladj = None
            for t, extra in zip(chain.parts, chain._ladj_dims()):
                x = zero.expand(shape)
                term = _sum_rightmost(t.log_abs_det_jacobian(x, x), extra)
                ladj = term if ladj is None else ladj + term
                shape = t.forward_shape(shape)
        else:
            x = torch.zeros(shape, dtype=base._dtype(), device=base._device())
            _, ladj = chain.call_and_ladj(x)
        extra = len(self._event_shape) - len(base.event_shape)
        event_ladj = _sum_rightmost(ladj, ladj.dim() - len(self._batch_shape))
        return _sum_rightmost(base.entropy(), extra) + event_ladj.expand(self._batch_shape)

    def __repr__(self) -> str:
        if self.arg_constraints:
            return super().__repr__()
        return f"{self._name}({self.base_dist!r}, transforms={self.transforms!r})"


def _arrange(
    owner: str, base: Distribution, transforms: list[Transform]
) -> tuple[Distribution, torch.Size, torch.Size]:
    """torch's shape rules: expand the base to what the transforms produce, reinterpret base
    batch dims the transforms treat as event dims, and split the output shape."""
    if all([_keeps_shape(t) for t in transforms]):
        return base, base.batch_shape, base.event_shape
    base_shape = base.batch_shape + base.event_shape
    base_event_dim = len(base.event_shape)
    chain = ComposeTransform(transforms)
    domain_dim = chain.domain.event_dim
    if len(base_shape) < domain_dim:
        raise ShapeError(
            f"{owner}: the transforms need inputs with at least {domain_dim} dims, but the base "
            f"distribution's batch_shape + event_shape is {_shape_str(tuple(base_shape))}"
        )
    forward_shape = chain.forward_shape(base_shape)
    expanded = chain.inverse_shape(forward_shape)
    if tuple(base_shape) != tuple(expanded):
        base = base.expand(expanded[: len(expanded) - base_event_dim])
    if domain_dim > base_event_dim:
        # Not validating: the TransformedDistribution decides (see _validate_parameters).
        base = Independent(base, domain_dim - base_event_dim, validate_args=False)
    event_dim = max(
        chain.codomain.event_dim, base_event_dim + chain.codomain.event_dim - domain_dim
    )
    cut = len(forward_shape) - event_dim
    return base, torch.Size(forward_shape[:cut]), torch.Size(forward_shape[cut:])


def _keeps_shape(t: Transform) -> bool:
    """Whether ``t`` is elementwise and keeps every shape (the common case, decided without
    building a composition): event dim 0 on both sides and no shape rule of its own, or an
    elementwise affine map with number parameters."""
    if t.domain.event_dim or t.codomain.event_dim:
        return False
    if type(t).forward_shape is Transform.forward_shape:
        return True
    return (
        isinstance(t, AffineTransform)
        and not isinstance(t.loc, torch.Tensor)
        and not (isinstance(t.scale, torch.Tensor))
    )


def _sign_or_none(transforms: list[Transform]) -> Any:
    """The sign of the composition when every transform is monotone and elementwise."""
    sign: Any = 1
    for t in transforms:
        if t.domain.event_dim or t.codomain.event_dim:
            if not isinstance(t, AffineTransform):
                return None
        try:
            sign = sign * t.sign
        except NotImplementedError:
            return None
    return sign


def _all_affine(transforms: list[Transform]) -> bool:
    return all(isinstance(t, AffineTransform) for t in transforms)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p: TransformedDistribution, q: TransformedDistribution):
    if p.transforms != q.transforms:
        raise MethodNotImplementedError(
            f"kl_divergence({p._name}, {q._name}) is implemented only for the same transforms "
            "on both sides (then it is the KL divergence of the bases)"
        )
    if p.event_shape != q.event_shape:
        raise MethodNotImplementedError(
            f"kl_divergence({p._name}, {q._name}) needs equal event shapes, got "
            f"{_shape_str(tuple(p.event_shape))} and {_shape_str(tuple(q.event_shape))}"
        )
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), extra)
