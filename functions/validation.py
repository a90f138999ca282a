"""Request validation by hand (no pydantic at cold start): one clear 400 per problem, code `invalid_request`.

Bodies are strict JSON: UTF-8, no duplicate keys, integers within what every JSON parser agrees
on (±2**53-1), finite numbers, nesting of at most 32 levels, and no string (key or value) holding
a control character (tab and line breaks aside), a bidirectional formatting character or a lone
surrogate. Each rule below has its JSON Schema beside it: `functions.openapi` builds the API's
OpenAPI document from those, so the document says what the code accepts.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from runtime import HTTPError

from . import store
from .models import BACKENDS, DEFAULT_OPENAI_BASE_URL, allowed_base_urls, base_url_allowed
from .tools import REGISTRY, unknown_tools

EVENT_TYPES = ("agent.created", "agent.updated", "task.queued", "task.started",
               "task.succeeded", "task.failed", "task.timed_out")
MAX_STEPS_LIMIT = 20
DEFAULT_MAX_STEPS = 8
DEFAULT_TIMEOUT = 60
NOTE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
METADATA_BYTES = 4096
PAGE_DEFAULT, PAGE_MAX = 20, 100

# Refused in every string of a body; names (single-line fields) refuse tab and line breaks too.
# Lone surrogates (U+D800..U+DFFF) are refused as well, but stay out of the patterns: several
# regex engines that read JSON Schema cannot express them.
_REFUSED = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
_REFUSED_IN_NAMES = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
TEXT_PATTERN = f"^[^{_REFUSED}]*$"
NAME_PATTERN = f"^[^{_REFUSED_IN_NAMES}]*$"
_BAD_CHAR = re.compile(f"[{_REFUSED}\\ud800-\\udfff]")
_BAD_IN_NAME = re.compile(f"[{_REFUSED_IN_NAMES}]")


def invalid(message: str) -> HTTPError:
    return HTTPError(400, "invalid_request", message)


# -- strict JSON -------------------------------------------------------------------------------

class _Refused(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Refused(f"request body has the key {duplicate!r} twice in one object; send each key once")
    return obj


def _integer_text(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        shown = text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"
        raise _Refused(f"request body has the integer {shown}, beyond ±{MAX_SAFE_INTEGER} (what JSON parsers agree on)")
    return int(text)


def _float_text(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"request body has the number {text[:24]}, which is out of range")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"request body has {name}, which is not JSON; send a number")


def _character(c: str) -> str:
    code = ord(c)
    kind = ("lone surrogate" if 0xD800 <= code <= 0xDFFF else
            "bidirectional formatting character" if code in range(0x202A, 0x202F) or code in range(0x2066, 0x206A)
            else "control character")
    return f"a {kind} (U+{code:04X})"


def _check_strings(data: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings with refused characters (iteratively)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise invalid(f"request body is nested deeper than {MAX_DEPTH} levels")
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                bad = _BAD_CHAR.search(key)
                if bad:
                    raise invalid(f"a key in {path or 'the body'} has {_character(bad.group())}")
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise invalid(f"request body is nested deeper than {MAX_DEPTH} levels")
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            bad = _BAD_CHAR.search(value)
            if bad:
                raise invalid(f"{path or 'the body'} has {_character(bad.group())}; remove it")


def parse_json(raw: bytes) -> Any:
    """The body as strict JSON (see the module docstring); one 400 saying what is wrong otherwise."""
    if not raw:
        raise invalid("request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(f"request body is not UTF-8 (byte {exc.start}); send UTF-8 JSON") from None
    try:
        data = json.loads(text, object_pairs_hook=_object, parse_int=_integer_text, parse_float=_float_text,
                          parse_constant=_constant)
    except _Refused as exc:
        raise invalid(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise invalid(f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # e.g. 100k nested arrays
        raise invalid(f"request body is nested deeper than {MAX_DEPTH} levels") from None
    _check_strings(data)
    return data


def body_object(request) -> dict[str, Any]:
    data = parse_json(request.body)
    if not isinstance(data, dict):
        raise invalid("request body must be a JSON object")
    return data


# -- fields ------------------------------------------------------------------------------------

def no_unknown(data: dict[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise invalid(f"unknown field {where}{extra[0]!r}; allowed: {', '.join(allowed)}")


def string(data: dict[str, Any], key: str, *, required: bool = False, max_len: int = 1000,
           min_len: int = 1, where: str = "", default: str | None = None, single_line: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(f"{where}{key} is required (a string of {min_len}..{max_len} characters)")
        return default
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise invalid(f"{where}{key} must be a string of {min_len}..{max_len} characters")
    bad = _BAD_IN_NAME.search(value) if single_line else None
    if bad:
        raise invalid(f"{where}{key} must be one line of text; it has {_character(bad.group())}")
    return value


def text_schema(min_len: int, max_len: int, *, single_line: bool = False, nullable: bool = False,
                description: str | None = None) -> dict[str, Any]:
    """The JSON Schema of what `string(...)` accepts."""
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string", "minLength": min_len,
                              "maxLength": max_len, "pattern": NAME_PATTERN if single_line else TEXT_PATTERN}
    if description:
        schema["description"] = description
    return schema


def _integer(data: dict[str, Any], key: str, low: int, high: int, default: int, where: str = "") -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{where}{key} must be an integer from {low} to {high}")
    return value


def _number(data: dict[str, Any], key: str, low: float, high: float, where: str = "") -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise invalid(f"{where}{key} must be a number from {low:g} to {high:g}")
    return value


def max_timeout() -> int:
    """Longest task timeout: below the worker's function timeout, so the worker can record it."""
    return store.int_setting("TASK_MAX_TIMEOUT_SECONDS", 240)


