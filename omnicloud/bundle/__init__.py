"""Deterministic per-cloud function artifacts (`omnicloud package`, and `pulumi up` / preview).

Each function gets its own zip: the app modules its handler imports (static import closure),
`runtime/` (core plus that cloud's adapter and backend), the cloud's entry shim, and what that
cloud's Python runtime lacks: the app's declared dependencies and the SDKs of the kinds the
function links (AWS: vendored, boto3 comes with Lambda; Azure: vendored into
`.python_packages/lib/site-packages`; Google Cloud: pinned in `requirements.txt`, installed by
Cloud Build). Entries are sorted, timestamps fixed and permissions normalised, so the same inputs
give byte-identical zips anywhere.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from omnicloud.sources import cache_dir_for, write_atomically

from .artifact import Artifact
from .bytecode import BytecodeError, Compiler, compiler_for
from .deps import dependency_problems, requirement_candidates, requirements_file
from .files import IGNORE_FILE, AppFiles, function_closures, import_closure
from .vendor import (
    LAMBDA_PROVIDED,
    Target,
    VendorError,
    canonical,
    requirement_names,
    resolve,
    vendor,
)

if TYPE_CHECKING:
    from spec.model import AppSpec

__all__ = ["Artifact", "PackageError", "build_artifacts", "build_dir", "check_code", "code_problems", "cloud_sdks",
           "write_manifest", "PYTHON_VERSIONS", "SIZE_LIMITS"]

# Where this omnicloud is installed: the checkout (editable) or site-packages (a wheel). Every
# artifact's runtime/ comes from here, never from the app's requirements.
ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME_DIR = ROOT / "runtime"
# Every SDK version an artifact gets comes from here (the versions the tests run): the
# repository's constraints.txt, shipped in the package (a symlink in the checkout).
CONSTRAINTS = (Path(__file__).parent / "constraints.txt").resolve()
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
CLOUDS = ("aws", "azure", "gcp")

# The Python each cloud runs (the providers use the same versions). Azure: the Function App's
# runtime is python 3.11 on Linux (providers/azure.py); its dependencies "must be built on an
# ubuntu machine using the same python version as the production app" and installed in
# ./.python_packages/lib/site-packages, and a Flex Consumption app runs the deployed package as
# is, with no remote build (learn.microsoft.com/azure/azure-functions/python-build-options,
# .../deployment-zip-push: "Flex Consumption plan: managed package deployment"). Hence manylinux
# x86_64 wheels for cp311.
PYTHON_VERSIONS = {"aws": "3.12", "azure": "3.11", "gcp": "3.12"}
# What each cloud's Python runtime already has: never vendored, never listed. Lambda ships boto3
# (docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); the Azure Functions host brings
# azure-functions. Cloud Functions pip-installs the zip's requirements.txt at deploy time, and
# recommends pinning versions and listing functions-framework explicitly (docs.cloud.google.com/
# functions/docs/writing/specifying-dependencies-python): so everything, pinned, is listed there.
RUNTIME_PROVIDED = {"aws": LAMBDA_PROVIDED, "azure": frozenset({"azure-functions"}), "gcp": frozenset()}
FUNCTIONS_FRAMEWORK = "functions-framework"
AZURE_FUNCTIONS = "azure-functions"

# (zipped, unzipped) bytes.
SIZE_LIMITS = {
    # Lambda: 50 MB for a zip uploaded directly, 250 MB unzipped (Lambda quotas).
    "aws": (50 * 2**20, 250 * 2**20),
    # Flex Consumption documents no package limit; stay well within blob run-from-package use.
    "azure": (1024 * 2**20, 4096 * 2**20),
    # Cloud Functions: 100 MB compressed sources, 500 MB uncompressed sources plus modules.
    "gcp": (100 * 2**20, 500 * 2**20),
}


class PackageError(Exception):
    """Packaging cannot proceed; the message is one line that says what to do."""


# The bundler's own code and templates, and the kinds that read app.yaml (spec and the registry):
# a change to them can change every artifact.
BUNDLER_FILES = ("omnicloud/bundle/*.py", "omnicloud/sources.py", "runtime/adapters/azure_templates.py", "runtime/adapters/templates/*",
                 "spec/*.py", "omnicloud/registry.py", "omnicloud/kinds.py")


@dataclass
class BuildInputs:
    """What a build read (files) and which directory listings it depended on, for stamp.py."""

    files: set[Path]
    directories: set[Path]

    @classmethod
    def empty(cls) -> BuildInputs:
        inputs = cls(set(), set())
        for pattern in BUNDLER_FILES:
            inputs.files.update(ROOT.glob(pattern))
        inputs.files.add(CONSTRAINTS)
        return inputs

    def entries(self, app_dir: Path, entries: list[Entry]) -> None:
        for e in entries:
            if e.source is not None:
                self.files.add(e.source)
                parent = e.source.parent
                while parent != app_dir and app_dir in parent.parents:
                    self.directories.add(parent)
                    parent = parent.parent


@dataclass(frozen=True)
class Entry:
    """One file of an artifact: its name in the zip and where its bytes come from."""

    name: str
    source: Path | None = None
    data: bytes | None = None
    executable: bool = False

    def read(self) -> bytes:
        return self.data if self.data is not None else self.source.read_bytes()  # type: ignore[union-attr]

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.stat().st_size  # type: ignore[union-attr]


def _runtime_entries(cloud: str) -> list[Entry]:
    """runtime/ minus the other clouds' adapters and backends, and templates (rendered at build)."""
    others = [c for c in (*CLOUDS, "local") if c != cloud]
    skip = {f"adapters/{c}.py" for c in others} | {f"backends/{c}.py" for c in others}
    entries = []
    for dirpath, dirnames, filenames in os.walk(RUNTIME_DIR):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "templates"))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = path.relative_to(RUNTIME_DIR).as_posix()
            if filename.endswith((".pyc", ".pyo")) or rel in skip:
                continue
            entries.append(Entry(f"runtime/{rel}", source=path))
    return entries


