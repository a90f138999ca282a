"""Load app.yaml into an AppSpec, reporting every problem as `PATH:LINE:COL: field.path: message`."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runtime.links import nearest

from .model import APP_NAME_MAX, NAME_MAX, NAME_PATTERN, AppSpec

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
        self.problems = sort_problems(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Problems in file order, each distinct line once."""
    seen: set[str] = set()
    out = []
    for problem in sorted(problems, key=lambda p: (p.line, p.col, p.field)):
        text = str(problem)
        if text not in seen:
            seen.add(text)
            out.append(problem)
    return out


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of the YAML document sits, keyed by its path."""

    file: str
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    scalars: set[Loc] = field(default_factory=set)

    def locate(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """Line and column of `loc` (its key with `at_key`), or of its nearest located ancestor's key."""
        loc = tuple(loc)
        if at_key and loc in self.keys:
            return self.keys[loc]
        if loc in self.values:
            return self.values[loc]
        while loc:
            loc = loc[:-1]
            if loc in self.scalars:  # a short form (`queue: jobs`) stands for the whole mapping
                return self.values[loc]
            if loc in self.keys:
                return self.keys[loc]
            if loc in self.values:
                return self.values[loc]
        return (1, 1)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False, severity: str = "error") -> Problem:
        line, col = self.locate(loc, at_key=at_key)
        for i in range(1, len(loc)):
            if loc[:i] in self.scalars:
                loc = loc[:i]
                break
        return Problem(self.file, line, col, dotted(loc), message, severity)


def dotted(loc: Loc) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# YAML: the 1.2 core schema (only true/false are booleans, `on`/`yes`/`no` stay strings, no dates,
# no sexagesimal numbers), which is what app teams expect and what editors' YAML servers use.


class _Resolver(yaml.resolver.BaseResolver):
    pass


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


try:
    from yaml.cyaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None


def _compose_with_libyaml(text: str) -> yaml.Node | None:
    """The same node tree as _Composer's, from PyYAML's libyaml parser (about ten times faster on a
    large app.yaml), or None when libyaml is not there or the text is not plain, valid YAML: then
    _Composer parses it, so every error keeps the pure-Python parser's message and position."""
    if _CParser is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    composer = _CComposer(text)
    try:
        return composer.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        composer.dispose()


if _CParser is not None:

    class _CComposer(_CParser, _Resolver):
        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)


