"""Transform examples: the simplex and Cholesky-factor transforms (see ``transform_examples.py``).

Coordinates that make each Jacobian square: stick breaking drops the last (dependent)
simplex entry; the Cholesky transforms use the lower triangles of input and output (their
inputs are drawn lower-triangular, where the maps are bijections); the correlation
Cholesky factor uses its strictly lower triangle.
"""

import torch
from transform_examples import TransformExample, normal_x

import aleatorch.transforms as T
from aleatorch.utils import tril_matrix_to_vec, vec_to_tril_matrix

SIZES = (2, 3, 4)


def lower_triangular_x(n, scale=0.7):
    """Lower-triangular ``n x n`` inputs (the part of the domain where the map is 1:1)."""

    def draw(batch_shape, generator):
        shape = tuple(batch_shape) + (n, n)
        return (scale * torch.randn(shape, generator=generator, dtype=torch.float64)).tril()

    return draw


def _tril(v):
    return tril_matrix_to_vec(v)


def _strict_tril(v):
    return tril_matrix_to_vec(v, diag=-1)


EXAMPLES = []
for n in SIZES:
    EXAMPLES += [
        TransformExample(
            f"softmax_n{n}",
            lambda c: T.SoftmaxTransform(cache_size=c),
            normal_x((n,)),
            bijective_tests=False,
            ladj=False,
        ),
        TransformExample(
            f"stick_breaking_n{n}",
            lambda c: T.StickBreakingTransform(cache_size=c),
            normal_x((n - 1,)),
            to_coords_y=lambda v: v[:-1],
        ),
        TransformExample(
            f"lower_cholesky_n{n}",
            lambda c: T.LowerCholeskyTransform(cache_size=c),
            lower_triangular_x(n),
            to_coords_x=_tril,
            from_coords_x=vec_to_tril_matrix,
            to_coords_y=_tril,
        ),
        TransformExample(
            f"positive_definite_n{n}",
            lambda c: T.PositiveDefiniteTransform(cache_size=c),
            lower_triangular_x(n),
            to_coords_x=_tril,
            from_coords_x=vec_to_tril_matrix,
            to_coords_y=_tril,
            rtol=1e-8,
            atol=1e-8,
            float32_atol=1e-4,
        ),
        TransformExample(
            f"corr_cholesky_n{n}",
            lambda c: T.CorrCholeskyTransform(cache_size=c),
            normal_x((n * (n - 1) // 2,), scale=1.5),
            to_coords_y=_strict_tril,
        ),
    ]
