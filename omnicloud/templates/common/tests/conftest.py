"""The tests run the handlers on the local cloud `omnicloud dev` runs (SQLite tables, queues and
topics), each call made as its function: its env, its links. No cloud account, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnicloud.testing import LocalCloud

APP = Path(__file__).resolve().parents[1] / "app.yaml"


@pytest.fixture
def cloud(tmp_path: Path) -> LocalCloud:
    """The app with fresh, empty state."""
    return LocalCloud(APP, tmp_path / "state")
