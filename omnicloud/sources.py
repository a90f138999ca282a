"""What the checks read from the app's Python modules (imports, clients built with a literal name,
top-level names), parsed once per content and kept in the build cache under the content's hash.

Outside omnicloud.bundle on purpose: spec's handler check reads the same modules, and importing this
imports nothing but the standard library.

Every reader (the handler check in spec, the import closure, the dependency check, the names check)
asks `module_facts`: one parse per content per process, and an unchanged file is not parsed again in
a later run. Entries are named by the hash of the bytes (with this file's own source and the
interpreter's version), so an edited file is a new entry and an old one can never be read for it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

# The layout of an entry. An entry's name also hashes this file's own source and the interpreter's
# version, so a change to what is derived (or to the parser) never reads an older entry.
FORMAT = 1


@functools.cache
def _salt() -> bytes:
    own = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"omnicloud-sources\0{FORMAT}\0{sys.version_info[0]}.{sys.version_info[1]}\0{own}\0".encode()


def cache_dir_for(app_dir: Path) -> Path:
    """The build cache: OMNICLOUD_CACHE_DIR (a shared one makes rebuilds in other checkouts offline
    too), else .omnicloud/cache next to app.yaml."""
    return Path(os.environ.get("OMNICLOUD_CACHE_DIR") or app_dir / ".omnicloud" / "cache")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one step, through a temporary file of this process's own."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp_name, path)


@dataclass(frozen=True)
class ImportStatement:
    """One `import a.b as c` (is_from False, names [("a.b", "c")]) or `from ..m import x` (module
    "m", level 2, names [("x", None)]) at its line."""

    line: int
    is_from: bool
    module: str | None  # `from` imports only; None for `from . import x`
    level: int
    names: tuple[tuple[str, str | None], ...]  # (name, asname)
    guarded: bool  # inside `try: ... except ImportError` or `if TYPE_CHECKING:`


@dataclass(frozen=True)
class LiteralCall:
    """A call of an imported name (`Table("orders")`, `rc.Table(name="orders")`) whose first
    argument, or `name=`, is a string literal; `col` counts characters from 1, as editors do."""

    func: tuple[str, ...]  # the dotted callee, its head a name the module imports
    name: str
    line: int
    col: int


@dataclass(frozen=True)
class SourceError:
    """Why a module could not be read ("read") or parsed ("syntax", "parse")."""

    kind: str
    message: str
    line: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class ModuleFacts:
    imports: tuple[ImportStatement, ...] = ()
    calls: tuple[LiteralCall, ...] = ()
    top_level: tuple[str, ...] | None = ()  # None: it may bind names dynamically (star import, __getattr__)
    error: SourceError | None = None

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, body: dict) -> ModuleFacts:
        """KeyError, TypeError or ValueError for anything but an entry of this FORMAT."""
        if body["format"] != FORMAT:
            raise ValueError("another format")
        error = body["error"]
        return cls(
            imports=tuple(ImportStatement(i["line"], i["is_from"], i["module"], i["level"],
                                          tuple((n, a) for n, a in i["names"]), i["guarded"])
                          for i in body["imports"]),
            calls=tuple(LiteralCall(tuple(c["func"]), c["name"], c["line"], c["col"]) for c in body["calls"]),
            top_level=None if body["top_level"] is None else tuple(body["top_level"]),
            error=None if error is None else SourceError(error["kind"], error["message"], error["line"],
                                                         error["offset"]),
        )


# Content hash -> facts, for this process: reading them again from a file that did not change in
# content costs a read and a hash, never a parse.
_known: dict[str, ModuleFacts] = {}


def module_facts(path: Path, cache_dir: Path | None = None) -> ModuleFacts:
    """The facts of the module at `path`, from its content's entry under `cache_dir`/sources when
    there is a readable one (else parsed, and the entry written). OSError when it cannot be read."""
    data = path.read_bytes()
    digest = hashlib.sha256(_salt() + data).hexdigest()
    facts = _known.get(digest)
    if facts is not None:
        return facts
    entry = cache_dir / "sources" / f"{digest}.json" if cache_dir is not None else None
    if entry is not None:
        try:
            facts = ModuleFacts.from_json(json.loads(entry.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            facts = None  # none yet, or not one this version wrote: derive it again
    if facts is None:
        facts = derive(data)
        if entry is not None:
            try:
                entry.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(entry, json.dumps(facts.to_json()))
            except OSError:
                pass  # a cache that cannot be written only makes the next run parse again
    _known[digest] = facts
    return facts


def derive(data: bytes) -> ModuleFacts:
    """Parse a module's bytes (decoded as Python decodes a source file) and derive its facts."""
    try:
        text = importlib.util.decode_source(data)
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        return ModuleFacts(error=SourceError("read", str(exc)))
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return ModuleFacts(error=SourceError("syntax", str(exc.msg), exc.lineno, exc.offset))
    except ValueError as exc:  # e.g. null bytes
        return ModuleFacts(error=SourceError("parse", str(exc)))
    imports = _imports(tree)
    bound = {alias or (name.split(".")[0] if not i.is_from else name) for i in imports for name, alias in i.names}
    return ModuleFacts(imports=tuple(imports), calls=tuple(_literal_calls(tree, text, bound)),
                       top_level=_top_level_names(tree))


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_BLOCK_NODES = (ast.stmt, ast.excepthandler, ast.match_case)


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