_TAG = "tag:yaml.org,2002:"
_MAX_NODES = 100_000  # alias expansion guard ("billion laughs")


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        return text.lower() == "true"
    if tag == _TAG + "int":
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)
    if tag == _TAG + "float":
        lowered = text.lower()
        if lowered.endswith("inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        return float(text)
    raise _Unsupported(node, f"YAML tag {tag!r} is not supported here; write a plain value")


class _Unsupported(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(message)
        self.node = node


class _Builder:
    """Turns a composed YAML node tree into plain Python values, recording positions."""

    def __init__(self, source: SourceMap):
        self.source = source
        self.problems: list[Problem] = []
        self.active: set[int] = set()
        self.count = 0

    def at(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def fail(self, node: yaml.Node, loc: Loc, message: str) -> None:
        line, col = self.at(node)
        self.problems.append(Problem(self.source.file, line, col, dotted(loc), message))

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise _Unsupported(node, "the document expands to too many values (aliases repeated too often)")
        self.source.values.setdefault(loc, self.at(node))
        if id(node) in self.active:
            raise _Unsupported(node, "an alias refers to the mapping or list that contains it; YAML here must be a tree")
        if isinstance(node, yaml.ScalarNode):
            self.source.scalars.add(loc)
            return _scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag not in (_TAG + "seq",):
                    raise _Unsupported(node, f"YAML tag {node.tag!r} is not supported here; write a plain list")
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            if node.tag not in (_TAG + "map",):
                raise _Unsupported(node, f"YAML tag {node.tag!r} is not supported here; write a plain mapping")
            return self.mapping(node, loc)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, tuple[int, int]] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _TAG + "null":
                self.fail(key_node, loc, "a key must be a plain name (this one is a mapping, a list or empty)")
                continue
            key = key_node.value  # keys keep their text: `on:`, `123:` and `true:` are the names written
            child = (*loc, key)
            if key in first:
                line, _ = first[key]
                self.fail(key_node, child, f"duplicate key {key!r} (first at line {line}); each key may appear once")
                continue
            first[key] = self.at(key_node)
            self.source.keys[child] = self.at(key_node)
            out[key] = self.build(value_node, child)
        # `<<: *defaults` fills in only keys the mapping does not set itself; earlier merges win.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    self.fail(merge, (*loc, "<<"), "`<<:` merges a mapping (or a list of mappings), e.g. `<<: *defaults`")
                    continue
                for key_node, value_node in src.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value not in out and key_node.tag != _TAG + "merge":
                        child = (*loc, key_node.value)
                        self.source.keys.setdefault(child, self.at(key_node))
                        out[key_node.value] = self.build(value_node, child)
        return out


def _yaml_hint(problem: str, text: str, line: int) -> str:
    current = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if "\t" in problem or "\\t" in problem or ("\t" in current and "cannot start any token" in problem):
        return "; indent with spaces, not tabs"
    if "alias" in problem or "anchor" in problem:
        return "; a value starting with * or & must be quoted, e.g. schedule: '*/5 * * * *'"
    if "mapping values are not allowed" in problem:
        return "; a value containing ': ' must be quoted, or a key is missing its own line"
    if "expected <block end>" in problem:
        return "; this line's indentation does not match the lines around it, align it with its siblings"
    if "could not find expected ':'" in problem:
        return "; every line in a mapping needs `key: value`"
    if "found character '@'" in problem or "found character '`'" in problem:
        return "; quote values that start with @ or `"
    return ""


def _compose(text: str, fail) -> yaml.Node | None:
    """The node tree of `text` from the pure-Python parser; a SpecError (via `fail`) for bad YAML."""
    composer = None
    try:
        composer = _Composer(text)  # its reader checks every character first: a ReaderError
        return composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        what = what.replace("\t", "\\t")
        raise fail(f"YAML syntax error: {what}{_yaml_hint(what, text, line)}", line, col, "(yaml)") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise fail(f"character #x{exc.character if isinstance(exc.character, int) else ord(exc.character):04x}"
                   " is not allowed in YAML; remove it", line, col, "(yaml)") from None
    except yaml.YAMLError as exc:
        raise fail(f"YAML error: {' '.join(str(exc).split())}", where="(yaml)") from None
    finally:
        if composer is not None:
            composer.dispose()


def read_document(path: Path) -> tuple[Any, SourceMap]:
    """Parse YAML at `path`; raise SpecError (never a traceback) for unreadable or malformed files."""
    display = str(path)
    source = SourceMap(display)

    def fail(message: str, line: int = 1, col: int = 1, where: str = "(file)") -> SpecError:
        return SpecError([Problem(display, line, col, where, message)])

    if not path.exists():
        siblings = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
        close = [n for n in difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.75)
                 if n.endswith((".yaml", ".yml"))]
        hint = f"; did you mean {close[0]!r}?" if close else "; pass --app PATH to an app.yaml"
        raise fail(f"file not found{hint}")
    if path.is_dir():
        inside = next((n for n in ("app.yaml", "app.yml") if (path / n).is_file()), None)
        hint = f"; pass {str(path / inside)!r}" if inside else ""
        raise fail(f"is a directory, not an app.yaml{hint}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror}") from None
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("is a binary file, not YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise fail(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8", line, col) from None
    node = _compose_with_libyaml(text)
    if node is None:
        node = _compose(text, fail)
    if node is None:
        raise fail("file is empty (or only comments); an app.yaml needs at least `name:` and `functions:`")
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except _Unsupported as exc:
        line, col = builder.at(exc.node)
        raise fail(str(exc), line, col, "(yaml)") from None
    except RecursionError:
        raise fail("the document nests too deeply", where="(yaml)") from None
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(data, dict):
        raise SpecError([source.problem((), "expected a mapping with `name:` and `functions:` at the top,"
                                            f" found {_describe(data)}")])
    return data, source


# ---------------------------------------------------------------------------------------------
# Pydantic errors -> one line each, in the app team's words.

# What each place in app.yaml holds (a `*` matches any name or index): the app and its functions
# here, each kind's section from the kind (omnicloud.registry.Kind.expected).
_EXPECTED_APP: list[tuple[tuple[str, ...], str]] = [
    (("name",), "the app name, e.g. `name: shop`"),
    (("functions",), "a mapping of function name -> settings, e.g. `functions: {api: {handler: app.api:app, http: /}}`"),
    (("functions", "*"), "a mapping of settings (handler and one trigger: http, queue, topic or schedule)"),
    (("functions", "*", "handler"), "module:attribute, e.g. functions.api:app"),
    (("functions", "*", "memory"), "a whole number of MB, e.g. 512"),
    (("functions", "*", "timeout"), "a whole number of seconds, e.g. 30"),
    (("functions", "*", "min_instances"), "a whole number of instances, e.g. 1"),
    (("functions", "*", "max_instances"), "a whole number of instances, e.g. 50"),
    (("functions", "*", "reserved_concurrency"), "a whole number of concurrent executions, e.g. 20"),
    (("functions", "*", "http"), "a path prefix, e.g. / or /api"),
    (("functions", "*", "schedule"), "`every N minutes|hours|days` or a quoted 5-field cron, e.g. '0 3 * * *'"),
    (("functions", "*", "queue", "name"), "a queue name"),
    (("functions", "*", "queue", "batch_size"), "a whole number of messages, e.g. 10"),
    (("functions", "*", "topic", "name"), "a topic name"),
    (("functions", "*", "topic", "filter"), "a mapping of attribute -> value, e.g. {type: task.completed}"),
    (("functions", "*", "topic", "max_retries"), "a whole number of retries, e.g. 5"),
    (("functions", "*", "links"), "a mapping of resource name -> verbs, e.g. {orders: [read, write]}"),
    (("functions", "*", "links", "*"), "a list of verbs, e.g. [read]"),
    (("functions", "*", "env"), "a mapping of variable name -> string, e.g. {LOG_LEVEL: info}"),
]


def _expected_places() -> list[tuple[tuple[str, ...], str]]:
    from omnicloud.registry import registry

    verbs = registry().verbs()
    listed = ", ".join(verbs[:-1]) + f" or {verbs[-1]}" if len(verbs) > 1 else ", ".join(verbs)
    places = [*_EXPECTED_APP, (("functions", "*", "links", "*", "*"), f"a verb: {listed}")]
    for kind in registry().resource_kinds():
        places += list(kind.expected_texts().items())
    return places


# Fields people put in the wrong place, or under another name.
_MOVED: dict[str, str] = {
    "batch_size": "batch_size belongs to the trigger: `queue: {name: ..., batch_size: 10}`",
    "filter": "filter belongs to the trigger: `topic: {name: ..., filter: {type: ...}}`",
    "visibility_timeout": "visibility_timeout belongs to the queue, under `queues: {name: {visibility_timeout: ...}}`",
    "max_retries": "max_retries belongs to the queue, under `queues: {name: {max_retries: ...}}`, or to a topic"
                   " subscriber's trigger: `topic: {name: ..., max_retries: ...}`",
    "environment": "use `env:`", "variables": "use `env:`", "vars": "use `env:`",
    "permissions": "use `links:` (resource -> verbs)", "access": "use `links:` (resource -> verbs)",
    "policies": "use `links:` (resource -> verbs)", "grants": "use `links:` (resource -> verbs)",
    "memory_size": "use `memory:` (MB)", "memory_mb": "use `memory:` (MB)", "timeout_seconds": "use `timeout:` (seconds)",
    "cron": "use `schedule:` (a cron or `every N minutes`)", "rate": "use `schedule: every N minutes`",
    "path": "use `http: /prefix`", "route": "use `http: /prefix`", "routes": "use `http: /prefix` and a Router in the handler",
    "trigger": "name the trigger itself: http, queue, topic or schedule", "triggers": "a function has one trigger: http, queue, topic or schedule",
    "events": "use `topic:` or `queue:`", "runtime": "every function runs Python 3.12; remove it",
    "region": "the region is set per stack (Pulumi config), not in app.yaml", "cloud": "the cloud is chosen per stack (Pulumi.<stack>.yaml)",
}

_UNITS = {"memory": " MB", "timeout": " seconds", "visibility_timeout": " seconds", "retention": " seconds"}


def _match(pattern: tuple[str, ...], loc: Loc) -> bool:
    return len(pattern) == len(loc) and all(p == "*" or p == part for p, part in zip(pattern, loc, strict=True))


def _expected(loc: Loc) -> str | None:
    for pattern, text in _expected_places():
        if _match(pattern, loc):
            return text
    return None


def _describe(value: Any) -> str:
    from .model import _describe as describe

    return describe(value)


def _allowed_fields(loc: Loc) -> list[str]:
    """Field names allowed in the mapping at `loc`, for 'did you mean' hints."""
    from omnicloud.registry import registry

    from . import model

    shape: Any = {
        (): registry().app_model(),
        ("functions", "*"): model.FunctionSpec,
        ("functions", "*", "queue"): model.QueueTrigger,
        ("functions", "*", "topic"): model.TopicTrigger,
        **{(kind.section, "*"): kind.model for kind in registry().resource_kinds()},
    }
    for pattern, cls in shape.items():
        if _match(pattern, loc):
            return list(cls.model_fields)
    return []


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    guess = nearest(name, choices)
    return f"; did you mean {guess!r}?" if guess is not None else ""


def _portable_name(value: str) -> str:
    fixed = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    fixed = re.sub(r"^[0-9-]+", "", fixed)
    return fixed


def _name_message(value: Any, loc: Loc, kind: str, ctx: dict) -> str:
    is_app = loc == ("name",)
    limit = APP_NAME_MAX if is_app else NAME_MAX
    what = "app name" if is_app else "name"
    rule = (f"use lowercase letters, digits and single hyphens, starting with a letter, at most {limit} characters"
            " (each cloud derives its physical names from it)")
    if kind == "string_too_long":
        return f"{what} {value!r} is {len(value)} characters, over {ctx.get('max_length')}; shorten it"
    if kind == "string_too_short":
        return f"{what} {value!r} is too short: at least {ctx.get('min_length')} characters"
    fixed = _portable_name(str(value))
    hint = f"; e.g. {fixed!r}" if fixed and fixed != value and re.fullmatch(NAME_PATTERN, fixed) else ""
    return f"{what} {value!r} is not portable: {rule}{hint}"


def _pattern_message(value: Any, loc: Loc, pattern: str) -> str:
    from .model import ENV_NAME_PATTERN, FILTER_KEY_PATTERN

    if pattern == NAME_PATTERN:
        return _name_message(value, loc, "string_pattern_mismatch", {})
    if pattern == ENV_NAME_PATTERN:
        return f"env name {value!r} must be letters, digits and _, not starting with a digit, e.g. LOG_LEVEL"
    if pattern == FILTER_KEY_PATTERN:
        return (f"filter attribute {value!r} must be letters, digits, _ and -, starting with a letter or _"
                " (the subset every cloud's filter syntax accepts)")
    return f"{value!r} must be an attribute name: letters, digits and _, starting with a letter or _, e.g. pk"


def _range_message(err: dict, loc: Loc) -> str:
    ctx = err.get("ctx") or {}
    unit = _UNITS.get(str(loc[-1]), "")
    value = err.get("input")
    if "ge" in ctx:
        return f"{value}{unit} is too small: use at least {ctx['ge']}{unit}"
    if "gt" in ctx:
        return f"{value}{unit} is too small: use more than {ctx['gt']}{unit}"
    if "le" in ctx:
        return f"{value}{unit} is too large: use at most {ctx['le']}{unit}"
    return f"{value}{unit} is too large: use less than {ctx.get('lt')}{unit}"


def _problem_for(err: dict, source: SourceMap, data: dict) -> Problem:
    raw_loc = tuple(err["loc"])
    at_key = "[key]" in raw_loc
    # Pydantic adds validator and union-branch tags to locs ('[key]', 'function-before[...]', 'str').
    loc: Loc = tuple(p for p in raw_loc if not (isinstance(p, str) and (p == "[key]" or "[" in p)))
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}

    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_fields(loc[:-1])
        hint = did_you_mean(name, allowed)
        if not hint and loc[0] == "topics" and name in ("max_retries", "filter"):
            hint = (f"; a topic has no {name} of its own: each subscriber sets it on its trigger,"
                    f" `topic: {{name: {loc[1]}, {name}: ...}}`")
        elif not hint and name == "max_retries" and loc[-2:-1] == ("queue",):
            hint = "; max_retries belongs to the queue, under `queues: {name: {max_retries: ...}}`"
        elif not hint and name in _MOVED:
            hint = f"; {_MOVED[name]}"
        elif not hint:
            hint = f"; allowed: {', '.join(allowed)}" if allowed else "; this mapping takes no settings, use {}"
        return source.problem(loc, f"unknown field {name!r}{hint}", at_key=True)
    if kind == "missing":
        name = str(loc[-1])
        example = {"name": "`name: my-app`", "functions": "`functions:` with at least one function",
                   "handler": "`handler: module:attribute`, e.g. functions.api:app", "queue": "the queue's `name:`",
                   }.get(name, f"`{name}:`")
        if len(loc) == 4 and loc[2] in ("queue", "topic"):
            example = f"`name:` of the {loc[2]}"
        return source.problem(loc[:-1], f"required field {name!r} is missing; add {example}", at_key=True)
    if kind == "trigger_count":
        found = ctx.get("found") or []
        if not found:
            return source.problem(loc, "has no trigger; give it exactly one of http, queue, topic or schedule", at_key=True)
        return source.problem((*loc, found[1]), f"a function has exactly one trigger, this one has {' and '.join(found)};"
                              " split it into one function per trigger", at_key=True)
    if kind == "omni":
        return source.problem(loc, err["msg"], at_key=at_key)
    if kind in ("string_pattern_mismatch",):
        return source.problem(loc, _pattern_message(value, loc, ctx.get("pattern", "")), at_key=at_key)
    if kind in ("string_too_long", "string_too_short") and isinstance(value, str):
        if at_key or loc == ("name",):
            return source.problem(loc, _name_message(value, loc, kind, ctx), at_key=at_key)
        return source.problem(loc, f"{value!r} is too {'long' if kind.endswith('long') else 'short'}", at_key=at_key)
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), expected) if isinstance(value, str) else ""
        return source.problem(loc, f"{_describe(value)} is not one of {', '.join(expected)}{hint}")
    if kind == "too_short" and isinstance(value, dict):
        return source.problem(loc, "is empty; declare at least one function", at_key=True)
    if kind.startswith(("greater_than", "less_than")):
        return source.problem(loc, _range_message(err, loc))
    if kind == "value_error":
        return source.problem(loc, str(err["msg"]).removeprefix("Value error, "), at_key=isinstance(value, dict))
    expected = _expected(loc)
    if expected:
        return source.problem(loc, f"expected {expected}, got {_describe(value)}", at_key=at_key)
    return source.problem(loc, f"{err['msg']} (got {_describe(value)})", at_key=at_key)


