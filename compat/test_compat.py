"""Compatibility with real libraries: each scenario in ``scenarios.py`` runs in two fresh
interpreters, on torch.distributions and with ``aleatorch.install()`` first, over the same
seeds; the tests check (a) which library the code really used, (b) the scenario's own success
criterion on both backends, (c) that aleatorch's numbers agree with torch's.

Agreement tolerance (``assert_agrees``): for a metric with values ``t_1..t_n`` (torch) and
``a_1..a_n`` (aleatorch) over the same ``n`` seeds, the difference of the means must be within
``K = 5`` standard errors of that difference (plus a float floor of 1e-6 relative). The
standard error is the larger of two noise measures: the seed-to-seed spread (the sample
variance pooled over both backends, times 2/n), and the runs' own Monte Carlo standard errors
(``se`` of each run, e.g. an ELBO averaged over many particles, a posterior mean over
``sd/sqrt(ESS)``, a mean return over episodes). A deterministic quantity (a log-density at
fixed inputs) has neither, and must then agree to the float floor.

All runs start together (``COMPAT_JOBS`` at a time). Run with ``make test-compat`` (not
part of ``make test``); ``COMPAT_SAVE=dir`` keeps each run's JSON,
``COMPAT_REUSE=dir`` checks those saved runs again without running them.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
K = 5.0
BACKENDS = ["torch", "aleatorch"]

# Seeds per scenario: three where the seed spread is the noise measure, one where the
# run measures its own Monte Carlo error (NUTS) or nothing is random (the family table).
SEEDS = {
    "pyro_svi": "0,1,2",
    "pyro_nuts": "0",
    "pyro_families": "0",
    "zuko_nsf": "0,1,2",
    "zuko_maf": "0,1,2",
    "sb3_ppo": "0,1,2",
    "sb3_sac": "0,1,2",
    "tanh_policy": "0,1,2",
    "dirichlet_vae": "0,1,2",
}


# Rough CPU seconds of each scenario (both backends alike): the longest start first.
COST = {
    "sb3_sac": 45,
    "sb3_ppo": 26,
    "zuko_nsf": 14,
    "pyro_svi": 11,
    "dirichlet_vae": 9,
    "zuko_maf": 9,
    "tanh_policy": 6,
    "pyro_nuts": 5,
    "pyro_families": 2,
}


def _run_subprocess(backend: str, scenario: str) -> dict[str, Any]:
    reuse = os.environ.get("COMPAT_REUSE")  # a COMPAT_SAVE folder: check saved runs again
    if reuse:
        return json.loads((Path(reuse) / f"{scenario}.{backend}.json").read_text())
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_scenario.py"), "--backend", backend]
        + ["--scenario", scenario, "--seeds", SEEDS[scenario]],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{scenario} on {backend} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    save_dir = os.environ.get("COMPAT_SAVE")
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        (Path(save_dir) / f"{scenario}.{backend}.json").write_text(json.dumps(result, indent=1))
    return result


@functools.cache
def _all_runs() -> dict[tuple[str, str], concurrent.futures.Future]:
    """Start every (backend, scenario) subprocess at once, ``COMPAT_JOBS`` (default: the
    number of CPUs) at a time, the longest first; the tests then wait for the ones they need."""
    jobs = int(os.environ.get("COMPAT_JOBS", os.cpu_count() or 1))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    order = sorted(SEEDS, key=lambda s: -COST[s])
    return {(b, s): pool.submit(_run_subprocess, b, s) for s in order for b in BACKENDS}


def run(backend: str, scenario: str) -> dict[str, Any]:
    """The scenario's results on ``backend``, from a fresh interpreter."""
    return _all_runs()[backend, scenario].result()


def metric(result: dict[str, Any], name: str) -> np.ndarray:
    return np.array([r["metrics"][name] for r in result["runs"]], dtype=float)


def mc_se(result: dict[str, Any], name: str) -> np.ndarray:
    return np.array([r["se"].get(name, 0.0) for r in result["runs"]], dtype=float)


def assert_agrees(scenario: str, names: list[str]) -> None:
    torch_run, alea_run = run("torch", scenario), run("aleatorch", scenario)
    failures = []
    for name in names:
        t, a = metric(torch_run, name), metric(alea_run, name)
        n = len(t)
        spread_var = (np.var(t, ddof=1) + np.var(a, ddof=1)) / 2 if n > 1 else 0.0
        mc_var = float(np.mean(mc_se(torch_run, name) ** 2 + mc_se(alea_run, name) ** 2))
        se_diff = math.sqrt(max(2 * spread_var / n, mc_var / n))
        tol = K * se_diff + 1e-6 * (1 + abs(t.mean()))
        diff = a.mean() - t.mean()
        if not (abs(diff) <= tol):
            failures.append(
                f"{name}: aleatorch {a.tolist()} vs torch {t.tolist()}: "
                f"|diff of means| {abs(diff):.4g} > tolerance {tol:.4g}"
            )
    assert not failures, f"{scenario}: " + "; ".join(failures)


