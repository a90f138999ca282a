"""Which of the app's files go into an artifact: the handler's import closure, minus ignored files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omnicloud.sources import ImportStatement, ModuleFacts, module_facts

if TYPE_CHECKING:
    import pathspec

    from spec.model import AppSpec

# Never shipped, whatever .omnicloudignore says.
ALWAYS_EXCLUDED_DIRS = frozenset({
    "__pycache__", ".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules", ".omnicloud", "tests", "test",
    ".pytest_cache", ".ruff_cache", ".mypy_cache", ".tox", ".nox", ".idea", ".vscode", ".tools", "dist", "build",
})
ALWAYS_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".DS_Store")
IGNORE_FILE = ".omnicloudignore"


@dataclass(frozen=True)
class AppFiles:
    """The app directory with its ignore rules applied, as one check or build sees it."""

    root: Path
    ignore: pathspec.PathSpec | None  # None: no .omnicloudignore
    cache_dir: Path | None = None  # where module facts are kept across runs (omnicloud.sources)
    _module_files: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _facts: dict[str, ModuleFacts] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, root: Path, cache_dir: Path | None = None) -> AppFiles:
        ignore_file = root / IGNORE_FILE
        if not ignore_file.is_file():
            return cls(root=root.resolve(), ignore=None, cache_dir=cache_dir)
        import pathspec  # only for an app that has ignore rules: the build's start-up is shorter without it

        lines = ignore_file.read_text(encoding="utf-8").splitlines()
        return cls(root=root.resolve(), ignore=pathspec.PathSpec.from_lines("gitignore", lines), cache_dir=cache_dir)

    def facts(self, rel: str) -> ModuleFacts:
        """What an app module's source says (omnicloud.sources: parsed once per content), read once
        for the life of this object."""
        if rel not in self._facts:
            self._facts[rel] = module_facts(self.root / rel, self.cache_dir)
        return self._facts[rel]

    def excluded(self, rel: str, is_dir: bool = False) -> bool:
        parts = rel.split("/")
        if any(p in ALWAYS_EXCLUDED_DIRS or p.endswith(".egg-info") for p in (parts if is_dir else parts[:-1])):
            return True
        if not is_dir and rel.endswith(ALWAYS_EXCLUDED_SUFFIXES):
            return True
        return self.ignore is not None and self.ignore.match_file(rel + ("/" if is_dir else ""))

    def walk(self, directory: Path) -> list[str]:
        """Relative paths (posix) of every shipped file below `directory`, sorted."""
        out = []
        for dirpath, dirnames, filenames in os.walk(directory):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = sorted(d for d in dirnames if not self.excluded(rel_dir + d, is_dir=True))
            out += [rel_dir + f for f in filenames if not self.excluded(rel_dir + f)]
        return sorted(out)

    def module_file(self, module: str) -> str | None:
        """The app file of a module (`shop/db.py`, `shop/__init__.py`), None when the app has none
        or ignores it; looked up once per module for the life of this object (one build)."""
        if module not in self._module_files:
            self._module_files[module] = self._find_module_file(module)
        return self._module_files[module]

    def _find_module_file(self, module: str) -> str | None:
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                rel = candidate.relative_to(self.root).as_posix()
                return None if self.excluded(rel) else rel
        return None


@dataclass(frozen=True)
class ImportSite:
    """One imported module name, where it is imported, and how."""

    module: str  # absolute name (relative imports resolved)
    line: int
    relative: bool = False
    guarded: bool = False  # inside `try: ... except ImportError` or `if TYPE_CHECKING:`


def _absolute(statement: ImportStatement, package: str) -> str:
    """The module a `from ... import` names, relative imports resolved against `package`."""
    if not statement.level:
        return statement.module or ""
    base_parts = package.split(".") if package else []
    if statement.level > 1:
        base_parts = base_parts[: len(base_parts) - (statement.level - 1)]
    base = ".".join(base_parts)
    return f"{base}.{statement.module}" if statement.module else base


def import_bindings(facts: ModuleFacts, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> the dotted path an import statement binds it to, anywhere in the module
    (`from runtime import Table as T` binds T to runtime.Table; `import runtime.clients` binds
    runtime); star imports bind nothing knowable."""
    package = module if is_package else module.rpartition(".")[0]
    bound: dict[str, str] = {}
    for statement in facts.imports:
        if not statement.is_from:
            for name, asname in statement.names:
                if asname:
                    bound[asname] = name
                else:
                    top = name.split(".")[0]
                    bound[top] = top
            continue
        target = _absolute(statement, package)
        for name, asname in statement.names:
            if name != "*" and target:
                bound[asname or name] = f"{target}.{name}"
    return bound