def cloud_sdks(app: AppSpec, links: dict, cloud: str) -> list[str]:
    """The SDK distributions a function with `links` needs on `cloud` and its runtime lacks.

    Each backend declares what it imports per link kind (`SDKS` in runtime/backends/<cloud>.py).
    """
    declared = importlib.import_module(f"runtime.backends.{cloud}").SDKS
    kinds = {app.kind_of(name) for name in links}
    names = {dist for kind in kinds if kind for dist in declared.get(kind, ())}
    return sorted(n for n in names if canonical(n) not in RUNTIME_PROVIDED[cloud])


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", re.MULTILINE)


def pinned(names: list[str]) -> list[str]:
    """`name==version` for each name, from constraints.txt."""
    pins = {canonical(m.group(1)): m.group(2) for m in _PIN.finditer(CONSTRAINTS.read_text(encoding="utf-8"))}
    missing = [n for n in names if canonical(n) not in pins]
    if missing:
        raise PackageError(f"{CONSTRAINTS}: no pin for {', '.join(missing)}; add it with ==")
    return [f"{n}=={pins[canonical(n)]}" for n in names]


def _with_lock(app_requirements: str, source: str, lock: list[str], what: str) -> str:
    """The app's requirements plus the locked SDK lines it does not already name; a pin of the app
    that disagrees with the lock is an error (pip could not install both)."""
    app_pins = {canonical(m.group(1)): m.group(2) for m in _PIN.finditer(app_requirements)}
    named = requirement_names(app_requirements)
    lines = [ln for ln in app_requirements.splitlines() if ln.strip()]
    for line in lock:
        name, _, version = line.partition("==")
        key = canonical(name)
        if key in app_pins and app_pins[key] != version:
            raise PackageError(f"{source}: pins {name}=={app_pins[key]}, but {what} need {line}"
                               f" ({CONSTRAINTS.name}); pin {line} or drop the line")
        if key not in named:
            lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


_COMMENT = re.compile(r"(^|\s)#.*$")
_EDITABLE = re.compile(r"^(?:-e|--editable)(?:\s+|=)(?P<target>\S+?)(?:\[[^\]]*\])?$")


def _installs_omnicloud(text: str, base: Path) -> bool:
    """Whether a requirements line installs omnicloud itself: by name (from an index, a wheel's or
    an sdist's URL) or as this checkout, editable (the lines `omnicloud init` writes)."""
    editable = _EDITABLE.match(text)
    if not editable:
        return "omnicloud" in requirement_names(text)
    target = editable["target"]
    if target.startswith("file:"):
        target = unquote(urlsplit(target).path)
    elif "://" in target:  # a VCS or remote URL: not this checkout
        return False
    return (base / target).resolve() == ROOT


