"""A guided tour of aleatorch: ``python -m aleatorch tour``.

Each section prints what it does and what it got; the whole tour runs in a few seconds on a
laptop CPU and uses its own seeded ``torch.Generator``, so the output is reproducible and the
global RNG is left alone.
"""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Callable

import torch

import aleatorch as D

__all__ = ["SECTIONS", "main"]

_WIDTH = 78


def _fmt(t: torch.Tensor | float, digits: int = 4, style: str = "f") -> str:
    """Short text for a number or a small tensor (``style``: a format type, "f" or "g")."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t.dim() == 0:
            return f"{t.item():.{digits}{style}}" if t.is_floating_point() else str(t.item())
        return "[" + ", ".join(_fmt(v, digits, style) for v in t) + "]"
    return f"{t:.{digits}{style}}"


def _title(number: int, text: str) -> None:
    print()
    print(f"== {number}. {text} ".ljust(_WIDTH, "="))


def _show_error(label: str, action: Callable[[], object]) -> None:
    """Run ``action``, which must fail, and print the exception the way a user would see it."""
    try:
        action()
    except (ValueError, NotImplementedError) as exc:
        print(f"-- {label}")
        text = f"{type(exc).__name__}: {exc}"
        for line in text.splitlines():
            print(textwrap.fill(line, _WIDTH, initial_indent="   ", subsequent_indent="     "))
    else:  # pragma: no cover - the tour's own test catches this
        raise AssertionError(f"{label}: expected an error, got none")


def normal(g: torch.Generator) -> None:
    _title(1, "Normal: sampling and log_prob")
    d = D.Normal(loc=2.0, scale=0.5)
    print(f"d = D.Normal(loc=2.0, scale=0.5)  ->  {d}")
    x = d.sample((5,), generator=g)
    print(f"d.sample((5,), generator=g)      = {_fmt(x)}")
    print(f"d.log_prob(x)                    = {_fmt(d.log_prob(x))}")
    print(
        f"d.mean, d.stddev, d.entropy()    = {_fmt(d.mean)}, {_fmt(d.stddev)}, {_fmt(d.entropy())}"
    )
    print(f"d.cdf(2.5), d.icdf(0.975)        = {_fmt(d.cdf(2.5))}, {_fmt(d.icdf(0.975))}")
    big = d.sample((100_000,), generator=g)
    print(f"100k samples: mean {_fmt(big.mean())}, std {_fmt(big.std())} (exact 2.0000, 0.5000)")


def bernoulli(g: torch.Generator) -> None:
    _title(2, "Bernoulli: coin flips, probs or logits")
    d = D.Bernoulli(probs=torch.tensor([0.1, 0.5, 0.9]))
    print("d = D.Bernoulli(probs=torch.tensor([0.1, 0.5, 0.9]))")
    flips = d.sample((4,), generator=g)
    print("d.sample((4,), generator=g) =")
    for row in flips:
        print(f"  {row.tolist()}")
    print(f"d.log_prob(1.0)            = {_fmt(d.log_prob(1.0))}")
    print(f"d.logits (derived lazily)  = {_fmt(d.logits)}")
    print(f"d.entropy()                = {_fmt(d.entropy())}")
    e = D.Bernoulli(logits=torch.tensor([-30.0, 0.0, 30.0]))
    print("e = D.Bernoulli(logits=torch.tensor([-30.0, 0.0, 30.0])): no rounding to 0 or 1")
    print(f"  e.log_prob(0.0) = {_fmt(e.log_prob(0.0), 4, 'g')}")


def categorical(g: torch.Generator) -> None:
    _title(3, "Categorical: one label out of K")
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    d = D.Categorical(probs=probs)
    print("d = D.Categorical(probs=torch.tensor([0.1, 0.2, 0.3, 0.4]))")
    labels = d.sample((20,), generator=g)
    print(f"d.sample((20,), generator=g) = {labels.tolist()}")
    print(f"d.log_prob(torch.tensor(3))  = {_fmt(d.log_prob(torch.tensor(3)))}")
    print(f"d.enumerate_support()        = {d.enumerate_support().tolist()}")
    counts = torch.bincount(d.sample((100_000,), generator=g), minlength=4) / 100_000
    print(f"frequencies of 100k samples  = {_fmt(counts, 3)} (exact {_fmt(probs, 3)})")


def shapes(g: torch.Generator) -> None:
    _title(4, "Batches: batch_shape and event_shape")
    loc = torch.zeros(2, 3)
    scale = torch.tensor([0.5, 1.0, 2.0])  # broadcasts against loc
    d = D.Normal(loc, scale)
    print("d = D.Normal(loc of shape (2, 3), scale of shape (3,))")
    print(f"  batch_shape {tuple(d.batch_shape)}, event_shape {tuple(d.event_shape)}")
    x = d.sample((5,), generator=g)
    print(f"  d.sample((5,)).shape = {tuple(x.shape)}   (sample_shape + batch_shape + event_shape)")
    print(f"  d.log_prob(x).shape  = {tuple(d.log_prob(x).shape)}   (one density per entry)")
    v = D.Independent(d, 1)
    print("v = D.Independent(d, 1): the last batch dim becomes part of each event")
    print(f"  batch_shape {tuple(v.batch_shape)}, event_shape {tuple(v.event_shape)}")
    print(f"  v.log_prob(x).shape  = {tuple(v.log_prob(x).shape)}   (log densities summed over 3)")
    c = D.Categorical(logits=torch.zeros(4, 6))
    print(f"D.Categorical(logits of shape (4, 6)): batch_shape {tuple(c.batch_shape)}, ", end="")
    print(f"event_shape {tuple(c.event_shape)}; sample((2,)).shape = {tuple(c.sample((2,)).shape)}")


def gradients(g: torch.Generator) -> None:
    _title(5, "rsample: gradients through samples")
    mu = torch.tensor(1.3, requires_grad=True)
    n = 100_000
    x = D.Normal(mu, 1.0).rsample((n,), generator=g)
    (x**2).mean().backward()
    # The per-sample pathwise gradient is 2x: its spread gives the standard error.
    se = (2 * x.detach()).std() / math.sqrt(n)
    print("x = D.Normal(mu, 1).rsample((100_000,)) with mu = 1.3;  E[x^2] = mu^2 + 1")
    print(f"d/dmu of mean(x^2) by autograd = {_fmt(mu.grad)} +- {_fmt(se)}")
    print(f"exact d/dmu E[x^2] = 2 mu      = {_fmt(2 * mu.detach())}")


def mistakes(g: torch.Generator) -> None:
    _title(6, "Four classic mistakes, caught with a readable message")
    # Validation is on by default, but `python -O` turns the default off: make it explicit.
    with D.validation(True):
        _make_mistakes()
    print("All four subclass the built-ins torch raises (ValueError, NotImplementedError);")
    print("`with D.validation(False): ...` turns the checks off in a block, for speed.")


def _make_mistakes() -> None:
    # Each label is the exact call made (parameters are numbers or tensors, not lists).
    _show_error(
        "an invalid parameter: D.Normal(0.0, torch.tensor([1.0, -0.5, 2.0]))",
        lambda: D.Normal(0.0, torch.tensor([1.0, -0.5, 2.0])),
    )
    d = D.Normal(torch.zeros(3), torch.ones(3))
    _show_error(
        "a value whose shape does not fit: d.log_prob(torch.zeros(4)) with batch_shape (3,)",
        lambda: d.log_prob(torch.zeros(4)),
    )
    _show_error(
        "rsample without a reparameterization: D.Bernoulli(0.3).rsample()",
        lambda: D.Bernoulli(0.3).rsample(),
    )
    _show_error(
        "a value outside the support: D.Bernoulli(0.3).log_prob(torch.tensor(0.5))",
        lambda: D.Bernoulli(0.3).log_prob(torch.tensor(0.5)),
    )


def beyond(g: torch.Generator) -> None:
    _title(7, "Beyond torch.distributions: tails, quantiles, generators")
    d = D.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    x = torch.tensor(-40.0, dtype=torch.float64)
    naive = d.cdf(x).log()
    asymptotic = -0.5 * 40.0**2 - math.log(40.0 * math.sqrt(2 * math.pi))
    print("Standard normal at x = -40 (float64):")
    print(f"  d.log_cdf(x)   = {_fmt(d.log_cdf(x), 3)}")
    print(f"  d.cdf(x).log() = {_fmt(naive, 3)}   (the cdf underflows to 0)")
    print(f"  leading tail asymptotics -x^2/2 - log(-x sqrt(2 pi)) = {asymptotic:.3f}")
    print(f"  d.log_survival_function(40.0) = {_fmt(d.log_survival_function(40.0), 3)}")

    state = torch.random.get_rng_state()
    a = D.Normal(0.0, 1.0).sample((3,), generator=torch.Generator().manual_seed(7))
    b = D.Normal(0.0, 1.0).sample((3,), generator=torch.Generator().manual_seed(7))
    untouched = torch.equal(state, torch.random.get_rng_state())
    print("sample((3,), generator=torch.Generator().manual_seed(7)), twice:")
    print(f"  {_fmt(a)} and {_fmt(b)}: equal {torch.equal(a, b)}")
    print(f"  global RNG state untouched: {untouched}")

    gamma = D.Gamma(torch.tensor(0.5, dtype=torch.float64), 1.0)
    q = torch.tensor([1e-10, 0.5, 0.999], dtype=torch.float64)
    x = gamma.icdf(q)
    print("cdf and icdf for each univariate family; gamma = D.Gamma(0.5, 1.0), float64:")
    print(f"  x = gamma.icdf([1e-10, 0.5, 0.999]) = {_fmt(x, 5, 'g')}")
    print(f"  gamma.cdf(x)                        = {_fmt(gamma.cdf(x), 5, 'g')}")

    beta = D.Beta(torch.tensor(0.001), torch.tensor(0.001))
    y = beta.sample((100_000,), generator=g)
    finite = torch.isfinite(beta.log_prob(y)).all().item()
    print("D.Beta(0.001, 0.001), symmetric about 1/2: 100k samples, drawn in log space,")
    print("pile up next to 0 and 1 without rounding to them or favouring one side:")
    below_half = _fmt((y < 0.5).float().mean(), 3)
    print(f"  all log_prob(sample) finite: {finite}; P(x < 1/2) = {below_half} (exact 0.500)")


def vae(g: torch.Generator) -> None:
    _title(8, "A VAE-style ELBO fitted with rsample and Adam")
    # Model: z ~ N(0, I_2), x_i | z ~ N(z, sigma^2 I_2) for i = 1..n. The posterior is Gaussian
    # and diagonal, so the mean-field q(z) = N(m, s) can reach it exactly: a checkable fit.
    n, sigma = 50, 1.0
    z_true = torch.tensor([1.5, -0.7])
    data = D.Normal(z_true, sigma).sample((n,), generator=g)
    prior = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    m = torch.zeros(2, requires_grad=True)
    log_s = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([m, log_s], lr=0.1)

    def elbo() -> torch.Tensor:
        q = D.Independent(D.Normal(m, log_s.exp()), 1)
        z = q.rsample((32,), generator=g)  # 32 x 2, differentiable in m and log_s
        likelihood = D.Independent(D.Normal(z.unsqueeze(1), sigma), 1)  # batch 32 x 1
        expected_log_lik = likelihood.log_prob(data).sum(-1).mean()
        return expected_log_lik - D.kl_divergence(q, prior)

    print(f"{n} points x_i ~ N(z, I), z ~ N(0, I_2);  q(z) = N(m, diag(s^2)), 32 rsamples/step")
    losses = []
    for step in range(101):
        opt.zero_grad()
        loss = -elbo() / n
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 20 == 0:
            print(f"  step {step:3d}   ELBO/n {-loss.item():9.4f}")
    precision = 1 + n / sigma**2
    exact_mean = data.sum(0) / sigma**2 / precision
    print(f"fitted m = {_fmt(m)}, s = {_fmt(log_s.exp())}")
    exact_std = precision**-0.5
    print(f"exact posterior mean = {_fmt(exact_mean)}, std = {_fmt(exact_std)} each")
    # log p(x) = log p(x | z) + log p(z) - log p(z | x) at any z; the best ELBO equals it.
    z = exact_mean
    log_evidence = (
        D.Normal(z, sigma).log_prob(data).sum()
        + prior.log_prob(z)
        - D.Normal(exact_mean, exact_std).log_prob(z).sum()
    )
    evidence = log_evidence.item() / n
    print(f"exact log evidence/n = {evidence:.4f}: the ELBO's maximum (above: estimates)")
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    print(f"loss: {first:.4f} -> {last:.4f}   (-ELBO/n, averaged over 5 steps)")


def bandit(g: torch.Generator) -> None:
    _title(9, "REINFORCE: a 5-armed bandit learned with Categorical.log_prob")
    payout = torch.tensor([0.2, 0.5, 0.3, 0.8, 0.4])
    best = int(payout.argmax())
    logits = torch.zeros(5, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    print(f"arm payout probabilities {_fmt(payout, 1)}; the best is arm {best}")
    print("each step: 64 pulls, loss = -mean(log pi(a) * (reward - mean reward))")
    start = torch.softmax(logits, -1)[best].item()
    for step in range(151):
        policy = D.Categorical(logits=logits)
        arms = policy.sample((64,), generator=g)
        reward = D.Bernoulli(payout[arms]).sample(generator=g)
        loss = -(policy.log_prob(arms) * (reward - reward.mean())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 30 == 0:
            p = torch.softmax(logits.detach(), -1)
            mean_reward = _fmt(reward.mean(), 3)
            print(
                f"  step {step:3d}   P(best arm) {p[best].item():.3f}   mean reward {mean_reward}"
            )
    end = torch.softmax(logits.detach(), -1)[best].item()
    print(f"P(best arm): {start:.3f} -> {end:.3f}")


def transforms(g: torch.Generator) -> None:
    _title(10, "Transforms: a squashed Gaussian policy, biject_to, LogNormal")
    mu = torch.tensor([0.0, 5.0, 20.0])
    policy = D.TransformedDistribution(D.Normal(mu, 0.01), [D.TanhTransform()])
    print("policy = D.TransformedDistribution(D.Normal(mu, 0.01), [D.TanhTransform()])")
    actions = policy.rsample((1000,), generator=g)
    log_prob = policy.log_prob(actions.detach().clone())  # no cache: through atanh
    print(f"mu = {_fmt(mu, 1)}: actions in float32 round to 1.0 for mu = 20")
    print(f"log_prob of 1000 own samples (no cache), all finite: {bool(log_prob.isfinite().all())}")
    simplex = D.biject_to(D.constraints.simplex)
    z = torch.tensor([0.5, -1.0, 2.0])
    p = simplex(z)
    print(f"biject_to(simplex)({_fmt(z, 1)}) = {_fmt(p)}  (sums to {p.sum().item():.4f})")
    log_det = simplex.log_abs_det_jacobian(z, p)
    print(f"  and back: {_fmt(simplex.inv(p))}, log|det J| = {_fmt(log_det)}")
    d = D.LogNormal(0.0, 1.0)
    q = torch.tensor([0.05, 0.5, 0.95])
    print(f"D.LogNormal(0, 1).icdf({_fmt(q, 2)}) = {_fmt(d.icdf(q))}  (median e^0 = 1)")
    print(f"isinstance(d, D.TransformedDistribution) = {isinstance(d, D.TransformedDistribution)}")


SECTIONS = (
    normal,
    bernoulli,
    categorical,
    shapes,
    gradients,
    mistakes,
    beyond,
    vae,
    bandit,
    transforms,
)


def main() -> int:
    """Run every section of the tour; returns the process exit code."""
    started = time.perf_counter()
    print(f"aleatorch {D.__version__} tour (torch {torch.__version__})")
    g = torch.Generator().manual_seed(2024)
    for section in SECTIONS:
        section(g)
    print()
    print(f"Tour finished in {time.perf_counter() - started:.1f} s.")
    return 0
