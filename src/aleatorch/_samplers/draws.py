"""Raw random draws shared by several families."""

from __future__ import annotations

import torch


def standard_exponential(
    like: torch.Tensor, shape: torch.Size, generator: torch.Generator | None
) -> torch.Tensor:
    """Exp(1) draws of ``shape``, with the dtype and device of ``like``.

    The tensor is allocated from ``like`` expanded to ``shape`` (``like`` must broadcast to
    it), not by a factory call: under ``torch.func.vmap(..., randomness="different")`` a
    batched ``like`` then gives a batched buffer, which the in-place ``uniform_`` may fill
    (filling an unbatched factory tensor in place is refused there).
    """
    out = torch.empty_like(like.expand(shape), memory_format=torch.contiguous_format)
    # E = -log(1 - U), U uniform on [0, 1): exactly Exp(1) on the grid of U (largest draw
    # -log(eps / 2), as torch's exponential_), and ~4x cheaper than exponential_ on CPU.
    return out.uniform_(generator=generator).neg_().log1p_().neg_()
