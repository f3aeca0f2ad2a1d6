"""Compiled (inductor) results agree with eager ones where ``expm1``/``atanh``/``erf`` cancel.

Inductor's CPU backend computes ``expm1(x)`` as ``exp(x) - 1`` (and loses ``atanh`` and float32
``erf`` near 0 likewise): formulas written with them are exact eagerly and wrong compiled near
the cancellation (``special.compile_safe`` has the forms that compile accurately). For the first
registry example of each family whose ``log_prob`` or ``cdf`` goes through them, the method is
compiled with inductor and compared with eager at the quantiles ``10^-k`` and ``1 - 10^-k``
(``k`` up to 15: the values next to the support's ends, where ``1 - x^a``, ``1 - e^-t`` and
the like cancel). Marked ``inductor`` (``make test-inductor``): a compile per case. Also here:
FisherSnedecor's ``log_prob`` compiled at 2^17 entries (its exact form once used
``frexp``/``ldexp``, which inductor's C++ code could not compile in float64).
"""

from __future__ import annotations

import pytest
import torch
from examples import EXAMPLES

import aleatorch as D

pytestmark = pytest.mark.inductor

FIRST = {}
for _ex in EXAMPLES:
    FIRST.setdefault(_ex.cls.__name__, _ex)

# (family, method): formulas through expm1 / log1mexp / atanh / erf
CASES = [
    ("Kumaraswamy", "log_prob"),
    ("Kumaraswamy", "cdf"),
    ("ContinuousBernoulli", "log_prob"),
    ("Geometric", "log_prob"),
    ("Geometric", "cdf"),
    ("GeneralizedPareto", "log_prob"),
    ("GeneralizedPareto", "cdf"),
    ("Weibull", "log_prob"),
    ("Weibull", "cdf"),
    ("Exponential", "cdf"),
    ("Gumbel", "cdf"),
    ("Pareto", "cdf"),
    ("HalfNormal", "cdf"),
]

_EXPONENTS = (1, 2, 4, 6, 8, 10, 12, 14, 15)


def _points(d: D.Distribution) -> torch.Tensor:
    """Quantiles ``10^-k`` and ``1 - 10^-k`` of every batch entry (finite ones), points
    ``2^-j`` (relative) inside each finite end of the support, and draws."""
    q = torch.tensor([10.0**-k for k in _EXPONENTS], dtype=torch.float64)
    q = torch.cat([q, 1 - q]).reshape((-1,) + (1,) * len(d.batch_shape))
    x = d.icdf(q.expand((-1, *d.batch_shape)))
    torch.manual_seed(0)
    draws = d.sample((8,))
    x = torch.where(torch.isfinite(x), x, draws[:1])
    lower, upper = (float(b) for b in d.support.bounds)
    steps = torch.tensor([2.0**-j for j in (12, 20, 28, 36, 44, 50)], dtype=torch.float64)
    ends = []
    if d.support.is_discrete:  # only the quantiles and draws
        lower = upper = float("nan")
    if lower > -float("inf"):
        ends.append(lower + steps * max(1.0, abs(lower)))
    if upper < float("inf"):
        ends.append(upper - steps * max(1.0, abs(upper)))
    shape = (-1,) + (1,) * len(d.batch_shape)
    ends = [e.reshape(shape).expand((-1, *d.batch_shape)) for e in ends]
    return torch.cat([x, *ends, draws])


@pytest.mark.parametrize("name, method", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_compiled_matches_eager_near_cancellation(name, method):
    ex = FIRST[name]
    x = _points(ex.build(0, validate_args=False))
    values = [leaf.value for leaf in ex.leaves(0)]

    def fn(*leaves):
        return getattr(ex.build_from_leaves(0, list(leaves), validate_args=False), method)(x)

    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="inductor", fullgraph=True)(*values)
    torch.testing.assert_close(compiled, fn(*values), rtol=1e-12, atol=1e-13, equal_nan=True)


def test_fisher_snedecor_log_prob_compiles_at_a_large_shape():
    n = 2**17
    generator = torch.Generator().manual_seed(0)
    df1 = torch.rand(n, dtype=torch.float64, generator=generator) * 30 + 0.05
    df2 = torch.rand(n, dtype=torch.float64, generator=generator) * 30 + 0.05
    x = D.FisherSnedecor(df1, df2).sample(generator=generator)

    def fn(a, b, value):
        return D.FisherSnedecor(a, b, validate_args=False).log_prob(value)

    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="inductor", fullgraph=True)
    torch.testing.assert_close(compiled(df1, df2, x), fn(df1, df2, x), rtol=1e-12, atol=1e-13)
