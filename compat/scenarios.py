"""Compatibility scenarios: real Pyro, zuko and stable-baselines3 code, and plain code.

Each scenario is a function ``(seed, backend) -> dict`` returning

- ``metrics``: numbers (the results the tests compare between backends),
- ``se``: for some metrics, the Monte Carlo standard error of that run's value,
- ``evidence``: for named objects the library built, the modules of the classes in their MRO
  that come from a distributions package (``aleatorch.*`` or ``torch.distributions.*``), so
  the tests can tell which backend the library really used.

``run_scenario.py`` runs one scenario in a fresh interpreter; for the ``aleatorch`` backend it
calls ``aleatorch.install()`` *before* this module imports any of the libraries (they are
imported inside the functions), except for the ``PLAIN`` scenarios, which take the
distributions module as an argument and need no install.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

SCENARIOS: dict[str, Callable[[int, str], dict[str, Any]]] = {}
# Scenarios written against a distributions module passed in: no install() for them.
PLAIN: set[str] = set()


def scenario(plain: bool = False) -> Callable:
    def register(fn: Callable) -> Callable:
        SCENARIOS[fn.__name__] = fn
        if plain:
            PLAIN.add(fn.__name__)
        return fn

    return register


def lineage(obj: Any) -> list[str]:
    """Modules of the classes in ``obj``'s MRO (``obj`` may be a class) that belong to a
    distributions package: ``aleatorch...`` or ``torch.distributions...``."""
    cls = obj if isinstance(obj, type) else type(obj)
    out = []
    for base in cls.__mro__:
        module = base.__module__ or ""
        if module.startswith(("aleatorch", "torch.distributions")):
            out.append(f"{module}.{base.__qualname__}")
    return out


def distributions_module(backend: str) -> Any:
    if backend == "aleatorch":
        import aleatorch

        return aleatorch
    import torch.distributions

    return torch.distributions


def _mean_se(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(len(arr)))


# --------------------------------------------------------------------------------------------
# 1. Pyro SVI with AutoNormal on a Bayesian linear regression.

W_TRUE = [1.5, -2.0, 0.5]
B_TRUE = 0.7
SIGMA_TRUE = 0.5


def _regression_data(n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(20240601)  # the data are the same for every seed
    x = rng.normal(size=(n, len(W_TRUE)))
    y = x @ np.asarray(W_TRUE) + B_TRUE + SIGMA_TRUE * rng.normal(size=n)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


@scenario()
def pyro_svi(seed: int, backend: str) -> dict[str, Any]:
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal
    from pyro.optim import Adam

    x, y = _regression_data()
    n, p = x.shape

    def model(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([p]).to_event(1))
        b = pyro.sample("b", dist.Normal(0.0, 10.0))
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
        with pyro.plate("data", n):
            pyro.sample("obs", dist.Normal(x @ w + b, sigma), obs=y)

    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    guide = AutoNormal(model)
    svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
    losses = [svi.step(x, y) for _ in range(400)]
    final_mean, final_se = _mean_se([svi.evaluate_loss(x, y) for _ in range(100)])
    medians = guide.median(x, y)
    trace = pyro.poutine.trace(guide).get_trace(x, y)
    model_trace = pyro.poutine.trace(pyro.poutine.replay(model, trace=trace)).get_trace(x, y)
    w = medians["w"].detach().tolist()
    return {
        "metrics": {
            "loss_first50": float(np.mean(losses[:50])),
            "loss_last50": float(np.mean(losses[-50:])),
            "final_loss": final_mean,
            **{f"w{i}": w[i] for i in range(p)},
            "b": float(medians["b"]),
            "sigma": float(medians["sigma"]),
        },
        "se": {"final_loss": final_se},
        "evidence": {
            "pyro.distributions.Normal": lineage(dist.Normal),
            "model obs site fn": lineage(model_trace.nodes["obs"]["fn"]),
            "guide site w fn": lineage(trace.nodes["w"]["fn"]),
        },
    }


# --------------------------------------------------------------------------------------------
# 2. Pyro NUTS on a conjugate two-parameter model (intercept and slope, known noise).

NUTS_PRIOR_SD = 2.0
NUTS_NOISE = 1.0


def _nuts_data() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, size=30)
    y = 0.8 - 1.3 * x + NUTS_NOISE * rng.normal(size=30)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


def nuts_analytic_posterior() -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviations of (a, b) in closed form."""
    x, y = (t.numpy() for t in _nuts_data())
    design = np.stack([np.ones_like(x), x], axis=1)
    precision = design.T @ design / NUTS_NOISE**2 + np.eye(2) / NUTS_PRIOR_SD**2
    cov = np.linalg.inv(precision)
    mean = cov @ design.T @ y / NUTS_NOISE**2
    return mean, np.sqrt(np.diag(cov))


