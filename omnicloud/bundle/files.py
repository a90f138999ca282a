"""Which of the app's files go into an artifact: the handler's import closure, minus ignored files."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    """The app directory with its ignore rules applied."""

    root: Path
    ignore: pathspec.PathSpec | None  # None: no .omnicloudignore

    @classmethod
    def load(cls, root: Path) -> AppFiles:
        ignore_file = root / IGNORE_FILE
        if not ignore_file.is_file():
            return cls(root=root.resolve(), ignore=None)
        import pathspec  # only for an app that has ignore rules: the build's start-up is shorter without it

        lines = ignore_file.read_text(encoding="utf-8").splitlines()
        return cls(root=root.resolve(), ignore=pathspec.PathSpec.from_lines("gitignore", lines))

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


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(t, ast.Name) and t.id in _IMPORT_ERRORS for t in types):
            return True
    return False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a `from ... import` names, relative imports resolved against `package`."""
    if not node.level:
        return node.module or ""
    base_parts = package.split(".") if package else []
    if node.level > 1:
        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
    base = ".".join(base_parts)
    return f"{base}.{node.module}" if node.module else base


def import_bindings(tree: ast.AST, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> the dotted path an import statement binds it to, anywhere in the module
    (`from runtime import Table as T` binds T to runtime.Table; `import runtime.clients` binds
    runtime); star imports bind nothing knowable."""
    package = module if is_package else module.rpartition(".")[0]
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, package)
            for alias in node.names:
                if alias.name != "*" and target:
                    bound[alias.asname or alias.name] = f"{target}.{alias.name}"
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


_BLOCK_NODES = (ast.stmt, ast.excepthandler, ast.match_case)


def import_sites(tree: ast.AST, module: str, is_package: bool) -> list[ImportSite]:
    """Every import statement of a parsed module, with relative imports made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    sites: list[ImportSite] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            sites.extend(ImportSite(alias.name, node.lineno, guarded=guarded) for alias in node.names)
            return
        if isinstance(node, ast.ImportFrom):
            target = _absolute(node, package)
            if target:
                sites.append(ImportSite(target, node.lineno, bool(node.level), guarded))
                # `from pkg import mod` may import a submodule.
                sites.extend(ImportSite(f"{target}.{alias.name}", node.lineno, bool(node.level), guarded)
                             for alias in node.names if alias.name != "*")
            return
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            inner = guarded or _catches_import_error(node)  # type: ignore[arg-type]
            for child in node.body:  # type: ignore[attr-defined]
                visit(child, inner)
            for part in (*node.handlers, *node.orelse, *node.finalbody):  # type: ignore[attr-defined]
                visit(part, guarded)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, guarded)
            return
        # Imports are statements: only blocks of statements (bodies, handlers, match cases) can
        # hold one, so expressions are never walked.
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _BLOCK_NODES):
                visit(child, guarded)

    visit(tree, False)
    return sites


_parsed: dict[tuple[Path, int, int], tuple[ImportSite, ...]] = {}


def file_import_sites(path: Path, module: str, is_package: bool) -> tuple[ImportSite, ...]:
    """import_sites of a file, parsed once per content (size and mtime) however often a build asks:
    every function's closure and the dependency check read the same modules. SyntaxError as ast."""
    stat = path.stat()
    key = (path, stat.st_size, stat.st_mtime_ns)
    sites = _parsed.get(key)
    if sites is None:
        sites = _parsed[key] = tuple(import_sites(ast.parse(path.read_text(encoding="utf-8")), module, is_package))
    return sites


def _imported_modules(path: Path, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules `module` imports (statically; relative imports resolved)."""
    return {site.module for site in file_import_sites(path, module, is_package)}


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
        try:
            pending.extend(_imported_modules(files.root / rel, module, is_package))
        except SyntaxError as exc:
            raise ValueError(f"{rel}:{exc.lineno}: syntax error: {exc.msg}; fix it before packaging") from None
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
