"""pytest plugin: under CI=true a skipped emulator, clean-room or browser test fails the run.

A test marked `emulator`, `cleanroom` or `browser` skips on a developer's machine that lacks moto,
Node and Azurite, the Google Cloud SDK, a cloud's Python or chromium; in CI the same skip would let
a whole suite vanish from a green run, so there it is reported as a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

GUARDED_MARKERS = ("emulator", "cleanroom", "browser")


def ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and ci() and any(item.get_closest_marker(m) for m in GUARDED_MARKERS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which fails instead: {reason}"
