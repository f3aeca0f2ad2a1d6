"""Transform examples: elementwise maps (see ``transform_examples.py``)."""

import torch
from transform_examples import TransformExample, normal_x, uniform_x

import aleatorch
import aleatorch.transforms as T


def _F64(value):
    """A float64 parameter (a Python number would give the default float32)."""
    return torch.tensor(value, dtype=torch.float64)


EXAMPLES = [
    TransformExample("exp", lambda c: T.ExpTransform(cache_size=c), normal_x()),
    TransformExample(
        "affine_numbers", lambda c: T.AffineTransform(1.5, -2.0, cache_size=c), normal_x()
    ),
    TransformExample(
        "affine_tensors",
        lambda c: T.AffineTransform(
            torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64),
            torch.tensor([2.0, 0.3, -1.5], dtype=torch.float64),
            cache_size=c,
        ),
        normal_x(),
        batch_shapes=((3,), (2, 3)),
    ),
    TransformExample(
        "affine_event_dim_1",
        lambda c: T.AffineTransform(
            torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64),
            torch.tensor([2.0, 0.3, -1.5], dtype=torch.float64),
            event_dim=1,
            cache_size=c,
        ),
        normal_x((3,)),
    ),
    TransformExample("tanh", lambda c: T.TanhTransform(cache_size=c), normal_x(scale=1.5)),
    TransformExample("sigmoid", lambda c: T.SigmoidTransform(cache_size=c), uniform_x(-8.0, 8.0)),
]


# ---------------------------------------------------------------- abs, power, softplus, cdf

# A distribution built once per example call, with float32-exact parameters: the float32
# check of the suite casts only a transform's own tensors, so a float32 distribution keeps
# float64 inputs float64 (a dimensioned float64 input wins the promotion) and float32 ones
# float32.
_NORMAL_LOCS = torch.tensor([0.0, 1.0, -1.5])
_NORMAL_SCALES = torch.tensor([1.0, 2.0, 0.5])

EXAMPLES += [
    # Not injective: no inverse checks and no log-det (torch defines none).
    TransformExample(
        "abs", lambda c: T.AbsTransform(cache_size=c), normal_x(), bijective_tests=False, ladj=False
    ),
    TransformExample(
        "power_number", lambda c: T.PowerTransform(2.5, cache_size=c), uniform_x(0.1, 4.0)
    ),
    TransformExample(
        "power_integer", lambda c: T.PowerTransform(3, cache_size=c), uniform_x(0.1, 4.0)
    ),
    TransformExample(
        "power_negative_number",
        lambda c: T.PowerTransform(-0.5, cache_size=c),
        uniform_x(0.05, 5.0),
    ),
    TransformExample(
        "power_tensor_mixed_signs",
        lambda c: T.PowerTransform(
            torch.tensor([2.0, -1.5, 0.25], dtype=torch.float64), cache_size=c
        ),
        uniform_x(0.2, 3.0),
        batch_shapes=((3,), (2, 3)),
    ),
    TransformExample("softplus", lambda c: T.SoftplusTransform(cache_size=c), normal_x(scale=4.0)),
    TransformExample(
        "softplus_tails", lambda c: T.SoftplusTransform(cache_size=c), uniform_x(-30.0, 30.0)
    ),
    TransformExample(
        "cdf_normal_numbers",
        lambda c: T.CumulativeDistributionTransform(aleatorch.Normal(_F64(0.5), 2.0), cache_size=c),
        normal_x(scale=2.0),
    ),
    TransformExample(
        "cdf_normal_batched",
        lambda c: T.CumulativeDistributionTransform(
            aleatorch.Normal(_NORMAL_LOCS, _NORMAL_SCALES), cache_size=c
        ),
        normal_x(scale=1.0),
        batch_shapes=((3,), (2, 3)),
    ),
    TransformExample(
        "cdf_exponential",
        lambda c: T.CumulativeDistributionTransform(aleatorch.Exponential(_F64(1.5)), cache_size=c),
        uniform_x(0.05, 3.0),
    ),
]
