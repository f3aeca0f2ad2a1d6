"""torch.distributions' module paths work with aleatorch: ``aleatorch.<name>`` for every
submodule ``torch.distributions.<name>``, with the same public names (the very objects the
package exports), and the private helpers user code imports from them, checked against
torch's on random inputs. Names and signatures: tests/test_api_parity.py."""

import importlib
import inspect
import pkgutil

import pytest
import torch
import torch.distributions as td
from test_api_parity import NOT_YET

import aleatorch as D
import aleatorch.kl as KL
import aleatorch.multivariate_normal as MVN
import aleatorch.utils as U

SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(td.__path__))


def twin(name):
    return importlib.import_module(f"aleatorch.{name}")


def theirs(name):
    return importlib.import_module(f"torch.distributions.{name}")


def lazy_twins():
    return [name for name in SUBMODULES if "__getattr__" in vars(twin(name))]


@pytest.mark.parametrize("name", SUBMODULES)
def test_twin_imports_and_lists_torchs_names(name):
    module = twin(name)
    assert module.__doc__
    assert set(theirs(name).__all__) <= set(module.__all__)


@pytest.mark.parametrize("name", SUBMODULES)
def test_twin_names_are_the_objects_the_package_exports(name):
    module = twin(name)
    for public in theirs(name).__all__:
        if public in NOT_YET:
            continue
        if public in D.__all__:
            assert getattr(module, public) is getattr(D, public), public
        # Names exported only by the submodule (e.g. LogitRelaxedBernoulli, constraints.real)
        # must at least be importable from it.
        exec(f"from aleatorch.{name} import {public}", {})


def test_twin_names_shadow_no_package_attribute():
    # Importing aleatorch.<name> binds <name> on the package: it must not hide an export.
    for name in SUBMODULES:
        twin(name)
        assert inspect.ismodule(getattr(D, name)), name
        assert name not in D.__all__ or getattr(D, name) is twin(name)


def test_every_twin_module_exists_as_a_file_not_an_alias():
    import pathlib

    root = pathlib.Path(D.__file__).parent
    for name in SUBMODULES:
        assert (root / f"{name}.py").is_file() or (root / name / "__init__.py").is_file(), name


@pytest.mark.parametrize("name", lazy_twins() or ["<none>"])
def test_lazy_twins_serve_the_package_class_or_name_it_when_absent(name, monkeypatch):
    if name == "<none>":  # every twin imports its classes directly now
        assert lazy_twins() == []
        return
    module = twin(name)
    for public in module.__all__:
        if hasattr(D, public):
            assert getattr(module, public) is getattr(D, public)
            continue
        with pytest.raises(AttributeError, match=public):
            getattr(module, public)
        with pytest.raises(ImportError, match=public):
            exec(f"from aleatorch.{name} import {public}", {})
        # Once the package exports the class, the twin serves it without a reload.
        sentinel = type(public, (D.Distribution,), {})
        monkeypatch.setattr(D, public, sentinel, raising=False)
        assert getattr(module, public) is sentinel
        monkeypatch.delattr(D, public)
        assert not hasattr(module, public)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


# ------------------------------------------------------------------ private helpers


def test_euler_constant():
    assert U.euler_constant == td.utils.euler_constant
    assert isinstance(U.euler_constant, float)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, None])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), torch.Size([2, 1, 3])])
def test_standard_normal_matches_torch(shape, dtype):
    torch.manual_seed(7)
    ours = U._standard_normal(shape, dtype=dtype, device=torch.device("cpu"))
    torch.manual_seed(7)
    expected = td.utils._standard_normal(shape, dtype=dtype, device=torch.device("cpu"))
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
    assert torch.equal(ours, expected)
    assert parameter_names(U._standard_normal) == parameter_names(td.utils._standard_normal)


def parameter_names(f):
    return list(inspect.signature(f).parameters)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (0, 3)])
def test_sum_rightmost_matches_torch(shape):
    value = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    for dim in range(len(shape) + 2):
        ours = U._sum_rightmost(value, dim)
        reference = value.sum(tuple(range(-min(dim, value.dim()), 0))) if dim else value
        torch.testing.assert_close(ours, reference)
        if dim and value.shape[: max(value.dim() - dim, 0)].numel() == 0:
            # torch's reshape(..., -1) cannot size an empty tensor; aleatorch sums it.
            with pytest.raises(RuntimeError):
                td.utils._sum_rightmost(value, dim)
            continue
        expected = td.utils._sum_rightmost(value, dim)
        assert ours.shape == expected.shape, dim
        torch.testing.assert_close(ours, expected)
        (grad,) = torch.autograd.grad(ours.sum(), value)
        (expected_grad,) = torch.autograd.grad(expected.sum(), value)
        torch.testing.assert_close(grad, expected_grad)
    assert U._sum_rightmost(value, 0) is value
    assert parameter_names(U._sum_rightmost) == parameter_names(td.utils._sum_rightmost)


