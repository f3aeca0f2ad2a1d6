"""Every kind error message, word by word (see "Errors" in docs/design.md)."""

import re

import pytest
import torch
from examples import EXAMPLES

import aleatorch as D
from aleatorch.errors import describe_violation


def message(call) -> str:
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


def test_parameter_violation_names_distribution_parameter_rule_count_and_entries():
    text = message(lambda: D.Normal(torch.zeros(3), torch.tensor([1.0, -0.5, 2.0])))
    assert text == (
        "Normal: parameter 'scale' must be positive (> 0), but 1 of 3 entries is not:\n"
        "  scale[1] = -0.5"
    )


def test_parameter_violation_is_a_value_error_and_a_parameter_error():
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(D.ParameterError):
        D.Normal(0.0, -1.0)


def test_scalar_parameter_violation_shows_the_value():
    text = message(lambda: D.Normal(0.0, -2.0))
    assert text == "Normal: parameter 'scale' must be positive (> 0), but it is -2"


def test_many_violations_show_the_first_three_and_count_the_rest():
    scale = torch.ones(2, 5)
    scale[0, 1] = -1
    scale[1, 0] = 0
    scale[1, 2] = -3
    scale[1, 4] = -4
    text = message(lambda: D.Normal(0.0, scale))
    lines = text.splitlines()
    assert lines[0].endswith("but 4 of 10 entries are not:")
    assert lines[1:] == [
        "  scale[0, 1] = -1",
        "  scale[1, 0] = 0",
        "  scale[1, 2] = -3",
        "  ... and 1 more",
    ]


def test_large_tensors_are_summarized_not_dumped():
    scale = -torch.ones(1_000_000)
    text = message(lambda: D.Normal(0.0, scale))
    assert "1000000 of 1000000 entries are not" in text
    assert len(text) < 400


def test_nan_parameters_are_reported_as_nan_with_a_hint():
    rate = torch.ones(3, 4)
    rate[0, 2] = float("nan")
    text = message(lambda: D.Normal(rate, 1.0))
    assert text == (
        "Normal: parameter 'loc' contains NaN at [0, 2] (NaN usually comes from an earlier "
        "computation, e.g. a diverging optimizer step)"
    )


def test_scalar_nan_parameter():
    text = message(lambda: D.Normal(0.0, float("nan")))
    assert text.startswith("Normal: parameter 'scale' is NaN (")


def test_value_outside_support_names_method_value_and_rule():
    d = D.Bernoulli(probs=torch.tensor([0.2, 0.5, 0.7]))
    with pytest.raises(D.SupportError) as info:
        d.log_prob(torch.tensor([1.0, 0.5, 0.0]))
    assert str(info.value) == (
        "Bernoulli(batch_shape=(3,), event_shape=()).log_prob: value must be in the support, "
        "0 or 1, but 1 of 3 entries is not:\n  value[1] = 0.5"
    )
    assert isinstance(info.value, ValueError)


def test_shape_mismatch_explains_batch_and_event_shape():
    d = D.Normal(torch.zeros(3), torch.ones(3))
    with pytest.raises(D.ShapeError) as info:
        d.log_prob(torch.zeros(4))
    assert str(info.value) == (
        "Normal(batch_shape=(3,), event_shape=()).log_prob: value of shape (4,) does not "
        "broadcast with batch_shape (3,). The value's rightmost dims must equal event_shape () "
        "and the rest must broadcast with batch_shape."
    )


def test_rsample_without_reparameterization_suggests_alternatives():
    with pytest.raises(D.NoRsampleError) as info:
        D.Bernoulli(probs=0.3).rsample()
    text = str(info.value)
    assert isinstance(info.value, NotImplementedError)
    assert text.startswith("Bernoulli has no reparameterized sampler (has_rsample is False)")
    assert "score-function" in text
    assert ("RelaxedBernoulli" in text) == hasattr(D, "RelaxedBernoulli")


def test_rsample_hints_name_only_classes_aleatorch_has(monkeypatch):
    text = message(lambda: D.OneHotCategorical(logits=torch.zeros(3)).rsample())
    assert "OneHotCategoricalStraightThrough" in text
    assert ("RelaxedOneHotCategorical" in text) == hasattr(D, "RelaxedOneHotCategorical")
    monkeypatch.setattr(D, "RelaxedBernoulli", object, raising=False)
    text = message(lambda: D.Bernoulli(probs=0.3).rsample())
    assert text.endswith("estimator, or RelaxedBernoulli.")


@pytest.mark.parametrize(
    "kwargs, word", [({"probs": 0.5, "logits": 0.0}, "both were"), ({}, "neither was")]
)
def test_both_or_neither_of_probs_and_logits(kwargs, word):
    with pytest.raises(D.ParameterError) as info:
        D.Bernoulli(**kwargs)
    assert str(info.value) == (
        f"Bernoulli: give exactly one of 'probs' or 'logits', but {word} given"
    )


def test_missing_method_names_class_and_method():
    class OnlyDensity(D.Distribution):
        arg_constraints = {}
        support = D.constraints.real

        def _log_prob(self, value):
            return -value.pow(2)

    d = OnlyDensity()
    with pytest.raises(D.MethodNotImplementedError, match=r"OnlyDensity does not implement cdf"):
        d.cdf(torch.tensor(0.0))
    with pytest.raises(NotImplementedError, match=r"OnlyDensity does not implement icdf"):
        d.icdf(torch.tensor(0.5))
    with pytest.raises(NotImplementedError, match=r"OnlyDensity does not implement entropy"):
        d.entropy()
    with pytest.raises(NotImplementedError, match=r"OnlyDensity does not implement mean"):
        d.mean  # noqa: B018