def check_lineage(backend: str, lineages: dict[str, list[str]]) -> None:
    """Every named object's distribution classes come from the backend's package."""
    prefix = "aleatorch." if backend == "aleatorch" else "torch.distributions."
    for label, modules in lineages.items():
        assert modules, f"{label}: no distribution class in its MRO"
        wrong = [m for m in modules if not m.startswith(prefix)]
        assert not wrong, f"{label} on {backend}: classes {wrong} are not from {prefix}"


def assert_evidence(backend: str, scenario: str, expect_installed: bool = True) -> None:
    result = run(backend, scenario)
    assert result["installed"] == (backend == "aleatorch" and expect_installed)
    for r in result["runs"]:
        check_lineage(backend, r["evidence"])


def mean_of(backend: str, scenario: str, name: str) -> float:
    return float(metric(run(backend, scenario), name).mean())


# --------------------------------------------------------------------------------------------
# 1. Pyro SVI (AutoNormal, Bayesian linear regression)

W_TRUE = [1.5, -2.0, 0.5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyro_svi_backend(backend: str) -> None:
    assert_evidence(backend, "pyro_svi")


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyro_svi_learns(backend: str) -> None:
    result = run(backend, "pyro_svi")
    for r in result["runs"]:
        m = r["metrics"]
        assert m["loss_last50"] < m["loss_first50"] - 100, m
        # The posterior sd of each weight is about 0.5 / sqrt(200) = 0.035.
        for i, w in enumerate(W_TRUE):
            assert abs(m[f"w{i}"] - w) < 0.15, (i, m)
        assert abs(m["b"] - 0.7) < 0.15, m
        assert abs(m["sigma"] - 0.5) < 0.1, m


def test_pyro_svi_agrees() -> None:
    assert_agrees("pyro_svi", ["final_loss", "w0", "w1", "w2", "b", "sigma"])


# --------------------------------------------------------------------------------------------
# 2. Pyro NUTS (conjugate two-parameter regression: the posterior is known)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyro_nuts_backend(backend: str) -> None:
    assert_evidence(backend, "pyro_nuts")


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyro_nuts_matches_analytic_posterior(backend: str) -> None:
    sys.path.insert(0, str(HERE))
    from scenarios import nuts_analytic_posterior

    mean, sd = nuts_analytic_posterior()
    (r,) = run(backend, "pyro_nuts")["runs"]
    m, se = r["metrics"], r["se"]
    for i, name in enumerate(["a", "b"]):
        assert m[f"{name}_ess"] > 30, m
        assert abs(m[f"{name}_mean"] - mean[i]) < K * se[f"{name}_mean"], (name, m, mean)
        assert abs(m[f"{name}_sd"] - sd[i]) < K * se[f"{name}_sd"], (name, m, sd)


def test_pyro_nuts_agrees() -> None:
    assert_agrees("pyro_nuts", ["a_mean", "b_mean", "a_sd", "b_sd"])


# --------------------------------------------------------------------------------------------
# 3. Every family pyro.distributions wraps


def _families(backend: str) -> dict[str, Any]:
    return run(backend, "pyro_families")["runs"][0]["metrics"]["families"]


# The families pyro 1.9 wraps from torch.distributions (ExponentialFamily is abstract). A
# family pyro wraps that the table lacks shows up in test_pyro_family_table_complete.
FAMILIES = (
    "Bernoulli Beta Binomial Categorical Cauchy Chi2 ContinuousBernoulli Dirichlet Exponential "
    "FisherSnedecor Gamma GeneralizedPareto Geometric Gumbel HalfCauchy HalfNormal Independent "
    "InverseGamma Kumaraswamy LKJCholesky Laplace LogNormal LogisticNormal "
    "LowRankMultivariateNormal MixtureSameFamily Multinomial MultivariateNormal "
    "NegativeBinomial Normal OneHotCategorical OneHotCategoricalStraightThrough Pareto Poisson "
    "RelaxedBernoulli RelaxedOneHotCategorical StudentT TransformedDistribution Uniform "
    "VonMises Weibull Wishart"
).split()


def test_pyro_family_table_complete() -> None:
    """The table covers every family Pyro wraps from torch.distributions."""
    families = _families("torch")
    missing = sorted(name for name, f in families.items() if f.get("missing case"))
    assert missing == ["ExponentialFamily"], f"pyro families without a case: {missing}"
    assert sorted(set(families) - {"ExponentialFamily"}) == sorted(FAMILIES)


def test_pyro_wraps_the_same_families() -> None:
    """Pyro wraps every Distribution class in ``torch.distributions.__dict__``: under
    install() that is aleatorch's top-level namespace, which holds the same families plus the
    two that aleatorch also exports at top level (torch has them in submodules only; see
    docs/differences.md)."""
    torch_names, alea_names = set(_families("torch")), set(_families("aleatorch"))
    torch_names |= {"ExpRelaxedCategorical", "LogitRelaxedBernoulli"}
    assert alea_names == torch_names, (
        f"pyro.distributions wraps {sorted(alea_names - torch_names)} only on aleatorch "
        f"and {sorted(torch_names - alea_names)} only on torch"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_pyro_family(family: str) -> None:
    torch_f, alea_f = _families("torch")[family], _families("aleatorch")[family]
    check_lineage("torch", {family: torch_f["lineage"]})
    check_lineage("aleatorch", {family: alea_f["lineage"]})
    for backend, f in [("torch", torch_f), ("aleatorch", alea_f)]:
        assert "error" not in f, f"{family} on {backend}: {f['error']}"
    for f in (torch_f, alea_f):
        assert f["sample_shape"] == f["expected_shape"]
        assert f["sample_log_prob_finite"]
        assert f["sample_in_support"]
    assert alea_f["expected_shape"] == torch_f["expected_shape"]
    # float64 inputs (float32 for GeneralizedPareto): agreement to a few ulps of the dtype.
    rtol, atol = (1e-6, 1e-9) if torch_f["dtype"] == "torch.float64" else (1e-5, 1e-6)
    np.testing.assert_allclose(alea_f["log_prob"], torch_f["log_prob"], rtol=rtol, atol=atol)
    for summary in ("mean", "variance", "entropy"):
        expected = torch_f[summary]
        if expected == "NotImplementedError":
            continue  # aleatorch adds some (Poisson, FisherSnedecor, VonMises entropy)
        # torch's VonMises variance uses a series for I1/I0 good to ~1e-5 relative;
        # aleatorch's matches scipy's 1 - i1e(k)/i0e(k) to 1e-15.
        coarse = (family, summary) == ("VonMises", "variance")
        if family in ("FisherSnedecor", "GeneralizedPareto") and summary != "entropy":
            # a divergent moment is +inf here, NaN in torch 2.13 (docs/differences.md)
            ours = np.asarray(alea_f[summary], dtype=float)
            expected = np.where(np.isnan(expected) & np.isposinf(ours), np.inf, expected)
        np.testing.assert_allclose(
            alea_f[summary], expected, rtol=1e-4 if coarse else rtol, atol=atol, err_msg=summary
        )
    for key in ("expanded_log_prob_shape", "to_event_log_prob_shape", "enumerate_support"):
        assert alea_f.get(key) == torch_f.get(key), key


PYRO_TRANSFORMS = (
    "affine_autoregressive affine_coupling spline spline_coupling spline_autoregressive "
    "householder matrix_exponential batchnorm permute lower_cholesky_affine leaky_relu"
).split()
# Transforms whose 30 steps must lower the NLL (householder is a rotation: an isotropic
# base makes it flat; batchnorm barely moves in training mode).
LEARNING_TRANSFORMS = PYRO_TRANSFORMS[:5] + ["matrix_exponential"]


@pytest.mark.parametrize("name", PYRO_TRANSFORMS)
def test_pyro_transform(name: str) -> None:
    """Pyro's TransformModule subclasses (torch's Transform + nn.Module) build, train and
    sample on aleatorch as on torch."""
    results = {
        b: run(b, "pyro_families")["runs"][0]["metrics"]["transforms"][name] for b in BACKENDS
    }
    for backend, r in results.items():
        assert "error" not in r, f"pyro transform {name} on {backend}: {r['error']}"
        check_lineage(backend, {name: r["lineage"]})
        assert r["sample_shape"] == [5, 3]
        if name in LEARNING_TRANSFORMS:
            assert r["final_nll"] < r["initial_nll"] - 0.2, r
    t, a = results["torch"], results["aleatorch"]
    assert a["n_params"] == t["n_params"]
    # The same initial weights (same seed): the same density up to float32 round-off.
    np.testing.assert_allclose(a["initial_nll"], t["initial_nll"], rtol=1e-5)
    # After training: within K times the change that a 1e-7 relative perturbation of the data
    # makes (the round-off 30 steps amplify), plus float32 round-off.
    roundoff = max(t["final_nll_roundoff"], a["final_nll_roundoff"])
    assert abs(a["final_nll"] - t["final_nll"]) <= K * roundoff + 1e-5 * abs(t["final_nll"]), (
        t,
        a,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyro_enumerated_mixture_learns(backend: str) -> None:
    m = run(backend, "pyro_families")["runs"][0]["metrics"]
    assert m["enum_last_loss"] < m["enum_first_loss"] - 20, m
    assert abs(m["enum_loc0"] - (-2.0)) < 0.3, m


def test_pyro_enumerated_mixture_agrees() -> None:
    """TraceEnum_ELBO with a point-mass guide is deterministic: agreement to float noise."""
    torch_m = run("torch", "pyro_families")["runs"][0]["metrics"]
    alea_m = run("aleatorch", "pyro_families")["runs"][0]["metrics"]
    for key in ("enum_first_loss", "enum_last_loss", "enum_loc0"):
        np.testing.assert_allclose(alea_m[key], torch_m[key], rtol=1e-6, err_msg=key)


# --------------------------------------------------------------------------------------------
# 4. zuko: NSF and MAF on two moons


@pytest.mark.parametrize("scenario", ["zuko_nsf", "zuko_maf"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_zuko_backend(scenario: str, backend: str) -> None:
    assert_evidence(backend, scenario)


@pytest.mark.parametrize("scenario", ["zuko_nsf", "zuko_maf"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_zuko_learns(scenario: str, backend: str) -> None:
    for r in run(backend, scenario)["runs"]:
        m = r["metrics"]
        assert math.isfinite(m["final_nll"]), m
        assert m["final_nll"] < m["initial_nll"] - 0.8, m


@pytest.mark.parametrize("scenario", ["zuko_nsf", "zuko_maf"])
def test_zuko_agrees(scenario: str) -> None:
    names = ["initial_nll", "final_nll", "sample_mean_x", "sample_mean_y"]
    assert_agrees(scenario, names)


# --------------------------------------------------------------------------------------------
# 5. stable-baselines3: PPO on CartPole-v1, SAC on Pendulum-v1

SB3_LOSSES = {
    "sb3_ppo": ["train/loss", "train/policy_gradient_loss", "train/value_loss"]
    + ["train/entropy_loss"],
    "sb3_sac": ["train/actor_loss", "train/critic_loss", "train/ent_coef"],
}


@pytest.mark.parametrize("scenario", ["sb3_ppo", "sb3_sac"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sb3_backend(scenario: str, backend: str) -> None:
    assert_evidence(backend, scenario)


@pytest.mark.parametrize("scenario", ["sb3_ppo", "sb3_sac"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sb3_learns(scenario: str, backend: str) -> None:
    result = run(backend, scenario)
    for r in result["runs"]:
        for key in SB3_LOSSES[scenario]:
            assert r["metrics"][f"{key}_all_finite"] == 1.0, (key, r["metrics"])
    # The trained (deterministic) policy beats a uniformly random one on the same episodes.
    trained, random = metric(result, "trained_return"), metric(result, "random_return")
    se = math.sqrt(
        float(np.mean(mc_se(result, "trained_return") ** 2 + mc_se(result, "random_return") ** 2))
        / len(trained)
    )
    assert trained.mean() - random.mean() > K * se, (trained, random, se)


@pytest.mark.parametrize("scenario", ["sb3_ppo", "sb3_sac"])
def test_sb3_agrees(scenario: str) -> None:
    extra = "train/entropy_loss_last" if scenario == "sb3_ppo" else "train/ent_coef_last"
    assert_agrees(scenario, ["trained_return", "random_return", extra])


# --------------------------------------------------------------------------------------------
# 6. Plain code against the module: tanh-Normal policy gradient, Dirichlet-latent VAE


@pytest.mark.parametrize("scenario", ["tanh_policy", "dirichlet_vae"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_backend(scenario: str, backend: str) -> None:
    assert_evidence(backend, scenario, expect_installed=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tanh_policy_learns(backend: str) -> None:
    for r in run(backend, "tanh_policy")["runs"]:
        m = r["metrics"]
        assert m["grad_finite"] == 1.0, m
        assert m["final_loss"] < m["initial_loss"] - 0.5, m


def test_tanh_policy_agrees() -> None:
    assert_agrees("tanh_policy", ["initial_loss", "final_loss", "fixed_log_prob_sum"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_dirichlet_vae_learns(backend: str) -> None:
    for r in run(backend, "dirichlet_vae")["runs"]:
        m, se = r["metrics"], r["se"]
        assert m["grad_finite"] == 1.0, m
        assert m["final_loss"] < m["initial_loss"] - 0.3, m
        for i in range(3):
            mc, exact = m[f"dirichlet_grad_mc_{i}"], m[f"dirichlet_grad_exact_{i}"]
            assert abs(mc - exact) < K * se[f"dirichlet_grad_mc_{i}"], (i, mc, exact)


def test_dirichlet_vae_agrees() -> None:
    names = ["initial_loss", "final_loss", "final_kl"]
    assert_agrees("dirichlet_vae", names + [f"dirichlet_grad_mc_{i}" for i in range(3)])
