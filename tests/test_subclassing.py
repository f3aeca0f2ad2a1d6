"""Subclasses written the way Pyro, zuko and user code write them against torch.distributions
work on aleatorch: torch's private hooks (``_get_checked_instance``, ``_validate_sample``,
``_extended_shape``, ``_validate_args``), families rebuilt through
``TransformedDistribution.__init__`` (Pyro's LogNormal), and mixins that override the
public methods. Values are compared with torch.distributions running the same subclass code.
"""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.distributions as td

import aleatorch as D
from aleatorch.errors import SupportError

F64 = torch.float64


def make_shifted_exponential(lib):
    """A hand-written family in torch's style: own __init__, expand, log_prob, rsample."""

    class ShiftedExponential(lib.Distribution):
        arg_constraints = {"shift": lib.constraints.real, "rate": lib.constraints.positive}
        has_rsample = True

        def __init__(self, shift, rate, validate_args=None):
            self.shift, self.rate = torch.broadcast_tensors(
                torch.as_tensor(shift, dtype=F64), torch.as_tensor(rate, dtype=F64)
            )
            super().__init__(self.shift.shape, validate_args=validate_args)

        @lib.constraints.dependent_property(is_discrete=False, event_dim=0)
        def support(self):
            return lib.constraints.greater_than_eq(self.shift)

        def expand(self, batch_shape, _instance=None):
            new = self._get_checked_instance(ShiftedExponential, _instance)
            batch_shape = torch.Size(batch_shape)
            new.shift = self.shift.expand(batch_shape)
            new.rate = self.rate.expand(batch_shape)
            super(ShiftedExponential, new).__init__(batch_shape, validate_args=False)
            new._validate_args = self._validate_args
            return new

        def rsample(self, sample_shape=torch.Size()):
            shape = self._extended_shape(sample_shape)
            u = torch.rand(shape, dtype=F64)
            return self.shift - torch.log1p(-u) / self.rate

        def log_prob(self, value):
            if self._validate_args:
                self._validate_sample(value)
            return self.rate.log() - self.rate * (value - self.shift)

        @property
        def mean(self):
            return self.shift + 1 / self.rate

    return ShiftedExponential


@pytest.mark.parametrize("lib", [D, td], ids=["aleatorch", "torch"])
def test_hand_written_family_in_torch_style(lib):
    Shifted = make_shifted_exponential(lib)
    rate = torch.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    d = Shifted(torch.tensor([1.0, -1.0], dtype=F64), rate, validate_args=True)
    x = torch.tensor([[2.0, 0.0], [1.5, -0.5]], dtype=F64)
    expected = rate.log() - rate * (x - d.shift)
    torch.testing.assert_close(d.log_prob(x), expected)
    assert d.sample((5,)).shape == (5, 2)  # sample() comes from rsample() under no_grad
    assert not d.sample().requires_grad
    draws = d.rsample((3,))
    draws.sum().backward()
    assert rate.grad is not None and torch.isfinite(rate.grad).all()
    e = d.expand((4, 2))
    assert type(e) is Shifted and e.batch_shape == (4, 2) and e._validate_args
    torch.testing.assert_close(e.mean, d.mean.expand(4, 2))
    with pytest.raises(ValueError):
        d.log_prob(torch.tensor([0.0, 0.0], dtype=F64))  # below the shift: out of support
    with pytest.raises(ValueError):
        d.log_prob(torch.zeros(3, dtype=F64))  # a shape that does not broadcast
    with pytest.raises(NotImplementedError):
        d.entropy()


def test_the_hand_written_family_gives_torchs_numbers():
    ours, theirs = make_shifted_exponential(D), make_shifted_exponential(td)
    args = (torch.tensor([1.0, -1.0], dtype=F64), torch.tensor([0.5, 2.0], dtype=F64))
    x = torch.tensor([3.0, 0.25], dtype=F64)
    torch.testing.assert_close(ours(*args).log_prob(x), theirs(*args).log_prob(x))
    torch.manual_seed(0)
    a = ours(*args).rsample((4,))
    torch.manual_seed(0)
    b = theirs(*args).rsample((4,))
    torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- validate_args


