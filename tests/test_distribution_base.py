"""The base-class contract: subclassing both ways, fallbacks, validation scope, dtype rules."""

import math
import pickle
import subprocess
import sys

import pytest
import torch
from scipy import stats

import aleatorch as D
from aleatorch import constraints


class TorchStyleExponential(D.Distribution):
    """A custom distribution written the way the torch docs teach: public methods overridden."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        self.rate = torch.as_tensor(rate, dtype=torch.get_default_dtype())
        super().__init__(self.rate.shape, validate_args=validate_args)

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        u = torch.rand(shape, dtype=self.rate.dtype)
        return -torch.log1p(-u) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value


class Logistic(D.Distribution):
    """A template-method subclass with only a density and a cdf: the rest are fallbacks."""

    arg_constraints = {"loc": constraints.real}
    support = constraints.real

    def __init__(self, loc, validate_args=None):
        (self.loc,) = D.utils.as_params(loc, owner="Logistic")
        super().__init__(self.loc.shape, validate_args=validate_args)

    def _log_prob(self, value):
        z = value - self.loc
        return -z - 2 * torch.nn.functional.softplus(-z)

    def _cdf(self, value):
        return torch.sigmoid(value - self.loc)


def test_torch_style_subclass_samples_validates_and_scores():
    d = TorchStyleExponential(torch.tensor([1.0, 2.0]))
    assert d.has_rsample
    x = d.sample((5,))
    assert x.shape == (5, 2) and not x.requires_grad
    assert d.log_prob(x).shape == (5, 2)
    with pytest.raises(D.SupportError):
        d.log_prob(torch.tensor([-1.0, 1.0]))
    with pytest.raises(D.ParameterError, match="TorchStyleExponential: parameter 'rate'"):
        TorchStyleExponential(torch.tensor([1.0, -1.0]))
    assert d.expand((3, 2)).rate.shape == (3, 2)


def test_has_rsample_is_derived_from_the_private_sampler():
    assert D.Normal.has_rsample is True
    assert D.Bernoulli.has_rsample is False
    assert Logistic.has_rsample is False


def test_fallbacks_of_the_cdf_family_and_icdf_by_bisection():
    loc = torch.tensor([0.0, 1.5], dtype=torch.float64)
    d = Logistic(loc)
    x = torch.tensor([[-40.0, 3.0], [0.3, 45.0]], dtype=torch.float64)
    ref = stats.logistic(loc.numpy())
    torch.testing.assert_close(d.log_cdf(x), torch.from_numpy(ref.logcdf(x.numpy())))
    torch.testing.assert_close(d.survival_function(x), torch.from_numpy(ref.sf(x.numpy())))
    q = torch.tensor([[1e-12, 0.25], [0.5, 0.999]], dtype=torch.float64)
    torch.testing.assert_close(d.icdf(q), torch.from_numpy(ref.ppf(q.numpy())))
    torch.testing.assert_close(d.median, loc)


def test_icdf_fallback_has_implicit_gradients():
    loc = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    q = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    x = Logistic(loc).icdf(q)
    x.backward()
    # x = loc + logit(q): dx/dloc = 1, dx/dq = 1 / (q (1 - q)).
    torch.testing.assert_close(loc.grad, torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(q.grad, torch.tensor(1 / (0.2 * 0.8), dtype=torch.float64))


def test_icdf_fallback_matches_closed_form_at_extreme_probabilities():
    d = D.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    q = torch.tensor([0.0, 1e-300, 1e-20, 0.5, 1 - 1e-16, 1.0], dtype=torch.float64)
    from aleatorch._generic_icdf import invert_cdf

    torch.testing.assert_close(invert_cdf(d, q), torch.special.ndtri(q))


def test_icdf_fallback_for_a_discrete_distribution():
    d = D.Bernoulli(probs=torch.tensor([0.2, 0.9]))
    assert torch.equal(d.icdf(torch.tensor([0.7, 0.05])), torch.tensor([0.0, 0.0]))
    assert torch.equal(d.icdf(torch.tensor([0.85, 0.2])), torch.tensor([1.0, 1.0]))


def test_validation_context_manager_scopes_and_restores():
    before = D.Distribution._validate_args
    with D.validation(False):
        D.Normal(0.0, -1.0)
        with D.validation(True), pytest.raises(ValueError):
            D.Normal(0.0, -1.0)
        D.Normal(0.0, -1.0)
    assert D.Distribution._validate_args == before
    with pytest.raises(RuntimeError), D.validation(False):
        raise RuntimeError("boom")
    assert D.Distribution._validate_args == before


def test_set_default_validate_args_and_per_instance_override():
    # The autouse fixture of conftest.py restores the previous default after the test.
    D.set_default_validate_args(False)
    D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0, validate_args=True)
    D.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    D.Normal(0.0, -1.0, validate_args=False).log_prob(torch.tensor(7.0))
    with pytest.raises(ValueError):
        D.set_default_validate_args("yes")


@pytest.mark.parametrize(
    "loc, scale, expected",
    [
        (0.0, 1.0, torch.float32),
        (torch.tensor(0.0, dtype=torch.float64), 1.0, torch.float64),
        (torch.tensor([0, 1]), torch.tensor([1, 2]), torch.float32),
        (torch.zeros(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64), torch.float64),
        (torch.zeros(2, dtype=torch.float16), 1.0, torch.float16),
    ],
)
def test_parameters_promote_like_torch_ops(loc, scale, expected):
    d = D.Normal(loc, scale)
    assert d.loc.dtype == expected and d.scale.dtype == expected
    assert d.sample().dtype == expected
    assert d.log_prob(torch.zeros((), dtype=expected)).dtype == expected


def test_parameters_are_kept_as_views_not_copies():
    loc = torch.zeros(3)
    scale = torch.ones(())
    d = D.Normal(loc, scale)
    assert d.loc.data_ptr() == loc.data_ptr()
    assert d.scale.data_ptr() == scale.data_ptr() and d.scale.stride() == (0,)


def test_default_dtype_is_respected():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        assert D.Normal(0.0, 1.0).sample().dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)


def test_importing_aleatorch_changes_no_global_torch_setting():
    code = (
        "import torch, torch.distributions as td\n"
        "before = (torch.get_default_dtype(), td.Distribution._validate_args,"
        " torch.get_num_threads(), torch.is_grad_enabled())\n"
        "import aleatorch\n"
        "after = (torch.get_default_dtype(), td.Distribution._validate_args,"
        " torch.get_num_threads(), torch.is_grad_enabled())\n"
        "assert before == after, (before, after)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_generator_keyword_makes_samples_reproducible():
    d = D.Normal(torch.zeros(4), torch.ones(4))
    a = d.rsample((3,), generator=torch.Generator().manual_seed(0))
    b = d.sample((3,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not torch.equal(a, d.sample((3,), generator=torch.Generator().manual_seed(1)))


def test_expand_to_an_incompatible_shape_is_a_shape_error():
    d = D.Normal(torch.zeros(3), 1.0)
    with pytest.raises(D.ShapeError, match="cannot expand batch_shape"):
        d.expand((4,))
    with pytest.raises(D.ShapeError):
        d.expand(())


def test_expand_drops_cached_derived_parameters():
    d = D.Bernoulli(probs=torch.tensor([0.2, 0.6]))
    _ = d.logits  # cached
    e = d.expand((3, 2))
    assert e.logits.shape == (3, 2)
    torch.testing.assert_close(e.logits[1], d.logits)


def test_repr_shows_parameters_and_shapes():
    assert repr(D.Normal(0.0, 2.0)) == "Normal(loc: 0, scale: 2, batch_shape=(), event_shape=())"
    text = repr(D.Normal(torch.zeros(3), 1.0))
    assert "loc: Tensor(shape=(3,), dtype=torch.float32)" in text and "batch_shape=(3,)" in text


def test_prob_and_perplexity():
    d = D.Normal(0.0, 1.0)
    torch.testing.assert_close(d.prob(torch.tensor(0.0)), torch.tensor(1 / math.sqrt(2 * math.pi)))
    torch.testing.assert_close(d.perplexity(), d.entropy().exp())


def test_python_number_values_are_accepted():
    torch.testing.assert_close(D.Normal(0.0, 1.0).log_prob(0.0), torch.tensor(-0.9189385))


def test_pickling_keeps_validation_flag():
    d = D.Normal(0.0, 1.0, validate_args=False)
    assert pickle.loads(pickle.dumps(d))._validate_args is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: D.Bernoulli(probs=torch.tensor([0.0, 0.3, 1.0])),
        lambda: D.Binomial(5, probs=torch.tensor([0.0, 0.3, 1.0])),
    ],
)
def test_reading_the_derived_parameter_does_not_change_results(make):
    d = make()
    x = d.sample((4,))
    before = d.log_prob(x)
    _ = d.logits  # caches the derived parametrization next to the given one
    assert torch.equal(d.log_prob(x), before)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: D.Bernoulli(probs=p),
        lambda p: D.Gamma(p, p),
        lambda p: D.Beta(p, p),
        lambda p: D.Dirichlet(p),
    ],
)
def test_a_distribution_built_once_can_be_backpropagated_many_times(make):
    param = torch.tensor([0.3, 0.6], requires_grad=True)
    d = make(param)
    x = d.sample((5,))
    d.log_prob(x).sum().backward()
    first = param.grad.clone()
    d.log_prob(x).sum().backward()
    torch.testing.assert_close(param.grad, 2 * first)


def test_parameter_only_caches_are_dropped_by_expand(monkeypatch):
    monkeypatch.setattr(D.Distribution, "_cache_min_numel", 0)
    d = D.Gamma(torch.tensor([1.0, 2.0]), 1.0)
    x = torch.tensor([0.5, 1.5])
    d.log_prob(x)
    # the normalizing constant (of the textbook or of the exact form) is cached
    assert {"log_normalizer", "textbook_const"} & set(d.__dict__["_cache"])
    e = d.expand((3, 2))
    assert "_cache" not in e.__dict__
    torch.testing.assert_close(e.log_prob(x.expand(3, 2)), d.log_prob(x).expand(3, 2))


def test_a_subclass_without_arg_constraints_warns_when_validating_as_torch():
    import warnings

    class NoConstraints(D.Distribution):
        support = constraints.real

        def _log_prob(self, value):
            return -value.pow(2)

    class NoParameters(NoConstraints):
        arg_constraints = {}

    with pytest.warns(UserWarning, match=r"NoConstraints does not define `arg_constraints`"):
        NoConstraints(validate_args=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NoConstraints(validate_args=False)
        NoParameters(validate_args=True)
        with D.validation(False):
            NoConstraints()


def test_validation_scope_is_per_thread():
    import threading

    inside, other = threading.Event(), threading.Event()
    seen = {}

    def build_elsewhere():
        inside.wait(5)
        try:
            D.Normal(0.0, -1.0)
            seen["error"] = None
        except ValueError as exc:
            seen["error"] = exc
        other.set()

    thread = threading.Thread(target=build_elsewhere)
    thread.start()
    with D.validation(False):
        inside.set()
        other.wait(5)
        D.Normal(0.0, -1.0)  # this thread: off
    thread.join()
    assert isinstance(seen["error"], ValueError)  # the other thread kept the default (on)


def test_validation_scope_covers_distributions_built_before_the_block():
    d = D.Normal(0.0, 1.0)
    assert d._validate_args
    with D.validation(False):
        assert not d._validate_args
        d.log_prob(torch.tensor(float("nan")))  # no error while off
    with pytest.raises(ValueError):
        d.log_prob(torch.tensor(float("nan")))
    assert isinstance(D.Distribution._validate_args, bool)  # still reads as a bool
