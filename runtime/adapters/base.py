"""What every adapter shares: handler loading, the invocation context and its one log line.

Adapters only translate a cloud's event into neutral types and the result back; running the
handler (and reporting how it went) is done here, the same way on every cloud.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from os import getpid as _getpid
from threading import current_thread as _current_thread
from threading import get_ident as _get_ident
from time import perf_counter
from time import time as _time

from .. import context
from .. import log as jsonlog
from ..router import HTTPError, as_response
from ..types import BadRequest, Headers, Message, Request, Response, ScheduledEvent

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime
    from typing import Any

log = logging.getLogger("omnicloud.invocation")
_INFO = logging.INFO

# The handler signature each trigger kind calls, keyed by app.yaml's trigger.
TRIGGER_KINDS = {"http": "http", "queue": "message", "topic": "message", "schedule": "schedule"}


class EventError(ValueError):
    """An event the adapter cannot translate: unknown shape, missing or malformed field."""

    def __init__(self, adapter: str, problem: str, expected: str):
        super().__init__(f"{adapter} adapter: {problem}; expected {expected}")
        self.adapter = adapter


class HandlerNotFound(LookupError):
    """The `module:attr` handler target cannot be imported."""


_logging_ready = False


def configure_logging() -> None:
    """JSON log lines on a cloud: the platform's root handlers (the Lambda runtime's, the Azure
    worker's) are kept, so lines still reach its log service, but speak JSON; otherwise stderr."""
    global _logging_ready
    if _logging_ready:
        return
    _logging_ready = True
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        level = "INFO"
    root = logging.getLogger()
    if not root.handlers:
        jsonlog.configure(level)
        return
    for handler in root.handlers:
        handler.setFormatter(jsonlog.JsonFormatter())
    root.setLevel(level)


def trigger_kind(trigger: str) -> str:
    try:
        return TRIGGER_KINDS[trigger]
    except KeyError:
        raise ValueError(
            f"unknown trigger {trigger!r}; expected one of {', '.join(TRIGGER_KINDS)} (OMNICLOUD_TRIGGER)"
        ) from None


def describe(event: Any) -> str:
    """A short description of an event for error messages (never its full content)."""
    if isinstance(event, Mapping):
        keys = sorted(str(k) for k in event)
        shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        return f"an object with keys [{shown}]"
    return f"a {type(event).__name__}"


_handlers: dict[str, Callable[..., Any]] = {}
_load_lock = threading.Lock()


def load_handler(target: str) -> Callable[..., Any]:
    """Import `module:attr` on first use and cache it; one clear line when it is not there."""
    handler = _handlers.get(target)
    if handler is not None:
        return handler
    with _load_lock:
        if target not in _handlers:
            _handlers[target] = _import_target(target)
        return _handlers[target]