def test_validate_args_is_a_class_default_and_an_instance_override():
    assert isinstance(D.Distribution._validate_args, bool)
    d = D.Normal(0.0, 1.0)
    assert "_validate_args" not in d.__dict__  # Pyro reads __dict__.get("_validate_args")
    assert d._validate_args is D.Distribution._validate_args
    assert D.Normal(0.0, 1.0, validate_args=False).__dict__["_validate_args"] is False
    default = D.Distribution._validate_args
    try:
        D.Distribution.set_default_validate_args(not default)
        assert D.Normal(0.0, 1.0)._validate_args is (not default)
    finally:
        D.Distribution.set_default_validate_args(default)


def test_a_subclass_may_make_validate_args_a_property():
    # Pyro's Independent forwards _validate_args to its base with a property and a setter.
    class Forwarding(D.Independent):
        @property
        def _validate_args(self):
            return self.base_dist._validate_args

        @_validate_args.setter
        def _validate_args(self, value):
            self.base_dist._validate_args = value

    base = D.Normal(torch.zeros(3), 1.0, validate_args=False)
    d = Forwarding(base, 1, validate_args=True)
    assert base._validate_args is True and d._validate_args is True
    with pytest.raises(ValueError):
        d.log_prob(torch.full((3,), float("nan")))
    assert d.expand((2,)).batch_shape == (2,)


# ---------------------------------------------------------- mixins on families


class Marked:
    """A mixin that overrides nothing numeric (as Pyro's TorchDistributionMixin)."""

    def __call__(self, sample_shape=torch.Size()):
        return self.rsample(sample_shape) if self.has_rsample else self.sample(sample_shape)


def test_a_family_with_a_mixin_and_its_own_expand():
    class MyPoisson(D.Poisson, Marked):
        def __init__(self, rate, *, is_sparse=False, validate_args=None):
            self.is_sparse = is_sparse
            super().__init__(rate, validate_args=validate_args)

        def expand(self, batch_shape, _instance=None):
            new = self._get_checked_instance(MyPoisson, _instance)
            new = super().expand(batch_shape, _instance=new)
            new.is_sparse = self.is_sparse
            return new

    d = MyPoisson(torch.tensor([0.5, 3.0], dtype=F64), is_sparse=True)
    e = d.expand((4, 2))
    assert type(e) is MyPoisson and e.is_sparse and e.batch_shape == (4, 2)
    x = torch.tensor([1.0, 2.0], dtype=F64)
    torch.testing.assert_close(e.log_prob(x), td.Poisson(d.rate).log_prob(x).expand(4, 2))
    assert d().shape == (2,)


def test_a_subclass_with_a_custom_init_expands_without_its_own_expand():
    # torch raises NotImplementedError here; aleatorch's expand copies the instance's
    # attributes and expands the parameters, so the subclass keeps working.
    class Custom(D.Normal):
        def __init__(self, loc, tag):
            self.tag = tag
            super().__init__(loc, 1.0)

    e = Custom(torch.zeros(2, dtype=F64), tag="t").expand((3, 2))
    assert type(e) is Custom and e.tag == "t" and e.loc.shape == (3, 2)
    torch.testing.assert_close(
        e.log_prob(torch.zeros(2)), td.Normal(0.0, 1.0).log_prob(torch.zeros(3, 2, dtype=F64))
    )


# -------------------------------- families rebuilt through TransformedDistribution.__init__

F = D.transforms


def rebuilt(cls, base, transforms):
    """``cls`` built as Pyro builds its LogNormal: the generic TransformedDistribution
    constructor with a base and transforms of our choosing, bypassing cls.__init__."""
    obj = cls.__new__(cls)
    D.TransformedDistribution.__init__(obj, base, transforms)
    return obj


