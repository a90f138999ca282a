"""App dependencies, checked rather than guessed: every third-party module a handler's static import
closure imports must come from the app's requirements file.

Which requirements file applies to a function: ``<package>/requirements.txt`` of its handler's
top-level package when there is one, otherwise ``requirements.txt`` next to app.yaml. An import is
fine when it is the standard library, ``runtime``, one of the app's own modules, guarded (inside a
``try`` that catches ImportError, or under ``if TYPE_CHECKING:``), or provided by a distribution
that file names directly. What a named distribution provides is read from its installed metadata
(``omnicloud dev`` runs handlers in this environment, so their dependencies are installed here);
a distribution not installed here is taken to provide the module of its own name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .files import AppFiles, file_import_sites, function_closures
from .vendor import canonical, requirement_names

if TYPE_CHECKING:
    from spec.model import AppSpec

REQUIREMENTS = "requirements.txt"
# Provided to every function whatever its requirements say.
ALWAYS_AVAILABLE = frozenset({"runtime", "__future__"})


@dataclass(frozen=True)
class ImportProblem:
    """An import nothing provides, located at its line: `shop/emailer.py:3: imports 'yaml', ...`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def requirements_file(app_dir: Path, handler: str) -> Path | None:
    """The requirements file that applies to `handler` (module:attribute), or None."""
    for candidate in requirement_candidates(app_dir, handler):
        if candidate.is_file():
            return candidate
    return None


def requirement_candidates(app_dir: Path, handler: str) -> list[Path]:
    """Where `handler`'s requirements file may be, first match wins."""
    top = handler.split(":")[0].split(".")[0]
    package = app_dir / top
    return ([package / REQUIREMENTS] if package.is_dir() else []) + [app_dir / REQUIREMENTS]


def _suggested_file(app_dir: Path, handler: str) -> Path:
    """Where to add a missing requirement: the file that applies, else the handler package's."""
    return requirements_file(app_dir, handler) or requirement_candidates(app_dir, handler)[0]


@lru_cache(maxsize=256)
def _provided_by(distribution: str) -> frozenset[str]:
    """Top-level module names an installed distribution provides (its own name when not installed)."""
    names = {distribution.replace("-", "_").lower()}
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return frozenset(names)
    top_level = dist.read_text("top_level.txt")
    if top_level:
        names.update(line.strip() for line in top_level.splitlines() if line.strip())
    for path in dist.files or ():
        first = path.parts[0] if path.parts else ""
        if not first or first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__"):
            continue
        if len(path.parts) > 1 or first.endswith(".py"):
            names.add(first.removesuffix(".py"))
        elif ".cpython-" in first or first.endswith((".so", ".pyd")):
            names.add(first.split(".")[0])
    return frozenset(names)


@lru_cache(maxsize=1)
def _distributions_of_modules() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distribution_for(module: str) -> str | None:
    found = _distributions_of_modules().get(module)
    return sorted(found)[0] if found else None


def _is_app_module(files: AppFiles, top: str) -> bool:
    return files.module_file(top) is not None or (files.root / top).is_dir()


def dependency_problems(
    app: AppSpec, app_dir: Path, shown_dir: Path | None = None, *, files: AppFiles | None = None,
    closures: dict[str, list[str]] | None = None,
) -> list[ImportProblem]:
    """One problem per import of a third-party module that the function's requirements do not provide.

    File names in the messages are relative to `shown_dir` (the app.yaml's directory as the user
    named it; the app directory itself by default). `files` and `closures` (function_closures), when
    given, are the ones the caller's other checks use.
    """
    app_dir = app_dir.resolve()
    files = files or AppFiles.load(app_dir)
    stdlib = sys.stdlib_module_names | set(sys.builtin_module_names)
    problems: dict[str, ImportProblem] = {}
    closures = closures if closures is not None else function_closures(app, files)
    for fname, fn in sorted(app.functions.items()):
        requirements = requirements_file(app_dir, fn.handler)
        declared = (
            requirement_names(requirements.read_text(encoding="utf-8")) if requirements else set()
        )
        provided = set().union(*(_provided_by(name) for name in declared)) if declared else set()
        target = _suggested_file(app_dir, fn.handler)
        for rel in closures[fname]:
            if not rel.endswith(".py") or rel.startswith("runtime/"):
                continue
            for site in _third_party_sites(files, rel):
                top = site.module.split(".")[0]
                if (
                    top in stdlib
                    or top in ALWAYS_AVAILABLE
                    or top in provided
                    or _is_app_module(files, top)
                ):
                    continue
                if canonical(top) in declared:
                    continue
                shown = (shown_dir / rel) if shown_dir is not None else Path(rel)
                distribution = _distribution_for(top)
                what = distribution or f"the distribution that provides {top!r}"
                where = (
                    (shown_dir / target.relative_to(app_dir))
                    if shown_dir is not None
                    else target.relative_to(app_dir)
                )
                problem = ImportProblem(
                    shown.as_posix(),
                    site.line,
                    f"imports {top!r}, which no requirements file of this app provides; add {what} to {where.as_posix()}",
                )
                problems.setdefault(str(problem), problem)
    return sorted(problems.values(), key=lambda p: (p.file, p.line, p.message))


def _third_party_sites(files: AppFiles, rel: str):
    """Absolute, unguarded imports of one app file (relative imports are always the app's own)."""
    return [s for s in file_import_sites(files, rel) if not s.relative and not s.guarded]
