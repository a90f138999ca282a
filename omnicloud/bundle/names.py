"""Resource names in code, checked against app.yaml: a runtime client built with a literal name
(`Table("orders")`, `Topic("order-events")`, or the client of any registered kind) in a function's
static import closure must name a resource that function is linked to, as the kind it is.

Which classes are clients comes from the kind registry (`Kind.client`, "module:Class"), so a kind a
package adds is checked too. Calls are found by parsing (`ast`), never by running the code: a client
is recognised through the imports of the module that calls it (`from runtime import Table`,
`import runtime.clients as rc; rc.Table(...)`), including names an app module imports and another
imports from it. A name that is not a string literal (built at run time, passed in) is not guessed.
A module several functions import is checked for each of them (see name_problems).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.links import nearest

from .files import AppFiles, function_closures, import_bindings, module_name

if TYPE_CHECKING:
    from omnicloud.registry import Registry
    from omnicloud.sources import ModuleFacts
    from spec.model import AppSpec


@dataclass(frozen=True)
class NameProblem:
    """`shop/api.py:12:17: function 'api' uses table 'ordrs' but is not linked to it; ...`."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


@dataclass(frozen=True)
class ClientUse:
    """One client built with a literal resource name: `Table("orders")` at line:col of the name."""

    kind: str
    name: str
    line: int
    col: int


def client_paths(registry: Registry) -> dict[str, tuple[str, str]]:
    """Dotted path of each registered kind's client class -> (kind, class name), with the paths a
    parent package re-exports it under (`runtime.Table` as well as `runtime.clients.Table`)."""
    paths: dict[str, tuple[str, str]] = {}
    for kind in registry.kinds.values():
        if not kind.client:
            continue
        module, _, attribute = kind.client.partition(":")
        paths[f"{module}.{attribute}"] = (kind.name, attribute)
        try:
            cls = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue  # the exact path still counts
        parts = module.split(".")
        for i in range(1, len(parts)):
            package = ".".join(parts[:i])
            try:
                exported = getattr(importlib.import_module(package), attribute, None)
            except ImportError:
                continue
            if exported is cls:
                paths[f"{package}.{attribute}"] = (kind.name, attribute)
    return paths


class _Resolver:
    """The dotted paths of the names app modules bind by import, followed through app modules."""

    def __init__(self, files: AppFiles):
        self.files = files
        self._bindings: dict[str, dict[str, str] | None] = {}

    def facts(self, module: str) -> ModuleFacts | None:
        """What an app module's source says; None for another module, or one that does not parse
        (the handler check reports that)."""
        rel = self.files.module_file(module)
        if rel is None:
            return None
        facts = self.files.facts(rel)
        return facts if facts.error is None else None

    def bindings(self, module: str) -> dict[str, str] | None:
        """Local name -> the dotted path it was imported as, for an app module (None otherwise)."""
        if module not in self._bindings:
            facts = self.facts(module)
            is_package = (self.files.module_file(module) or "").endswith("__init__.py")
            self._bindings[module] = None if facts is None else import_bindings(facts, module, is_package)
        return self._bindings[module]

    def resolve(self, path: str) -> str:
        """`shop.db.Table` -> `runtime.Table` when shop/db.py imported it from there."""
        for _ in range(32):  # re-exports chain; a cycle stops here
            module, _, attribute = path.rpartition(".")
            bindings = self.bindings(module) if module else None
            if not bindings or attribute not in bindings:
                return path
            path = bindings[attribute]
        return path


def client_uses(
    module: str, clients: dict[str, tuple[str, str]], resolver: _Resolver
) -> list[ClientUse]:
    """Every client of `clients` that app module `module` builds with a literal name."""
    facts, bindings = resolver.facts(module), resolver.bindings(module)
    if facts is None or bindings is None:
        return []
    uses = []
    for call in facts.calls:
        if call.func[0] not in bindings:  # `from . import x` at the app's top: bound to nothing known
            continue
        path = resolver.resolve(".".join([bindings[call.func[0]], *call.func[1:]]))
        if path in clients:
            uses.append(ClientUse(clients[path][0], call.name, call.line, call.col))
    return uses


