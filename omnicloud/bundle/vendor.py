"""Vendor the app's third-party dependencies as wheels for the target platform, with pip.

Wheels are kept in a local cache: a rebuild with unchanged requirements installs from the
cache with `--no-index`, offline and fast; only a cache miss downloads.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# What the Lambda Python runtime already provides (left out unless the app pins it).
LAMBDA_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})


class VendorError(Exception):
    """Dependencies could not be vendored; the message is one line that says what to do."""


@dataclass(frozen=True)
class Target:
    """The platform a bundle's wheels must run on."""

    python_version: str  # "3.12"
    machine: str  # "x86_64" | "aarch64"
    glibc: tuple[str, ...] = ("manylinux_2_28", "manylinux_2_26", "manylinux_2_24", "manylinux_2_17", "manylinux2014")

    def platform_args(self) -> list[str]:
        args = []
        for tag in self.glibc:
            args += ["--platform", f"{tag}_{self.machine}"]
        return args + ["--python-version", self.python_version, "--implementation", "cp", "--only-binary=:all:"]

    @property
    def key(self) -> str:
        return f"cp{self.python_version.replace('.', '')}-{self.machine}"


def requirement_names(requirements: str) -> set[str]:
    names = set()
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            names.add(canonical(match.group(0)))
    return names


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PIP_FIND_LINKS", None)
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env)


def _pip_with_progress(args: list[str], progress) -> subprocess.CompletedProcess:
    """pip, streaming its output into a progress bar (wheels resolved vs fetched)."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PIP_FIND_LINKS", None)
    proc = subprocess.Popen([sys.executable, "-m", "pip", *args, "--progress-bar", "off"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    resolved = fetched = 0
    out_lines = []
    bar = ProgressBar(progress)
    assert proc.stdout is not None
    for line in proc.stdout:
        out_lines.append(line)
        text = line.strip()
        if text.startswith("Collecting "):
            resolved += 1
        elif text.startswith(("Saved ", "File was already downloaded")):
            fetched += 1
        else:
            continue
        bar.update(fetched, resolved, text.split()[1] if text.startswith("Collecting ") else "")
    stderr = proc.stderr.read() if proc.stderr else ""
    code = proc.wait()
    bar.done()
    return subprocess.CompletedProcess(args, code, "".join(out_lines), stderr)


class ProgressBar:
    """`[#####.....] 3/7 wheels` on a terminal (redrawn in place), plain lines otherwise."""

    def __init__(self, progress, width: int = 24):
        self.progress = progress
        self.width = width
        self.tty = sys.stderr.isatty()
        self.drawn = False

    def update(self, done: int, total: int, current: str = "") -> None:
        if not self.progress:
            return
        total = max(total, done, 1)
        filled = int(self.width * done / total)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} wheels {current}".rstrip()
        if self.tty:
            sys.stderr.write("\r\033[K  " + line)
            sys.stderr.flush()
            self.drawn = True
        elif current:
            self.progress(f"resolving {current}")

    def done(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _last_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or ["pip failed"])[-1]


def vendor(requirements_file: Path, target: Target, cache_dir: Path, *, exclude: frozenset[str] = frozenset(),
           progress=None) -> Path:
    """Install `requirements_file` for `target` into a cached directory and return it.

    The directory is keyed on the requirements' content and the target, so unchanged
    requirements reuse it without running pip at all.
    """
    text = requirements_file.read_text(encoding="utf-8")
    pinned = requirement_names(text)
    key = hashlib.sha256(f"{text}\n{target.key}\n{sorted(exclude)}".encode()).hexdigest()[:16]
    site = cache_dir / "site" / f"{target.key}-{key}"
    if (site / ".complete").exists():
        return site
    wheels = cache_dir / "wheels" / target.key
    wheels.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"vendoring {len(pinned)} requirement(s) from {requirements_file.name} for {target.key}")
    install = ["install", "--no-compile", "--no-warn-script-location",
               *target.platform_args(), "-r", str(requirements_file)]
    tmp = site.with_name(site.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = _pip([*install, "--no-index", "--find-links", str(wheels), "--target", str(tmp)])
    if proc.returncode != 0:
        if progress:
            progress("wheel cache miss: downloading from the package index")
        download = _pip_with_progress(["download", *target.platform_args(), "-r", str(requirements_file),
                                       "-d", str(wheels)], progress)
        if download.returncode != 0:
            raise VendorError(
                f"{requirements_file}: cannot download wheels for {target.key}: {_last_error(download)}"
                " (every dependency needs a manylinux wheel; pin a version that ships one)")
        shutil.rmtree(tmp, ignore_errors=True)
        proc = _pip([*install, "--no-index", "--find-links", str(wheels), "--target", str(tmp)])
        if proc.returncode != 0:
            raise VendorError(f"{requirements_file}: pip install for {target.key} failed: {_last_error(proc)}")
    _drop_excluded(tmp, exclude - pinned)
    shutil.rmtree(tmp / "bin", ignore_errors=True)  # console scripts carry this machine's paths
    for cache in tmp.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    (tmp / ".complete").write_text("")
    shutil.rmtree(site, ignore_errors=True)
    os.replace(tmp, site)
    if progress:
        progress(f"vendored {sum(1 for _ in site.glob('*.dist-info'))} distribution(s)")
    return site


def _drop_excluded(site: Path, names: frozenset[str] | set[str]) -> None:
    """Remove distributions in `names` (e.g. what the Lambda runtime provides) using their RECORD."""
    for dist_info in site.glob("*.dist-info"):
        dist = canonical(dist_info.name.rsplit("-", 1)[0])
        if dist not in names:
            continue
        record = dist_info / "RECORD"
        if record.exists():
            for line in record.read_text().splitlines():
                rel = line.split(",", 1)[0]
                path = site / rel
                if path.is_file():
                    path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
    # Empty package directories left behind.
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
