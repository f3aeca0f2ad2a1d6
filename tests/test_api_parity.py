"""Drop-in parity with torch.distributions: names, signatures, flags and values.

torch.distributions is the oracle here (tests may import it; the library never does).
"""

import importlib
import inspect
import pkgutil

import pytest
import torch
import torch.distributions as td
from examples import EXAMPLES, case_id, example_cases, public_distribution_classes

import aleatorch as D

# Every module path of torch.distributions has a twin aleatorch.<name> with the same names.
SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(td.__path__))

# torch.distributions names aleatorch does not define yet. Each is asserted to be still
# missing, so the test fails the day the family lands: then delete its entry here.
NOT_YET = {}

# Where aleatorch's public class hierarchy differs from torch's: (class, ancestor) pairs whose
# issubclass answer differs. Each is asserted to still differ, so fixing it forces removal.
HIERARCHY_DIFFERENCES: dict[tuple[str, str], str] = {}
PUBLIC_METHODS = [
    "sample",
    "rsample",
    "sample_n",
    "log_prob",
    "cdf",
    "icdf",
    "entropy",
    "perplexity",
    "enumerate_support",
    "expand",
]
PUBLIC_PROPERTIES = ["batch_shape", "event_shape", "mean", "mode", "variance", "stddev", "support"]


def classes():
    return [ex.cls for ex in EXAMPLES]


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodules_exist(name):
    import importlib

    importlib.import_module(f"aleatorch.{name}")


def torch_module(where):
    return importlib.import_module("torch.distributions" + (f".{where}" if where else ""))


def our_module(where):
    return importlib.import_module("aleatorch" + (f".{where}" if where else ""))


def torch_public_names(module):
    """The submodule's ``__all__``, or its public non-module names where it has none."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n for n, v in vars(module).items() if not n.startswith("_") and not inspect.ismodule(v)
        ]
    return list(names)


def torch_names():
    """(where, name) for torch.distributions' ``__all__`` ("" is the package) and for every
    submodule's public names."""
    cases = [("", name) for name in td.__all__]
    for where in SUBMODULES:
        cases += [(where, name) for name in torch_public_names(torch_module(where))]
    return cases


TORCH_NAMES = torch_names()


def parameter_names(obj):
    return list(inspect.signature(obj).parameters)


def assert_compatible_signature(ours, theirs):
    """torch's parameters, in order, then only keyword-only extras with defaults (ours may
    add options such as kl_divergence's ``n_samples``, never change torch's calls)."""
    ours_params = list(inspect.signature(ours).parameters.values())
    names = parameter_names(theirs)
    assert [p.name for p in ours_params[: len(names)]] == names
    for extra in ours_params[len(names) :]:
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY, extra
        assert extra.default is not inspect.Parameter.empty, extra


def test_not_yet_lists_only_torch_names():
    assert set(NOT_YET) <= {name for _, name in TORCH_NAMES}
    assert all(reason == "issue 7: family not written yet" for reason in NOT_YET.values())


@pytest.mark.parametrize(
    "where,name", TORCH_NAMES, ids=[f"{w or 'aleatorch'}.{n}" for w, n in TORCH_NAMES]
)
def test_every_torch_name_is_in_its_twin_module_with_a_compatible_signature(where, name):
    ours_module, theirs = our_module(where), getattr(torch_module(where), name)
    if name in NOT_YET:
        assert not hasattr(ours_module, name), (
            f"{name} exists now: delete its NOT_YET entry ({NOT_YET[name]})"
        )
        return
    assert name in ours_module.__all__
    ours = getattr(ours_module, name)
    if isinstance(theirs, type):
        assert isinstance(ours, type)
        assert parameter_names(ours) == parameter_names(theirs)
    elif inspect.isfunction(theirs):
        assert callable(ours) and not isinstance(ours, type)
        assert_compatible_signature(ours, theirs)
    else:  # an instance: a constraint, a registry, identity_transform
        assert type(ours).__name__.lstrip("_") == type(theirs).__name__.lstrip("_")


