"""Hard points of MultivariateNormal (and of Independent wrapped around it).

Oracles: numpy linear algebra, scipy.stats.multivariate_normal, torch.distributions, and
Monte Carlo with seeded generators and tolerances of 6 standard errors.
"""

import numpy as np
import pytest
import torch
import torch.distributions as TD
from scipy import stats

import aleatorch as D

F64 = torch.float64


def spd(d, seed, batch=()):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch + (d, d), dtype=F64, generator=g)
    return a @ a.mT + 0.5 * torch.eye(d, dtype=F64)


def randn(*shape, seed=0):
    return torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def three_ways(loc, cov):
    """The same distribution from each parametrization, the matrices computed by numpy."""
    c = cov.numpy()
    tril = torch.from_numpy(np.linalg.cholesky(c))
    prec = torch.from_numpy(np.linalg.inv(c))
    return [
        D.MultivariateNormal(loc, covariance_matrix=cov),
        D.MultivariateNormal(loc, precision_matrix=prec),
        D.MultivariateNormal(loc, scale_tril=tril),
    ]


# ----------------------------------------------------------------- parametrizations


@pytest.mark.parametrize("d", [1, 3, 8])
def test_three_parametrizations_agree(d):
    loc, cov = randn(4, d, seed=1), spd(d, 2, (4,))
    dists = three_ways(loc, cov)
    x = randn(50, 4, d, seed=3)
    expected = torch.stack(
        [
            torch.from_numpy(stats.multivariate_normal(loc[i], cov[i]).logpdf(x[:, i]))
            for i in range(4)
        ],
        dim=-1,
    ).reshape(50, 4)
    for dist in dists:
        torch.testing.assert_close(dist.log_prob(x), expected, rtol=1e-11, atol=1e-11)
        torch.testing.assert_close(dist.entropy(), dists[0].entropy(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(dist.covariance_matrix, cov, rtol=1e-10, atol=1e-11)
        torch.testing.assert_close(dist.scale_tril, dists[2].scale_tril, rtol=1e-10, atol=1e-11)
        torch.testing.assert_close(
            dist.precision_matrix, dists[1].precision_matrix, rtol=1e-9, atol=1e-10
        )
        torch.testing.assert_close(
            dist.variance, cov.diagonal(dim1=-2, dim2=-1), rtol=1e-10, atol=0
        )


def test_precision_given_gives_its_inverse_as_covariance():
    prec = spd(5, 7, (3,))
    dist = D.MultivariateNormal(torch.zeros(5, dtype=F64), precision_matrix=prec)
    eye = torch.eye(5, dtype=F64).expand(3, 5, 5)
    torch.testing.assert_close(dist.covariance_matrix @ prec, eye, rtol=0, atol=1e-12)
    assert dist.precision_matrix is dist.__dict__["precision_matrix"]  # stored, not derived
    tril = dist.scale_tril
    assert torch.equal(tril, tril.tril()) and bool((tril.diagonal(dim1=-2, dim2=-1) > 0).all())


def test_derived_matrices_are_lazy_and_the_factor_unbroadcast():
    cov = spd(3, 1)
    dist = D.MultivariateNormal(randn(6, 3), covariance_matrix=cov)
    assert "scale_tril" not in dist.__dict__ and "precision_matrix" not in dist.__dict__
    assert dist._unbroadcasted_scale_tril.shape == (3, 3)
    assert dist.scale_tril.shape == (6, 3, 3)
    assert "scale_tril" in dist.__dict__["_cache"]


def test_log_prob_matches_scipy_at_d64_for_4096_points():
    d = 64
    cov = spd(d, 5) / d + 0.1 * torch.eye(d, dtype=F64)
    loc = randn(d, seed=6)
    x = randn(4096, d, seed=8)
    dist = D.MultivariateNormal(loc, covariance_matrix=cov)
    expected = stats.multivariate_normal(loc.numpy(), cov.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_log_prob_gradients_by_gradcheck(name):
    cov = spd(3, 11, (2,))
    matrix = {
        "covariance_matrix": cov,
        "precision_matrix": torch.linalg.inv(cov),
        "scale_tril": torch.linalg.cholesky(cov),
    }[name].requires_grad_()
    loc = randn(2, 3, seed=12).requires_grad_()
    x = randn(5, 2, 3, seed=13)

    def f(loc, matrix):
        # perturb within the admissible set: symmetric, or lower triangular
        matrix = matrix.tril() if name == "scale_tril" else 0.5 * (matrix + matrix.mT)
        return D.MultivariateNormal(loc, **{name: matrix}).log_prob(x)

    assert torch.autograd.gradcheck(f, (loc, matrix))


# ----------------------------------------------------------------- batching


def test_loc_and_matrix_broadcast_over_batch_dims():
    loc, cov = randn(2, 1, 3, seed=2), spd(3, 3, (4,))
    dist = D.MultivariateNormal(loc, covariance_matrix=cov)
    assert dist.batch_shape == (2, 4) and dist.event_shape == (3,)
    assert dist._unbroadcasted_scale_tril.shape == (4, 3, 3)
    x = randn(7, 2, 4, 3, seed=4)
    lp = dist.log_prob(x)
    assert lp.shape == (7, 2, 4)
    for i in range(2):
        for j in range(4):
            single = D.MultivariateNormal(loc[i, 0], covariance_matrix=cov[j])
            torch.testing.assert_close(lp[:, i, j], single.log_prob(x[:, i, j]), rtol=1e-12, atol=0)
    # A value with fewer batch dims broadcasts against the batch.
    point = x[0, 0, 0]
    expected = torch.stack(
        [
            torch.stack(
                [
                    D.MultivariateNormal(loc[i, 0], covariance_matrix=cov[j]).log_prob(point)
                    for j in range(4)
                ]
            )
            for i in range(2)
        ]
    )
    torch.testing.assert_close(dist.log_prob(point), expected, rtol=1e-12, atol=0)
    assert dist.rsample((5,)).shape == (5, 2, 4, 3)
    assert dist.entropy().shape == (2, 4) and dist.variance.shape == (2, 4, 3)


def test_generic_expand_keeps_views_and_the_unbroadcast_factor():
    cov = spd(3, 9, (4,))
    dist = D.MultivariateNormal(randn(3), covariance_matrix=cov)
    _ = dist.scale_tril  # a cached derived value must not survive expand with the old shape
    e = dist.expand((2, 4))
    assert type(e) is D.MultivariateNormal and e.batch_shape == (2, 4)
    assert e._unbroadcasted_scale_tril is dist._unbroadcasted_scale_tril
    assert e.covariance_matrix.shape == (2, 4, 3, 3)
    assert e.covariance_matrix.data_ptr() == cov.data_ptr()  # a view, not a copy
    assert e.scale_tril.shape == (2, 4, 3, 3)
    x = randn(5, 2, 4, 3, seed=1)
    torch.testing.assert_close(e.log_prob(x), dist.log_prob(x))


# ----------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    "loc_shape, cov_batch",
    [((3,), ()), ((2, 3), ()), ((3,), (2,)), ((2, 1, 3), (3,))],
    ids=["unbatched", "batched-loc", "batched-matrix", "broadcast-both"],
)
def test_rsample_covariance_matches_the_covariance_matrix(loc_shape, cov_batch):
    loc, cov = randn(*loc_shape, seed=5), spd(3, 6, cov_batch)
    dist = D.MultivariateNormal(loc, covariance_matrix=cov)
    n = 40000
    x = dist.rsample((n,), generator=torch.Generator().manual_seed(0))
    assert x.shape == (n,) + dist.batch_shape + (3,)
    sigma = dist.covariance_matrix
    mean = x.mean(0)
    se_mean = (sigma.diagonal(dim1=-2, dim2=-1) / n).sqrt()
    assert bool(((mean - dist.loc).abs() <= 6 * se_mean).all())
    centered = x - dist.loc
    products = centered.unsqueeze(-1) * centered.unsqueeze(-2)
    sample_cov = products.mean(0)
    se_cov = (products.var(0) / n).sqrt()
    assert bool(((sample_cov - sigma).abs() <= 6 * se_cov).all()), (sample_cov - sigma) / se_cov


def test_sample_and_rsample_agree_under_one_generator():
    dist = D.MultivariateNormal(randn(2, 3), scale_tril=torch.linalg.cholesky(spd(3, 1, (2,))))
    a = dist.sample((4,), generator=torch.Generator().manual_seed(3))
    b = dist.rsample((4,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b.detach())


# ----------------------------------------------------------------- KL


def test_kl_matches_torch_closed_form_with_broadcasting():
    p = D.MultivariateNormal(randn(2, 1, 4, seed=1), covariance_matrix=spd(4, 2, (3,)))
    q = D.MultivariateNormal(randn(4, seed=3), precision_matrix=spd(4, 4))
    tp = TD.MultivariateNormal(p.loc, covariance_matrix=p.covariance_matrix)
    tq = TD.MultivariateNormal(q.loc, covariance_matrix=q.covariance_matrix)
    kl = D.kl_divergence(p, q)
    assert kl.shape == (2, 3)
    torch.testing.assert_close(kl, TD.kl_divergence(tp, tq), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        D.kl_divergence(p, p), torch.zeros(2, 3, dtype=F64), rtol=0, atol=1e-12
    )


def test_kl_matches_monte_carlo():
    p = D.MultivariateNormal(randn(2, 3, seed=1), covariance_matrix=spd(3, 2, (2,)))
    q = D.MultivariateNormal(randn(2, 3, seed=3), scale_tril=torch.linalg.cholesky(spd(3, 4, (2,))))
    x = p.sample((200000,), generator=torch.Generator().manual_seed(0))
    ratio = p.log_prob(x) - q.log_prob(x)
    se = ratio.std(0) / ratio.shape[0] ** 0.5
    assert bool(((ratio.mean(0) - D.kl_divergence(p, q)).abs() <= 6 * se).all())


def test_kl_rejects_different_dimensions():
    p = D.MultivariateNormal(torch.zeros(2), covariance_matrix=torch.eye(2))
    q = D.MultivariateNormal(torch.zeros(3), covariance_matrix=torch.eye(3))
    with pytest.raises(D.ShapeError, match="event shapes differ"):
        D.kl_divergence(p, q)


# ----------------------------------------------------------------- errors


def test_non_positive_definite_covariance_names_the_batch_index():
    cov = spd(3, 1, (2, 3)).clone()
    cov[1, 2] = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=F64))
    with pytest.raises(D.ParameterError) as info:
        D.MultivariateNormal(torch.zeros(3, dtype=F64), covariance_matrix=cov)
    message = str(info.value)
    for word in [
        "MultivariateNormal",
        "covariance_matrix",
        "positive-definite",
        "1 of 6",
        "[1, 2]",
    ]:
        assert word in message, message
    # Validation off: no factorization error either (cholesky_ex does not raise).
    D.MultivariateNormal(torch.zeros(3, dtype=F64), covariance_matrix=cov, validate_args=False)


def test_nan_in_the_matrix_is_reported_as_nan():
    cov = torch.eye(2).expand(3, 2, 2).clone()
    cov[2, 0, 1] = float("nan")
    with pytest.raises(D.ParameterError, match=r"covariance_matrix' contains NaN at \[2\]"):
        D.MultivariateNormal(torch.zeros(2), covariance_matrix=cov)


def test_float32_parameters_promote_with_float64_loc():
    dist = D.MultivariateNormal(torch.zeros(2, dtype=F64), covariance_matrix=torch.eye(2))
    assert dist.covariance_matrix.dtype == F64 and dist.rsample().dtype == F64


# ----------------------------------------------------------------- Independent


def test_independent_of_mvn_kl_sums_the_base_kl():
    p = D.MultivariateNormal(randn(4, 2, seed=1), covariance_matrix=spd(2, 2, (4,)))
    q = D.MultivariateNormal(randn(4, 2, seed=3), covariance_matrix=spd(2, 4))
    ip, iq = D.Independent(p, 1), D.Independent(q, 1)
    torch.testing.assert_close(D.kl_divergence(ip, iq), D.kl_divergence(p, q).sum(-1))
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        D.kl_divergence(ip, D.Independent(q, 0))


def test_independent_rejects_values_broadcast_along_event_dims():
    base = D.Normal(torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64))
    ind = D.Independent(base, 1)
    assert base.log_prob(torch.zeros(3, 1, dtype=F64)).shape == (3, 2)  # fine for the base
    with pytest.raises(D.ShapeError, match="event_shape"):
        ind.log_prob(torch.zeros(3, 1, dtype=F64))
    with pytest.raises(NotImplementedError, match="cartesian product"):
        ind.enumerate_support()
    assert not ind.has_enumerate_support and ind.has_rsample
    assert ind.support.event_dim == 1
    assert repr(ind).startswith("Independent(Normal(")


def test_independent_expand_and_sampling_with_generator():
    ind = D.Independent(D.Normal(randn(3, 2), torch.ones(3, 2, dtype=F64)), 2)
    e = ind.expand((5,))
    assert e.batch_shape == (5,) and e.event_shape == (3, 2)
    assert e.base_dist.batch_shape == (5, 3, 2)
    a = e.sample((4,), generator=torch.Generator().manual_seed(1))
    b = e.rsample((4,), generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 5, 3, 2) and torch.equal(a, b.detach())
    torch.testing.assert_close(e.log_prob(a), ind.log_prob(a))
