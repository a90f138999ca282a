"""What every adapter shares: handler loading, the invocation context and its one log line.

Adapters only translate a cloud's event into neutral types and the result back; running the
handler (and reporting how it went) is done here, the same way on every cloud.
"""

from __future__ import annotations

import importlib
import os
import sys
from _thread import allocate_lock
from collections.abc import Mapping
from time import perf_counter

from .. import context
from .. import log as jsonlog
from ..router import HTTPError, as_response
from ..types import (
    BadRequest,
    Headers,
    Message,
    Request,
    Response,
    ScheduledEvent,
    lower_case_names,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any

_INFO, _ERROR = jsonlog.INFO, jsonlog.ERROR

# The handler signature each trigger kind calls, keyed by app.yaml's trigger.
TRIGGER_KINDS = {"http": "http", "queue": "message", "topic": "message", "schedule": "schedule"}


def __getattr__(name: str) -> object:
    # `log`, the invocation logger, without importing logging on the cold path (runtime/log.py).
    if name == "log":
        import logging

        return logging.getLogger(jsonlog.INVOCATION_LOGGER)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    worker's) are kept, so lines still reach its log service, but speak JSON; otherwise stderr.

    In an interpreter where nothing has imported `logging` yet, nothing is set up: the invocation
    line goes to stderr by itself (runtime/log.py), at LOG_LEVEL, and logging is configured as soon
    as something imports it (checked on every invocation, and after the handler's module loads).
    """
    global _logging_ready
    if _logging_ready:
        return
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    if level not in jsonlog.LEVELS:
        level = "INFO"
    if "logging" not in sys.modules:
        jsonlog.set_bare_level(jsonlog.LEVELS[level])
        jsonlog.defer(configure_logging)
        return
    _logging_ready = True
    jsonlog.defer(None)
    import logging

    root = logging.getLogger()
    if not root.handlers:
        jsonlog.configure(level)
        return
    for handler in root.handlers:
        handler.setFormatter(jsonlog.JsonFormatter())
    root.setLevel(level)
    # Lambda's runtime handlers write where stdout goes (runtime/log.py explains).
    jsonlog.set_platform_handlers(list(root.handlers) if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None)


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
_load_lock = allocate_lock()


def load_handler(target: str) -> Callable[..., Any]:
    """Import `module:attr` on first use and cache it; one clear line when it is not there."""
    handler = _handlers.get(target)
    if handler is not None:
        return handler
    with _load_lock:
        if target not in _handlers:
            _handlers[target] = _import_target(target)
        jsonlog.configure_deferred()  # in case the handler's module imported logging
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


class invocation:  # noqa: N801  (used as a function: `with invocation(...) as outcome:`)
    """Run the body inside an invocation context; log one JSON line when it ends.

    The context carries the incoming traceparent, so clients forward it to the next hop.
    (run_http / run_message inline the same steps, without the Outcome, on the warm path.)
    """

    __slots__ = ("_begin", "_outcome", "_started", "_token")

    def __init__(self, trigger: str, *, invocation_id: str | None = None, traceparent: str | None = None,
                 function: str | None = None, **fields: Any):
        self._begin = (invocation_id, traceparent, function)
        self._outcome = Outcome(trigger, {k: v for k, v in fields.items() if v is not None})

    def __enter__(self) -> Outcome:
        self._token = context.begin(*self._begin)
        self._started = perf_counter()
        return self._outcome

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        outcome = self._outcome
        if exc is not None and outcome.error is None:
            outcome.fail(exc)
        try:
            _log_outcome(outcome, (perf_counter() - self._started) * 1000)
        finally:
            context.end(self._token)


def _log_outcome(outcome: Outcome, duration_ms: float) -> None:
    _log_line(outcome.trigger, outcome.result, duration_ms, outcome.fields, outcome.error)


def _log_line(trigger: str, result: str, duration_ms: float, fields: dict[str, Any],
              error: BaseException | None) -> None:
    """The invocation's line: INFO when it went well, ERROR with the error (and, for a bug, its
    traceback) when not. runtime/log.py says where it goes."""
    fields = {"trigger": trigger, "outcome": result, "duration_ms": round(duration_ms, 2), **fields}
    if error is None:
        jsonlog.invocation_line(_INFO, f"invocation {result}", fields)
    else:
        _write_line(result, fields, error)


def _write_line(result: str, fields: dict[str, Any], error: BaseException | None) -> None:
    """_log_line with `fields` already starting with trigger, outcome and duration_ms."""
    if error is None:
        jsonlog.invocation_line(_INFO, f"invocation {result}", fields)
        return
    fields["error"] = _one_line(error)
    jsonlog.invocation_line(_ERROR, f"invocation {result}", fields, error, traceback=not is_expected_error(error))


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
    token = context.begin(invocation_id or request.request_id, traceparent or request, function)
    started = perf_counter()
    result, error, status = "ok", None, None
    try:
        try:
            response = as_response(load_handler(target)(request))
        except HTTPError as exc:
            response = exc.response()
        except BadRequest as exc:
            response = Response.error(400, "bad_request", str(exc))
        except Exception as exc:
            result, error = "error", exc
            response = Response.error(500, "internal", "internal error; the log has the details")
        status = response.status
        if status >= 500:
            result = "error"
        return response
    except BaseException as exc:
        if error is None:
            result, error = "error", exc
        raise
    finally:
        fields = {"trigger": "http", "outcome": result, "duration_ms": round((perf_counter() - started) * 1000, 2),
                  "method": request.method, "path": request.path}
        if status is not None:
            fields["status"] = status
        _write_line(result, fields, error)
        context.end(token)


def run_message(target: str, message: Message, *, trigger: str = "queue", invocation_id: str | None = None,
                function: str | None = None, traceparent: str | None = None, log_success: bool = True) -> None:
    """Call a queue/topic handler; its exception propagates so the cloud retries the message.

    A failure is always logged, with the message's id and correlation id; `log_success=False`
    leaves a success to the caller's summary (an SQS batch logs one line, runtime/adapters/aws.py).
    The trace it continues is the message's own traceparent unless `traceparent` is given; either is
    read only when its correlation id first is (a failure's line, a client).
    """
    # message.correlation_id reads the invocation's when asked
    message._invocation = invocation = context.new(invocation_id or message.id, traceparent or message, function)
    token = context.enter(invocation)
    started = perf_counter()
    try:
        load_handler(target)(message)
    except BaseException as exc:
        _message_line(trigger, message, started, exc)
        raise
    else:
        if log_success:
            _message_line(trigger, message, started, None)
    finally:
        context.end(token)


def message_runner(target: str, trigger: str, invocation_id: str | None, function: str) -> Callable[[Message], None]:
    """run_message(target, message, trigger=trigger, invocation_id=invocation_id, function=function,
    log_success=False) as a function of the message alone, for the records of one batch: the handler
    is looked up once, and the rest of the work per record is what it cannot do without."""
    handler: Callable[[Message], Any] | None = None
    new, enter, end = context.new, context.enter, context.end

    def run(message: Message) -> None:
        nonlocal handler
        message._invocation = invocation = new(invocation_id or message.id, message, function)
        token = enter(invocation)
        started = perf_counter()
        try:
            if handler is None:
                handler = load_handler(target)
            handler(message)
        except BaseException as exc:
            _message_line(trigger, message, started, exc)
            raise
        finally:
            end(token)

    return run


def _message_line(trigger: str, message: Message, started: float, error: BaseException | None) -> None:
    _log_line(trigger, "ok" if error is None else "error", (perf_counter() - started) * 1000,
              {"message_id": message.id, "delivery_attempt": message.delivery_attempt}, error)


def log_batch(trigger: str, records: int, failed: int, duration_ms: float, *, invocation_id: str | None = None,
              function: str | None = None) -> None:
    """One INFO line for a batch of messages whose records logged only their failures (each with its
    message id and correlation id): how many there were, how many failed. A batch has no one
    correlation id, so this line has none."""
    result = "ok" if not failed else ("error" if failed == records else "partial")
    jsonlog.invocation_line(_INFO, f"batch {result}", {
        "function": function or context.function_name(), "invocation_id": invocation_id, "trigger": trigger,
        "outcome": result, "duration_ms": round(duration_ms, 2), "records": records, "failed": failed})


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
    apart from the headers (HTTP API v2: it is also added to the headers when they have none),
    else the Cookie header(s) among `headers` are read. Where a query key or a cookie name repeats,
    `query` and `cookies` hold its FIRST value, as API Gateway, Azure and Cloud Functions hand it
    over; `query_all` holds every value in order.

    The headers, query and cookies are decoded when the handler first reads them (`_decode_wire`),
    so a request pays only for what its handler looks at; what it reads is the same either way.
    """
    request = _new_request(Request)
    request.method = method.upper()
    request.path = request.route_path = path
    request.body = body
    request.path_params = {}
    request.source_ip = source_ip
    request.request_id = request_id
    request._wire = (_decode_wire, (headers, query, cookie_header))
    if gateway_authorization is not None:
        request.gateway_authorization = gateway_authorization
    return request


_new_request = Request.__new__


def _decode_wire(request: Request, wire: tuple[Any, Any, str | None], name: str) -> str | None:
    """Decode a field http_request left in the event: `headers`, `cookies`, or `query` and `query_all`;
    or, for name "traceparent", answer that header's value (Request._traceparent)."""
    headers, query, cookie_header = wire
    fields = request.__dict__
    if name == "traceparent":
        # Names all in lower case (HTTP API v2, the Functions host): one lookup, and the headers stay
        # in the event until the handler reads them. Otherwise they are decoded now.
        if isinstance(headers, Mapping) and type(headers) is not Headers and lower_case_names(headers):
            value = headers.get("traceparent")
            return value if value is None or type(value) is str else str(value)
        return request.headers.get("traceparent")
    if name == "headers" or name == "cookies":
        if "headers" not in fields:
            # Header names in lower case, whoever delivered them (HTTP API and the Functions host do
            # already; REST APIs keep the client's spelling, werkzeug title-cases): the same Request everywhere.
            if cookie_header is not None and isinstance(headers, Mapping) and "cookie" not in headers:
                # HTTP API moves the Cookie header into `cookies`; give handlers both views.
                headers = {**headers, "cookie": cookie_header}
            fields["headers"] = headers if type(headers) is Headers else Headers.from_wire(headers)
        if name == "cookies":
            fields["cookies"] = cookies_from_header(fields["headers"].get("cookie") if cookie_header is None
                                                    else cookie_header)
        return
    pairs = query_pairs(query) if type(query) is str else query
    query_all: dict[str, list[str]] = {}
    for key, value in pairs:
        values = query_all.get(key)
        if values is None:
            query_all[key] = [value]
        else:
            values.append(value)
    fields.setdefault("query_all", query_all)  # a field the handler has set already keeps its value
    fields.setdefault("query", {key: values[0] for key, values in query_all.items()})


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