def public_classes(distributions):
    """name -> (torch class, where) for the public classes of torch.distributions that are
    (or are not, ``distributions=False``) Distribution subclasses."""
    found = {}
    for where, name in TORCH_NAMES:
        obj = getattr(torch_module(where), name)
        if isinstance(obj, type) and issubclass(obj, td.Distribution) == distributions:
            found.setdefault(name, (obj, where))
    return found


def assert_hierarchy_matches(name, classes):
    theirs, where = classes[name]
    if name in NOT_YET:
        assert not hasattr(our_module(where), name), f"{name} exists: delete its NOT_YET entry"
        return
    ours = getattr(our_module(where), name)
    for other, (theirs_other, other_where) in classes.items():
        if other in NOT_YET:
            continue
        ours_other = getattr(our_module(other_where), other)
        expected = issubclass(theirs, theirs_other)
        if (name, other) in HIERARCHY_DIFFERENCES:
            assert issubclass(ours, ours_other) != expected, HIERARCHY_DIFFERENCES[name, other]
        else:
            assert issubclass(ours, ours_other) == expected, (name, other)


DISTRIBUTION_CLASSES = public_classes(distributions=True)
OTHER_CLASSES = public_classes(distributions=False)


@pytest.mark.parametrize("name", sorted(DISTRIBUTION_CLASSES))
def test_distribution_class_hierarchy_matches_torch(name):
    """E.g. Chi2 subclasses Gamma, LogNormal subclasses TransformedDistribution, Normal
    subclasses ExponentialFamily, and Binomial does not."""
    assert_hierarchy_matches(name, DISTRIBUTION_CLASSES)


@pytest.mark.parametrize("name", sorted(OTHER_CLASSES))
def test_transform_and_constraint_class_hierarchy_matches_torch(name):
    assert_hierarchy_matches(name, OTHER_CLASSES)


def test_hierarchy_differences_name_public_classes():
    for name, other in HIERARCHY_DIFFERENCES:
        assert name in OTHER_CLASSES and other in OTHER_CLASSES


def test_top_level_helpers_exist():
    for name in ["Distribution", "ExponentialFamily", "kl_divergence", "register_kl"]:
        assert hasattr(D, name), name
    assert D.Distribution.set_default_validate_args is not None


@pytest.mark.parametrize("name", td.transforms.__all__)
def test_every_torch_transform_exists_with_torchs_signature(name):
    import aleatorch.transforms as T

    ours, theirs = getattr(T, name), getattr(td.transforms, name)
    assert name in T.__all__
    if isinstance(theirs, type):
        assert isinstance(ours, type)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        )
        for attribute in ("domain", "codomain", "bijective", "sign", "inv", "with_cache"):
            assert hasattr(ours, attribute), attribute
    else:
        assert type(ours).__name__ == type(theirs).__name__


@pytest.mark.parametrize("name", td.constraint_registry.__all__)
def test_constraint_registry_names_exist(name):
    import aleatorch.constraint_registry as CR

    assert name in CR.__all__ and hasattr(CR, name)
    theirs = getattr(td.constraint_registry, name)
    if isinstance(theirs, type):
        assert list(inspect.signature(getattr(CR, name)).parameters) == list(
            inspect.signature(theirs).parameters
        )


TRANSFORM_LAYER = sorted(
    set(td.transforms.__all__)
    | {"biject_to", "transform_to", "TransformedDistribution"}
    | {"LogNormal", "HalfNormal", "HalfCauchy", "Gumbel", "Weibull", "Pareto", "Kumaraswamy"}
    | {"InverseGamma", "LogisticNormal", "RelaxedBernoulli", "RelaxedOneHotCategorical"}
)


@pytest.mark.parametrize("name", TRANSFORM_LAYER)
def test_transform_layer_names_are_exported_at_top_level(name):
    assert name in D.__all__ and getattr(D, name) is not None
    ours, theirs = getattr(D, name), getattr(td, name)
    assert isinstance(ours, type) == isinstance(theirs, type)
    assert (ours.__name__ if isinstance(ours, type) else type(ours).__name__) == (
        theirs.__name__ if isinstance(theirs, type) else type(theirs).__name__
    )


# torch exports these from their submodules only; aleatorch at top level too.
TORCH_SUBMODULE_ONLY = {
    "LogitRelaxedBernoulli": td.relaxed_bernoulli,
    "ExpRelaxedCategorical": td.relaxed_categorical,
}

