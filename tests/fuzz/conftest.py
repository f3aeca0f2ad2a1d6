"""Hypothesis profiles of the fuzz suite, and its summary table.

``ALEATORCH_FUZZ=fast`` (the default, part of ``make test``): a few derandomized examples per
family. ``ALEATORCH_FUZZ=deep`` (``make fuzz``): many more, same fixed seed. Neither uses
Hypothesis's example database, so a run depends on the code alone.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile("fast", max_examples=6, **_COMMON)
settings.register_profile("deep", max_examples=200, **_COMMON)
PROFILE = os.environ.get("ALEATORCH_FUZZ", "fast")
settings.load_profile(PROFILE)

# Outcome counts gathered from the xdist workers (empty when not run under xdist).
_FROM_WORKERS: Counter = Counter()


def pytest_sessionfinish(session):
    from fuzz_harness import FAILURES, OUTCOMES

    config = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: send the counts to the controller
        config.workeroutput["aleatorch_fuzz"] = json.dumps([dict(OUTCOMES), FAILURES])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from fuzz_harness import FAILURES

    sent = getattr(node, "workeroutput", {}).get("aleatorch_fuzz")
    if sent:
        counts, failures = json.loads(sent)
        _FROM_WORKERS.update(counts)
        for key, text in failures.items():
            FAILURES.setdefault(key, text)


def pytest_terminal_summary(terminalreporter):
    from fuzz_harness import OUTCOMES, summary_lines

    counts = Counter(OUTCOMES) + _FROM_WORKERS
    if counts:
        terminalreporter.write_sep("-", f"aleatorch fuzz ({PROFILE} profile)")
        for line in summary_lines(counts):
            terminalreporter.write_line(line)