def _function_requirements(text: str, base: Path) -> str:
    """A requirements file (in directory `base`) as a function's artifact takes it: without blank
    and comment lines, and without omnicloud itself. A project's requirements.txt names omnicloud
    for its own tools (the CLI, the Pulumi program); its functions get runtime/ once, from this
    installation, and none of those tools."""
    kept = [line for line in text.splitlines()
            if (bare := _COMMENT.sub("", line).strip()) and not _installs_omnicloud(bare, base)]
    return "".join(line + "\n" for line in kept)


def _site_entries(site: Path, prefix: str) -> list[Entry]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(site):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = path.relative_to(site).as_posix()
            if rel == ".complete" or filename.endswith((".pyc", ".pyo")):
                continue
            entries.append(Entry(prefix + rel, source=path, executable=os.access(path, os.X_OK) and filename.endswith(".so")))
    return entries


def _entry_shims(cloud: str, function: str, handler: str, trigger: str, http_prefix: str | None,
                 requirements: str, timeout: int, cache_dir: Path) -> list[Entry]:
    """The cloud's entry file(s); `requirements` is the zip's requirements.txt (GCP, Azure)."""
    header = f'"""Entry point of function {function} on {cloud} (generated by `omnicloud package`)."""\n\n'
    if cloud == "aws":
        text = header + ("from runtime.adapters.aws import make_handler\n\n"
                         f"handler = make_handler({handler!r}, {trigger!r})\n")
        return [Entry("omnicloud_entry.py", data=text.encode())]
    if cloud == "gcp":
        text = header + ("from runtime.adapters.gcp import make_entry\n\n"
                         f"handle = make_entry({handler!r}, {trigger!r})\n")
        return [Entry("main.py", data=text.encode()), Entry("requirements.txt", data=requirements.encode())]
    from runtime.adapters.azure_templates import render_host_json

    # Not installed by the platform (the package runs as deployed): it records what
    # .python_packages holds, and the azure-functions the host provides.
    reqs = _merge_requirements(requirements, pinned([AZURE_FUNCTIONS]))
    return [
        Entry("function_app.py", data=_function_app(function, handler, trigger, http_prefix, cache_dir).encode()),
        Entry("host.json", data=render_host_json(trigger, timeout).encode()),
        Entry("requirements.txt", data=reqs.encode()),
    ]


def _function_app(function: str, handler: str, trigger: str, http_prefix: str | None, cache_dir: Path) -> str:
    """render_function_app's function_app.py, kept in the build cache under the hash of all it
    depends on (its arguments, the templates, the renderer's source, jinja2's version): a rebuild
    then imports no jinja2, the larger part of an Azure rebuild's fixed cost."""
    from importlib.metadata import version

    from runtime.adapters import azure_templates

    digest = hashlib.sha256(json.dumps([function, handler, trigger, http_prefix, version("jinja2")]).encode())
    for path in [Path(azure_templates.__file__), *sorted(azure_templates.TEMPLATES.iterdir())]:
        if path.is_file():
            digest.update(f"\0{path.name}\0".encode() + path.read_bytes())
    cached = cache_dir / "shims" / f"{digest.hexdigest()}.py"
    try:
        return cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = azure_templates.render_function_app(function, handler, trigger, http_prefix)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, text)
    except OSError:
        pass  # the next build renders it again
    return text


def _merge_requirements(app_requirements: str, extra: list[str]) -> str:
    present = requirement_names(app_requirements)
    lines = [ln for ln in app_requirements.splitlines() if ln.strip()]
    lines += [req for req in extra if canonical(req.split("==")[0]) not in present]
    return "\n".join(lines) + "\n"


