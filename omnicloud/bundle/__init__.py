"""Function artifacts: a deterministic zip of the app's code plus runtime/ per function.

(Minimal first version: one shared bundle per cloud. The per-cloud layouts, vendoring and
size checks of `omnicloud package` build on this.)
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from providers.base import Artifact
from spec.model import AppSpec

RUNTIME_DIR = Path(__file__).resolve().parent.parent.parent / "runtime"
EXCLUDED_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".omnicloud", "tests", ".pytest_cache",
                 ".ruff_cache", ".tools", "bench", ".ci", "build", "dist"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _files(root: Path, prefix: str = "") -> list[tuple[str, Path]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.endswith(".egg-info"))
        for filename in sorted(filenames):
            if filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / filename
            out.append((prefix + path.relative_to(root).as_posix(), path))
    return out


def write_zip(entries: list[tuple[str, Path]], target: Path) -> Artifact:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    os.replace(tmp, target)
    data = target.read_bytes()
    return Artifact(path=target, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))


def build_artifacts(app: AppSpec, app_dir: Path, cloud: str, out_dir: Path | None = None) -> dict[str, Artifact]:
    """One artifact per function; functions share one bundle of the app's code."""
    out_dir = out_dir or app_dir / ".omnicloud" / "build" / cloud
    modules = {fn.handler.split(":")[0].split(".")[0] for fn in app.functions.values()}
    entries: list[tuple[str, Path]] = []
    for top in sorted(modules):
        package = app_dir / top
        if package.is_dir():
            entries += _files(package, f"{top}/")
        elif (app_dir / f"{top}.py").is_file():
            entries.append((f"{top}.py", app_dir / f"{top}.py"))
    if not any(name.startswith("runtime/") for name, _ in entries):
        entries += _files(RUNTIME_DIR, "runtime/")
    shared = write_zip(entries, out_dir / f"{app.name}.zip")
    return {name: shared for name in app.functions}
