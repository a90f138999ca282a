"""Helpers for the local cloud's tests: a copy of a test app, and a real `omnicloud dev` process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omnicloud.dev.local_routes import TOKEN_FILE

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"

# Fast clocks for tests: a scheduled minute lasts 0.3 s, retries back off from 0.05 s.
FAST_ENV = {
    "OMNICLOUD_DEV_TICK": "0.3",
    "OMNICLOUD_DEV_RETRY_DELAY": "0.05",
    "OMNICLOUD_DEV_POLL": "0.05",
    "OMNICLOUD_DEV_GRACE": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLOUD_")}
    env.pop("GREETING", None)
    env.update(FAST_ENV)
    env.update(extra)
    return env


@pytest.fixture
def app_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copy tests/dev/apps/<name> into a temporary directory; returns its app.yaml."""

    def copy(name: str = "basic") -> Path:
        target = tmp_path / name
        shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target / "app.yaml"

    return copy


class DevProcess:
    """`omnicloud dev` as a user runs it, on a free port, output captured to a file."""

    def __init__(self, app: Path, state: Path, *, reload: bool = False, port: int | None = None,
                 env: dict[str, str] | None = None):
        self.app, self.state = app, state
        self.port = port or free_port()
        self.reload = reload
        self.env = clean_env(**(env or {}))
        self.log_path = state.parent / f"dev-{self.port}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> DevProcess:
        cmd = [sys.executable, "-m", "omnicloud", "dev", "--app", str(self.app), "--port", str(self.port),
               "--state", str(self.state)] + ([] if self.reload else ["--no-reload"])
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"omnicloud dev exited with {self.proc.returncode}:\n{self.output()}")
            try:
                return self.request("GET", "/_omnicloud/health")[0] == 200
            except OSError:
                return False

        wait_until(ready, timeout, "omnicloud dev to answer")

    def local_token(self) -> str:
        """The token the local routes (/_omnicloud/*) ask for: the state dir's dev-token file."""
        return (self.state / TOKEN_FILE).read_text().strip()

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = dict(headers or {})
        if path.startswith("/_omnicloud") and "Authorization" not in headers:
            try:
                headers["Authorization"] = f"Bearer {self.local_token()}"
            except FileNotFoundError:
                pass  # not created yet: the server is not up either
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def items(self, pk: str) -> list[dict[str, Any]]:
        status, body = self.request("GET", f"/items/{pk}")
        assert status == 200, body
        return body["items"]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def sign_in_link(state: Path) -> str:
    """What `omnicloud console --state DIR` prints: the one-time sign-in link to the console."""
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "console", "--state", str(state)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[Callable[..., DevProcess]]:
    """Start `omnicloud dev` processes; every one still running is stopped after the test."""
    started: list[DevProcess] = []

    def start(app: Path, state: Path | None = None, *, wait: bool = True, **kwargs: Any) -> DevProcess:
        process = DevProcess(app, state or tmp_path / "state", **kwargs)
        started.append(process)
        return process.start(wait=wait)

    yield start
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.stop(signal.SIGKILL)