def normal(loc, scale):
    return D.Normal(torch.tensor(loc, dtype=F64), torch.tensor(scale, dtype=F64))


REBUILT = {
    "LogNormal": (
        lambda: rebuilt(D.LogNormal, normal([0.3, -1.0], [0.5, 2.0]), F.ExpTransform()),
        lambda: D.LogNormal(torch.tensor([0.3, -1.0], dtype=F64), torch.tensor([0.5, 2.0])),
        torch.tensor([0.7, 2.5], dtype=F64),
    ),
    "HalfNormal": (
        lambda: rebuilt(D.HalfNormal, normal([0.0, 0.0], [0.5, 2.0]), F.AbsTransform()),
        lambda: D.HalfNormal(torch.tensor([0.5, 2.0], dtype=F64)),
        torch.tensor([0.7, 2.5], dtype=F64),
    ),
    "HalfCauchy": (
        lambda: rebuilt(
            D.HalfCauchy, D.Cauchy(0.0, torch.tensor([0.5, 2.0], dtype=F64)), F.AbsTransform()
        ),
        lambda: D.HalfCauchy(torch.tensor([0.5, 2.0], dtype=F64)),
        torch.tensor([0.7, 2.5], dtype=F64),
    ),
    "InverseGamma": (
        lambda: rebuilt(
            D.InverseGamma,
            D.Gamma(torch.tensor([2.0, 0.7], dtype=F64), torch.tensor([1.5, 3.0], dtype=F64)),
            F.PowerTransform(torch.tensor(-1.0, dtype=F64)),
        ),
        lambda: D.InverseGamma(
            torch.tensor([2.0, 0.7], dtype=F64), torch.tensor([1.5, 3.0], dtype=F64)
        ),
        torch.tensor([0.7, 2.5], dtype=F64),
    ),
    "LogisticNormal": (
        lambda: rebuilt(
            D.LogisticNormal,
            D.Independent(normal([0.3, -1.0], [0.5, 2.0]), 1),
            F.StickBreakingTransform(),
        ),
        lambda: D.LogisticNormal(
            torch.tensor([0.3, -1.0], dtype=F64), torch.tensor([0.5, 2.0], dtype=F64)
        ),
        torch.tensor([0.2, 0.5, 0.3], dtype=F64),
    ),
}


@pytest.mark.parametrize("name", sorted(REBUILT))
def test_a_family_rebuilt_from_its_parts_equals_the_family(name):
    make_rebuilt, make_direct, x = REBUILT[name]
    d, direct = make_rebuilt(), make_direct()
    assert type(d) is type(direct) and d.batch_shape == direct.batch_shape
    for param in d.arg_constraints:
        torch.testing.assert_close(getattr(d, param), getattr(direct, param), check_dtype=False)
    torch.testing.assert_close(d.log_prob(x), direct.log_prob(x), check_dtype=False)
    try:
        expected_mean = direct.mean
    except NotImplementedError:  # LogisticNormal, as torch's
        with pytest.raises(NotImplementedError):
            d.mean  # noqa: B018
    else:
        torch.testing.assert_close(d.mean, expected_mean, check_dtype=False)
    torch.manual_seed(0)
    a = d.sample((3,))
    torch.manual_seed(0)
    b = direct.sample((3,))
    torch.testing.assert_close(a, b, check_dtype=False)
    e = d.expand((4, *d.batch_shape))
    assert type(e) is type(d) and e.batch_shape == (4, *d.batch_shape)
    torch.testing.assert_close(e.log_prob(x), direct.log_prob(x).expand(e.batch_shape))
    assert pickle.loads(pickle.dumps(d)).batch_shape == d.batch_shape


def test_a_rebuilt_family_validates_against_its_support():
    d = rebuilt(D.LogNormal, normal([0.3], [0.5]), F.ExpTransform())
    d._validate_args = True
    with pytest.raises(SupportError):
        d.log_prob(torch.tensor([-1.0], dtype=F64))