# Deliberate differences from torch 2.13 (torch bugs): the tests expect torch's behaviour to
# differ there, so they fail once torch is fixed and the entry can go.
TORCH_BUGS = {
    ("LogitRelaxedBernoulli", "has_rsample"): "torch's class has rsample but leaves the flag False",
    ("Multinomial", "entropy"): (
        "torch computes lgamma(total_count + 1) on torch.tensor(total_count), a float32, so its "
        "float64 entropy is off by ~1e-7 relative; compared at float32 tolerance here, and "
        "exactly against enumeration in tests/distributions/test_parity_discrete.py"
    ),
}


# Families whose torch 2.13 values are only approximate in float64: compared at these
# tolerances, ours against scipy at full precision in the conformance suite.
TORCH_APPROXIMATE = {
    # torch evaluates log I_0 and log I_1 by Abramowitz-Stegun polynomials: log_prob off by
    # up to 2e-7 relative, the circular variance by up to 1e-6 absolute (at kappa = 80);
    # ours uses torch.special.i0e/i1e, exact to rounding.
    "VonMises": {"rtol": 1e-6, "atol": 2e-6},
}


# Capabilities aleatorch offers beyond torch 2.13 where an instance's parts allow it: the
# class flag is a property (per instance) where torch's is False.
BEYOND_TORCH = {
    ("MixtureSameFamily", "has_rsample"): "implicit reparameterization through the mixture "
    "cdf for univariate components with a cdf and rsample (torch has none, pytorch#39178)",
}


def torch_class(name):
    return getattr(TORCH_SUBMODULE_ONLY.get(name, td), name)


def batched_temperature_bug(ours):
    """pytorch#37162: with a (n, 1) temperature torch's relaxed categorical log_prob adds the
    temperature's dims to the result's (and fails with sample dims); compared per element with
    scalar temperatures in tests/distributions/test_relaxed_and_friends.py."""
    return isinstance(ours, (D.ExpRelaxedCategorical, D.RelaxedOneHotCategorical)) and (
        ours.temperature.numel() > 1
    )


@pytest.mark.parametrize("cls", classes(), ids=lambda c: c.__name__)
def test_constructor_signature_matches_torch(cls):
    theirs = torch_class(cls.__name__)
    ours_params = list(inspect.signature(cls.__init__).parameters)
    theirs_params = list(inspect.signature(theirs.__init__).parameters)
    assert ours_params == theirs_params


@pytest.mark.parametrize("cls", public_distribution_classes(), ids=lambda c: c.__name__)
def test_class_signature_matches_torch(cls):
    theirs = torch_class(cls.__name__)
    assert list(inspect.signature(cls).parameters) == list(inspect.signature(theirs).parameters)


@pytest.mark.parametrize("cls", public_distribution_classes(), ids=lambda c: c.__name__)
def test_a_wrong_keyword_names_the_class(cls):
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.__init__\(\) got an unexpected"):
        cls(no_such_parameter=1.0)


@pytest.mark.parametrize("cls", classes(), ids=lambda c: c.__name__)
def test_flags_and_arg_constraints_match_torch(cls):
    theirs = torch_class(cls.__name__)
    for flag in ("has_rsample", "has_enumerate_support"):
        ours_flag, theirs_flag = getattr(cls, flag), getattr(theirs, flag)
        if (cls.__name__, flag) in TORCH_BUGS:
            assert ours_flag != theirs_flag, TORCH_BUGS[cls.__name__, flag]
        elif (cls.__name__, flag) in BEYOND_TORCH:
            assert isinstance(ours_flag, property) and theirs_flag is False, flag
        elif isinstance(theirs_flag, property):  # depends on the instance (e.g. Independent)
            assert isinstance(ours_flag, property), flag
        else:
            assert ours_flag == theirs_flag, flag
    ours_args = cls.arg_constraints if isinstance(cls.arg_constraints, dict) else None
    theirs_args = theirs.arg_constraints if isinstance(theirs.arg_constraints, dict) else None
    if ours_args is not None and theirs_args is not None:
        assert set(ours_args) == set(theirs_args)
        for name in ours_args:
            assert type(ours_args[name]).__name__.lstrip("_") == type(
                theirs_args[name]
            ).__name__.lstrip("_"), name


