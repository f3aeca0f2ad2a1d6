"""``aleatorch.install()``: let ``torch.distributions`` resolve to aleatorch.

Libraries such as Pyro, zuko or stable-baselines3 import ``torch.distributions`` (and its
submodules) directly. ``install()`` points ``torch.distributions`` and each of its 47
submodules at aleatorch's twins, in ``sys.modules`` and as the ``torch.distributions``
attribute, so that code imported afterwards builds aleatorch objects without edits.
``uninstall()`` (or leaving ``with aleatorch.install():``) puts torch's modules back.

What it does not do: objects and classes that were created, or names bound by
``from torch.distributions import X``, *before* the call keep torch's classes. Import the
library after ``install()``; a torch object that then reaches aleatorch raises an error that
says so (``errors.foreign_hint``).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType, TracebackType

import torch

__all__ = ["install", "uninstall", "is_installed"]

_PACKAGE = "torch.distributions"

# The submodules of torch.distributions (torch 2.4 to 2.13); each has a twin
# ``aleatorch.<name>`` (tests/test_install.py checks the list against the live torch).
TORCH_SUBMODULES = (
    "bernoulli beta binomial categorical cauchy chi2 constraint_registry constraints "
    "continuous_bernoulli dirichlet distribution exp_family exponential fishersnedecor gamma "
    "generalized_pareto geometric gumbel half_cauchy half_normal independent inverse_gamma kl "
    "kumaraswamy laplace lkj_cholesky log_normal logistic_normal lowrank_multivariate_normal "
    "mixture_same_family multinomial multivariate_normal negative_binomial normal "
    "one_hot_categorical pareto poisson relaxed_bernoulli relaxed_categorical studentT "
    "transformed_distribution transforms uniform utils von_mises weibull wishart"
).split()

# What install() replaced: module name -> torch's module (None: it was not imported), and
# torch's own ``torch.distributions`` attribute. Empty while not installed.
_saved_modules: dict[str, ModuleType | None] = {}
_saved_attribute: list[object] = []


class _Installed:
    """Returned by ``install()``: use it as a context manager to undo on exit."""

    def __enter__(self) -> _Installed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        uninstall()

    def __repr__(self) -> str:
        state = "installed" if is_installed() else "uninstalled"
        return f"<aleatorch as torch.distributions: {state}>"


def is_installed() -> bool:
    """Whether ``torch.distributions`` currently resolves to aleatorch."""
    return bool(_saved_modules)


def install() -> _Installed:
    """Make ``import torch.distributions`` (and every ``torch.distributions.<submodule>``)
    give aleatorch, for code imported from now on. Idempotent; undo with ``uninstall()``.

    Example:
        >>> import aleatorch
        >>> aleatorch.install()  # doctest: +SKIP
        >>> import pyro  # builds its distributions on aleatorch  # doctest: +SKIP
    """
    import aleatorch

    if is_installed():
        return _Installed()
    replacements = {_PACKAGE: aleatorch}
    for name in TORCH_SUBMODULES:
        replacements[f"{_PACKAGE}.{name}"] = importlib.import_module(f"aleatorch.{name}")
    for name, module in replacements.items():
        _saved_modules[name] = sys.modules.get(name)
        sys.modules[name] = module
    _saved_attribute[:] = [torch.__dict__.get("distributions")]
    torch.distributions = aleatorch  # type: ignore[attr-defined]
    return _Installed()


def uninstall() -> None:
    """Undo ``install()``: ``torch.distributions`` is torch's again (for later imports)."""
    if not is_installed():
        return
    for name, module in _saved_modules.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    (attribute,) = _saved_attribute
    if attribute is None:
        del torch.distributions  # type: ignore[attr-defined]
    else:
        torch.distributions = attribute  # type: ignore[attr-defined]
    _saved_modules.clear()
    _saved_attribute.clear()
