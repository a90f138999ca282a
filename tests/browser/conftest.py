"""A real browser for the console and dashboard tests: Playwright driving Debian's chromium.

scripts/setup.sh --with-emulators installs chromium (apt-get install chromium); Playwright's own
browser download is not used (it is not reachable here). Without chromium these tests skip on a
developer's machine and fail under CI=true (tests.emulators.unavailable, and the `browser` marker
of tests/ci_guard.py), so a green CI run always includes them. Screenshots of
the main views go to $OMNICLOUD_SCREENSHOTS when set (docs/img: `scripts/screenshots.sh`).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dev.conftest import ROOT, DevProcess
from tests.emulators import unavailable

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium waits on services it cannot reach here.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOOTSTRAP_TOKEN = "browser-test-bootstrap-token"
JWT_SECRET = "browser-test-jwt-secret-of-at-least-32-bytes"


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Iterator[Any]:
    """A chromium context with a fresh user-data-dir."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(
            f"{CHROMIUM} is missing; run scripts/setup.sh --with-emulators (it runs apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed; run scripts/setup.sh")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[DevProcess]:
    """The agent platform (app.yaml) under `omnicloud dev`: fast retries, schedules in real time (the
    sweeper's first run is 5 minutes away, so a run the tests see is one they asked for)."""
    tmp = tmp_path_factory.mktemp("browser-platform")
    process = DevProcess(
        ROOT / "app.yaml",
        tmp / "state",
        env={
            "BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
            "JWT_SECRET": JWT_SECRET,
            "MODEL_API_KEY": "unused",
            "OMNICLOUD_DEV_TICK": "60",
        },
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def admin_key(platform: DevProcess) -> str:
    status, answer = api(platform, "POST", "/admin/bootstrap", token=BOOTSTRAP_TOKEN)
    assert status == 201, answer
    return answer["key"]


def api(
    platform: DevProcess, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"} if data is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(platform.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Save a screenshot of the page: into $OMNICLOUD_SCREENSHOTS (docs/img) when set."""
    target = Path(os.environ.get("OMNICLOUD_SCREENSHOTS") or tmp_path)
    if not target.is_absolute():
        target = ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