def test_sum_rightmost_rejects_a_negative_dim():
    # torch gives a meaningless sum for dim < 0 (it slices shape[:-dim]); aleatorch says so.
    with pytest.raises(ValueError, match="dim must be >= 0"):
        U._sum_rightmost(torch.ones(2, 3), -1)


def test_kl_registry_and_dispatch_have_torchs_names_and_behaviour():
    assert isinstance(KL._KL_REGISTRY, dict) and (D.Normal, D.Normal) in KL._KL_REGISTRY
    assert parameter_names(KL._dispatch_kl) == parameter_names(td.kl._dispatch_kl)
    p, q = D.Normal(torch.tensor([0.3, -1.0]), 1.5), D.Normal(0.1, torch.tensor([0.7, 2.0]))
    fun = KL._dispatch_kl(D.Normal, D.Normal)
    torch.testing.assert_close(fun(p, q), D.kl_divergence(p, q))
    torch.testing.assert_close(
        fun(p, q), td.kl_divergence(td.Normal(p.loc, p.scale), td.Normal(q.loc, q.scale))
    )
    # A subclass pair dispatches to its parents' function, as in torch.
    assert KL._dispatch_kl(D.HalfNormal, D.HalfNormal) is not NotImplemented
    # No registered pair: NotImplemented, as in torch.
    assert td.kl._dispatch_kl(td.Binomial, td.Dirichlet) is NotImplemented
    assert KL._dispatch_kl(D.Binomial, D.Dirichlet) is NotImplemented


def random_factor(batch, n, generator):
    a = torch.randn(batch + (n, n), dtype=torch.float64, generator=generator)
    eye = torch.eye(n, dtype=torch.float64)
    return (a.tril(-1) + eye * (0.5 + a.diagonal(dim1=-2, dim2=-1).abs().unsqueeze(-1))).tril()


# (bL batch, bx batch): every case torch's helper supports (bL's batch broadcasts to bx's).
MAHALANOBIS_CASES = [
    ((), ()),
    ((), (5,)),
    ((), (4, 3)),
    ((3,), (3,)),
    ((3,), (5, 3)),
    ((2, 1), (2, 4)),
    ((2, 3), (7, 2, 3)),
    ((1,), (6,)),
]


@pytest.mark.parametrize("l_batch,x_batch", MAHALANOBIS_CASES)
def test_batch_mahalanobis_matches_torch(l_batch, x_batch):
    g = torch.Generator().manual_seed(11)
    n = 3
    bL = random_factor(l_batch, n, g).requires_grad_()
    bx = torch.randn(x_batch + (n,), dtype=torch.float64, generator=g, requires_grad=True)
    ours = MVN._batch_mahalanobis(bL, bx)
    expected = td.multivariate_normal._batch_mahalanobis(bL, bx)
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours, expected)
    weights = torch.randn(ours.shape, dtype=torch.float64, generator=g)
    grads = torch.autograd.grad((ours * weights).sum(), (bL, bx))
    expected_grads = torch.autograd.grad((expected * weights).sum(), (bL, bx))
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad)


def test_batch_mahalanobis_broadcasts_where_torch_cannot():
    # torch requires bL's batch to broadcast to bx's; with a larger bL batch it fails, and
    # aleatorch broadcasts both (the value torch gives for bx expanded to the full batch).
    g = torch.Generator().manual_seed(3)
    bL = random_factor((4,), 2, g)
    bx = torch.randn(2, dtype=torch.float64, generator=g)
    with pytest.raises(RuntimeError):
        td.multivariate_normal._batch_mahalanobis(bL, bx)
    expected = td.multivariate_normal._batch_mahalanobis(bL, bx.expand(4, 2))
    torch.testing.assert_close(MVN._batch_mahalanobis(bL, bx), expected)


@pytest.mark.parametrize(
    "mat_shape,vec_shape",
    [((3, 3), (3,)), ((2, 3, 3), (3,)), ((3, 3), (4, 3)), ((2, 1, 3, 4), (5, 4))],
)
def test_batch_mv_matches_torch(mat_shape, vec_shape):
    g = torch.Generator().manual_seed(5)
    bmat = torch.randn(mat_shape, dtype=torch.float64, generator=g)
    bvec = torch.randn(vec_shape, dtype=torch.float64, generator=g)
    expected = td.multivariate_normal._batch_mv(bmat, bvec)
    ours = MVN._batch_mv(bmat, bvec)
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours, expected)


def test_private_helpers_are_importable_from_torchs_paths():
    from aleatorch.distributions.multivariate_normal import _batch_mahalanobis, _batch_mv
    from aleatorch.kl import _KL_REGISTRY, _dispatch_kl  # noqa: F401
    from aleatorch.utils import _standard_normal, _sum_rightmost, euler_constant  # noqa: F401

    assert MVN._batch_mahalanobis is _batch_mahalanobis and MVN._batch_mv is _batch_mv