def _imports(tree: ast.Module) -> list[ImportStatement]:
    """Every import statement of the module, anywhere, marked guarded where a failed import is
    expected."""
    found: list[ImportStatement] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            is_from = isinstance(node, ast.ImportFrom)
            found.append(ImportStatement(
                node.lineno, is_from, node.module if is_from else None, node.level if is_from else 0,  # type: ignore[union-attr]
                tuple((a.name, a.asname) for a in node.names), guarded))
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
    return found


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.C` as ["a", "b", "C"]; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _literal_name(call: ast.Call) -> ast.Constant | None:
    """The resource-name argument of a client call, when it is a string literal."""
    if call.args:
        first = call.args[0]
        return first if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    for keyword in call.keywords:
        if keyword.arg == "name":
            value = keyword.value
            return value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
    return None


def _literal_calls(tree: ast.Module, text: str, bound: set[str]) -> list[LiteralCall]:
    lines = text.splitlines()
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts = _dotted(node.func)
        if not parts or parts[0] not in bound:
            continue
        literal = _literal_name(node)
        if literal is None:
            continue
        # ast columns count UTF-8 bytes; editors count characters.
        line = lines[literal.lineno - 1] if literal.lineno <= len(lines) else ""
        col = len(line.encode("utf-8")[: literal.col_offset].decode("utf-8", "replace")) + 1
        calls.append(LiteralCall(tuple(parts), literal.value, literal.lineno, col))
    return calls


def _top_level_names(tree: ast.Module) -> tuple[str, ...] | None:
    """Names the module binds at top level; None when it can bind names dynamically (star import,
    __getattr__)."""
    names: set[str] = set()
    dynamic = False

    def bind(target: ast.AST) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)

    def visit(body: list[ast.stmt]) -> None:
        nonlocal dynamic
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if node.name == "__getattr__":
                    dynamic = True
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Global):
                        names.update(inner.names)
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                bind(node.target)
            elif isinstance(node, ast.AugAssign):
                bind(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        dynamic = True
                    else:
                        names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                bind(node.target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                for handler in node.handlers:  # type: ignore[attr-defined]
                    if handler.name:
                        names.add(handler.name)
                    visit(handler.body)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)
            for inner in ast.walk(node):
                if isinstance(inner, ast.NamedExpr):
                    bind(inner.target)
            for attr in ("body", "orelse", "finalbody"):
                block = getattr(node, attr, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    visit(block)

    visit(tree.body)
    return None if dynamic else tuple(sorted(names))
