"""docs/runtime.md and runtime/ cannot drift apart: every public class and method of `runtime` is
documented with the signature the code has (names, kinds, defaults, return annotation), every
documented one exists, and each documented attribute table lists exactly the type's fields."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import runtime

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "runtime.md").read_text()
HEADING = re.compile(
    r"^#{3,4} `(?P<cls>[A-Z]\w*)(?:\.(?P<method>[a-z]\w*))?(?P<sig>\(.*?\))?(?: -> (?P<ret>.+?))?`$",
    re.MULTILINE,
)
ATTRIBUTE_ROW = re.compile(r"^\| `(?P<cls>[A-Z]\w*)\.(?P<attr>[a-z_]\w*)` \|", re.MULTILINE)
RECORDS = ("Request", "Response", "Message", "ScheduledEvent", "Page")


def documented() -> dict[str, tuple[str | None, str | None]]:
    """`Class` or `Class.method` -> (signature, return annotation) as the doc's headings give them."""
    out = {}
    for match in HEADING.finditer(DOC):
        key = match["cls"] + (f".{match['method']}" if match["method"] else "")
        assert key not in out, f"{key} is documented twice"
        out[key] = (match["sig"], match["ret"])
    return out


def _plain(signature: inspect.Signature) -> str:
    """The signature as the doc writes it: parameter names, kinds and defaults, no annotations."""
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for p in signature.parameters.values()
        if p.name not in ("self", "cls")
    ]
    return str(signature.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _own(cls: type, name: str) -> object | None:
    """The attribute `name` as defined by a class of the runtime package in cls's MRO."""
    for klass in cls.__mro__:
        if name in vars(klass) and klass.__module__.startswith("runtime"):
            return vars(klass)[name]
    return None


def in_code() -> dict[str, tuple[str | None, str | None]]:
    """The same, for every public class of `runtime` and its public methods."""
    out = {}
    for name in runtime.__all__:
        cls = getattr(runtime, name)
        if not isinstance(cls, type):
            continue
        if _own(cls, "__init__") is not None:
            out[name] = (_plain(inspect.signature(cls)), None)
        for attr in dir(cls):
            if attr.startswith("_"):
                continue
            value = _own(cls, attr)
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                signature = inspect.signature(value)
                ret = signature.return_annotation
                out[f"{name}.{attr}"] = (
                    _plain(signature),
                    None if ret is inspect.Signature.empty else ret,
                )
    return out


def test_every_public_class_and_method_is_documented():
    missing = sorted(set(in_code()) - set(documented()))
    assert missing == [], f"docs/runtime.md does not document {missing}"


def test_everything_documented_exists():
    extra = sorted(set(documented()) - set(in_code()))
    assert extra == [], f"docs/runtime.md documents {extra}, which runtime does not have"


@pytest.mark.parametrize("name", sorted(in_code()))
def test_documented_signature_matches_the_code(name):
    doc_signature, doc_return = documented().get(name, (None, None))
    signature, returns = in_code()[name]
    assert doc_signature == signature, (
        f"{name}: the doc says {doc_signature}, the code has {signature}"
    )
    assert doc_return == returns, f"{name}: the doc says -> {doc_return}, the code has -> {returns}"


@pytest.mark.parametrize("name", RECORDS)
def test_attribute_tables_list_exactly_the_fields(name):
    cls = getattr(runtime, name)
    fields = set(getattr(cls, "_fields", ())) or set(getattr(cls, "__slots__", ()))
    properties = {
        attr
        for attr in dir(cls)
        if not attr.startswith("_") and isinstance(_own(cls, attr), property)
    }
    rows = {m["attr"] for m in ATTRIBUTE_ROW.finditer(DOC) if m["cls"] == name}
    assert rows == fields | properties, f"{name}: the table lists {sorted(rows)}"


def test_the_heading_parser_reads_signatures():
    """The parser is not vacuous: a heading of each form is read, and a wrong signature is caught."""
    assert (
        HEADING.search("#### `Queue.send(body, *, delay_seconds=0) -> str`").group("ret") == "str"
    )
    assert HEADING.search("### `Secret(name, ttl=300.0)`").group("sig") == "(name, ttl=300.0)"
    code = in_code()
    assert code["Queue.send"][0] != "(body, *, delay_seconds=0)"
    assert code["Table.get"][1] == "dict[str, Any] | None"
