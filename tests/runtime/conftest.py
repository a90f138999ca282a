"""Session-scoped emulators for the runtime tests, started on first use and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import emulators


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
