"""The example plugin (examples/plugins/acme), built as its own wheel and installed in isolation:
`pip install --no-deps --target <tmp>` (never into the shared venv), so its entry points are found
from its dist-info only by processes whose sys.path includes that directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugins" / "acme"
# The plugin's build backend (its pyproject's build-system), fetched once into the pytest cache.
BUILD = ["setuptools>=68", "wheel"]


def pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="session")
def acme(tmp_path_factory, pytestconfig) -> dict[str, Path]:
    """{"wheel": the plugin's wheel, "site": the directory it is installed into}."""
    backend = Path(pytestconfig.cache.mkdir("acme-build-backend"))
    if not (backend / ".complete").exists():
        pip("download", "-q", "-d", str(backend), *BUILD)
        (backend / ".complete").write_text("")
    tmp = tmp_path_factory.mktemp("acme")
    pip(
        "wheel",
        "-q",
        "--no-deps",
        "--no-index",
        "--find-links",
        str(backend),
        "-w",
        str(tmp / "dist"),
        str(PLUGIN),
    )
    (wheel,) = (tmp / "dist").glob("acme_omnicloud-*.whl")
    pip("install", "-q", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel))
    return {"wheel": wheel, "site": tmp / "site"}
