"""Bytecode for artifacts: unchecked-hash .pyc files, compiled by the Python the function runs on.

A function's code is read-only where it runs (Lambda's /var/task, an Azure run-from-package mount),
so without bytecode in the artifact every cold start compiles every module it imports. Each .py
file of an artifact gets `__pycache__/<name>.<cache tag>.pyc`, compiled by an interpreter of the
cloud's Python version (the bytecode format is fixed within a major.minor version) as an
unchecked-hash pyc (PEP 552): the import system uses it without comparing timestamps, which a
zip's fixed ones would defeat, and without hashing the source.

Where the interpreter comes from: the running one when its version is the cloud's, else
OMNICLOUD_PYTHON_<major>_<minor> (e.g. OMNICLOUD_PYTHON_3_12), `python<X.Y>` on PATH, then pyenv's
versions. It compiles in a fresh `python -I -S` (in this process when the running interpreter is
the cloud's: the same interpreter writes the same bytes), and each pyc names its source by its path
in the zip, so a pyc depends only on its source and that interpreter (marshal writes sets in a
fixed order since 3.11): artifacts stay byte-identical for a given interpreter. manifest.json names
it; a machine without one ships sources only, and the manifest says so.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Run by the cloud's interpreter: compiles the jobs read from stdin, prints those that failed.
_WORKER = Path(__file__).with_name("compile_pyc.py")
_PROBE = "import sys; print(sys.implementation.name, sys.implementation.cache_tag, '%d.%d.%d' % sys.version_info[:3])"


class BytecodeError(Exception):
    """A module of the app or the runtime does not compile on the cloud's Python (one line)."""