@scenario()
def pyro_nuts(seed: int, backend: str) -> dict[str, Any]:
    import pyro
    import pyro.distributions as dist
    from pyro.infer import MCMC, NUTS
    from pyro.ops.stats import effective_sample_size

    x, y = _nuts_data()

    def model(x: torch.Tensor, y: torch.Tensor) -> None:
        a = pyro.sample("a", dist.Normal(torch.tensor(0.0, dtype=x.dtype), NUTS_PRIOR_SD))
        b = pyro.sample("b", dist.Normal(torch.tensor(0.0, dtype=x.dtype), NUTS_PRIOR_SD))
        with pyro.plate("data", len(x)):
            pyro.sample("obs", dist.Normal(a + b * x, NUTS_NOISE), obs=y)

    pyro.set_rng_seed(seed)
    mcmc = MCMC(NUTS(model), num_samples=200, warmup_steps=200, num_chains=1, disable_progbar=True)
    mcmc.run(x, y)
    samples = mcmc.get_samples()
    metrics: dict[str, float] = {}
    se: dict[str, float] = {}
    for name in ("a", "b"):
        s = samples[name].double()
        ess = float(effective_sample_size(s.unsqueeze(0), chain_dim=0, sample_dim=1))
        metrics[f"{name}_mean"] = float(s.mean())
        metrics[f"{name}_sd"] = float(s.std())
        metrics[f"{name}_ess"] = ess
        se[f"{name}_mean"] = float(s.std()) / math.sqrt(max(ess, 1.0))
        se[f"{name}_sd"] = float(s.std()) / math.sqrt(2 * max(ess, 1.0))
    trace = pyro.poutine.trace(model).get_trace(x, y)
    return {
        "metrics": metrics,
        "se": se,
        "evidence": {"model obs site fn": lineage(trace.nodes["obs"]["fn"])},
    }


# --------------------------------------------------------------------------------------------
# 3. Every family pyro.distributions wraps: log_prob on fixed inputs, sample shapes.