def write_zip(entries: list[Entry], target: Path, template: SiteZip | None = None) -> Artifact:
    """A byte-reproducible zip: sorted names, fixed timestamps, normalised permissions. With
    `template`, the zip starts as a copy of it (its entries compressed once, when it was made) and
    `entries` follow."""
    seen: set[str] = set(template.names) if template else set()
    dupes = sorted({e.name for e in entries if e.name in seen or seen.add(e.name)})  # add: None, so falsy
    if dupes:
        raise PackageError(f"{target.name}: two sources for {', '.join(dupes[:3])}; rename the app module that clashes")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of this build's own: two builds into one directory never write one file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if template is not None:
            shutil.copyfile(template.path, tmp)
        digest = _write_entries(entries, tmp, "a" if template is not None else "w")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Artifact(path=target, sha256=digest, bytes=target.stat().st_size)


def _write_entries(entries: list[Entry], tmp: Path, mode: str = "w") -> str:
    with zipfile.ZipFile(tmp, mode) as zf:
        for entry in sorted(entries, key=lambda e: e.name):
            info = zipfile.ZipInfo(entry.name, FIXED_TIME)
            info.external_attr = ((0o755 if entry.executable else 0o644) | 0o100000) << 16
            info.create_system = 3  # unix, whatever the building machine is
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entry.read(), compresslevel=6)
    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- vendored trees, compressed once --------------------------------------------------------------
#
# A function's vendored dependencies (and their bytecode) are the bulk of its zip and the same for
# every function with the same requirements: they are compressed once into a site zip, cached next
# to the vendored tree, and each function's zip starts as a copy of it. A site zip depends only on
# the vendored tree, the prefix and the bytecode interpreter, so copies are byte-identical too.
SITE_ZIP_FORMAT = 1


@dataclass(frozen=True)
class SiteZip:
    """A vendored tree as zip entries under `prefix`, compressed once: the start of each zip."""

    path: Path
    names: list[str]
    unzipped: int
    by_top: dict[str, int]

    def stamp(self, stats: dict[Path, tuple[int, int]]) -> str:
        size, mtime = _stat(self.path, stats)
        return f"{self.path}:{size}:{mtime}"


