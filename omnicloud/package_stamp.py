"""`omnicloud package` when nothing changed: the last build's inputs checked by their stat alone.

Outside omnicloud.bundle on purpose: checking imports nothing but the standard library.

A build records, next to its manifest, every file it read (app.yaml, the app's modules and data
files, requirements, the runtime, the site zips of vendored trees, the bundler's own code, the
bytecode interpreter) and every directory whose listing it depended on (where a new module or data
file would be picked up), each with its size and mtime, plus the zips it wrote. When all of them
are as recorded, the artifacts are too, and the command answers without loading the app (no
pydantic, no Pulumi): what `make` does, and for the same reason. Anything else rebuilds, and the
build itself reuses every zip whose inputs did not change.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

STAMP = ".omnicloud-package.json"
FORMAT = 1
# Environment that decides which interpreter compiles bytecode (bundle/bytecode.py).
_ENVIRONMENT = ("PATH", "PYENV_ROOT")


def out_dir(app: Path, cloud: str, out: str | None) -> Path:
    """Where `omnicloud package` writes: --out, else .omnicloud/package/<cloud> next to app.yaml."""
    return Path(out) if out else app.resolve().parent / ".omnicloud" / "package" / cloud


def _environment() -> dict[str, str]:
    keys = [k for k in os.environ if k.startswith("OMNICLOUD_PYTHON_")] + list(_ENVIRONMENT)
    return {k: os.environ.get(k, "") for k in sorted(keys)}


def _stat(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _key(cloud: str, app: Path) -> dict[str, object]:
    return {
        "format": FORMAT,
        "cloud": cloud,
        "app": str(app),
        "python": sys.version,
        "environment": _environment(),
    }


def record(
    out_dir: Path,
    cloud: str,
    app: Path,
    files: set[Path],
    directories: set[Path],
    outputs: list[Path],
    printed: list[str],
) -> None:
    """Remember what this build read and wrote (after it succeeded)."""
    body = {
        **_key(cloud, app),
        "files": {str(p): _stat(p) for p in sorted(files)},
        "directories": {str(p): _stat(p) for p in sorted(directories)},
        "outputs": {str(p): _stat(p) for p in sorted(outputs)},
        "printed": printed,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{STAMP}.", dir=out_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(body, handle)
    os.replace(tmp, out_dir / STAMP)


def unchanged(out_dir: Path, cloud: str, app: Path) -> list[str] | None:
    """What the last build printed, if it was for this app and cloud and nothing it depended on
    has changed since; else None."""
    try:
        body = json.loads((out_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or any(body.get(k) != v for k, v in _key(cloud, app).items()):
        return None
    for group in ("files", "directories", "outputs"):
        recorded = body.get(group)
        if not isinstance(recorded, dict) or not recorded and group == "outputs":
            return None
        for path, stat in recorded.items():
            if _stat(Path(path)) != stat or (stat is None and group == "outputs"):
                return None
    printed = body.get("printed")
    return printed if isinstance(printed, list) else None


def forget(out_dir: Path) -> None:
    """Drop the record (before a build that may fail half-way)."""
    try:
        os.unlink(out_dir / STAMP)
    except OSError:
        pass
