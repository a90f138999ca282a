"""Emulators the tests start themselves: on 127.0.0.1, on free ports, polled until ready, stopped by process group.

moto (AWS) runs in-process; Azurite's table service, the Pub/Sub emulator and the Firestore
emulator run as child processes in their own session, so stopping one also stops the JVM
or node process it spawned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_DEADLINE = 90.0  # seconds; the JVM emulators start in a few seconds, slower on a busy machine
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], deadline: float, what: str, alive: Callable[[], bool] = lambda: True,
               log: Callable[[], str] = lambda: "") -> None:
    """Poll `ready` until it is true; fail with the emulator's log if it dies or the deadline passes."""
    end = time.monotonic() + deadline
    delay = 0.05
    while True:
        if ready():
            return
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready:\n{log()}")
        if time.monotonic() > end:
            raise RuntimeError(f"{what} was not ready after {deadline:.0f}s:\n{log()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def http_answers(url: str, expect_body: str | None = None) -> Callable[[], bool]:
    """Ready when `url` answers at all (any HTTP status), or with `expect_body` when given."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                body = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError:
            return expect_body is None
        except OSError:
            return False
        return expect_body is None or expect_body in body

    return check


@dataclass
class Emulator:
    name: str
    port: int
    process: subprocess.Popen | None = None
    workdir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def log(self) -> str:
        path = self.workdir / "emulator.log" if self.workdir else None
        if path is None or not path.exists():
            return ""
        return path.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process is not None:
            group = self.process.pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            # The group outlives its leader while a JVM shuts down; give it a moment, then insist.
            process = self.process
            with contextlib.suppress(RuntimeError):  # poll() reaps the leader, else it lingers as a zombie
                wait_until(lambda: process.poll() is not None and not _group_alive(group), 10.0,
                           f"{self.name} shutdown")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


# Leads the emulator's process group and stops the whole group when its stdin closes, i.e. when
# the test session ends in any way (even killed outright, when no fixture teardown runs).
_WATCHDOG = """
import os, signal, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch():
    sys.stdin.buffer.read()
    os.killpg(0, signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
sys.exit(child.wait())
"""


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def launch(name: str, argv: list[str], port: int) -> Emulator:
    """Start `argv` in its own session (so its whole process group can be stopped), logging to a temp dir."""
    workdir = Path(tempfile.mkdtemp(prefix=f"omnicloud-{name}-"))
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 - the child owns it
    try:
        process = subprocess.Popen([sys.executable, "-c", _WATCHDOG, *argv], cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.PIPE, start_new_session=True)
    finally:
        log.close()
    return Emulator(name=name, port=port, process=process, workdir=workdir)


def ensure_ready(emulator: Emulator, ready: Callable[[], bool], deadline: float = READY_DEADLINE) -> Emulator:
    try:
        wait_until(ready, deadline, emulator.name, emulator.alive, emulator.log)
    except BaseException:
        emulator.stop()
        raise
    return emulator


# -- AWS: moto ------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (in a thread of this process); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_until(http_answers(f"{endpoint}/moto-api/"), READY_DEADLINE, "moto server")
        yield endpoint
    finally:
        server.stop()


# -- Azure: Azurite (tables) ----------------------------------------------------------------


def azurite_table_binary() -> Path | None:
    path = ROOT / "node_modules" / ".bin" / "azurite-table"
    return path if path.exists() and shutil.which("node") else None


def start_azurite_table() -> Emulator:
    binary = azurite_table_binary()
    if binary is None:
        unavailable("Azurite is not installed: run `npm ci` at the repository root (CI does)")
    port = free_port()
    emulator = launch("azurite-table", [
        str(binary), "--tableHost", HOST, "--tablePort", str(port), "--skipApiVersionCheck",
        "--inMemoryPersistence", "--silent", "--disableTelemetry",
    ], port)
    emulator.extra["connection_string"] = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"TableEndpoint=http://{HOST}:{port}/{AZURITE_ACCOUNT};"
    )
    return ensure_ready(emulator, http_answers(f"http://{HOST}:{port}/{AZURITE_ACCOUNT}/Tables"))


# -- Google Cloud: Pub/Sub and Firestore emulators ------------------------------------------


def gcloud_sdk_root() -> Path | None:
    if not shutil.which("gcloud"):
        return None
    try:
        out = subprocess.run(["gcloud", "info", "--format=value(installation.sdk_root)"], capture_output=True,
                             text=True, timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


def _gcloud_binary(relative: str) -> Path:
    root = gcloud_sdk_root()
    if root is None:
        unavailable("the Google Cloud SDK is not installed (gcloud not found); its emulators are needed")
    binary = root / relative
    if not binary.exists():
        unavailable(f"{binary} is missing; install it with `gcloud components install` (or the distro package)")
    if not shutil.which("java"):
        unavailable("the Google Cloud emulators need Java (java not found)")
    return binary


def launch_pubsub() -> Emulator:
    binary = _gcloud_binary("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
    port = free_port()
    return launch("pubsub-emulator", [str(binary), f"--host={HOST}", f"--port={port}"], port)


def launch_firestore() -> Emulator:
    binary = _gcloud_binary("platform/cloud-firestore-emulator/cloud_firestore_emulator")
    port = free_port()
    return launch("firestore-emulator", [str(binary), "start", f"--host={HOST}", f"--port={port}"], port)


def google_emulator_ready(emulator: Emulator) -> Emulator:
    """Both Google emulators answer "Ok" on / once they serve."""
    return ensure_ready(emulator, http_answers(f"http://{emulator.address}/", "Ok"))


def unavailable(reason: str) -> None:
    """Skip a test whose emulator, Node/Azurite, Google Cloud SDK or interpreter is missing; under
    CI=true fail instead, so a cloud's suite cannot vanish from a green CI run."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: a missing test dependency fails the run instead of skipping)")
    pytest.skip(reason)
