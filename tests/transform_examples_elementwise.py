"""Transform examples: elementwise maps of the real line (see ``transform_examples.py``)."""

import torch
from transform_examples import TransformExample, normal_x, uniform_x

import aleatorch.transforms as T

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
