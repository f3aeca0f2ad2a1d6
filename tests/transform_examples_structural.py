"""Transform examples: Independent, Reshape, Cat and Stack (see ``transform_examples.py``).

The suite prepends batch dims to the drawn inputs, so Cat and Stack examples along a dim
counted from the left (``dim >= 0``) draw inputs without batch dims; their trailing dims
act as batch dims of an elementwise map. Stack examples use ``dim >= 0`` only: with a
negative dim torch's log-det keeps the stacked dim although the domain counts it as an
event dim (see ``StackTransform``), which the suite's shape check would reject.

A Cat of parts with event dims along a dim left of their events, or of parts with
different event dims, is tested in ``test_transforms_elementwise_structural.py`` instead:
``constraints.cat(...).check`` cannot concatenate the parts' checks there (they have
different shapes; torch's constraint has the same limitation), and the suite checks the
domain.

Tensor parameters sit in the parts of Cat and Stack (the float32 check casts those);
parts of ``IndependentTransform`` use numbers (its base is not reached by that cast).
"""

import torch
from transform_examples import TransformExample, normal_x, uniform_x

import aleatorch.transforms as T

F64 = torch.float64


def _cat_exp_affine_softplus(c):
    parts = [T.ExpTransform(), T.AffineTransform(1.0, 2.0), T.SoftplusTransform()]
    return T.CatTransform(parts, dim=-1, lengths=[2, 1, 3], cache_size=c)


def _cat_tensor_parameters(c):
    parts = [
        T.AffineTransform(
            torch.tensor([0.5, -1.0], dtype=F64), torch.tensor([2.0, -0.5], dtype=F64)
        ),
        T.PowerTransform(torch.tensor([2.0, -1.0, 0.5], dtype=F64)),
    ]
    return T.CatTransform(parts, dim=-1, lengths=[2, 3], cache_size=c)


EXAMPLES = [
    # ------------------------------------------------------------------ Independent
    TransformExample(
        "independent_exp_1",
        lambda c: T.IndependentTransform(T.ExpTransform(), 1, cache_size=c),
        normal_x((3,)),
    ),
    TransformExample(
        "independent_affine_2",
        lambda c: T.IndependentTransform(T.AffineTransform(1.5, -2.0), 2, cache_size=c),
        normal_x((2, 3)),
    ),
    TransformExample(
        # The base has an event dim of its own: 1 + 1 event dims.
        "independent_of_event_dim_1",
        lambda c: T.IndependentTransform(T.AffineTransform(0.5, 3.0, event_dim=1), 1, cache_size=c),
        normal_x((2, 4)),
    ),
    TransformExample(
        "independent_zero_ndims",
        lambda c: T.IndependentTransform(T.SigmoidTransform(), 0, cache_size=c),
        uniform_x(-6.0, 6.0),
    ),
    TransformExample(
        # An inverse as the base: its hooks are the forward's, swapped.
        "independent_of_inverse",
        lambda c: T.IndependentTransform(T.SoftplusTransform().inv, 1, cache_size=c),
        uniform_x(0.05, 4.0, (3,)),
    ),
    TransformExample(
        "independent_power_negative",
        lambda c: T.IndependentTransform(T.PowerTransform(-1.5), 1, cache_size=c),
        uniform_x(0.2, 3.0, (4,)),
    ),
    # ---------------------------------------------------------------------- Reshape
    TransformExample(
        "reshape_2x3_to_6",
        lambda c: T.ReshapeTransform((2, 3), (6,), cache_size=c),
        normal_x((2, 3)),
    ),
    TransformExample(
        "reshape_6_to_3x2",
        lambda c: T.ReshapeTransform(torch.Size([6]), torch.Size([3, 2]), cache_size=c),
        normal_x((6,)),
    ),
    TransformExample(
        "reshape_3x1_to_3",
        lambda c: T.ReshapeTransform([3, 1], [3], cache_size=c),
        normal_x((3, 1)),
    ),
    # -------------------------------------------------------------------------- Cat
    TransformExample("cat_elementwise_last_dim", _cat_exp_affine_softplus, normal_x((6,))),
    TransformExample(
        # A decreasing and an increasing block: the sign is a tensor along the dim.
        "cat_mixed_signs",
        lambda c: T.CatTransform(
            [T.ExpTransform(), T.AffineTransform(0.0, -1.5)],
            dim=-1,
            lengths=[2, 2],
            cache_size=c,
        ),
        normal_x((4,)),
    ),
    TransformExample(
        "cat_mixed_signs_dim_minus_2",
        lambda c: T.CatTransform(
            [T.TanhTransform(), T.AffineTransform(0.0, -1.5)],
            dim=-2,
            lengths=[1, 2],
            cache_size=c,
        ),
        normal_x((3, 2)),
    ),
    TransformExample("cat_tensor_parameters", _cat_tensor_parameters, uniform_x(0.2, 3.0, (5,))),
    TransformExample(
        # dim inside the event: the blocks' log-dets are added.
        "cat_event_dim_1_along_event",
        lambda c: T.CatTransform(
            [T.IndependentTransform(T.ExpTransform(), 1), T.AffineTransform(0.5, 2.0, 1)],
            dim=-1,
            lengths=[2, 3],
            cache_size=c,
        ),
        normal_x((5,)),
        # constraints.cat of 0-dim checks cannot be concatenated (as in torch).
        batch_shapes=((3,), (2, 3)),
    ),
    TransformExample(
        "cat_dim_0",
        lambda c: T.CatTransform(
            [T.ExpTransform(), T.TanhTransform()], dim=0, lengths=[2, 2], cache_size=c
        ),
        normal_x((4, 3)),
        batch_shapes=((),),
    ),
    # ------------------------------------------------------------------------ Stack
    TransformExample(
        "stack_dim_0",
        lambda c: T.StackTransform(
            [T.ExpTransform(), T.SoftplusTransform(), T.AffineTransform(1.0, 2.0)],
            dim=0,
            cache_size=c,
        ),
        normal_x((3, 4)),
        batch_shapes=((),),
    ),
    TransformExample(
        "stack_dim_1",
        lambda c: T.StackTransform([T.TanhTransform(), T.SigmoidTransform()], dim=1, cache_size=c),
        normal_x((3, 2, 2)),
        batch_shapes=((),),
    ),
    TransformExample(
        "stack_decreasing",
        lambda c: T.StackTransform(
            [T.AffineTransform(0.0, -2.0), T.PowerTransform(-1.0)], dim=0, cache_size=c
        ),
        uniform_x(0.2, 3.0, (2, 3)),
        batch_shapes=((),),
    ),
    TransformExample(
        "stack_tensor_parameters",
        lambda c: T.StackTransform(
            [
                # Increasing everywhere: one sign (mixed signs along dim >= 0 have none).
                T.PowerTransform(torch.tensor([2.0, 1.5, 0.5], dtype=F64)),
                T.AffineTransform(
                    torch.tensor([0.0, 1.0, 2.0], dtype=F64),
                    torch.tensor([1.0, 3.0, 0.5], dtype=F64),
                ),
            ],
            dim=0,
            cache_size=c,
        ),
        uniform_x(0.2, 3.0, (2, 3)),
        batch_shapes=((),),
    ),
    TransformExample(
        # Parts with an event dim: one log-det per slice, stacked.
        "stack_event_dim_1",
        lambda c: T.StackTransform(
            [T.IndependentTransform(T.ExpTransform(), 1), T.AffineTransform(0.5, 2.0, 1)],
            dim=0,
            cache_size=c,
        ),
        normal_x((2, 3)),
        batch_shapes=((),),
    ),
]