@pytest.mark.parametrize("cls", classes(), ids=lambda c: c.__name__)
def test_public_methods_and_properties_exist(cls):
    for name in PUBLIC_METHODS + PUBLIC_PROPERTIES:
        assert hasattr(cls, name), name


def generalized_pareto_float64_bug(ours):
    """torch 2.13's GeneralizedPareto.log_prob compares float64 parameters with a float32
    ``torch.tensor(0.0)`` in ``torch.isclose`` and raises "Double did not match Float": its
    float64 log_prob is unusable, so ours is compared with its float32 one."""
    return isinstance(ours, D.GeneralizedPareto) and ours.loc.dtype != torch.float32


def torch_twin(ex, i):
    kwargs = {}
    for k, v in ex.params[i].items():
        if isinstance(v, D.Distribution):
            kwargs[k] = torch_equivalent(v)
        elif isinstance(v, list) and v and isinstance(v[0], D.transforms.Transform):
            kwargs[k] = [torch_transform(t) for t in v]
        elif isinstance(v, (list, float)):
            kwargs[k] = torch.tensor(v, dtype=torch.float64)
        elif isinstance(v, torch.Tensor) and v.is_floating_point():
            kwargs[k] = v.detach().double()
        else:
            kwargs[k] = v
    return torch_class(ex.cls.__name__)(**kwargs)


def torch_transform(t):
    """torch's transform of the same class and arguments (numbers or tensors)."""
    cls = getattr(td.transforms, type(t).__name__)
    if isinstance(t, D.transforms.AffineTransform):
        return cls(t.loc, t.scale, event_dim=t.event_dim)
    return cls()


def torch_equivalent(d):
    name = type(d).__name__
    if name == "Independent":
        return td.Independent(torch_equivalent(d.base_dist), d.reinterpreted_batch_ndims)
    kwargs = {}
    for k in inspect.signature(torch_class(name).__init__).parameters:
        if k in ("self", "validate_args"):
            continue
        if k in d.__dict__:
            kwargs[k] = d.__dict__[k]
    return torch_class(name)(**kwargs)


def theirs_or_none(call):
    try:
        return call()
    except NotImplementedError:
        return None


@pytest.mark.parametrize("case", example_cases(), ids=case_id)
def test_values_match_torch(case):
    ex, i = case
    ours = ex.build(i)
    theirs = torch_twin(ex, i)
    assert ours.batch_shape == theirs.batch_shape
    assert ours.event_shape == theirs.event_shape
    if (ex.cls.__name__, "has_rsample") in TORCH_BUGS:
        assert ours.has_rsample != theirs.has_rsample
    elif (ex.cls.__name__, "has_rsample") in BEYOND_TORCH:
        assert theirs.has_rsample is False
    else:
        assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    x = ours.sample((20,))
    if batched_temperature_bug(ours):
        with pytest.raises(RuntimeError):
            theirs.log_prob(x)
        return
    tol = TORCH_APPROXIMATE.get(ex.cls.__name__, {})
    if generalized_pareto_float64_bug(ours):
        with pytest.raises(RuntimeError, match="Double did not match Float"):
            theirs.log_prob(x)
        params = (theirs.loc, theirs.scale, theirs.concentration)
        theirs32 = td.GeneralizedPareto(*(t.float() for t in params))
        torch.testing.assert_close(
            ours.log_prob(x).float(), theirs32.log_prob(x.float()), rtol=1e-4, atol=1e-4
        )
    else:
        torch.testing.assert_close(ours.log_prob(x), theirs.log_prob(x), **tol)
    for name in ["mean", "variance"]:
        expected = theirs_or_none(lambda n=name: getattr(theirs, n))
        if expected is not None:
            torch.testing.assert_close(
                getattr(ours, name), expected, equal_nan=True, msg=name, **tol
            )
    assert_mode_is_as_likely_as_torchs(ours, theirs)
    expected = theirs_or_none(theirs.entropy)
    if expected is not None:
        loose = {"rtol": 1e-5, "atol": 1e-5} if (ex.cls.__name__, "entropy") in TORCH_BUGS else {}
        torch.testing.assert_close(ours.entropy(), expected, **loose)
    if not generalized_pareto_float64_bug(ours):  # torch's float64 methods raise there
        assert_other_methods_match_torch(ours, theirs, x, tol)