def pydantic_problems(exc: ValidationError, data: dict, source: SourceMap) -> list[Problem]:
    return sort_problems([_problem_for(err, source, data) for err in exc.errors(include_url=False)])


_TRIGGER_EXAMPLES = {"http": "/", "queue": "task-queue", "topic": "events", "schedule": "every 5 minutes"}


def _empty_triggers(data: dict, source: SourceMap) -> list[Problem]:
    """`http:` with nothing after it is a half-written trigger, not "no trigger"."""
    problems = []
    functions = data.get("functions")
    for fname, body in (functions.items() if isinstance(functions, dict) else ()):
        for trigger, example in _TRIGGER_EXAMPLES.items():
            if isinstance(body, dict) and trigger in body and body[trigger] is None:
                problems.append(source.problem(
                    ("functions", fname, trigger), f"has no value; write e.g. `{trigger}: {example}`, or remove the line"))
    return problems


def load_app(path: str | Path, *, cloud: str | None = None, check_handlers: bool = True) -> AppSpec:
    """Load and validate an app.yaml; raise SpecError listing every problem.

    With `cloud`, check that cloud's limits and capabilities (see spec.capabilities); without,
    check all three.
    """
    spec, _warnings = load_app_with_warnings(path, cloud=cloud, check_handlers=check_handlers)
    return spec


def load_app_with_warnings(
    path: str | Path, *, cloud: str | None = None, check_handlers: bool = True
) -> tuple[AppSpec, list[Problem]]:
    from .checks import cross_check

    path = Path(path)
    data, source = read_document(path)
    # Top-level `x-...` keys hold YAML anchors for reuse (`x-defaults: &defaults`), as in Compose files.
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    empty = _empty_triggers(data, source)
    from omnicloud.registry import registry

    try:
        spec = registry().app_model().model_validate(data)
    except ValidationError as exc:
        problems = pydantic_problems(exc, data, source)
        half_written = {p.field for p in empty}
        problems = [p for p in problems if not any(f.startswith(p.field + ".") for f in half_written)]
        raise SpecError(problems + empty) from None
    if empty:
        raise SpecError(empty)
    problems = cross_check(spec, source, app_dir=path.parent, cloud=cloud, check_handlers=check_handlers)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(errors)
    return spec, sort_problems([p for p in problems if p.severity != "error"])
