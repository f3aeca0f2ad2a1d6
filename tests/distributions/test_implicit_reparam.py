"""Implicit reparameterization gradients of Beta and Dirichlet samples, checked per sample.

The oracle is independent of the library: dx/da = -(dI_x(a, b)/da) / f(x; a, b) with the
derivative of scipy's regularized incomplete beta taken by central differences (Richardson
extrapolated, steps 1e-4 and 2e-4 relative to the parameter) and f from scipy.stats. Against a
50-digit mpmath evaluation over a grid of a, b in [1e-3, 1e4] and x at quantiles from 1e-8 to
1 - 1e-8 (down to 1e-300 and up to 1 - 2^-53), that oracle's relative error is at most 7.4e-8,
so float64 is checked at rtol 1e-6; float32 results are rounded float64 computations, so 1e-5.
"""

import numpy as np
import pytest
import torch
from mp_beta_gradients import beta_sample_gradients as mp_oracle
from scipy import special, stats

import aleatorch as D
from aleatorch._samplers import beta_implicit_gradients

F32_TINY = float(torch.finfo(torch.float32).tiny)
F32_TOP = 1 - 2.0**-24  # the largest float32 sample, 1 - eps/2


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- the oracle


def _tail_derivative(a, b, x, wrt, rel):
    # d/dparam of the smaller tail: I below the mean, -(1 - I) above it (same derivative).
    lower = x < a / (a + b)

    def tail(aa, bb):
        return np.where(lower, special.betainc(aa, bb, x), -special.betaincc(aa, bb, x))

    if wrt == "a":
        h = rel * a
        return (tail(a + h, b) - tail(a - h, b)) / (2 * h)
    h = rel * b
    return (tail(a, b + h) - tail(a, b - h)) / (2 * h)


def oracle(a, b, x, wrt):
    """dx/da (``wrt="a"``) or dx/db of Beta(a, b) at x, in float64 numpy."""
    a, b, x = np.broadcast_arrays(*(np.asarray(t, dtype=np.float64) for t in (a, b, x)))
    fine, coarse = (_tail_derivative(a, b, x, wrt, rel) for rel in (1e-4, 2e-4))
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where scipy cannot: skipped
        return -(4 * fine - coarse) / 3 / stats.beta.pdf(x, a, b)


def assert_close_to_oracle(got, a, b, x, wrt, rtol, coverage=0.9):
    # float32 gradients below the smallest normal float (dx/db ~ 1e-42 at x = 1.2e-38) are
    # subnormal: a few units of 2^-149 apart, whatever their relative error.
    atol = 2.0**-147 if got.dtype == torch.float32 else 0.0
    got = got.detach().double().numpy()
    want = oracle(a, b, x, wrt)
    assert np.isfinite(got).all()
    ok = np.isfinite(want)
    assert ok.mean() >= coverage, "the oracle should cover nearly every case"
    err = np.abs(got[ok] - want[ok]) / (rtol * np.abs(want[ok]) + atol)
    assert err.max() <= 1, (err.max() * rtol, np.asarray(x)[ok][err.argmax()])


# ------------------------------------------------------------------ Beta, per sample

GRID = [1e-3, 0.1, 1.0, 10.0, 1e4]
PAIRS = [(a, b) for a in GRID for b in GRID] + [(0.1, 2.0), (1.0, 2.0), (10.0, 2.0)]
DTYPES = [(torch.float64, 1e-6), (torch.float32, 1e-5)]


@pytest.mark.parametrize("dtype, rtol", DTYPES)
def test_beta_rsample_gradients_match_the_implicit_oracle_per_sample(dtype, rtol):
    # One sample per parameter pair (20 per pair): each sample's gradient lands in its own
    # entry of the leaves' .grad, so one backward checks every sample.
    n = 20
    a0 = torch.tensor([a for a, _ in PAIRS], dtype=dtype).repeat_interleave(n)
    b0 = torch.tensor([b for _, b in PAIRS], dtype=dtype).repeat_interleave(n)
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    x = D.Beta(a, b).rsample(generator=gen(0))
    x.sum().backward()
    args = (a0.double().numpy(), b0.double().numpy(), x.detach().double().numpy())
    assert_close_to_oracle(a.grad, *args, "a", rtol)
    assert_close_to_oracle(b.grad, *args, "b", rtol)


def test_beta_gradient_of_each_sample_through_broadcast_parameters():
    # Scalar leaves, sample_shape (20,): the expand's backward must not mix the samples.
    a = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    x = D.Beta(a, b).rsample((20,), generator=gen(1))
    grads = [torch.autograd.grad(xi, (a, b), retain_graph=True) for xi in x]
    xs = x.detach().numpy()
    for wrt, column in (("a", 0), ("b", 1)):
        got = torch.stack([g[column] for g in grads])
        assert_close_to_oracle(got, 0.1, 2.0, xs, wrt, 1e-6)


