"""`omnicloud invoke FUNCTION --event FILE`: run one function once, with its local environment and links.

The event file is JSON, shaped by the function's trigger:
  http      {"method": "POST", "path": "/agents", "headers": {...}, "query": {...}, "body": ...}
            (all optional; path defaults to the function's prefix, a non-string body is sent as JSON)
  queue     {"body": ..., "attributes": {"type": "..."}}   (a non-string body is sent as JSON)
  topic     same as queue; the subscriber's filter applies to "attributes" as on every cloud: an
            event it drops is not delivered (one line says so; --no-filter delivers it anyway)
  schedule  {} (optionally {"time": "2030-01-01T00:00:00Z"})
The function runs against the same local state as `omnicloud dev` (--state). HTTP prints the
response as JSON and fails on a 5xx; queue, topic and schedule fail when the handler raises.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads EVENT_HELP for every command: nothing else is imported for it
    from typing import Any

EVENT_HELP = __doc__.split("\n", 2)[2].split("The function runs")[0].strip()

_KEYS = {
    "http": {"method", "path", "headers", "query", "body"},
    "queue": {"body", "attributes"},
    "topic": {"body", "attributes"},
    "schedule": {"time"},
}


class EventFileError(ValueError):
    """The event file is missing, not JSON, or not shaped for the trigger."""


def _fail(message: str, code: int = 2) -> int:
    print(f"omnicloud invoke: {message}", file=sys.stderr, flush=True)
    return code


def filtered_out(function: str, fn, event) -> str | None:
    """Why a topic subscriber's filter drops `event` (what every cloud and `omnicloud dev` do with it:
    the subscription never receives it), or None when it is delivered."""
    if fn.trigger != "topic" or not fn.topic.filter:
        return None
    from runtime.filters import matches

    if matches(fn.topic.filter, event.attributes):
        return None
    return (f"{function}: not delivered: its subscription's filter {_compact(fn.topic.filter)} does not"
            f" match the event's attributes {_compact(event.attributes)}")


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def read_event(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventFileError(f"{source}: file not found; pass --event PATH to a JSON file (or - for stdin)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError(f"{source}: cannot read ({exc}); save the event as UTF-8 JSON") from None
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise EventFileError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _string_map(event: dict[str, Any], key: str, source: str, trigger: str) -> dict[str, str]:
    value = event.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
        raise EventFileError(f"{source}: {key!r} of the {trigger} event must be an object of strings, e.g. {{\"type\": \"x\"}}")
    return {str(k): str(v) for k, v in value.items()}


def build_event(trigger: str, event: Any, source: str, *, prefix: str | None = None, name: str = "") -> Any:
    """The neutral event for `trigger` from the event file's JSON; EventFileError when malformed."""
    import uuid
    from datetime import UTC, datetime

    from runtime.types import Message, Request, ScheduledEvent

    article = "an" if trigger == "http" else "a"
    if not isinstance(event, dict):
        raise EventFileError(f"{source}: {article} {trigger} event must be a JSON object, found {type(event).__name__}")
    unknown = sorted(set(event) - _KEYS[trigger])
    if unknown:
        allowed = ", ".join(sorted(_KEYS[trigger])) or "nothing"
        raise EventFileError(f"{source}: unknown key {unknown[0]!r} for {article} {trigger} event; expected {allowed}")
    if trigger == "http":
        method, path = event.get("method", "GET"), event.get("path", prefix or "/")
        if not isinstance(method, str) or not method.isalpha():
            raise EventFileError(f"{source}: 'method' must be an HTTP method such as \"GET\" or \"POST\"")
        if not isinstance(path, str) or not path.startswith("/"):
            raise EventFileError(f"{source}: 'path' must be a string starting with /, e.g. \"/agents\"")
        headers = _string_map(event, "headers", source, trigger)
        body = event.get("body")
        if body is not None and not isinstance(body, str) and not any(k.lower() == "content-type" for k in headers):
            headers["content-type"] = "application/json"
        query = _string_map(event, "query", source, trigger)
        return Request(method=method, path=path, headers=headers, query=query, body=_encode(body),
                       source_ip="127.0.0.1", request_id=str(uuid.uuid4()))
    if trigger in ("queue", "topic"):
        if "body" not in event:
            raise EventFileError(f"{source}: a {trigger} event needs 'body' (any JSON value), e.g. {{\"body\": {{...}}}}")
        return Message(id=str(uuid.uuid4()), body=_encode(event["body"]),
                       attributes=_string_map(event, "attributes", source, trigger), source=name)
    when = event.get("time")
    if when is None:
        return ScheduledEvent(id=str(uuid.uuid4()), schedule=name)
    try:
        moment = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        raise EventFileError(f"{source}: 'time' must be an ISO-8601 time such as \"2030-01-01T00:00:00Z\"") from None
    return ScheduledEvent(time=moment if moment.tzinfo else moment.replace(tzinfo=UTC), schedule=name,
                          id=str(uuid.uuid4()))


def run(args: argparse.Namespace) -> int:
    from runtime.adapters import base
    from runtime.adapters import local as adapter
    from runtime.log import configure
    from spec import SpecError

    from .app import LocalApp
    from .server import import_handlers

    configure("INFO")
    try:
        app = LocalApp(Path(args.app), Path(args.state))
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if args.function not in app.spec.functions:
        return _fail(f"no function {args.function!r} in {args.app}; functions: {', '.join(app.spec.functions)}")
    fn = app.function(args.function)
    try:
        raw = read_event(args.event)
        name = {"queue": fn.queue.name if fn.queue else "", "topic": fn.topic.name if fn.topic else "",
                "schedule": fn.schedule or ""}.get(fn.trigger, "")
        neutral = build_event(fn.trigger, raw, args.event, prefix=fn.http, name=name)
    except EventFileError as exc:
        return _fail(str(exc))
    no_filter = getattr(args, "no_filter", False)
    if no_filter and fn.trigger != "topic":
        return _fail(f"--no-filter applies to topic subscribers; {args.function!r} has a {fn.trigger} trigger")
    dropped = None if no_filter else filtered_out(args.function, fn, neutral)
    if dropped:
        print(dropped + " (--no-filter delivers it anyway)")
        return 0

    import os

    os.environ.update(app.process_environ())
    app.sync_subscriptions()
    app.secrets(generate=True)
    if import_handlers(app):
        return 1
    environ = app.function_env(args.function)
    if fn.trigger == "http":
        response = adapter.invoke_http(fn.handler, neutral, function=args.function, environ=environ)
        body = response.body_bytes()
        try:
            shown: Any = json.loads(body) if body else None
        except ValueError:
            shown = body.decode("utf-8", "replace")
        print(json.dumps({"status": response.status, "headers": response.headers, "body": shown}, indent=2))
        return 1 if response.status >= 500 else 0
    try:
        if fn.trigger == "schedule":
            adapter.invoke_schedule(fn.handler, neutral, function=args.function, environ=environ)
        else:
            adapter.invoke_message(fn.handler, neutral, trigger=fn.trigger, function=args.function, environ=environ)
    except Exception as exc:
        # The invocation's log line carries a traceback only for a bug, not for an expected error.
        where = "" if base.is_expected_error(exc) else " (the log line above has the traceback)"
        return _fail(f"{args.function} failed: {type(exc).__name__}: {exc}{where}", 1)
    print(json.dumps({"function": args.function, "trigger": fn.trigger, "outcome": "ok"}))
    return 0