def function_closures(app: AppSpec, files: AppFiles) -> dict[str, list[str]]:
    """Each function's handler import closure (see import_closure), by function name; functions
    sharing a handler module share one. A module that does not parse gives [] (the handler check
    reports it)."""
    by_module: dict[str, list[str]] = {}
    closures: dict[str, list[str]] = {}
    for name, fn in sorted(app.functions.items()):
        module = fn.handler.split(":")[0]
        if module not in by_module:
            try:
                by_module[module] = import_closure(files, module)
            except ValueError:
                by_module[module] = []
        closures[name] = by_module[module]
    return closures


def import_sites(facts: ModuleFacts, module: str, is_package: bool) -> list[ImportSite]:
    """Every import statement of a module, with relative imports made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    sites: list[ImportSite] = []
    for statement in facts.imports:
        line, guarded = statement.line, statement.guarded
        if not statement.is_from:
            sites.extend(ImportSite(name, line, guarded=guarded) for name, _ in statement.names)
            continue
        target = _absolute(statement, package)
        if target:
            relative = bool(statement.level)
            sites.append(ImportSite(target, line, relative, guarded))
            # `from pkg import mod` may import a submodule.
            sites.extend(ImportSite(f"{target}.{name}", line, relative, guarded)
                         for name, _ in statement.names if name != "*")
    return sites


def file_import_sites(files: AppFiles, rel: str) -> list[ImportSite]:
    """import_sites of one app file (its module name from its path); [] for a file that does not
    parse (import_closure and the handler check report it)."""
    facts = files.facts(rel)
    return import_sites(facts, module_name(rel), rel.endswith("__init__.py")) if facts.error is None else []


def module_name(rel: str) -> str:
    """`shop/db.py` -> `shop.db`, `shop/__init__.py` -> `shop`."""
    return rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def import_closure(files: AppFiles, entry_module: str, skip_top: frozenset[str] = frozenset({"runtime"})) -> list[str]:
    """The app's own files a handler module needs: its static import closure plus the
    `__init__.py` of every package on the way, and data files of the packages it touches.

    Modules outside the app (stdlib, third-party) are left to vendoring; `runtime` is added whole.
    """
    seen_modules: set[str] = set()
    shipped: set[str] = set()
    packages: set[str] = set()
    pending = [entry_module]
    while pending:
        module = pending.pop()
        if module in seen_modules or module.split(".")[0] in skip_top:
            continue
        seen_modules.add(module)
        parts = module.split(".")
        for i in range(1, len(parts)):
            init = files.module_file(".".join(parts[:i]))
            if init and init.endswith("__init__.py"):
                shipped.add(init)
                packages.add(init.rpartition("/")[0])
                pending.append(".".join(parts[:i]))
        rel = files.module_file(module)
        if rel is None:
            continue
        shipped.add(rel)
        is_package = rel.endswith("__init__.py")
        if is_package:
            packages.add(rel.rpartition("/")[0])
        error = files.facts(rel).error
        if error is not None:
            raise ValueError(f"{rel}:{error.line}: syntax error: {error.message}; fix it before packaging"
                             if error.kind == "syntax" else f"{rel}: {error.message}; fix it before packaging")
        pending.extend({site.module for site in file_import_sites(files, rel)})
    # Data files (templates, schemas) of the packages the closure touches ship too, including
    # those in plain subdirectories; sub-packages ship only if imported.
    for package in sorted(packages):
        for rel in files.walk(files.root / package):
            if rel.endswith(".py"):
                continue
            between = rel[len(package) + 1 :].split("/")[:-1]
            dirs = [f"{package}/{'/'.join(between[: i + 1])}" for i in range(len(between))]
            if not any((files.root / d / "__init__.py").is_file() for d in dirs):
                shipped.add(rel)
    return sorted(shipped)