@dataclass(frozen=True)
class Compiler:
    """An interpreter that compiles bytecode for one Python version."""

    python: Path
    version: str  # "3.12.1"
    tag: str  # "cpython-312"

    @property
    def description(self) -> str:
        return f"CPython {self.version}"

    def pyc_name(self, name: str) -> str:
        """Where the import system looks for `name`'s bytecode: `pkg/__pycache__/mod.<tag>.pyc`."""
        directory, _, filename = name.rpartition("/")
        stem = filename[: -len(".py")]
        return (
            f"{directory}/__pycache__/{stem}.{self.tag}.pyc"
            if directory
            else f"__pycache__/{stem}.{self.tag}.pyc"
        )

    def compile(
        self, sources: list[tuple[str, Path | bytes]], cache_dir: Path
    ) -> list[Path | None]:
        """The pyc of each (name in the zip, source file or bytes), cached by content, in order; None
        for one that does not compile (`failure` says why)."""
        store = self.store(cache_dir)
        found: list[Path | None] = []
        missing: list[tuple[str, Path | bytes, Path]] = []
        for name, source in sources:
            pyc = self._cached(store, name, source)
            if not pyc.is_file() and not pyc.with_suffix(".failed").is_file():
                missing.append((name, source, pyc))
            found.append(pyc)
        if missing:
            self._compile_missing(missing, store)
        return [pyc if pyc is not None and pyc.is_file() else None for pyc in found]

    def store(self, cache_dir: Path) -> Path:
        return cache_dir / "bytecode" / f"{self.tag}-{self.version}"

    @staticmethod
    def _cached(store: Path, name: str, source: Path | bytes) -> Path:
        data = source if isinstance(source, bytes) else source.read_bytes()
        key = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
        return store / key[:2] / f"{key}.pyc"

    def _compile_missing(self, missing: list[tuple[str, Path | bytes, Path]], store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".compile.", dir=store))
        try:
            jobs = []
            for i, (name, source, _) in enumerate(missing):
                if isinstance(source, bytes):
                    path = work / f"{i}.py"
                    path.write_bytes(source)
                    source = path
                jobs.append({"source": str(source), "dfile": name, "out": str(work / f"{i}.pyc")})
            failures = dict(self._run(jobs))
            for i, (name, _, pyc) in enumerate(missing):
                pyc.parent.mkdir(parents=True, exist_ok=True)
                if name in failures:
                    pyc.with_suffix(".failed").write_text(failures[name] + "\n", encoding="utf-8")
                else:
                    os.replace(
                        work / f"{i}.pyc", pyc
                    )  # atomic: a concurrent build never reads half a pyc
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run(self, jobs: list[dict[str, str]]) -> list[list[str]]:
        """[dfile, why] of each job that did not compile. In this process when the interpreter is
        this one (same interpreter, same bytes; no second interpreter to start), else in the cloud's."""
        if self.python == Path(sys.executable):
            from .compile_pyc import compile_jobs

            return compile_jobs(jobs)
        proc = _early.pop(self.python, None) or self.worker()
        stdout, stderr = proc.communicate(json.dumps(jobs))
        if proc.returncode != 0:
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            raise BytecodeError(f"compiling bytecode with {self.python} failed: {tail}")
        return json.loads(stdout.strip().splitlines()[-1])

    def worker(self) -> subprocess.Popen:
        """This interpreter running compile_pyc.py, waiting for its jobs on stdin."""
        return subprocess.Popen([str(self.python), "-I", "-S", str(_WORKER)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def failure(self, name: str, source: Path | bytes, cache_dir: Path) -> str | None:
        """Why `name` did not compile (after `compile`), or None."""
        failed = self._cached(self.store(cache_dir), name, source).with_suffix(".failed")
        return failed.read_text(encoding="utf-8").strip() if failed.is_file() else None


# Workers started ahead by start_early, by interpreter: the next compile hands them its jobs.
_early: dict[Path, subprocess.Popen] = {}


def start_early(compiler: Compiler | None) -> None:
    """Start `compiler`'s worker now, so that its interpreter has started by the time a build has
    jobs for it (`omnicloud package` loads app.yaml and runs the checks meanwhile). Nothing to start
    for the running interpreter, which compiles in this process."""
    if compiler is not None and compiler.python != Path(sys.executable) and compiler.python not in _early:
        _early[compiler.python] = compiler.worker()


def stop_early() -> None:
    """End the workers start_early started that no build used (no jobs: nothing is written)."""
    while _early:
        _, proc = _early.popitem()
        proc.kill()
        proc.communicate()


def _candidates(version: str) -> list[str]:
    """Interpreters that may be `version`, in the order they are tried."""
    found = []
    override = os.environ.get(f"OMNICLOUD_PYTHON_{version.replace('.', '_')}")
    if override:
        found.append(override)
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found += sorted(
        glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}")),
        reverse=True,
    )
    return found


_found: dict[str, Compiler | None] = {}


def compiler_for(version: str, cache_dir: Path | None) -> Compiler | None:
    """An interpreter of Python `version` ("3.12") on this machine, or None. Probes are cached on
    disk (in `cache_dir`) per interpreter file, so a rebuild runs no probe."""
    if version in _found:
        return _found[version]
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable] if version == here else []
    candidates += _candidates(version)
    probes_file = cache_dir / "bytecode" / "interpreters.json" if cache_dir is not None else None
    try:
        probes = json.loads(probes_file.read_text(encoding="utf-8")) if probes_file else {}
    except (OSError, ValueError):
        probes = {}
    compiler = None
    for candidate in candidates:
        try:
            stat = os.stat(candidate)
        except OSError:
            continue
        stamp = f"{candidate}:{stat.st_size}:{stat.st_mtime_ns}"
        probe = probes.get(stamp)
        if probe is None:
            proc = subprocess.run(
                [candidate, "-I", "-S", "-c", _PROBE], capture_output=True, text=True
            )
            probe = probes[stamp] = proc.stdout.split() if proc.returncode == 0 else []
            if probes_file is not None:
                _save(probes_file, probes)
        if len(probe) == 3 and probe[0] == "cpython" and probe[2].rsplit(".", 1)[0] == version:
            compiler = Compiler(Path(candidate), probe[2], probe[1])
            break
    _found[version] = compiler
    return compiler


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)
