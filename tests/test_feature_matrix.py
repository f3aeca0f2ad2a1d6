"""docs/feature-matrix.md is generated from the registry and the live libraries: it must be
up to date, and show no method torch has and aleatorch lacks."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_feature_matrix_is_up_to_date_and_has_no_gap():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "feature_matrix.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "docs" / "feature-matrix.md").read_text()
    assert "Cells where torch has a method and aleatorch does not: 0." in text
    assert "- / yes" not in text
