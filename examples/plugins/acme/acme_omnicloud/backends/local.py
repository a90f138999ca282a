"""Buckets under `omnicloud dev`: one directory per bucket in the state directory, one file per
object. Keys are percent-encoded into file names, so no key can leave its bucket's directory."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, unquote

from runtime.backends.local import DEFAULT_STATE_DIR, STATE_DIR_ENV
from runtime.links import Link, current_environ


class LocalBucket:
    def __init__(self, link: Link):
        state = (
            current_environ().get(STATE_DIR_ENV)
            or os.environ.get(STATE_DIR_ENV)
            or DEFAULT_STATE_DIR
        )
        self.root = Path(state) / "buckets" / quote(link.require("name"), safe="")

    def _path(self, key: str) -> Path:
        return self.root / quote(key, safe="")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # a reader sees the old object or the new one, whole

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str, limit: int) -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (unquote(p.name) for p in self.root.iterdir() if not p.name.endswith(".partial"))
        return sorted(k for k in keys if k.startswith(prefix))[:limit]


bucket = LocalBucket