def test_a_missing_parameter_is_still_an_attribute_error():
    d = D.LogNormal(0.0, 1.0)
    with pytest.raises(AttributeError, match="no_such"):
        d.no_such  # noqa: B018
    bare = D.LogNormal.__new__(D.LogNormal)
    with pytest.raises(AttributeError):
        bare.loc  # noqa: B018  (neither stored nor a base to read it from)


def test_register_kl_accepts_a_foreign_abstract_base():
    # Pyro registers KL(Delta || its own abstract Distribution), which is no aleatorch class.
    class AbstractBase:
        def log_prob(self, value):
            raise NotImplementedError

    class Point(D.Normal, AbstractBase):
        pass

    @D.register_kl(Point, AbstractBase)
    def kl_point_anything(p, q):
        return -q.log_prob(p.loc)

    try:
        p = Point(torch.tensor(0.5, dtype=F64), 1.0)
        q = Point(torch.tensor(0.0, dtype=F64), 2.0)
        torch.testing.assert_close(D.kl_divergence(p, q), -q.log_prob(p.loc))
    finally:
        import aleatorch.kl as kl

        del kl._KL_REGISTRY[Point, AbstractBase]
        kl._KL_MEMOIZE.clear()


@pytest.mark.parametrize("lib", [D, td], ids=["aleatorch", "torch"])
def test_init_is_cooperative_for_nn_module_mixins(lib):
    # Pyro's TransformModule(Transform, nn.Module) and distributions that are modules rely on
    # Transform.__init__ / Distribution.__init__ calling super().__init__().
    class Scale(lib.transforms.Transform, torch.nn.Module):
        domain = codomain = lib.constraints.real
        bijective = True
        __hash__ = torch.nn.Module.__hash__  # as Pyro's TransformModule

        def __init__(self):
            super().__init__()
            self.log_scale = torch.nn.Parameter(torch.tensor(0.5))

        def _call(self, x):
            return x * self.log_scale.exp()

        def _inverse(self, y):
            return y / self.log_scale.exp()

        def log_abs_det_jacobian(self, x, y):
            return self.log_scale.expand(x.shape)

    class Learned(lib.Normal, torch.nn.Module):
        pass

    t = Scale()
    assert [name for name, _ in t.named_parameters()] == ["log_scale"]
    d = lib.TransformedDistribution(lib.Normal(0.0, 1.0), [t])
    d.log_prob(torch.tensor(1.0)).backward()
    assert t.log_scale.grad is not None
    assert isinstance(Learned(0.0, 1.0), torch.nn.Module)


def test_a_categorical_subclass_with_its_own_arg_constraints_expands():
    # Pyro's OrderedLogistic: a Categorical built from a predictor and cutpoints (fewer
    # batch dims than batch_shape), listing only those in arg_constraints. (torch raises
    # for a custom __init__ without expand; aleatorch's generic expand handles it.)
    lib = D

    class Ordered(lib.Categorical):
        arg_constraints = {
            "predictor": lib.constraints.real,
            "cutpoints": lib.constraints.real_vector,
        }

        def __init__(self, predictor, cutpoints, validate_args=None):
            self.predictor, self.cutpoints = predictor, cutpoints
            upper = torch.sigmoid(cutpoints - predictor.unsqueeze(-1))
            cdf = torch.cat([upper, torch.ones_like(upper[..., :1])], -1)
            probs = torch.cat([cdf[..., :1], cdf[..., 1:] - cdf[..., :-1]], -1)
            super().__init__(probs=probs, validate_args=validate_args)

    d = Ordered(torch.tensor([0.5, -1.0]), torch.tensor([-1.0, 0.0, 1.0]))
    e = d.expand((3, 2))
    value = torch.tensor([0, 3])
    torch.testing.assert_close(e.log_prob(value), d.log_prob(value).expand(3, 2))
    assert e.sample((4,)).shape == (4, 3, 2)