def _import_target(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise HandlerNotFound(f"handler {target!r} is not 'module:attribute'; fix `handler:` in app.yaml")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise HandlerNotFound(
                f"handler {target!r}: module {module_name!r} not found; check `handler:` in app.yaml "
                "and that the module is in the package"
            ) from None
        raise HandlerNotFound(
            f"handler {target!r}: {module_name} imports {missing!r}, which is not installed in the package; "
            "add it to the app's requirements"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise HandlerNotFound(f"handler {target!r}: {module_name} has no attribute {attr!r}; check `handler:` in app.yaml")
        obj = getattr(obj, part)
    if not callable(obj):
        raise HandlerNotFound(f"handler {target!r} is a {type(obj).__name__}, not a function or Router")
    return obj


class Outcome:
    """How one invocation went; the adapter fills it in, the log line reports it."""

    __slots__ = ("trigger", "fields", "result", "error")

    def __init__(self, trigger: str, fields: dict[str, Any] | None = None, result: str = "ok",
                 error: BaseException | None = None):
        self.trigger = trigger
        self.fields = {} if fields is None else fields
        self.result = result
        self.error = error

    def fail(self, exc: BaseException, result: str = "error") -> None:
        self.result, self.error = result, exc

    def __repr__(self) -> str:
        return f"Outcome(trigger={self.trigger!r}, fields={self.fields!r}, result={self.result!r}, error={self.error!r})"


@contextlib.contextmanager
def invocation(trigger: str, *, invocation_id: str | None = None, traceparent: str | None = None,
               function: str | None = None, **fields: Any) -> Iterator[Outcome]:
    """Run the body inside an invocation context; log one JSON line when it ends.

    The context carries the incoming traceparent, so clients forward it to the next hop.
    (run_http / run_message inline the same steps: a generator context manager per event costs
    more than the rest of the bookkeeping.)
    """
    token = context.begin(invocation_id=invocation_id, traceparent=traceparent, function=function)
    outcome = Outcome(trigger, {k: v for k, v in fields.items() if v is not None})
    started = perf_counter()
    try:
        yield outcome
    except BaseException as exc:
        if outcome.error is None:
            outcome.fail(exc)
        raise
    finally:
        _log_outcome(outcome, (perf_counter() - started) * 1000)
        context.end(token)


# The invocation line is a LogRecord like any other (the platform's handlers and filters see
# it), but made without Logger.info's stack walk for the caller and without LogRecord.__init__'s
# per-record path and process lookups: a copy of a first record's attributes, with the time,
# thread and values of this one. A custom record factory (e.g. a tracing library's) is honoured.
_LogRecord = logging.LogRecord
_template: dict[str, Any] | None = None


def _info_record(result: str, fields: dict[str, Any]) -> logging.LogRecord:
    global _template
    if (logging.getLogRecordFactory() is not _LogRecord or _template is None
            or ("taskName" in _template and "asyncio" in sys.modules)):  # 3.12+ names the asyncio task
        record = log.makeRecord(log.name, _INFO, __file__, 0, "invocation %s", (result,), None, "_log_outcome",
                                {"fields": fields})
        if type(record) is _LogRecord and _template is None:
            _template = dict(record.__dict__)
        return record
    record = _LogRecord.__new__(_LogRecord)
    attrs = record.__dict__
    attrs.update(_template)
    now = _time()
    attrs["created"] = now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = _template["relativeCreated"] + (now - _template["created"]) * 1000
    if _template["thread"] is not None:
        attrs["thread"] = _get_ident()
        attrs["threadName"] = _current_thread().name
    if _template["process"] is not None:
        attrs["process"] = _getpid()
    attrs["args"] = (result,)
    attrs["fields"] = fields
    return record


def _log_outcome(outcome: Outcome, duration_ms: float) -> None:
    exc = outcome.error
    if exc is None:
        if log.isEnabledFor(_INFO):
            log.handle(_info_record(outcome.result, {"trigger": outcome.trigger, "outcome": outcome.result,
                                                     "duration_ms": round(duration_ms, 2), **outcome.fields}))
        return
    fields = {"trigger": outcome.trigger, "outcome": outcome.result, "duration_ms": round(duration_ms, 2),
              **outcome.fields, "error": _one_line(exc)}
    log.error("invocation %s", outcome.result, extra={"fields": fields},
              exc_info=None if is_expected_error(exc) else (type(exc), exc, exc.__traceback__))


def is_expected_error(exc: BaseException) -> bool:
    """Expected failures (bad input, missing handler) get their one log line; anything else is a
    bug in the handler and keeps its traceback, in the same JSON line."""
    return isinstance(exc, (EventError, HandlerNotFound, BadRequest, HTTPError))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_http(target: str, request: Request, *, invocation_id: str | None = None,
             function: str | None = None, traceparent: str | None = None) -> Response:
    """Call an HTTP handler; errors become JSON error responses, never a traceback to the caller."""
    token = context.begin(invocation_id or request.request_id,
                          traceparent or request.headers.get(context.TRACEPARENT), function)
    outcome = Outcome("http", {"method": request.method, "path": request.path})
    started = perf_counter()
    try:
        try:
            response = as_response(load_handler(target)(request))
        except HTTPError as exc:
            response = exc.response()
        except BadRequest as exc:
            response = Response.error(400, "bad_request", str(exc))
        except Exception as exc:
            outcome.fail(exc)
            response = Response.error(500, "internal", "internal error; the log has the details")
        outcome.fields["status"] = response.status
        if response.status >= 500 and outcome.error is None:
            outcome.result = "error"
        return response
    except BaseException as exc:
        if outcome.error is None:
            outcome.fail(exc)
        raise
    finally:
        _log_outcome(outcome, (perf_counter() - started) * 1000)
        context.end(token)


def run_message(target: str, message: Message, *, trigger: str = "queue", invocation_id: str | None = None,
                function: str | None = None, traceparent: str | None = None) -> None:
    """Call a queue/topic handler; its exception propagates so the cloud retries the message."""
    token = context.begin(invocation_id or message.id,
                          traceparent or message.attributes.get(context.TRACEPARENT), function)
    outcome = Outcome(trigger, {"message_id": message.id, "delivery_attempt": message.delivery_attempt})
    started = perf_counter()
    try:
        message.correlation_id = context.current().correlation_id  # type: ignore[union-attr]
        load_handler(target)(message)
    except BaseException as exc:
        outcome.fail(exc)
        raise
    finally:
        _log_outcome(outcome, (perf_counter() - started) * 1000)
        context.end(token)


def run_schedule(target: str, event: ScheduledEvent, *, invocation_id: str | None = None,
                 function: str | None = None, traceparent: str | None = None) -> None:
    """Call a schedule handler; its exception propagates so the cloud reports (and retries) it."""
    with invocation("schedule", invocation_id=invocation_id or event.id or None, function=function,
                    traceparent=traceparent, schedule=event.schedule or None,
                    scheduled_time=event.time.isoformat()):
        load_handler(target)(event)


def reject(trigger: str, error: EventError, *, invocation_id: str | None = None,
           traceparent: str | None = None, consequence: str | None = None, **fields: Any) -> None:
    """Log one line for an event the adapter could not translate (outcome "rejected")."""
    token = context.begin(invocation_id=invocation_id, traceparent=traceparent)
    try:
        outcome = Outcome(trigger, {k: v for k, v in fields.items() if v is not None})
        if consequence:
            outcome.fields["consequence"] = consequence
        outcome.fail(error, "rejected")
        _log_outcome(outcome, 0.0)
    finally:
        context.end(token)


def parse_time(value: Any, adapter: str, what: str) -> datetime | None:
    """An ISO-8601 / RFC 3339 timestamp (or epoch milliseconds) as an aware datetime."""
    if value is None or value == "":
        return None
    from datetime import UTC, datetime

    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Python 3.11 parses at most 6 fractional digits; clouds send up to 9.
        head, dot, rest = text.partition(".")
        if dot:
            digits = len(rest) - len(rest.lstrip("0123456789"))
            rest = rest[: min(digits, 6)] + rest[digits:]
            text = f"{head}.{rest}"
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise EventError(adapter, f"{what} is {value!r}", "an ISO-8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def first_ip(forwarded_for: str | None) -> str | None:
    """The client address from X-Forwarded-For (first hop; Azure appends a port)."""
    if not forwarded_for:
        return None
    ip = forwarded_for.split(",")[0].strip()
    if ip.count(":") == 1:  # IPv4 with port
        ip = ip.split(":")[0]
    return ip or None


# ---- the neutral Request: built here, and only here, for every adapter and `omnicloud dev` --------


def http_request(method: str, path: str, headers: Headers | Mapping[str, str] | list[tuple[str, str]], *,
                 query: str | list[tuple[str, str]] = "", body: bytes = b"", cookie_header: str | None = None,
                 source_ip: str | None = None, request_id: str | None = None,
                 gateway_authorization: str | None = None) -> Request:
    """One HTTP request as the neutral Request, the same way whoever delivered it.

    `path` is decoded (no percent-escapes left); `query` is the raw query string, or (name, value)
    pairs already decoded; `cookie_header` is the Cookie header when the event carries cookies
    apart from the headers (HTTP API v2), else the Cookie header(s) among `headers` are read.
    Where a query key or a cookie name repeats, `query` and `cookies` hold its FIRST value, as API
    Gateway, Azure and Cloud Functions hand it over; `query_all` holds every value in order.
    """
    pairs = query_pairs(query) if type(query) is str else query
    query_all: dict[str, list[str]] = {}
    for key, value in pairs:
        values = query_all.get(key)
        if values is None:
            query_all[key] = [value]
        else:
            values.append(value)
    # Header names in lower case, whoever delivered them (HTTP API and the Functions host do already;
    # REST APIs keep the client's spelling, werkzeug title-cases): the same Request everywhere.
    if type(headers) is not Headers:  # a Headers given is one made by Headers.from_wire
        headers = Headers.from_wire(headers)
    if cookie_header is None:
        cookie_header = headers.get("cookie")
    request = Request(method=method, path=path, headers=headers,
                      query={key: values[0] for key, values in query_all.items()}, query_all=query_all,
                      body=body, cookies=cookies_from_header(cookie_header), source_ip=source_ip,
                      request_id=request_id)
    if gateway_authorization is not None:
        request.gateway_authorization = gateway_authorization
    return request


def query_pairs(raw: str) -> list[tuple[str, str]]:
    """A raw query string as decoded (name, value) pairs, in order, blank values kept."""
    if not raw:
        return []
    if "%" in raw or "+" in raw:
        from urllib.parse import parse_qsl

        return parse_qsl(raw, keep_blank_values=True)
    # Nothing to unquote: what parse_qsl would return, without its per-field work.
    return [(key, value) for key, _, value in (part.partition("=") for part in raw.split("&") if part)]


def cookies_from_header(header: str | None) -> dict[str, str]:
    """Cookie name -> value; a repeated name keeps its first value (the most specific path, RFC 6265 5.4)."""
    out: dict[str, str] = {}
    if not header:
        return out
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if name and eq and name not in out:
            out[name] = value
    return out
