"""The tour (`python -m aleatorch tour`, what `make demo` runs) works end to end."""

import re
import subprocess
import sys

import mpmath
import pytest

from aleatorch import _tour

TIMEOUT_S = 60


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aleatorch", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def tour() -> str:
    result = _run("tour")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_section_runs_and_prints_its_title(tour):
    titles = re.findall(r"^== (\d+)\. ", tour, flags=re.MULTILINE)
    assert titles == [str(i) for i in range(1, len(_tour.SECTIONS) + 1)]
    assert len(titles) == 10
    assert "Tour finished" in tour


@pytest.mark.parametrize(
    "words",
    [
        ("ParameterError", "Normal", "'scale'", "positive", "1 of 3", "scale[1] = -0.5"),
        ("ShapeError", "log_prob", "(4,)", "batch_shape (3,)"),
        ("NoRsampleError", "Bernoulli", "has_rsample is False", ".sample()"),
        ("SupportError", "Bernoulli", "support", "0.5"),
    ],
    ids=["parameter", "shape", "rsample", "support"],
)
def test_the_four_mistakes_show_their_messages(tour, words):
    section = tour.split("== 6.")[1].split("== 7.")[0]
    # The tour wraps long messages: compare with the line breaks taken out.
    flat = " ".join(section.split())
    for word in words:
        assert word in flat, f"{word!r} not in the section on mistakes:\n{section}"


def _numbers_after(label: str, text: str) -> tuple[float, float]:
    match = re.search(re.escape(label) + r"\s*(-?[\d.]+) -> (-?[\d.]+)", text)
    assert match, f"no '{label} A -> B' line in:\n{text}"
    return float(match.group(1)), float(match.group(2))


def test_vae_loss_goes_down_to_the_exact_evidence(tour):
    first, last = _numbers_after("loss:", tour)
    assert last < first - 1.0
    evidence = float(re.search(r"exact log evidence/n = (-?[\d.]+)", tour).group(1))
    # -ELBO >= -log evidence; the printed loss is a Monte Carlo average, hence the slack.
    assert abs(last + evidence) < 0.05


def test_bandit_learns_the_best_arm(tour):
    first, last = _numbers_after("P(best arm):", tour)
    assert first == pytest.approx(0.2, abs=1e-3)
    assert last > 0.9


def test_rsample_gradient_matches_the_exact_one(tour):
    grad, se = map(float, re.search(r"by autograd = ([\d.]+) \+- ([\d.]+)", tour).groups())
    exact = float(re.search(r"= 2 mu\s+= ([\d.]+)", tour).group(1))
    assert abs(grad - exact) < 6 * se


def test_tail_log_cdf_is_finite_where_the_naive_one_is_not(tour):
    exact = float(mpmath.log(mpmath.ncdf(-40)))
    shown = float(re.search(r"d\.log_cdf\(x\)\s+= (-[\d.]+)", tour).group(1))
    assert shown == pytest.approx(exact, abs=1e-3)
    assert re.search(r"d\.cdf\(x\)\.log\(\) = -inf", tour)


def test_squashed_gaussian_and_biject_to(tour):
    section = tour.split("== 10.")[1]
    assert "all finite: True" in section
    assert "(sums to 1.0000)" in section
    assert "[0.5000, -1.0000, 2.0000]" in section  # the round trip
    median = float(
        re.search(r"icdf\(\[0.05, 0.50, 0.95\]\) = \[[\d.]+, ([\d.]+),", section).group(1)
    )
    assert median == pytest.approx(1.0, abs=1e-4)


def test_no_arguments_prints_usage():
    result = _run()
    assert result.returncode == 0
    assert "usage: python -m aleatorch" in result.stdout
    assert "tour" in result.stdout


def test_unknown_command_fails_with_usage():
    result = _run("nonsense")
    assert result.returncode == 2
    assert "usage: python -m aleatorch" in result.stderr


def test_tiny_concentration_beta_samples_are_symmetric(tour):
    below_half = float(re.search(r"P\(x < 1/2\) = ([\d.]+)", tour).group(1))
    # 100k draws of a symmetric law: the standard error of the fraction is 0.0016.
    assert abs(below_half - 0.5) < 6 * 0.0016
    assert "all log_prob(sample) finite: True" in tour


def test_tour_shows_the_errors_under_python_O_too():
    # -O turns the validation default off; the tour must still show the four errors.
    result = subprocess.run(
        [sys.executable, "-O", "-m", "aleatorch", "tour"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    for kind in ("ParameterError", "ShapeError", "NoRsampleError", "SupportError"):
        assert kind in result.stdout
