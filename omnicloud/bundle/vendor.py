"""Vendor the app's third-party dependencies as wheels for the target platform, with pip.

Wheels are kept in a local cache: a rebuild with unchanged requirements installs from the
cache with `--no-index`, offline and fast; only a cache miss downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def _private_dir(near: Path) -> Path:
    """A fresh directory beside `near`, unique to this process: concurrent builds never share one."""
    near.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{near.name}.", dir=near.parent))


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished directory into place atomically; if another build got there first, keep theirs."""
    try:
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def vendor(requirements: str, source: str, target: Target, cache_dir: Path, *,
           exclude: frozenset[str] = frozenset(), progress=None) -> Path:
    """Install the requirements text `requirements` (read from `source`, named in messages) for
    `target` into a cached directory and return it.

    The directory is keyed on the requirements' content and the target, so unchanged
    requirements reuse it without running pip at all. Every temporary file and directory is
    private to this call, so concurrent builds sharing the cache never collide.
    """
    pinned = requirement_names(requirements)
    key = hashlib.sha256(f"{requirements}\n{target.key}\n{sorted(exclude)}".encode()).hexdigest()[:16]
    site = cache_dir / "site" / f"{target.key}-{key}"
    if (site / ".complete").exists():
        return site
    wheels = cache_dir / "wheels" / target.key
    wheels.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"vendoring {len(pinned)} requirement(s) from {source} for {target.key}")
    work = _private_dir(site)
    try:
        listing = work / "requirements.txt"
        listing.write_text(requirements, encoding="utf-8")
        tmp = work / "site"
        install = ["install", "--no-compile", "--no-warn-script-location",
                   *target.platform_args(), "-r", str(listing)]
        proc = _pip([*install, "--no-index", "--find-links", str(wheels), "--target", str(tmp)])
        if proc.returncode != 0:
            if progress:
                progress("wheel cache miss: downloading from the package index")
            fetched = work / "wheels"
            download = _pip_with_progress(["download", *target.platform_args(), "-r", str(listing),
                                           "--find-links", str(wheels), "-d", str(fetched)], progress)
            if download.returncode != 0:
                raise VendorError(
                    f"{source}: cannot download wheels for {target.key}: {_last_error(download)}"
                    " (every dependency needs a manylinux wheel; pin a version that ships one)")
            for wheel in fetched.iterdir():
                os.replace(wheel, wheels / wheel.name)  # atomic: another build never reads half a wheel
            shutil.rmtree(tmp, ignore_errors=True)
            proc = _pip([*install, "--no-index", "--find-links", str(wheels), "--target", str(tmp)])
            if proc.returncode != 0:
                raise VendorError(f"{source}: pip install for {target.key} failed: {_last_error(proc)}")
        _drop_excluded(tmp, exclude - pinned)
        shutil.rmtree(tmp / "bin", ignore_errors=True)  # console scripts carry this machine's paths
        for cache in tmp.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        (tmp / ".complete").write_text("")
        _publish(tmp, site)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if progress:
        progress(f"vendored {sum(1 for _ in site.glob('*.dist-info'))} distribution(s)")
    return site


def resolve(requirements: list[str], target: Target, cache_dir: Path, constraints: Path, *,
            what: str, progress=None) -> list[str]:
    """`requirements` with everything they depend on for `target`, as `name==version` lines, every
    version taken from `constraints` (a dependency it does not pin is an error: add the pin).

    pip resolves once (`install --dry-run --report`); the answer is cached per constraints,
    requirements and target, so later builds run no pip at all.
    """
    text = constraints.read_text(encoding="utf-8")
    key = hashlib.sha256(f"{text}\n{sorted(requirements)}\n{target.key}".encode()).hexdigest()[:16]
    lock = cache_dir / "locks" / f"{target.key}-{key}.txt"
    if lock.is_file():
        return lock.read_text(encoding="utf-8").split()
    if progress:
        progress(f"resolving {what} for {target.key} from {constraints.name}")
    work = _private_dir(lock)
    try:
        report = work / "report.json"
        proc = _pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
                     "--target", str(work / "unused"), *target.platform_args(), "-c", str(constraints),
                     *requirements])
        if proc.returncode != 0:
            raise VendorError(f"cannot resolve {what} for {target.key}: {_last_error(proc)}"
                              " (the first build needs the package index; later ones use the cache)")
        installs = json.loads(report.read_text(encoding="utf-8"))["install"]
        pins = {canonical(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)",
                                                                       text, re.MULTILINE)}
        lines = []
        for item in installs:
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            if pins.get(canonical(name)) != version:
                raise VendorError(f"{constraints}: no pin for {name} (needed by {what} on {target.key});"
                                  f" add {name}=={version}")
            lines.append(f"{name}=={version}")
        lines.sort(key=lambda line: canonical(line.split("==")[0]))
        partial = work / "lock.txt"
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(partial, lock)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


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
