"""The float32 von Mises normalizer (``special.bessel_i0``) against 30-digit mpmath."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

import aleatorch as D
from aleatorch.special import bessel_i0
from aleatorch.special.bessel_i0 import circular_variance, log_i0e

EPS32 = torch.finfo(torch.float32).eps
TINY32 = torch.finfo(torch.float32).tiny


def _digits(x: float):
    return mp.workdps(30 + max(0, int(math.log10(x + 1))))


def _log_i0e(x: float) -> float:
    with _digits(x):
        v = mp.mpf(x)
        return float(mp.log(mp.besseli(0, v)) - v)


def _variance(x: float) -> float:
    if x == 0:
        return 1.0
    with _digits(x):
        v = mp.mpf(x)
        return float(1 - mp.besseli(1, v) / mp.besseli(0, v))


def _points() -> torch.Tensor:
    """float32-representable points: 1e-30 to 3e38, dense over (0, 40), and the split."""
    g = torch.Generator().manual_seed(3)
    split = bessel_i0.SPLIT
    xs = torch.cat(
        [
            torch.logspace(-30, 38.4, 300, dtype=torch.float64),
            torch.rand(400, generator=g, dtype=torch.float64) * 40,
            torch.tensor([0.0, split * (1 - 1e-6), split, split * (1 + 1e-6), 3.4e38]),
        ]
    )
    return xs.float().double()


@pytest.fixture(scope="module")
def reference():
    xs = _points()
    log_i0e_ref = torch.tensor([_log_i0e(v) for v in xs.tolist()], dtype=torch.float64)
    variance_ref = torch.tensor([_variance(v) for v in xs.tolist()], dtype=torch.float64)
    return xs, log_i0e_ref, variance_ref


def _tiled(fn, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """``fn`` of ``x`` through the polynomials: ``x`` tiled past ``POLYNOMIAL_FROM`` entries
    (smaller tensors take torch's kernels), then cut back."""
    copies = -(-bessel_i0.POLYNOMIAL_FROM // x.numel())
    return fn(x.repeat(copies), **kwargs)[: x.numel()]


def _relative_eps(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    return (got.double() - want).abs() / (EPS32 * want.abs())


def test_log_i0e_float32_is_within_two_ulps(reference):
    xs, want, _ = reference
    got = _tiled(log_i0e, xs.float())
    nonzero = want != 0
    assert got[~nonzero].eq(0).all()
    assert _relative_eps(got[nonzero], want[nonzero]).max() < 2


def test_circular_variance_float32_is_within_one_ulp(reference):
    xs, _, want = reference
    normal = want > TINY32  # V ~ 1 / (2x) is subnormal in float32 past ~4e37
    got = _tiled(circular_variance, xs.float())
    assert _relative_eps(got[normal], want[normal]).max() < 1.5
    scaled = _tiled(circular_variance, xs.float(), scaled=True)
    positive = xs > 0
    assert _relative_eps(scaled[positive], (xs * want)[positive]).max() < 1.5
    # Far out the scaled form is W(6/x)/2 ~ 1/2, never x times an underflowed V.
    assert scaled[-1].item() == pytest.approx(0.5, rel=EPS32)


def test_log_i0e_gradient_is_minus_the_circular_variance(reference):
    # d/dx log i0e(x) = I1/I0 - 1 = -V: autograd through the polynomials stays within a few
    # dozen ulps of V (the near series' derivative ~0.9 minus 1 loses a factor ~10 at x ~ 5).
    xs, _, variance = reference
    x = xs.float().requires_grad_()
    (grad,) = torch.autograd.grad(_tiled(log_i0e, x).sum(), x)
    normal = variance > TINY32
    assert torch.isfinite(grad).all()
    assert _relative_eps(-grad[normal], variance[normal]).max() < 32


@pytest.mark.parametrize(
    ("coefficients", "function", "size"),
    [
        (bessel_i0.I0E_TAIL, lambda x: mp.sqrt(x) * mp.besseli(0, x) * mp.exp(-x), 1e-9),
        (
            bessel_i0.VARIANCE_TAIL,
            lambda x: 2 * x * (1 - mp.besseli(1, x) / mp.besseli(0, x)),
            1e-9,
        ),
    ],
    ids=["i0e tail", "variance tail"],
)
def test_fitted_tails_hold_their_accuracy_in_float64(coefficients, function, size):
    # In float64 the fit's own error (< 1e-9) shows: a typo in any coefficient would too.
    u = torch.linspace(1e-4, 1, 241, dtype=torch.float64)
    got = bessel_i0._polynomial(coefficients, u)
    mp.mp.dps = 30
    want = torch.tensor(
        [float(function(mp.mpf(bessel_i0.SPLIT / v))) for v in u.tolist()], dtype=torch.float64
    )
    assert ((got - want).abs() / want.abs()).max() < size


def test_taylor_coefficients_are_the_series_of_i0_and_i1():
    for k, c in enumerate(bessel_i0.I0_TAYLOR, start=1):
        assert c == pytest.approx(1 / math.factorial(k) ** 2, rel=1e-15)
    for k, c in enumerate(bessel_i0.I1_TAYLOR):
        assert c == pytest.approx(1 / (math.factorial(k) * math.factorial(k + 1)), rel=1e-15)


def test_float64_and_small_tensors_keep_torchs_kernels():
    x = torch.logspace(-5, 5, 5000, dtype=torch.float64)
    assert torch.equal(log_i0e(x), torch.special.i0e(x).log())
    small = x[:100].float()
    assert torch.equal(log_i0e(small), torch.special.i0e(small).log())
    with pytest.raises(TypeError, match="float32"):
        circular_variance(x)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_rounds_the_float32_value(dtype):
    x = torch.tensor([0.0, 0.01, 1.0, 5.5, 6.5, 100.0, 6e4], dtype=dtype)
    got = _tiled(log_i0e, x)
    assert got.dtype == dtype
    want = torch.special.i0e(x.double()).log().to(dtype)
    assert torch.allclose(got.double(), want.double(), rtol=torch.finfo(dtype).eps, atol=0)
    v = _tiled(circular_variance, x)
    want_v = 1 - torch.special.i1e(x.double()) / torch.special.i0e(x.double())
    assert torch.allclose(v.double(), want_v.to(dtype).double(), rtol=torch.finfo(dtype).eps)


@pytest.mark.parametrize("kappa", [1e-20, 0.3, 5.999, 6.001, 40.0, 1e6, 1e30, 3e38])
def test_von_mises_float32_entropy_and_log_prob_match_mpmath(kappa):
    d = D.VonMises(torch.tensor(0.5), torch.tensor(kappa, dtype=torch.float32))
    with _digits(kappa):
        k = mp.mpf(float(torch.tensor(kappa, dtype=torch.float32)))
        i0, i1 = mp.besseli(0, k), mp.besseli(1, k)
        entropy = float(mp.log(2 * mp.pi * i0) - k * i1 / i0)
        value = 0.25
        delta = mp.mpf(float(torch.tensor(value - 0.5, dtype=torch.float32)))
        log_prob = float(-2 * k * mp.sin(delta / 2) ** 2 - mp.log(2 * mp.pi) - (mp.log(i0) - k))
    assert d.entropy().item() == pytest.approx(entropy, rel=4 * EPS32, abs=4 * EPS32)
    got = d.log_prob(torch.tensor(value)).item()
    assert got == pytest.approx(log_prob, rel=4 * EPS32, abs=4 * EPS32)


def test_von_mises_float32_batch_through_the_polynomials_matches_float64():
    # A batch large enough for the polynomials, against the same law in float64 (torch's
    # float64 kernels, a few ulps of float64): float32 rounding of the inputs aside, a few ulps.
    g = torch.Generator().manual_seed(5)
    n = 2 * bessel_i0.POLYNOMIAL_FROM
    kappa = torch.cat(
        [torch.rand(n // 2, generator=g) * 12, torch.rand(n // 2, generator=g).mul(60).exp()]
    )
    loc = torch.rand(n, generator=g) - 0.5
    value = torch.rand(n, generator=g) * 6 - 3
    d32 = D.VonMises(loc, kappa)
    d64 = D.VonMises(loc.double(), kappa.double())
    for got, want in (
        (d32.entropy(), d64.entropy()),
        (d32.log_prob(value), d64.log_prob(value.double())),
    ):
        scale = want.abs().clamp(min=1)
        assert ((got.double() - want).abs() / scale).max() < 4 * EPS32