def test_beta_gradients_sum_to_parameter_shapes():
    a = torch.tensor([0.5, 2.0], requires_grad=True)
    b = torch.tensor([[1.0], [3.0], [0.2]], requires_grad=True)
    x = D.Beta(a, b).rsample((7,), generator=gen(2))
    assert x.shape == (7, 3, 2)
    x.sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # Each parameter's gradient is the sum over the samples that used it.
    expected_a = beta_implicit_gradients(a.detach(), b.detach(), x.detach())[0].sum((0, 1))
    torch.testing.assert_close(a.grad, expected_a)


def test_sample_and_rsample_agree_for_one_generator_state():
    a = torch.tensor([0.01, 3.0], requires_grad=True)
    b = torch.tensor([0.5, 1e4], requires_grad=True)
    alpha = torch.tensor([0.1, 1.0, 5.0], requires_grad=True)
    assert torch.equal(
        D.Beta(a, b).sample((5,), generator=gen(3)), D.Beta(a, b).rsample((5,), generator=gen(3))
    )
    assert torch.equal(
        D.Dirichlet(alpha).sample((5,), generator=gen(4)),
        D.Dirichlet(alpha).rsample((5,), generator=gen(4)),
    )


# ------------------------------------------------------------------ edges of the support

EDGE_POINTS = [F32_TINY, 1e-30, 1e-6, 0.5, 1 - 1e-6, F32_TOP]


EDGE_GRID = [1e-3, 1.0, 1e4]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_beta_gradients_at_the_float32_edges_are_finite_and_right(dtype):
    # Samples clamped to finfo(float32).tiny or rounded to 1 - 2^-24 still get the gradient
    # at that point. scipy cannot evaluate the density at many of these points (x = 1e-30
    # for a = 1e4), so the oracle is 40-digit mpmath.
    a, b, x = np.meshgrid(EDGE_GRID, EDGE_GRID, EDGE_POINTS, indexing="ij")
    ta, tb, tx = (torch.tensor(t.ravel(), dtype=dtype) for t in (a, b, x))
    dx_da, dx_db = beta_implicit_gradients(ta, tb, tx)
    want = np.array([mp_oracle(*map(float, p)) for p in zip(ta, tb, tx)])
    atol = 2.0**-147 if dtype == torch.float32 else 0.0  # subnormal float32 results
    rtol = 1e-9 if dtype == torch.float64 else 1e-6
    for got, ref in ((dx_da, want[:, 0]), (dx_db, want[:, 1])):
        got = got.double().numpy()
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)
    assert (dx_da >= 0).all() and (dx_db <= 0).all()  # I_x decreases in a, increases in b


@pytest.mark.parametrize("a, b", [(1.0, 1e-3), (1e3, 1e-3), (1e-3, 1.0), (1e-3, 1e3)])
def test_float32_beta_samples_piled_at_an_edge_get_finite_gradients(a, b):
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    x = D.Beta(ta, tb).rsample((200,), generator=gen(5))
    assert ((x > 0) & (x < 1)).all()
    edge = F32_TOP if b < a else F32_TINY
    assert (x == edge).float().mean() > 0.5, "the case should pile samples at the edge"
    grads = [torch.autograd.grad(xi, (ta, tb), retain_graph=True) for xi in x[:20]]
    xs = x[:20].detach().double().numpy()
    for wrt, column in (("a", 0), ("b", 1)):
        got = torch.stack([g[column] for g in grads])
        assert_close_to_oracle(got, a, b, xs, wrt, 1e-5)


# ------------------------------------------------------------------ Dirichlet, per sample


