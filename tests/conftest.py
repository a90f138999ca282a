"""Shared test helpers: the project root, where builds go, the emulators, and CI's no-silent-skip rule."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import emulators

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.ci_guard"]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


def cache_dir(config: pytest.Config, name: str) -> Path:
    """A directory kept between test runs: pytest's cache, or .tools/test-cache when the cache plugin is
    off (`-p no:cacheprovider`), so what the tests install is installed once either way."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir(name))
    path = ROOT / ".tools" / "test-cache" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def builds_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[None]:
    """Every build of the session (previews included) goes to a temporary directory, never into the
    checkout's .omnicloud/; the wheel and SDK cache lives in the pytest cache, so reruns are offline."""
    saved = {k: os.environ.get(k) for k in ("OMNICLOUD_BUILD_DIR", "OMNICLOUD_CACHE_DIR")}
    os.environ["OMNICLOUD_BUILD_DIR"] = str(tmp_path_factory.mktemp("omnicloud-build"))
    os.environ.setdefault("OMNICLOUD_CACHE_DIR", str(cache_dir(pytestconfig, "omnicloud-cache")))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# -- emulators, started on first use and stopped at the end of the session ------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on 127.0.0.1; its endpoint URL (set AWS_ENDPOINT_URL to it)."""
    with emulators.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_tables() -> Iterator[str]:
    """Azurite's table service on 127.0.0.1; its connection string."""
    emulator = emulators.start_azurite_table()
    try:
        yield emulator.extra["connection_string"]
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def google_emulators() -> Iterator[dict[str, str]]:
    """The Pub/Sub and Firestore emulators, started side by side: {"pubsub": host:port, "firestore": host:port}."""
    pubsub = emulators.launch_pubsub()
    try:
        firestore = emulators.launch_firestore()
    except BaseException:
        pubsub.stop()
        raise
    try:
        emulators.google_emulator_ready(pubsub)
        emulators.google_emulator_ready(firestore)
        yield {"pubsub": pubsub.address, "firestore": firestore.address}
    finally:
        pubsub.stop()
        firestore.stop()