def _family_cases(dist: Any, transforms: Any) -> dict[str, tuple[Any, Any]]:
    """family name -> (distribution built through pyro.distributions, value tensor)."""

    def t(values: Any) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64)

    chol = torch.linalg.cholesky(t([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]]))
    spd = t([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])
    return {
        "Bernoulli": (dist.Bernoulli(probs=t([0.2, 0.5, 0.9])), t([0.0, 1.0, 1.0])),
        "Beta": (dist.Beta(t([0.5, 2.0, 5.0]), t([1.5, 2.0, 0.7])), t([0.1, 0.5, 0.95])),
        "Binomial": (dist.Binomial(10, probs=t([0.1, 0.5, 0.8])), t([0.0, 3.0, 10.0])),
        "Categorical": (
            dist.Categorical(probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            t([0.0, 2.0]),
        ),
        "Cauchy": (dist.Cauchy(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 3.0])), t([0.3, 1.0, 5.0])),
        "Chi2": (dist.Chi2(t([1.0, 2.5, 7.0])), t([0.5, 2.0, 10.0])),
        "ContinuousBernoulli": (
            dist.ContinuousBernoulli(probs=t([0.1, 0.3, 0.8])),
            t([0.2, 0.5, 0.9]),
        ),
        "Dirichlet": (
            dist.Dirichlet(t([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])),
            t([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]),
        ),
        "Exponential": (dist.Exponential(t([0.5, 1.0, 3.0])), t([0.1, 1.0, 4.0])),
        "FisherSnedecor": (
            dist.FisherSnedecor(t([2.0, 5.0, 10.0]), t([3.0, 8.0, 20.0])),
            t([0.5, 1.0, 2.5]),
        ),
        "Gamma": (dist.Gamma(t([0.5, 2.0, 9.0]), t([1.0, 0.5, 3.0])), t([0.2, 3.0, 3.0])),
        # float32: torch 2.13's GeneralizedPareto.log_prob fails on float64 parameters
        # (torch.isclose(concentration, torch.tensor(0.0)): "Double did not match Float").
        "GeneralizedPareto": (
            dist.GeneralizedPareto(
                t([0.0, 1.0, 0.0]).float(), t([1.0, 2.0, 0.5]).float(), t([0.2, -0.1, 0.0]).float()
            ),
            t([0.5, 3.0, 1.0]).float(),
        ),
        "Geometric": (dist.Geometric(probs=t([0.2, 0.5, 0.9])), t([0.0, 2.0, 5.0])),
        "Gumbel": (dist.Gumbel(t([0.0, 1.0, -1.0]), t([1.0, 2.0, 0.5])), t([0.5, -1.0, 2.0])),
        "HalfCauchy": (dist.HalfCauchy(t([1.0, 2.0, 0.5])), t([0.1, 3.0, 1.0])),
        "HalfNormal": (dist.HalfNormal(t([1.0, 2.0, 0.5])), t([0.1, 3.0, 1.0])),
        "Independent": (
            dist.Independent(dist.Normal(t([[0.0, 1.0], [2.0, -1.0]]), t([1.0, 0.5])), 1),
            t([[0.3, 0.7], [1.0, -2.0]]),
        ),
        "InverseGamma": (
            dist.InverseGamma(t([1.0, 3.0, 0.5]), t([1.0, 2.0, 4.0])),
            t([0.5, 1.0, 6.0]),
        ),
        "Kumaraswamy": (
            dist.Kumaraswamy(t([0.5, 2.0, 5.0]), t([1.5, 2.0, 0.7])),
            t([0.1, 0.5, 0.95]),
        ),
        "LKJCholesky": (dist.LKJCholesky(3, t([0.5, 2.0])), torch.stack([chol, chol])),
        "Laplace": (dist.Laplace(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 3.0])), t([0.3, 1.0, 5.0])),
        "LogNormal": (
            dist.LogNormal(t([0.0, 1.0, -1.0]), t([1.0, 0.5, 2.0])),
            t([0.3, 1.0, 5.0]),
        ),
        "LogisticNormal": (
            dist.LogisticNormal(t([0.0, 1.0, -1.0]), t([1.0, 0.5, 2.0])),
            t([0.1, 0.4, 0.2, 0.3]),
        ),
        "LowRankMultivariateNormal": (
            dist.LowRankMultivariateNormal(t([0.0, 1.0]), t([[1.0], [0.5]]), t([0.5, 2.0])),
            t([[0.3, -1.0], [2.0, 1.0]]),
        ),
        "MixtureSameFamily": (
            dist.MixtureSameFamily(
                dist.Categorical(probs=t([0.2, 0.3, 0.5])),
                dist.Normal(t([-1.0, 0.0, 2.0]), t([0.5, 1.0, 2.0])),
            ),
            t([-1.0, 0.5, 3.0]),
        ),
        "Multinomial": (
            dist.Multinomial(5, probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            t([[1.0, 1.0, 3.0], [5.0, 0.0, 0.0]]),
        ),
        "MultivariateNormal": (
            dist.MultivariateNormal(t([0.0, 1.0, -1.0]), scale_tril=chol),
            t([[0.3, 1.0, 5.0], [0.0, 0.0, 0.0]]),
        ),
        "NegativeBinomial": (
            dist.NegativeBinomial(t([2.0, 5.5, 1.0]), probs=t([0.3, 0.5, 0.8])),
            t([0.0, 3.0, 12.0]),
        ),
        "Normal": (dist.Normal(t([0.0, 1.0, -2.0]), t([1.0, 0.5, 3.0])), t([0.3, 1.0, 5.0])),
        "OneHotCategorical": (
            dist.OneHotCategorical(probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            t([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
        ),
        "OneHotCategoricalStraightThrough": (
            dist.OneHotCategoricalStraightThrough(probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            t([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
        ),
        "Pareto": (dist.Pareto(t([1.0, 2.0, 0.5]), t([1.5, 3.0, 0.8])), t([1.5, 2.0, 4.0])),
        "Poisson": (dist.Poisson(t([0.5, 3.0, 20.0])), t([0.0, 2.0, 25.0])),
        "RelaxedBernoulli": (
            dist.RelaxedBernoulli(t(0.5), probs=t([0.2, 0.5, 0.9])),
            t([0.1, 0.5, 0.95]),
        ),
        "RelaxedOneHotCategorical": (
            dist.RelaxedOneHotCategorical(t(0.7), probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            t([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]),
        ),
        "StudentT": (
            dist.StudentT(t([1.5, 4.0, 30.0]), t([0.0, 1.0, -1.0]), t([1.0, 2.0, 0.5])),
            t([0.3, 1.0, 5.0]),
        ),
        "TransformedDistribution": (
            dist.TransformedDistribution(
                dist.Normal(t([0.0, 1.0, -1.0]), t([1.0, 0.5, 2.0])),
                [transforms.AffineTransform(1.0, 2.0), transforms.ExpTransform()],
            ),
            t([3.5, 9.0, 1.2]),
        ),
        "Uniform": (dist.Uniform(t([0.0, -1.0, 2.0]), t([1.0, 1.0, 5.0])), t([0.3, 0.0, 4.0])),
        "VonMises": (
            dist.VonMises(t([0.0, 1.0, -2.0]), t([0.5, 4.0, 20.0])),
            t([0.3, 1.0, -2.1]),
        ),
        "Weibull": (dist.Weibull(t([1.0, 2.0, 0.5]), t([0.5, 2.0, 5.0])), t([0.3, 1.0, 0.6])),
        "Wishart": (dist.Wishart(t(4.0), covariance_matrix=spd), spd * 3.0),
    }


@scenario()
def pyro_families(seed: int, backend: str) -> dict[str, Any]:
    import pyro.distributions as dist
    import pyro.distributions.torch as pyro_torch
    import torch.distributions.transforms as transforms

    torch.manual_seed(seed)
    cases = _family_cases(dist, transforms)
    families = {}
    for name in pyro_torch.__all__:
        if name not in cases:
            families[name] = {"missing case": True, "lineage": lineage(getattr(dist, name))}
            continue
        d, value = cases[name]
        try:
            sample = d.sample((4,))
            families[name] = {
                "lineage": lineage(d),
                "dtype": str(value.dtype),
                "log_prob": d.log_prob(value).tolist(),
                "sample_shape": list(sample.shape),
                "expected_shape": [4, *d.batch_shape, *d.event_shape],
                "sample_log_prob_finite": bool(torch.isfinite(d.log_prob(sample)).all()),
                "sample_in_support": bool(d.support.check(sample).all()),
                **_summaries(d),
            }
        except Exception as error:  # reported by the test of that family
            families[name] = {"lineage": lineage(d), "error": repr(error)}
    metrics = {"families": families, "transforms": _pyro_transforms(), **_pyro_enum()}
    return {"metrics": metrics, "se": {}, "evidence": {}}


PYRO_TRANSFORMS = [
    "affine_autoregressive affine_coupling spline spline_coupling spline_autoregressive "
    "householder matrix_exponential batchnorm permute lower_cholesky_affine leaky_relu"
][0].split()


def _pyro_transforms() -> dict[str, Any]:
    """Pyro's own transforms (``TransformModule`` = torch's ``Transform`` + ``nn.Module``):
    the density of fixed points under a flow with fixed initial weights, and 30 Adam steps of
    maximum likelihood on those points. The training is repeated on the points scaled by
    ``1 +- 1e-7``: how far that moves the final NLL measures how much round-off the 30 steps
    amplify (splines: up to 1%). Errors are recorded per transform."""
    import pyro.distributions as dist
    import pyro.distributions.transforms as T

    points = torch.randn(64, 3, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.3

    def make(name: str) -> tuple[Any, Any]:
        torch.manual_seed(0)
        if name == "lower_cholesky_affine":
            transform = T.LowerCholeskyAffine(torch.zeros(3), 2.0 * torch.eye(3))
        elif name == "leaky_relu":
            transform = T.LeakyReLUTransform()
        else:
            transform = getattr(T, name)(3)
        base = dist.Normal(torch.zeros(3), 1.0).to_event(1)
        return transform, dist.TransformedDistribution(base, [transform])

    out: dict[str, Any] = {}
    for name in PYRO_TRANSFORMS:
        try:
            transform, flow = make(name)
            initial = float(-flow.log_prob(points).mean())
            sample = flow.rsample((5,))
            finals = []
            for eps in (0.0, 1e-7, -1e-7):
                transform, flow = make(name)
                x = points * (1 + eps)
                params = (
                    list(transform.parameters()) if isinstance(transform, torch.nn.Module) else []
                )
                if params:
                    optimizer = torch.optim.Adam(params, lr=1e-2)
                    for _ in range(30):
                        loss = -flow.log_prob(x).mean()
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        flow.clear_cache()
                finals.append(float(-flow.log_prob(x).mean()))
            out[name] = {
                "lineage": lineage(transform),
                "initial_nll": initial,
                "final_nll": finals[0],
                "final_nll_roundoff": max(abs(f - finals[0]) for f in finals[1:]),
                "n_params": len(params),
                "sample_shape": list(sample.shape),
            }
        except Exception as error:  # reported by the test of that transform
            out[name] = {"error": f"{type(error).__name__}: {error}"}
    return out


def _summaries(d: Any) -> dict[str, Any]:
    """mean, variance, entropy (where the family has them), the Pyro idioms ``expand`` and
    ``to_event``, and the enumerated support of discrete families."""
    out: dict[str, Any] = {}
    for name in ("mean", "variance"):
        try:
            out[name] = getattr(d, name).tolist()
        except NotImplementedError:
            out[name] = "NotImplementedError"
    try:
        out["entropy"] = d.entropy().tolist()
    except NotImplementedError:
        out["entropy"] = "NotImplementedError"
    expanded = d.expand([2, *d.batch_shape])
    out["expanded_log_prob_shape"] = list(expanded.log_prob(expanded.sample()).shape)
    if d.batch_shape:
        out["to_event_log_prob_shape"] = list(d.to_event(1).log_prob(d.sample()).shape)
    if d.has_enumerate_support:
        out["enumerate_support"] = d.enumerate_support(expand=False).tolist()
    return out


def _pyro_enum() -> dict[str, float]:
    """A two-component Gaussian mixture with its assignments enumerated (TraceEnum_ELBO) and
    a point-mass guide: the loss is deterministic, so both backends must agree exactly."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, TraceEnum_ELBO, config_enumerate
    from pyro.infer.autoguide import AutoDelta

    rng = np.random.default_rng(3)
    data = torch.tensor(np.concatenate([rng.normal(-2, 0.7, 60), rng.normal(1.5, 0.5, 40)]))

    @config_enumerate
    def model(data: torch.Tensor) -> None:
        weights = pyro.sample("weights", dist.Dirichlet(torch.ones(2, dtype=data.dtype)))
        scale = pyro.sample("scale", dist.LogNormal(torch.tensor(0.0, dtype=data.dtype), 1.0))
        with pyro.plate("components", 2):
            locs = pyro.sample("locs", dist.Normal(torch.tensor(0.0, dtype=data.dtype), 5.0))
        with pyro.plate("data", len(data)):
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("obs", dist.Normal(locs[z], scale), obs=data)

    pyro.clear_param_store()
    init = {"weights": torch.tensor([0.5, 0.5]), "scale": torch.tensor(1.0)}
    init["locs"] = torch.tensor([-1.0, 1.0])
    guide = AutoDelta(
        pyro.poutine.block(model, expose=["weights", "scale", "locs"]),
        init_loc_fn=lambda site: init[site["name"]].to(data.dtype),
    )
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), elbo)
    first = svi.step(data)
    for _ in range(100):
        last = svi.step(data)
    locs = sorted(guide.median(data)["locs"].tolist())
    return {"enum_first_loss": first, "enum_last_loss": last, "enum_loc0": locs[0]}


# --------------------------------------------------------------------------------------------
# 4. zuko: NSF and MAF on two moons.


def _two_moons(n: int, rng: np.random.Generator) -> torch.Tensor:
    t = rng.uniform(0.0, math.pi, size=n)
    upper = rng.uniform(size=n) < 0.5
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + 0.08 * rng.normal(size=(n, 2))
    points = (points - np.array([0.5, 0.25])) / np.array([0.85, 0.5])
    return torch.tensor(points, dtype=torch.float32)


def _zuko(seed: int, kind: str) -> dict[str, Any]:
    import zuko

    rng = np.random.default_rng(99)  # the data are the same for every seed
    train, test = _two_moons(4096, rng), _two_moons(2048, rng)
    torch.manual_seed(seed)
    if kind == "NSF":
        flow = zuko.flows.NSF(2, transforms=3, hidden_features=(64, 64))
    else:
        flow = zuko.flows.MAF(2, transforms=4, hidden_features=(64, 64))
    optimizer = torch.optim.Adam(flow.parameters(), lr=3e-3)

    def test_nll() -> float:
        with torch.no_grad():
            return float(-flow().log_prob(test).mean())

    initial = test_nll()
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(300):
        batch = train[torch.randint(len(train), (256,), generator=generator)]
        loss = -flow().log_prob(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    final = test_nll()
    d = flow()
    with torch.no_grad():
        sample = d.sample((2000,))
    return {
        "metrics": {
            "initial_nll": initial,
            "final_nll": final,
            "train_loss_last20": float(np.mean(losses[-20:])),
            "sample_mean_x": float(sample[:, 0].mean()),
            "sample_mean_y": float(sample[:, 1].mean()),
        },
        "se": {
            "sample_mean_x": float(sample[:, 0].std() / math.sqrt(len(sample))),
            "sample_mean_y": float(sample[:, 1].std() / math.sqrt(len(sample))),
        },
        "evidence": {
            "flow()": lineage(d),
            "flow().transform": lineage(d.transform),
            "flow().transform.transforms[0]": lineage(d.transform.transforms[0]),
            "flow().base": lineage(d.base),
        },
    }


@scenario()
def zuko_nsf(seed: int, backend: str) -> dict[str, Any]:
    return _zuko(seed, "NSF")


@scenario()
def zuko_maf(seed: int, backend: str) -> dict[str, Any]:
    return _zuko(seed, "MAF")


# --------------------------------------------------------------------------------------------
# 5. stable-baselines3: PPO on CartPole-v1, SAC on Pendulum-v1.


def _episode_returns(env_id: str, act: Callable[[np.ndarray], Any], episodes: int) -> list[float]:
    """Returns of ``episodes`` episodes with fixed environment seeds (the same for every
    policy and backend)."""
    import gymnasium as gym

    env = gym.make(env_id)
    env.action_space.seed(12345)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=1000 + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def _capture_logs(model: Any) -> dict[str, list[float]]:
    """Every value the model records in its logger, kept (SB3 clears them on dump)."""
    logs: dict[str, list[float]] = {}
    record = model.logger.record

    def keep(key: str, value: Any, exclude: Any = None) -> None:
        if isinstance(value, (int, float, np.floating, np.integer)):
            logs.setdefault(key, []).append(float(value))
        record(key, value, exclude)

    model.logger.record = keep
    return logs


def _sb3(seed: int, algo: str) -> dict[str, Any]:
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.logger import configure

    if algo == "PPO":
        env_id, steps, episodes = "CartPole-v1", 12288, 10
        model = PPO(
            "MlpPolicy", env_id, n_steps=1024, batch_size=64, n_epochs=4, learning_rate=1e-3,
            seed=seed, device="cpu", policy_kwargs={"net_arch": [64, 64]},
        )  # fmt: skip
        loss_keys = ["train/loss", "train/policy_gradient_loss", "train/value_loss"]
        loss_keys.append("train/entropy_loss")
    else:
        env_id, steps, episodes = "Pendulum-v1", 3000, 5
        model = SAC(
            "MlpPolicy", env_id, learning_starts=500, batch_size=128, learning_rate=2e-3,
            seed=seed, device="cpu", policy_kwargs={"net_arch": [64, 64]},
        )  # fmt: skip
        loss_keys = ["train/actor_loss", "train/critic_loss", "train/ent_coef"]
    model.set_logger(configure(None, []))
    logs = _capture_logs(model)
    model.learn(total_timesteps=steps, log_interval=1)
    obs = torch.as_tensor(model.env.reset(), dtype=torch.float32)
    action_dist = model.policy.get_distribution(obs) if algo == "PPO" else None
    if algo == "SAC":
        mean_actions, log_std, kwargs = model.actor.get_action_dist_params(obs)
        action_dist = model.actor.action_dist.proba_distribution(mean_actions, log_std, **kwargs)

    def trained(o: np.ndarray) -> Any:
        return model.predict(o, deterministic=True)[0]

    import gymnasium as gym

    space = gym.make(env_id).action_space
    space.seed(seed)
    trained_returns = _episode_returns(env_id, trained, episodes)
    random_returns = _episode_returns(env_id, lambda o: space.sample(), episodes)
    metrics: dict[str, float] = {
        "trained_return": float(np.mean(trained_returns)),
        "random_return": float(np.mean(random_returns)),
    }
    for key in loss_keys:
        values = logs.get(key, [float("nan")])
        metrics[f"{key}_last"] = values[-1]
        metrics[f"{key}_all_finite"] = float(all(math.isfinite(v) for v in values))
    return {
        "metrics": metrics,
        "se": {
            "trained_return": float(np.std(trained_returns, ddof=1) / math.sqrt(episodes)),
            "random_return": float(np.std(random_returns, ddof=1) / math.sqrt(episodes)),
        },
        "evidence": {"policy action distribution .distribution": lineage(action_dist.distribution)},
    }


@scenario()
def sb3_ppo(seed: int, backend: str) -> dict[str, Any]:
    return _sb3(seed, "PPO")


@scenario()
def sb3_sac(seed: int, backend: str) -> dict[str, Any]:
    return _sb3(seed, "SAC")


# --------------------------------------------------------------------------------------------
# 6. Plain code against the distributions module: a tanh-Normal policy gradient step and a
#    Dirichlet-latent VAE.


@scenario(plain=True)
def tanh_policy(seed: int, backend: str) -> dict[str, Any]:
    D = distributions_module(backend)
    torch.manual_seed(seed)
    obs_dim, act_dim = 4, 2
    net = torch.nn.Sequential(
        torch.nn.Linear(obs_dim, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2 * act_dim)
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    target = torch.tensor([0.6, -0.3])

    def policy(obs: torch.Tensor) -> Any:
        mu, log_std = net(obs).chunk(2, dim=-1)
        base = D.Normal(mu, log_std.clamp(-5, 2).exp())
        squashed = D.TransformedDistribution(base, [D.transforms.TanhTransform(cache_size=1)])
        return D.Independent(squashed, 1)

    def objective(obs: torch.Tensor) -> tuple[torch.Tensor, Any]:
        d = policy(obs)
        action = d.rsample()
        reward = -((action - target) ** 2).sum(-1)
        entropy_term = -d.log_prob(action)  # one-sample entropy estimate (SAC style)
        return -(reward + 0.01 * entropy_term).mean(), d

    gen = torch.Generator().manual_seed(1)
    eval_obs = torch.randn(4096, obs_dim, generator=gen)
    losses, grad_finite = [], True
    with torch.no_grad():
        initial = float(objective(eval_obs)[0])
    for _ in range(60):
        obs = torch.randn(256, obs_dim)
        loss, d = objective(obs)
        optimizer.zero_grad()
        loss.backward()
        grad_finite &= all(bool(torch.isfinite(p.grad).all()) for p in net.parameters())
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = float(objective(eval_obs)[0])
        # A deterministic check: the density of fixed actions under the trained policy.
        fixed = policy(eval_obs[:8])
        fixed_lp = fixed.log_prob(torch.full((8, act_dim), 0.25)).tolist()
    return {
        "metrics": {
            "initial_loss": initial,
            "final_loss": final,
            "grad_finite": float(grad_finite),
            "fixed_log_prob_sum": float(sum(fixed_lp)),
        },
        "se": {},
        "evidence": {"policy": lineage(d), "policy base": lineage(d.base_dist)},
    }


@scenario(plain=True)
def dirichlet_vae(seed: int, backend: str) -> dict[str, Any]:
    D = distributions_module(backend)
    rng = np.random.default_rng(5)  # data: bags of words from 3 topics, fixed for all seeds
    n_docs, vocab, topics = 512, 30, 3
    topic_word = rng.dirichlet(np.full(vocab, 0.2), size=topics)
    mix = rng.dirichlet(np.full(topics, 0.3), size=n_docs)
    counts = np.stack([rng.multinomial(60, m @ topic_word) for m in mix])
    data = torch.tensor(counts, dtype=torch.float32)

    torch.manual_seed(seed)
    encoder = torch.nn.Sequential(
        torch.nn.Linear(vocab, 64), torch.nn.Softplus(), torch.nn.Linear(64, topics)
    )
    decoder_logits = torch.nn.Parameter(0.1 * torch.randn(topics, vocab))
    params = list(encoder.parameters()) + [decoder_logits]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    prior = D.Dirichlet(torch.full((topics,), 0.5))

    def loss_fn(x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        q = D.Dirichlet(torch.nn.functional.softplus(encoder(torch.log1p(x))) + 1e-3)
        theta = q.rsample()
        word_probs = theta @ torch.softmax(decoder_logits, -1)
        recon = (x * torch.log(word_probs + 1e-10)).sum(-1)
        kl = D.kl_divergence(q, prior)
        return -(recon - kl).mean() / 60.0, q

    with torch.no_grad():
        initial = float(np.mean([float(loss_fn(data)[0]) for _ in range(20)]))
    grad_finite = True
    for _ in range(150):
        batch = data[torch.randint(n_docs, (128,))]
        loss, q = loss_fn(batch)
        optimizer.zero_grad()
        loss.backward()
        grad_finite &= all(bool(torch.isfinite(p.grad).all()) for p in params)
        optimizer.step()
    with torch.no_grad():
        finals = [float(loss_fn(data)[0]) for _ in range(20)]
        q_all = D.Dirichlet(torch.nn.functional.softplus(encoder(torch.log1p(data))) + 1e-3)
        kl_mean = float(D.kl_divergence(q_all, prior).mean())

    # The reparameterised gradient of E[w . theta] against its closed form w . alpha / sum.
    alpha = torch.tensor([0.7, 2.0, 4.5], requires_grad=True)
    w = torch.tensor([1.0, -2.0, 0.5])
    n = 20000
    per_sample = (D.Dirichlet(alpha).rsample((n,)) * w).sum(-1)
    per_sample.mean().backward()
    grad_mc = alpha.grad.clone()
    exact = torch.autograd.functional.jacobian(lambda a: (w * a / a.sum()).sum(), alpha.detach())
    # Standard error of the MC gradient, from per-draw gradients (each row its own leaf).
    rows = alpha.detach().repeat(2000, 1).requires_grad_(True)
    (D.Dirichlet(rows).rsample() * w).sum().backward()
    per_grads = rows.grad
    grad_se = per_grads.std(0) / math.sqrt(n)
    metrics = {
        "initial_loss": initial,
        "final_loss": float(np.mean(finals)),
        "final_kl": kl_mean,
        "grad_finite": float(grad_finite),
    }
    se = {"final_loss": float(np.std(finals, ddof=1) / math.sqrt(len(finals)))}
    for i in range(3):
        metrics[f"dirichlet_grad_mc_{i}"] = float(grad_mc[i])
        metrics[f"dirichlet_grad_exact_{i}"] = float(exact[i])
        se[f"dirichlet_grad_mc_{i}"] = float(grad_se[i])
    return {
        "metrics": metrics,
        "se": se,
        "evidence": {"q": lineage(q), "prior": lineage(prior)},
    }
