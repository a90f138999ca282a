"""Fixtures of the plugin's tests: the example app (tests/app) in a project of its own, and the
emulators the bucket backends run against, each on 127.0.0.1 and stopped at the end.

Run with the package installed (its entry points are how omnicloud finds the kind):
`pip install ./examples/plugins/acme` then `pytest examples/plugins/acme/tests`; omnicloud's own
suite does it in isolation (tests/plugins/test_example_plugin.py) and passes ACME_WHEEL, the wheel
it built, which the app's requirements.txt names, as an app team's would name a package index.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent / "app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen | None = None, seconds: float = 60.0) -> None:
    """Until `url` answers at all (any HTTP status), or the process ends, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the emulator for {url} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@pytest.fixture
def shop(tmp_path) -> Path:
    """The example app as a project of its own, its requirements naming this package."""
    wheel = os.environ.get("ACME_WHEEL")
    if not wheel or not Path(wheel).is_file():
        pytest.fail(
            "ACME_WHEEL must name this package's wheel (tests/plugins/test_example_plugin.py builds it)"
        )
    project = tmp_path / "shop"
    shutil.copytree(APP, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "requirements.txt").write_text(f"acme-omnicloud @ {Path(wheel).as_uri()}\n")
    return project


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_blob() -> Iterator[str]:
    """Azurite's blob service; its connection string. The binary comes from AZURITE_BLOB or PATH."""
    binary = os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")
    if not binary:
        pytest.fail(
            "Azurite is not installed: set AZURITE_BLOB to azurite-blob (npm install azurite)"
        )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    account = "devstoreaccount1"
    try:
        wait_for(f"http://127.0.0.1:{port}/{account}?comp=list", process)
        key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{account};"
        )
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """A Cloud Storage emulator (gcp-storage-emulator, in memory); its host:port for STORAGE_EMULATOR_HOST."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()  # its API thread
    try:
        wait_for(f"http://127.0.0.1:{port}/storage/v1/b?project=test")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