def test_parameters_on_different_devices_are_a_clear_error():
    with pytest.raises(D.DeviceError, match=r"Normal: parameters live on different devices"):
        D.Normal(torch.zeros(3), torch.ones(3, device="meta"))


def test_icdf_rejects_probabilities_outside_unit_interval():
    with pytest.raises(D.SupportError, match=re.escape("icdf: value must be a probability")):
        D.Normal(0.0, 1.0).icdf(torch.tensor([0.5, 1.5]))


def test_kl_for_an_unregistered_pair_suggests_register_kl():
    class Custom(D.Normal):
        pass

    class Other(D.Distribution):
        arg_constraints = {}

    with pytest.raises(NotImplementedError) as info:
        D.kl_divergence(Custom(0.0, 1.0), Other())
    text = str(info.value)
    assert "Custom" in text and "Other" in text and "register_kl" in text


def test_describe_violation_for_event_shaped_entries():
    probs = torch.tensor([[0.5, 0.5], [0.7, 0.7]])
    ok = torch.tensor([True, False])
    text = describe_violation(
        "Categorical", "parameter", "probs", "a probability vector", probs, ok
    )
    assert text.splitlines() == [
        "Categorical: parameter 'probs' must be a probability vector, but 1 of 2 entries is not:",
        "  probs[1] = [0.7, 0.7]",
    ]


def bad_params_naming_the_class(ex):
    """The first bad parameters whose message must name the class itself (Independent's
    first names its base)."""
    return next(kwargs for kwargs, words in ex.bad_params if ex.cls.__name__ in words)


@pytest.mark.parametrize(
    "ex", [ex for ex in EXAMPLES if ex.bad_params], ids=lambda ex: ex.cls.__name__
)
def test_messages_name_the_class_the_user_built(ex):
    name = ex.cls.__name__
    subclass = type("My" + name, (ex.cls,), {})
    kwargs = bad_params_naming_the_class(ex)
    with pytest.raises(ValueError) as info:
        subclass(**kwargs)
    text = str(info.value)
    assert text.startswith(f"My{name}"), text
    assert re.search(rf"(?<!My){name}\b", text) is None, text


def test_a_matrix_parameter_shows_the_offending_matrix():
    cov = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])
    text = message(lambda: D.MultivariateNormal(torch.zeros(2), covariance_matrix=cov))
    assert text.splitlines() == [
        "MultivariateNormal: parameter 'covariance_matrix' must be a symmetric "
        "positive-definite matrix, but 1 of 2 entries is not:",
        "  covariance_matrix[1] =",
        "    [[1, 2],",
        "     [2, 1]]",
    ]


def test_a_single_matrix_parameter_is_shown_with_aligned_columns():
    tril = torch.tensor([[1.0, 0.0], [0.5, -1.0]])
    text = message(lambda: D.MultivariateNormal(torch.zeros(2), scale_tril=tril))
    assert text.splitlines() == [
        "MultivariateNormal: parameter 'scale_tril' must be a lower-triangular matrix with a "
        "positive diagonal, but it is:",
        "  [[  1,   0],",
        "   [0.5,  -1]]",
    ]


def test_large_matrices_are_cut_to_six_rows_and_columns():
    cov = torch.eye(8).expand(3, 8, 8).clone()
    cov[2, 7, 7] = -1.0
    text = message(lambda: D.MultivariateNormal(torch.zeros(8), covariance_matrix=cov))
    assert text.splitlines()[1:] == [
        "  covariance_matrix[2] =",
        "    [[1, 0, 0, 0, 0, 0, ...],",
        "     [0, 1, 0, 0, 0, 0, ...],",
        "     [0, 0, 1, 0, 0, 0, ...],",
        "     [0, 0, 0, 1, 0, 0, ...],",
        "     [0, 0, 0, 0, 1, 0, ...],",
        "     [0, 0, 0, 0, 0, 1, ...],",
        "     ...]",
    ]


def test_a_matrix_with_nan_contains_nan():
    cov = torch.tensor([[1.0, 0.0], [0.0, float("nan")]])
    text = message(lambda: D.MultivariateNormal(torch.zeros(2), covariance_matrix=cov))
    assert text.startswith("MultivariateNormal: parameter 'covariance_matrix' contains NaN (")


@pytest.mark.parametrize(
    "call",
    [
        lambda: D.Uniform(torch.zeros(3), torch.ones(3)).log_prob(torch.tensor(2.0)),
        lambda: D.Uniform(torch.zeros(3), torch.ones(3)).log_prob(torch.tensor([[2.0], [0.5]])),
        lambda: D.Binomial(torch.full((3,), 5.0), probs=0.5).cdf(7.0),
    ],
    ids=["scalar", "column", "binomial-cdf"],
)
def test_a_value_broadcast_against_a_batched_support_is_described(call):
    # The message builder used to index the unbroadcast value and crash with IndexError.
    with pytest.raises(D.SupportError, match=r"3 of \d entries are not:\n  value\[.*\] = 2|= 7"):
        call()