def uses_by_function(app: AppSpec, app_dir: Path, *, files: AppFiles | None = None,
                     closures: dict[str, list[str]] | None = None) -> dict[str, list[tuple[str, ClientUse]]]:
    """Function name -> (file, use) for every client its handler's import closure builds with a
    literal name; a module shared by several functions is read once and listed for each. `files`
    and `closures` (function_closures), when given, are the ones the caller's other checks use."""
    from omnicloud.registry import registry

    files = files or AppFiles.load(app_dir.resolve())
    closures = closures if closures is not None else function_closures(app, files)
    clients = client_paths(registry())
    resolver = _Resolver(files)
    uses_in: dict[str, list[ClientUse]] = {}
    found: dict[str, list[tuple[str, ClientUse]]] = {}
    for fname, closure in closures.items():
        found[fname] = []
        for rel in closure:
            if not rel.endswith(".py") or rel.startswith("runtime/"):
                continue
            if rel not in uses_in:
                uses_in[rel] = client_uses(module_name(rel), clients, resolver)
            found[fname] += [(rel, use) for use in uses_in[rel]]
    return found


def name_problems(app: AppSpec, app_dir: Path, shown_dir: Path | None = None, *, files: AppFiles | None = None,
                  closures: dict[str, list[str]] | None = None) -> list[NameProblem]:
    """One problem per literal resource name a function's code uses without being linked to it
    (or as another kind than app.yaml declares it). Paths are shown relative to `shown_dir`.

    A module several functions import (a module of several handlers, a helpers module) may build
    each one's clients: a name there is refused for a function not linked to it only when none of
    the functions importing the module is. Which code path reaches which client is not followed;
    should a function reach a sibling's client, the run-time LinkError names the nearest link."""
    from omnicloud.registry import registry

    kinds = registry()
    class_of = {kind: cls for kind, cls in client_paths(kinds).values()}
    found = uses_by_function(app, app_dir, files=files, closures=closures)
    linked_in: dict[str, set[str]] = {}  # file -> every name the functions importing it link
    for fname, uses in found.items():
        for rel, _ in uses:
            linked_in.setdefault(rel, set()).update(app.functions[fname].links)
    problems = set()
    for fname, uses in found.items():
        links = app.functions[fname].links
        for rel, use in uses:
            message = _unlinked(app, fname, links, use, use.name in linked_in[rel], kinds, class_of)
            if message:
                shown = (shown_dir / rel) if shown_dir is not None else Path(rel)
                problems.add(NameProblem(shown.as_posix(), use.line, use.col, message))
    return sorted(problems, key=lambda p: (p.file, p.line, p.col, p.message))


def _unlinked(
    app: AppSpec,
    fname: str,
    links: dict,
    use: ClientUse,
    shared: bool,
    registry: Registry,
    class_of: dict[str, str],
) -> str | None:
    """Why function `fname` may not use `use`, or None when it is linked to it as that kind (or,
    `shared`, another function importing the same module is)."""
    declared_as = app.kind_of(use.name)
    if declared_as is not None and declared_as != use.kind:
        other = class_of.get(declared_as)
        instead = f"; use {other}({use.name!r})" if other else ""
        return (
            f"function {fname!r} uses {use.kind} {use.name!r}, but {use.name!r} is a {declared_as}"
            f" in app.yaml{instead}"
        )
    if use.name in links or shared:
        return None
    same_kind = [name for name in links if app.kind_of(name) == use.kind]
    guess = nearest(use.name, same_kind)
    if guess is None and declared_as is None:
        guess = nearest(use.name, list(app.section(use.kind)))
    hint = f"; did you mean {guess!r}?" if guess else ""
    if guess or declared_as is not None:
        todo = f"add it under functions.{fname}.links in app.yaml"
    else:
        todo = (
            f"declare it under {registry.kind(use.kind).plural}: and add it under functions.{fname}.links"
            " in app.yaml"
        )
    return f"function {fname!r} uses {use.kind} {use.name!r} but is not linked to it{hint} ({todo})"
