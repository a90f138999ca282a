"""Request-body validation by hand (no pydantic at cold start): one clear 400 per problem."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from runtime import HTTPError

from . import store
from .models import BACKENDS, DEFAULT_OPENAI_BASE_URL
from .tools import REGISTRY, unknown_tools

EVENT_TYPES = ("agent.created", "agent.updated", "agent.deleted", "task.queued", "task.started",
               "task.succeeded", "task.failed", "task.timed_out")
MAX_STEPS_LIMIT = 20
DEFAULT_MAX_STEPS = 8
DEFAULT_TIMEOUT = 60
NOTE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def invalid(message: str) -> HTTPError:
    return HTTPError(400, "invalid_request", message)


def body_object(request) -> dict[str, Any]:
    data = request.json()
    if not isinstance(data, dict):
        raise invalid("request body must be a JSON object")
    return data


def no_unknown(data: dict[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise invalid(f"unknown field {where}{extra[0]!r}; allowed: {', '.join(allowed)}")


def string(data: dict[str, Any], key: str, *, required: bool = False, max_len: int = 1000,
            min_len: int = 1, where: str = "", default: str | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(f"{where}{key} is required (a string of {min_len}..{max_len} characters)")
        return default
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise invalid(f"{where}{key} must be a string of {min_len}..{max_len} characters")
    return value


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


def allowed_base_urls() -> list[str]:
    raw = store.setting("MODEL_ALLOWED_BASE_URLS") or store.setting("MODEL_BASE_URL") or DEFAULT_OPENAI_BASE_URL
    return [u.strip().rstrip("/") for u in raw.split(",") if u.strip()]


def http_url(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise invalid(f"{where} must be an http(s) URL of at most 2000 characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"{where} must be an http:// or https:// URL with a host, got {value!r}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise invalid(f"{where} must not contain spaces or control characters; percent-encode them")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError:
        raise invalid(f"{where} has an invalid port, got {value!r}") from None
    return value


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
        fail = string(value, "fail", max_len=200, where="model.")
        if fail:
            out["fail"] = fail
        return out
    no_unknown(value, ("backend", "name", "base_url", "temperature", "max_tokens"), "model.")
    out = {"backend": "openai", "name": string(value, "name", required=True, max_len=200, where="model.")}
    base_url = value.get("base_url")
    if base_url is not None:
        base_url = http_url(base_url, "model.base_url").rstrip("/")
        allowed = allowed_base_urls()
        if not any(base_url == a or base_url.startswith(a + "/") for a in allowed):
            raise invalid(f"model.base_url {base_url!r} is not allowed (the model API key is sent there); "
                          f"allowed: {', '.join(allowed)} — an operator can extend MODEL_ALLOWED_BASE_URLS")
        out["base_url"] = base_url
    else:
        out["base_url"] = (store.setting("MODEL_BASE_URL") or DEFAULT_OPENAI_BASE_URL).rstrip("/")
    temperature = _number(value, "temperature", 0, 2, "model.")
    if temperature is not None:
        out["temperature"] = temperature
    if value.get("max_tokens") is not None:
        out["max_tokens"] = _integer(value, "max_tokens", 1, 200_000, 0, "model.")
    return out


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


AGENT_FIELDS = ("name", "description", "model", "system_prompt", "tools", "limits")


def agent_fields(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The validated agent fields of a create (all, with defaults) or update (only those given)."""
    no_unknown(data, AGENT_FIELDS)
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = string(data, "name", required=True, max_len=100)
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


def task_fields(data: dict[str, Any]) -> dict[str, Any]:
    no_unknown(data, ("input", "metadata"))
    out: dict[str, Any] = {"input": string(data, "input", required=True, max_len=20_000)}
    metadata = data.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or len(json.dumps(metadata)) > 4096:
            raise invalid("metadata must be a JSON object of at most 4 KB")
        out["metadata"] = metadata
    return out


def webhook_fields(data: dict[str, Any]) -> dict[str, Any]:
    no_unknown(data, ("url", "events", "description"))
    if "url" not in data:
        raise invalid("url is required: the http(s) endpoint that receives the events")
    events = data.get("events", ["*"])
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise invalid(f"events must be a non-empty list of event types ({', '.join(EVENT_TYPES)}) or ['*']")
    for event in events:
        if event != "*" and event not in EVENT_TYPES:
            raise invalid(f"unknown event type {event!r}; use one of {', '.join(EVENT_TYPES)} or '*'")
    return {"url": http_url(data["url"], "url"), "events": list(dict.fromkeys(events)),
            "description": string(data, "description", max_len=500, min_len=0, default="")}


def note_fields(key: str, data: dict[str, Any]) -> dict[str, Any]:
    if not NOTE_KEY.match(key):
        raise invalid("note key must be 1..100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    no_unknown(data, ("text",))
    return {"key": key, "text": string(data, "text", required=True, max_len=4000)}


def page_args(request, *, default: int = 20, maximum: int = 100) -> tuple[int, str | None]:
    raw = request.query.get("limit")
    try:
        limit = int(raw) if raw is not None else default
    except ValueError:
        raise invalid(f"limit must be an integer from 1 to {maximum}") from None
    if not 1 <= limit <= maximum:
        raise invalid(f"limit must be an integer from 1 to {maximum}")
    cursor = request.query.get("cursor") or None
    return limit, cursor