@pytest.mark.parametrize(
    "alpha",
    [[0.1, 0.1, 0.1], [1.0, 2.0, 3.0], [1e-3, 0.5, 1e4], [1e-3, 1e-3, 1.0, 10.0]],
)
def test_dirichlet_jacobian_columns_match_the_marginal_beta_rule(alpha):
    # x_i ~ Beta(alpha_i, s - alpha_i): dx_i/dalpha_i = D_i, dx_j/dalpha_i = -x_j D_i / (1-x_i).
    n, k = 20, len(alpha)
    leaf = torch.tensor(alpha, dtype=torch.float64).expand(n, k).clone().requires_grad_()
    x = D.Dirichlet(leaf).rsample(generator=gen(6))
    jac = torch.stack(
        [torch.autograd.grad(x[:, j].sum(), leaf, retain_graph=True)[0] for j in range(k)], 1
    )  # jac[s, j, i] = dx_j / dalpha_i of sample s
    xs = x.detach().numpy()
    a = np.asarray(alpha)
    for i in range(k):
        rest = a.sum() - a[i]
        # 1 - x_i as the sum of the others, as the kernel takes it: exact where x_i rounds
        # near 1 (xs.sum(1) - xs[:, i] or 1 - x_i would keep only the rounding of x_i).
        others = np.delete(xs, i, axis=1).sum(1)
        # Near 1 the oracle reads the small tail 1 - x_i ~ Beta(rest, a_i): dx_i/da_i is
        # minus its derivative in the second parameter, at the exact 1 - x_i.
        upper = xs[:, i] > 0.5
        d_i = np.where(upper, -oracle(rest, a[i], others, "b"), oracle(a[i], rest, xs[:, i], "a"))
        for j in range(k):
            want = d_i if j == i else -xs[:, j] / others * d_i
            got = jac[:, j, i].numpy()
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=f"{alpha} {i} {j}")


def test_dirichlet_float32_gradients_finite_when_a_component_rounds_to_one():
    alpha = torch.tensor([1.0, 1e-3, 1e-3], requires_grad=True)
    x = D.Dirichlet(alpha).rsample((200,), generator=gen(7))
    assert (x[:, 0] == 1).any(), "the case should round a component to 1"
    (grad,) = torch.autograd.grad((x * torch.tensor([1.0, -2.0, 3.0])).sum(), alpha)
    assert torch.isfinite(grad).all()


def test_dirichlet_with_one_category_has_zero_gradient():
    alpha = torch.tensor([2.5], requires_grad=True)
    x = D.Dirichlet(alpha).rsample((3,), generator=gen(8))
    x.sum().backward()
    assert torch.equal(alpha.grad, torch.zeros(1))


def test_vmap_of_per_sample_gradients():
    def sample(a):
        x = D.Beta(a, torch.tensor(2.0, dtype=a.dtype), validate_args=False).rsample()
        return x, x.detach()

    a = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    grad, x = torch.func.vmap(torch.func.grad(sample, has_aux=True), randomness="different")(a)
    assert_close_to_oracle(grad, a.numpy(), 2.0, x.numpy(), "a", 1e-6)


# ------------------------------------------------------------------ the sampler's law


def _log_bins(a, b):
    # Edges in log10 x below 1/2 and in log10(1 - x) above it (where tiny concentrations put
    # the mass), kept where each bin expects >= 1% of the draws.
    exps = -np.array([300, 200, 100, 50, 30, 20, 15, 10, 6, 4, 3, 2, 1.5, 1, 0.6, 0.4])
    low, high = 10.0**exps, 1 - 10.0 ** exps[exps >= -15][::-1]  # 1 - 1e-20 rounds to 1
    edges = np.concatenate([[0.0], low, [0.5], high, [1.0]])
    cdf = np.concatenate([[0.0], special.betainc(a, b, edges[1:-1]), [1.0]])
    survival = np.concatenate([[1.0], special.betaincc(a, b, edges[1:-1]), [0.0]])
    mass = np.where(edges[1:] <= 0.5, np.diff(cdf), -np.diff(survival))
    keep = [0]  # merge small bins into their neighbour
    for i in range(1, len(mass)):
        if mass[keep[-1] : i].sum() < 0.01:
            continue
        keep.append(i)
    keep.append(len(mass))
    return edges[keep], np.add.reduceat(mass, keep[:-1])


def _chi_square_p(sample, a, b):
    edges, mass = _log_bins(a, b)
    counts = np.histogram(sample, edges)[0]
    return stats.chisquare(counts, mass / mass.sum() * counts.sum()).pvalue


@pytest.mark.parametrize("a, b", [(1e-3, 1e-3), (0.01, 0.01), (0.1, 0.5), (2.0, 0.05)])
def test_beta_sampler_law_binned_in_log_space(a, b):
    # Chi-square over bins of log x and log(1 - x) with exact masses: meaningful where plain KS
    # on x is not (at a = 1e-3, a quarter of the mass is below 1e-300). A correct sampler
    # fails with probability 1e-4 per case (fixed seed: deterministic).
    x = D.Beta(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    sample = x.sample((20_000,), generator=gen(9)).numpy()
    assert _chi_square_p(sample, a, b) > 1e-4


def test_dirichlet_sampler_marginals_binned_in_log_space():
    alpha = np.array([0.01, 0.1, 1.0])
    d = D.Dirichlet(torch.tensor(alpha, dtype=torch.float64))
    sample = d.sample((20_000,), generator=gen(10)).numpy()
    for i in range(3):
        assert _chi_square_p(sample[:, i], alpha[i], alpha.sum() - alpha[i]) > 1e-4