# Where torch's approximations are coarser than ours (docs/differences.md): compared with
# a tolerance at their accuracy; ours is checked against mpmath/scipy in the family's tests.
TORCH_INACCURATE = {
    # torch replaces the cdf by a Taylor expansion for probs in (0.499, 0.501): ~1e-4 off.
    ("ContinuousBernoulli", "cdf"): {"rtol": 1e-3, "atol": 2e-4},
    ("ContinuousBernoulli", "icdf"): {"rtol": 1e-3, "atol": 2e-4},
    # torch's polynomial log I0/I1 give a variance ~1e-6 off; its square root amplifies that.
    ("VonMises", "stddev"): {"rtol": 1e-3, "atol": 1e-5},
}


def assert_other_methods_match_torch(ours, theirs, x, tol):
    """stddev, cdf and icdf (univariate) and enumerate_support, wherever torch has them, and
    the support check on our samples."""
    name = type(ours).__name__
    expected = theirs_or_none(lambda: theirs.stddev)
    if expected is not None:
        torch.testing.assert_close(
            ours.stddev,
            expected,
            equal_nan=True,
            msg=lambda m: "stddev: " + m,
            **TORCH_INACCURATE.get((name, "stddev"), tol),
        )
    if not ours.event_shape:
        expected = theirs_or_none(lambda: theirs.cdf(x))
        if expected is not None:
            torch.testing.assert_close(
                ours.cdf(x),
                expected,
                msg=lambda m: "cdf: " + m,
                **TORCH_INACCURATE.get((name, "cdf"), tol),
            )
        if not ours.support.is_discrete:
            q = torch.linspace(0.05, 0.95, 5, dtype=x.dtype)
            q = q.reshape((5,) + (1,) * len(ours.batch_shape))
            expected = theirs_or_none(lambda: theirs.icdf(q))
            if expected is not None:
                torch.testing.assert_close(
                    ours.icdf(q),
                    expected,
                    msg=lambda m: "icdf: " + m,
                    **TORCH_INACCURATE.get((name, "icdf"), tol),
                )
    if ours.has_enumerate_support:
        # Both refuse a batch with unequal total_counts (aleatorch with a clear message).
        values = theirs_or_none(ours.enumerate_support)
        if values is not None:
            assert torch.equal(values, theirs.enumerate_support().to(x.dtype))
    assert bool(theirs.support.check(x).all()), "torch's support rejects our samples"


def assert_mode_is_as_likely_as_torchs(ours, theirs):
    """Our mode equals torch's, or (where the density has several maxima, e.g. Beta with both
    concentrations below 1, where torch 2.13 takes the argmax of a NaN row) is at least as
    likely under the density as torch's. Where torch's mode is NaN ours is not compared
    (Kumaraswamy: torch 2.13 gives NaN everywhere, pytorch#173912; ours is checked against a
    numeric argmax in tests/distributions/test_relaxed_and_friends.py)."""
    expected = theirs_or_none(lambda: theirs.mode)
    if expected is None:
        return
    mode = ours.mode
    nan = torch.isnan(expected)
    if ours.event_shape:
        nan = nan.any(-1)
        same = (mode == expected).all(-1) | nan
    else:
        same = (mode == expected) | nan
    if bool(same.all()):
        torch.testing.assert_close(mode[~nan], expected[~nan])
        return
    with torch.no_grad():
        ours_lp = ours.log_prob(mode)
        theirs_lp = ours.log_prob(torch.where(torch.isnan(expected), mode, expected))
    assert bool((ours_lp >= theirs_lp - 1e-9)[~same].all()), (mode, expected)


def test_the_library_never_imports_torch_distributions():
    import pathlib
    import re

    root = pathlib.Path(D.__file__).parent
    pattern = re.compile(
        r"^\s*(import torch\.distributions|from torch(\.distributions| import distributions))",
        re.M,
    )
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
