"""Bregman gaps ``F(p + d) - F(p) - d F'(p)`` without cancellation, for nearly equal laws.

For a convex ``F`` (the log-normalizer of an exponential family, whose KL divergence is the
Bregman divergence of ``F`` in the natural parameter) Taylor's theorem with integral remainder
gives

.. math::
    F(p + d) - F(p) - d F'(p) = d^2 \\int_0^1 (1 - s) F''(p + s d) \\, ds,

a sum of positive terms. Where ``d`` is small against the distance from ``p`` to the nearest
complex singularity of ``F''`` a fixed Gauss-Legendre rule integrates it to rounding: when that
distance is at least ``8 |d|`` the Bernstein ellipse parameter is at least 16, and 8 nodes
leave ``16^-16 ~ 5e-20`` relative. The direct difference would lose ``|F| / gap`` of its
digits instead (all of them in float32 for ``d ~ 1e-7``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..special.compile_safe import expm1
from ..special.logspace import expm1mx, log1mexp
from ..special.quadrature import gauss_legendre
from ..special.stirling import log1pmx

__all__ = ["bregman_gap", "NODES"]

NODES = 8


_X, _W = gauss_legendre(NODES)
# On [0, 1], with the (1 - s) kernel folded into the weights.
_S = [(1 + x) / 2 for x in _X]
_KERNEL_WEIGHTS = [w / 2 * (1 - s) for w, s in zip(_W, _S, strict=True)]


def bregman_gap(
    second_derivative: Callable[[torch.Tensor], torch.Tensor],
    p: torch.Tensor,
    d: torch.Tensor,
) -> torch.Tensor:
    """``d^2 int_0^1 (1 - s) F''(p + s d) ds`` (``= F(p + d) - F(p) - d F'(p)``) by the fixed
    rule; ``second_derivative`` maps a tensor elementwise to ``F''``. Differentiable in ``p``
    and ``d`` through ``second_derivative``."""
    p, d = torch.broadcast_tensors(p, d)
    s = torch.tensor(_S, dtype=p.dtype, device=p.device)
    w = torch.tensor(_KERNEL_WEIGHTS, dtype=p.dtype, device=p.device)
    x = p.unsqueeze(-1) + s * d.unsqueeze(-1)
    return d * d * (w * second_derivative(x)).sum(-1)


def _bessel_ratio_slope_coefficients(count: int, circular: bool = False) -> list[float]:
    """``c_n`` with ``A'(k) ~ sum_n c_n k^-n`` for large ``k``, ``A = I_1 / I_0``: from the
    Hankel expansions ``I_v(k) ~ e^k / sqrt(2 pi k) sum_j (-1)^j a_j(v) k^-j``, ``a_j(v) =
    prod_{i <= j} (4 v^2 - (2 i - 1)^2) / (j! 8^j)``, divided as power series in ``1 / k``."""
    from fractions import Fraction

    def hankel(v: int) -> list[Fraction]:
        out, term = [], Fraction(1)
        for j in range(count):
            out.append(term)
            term *= -Fraction(4 * v * v - (2 * j + 1) ** 2, 8 * (j + 1))
        return out

    i0, i1 = hankel(0), hankel(1)
    ratio: list[Fraction] = []
    for n in range(count):
        ratio.append(i1[n] - sum(ratio[i] * i0[n - i] for i in range(n)))
    if circular:  # 1 - A = -sum_{n >= 1} ratio[n] t^n
        return [float(-r) for r in ratio[1:]]
    # A'(k) = -t^2 dA/dt at t = 1 / k: the coefficient of t^(n + 1) is -n ratio[n].
    return [float(-n * ratio[n]) for n in range(1, count - 1)]


def _circular_coefficients(count: int) -> list[float]:
    """``d_n`` with ``1 - A(k) ~ sum_{n >= 1} d_n k^-n``."""
    return _bessel_ratio_slope_coefficients(count, circular=True)


# A'(k) = sum_{n >= 2} c_n k^-n: 22 terms from k = 30 on are within 2e-17 relative (mpmath).
_SLOPE_FROM = 30.0
_SLOPE = [0.0] + _bessel_ratio_slope_coefficients(24)
_CIRCULAR = _circular_coefficients(24)
# Below 30, A' and 1 - A by piecewise polynomials in t = (2 k - lo - hi) / (hi - lo) on the
# pieces [lo, hi] of _PIECES, highest degree first: least-squares Chebyshev fits (mpmath.chebyfit,
# 40 digits, 19 terms) of the 50-digit functions, within 2.3e-17 relative of them; Horner's rule
# keeps the rounding to a few eps (the coefficients sum to at most 3.2 times the value). The
# direct 1 - A^2 - A / k would lose 4 k^2 eps (A' ~ 1 / (2 k^2)) however exact A, and 1 - A
# from i1e / i0e 2 k eps.
_PIECES = [0.0, 1.0, 2.0, 3.5, 5.5, 8.0, 11.0, 15.0, 20.0, 25.0, 30.0]
_SLOPE_POLY = [
    [
        1.1953409820231946e-12,
        5.368313348824039e-12,
        -4.1582168099411e-11,
        -7.269921088378974e-11,
        1.0328937061164167e-09,
        -3.224410642369132e-10,
        -2.1016207798961466e-08,
        4.539532559165504e-08,
        3.4592791147652837e-07,
        -1.5420323353640542e-06,
        -4.053693758598805e-06,
        3.699463661007291e-05,
        1.1218795806434707e-05,
        -0.0006902324139389476,
        0.0009714988000857629,
        0.009650279704267269,
        -0.0300006863177231,
        -0.08182252867497854,
        0.4561947127365571,
    ],
    [
        -1.5884228430326452e-15,
        5.526276976161663e-13,
        -3.081046797006542e-12,
        -9.359390965483177e-13,
        9.261666590301923e-11,
        -4.873062216025987e-10,
        1.3570818342826183e-10,
        1.2663631675703679e-08,
        -7.332860062546887e-08,
        6.092027750628859e-08,
        1.5974469612600312e-06,
        -1.008219643507466e-05,
        1.3135654300335463e-05,
        0.00017436046721085337,
        -0.0011799358404885898,
        0.0020671054082526566,
        0.013246888588712527,
        -0.09729287413982236,
        0.24720300233965484,
    ],
    [
        5.377644087056546e-13,
        1.4752459582805346e-12,
        -2.420243605686408e-11,
        1.1148984092309472e-10,
        -2.5462542104919216e-10,
        -5.242266293968307e-10,
        8.801770212482794e-09,
        -4.895094329595885e-08,
        1.5210278319636495e-07,
        -4.559210378625764e-08,
        -2.6411761851965385e-06,
        1.7981047982689734e-05,
        -6.652166188831753e-05,
        0.00010256284627419287,
        0.0004650339414581602,
        -0.004317090303541244,
        0.01854082268403442,
        -0.05180044149665492,
        0.08928926044727739,
    ],
    [
        2.5116420659848676e-13,
        -1.433163432773417e-12,
        5.149198080932571e-12,
        -1.3760072789447296e-11,
        -1.4495602705857204e-13,
        3.229728539267296e-10,
        -2.699123301958738e-09,
        1.5140049247799367e-08,
        -6.484542005940166e-08,
        2.000572388473174e-07,
        -2.4691777668251106e-07,
        -2.0484295597110443e-06,
        2.026659945886373e-05,
        -0.00011460537345252134,
        0.0004993570504422224,
        -0.001807153765984502,
        0.005599385283785352,
        -0.01479912196904087,
        0.029387623491120177,
    ],
    [
        -1.486717738832826e-14,
        9.849558717899974e-14,
        -4.956384500000843e-13,
        2.3863122276080373e-12,
        -9.742751535612192e-12,
        2.8372855465819183e-11,
        -7.390442352394061e-12,
        -6.917029037108919e-10,
        6.74962099929825e-09,
        -4.566075912285398e-08,
        2.575107806540635e-07,
        -1.2846852609088527e-06,
        5.849356811550924e-06,
        -2.4864376428391514e-05,
        0.0001004447613527808,
        -0.0003890737126658215,
        0.0014310614591720528,
        -0.00476146539564277,
        0.012069249623075491,
    ],
    [
        -2.466712241071092e-16,
        -1.525382571382571e-16,
        1.2036642539391981e-14,
        -1.1833225763863912e-13,
        9.141138086846014e-13,
        -6.222616137545966e-12,
        3.8679955166902386e-11,
        -2.246392159939156e-10,
        1.2394760607726905e-09,
        -6.59002826303437e-09,
        3.4186802687215754e-08,
        -1.7476092741147885e-07,
        8.852232408821855e-07,
        -4.442075393793985e-06,
        2.1935212884795068e-05,
        -0.00010509838012021798,
        0.0004760816392371824,
        -0.0019292601461049367,
        0.005892215226765168,
    ],
    [
        3.7260516575065636e-16,
        -2.311016583546096e-15,
        1.2023820694264385e-14,
        -6.89850214685983e-14,
        3.919767606664254e-13,
        -2.184851173816579e-12,
        1.2110713254012524e-11,
        -6.707651780589197e-11,
        3.7180511351419697e-10,
        -2.0617867947695145e-09,
        1.1413602429399514e-08,
        -6.285443193361371e-08,
        3.427470290448705e-07,
        -1.8395494384000284e-06,
        9.635283409781127e-06,
        -4.8599808649445616e-05,
        0.00023040755375976443,
        -0.0009731009786808372,
        0.003088167880016399,
    ],
    [
        4.0638024664712555e-17,
        -2.519002463975026e-16,
        1.3726956138108932e-15,
        -8.562850219421473e-15,
        5.3912248843048436e-14,
        -3.372586632044072e-13,
        2.1080661727175273e-12,
        -1.3150743148761451e-11,
        8.172486562943444e-11,
        -5.05006202047772e-10,
        3.0963265175013058e-09,
        -1.8786226988033912e-08,
        1.123890796795648e-07,
        -6.596277558196786e-07,
        3.768890646082042e-06,
        -2.0697329735717333e-05,
        0.00010667211347946841,
        -0.0004891658800196931,
        0.0016838612241563008,
    ],
    [
        1.9386349262018446e-19,
        -1.603490515400673e-18,
        1.2331828141754443e-17,
        -1.017575720988905e-16,
        8.396328051734833e-16,
        -6.892468854847687e-15,
        5.6363660508943417e-14,
        -4.587527175023268e-13,
        3.711926547255775e-12,
        -2.981542097662392e-11,
        2.373045652188145e-10,
        -1.866949132841836e-09,
        1.4469297664121674e-08,
        -1.0992855094434056e-07,
        8.12493093319604e-07,
        -5.768470044818842e-06,
        3.841629013806504e-05,
        -0.00022753276818070908,
        0.0010112190977255378,
    ],
    [
        3.082165839317153e-21,
        -3.1522080443795055e-20,
        3.070423652636609e-19,
        -3.1244512247855115e-18,
        3.1722937988420945e-17,
        -3.205836201597106e-16,
        3.225239981377876e-15,
        -3.227520305477823e-14,
        3.20916246369952e-13,
        -3.1661892243548365e-12,
        3.094066434242965e-11,
        -2.9876302516162266e-10,
        2.8410068921199265e-09,
        -2.6475226626552875e-08,
        2.399603349569748e-07,
        -2.0886617193369414e-06,
        1.7049717474786345e-05,
        -0.00012375280391889413,
        0.0006738887344133754,
    ],
]
_CIRCULAR_POLY = [
    [
        -1.53708876705788e-13,
        1.0735064122194697e-12,
        2.2925159688092007e-12,
        -3.413061118040104e-11,
        1.1476972638339381e-11,
        8.07988232087002e-10,
        -1.8914326525383265e-09,
        -1.572378296473129e-08,
        7.710159361552761e-08,
        2.2520512505215999e-07,
        -2.312164780105088e-06,
        -8.013425382531149e-07,
        5.7519367826682994e-05,
        -9.714988001099797e-05,
        -0.001206284963033256,
        0.0050001143862873215,
        0.020455632168744627,
        -0.22809735636827855,
        0.757500387419198,
    ],
    [
        -1.5599230974577756e-14,
        9.082985897233342e-14,
        3.036611351626014e-14,
        -3.0876715277721342e-12,
        1.7401697476995374e-11,
        -5.2190197400018925e-12,
        -5.276492005304129e-10,
        3.333117842969488e-09,
        -3.0460151240775703e-09,
        -8.874705324746138e-08,
        6.301372776243876e-07,
        -9.38261021491628e-07,
        -1.4530038934321814e-05,
        0.00011799358404886433,
        -0.00025838817603157394,
        -0.0022078147647854214,
        0.02432321853495559,
        -0.12360150116982742,
        0.4038667611687093,
    ],
    [
        -6.633158254244842e-14,
        9.671931019008277e-13,
        -5.204210282657223e-12,
        1.2931787576549887e-11,
        2.8042567874596136e-11,
        -5.080129984081974e-10,
        3.059475394630827e-09,
        -1.037050280161222e-08,
        3.419383377392044e-09,
        2.2009796009432557e-07,
        -1.685723239933847e-06,
        7.127320929307661e-06,
        -1.2820355785914684e-05,
        -6.975509122030171e-05,
        0.000809454431914143,
        -0.004635205671008516,
        0.01942516556124559,
        -0.06696694533545805,
        0.21034065207681304,
    ],
    [
        7.88275705334926e-14,
        -3.6568411695238453e-13,
        8.635734174576015e-13,
        1.3524165142135323e-13,
        -2.3076185595976598e-11,
        2.074875216712743e-10,
        -1.2616639951493231e-09,
        5.8951274606656644e-09,
        -2.000572788087221e-08,
        2.743527344985376e-08,
        2.5605369634854086e-07,
        -2.8952284860306004e-06,
        1.9100895575150667e-05,
        -9.987141008945601e-05,
        0.0004517884414961518,
        -0.0018664617612617266,
        0.007399560984520434,
        -0.029387623491120177,
        0.11966869951010163,
    ],
    [
        -6.779971347909785e-15,
        4.108893586535317e-14,
        -1.8670067846117116e-13,
        8.026084890301067e-13,
        -2.532784274121906e-12,
        7.207746568717329e-13,
        7.205187369737402e-11,
        -7.670089849488543e-10,
        5.707595192191997e-09,
        -3.576538361062809e-08,
        2.0073207191250332e-07,
        -1.0445280026603908e-06,
        5.180078422601891e-06,
        -2.5111190338120523e-05,
        0.00012158553520806725,
        -0.0005962756079883595,
        0.0029759158722767313,
        -0.015086562028844364,
        0.07737064836166291,
    ],
    [
        1.5947520608104265e-17,
        -9.69743183086115e-16,
        1.1079096510237888e-14,
        -9.159558486865625e-14,
        6.667361382289447e-13,
        -4.462870800677903e-12,
        2.8079874452853746e-11,
        -1.6901959306113637e-10,
        9.885042556722795e-10,
        -5.697800396883969e-09,
        3.276767388404494e-08,
        -1.8969069448647262e-07,
        1.1105188484495852e-06,
        -6.580563865437063e-06,
        3.941189254508163e-05,
        -0.00023804081961859128,
        0.0014469451095787025,
        -0.008838322840147753,
        0.05419386537895162,
    ],
    [
        2.5374753643794954e-16,
        -1.6007594578118204e-15,
        8.636768386354659e-15,
        -5.1891431445700014e-14,
        3.120960277490173e-13,
        -1.863593371661087e-12,
        1.1179445477901652e-11,
        -6.760066559179394e-11,
        4.1235734373077657e-10,
        -2.5363561990873002e-09,
        1.5713607988670496e-08,
        -9.792772256035377e-08,
        6.131831461323192e-07,
        -3.854113363915434e-06,
        2.4299904324722906e-05,
        -0.0001536050358398428,
        0.0009731009786808372,
        -0.006176335760032798,
        0.03926630125270748,
    ],
    [
        3.4550022191704546e-17,
        -2.2724788998644705e-16,
        1.3399071665964159e-15,
        -8.93465322544261e-15,
        6.022108443356602e-14,
        -4.054527678558034e-13,
        2.739741871898703e-12,
        -1.857379710702618e-11,
        1.2625154832343493e-10,
        -8.600907134283444e-10,
        5.870695934517665e-09,
        -4.013895702516148e-08,
        2.748448982580523e-07,
        -1.8844453230414272e-06,
        1.2935831084823347e-05,
        -8.889342789955698e-05,
        0.0006114573500246164,
        -0.004209653060390752,
        0.029005290036085856,
    ],
    [
        2.211551637981965e-19,
        -1.9346213208925893e-18,
        1.5906602511168617e-17,
        -1.396966733280406e-16,
        1.230784921896881e-15,
        -1.0839430177118658e-14,
        9.557349604271103e-14,
        -8.436194978776189e-13,
        7.453855236362333e-12,
        -6.591793485051259e-11,
        5.834216040157706e-10,
        -5.1676063085993165e-09,
        4.580356289347471e-08,
        -4.06246546659804e-07,
        3.6052937780117764e-06,
        -3.20135751150542e-05,
        0.0002844159602258864,
        -0.0025280477443138448,
        0.0224809516612994,
    ],
    [
        4.358172933469084e-21,
        -4.707915268671081e-20,
        4.882850138254977e-19,
        -5.283305706184723e-18,
        5.724690722311428e-17,
        -6.202426682128547e-16,
        6.724000806052289e-15,
        -7.293550780297352e-14,
        7.915473059887628e-13,
        -8.594628985082497e-12,
        9.336344536304167e-11,
        -1.0146453186140116e-09,
        1.1031344427730357e-08,
        -1.1998016747848745e-07,
        1.3054135745855883e-06,
        -1.4208097895655287e-05,
        0.00015469100489861766,
        -0.0016847218360334384,
        0.018353488028094583,
    ],
]


def _piecewise(table: list[list[float]], k: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
    """The piecewise polynomial ``table`` at ``k`` in ``[0, 30)`` (any value where ``big``)."""
    edges = torch.tensor(_PIECES, dtype=k.dtype, device=k.device)
    columns = torch.tensor(table, dtype=k.dtype, device=k.device).T.contiguous()
    m = torch.where(big, torch.zeros_like(k), k)  # safe where
    index = (torch.searchsorted(edges, m.detach(), right=True) - 1).clamp(0, len(table) - 1)
    lo, hi = edges[index], edges[index + 1]
    t = (2 * m - lo - hi) / (hi - lo)
    acc = columns[0][index]
    for column in columns[1:]:
        acc = acc * t + column[index]
    return acc


def _asymptotic(coefficients: list[float], k: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
    """``sum_n coefficients[n] k^-(n + 1)`` where ``big``, by Horner's rule in ``1 / k``."""
    u = 1 / torch.where(big, k, torch.full_like(k, _SLOPE_FROM))  # safe where: no 1/0
    acc = torch.zeros_like(u)
    for coefficient in reversed(coefficients):
        acc = acc * u + coefficient
    return acc * u


def bessel_ratio_slope(k: torch.Tensor) -> torch.Tensor:
    """``A'(k) = 1 - A(k)^2 - A(k) / k`` for ``A = I_1 / I_0`` and ``k >= 0``: the second
    derivative of ``log I_0``, the variance of ``cos(X - mu)`` under von Mises(mu, k), to full
    relative precision: piecewise polynomials below 30, the asymptotic series above."""
    big = k >= _SLOPE_FROM
    return torch.where(big, _asymptotic(_SLOPE, k, big), _piecewise(_SLOPE_POLY, k, big))


def bessel_ratio(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, 1 - A)`` for ``A = I_1(k) / I_0(k)``, ``k >= 0``, each to full relative precision
    (``1 - A ~ 1 / (2 k)`` cancels in ``1 - i1e / i0e`` by ``2 k eps``): ``A`` from the scaled
    Bessel functions and ``1 - A`` by piecewise polynomials below 30, both from the asymptotic
    series of ``1 - A`` above."""
    big = k >= _SLOPE_FROM
    c = torch.where(big, _asymptotic(_CIRCULAR, k, big), _piecewise(_CIRCULAR_POLY, k, big))
    safe = torch.where(big, torch.ones_like(k), k)
    a = torch.where(big, 1 - c, torch.special.i1e(safe) / torch.special.i0e(safe))
    return a, c


# The trapezoidal rule of the Kumaraswamy KL (same_family_kl): nodes v = log E, E ~ Exp(1),
# step 0.1 on [-40, 4]; beyond s = E / b = 50 the integrands take their limits.
_K_STEP = 0.1
_K_LOW, _K_HIGH = -40.0, 4.0
_K_TAIL = 50.0


def kumaraswamy_terms(b_p: torch.Tensor, rho: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q1, R)`` for the Kumaraswamy KL, with ``Y ~ Beta(1, b_p)``, ``r = 1 + rho`` the ratio
    of the ``concentration1``'s, ``phi(x) = log(1 - e^x)`` and ``L = log Y``:

    * ``Q1 = E[-L Y / (1 - Y)] = (H_{b_p} - 1) / (b_p - 1)``, the derivative in ``r`` at 1 of
      ``Q(r) = E[log(1 - Y^r) - log(1 - Y)]``;
    * ``R = Q(r) - rho Q1 = E[phi(L + eps) - phi(L) - eps phi'(L)]``, ``eps = rho L``: per
      node, with ``t = Y / (1 - Y)``, ``log1p(v) + t eps`` for ``v = -t expm1(eps)``, summed
      as ``log1pmx(v) - t expm1mx(eps)`` (two terms of one sign) where ``|eps| <= 1``.

    Both are free of cancellation however close ``r`` is to 1 (``R ~ rho^2``)."""
    b = b_p.unsqueeze(-1)
    rho_ = rho.unsqueeze(-1)
    count = round((_K_HIGH - _K_LOW) / _K_STEP) + 1
    v = _K_LOW + _K_STEP * torch.arange(count, dtype=b.dtype, device=b.device)
    e = v.exp()
    weights = _K_STEP * torch.exp(v - e)
    s = e / b
    tail = s > _K_TAIL
    s = torch.where(tail, _K_TAIL, s)  # safe where: no log of 0 in the unused branch
    minus_l = -log1mexp(-s)  # -log Y > 0
    expm1_l = expm1(minus_l)  # (1 - Y) / Y = 1 / t
    q1 = torch.where(tail, torch.ones_like(minus_l), minus_l / expm1_l)
    t = 1 / expm1_l
    eps = -rho_ * minus_l
    small = eps.abs() <= 1
    e_small = torch.where(small, eps, torch.zeros_like(eps))
    r_small = log1pmx(-t * expm1(e_small)) - t * expm1mx(e_small)
    e_big = torch.where(small, torch.full_like(eps, -2.0), eps)
    # v = t - t e^eps, the exponential taken with log t so that it cannot overflow.
    v_big = t - torch.exp(e_big - torch.log(expm1_l))
    r_big = torch.log1p(v_big) + t * e_big
    r = torch.where(small, r_small, r_big)
    r = torch.where(tail, log1pmx(rho_).expand_as(r), r)
    return (weights * q1).sum(-1), (weights * r).sum(-1)
