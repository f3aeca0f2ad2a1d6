"""``aleatorch.install()``: torch.distributions resolves to aleatorch for later imports, and
``uninstall()`` restores torch's modules; torch objects that reach aleatorch say so.

Each install test runs in a fresh interpreter (a subprocess), so that the switch cannot leak
into the other tests of this worker.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributions as td

import aleatorch as D
from aleatorch._install import TORCH_SUBMODULES


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_submodule_list_is_torchs():
    assert sorted(TORCH_SUBMODULES) == sorted(m.name for m in pkgutil.iter_modules(td.__path__))


def test_install_redirects_every_import_form_and_uninstall_restores():
    out = run_python(
        """
        import sys, torch
        import torch.distributions as before
        import aleatorch
        from aleatorch._install import TORCH_SUBMODULES

        handle = aleatorch.install()
        assert aleatorch.is_installed()
        import torch.distributions as D
        from torch.distributions import Normal, constraints
        from torch.distributions.normal import Normal as N2
        import torch.distributions.transforms as T
        assert D is aleatorch and torch.distributions is aleatorch
        assert Normal is aleatorch.Normal is N2
        assert constraints is aleatorch.constraints and T is aleatorch.transforms
        for name in TORCH_SUBMODULES:
            module = __import__(f"torch.distributions.{name}", fromlist=["_"])
            assert module.__name__.startswith("aleatorch"), name
        assert aleatorch.install() is not None and aleatorch.is_installed()  # idempotent

        aleatorch.uninstall()
        assert not aleatorch.is_installed()
        import torch.distributions as after
        from torch.distributions.normal import Normal as N3
        assert after is before and torch.distributions is before
        assert N3.__module__ == "torch.distributions.normal"
        aleatorch.uninstall()  # a second call is a no-op

        with aleatorch.install():
            from torch.distributions import Gamma
            assert Gamma is aleatorch.Gamma
        assert torch.distributions is before
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_code_imported_after_install_builds_aleatorch_objects():
    out = run_python(
        """
        import aleatorch
        aleatorch.install()
        import torch
        from torch.distributions import Categorical, MixtureSameFamily, Normal, kl_divergence
        m = MixtureSameFamily(Categorical(logits=torch.zeros(2)), Normal(torch.zeros(2), 1.0))
        assert isinstance(m, aleatorch.MixtureSameFamily)
        kl = kl_divergence(Normal(0.0, 1.0), Normal(1.0, 1.0))
        print(float(m.cdf(torch.tensor(0.0))), float(kl))
        """
    )
    assert [float(x) for x in out.split()] == pytest.approx([0.5, 0.5])


# ------------------------------------------------------------------ the mixed case


def test_torch_objects_given_to_aleatorch_name_the_mix_up():
    cases = [
        lambda: D.MixtureSameFamily(td.Categorical(logits=torch.zeros(2)), D.Normal(0.0, 1.0)),
        lambda: D.MixtureSameFamily(
            D.Categorical(logits=torch.zeros(2)), td.Normal(torch.zeros(2), 1.0)
        ),
        lambda: D.Independent(td.Normal(torch.zeros(2), 1.0), 1),
        lambda: D.TransformedDistribution(td.Normal(0.0, 1.0), []),
        lambda: D.TransformedDistribution(D.Normal(0.0, 1.0), [td.transforms.ExpTransform()]),
        lambda: D.kl_divergence(td.Normal(0.0, 1.0), D.Normal(0.0, 1.0)),
        lambda: D.kl_divergence(D.Normal(0.0, 1.0), td.Normal(0.0, 1.0)),
        lambda: D.biject_to(td.constraints.positive),
    ]
    for case in cases:
        with pytest.raises((TypeError, ValueError, NotImplementedError)) as info:
            case()
        message = str(info.value)
        assert "torch.distributions" in message and "aleatorch" in message, message


def test_aleatorch_objects_get_no_foreign_hint():
    from aleatorch.errors import foreign_hint

    assert foreign_hint(D.Normal(0.0, 1.0)) == ""
    assert foreign_hint(D.transforms.ExpTransform()) == ""
    assert "Normal" in foreign_hint(td.Normal(0.0, 1.0))