def site_zip(site: Path, prefix: str, compiler: Compiler | None, cache_dir: Path) -> SiteZip:
    """The site zip of the vendored tree `site` (made on first use, then reused)."""
    key = hashlib.sha256(f"{site.name}\0{prefix}\0{compiler.tag + '-' + compiler.version if compiler else 'src'}"
                         f"\0{SITE_ZIP_FORMAT}".encode()).hexdigest()[:20]
    path = cache_dir / "site-zips" / f"{site.name}-{key}.zip"
    index = path.with_suffix(".json")
    try:
        meta = json.loads(index.read_text(encoding="utf-8"))
        if path.is_file():
            return SiteZip(path, meta["names"], meta["unzipped"], meta["by_top"])
    except (OSError, ValueError, KeyError):
        pass
    entries = _site_entries(site, prefix)
    entries += _bytecode_entries(entries, compiler, cache_dir, strict=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _write_entries(entries, Path(tmp_name))
        by_top: dict[str, int] = {}
        for e in entries:
            top = _top(e.name)
            by_top[top] = by_top.get(top, 0) + e.size()
        made = SiteZip(path, sorted(e.name for e in entries), sum(by_top.values()), by_top)
        write_atomically(index, json.dumps({"names": made.names, "unzipped": made.unzipped, "by_top": by_top}))
        os.replace(tmp_name, path)  # after its index: a site zip on disk always has one
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return made


def _top(name: str) -> str:
    """What _check_size sums sizes by: the top directory (a package under .python_packages)."""
    top = name.split("/")[0] if "/" in name else name
    return "/".join(name.split("/")[:4]) if top == ".python_packages" else top


def _bytecode_entries(entries: list[Entry], compiler: Compiler | None, cache_dir: Path, *,
                      strict: bool) -> list[Entry]:
    """A pyc entry for each .py entry, compiled by `compiler` (none without one). `strict`: a module
    that does not compile is an error (the app's, the runtime's); else it ships without bytecode
    (vendored files that never import on that Python, such as a package's Python 2 leftovers)."""
    if compiler is None:
        return []
    sources = [(e.name, e.data if e.data is not None else e.source) for e in entries if e.name.endswith(".py")]
    try:
        compiled = compiler.compile(sources, cache_dir)  # type: ignore[arg-type]
    except BytecodeError as exc:
        raise PackageError(str(exc)) from None
    out = []
    for (name, source), pyc in zip(sources, compiled, strict=True):
        if pyc is not None:
            out.append(Entry(compiler.pyc_name(name), source=pyc))
        elif strict:
            why = compiler.failure(name, source, cache_dir) or "does not compile"  # type: ignore[arg-type]
            raise PackageError(f"{name}: {why} on Python {compiler.version}, the cloud's; fix it")
    return out


def _stat(source: Path, stats: dict[Path, tuple[int, int]]) -> tuple[int, int]:
    """(size, mtime_ns) of a source file, looked up once per build: every function shares runtime/
    and the vendored packages."""
    found = stats.get(source)
    if found is None:
        st = source.stat()
        found = stats[source] = (st.st_size, st.st_mtime_ns)
    return found


def _inputs_key(entries: list[Entry], stats: dict[Path, tuple[int, int]] | None = None,
                template: SiteZip | None = None) -> str:
    """What the zip is built from: names, and each source's size and mtime (content for generated
    files), and the site zip it starts from. A changed key rebuilds; the zip itself never depends
    on mtimes."""
    stats = {} if stats is None else stats
    digest = hashlib.sha256(template.stamp(stats).encode() if template else b"")
    for e in sorted(entries, key=lambda e: e.name):
        if e.data is not None:
            stamp = hashlib.sha256(e.data).hexdigest()
        else:
            size, mtime = _stat(e.source, stats)  # type: ignore[arg-type]
            stamp = f"{e.source}:{size}:{mtime}"
        digest.update(f"{e.name}\0{stamp}\0{e.executable}\n".encode())
    return digest.hexdigest()


def _reuse(key: str, target: Path) -> Artifact | None:
    marker = target.with_name(target.name + ".inputs")
    try:
        recorded, sha256, size = marker.read_text().split()
    except (OSError, ValueError):
        return None
    if recorded != key or not target.is_file() or target.stat().st_size != int(size):
        return None
    return Artifact(path=target, sha256=sha256, bytes=int(size))


def _remember(key: str, artifact: Artifact) -> None:
    marker = artifact.path.with_name(artifact.path.name + ".inputs")
    write_atomically(marker, f"{key} {artifact.sha256} {artifact.bytes}\n")


def _check_size(cloud: str, function: str, entries: list[Entry], artifact: Artifact,
                stats: dict[Path, tuple[int, int]] | None = None, template: SiteZip | None = None) -> None:
    zipped_max, unzipped_max = SIZE_LIMITS[cloud]
    stats = {} if stats is None else stats
    unzipped = sum(len(e.data) if e.data is not None else _stat(e.source, stats)[0] for e in entries)  # type: ignore[arg-type]
    unzipped += template.unzipped if template else 0
    if artifact.bytes <= zipped_max and unzipped <= unzipped_max:
        return
    by_top: dict[str, int] = dict(template.by_top) if template else {}
    for e in entries:
        top = _top(e.name)
        by_top[top] = by_top.get(top, 0) + e.size()
    largest = ", ".join(f"{name} {size / 2**20:.1f} MB" for name, size in sorted(by_top.items(), key=lambda kv: -kv[1])[:3])
    raise PackageError(
        f"{function}: the {cloud} artifact is {artifact.bytes / 2**20:.1f} MB zipped / {unzipped / 2**20:.1f} MB unzipped,"
        f" over {zipped_max / 2**20:.0f} / {unzipped_max / 2**20:.0f} MB; largest: {largest}"
        " (drop dependencies or list files in .omnicloudignore)")


def _progress(message: str) -> None:
    print(f"omnicloud package: {message}", file=sys.stderr, flush=True)


def build_dir(app_dir: Path, cloud: str) -> Path:
    """Where `pulumi up` and preview build: OMNICLOUD_BUILD_DIR/<cloud> when set (the tests point it
    at a temporary directory), else .omnicloud/build/<cloud> next to app.yaml."""
    root = os.environ.get("OMNICLOUD_BUILD_DIR")
    return Path(root) / cloud if root else app_dir / ".omnicloud" / "build" / cloud


def code_problems(app: AppSpec, app_dir: Path, shown_dir: Path | None = None) -> list:
    """What `validate` and `package` refuse in the handlers' code, one located line each: an import
    no requirement provides (deps.py), a literal resource name the function is not linked to (names.py).
    Both read the same import closures, and each module's facts come from the build cache."""
    from .names import name_problems

    app_dir = app_dir.resolve()
    files = AppFiles.load(app_dir, cache_dir_for(app_dir))
    closures = function_closures(app, files)
    return [*dependency_problems(app, app_dir, shown_dir, files=files, closures=closures),
            *name_problems(app, app_dir, shown_dir, files=files, closures=closures)]


def check_code(app: AppSpec, app_dir: Path, shown_dir: Path | None = None) -> None:
    """PackageError (one located line per problem) when code_problems finds any."""
    problems = code_problems(app, app_dir, shown_dir)
    if problems:
        raise PackageError("\n".join(str(p) for p in problems))


def build_artifacts(app: AppSpec, app_dir: Path, cloud: str, out_dir: Path | None = None, *,
                    architecture: str | None = None, python_version: str | None = None,
                    progress=_progress, inputs: BuildInputs | None = None, checked: bool = False
                    ) -> dict[str, Artifact]:
    """Build one artifact per function of `app` for `cloud`; return them by function name.

    `python_version` overrides the cloud's Python for vendoring and bytecode (tests use it to load
    the artifact in this interpreter). `inputs` collects what the build depended on (stamp.py).
    `checked`: the caller has just run code_problems on this app and found none (else check_code runs).
    """
    app_dir = app_dir.resolve()
    out_dir = (out_dir or build_dir(app_dir, cloud)).resolve()
    cache_dir = cache_dir_for(app_dir)
    if not checked:
        check_code(app, app_dir)
    files = AppFiles.load(app_dir, cache_dir)
    version = python_version or PYTHON_VERSIONS[cloud]
    compiler = compiler_for(version, cache_dir)
    if compiler is None and progress:
        progress(f"no Python {version} on this machine: the {cloud} artifacts ship sources only, so each cold"
                 f" start compiles them (install it, e.g. `pyenv install {version}`, or set"
                 f" OMNICLOUD_PYTHON_{version.replace('.', '_')})")
    runtime = _runtime_entries(cloud)
    if inputs is not None:
        inputs.files.add(app_dir / IGNORE_FILE)
        inputs.directories.update({app_dir, RUNTIME_DIR, *(p for p in RUNTIME_DIR.rglob("*") if p.is_dir())})
        if compiler is not None:
            inputs.files.add(compiler.python)
    vendored: dict[tuple[str, str], Path] = {}
    site_zips: dict[tuple[Path, str], SiteZip] = {}
    locks: dict[tuple[tuple[str, ...], str], list[str]] = {}
    closures: dict[str, list[str]] = {}  # functions sharing a handler module share its closure
    planned: dict[str, tuple[list[Entry], SiteZip | None]] = {}
    for name, fn in sorted(app.functions.items()):
        module = fn.handler.split(":")[0]
        if module not in closures:
            try:
                closures[module] = import_closure(files, module)
            except ValueError as exc:
                raise PackageError(str(exc)) from None
        app_files = closures[module]
        entries = [Entry(rel, source=app_dir / rel) for rel in app_files if not rel.startswith("runtime/")]
        entries += runtime
        requirements_path = requirements_file(app_dir, fn.handler)
        if inputs is not None:
            inputs.files.update(requirement_candidates(app_dir, fn.handler))
        source = requirements_path.relative_to(app_dir).as_posix() if requirements_path else "requirements.txt"
        requirements = (_function_requirements(requirements_path.read_text(encoding="utf-8"),
                                                requirements_path.parent) if requirements_path else "")
        arch = architecture or (fn.architecture if cloud == "aws" else "x86_64")
        target = Target(version, "aarch64" if arch == "arm64" else "x86_64")
        sdks = cloud_sdks(app, fn.links, cloud)
        if cloud == "gcp":
            sdks = [FUNCTIONS_FRAMEWORK, *sdks]
        if sdks:
            lock_key = (tuple(sdks), target.key)
            if lock_key not in locks:
                try:
                    locks[lock_key] = resolve(pinned(sdks), target, cache_dir, CONSTRAINTS,
                                              what=f"the {cloud} SDKs {', '.join(sdks)}", progress=progress)
                except VendorError as exc:
                    raise PackageError(str(exc)) from None
            requirements = _with_lock(requirements, source, locks[lock_key], f"the {cloud} SDKs")
        site_prefix = {"aws": "", "azure": ".python_packages/lib/site-packages/"}.get(cloud)
        template = None
        if requirements.strip() and site_prefix is not None:
            key = (requirements, target.key)
            if key not in vendored:
                exclude = LAMBDA_PROVIDED if cloud == "aws" else frozenset()
                try:
                    vendored[key] = vendor(requirements, source, target, cache_dir, exclude=exclude,
                                           progress=progress)
                except VendorError as exc:
                    raise PackageError(str(exc)) from None
            if (vendored[key], site_prefix) not in site_zips:
                site_zips[vendored[key], site_prefix] = site_zip(vendored[key], site_prefix, compiler, cache_dir)
            template = site_zips[vendored[key], site_prefix]
        entries += _entry_shims(cloud, name, fn.handler, fn.trigger, fn.http, requirements, fn.timeout, cache_dir)
        planned[name] = (entries, template)
        if inputs is not None:
            inputs.entries(app_dir, entries)
            if template is not None:
                inputs.files.add(template.path)
    # Bytecode for every function's own modules at once: one compiler process for what the cache lacks.
    own = _unique_py(planned)
    pycs = dict(zip(own, _bytecode_entries([e for _, e in own.items()], compiler, cache_dir, strict=True),
                    strict=False)) if compiler else {}
    artifacts: dict[str, Artifact] = {}
    stats: dict[Path, tuple[int, int]] = {}
    for name, (entries, template) in planned.items():
        entries = entries + [pycs[_identity(e)] for e in entries if _identity(e) in pycs]
        key = _inputs_key(entries, stats, template)
        artifact = _reuse(key, out_dir / f"{name}.zip")
        if artifact is None:
            artifact = write_zip(entries, out_dir / f"{name}.zip", template)
            _remember(key, artifact)
        _check_size(cloud, name, entries, artifact, stats, template)
        names = [e.name for e in entries] + (template.names if template else [])
        artifacts[name] = replace(artifact, names=tuple(sorted(names)))
    return artifacts


def _identity(entry: Entry) -> tuple[str, Path | bytes | None]:
    return entry.name, entry.data if entry.data is not None else entry.source


def _unique_py(planned: dict[str, tuple[list[Entry], SiteZip | None]]) -> dict[tuple[str, Path | bytes | None], Entry]:
    """Each .py entry of the planned zips once (the runtime and shared modules are in several zips;
    a generated entry file differs per function, so it is one per content)."""
    unique: dict[tuple[str, Path | bytes | None], Entry] = {}
    for entries, _ in planned.values():
        for e in entries:
            if e.name.endswith(".py"):
                unique.setdefault(_identity(e), e)
    return unique


def write_manifest(cloud: str, artifacts: dict[str, Artifact], out_dir: Path, *,
                   python_version: str | None = None) -> Path:
    """manifest.json: {"cloud", "python", "artifacts": {function: {path, sha256, bytes, files}}}.

    "python" says which Python the artifacts are for ("version", the cloud runtime's) and which
    bytecode they carry ("bytecode": the cache tag of their pycs, null for sources only;
    "compiled_by": the interpreter that compiled them).
    """
    version = python_version or PYTHON_VERSIONS[cloud]
    compiler = compiler_for(version, None)
    body: dict = {"cloud": cloud, "artifacts": {}}
    tags = set()
    for name, artifact in sorted(artifacts.items()):
        names = artifact.names
        if names is None:
            with zipfile.ZipFile(artifact.path) as zf:
                names = zf.namelist()
        tags.update(n.rsplit(".", 2)[-2] for n in names if "/__pycache__/" in f"/{n}" and n.endswith(".pyc"))
        body["artifacts"][name] = {"path": artifact.path.name, "sha256": artifact.sha256, "bytes": artifact.bytes,
                                   "files": len(names)}
    shipped = compiler is not None and tags == {compiler.tag}
    body["python"] = {"version": version, "bytecode": compiler.tag if shipped else None,  # type: ignore[union-attr]
                      "compiled_by": compiler.description if shipped else None}  # type: ignore[union-attr]
    path = out_dir / "manifest.json"
    write_atomically(path, json.dumps(body, indent=2, sort_keys=True) + "\n")
    return path
