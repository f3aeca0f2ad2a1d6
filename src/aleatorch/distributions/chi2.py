"""The chi-squared distribution."""

from __future__ import annotations

from typing import Any

import torch

from .. import constraints
from ..utils import as_params
from .gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    r"""Chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``.

    .. math:: p(x) = \frac{x^{\nu/2 - 1} e^{-x/2}}{2^{\nu/2}\,\Gamma(\nu/2)}, \quad x \ge 0

    Support: :math:`[0, \infty)`. A subclass of :class:`Gamma`, as in torch: ``concentration``
    and ``rate`` are derived from ``df`` (so an in-place update of ``df`` is seen).

    Args:
        df: the degrees of freedom :math:`\nu > 0`.

    Example:
        >>> import aleatorch as D
        >>> D.Chi2(2.0).log_prob(torch.tensor(1.0))
        tensor(-1.1931)
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df: Any, validate_args: bool | None = None) -> None:
        (self.df,) = as_params(df, owner=self._name)
        # Gamma's __init__ would store concentration and rate; they are derived here.
        super(Gamma, self).__init__(self.df.shape, validate_args=validate_args)

    @property
    def concentration(self) -> torch.Tensor:
        return 0.5 * self.df

    @property
    def rate(self) -> torch.Tensor:
        return torch.full_like(self.df, 0.5)