URL_MAX = 2000


def http_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise invalid(f"{where} must be an http(s) URL of at most {URL_MAX} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value) or _BAD_CHAR.search(value):
        raise invalid(f"{where} must not contain spaces or control characters; percent-encode them")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"{where} must be an http:// or https:// URL with a host, got {value!r}")
    if "@" in parts.netloc:
        raise invalid(f"{where} must not carry credentials (user:password@); authenticate deliveries "
                      "with the webhook's signature instead")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError:
        raise invalid(f"{where} has an invalid port, got {value!r}") from None
    return value


URL_SCHEMA = {"type": "string", "maxLength": URL_MAX, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s@/?#]+([/?#]\\S*)?$"}


def model_config(value: Any) -> dict[str, Any]:
    if value is None:
        value = {"backend": "echo"}
    if isinstance(value, str):
        value = {"backend": value}
    if not isinstance(value, dict):
        raise invalid(f"model must be one of {', '.join(BACKENDS)} or an object with a backend")
    backend = value.get("backend")
    if backend not in BACKENDS:
        raise invalid(f"model.backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "echo":
        no_unknown(value, ("backend", "delay_seconds", "fail"), "model.")
        out: dict[str, Any] = {"backend": "echo"}
        delay = _number(value, "delay_seconds", 0, 300, "model.")
        if delay:
            out["delay_seconds"] = delay
        fail = string(value, "fail", max_len=200, where="model.", single_line=True)
        if fail:
            out["fail"] = fail
        return out
    no_unknown(value, ("backend", "name", "base_url", "temperature", "max_tokens"), "model.")
    out = {"backend": "openai",
           "name": string(value, "name", required=True, max_len=200, where="model.", single_line=True)}
    base_url = value.get("base_url")
    if base_url is not None:
        base_url = http_url(base_url, "model.base_url").rstrip("/")
        if not base_url_allowed(base_url):
            raise invalid(f"model.base_url {base_url!r} is not allowed (the model API key is sent there); "
                          f"allowed: {', '.join(allowed_base_urls())} — an operator can extend MODEL_ALLOWED_BASE_URLS")
        out["base_url"] = base_url
    else:
        out["base_url"] = (store.setting("MODEL_BASE_URL") or DEFAULT_OPENAI_BASE_URL).rstrip("/")
    temperature = _number(value, "temperature", 0, 2, "model.")
    if temperature is not None:
        out["temperature"] = temperature
    if value.get("max_tokens") is not None:
        out["max_tokens"] = _integer(value, "max_tokens", 1, 200_000, 0, "model.")
    return out


def model_schema() -> dict[str, Any]:
    echo = {"type": "object", "additionalProperties": False, "required": ["backend"], "properties": {
        "backend": {"const": "echo"},
        "delay_seconds": {"type": ["number", "null"], "minimum": 0, "maximum": 300},
        "fail": text_schema(1, 200, single_line=True, nullable=True)}}
    openai = {"type": "object", "additionalProperties": False, "required": ["backend", "name"], "properties": {
        "backend": {"const": "openai"},
        "name": text_schema(1, 200, single_line=True),
        "base_url": {**URL_SCHEMA, "type": ["string", "null"],
                     "description": "under MODEL_ALLOWED_BASE_URLS: " + ", ".join(allowed_base_urls())},
        "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
        "max_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 200_000}}}
    return {"oneOf": [{"type": "null"}, {"const": "echo"}, echo, openai]}


def tool_names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("tools must be a list of tool names")
    unknown = unknown_tools(value)
    if unknown:
        raise invalid(f"unknown tool {unknown[0]!r}; available tools: {', '.join(REGISTRY)}")
    return list(dict.fromkeys(value))


def limits(value: Any) -> dict[str, int]:
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise invalid("limits must be an object with max_steps and timeout_seconds")
    no_unknown(value, ("max_steps", "timeout_seconds"), "limits.")
    return {"max_steps": _integer(value, "max_steps", 1, MAX_STEPS_LIMIT, DEFAULT_MAX_STEPS, "limits."),
            "timeout_seconds": _integer(value, "timeout_seconds", 1, max_timeout(),
                                        min(DEFAULT_TIMEOUT, max_timeout()), "limits.")}


def limits_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        "max_steps": {"type": "integer", "minimum": 1, "maximum": MAX_STEPS_LIMIT},
        "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": max_timeout()}}}


AGENT_FIELDS = ("name", "description", "model", "system_prompt", "tools", "limits")


def agent_fields(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The validated agent fields of a create (all, with defaults) or update (only those given)."""
    no_unknown(data, AGENT_FIELDS)
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = string(data, "name", required=True, max_len=100, single_line=True)
    if not partial or "description" in data:
        out["description"] = string(data, "description", max_len=1000, min_len=0, default="")
    if not partial or "model" in data:
        out["model"] = model_config(data.get("model"))
    if not partial or "system_prompt" in data:
        out["system_prompt"] = string(data, "system_prompt", max_len=20_000, min_len=0,
                                      default="You are a helpful agent.")
    if not partial or "tools" in data:
        out["tools"] = tool_names(data.get("tools"))
    if not partial or "limits" in data:
        out["limits"] = limits(data.get("limits"))
    if partial and not out:
        raise invalid(f"nothing to update; send at least one of {', '.join(AGENT_FIELDS)}")
    return out


def agent_schema(*, partial: bool) -> dict[str, Any]:
    properties = {
        "name": text_schema(1, 100, single_line=True),
        "description": text_schema(0, 1000, nullable=True),
        "model": model_schema(),
        "system_prompt": text_schema(0, 20_000, nullable=True),
        "tools": {"type": ["array", "null"], "items": {"enum": list(REGISTRY)}},
        "limits": {"oneOf": [{"type": "null"}, limits_schema()]},
    }
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if partial:
        schema["minProperties"] = 1
    else:
        schema["required"] = ["name"]
    return schema


def task_fields(data: dict[str, Any]) -> dict[str, Any]:
    no_unknown(data, ("input", "metadata"))
    out: dict[str, Any] = {"input": string(data, "input", required=True, max_len=20_000)}
    metadata = data.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or len(json.dumps(metadata)) > METADATA_BYTES:
            raise invalid("metadata must be a JSON object of at most 4 KB")
        out["metadata"] = metadata
    return out


def task_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["input"], "properties": {
        "input": text_schema(1, 20_000),
        "metadata": {"type": ["object", "null"], "description": "any JSON object of at most 4 KB"}}}


def webhook_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The validated webhook; its URL's host must not resolve to a refused address (see webhooks.py)."""
    from .webhooks import DeliveryFailed, check_destination

    no_unknown(data, ("url", "events", "description"))
    if "url" not in data:
        raise invalid("url is required: the http(s) endpoint that receives the events")
    events = data.get("events", ["*"])
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise invalid(f"events must be a non-empty list of event types ({', '.join(EVENT_TYPES)}) or ['*']")
    for event in events:
        if event != "*" and event not in EVENT_TYPES:
            raise invalid(f"unknown event type {event!r}; use one of {', '.join(EVENT_TYPES)} or '*'")
    url = http_url(data["url"], "url")
    description = string(data, "description", max_len=500, min_len=0, default="")
    try:
        check_destination(url)
    except DeliveryFailed as exc:
        raise invalid(f"url: {exc}") from None
    return {"url": url, "events": list(dict.fromkeys(events)), "description": description}


def webhook_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["url"], "properties": {
        "url": {**URL_SCHEMA, "description": "where events are POSTed; its host must resolve to public "
                                             "addresses only (see SECURITY.md)"},
        "events": {"type": "array", "minItems": 1, "items": {"enum": ["*", *EVENT_TYPES]}},
        "description": text_schema(0, 500, nullable=True)}}


def note_fields(key: str, data: dict[str, Any]) -> dict[str, Any]:
    if not NOTE_KEY.match(key):
        raise invalid("note key must be 1..100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    no_unknown(data, ("text",))
    return {"key": key, "text": string(data, "text", required=True, max_len=4000)}


def note_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["text"],
            "properties": {"text": text_schema(1, 4000)}}


def name_field(data: dict[str, Any], key: str = "name", *, required: bool = True,
               default: str | None = None) -> str | None:
    """A name (of a key or a tenant): one line of 1..100 characters."""
    return string(data, key, required=required, max_len=100, single_line=True, default=default)


def key_fields(data: dict[str, Any], permissions: tuple[str, ...]) -> tuple[str, list[str]]:
    no_unknown(data, ("name", "permissions"))
    name = name_field(data)
    granted = data.get("permissions")
    if not isinstance(granted, list) or not granted or not all(isinstance(p, str) and p in permissions
                                                               for p in granted):
        raise invalid(f"permissions must be a non-empty list of {', '.join(permissions)}")
    return name, granted


def key_schema(permissions: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["name", "permissions"], "properties": {
        "name": text_schema(1, 100, single_line=True),
        "permissions": {"type": "array", "minItems": 1, "items": {"enum": list(permissions)}}}}


def page_args(request, *, default: int = PAGE_DEFAULT, maximum: int = PAGE_MAX) -> tuple[int, str | None]:
    raw = request.query.get("limit")
    if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= maximum):
        raise invalid(f"limit must be an integer from 1 to {maximum}")
    limit = int(raw) if raw is not None else default
    cursor = request.query.get("cursor") or None
    return limit, cursor


METRICS_MINUTES_DEFAULT, METRICS_MINUTES_MAX = 60, 1440


def minutes_arg(request) -> int:
    """`?minutes=` of the metrics: the window, 1..1440 minutes (default 60)."""
    raw = request.query.get("minutes")
    if raw is None:
        return METRICS_MINUTES_DEFAULT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= METRICS_MINUTES_MAX):
        raise invalid(f"minutes must be an integer from 1 to {METRICS_MINUTES_MAX}")
    return int(raw)
