"""Load app.yaml into an AppSpec, reporting every problem as `PATH:LINE:COL: field.path: message`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .model import AppSpec

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an app.yaml, located as precisely as the file allows."""

    file: str
    line: int
    col: int
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        label = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {self.field or '(top)'}: {label}{self.message}"


class SpecError(Exception):
    """Raised with every problem found; `str()` is one line per problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class SourceMap:
    """Where each value of the YAML document sits, keyed by its path (keys and list indexes)."""

    file: str
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """Line and column of `loc`, or of its nearest located ancestor."""
        loc = tuple(loc)
        while True:
            table = self.keys if at_key and loc in self.keys else self.values
            if loc in table:
                return table[loc]
            if not loc:
                return (1, 1)
            loc = loc[:-1]

    def problem(self, loc: Loc, message: str, *, at_key: bool = False, severity: str = "error") -> Problem:
        line, col = self.locate(loc, at_key=at_key)
        return Problem(self.file, line, col, dotted(loc), message, severity)


def dotted(loc: Loc) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


class _Builder:
    """Turns a composed YAML node tree into plain Python values, recording positions."""

    def __init__(self, source: SourceMap):
        self.source = source
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.source.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.SafeLoader.construct_scalar(_LOADER, key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if key is None or not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(self.source.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                dotted(loc), "keys must be plain strings")
                    )
                    continue
                key = str(key)
                child = (*loc, key)
                self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in out:
                    self.problems.append(
                        Problem(self.source.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                dotted(child), f"duplicate key {key!r}; each key may appear once")
                    )
                    continue
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return _LOADER.construct_object(node, deep=True)


_LOADER = yaml.SafeLoader("")


def read_document(path: Path) -> tuple[Any, SourceMap]:
    """Parse YAML at `path`; raise SpecError (never a traceback) for unreadable or malformed files."""
    display = str(path)
    source = SourceMap(display)
    if not path.exists():
        raise SpecError([Problem(display, 1, 1, "", "file not found; pass --app PATH to an app.yaml")])
    if path.is_dir():
        hint = " (it holds an app.yaml: pass that file)" if (path / "app.yaml").exists() else ""
        raise SpecError([Problem(display, 1, 1, "", f"is a directory, not an app.yaml{hint}")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(display, 1, 1, "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8")]) from None
    except OSError as exc:
        raise SpecError([Problem(display, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise SpecError([Problem(display, line, col, "", f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(display, 1, 1, "", f"YAML error: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(display, 1, 1, "", "file is empty; an app.yaml needs at least `name:` and `functions:`")])
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        raise SpecError([Problem(display, 1, 1, "", f"YAML error: {exc}")]) from None
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(data, dict):
        raise SpecError([source.problem((), f"expected a mapping with `name:` and `functions:`, found {type(data).__name__}")])
    return data, source


_FRIENDLY = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected a string",
}


def _pydantic_problems(exc: ValidationError, data: dict, source: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[Loc, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _get(data, loc[:-1])
            allowed = _allowed_fields(loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]!r}?" if guess else (f"; allowed: {', '.join(allowed)}" if allowed else "")
            message = f"unknown field {loc[-1]!r}{hint}"
            del parent
            problem = source.problem(loc, message, at_key=True)
        else:
            message = _FRIENDLY.get(kind) or err["msg"]
            if kind in _FRIENDLY and kind not in ("missing",):
                message = f"{message}, got {_describe(err.get('input'))}"
            if kind.startswith(("greater", "less")) or kind in ("string_pattern_mismatch", "string_too_long", "string_too_short", "literal_error", "too_short", "value_error"):
                message = _value_message(err, loc)
            problem = source.problem(loc, message)
        marker = (loc, problem.message)
        if marker not in seen:
            seen.add(marker)
            problems.append(problem)
    return problems


def _clean_loc(loc: tuple) -> Loc:
    # Pydantic adds union branch tags (e.g. 'str', 'list[str]', 'function-before[...]') into locs.
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in ("str", "int", "list", "dict")):
            continue
        out.append(part)
    return tuple(out)


def _value_message(err: dict, loc: Loc) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = _describe(err.get("input"))
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "name" or (len(loc) == 2 and isinstance(loc[-1], str)):
            return (f"name {err.get('input')!r} is not portable: use lowercase letters, digits and single hyphens,"
                    " starting with a letter (e.g. task-queue)")
        return f"{got} does not match {ctx.get('pattern')}"
    if kind == "string_too_long":
        return f"{got} is longer than {ctx.get('max_length')} characters; shorten it"
    if kind == "string_too_short":
        return f"{got} is shorter than {ctx.get('min_length')} characters"
    if kind == "literal_error":
        return f"{got} is not one of {ctx.get('expected')}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entry; declare one"
    if kind.startswith("greater"):
        return f"{got} is too small: must be {err['msg'].split('be ', 1)[-1]}"
    if kind.startswith("less"):
        return f"{got} is too large: must be {err['msg'].split('be ', 1)[-1]}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_fields(loc: Loc) -> list[str]:
    """Field names allowed at `loc` in the app.yaml model, for 'did you mean' hints."""
    from . import model

    shapes: dict[int, type] = {0: model.AppSpec}
    if len(loc) == 0:
        return list(model.AppSpec.model_fields)
    if len(loc) == 2:
        by_group = {
            "functions": model.FunctionSpec,
            "queues": model.QueueSpec,
            "topics": model.TopicSpec,
            "tables": model.TableSpec,
            "secrets": model.SecretSpec,
        }
        cls = by_group.get(str(loc[0]))
        return list(cls.model_fields) if cls else []
    if len(loc) == 3 and loc[0] == "functions":
        nested = {"queue": model.QueueTrigger, "topic": model.TopicTrigger}
        cls = nested.get(str(loc[2]))
        return list(cls.model_fields) if cls else []
    del shapes
    return []


def load_app(path: str | Path, *, cloud: str | None = None, check_handlers: bool = True) -> AppSpec:
    """Load and validate an app.yaml; raise SpecError listing every problem.

    With `cloud`, also check that cloud's limits and capabilities (see spec.capabilities).
    """
    spec, _warnings = load_app_with_warnings(path, cloud=cloud, check_handlers=check_handlers)
    return spec


def load_app_with_warnings(
    path: str | Path, *, cloud: str | None = None, check_handlers: bool = True
) -> tuple[AppSpec, list[Problem]]:
    from .checks import cross_check

    path = Path(path)
    data, source = read_document(path)
    try:
        spec = AppSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, data, source)) from None
    problems = cross_check(spec, source, app_dir=path.parent, cloud=cloud, check_handlers=check_handlers)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(errors)
    return spec, [p for p in problems if p.severity != "error"]
