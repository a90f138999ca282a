"""Under CI=true, a test that would skip for want of an emulator, Node/Azurite, the Google Cloud SDK or
a cloud's Python fails instead; on a developer's machine it still skips."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests import emulators
from tests.conftest import ROOT

SAMPLE = textwrap.dedent("""
    import pytest

    from tests import emulators


    @pytest.mark.emulator
    def test_needs_an_emulator():
        pytest.skip("no emulator here")


    @pytest.mark.cleanroom
    def test_needs_a_python():
        emulators.unavailable("no Python 3.12 here")


    def test_optional():
        pytest.skip("not a cloud suite")
""")


def _run(tmp_path, ci: str | None) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n  emulator: e\n  cleanroom: c\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.ci_guard",
            "-p",
            "no:cacheprovider",
            "-q",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(tmp_path / "test_sample.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    return proc.stdout


def test_under_ci_a_missing_emulator_fails_the_run(tmp_path):
    out = _run(tmp_path, "true")
    assert "2 failed, 1 skipped" in out, out
    assert "skipped under CI=true, which fails instead" in out and "no Python 3.12 here" in out


def test_elsewhere_it_skips(tmp_path):
    assert "3 skipped" in _run(tmp_path, None)


def test_unavailable_fails_under_ci_and_skips_otherwise(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        emulators.unavailable("Azurite is not installed")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        emulators.unavailable("Azurite is not installed")
