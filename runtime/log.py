"""JSON log lines carrying function, invocation id and correlation id.

Importing this module imports no `logging` (a cold start that logs nothing else never pays for
it). Every line, whoever writes it, is rendered by `render`: `JsonFormatter` (for `logging`
records) and the invocation line, which `invocation_line` writes straight to the stream its
handler would write to whenever that gives the same output: see `invocation_line`.
"""

from __future__ import annotations

import json
import sys
from _thread import allocate_lock
from os import getpid as _getpid
from time import gmtime, strftime
from time import time as _now

from . import context

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    import logging
    from typing import Any

_encode = json.JSONEncoder(default=str).encode  # what json.dumps(value, default=str) writes
_string = json.encoder.encode_basestring_ascii
# Keys the line writes itself; `fields` that use one take the dict path.
_OWN_KEYS = frozenset({"ts", "level", "logger", "message", "function", "invocation_id", "correlation_id",
                       "exception"})
_heads: dict[tuple[str, str], str] = {}
_second: tuple[int, str] = (-1, "")

LEVELS = {"CRITICAL": 50, "FATAL": 50, "ERROR": 40, "WARNING": 30, "WARN": 30, "INFO": 20, "DEBUG": 10, "NOTSET": 0}
LEVEL_NAMES = {50: "CRITICAL", 40: "ERROR", 30: "WARNING", 20: "INFO", 10: "DEBUG", 0: "NOTSET"}
INFO, ERROR = 20, 40
INVOCATION_LOGGER = "omnicloud.invocation"


def level_number(name: str | None, default: int = INFO) -> int:
    """A level name (LOG_LEVEL: info, WARNING, ...) as its number; `default` for anything else."""
    return LEVELS.get((name or "").upper(), default)


def _timestamp(created: float, msecs: float) -> str:
    global _second
    whole = int(created)
    second, text = _second
    if whole != second:
        text = strftime("%Y-%m-%dT%H:%M:%S", gmtime(whole))
        _second = (whole, text)
    return f"{text}.{int(msecs):03d}Z"


def _value(value: object) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # finite: what json writes (float.__repr__)
        return float.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return _encode(value)


def _fields(extra: dict) -> str:
    """`extra` as JSON members (no braces)."""
    parts = []
    for key, value in extra.items():
        kind = type(value)
        if kind is str:
            text = _string(value)
        elif kind is int:
            text = int.__repr__(value)
        elif kind is float and value - value == 0:
            text = float.__repr__(value)
        else:
            text = _value(value)
        parts.append(f"{_string(key)}: {text}" if type(key) is str else _encode({key: value})[1:-1])
    return ", ".join(parts)


def render(created: float, msecs: float, levelname: str, logger: str, message: str, fields: dict | None = None,
           exception: str | None = None) -> str:
    """One JSON object on one line: ts, level, logger, message, the current invocation's ids, `fields`.

    Written from JSON fragments (a cached head per logger and level, the timestamp's date part
    cached per second), so only the entry's own values go through the encoder: this runs once per
    invocation on every cloud, and json.dumps of the whole entry was most of its cost.
    """
    invocation = context.current()
    if fields and not _OWN_KEYS.isdisjoint(fields):
        entry = {"ts": _timestamp(created, msecs), "level": levelname.lower(), "logger": logger, "message": message}
        if invocation is not None:
            entry["function"] = invocation.function
            entry["invocation_id"] = invocation.invocation_id
            entry["correlation_id"] = invocation.correlation_id
        entry.update(fields)
        if exception is not None:
            entry["exception"] = exception
        return _encode(entry)
    key = (logger, levelname)
    head = _heads.get(key)
    if head is None:
        head = _heads[key] = f'", "level": {_string(levelname.lower())}, "logger": {_value(logger)}, "message": '
    line = f'{{"ts": "{_timestamp(created, msecs)}{head}{_string(message)}'
    if invocation is not None:
        line = (f'{line}, "function": {_value(invocation.function)}, "invocation_id": '
                f'{_value(invocation.invocation_id)}, "correlation_id": {_value(invocation.correlation_id)}')
    if fields:
        line = f"{line}, {_fields(fields)}"
    if exception is not None:
        line = f'{line}, "exception": {_string(exception)}'
    return line + "}"


def format_exception(error: BaseException) -> str:
    """An exception's traceback as logging.Formatter.formatException writes it."""
    import traceback

    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text[:-1] if text.endswith("\n") else text


def __getattr__(name: str) -> object:
    # JsonFormatter subclasses logging.Formatter: made on first use, so importing this module
    # does not import logging.
    if name == "JsonFormatter":
        value = globals()["JsonFormatter"] = _formatter_class()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _formatter_class() -> type:
    import logging

    class JsonFormatter(logging.Formatter):
        """One JSON object per line: ts, level, logger, message, the invocation's ids, `fields`."""

        def format(self, record: logging.LogRecord) -> str:
            extra = getattr(record, "fields", None)
            return render(record.created, record.msecs, record.levelname, record.name, record.getMessage(),
                          extra if isinstance(extra, dict) else None,
                          self.formatException(record.exc_info) if record.exc_info else None)

    JsonFormatter.__module__ = __name__
    return JsonFormatter


_configured = False
_own_handler: logging.StreamHandler | None = None


def configure(level: str | int = "INFO", stream=None) -> None:
    """Route the `omnicloud` and app loggers to JSON lines (idempotent)."""
    global _configured, _own_handler
    if _configured:
        return
    import logging

    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(__getattr__("JsonFormatter")())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    _own_handler = handler
    _configured = True


_deferred: Any = None  # how an adapter wants logging set up, once something imports it


def defer(configure_logging: Any) -> None:
    """Have `configure_logging` run once something imports logging (None: forget it). Adapters defer
    their set-up in an interpreter that has not imported logging (a cold start that logs nothing
    else never imports it); `configure_deferred` runs it."""
    global _deferred
    _deferred = configure_logging


def configure_deferred() -> None:
    """Run the deferred set-up if logging has been imported since (after a handler's module loads)."""
    if _deferred is not None and "logging" in sys.modules:
        _deferred()


def get_logger(name: str) -> logging.Logger:
    """logging.getLogger(name), with logging set up first if an adapter deferred it."""
    import logging

    configure_deferred()
    return logging.getLogger(name)


def event(logger: logging.Logger, message: str, **fields) -> None:
    """Log `message` at INFO with structured `fields`."""
    logger.info(message, extra={"fields": fields})


# ---- the invocation line --------------------------------------------------------------------------
#
# Every invocation ends with one line (or, for an SQS batch, one per batch and one per failed record).
# It is a `logging` record whenever anything but omnicloud decides where records go, so a handler a
# user (or a test, or a log shipper) attaches sees it. Where nothing does, it is rendered and written
# straight to the stream the handler in charge writes to, the same bytes the handler would write,
# without building a LogRecord: that is most of the line's cost on a warm instance. "Nothing but
# omnicloud decides" means: the `omnicloud` loggers have no handlers or filters of their own, the
# record factory is logging's own, and the root logger's handlers are exactly
# - none, because nothing imported `logging` (a bare interpreter): stderr, at LOG_LEVEL; or
# - the JSON stream handler `configure` installed, unfiltered: its stream; or
# - on Lambda, the runtime's own handlers, untouched since omnicloud configured logging: stdout.
#   Lambda sends whatever a function writes to stdout or stderr to its CloudWatch log stream
#   ("you can use any logging library that writes to stdout or stderr",
#   https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html), the runtime's own text sink
#   writes its records to sys.stdout (aws-lambda-python-runtime-interface-client
#   awslambdaric/bootstrap.py StandardLogSink), and Powertools' Logger writes its JSON lines to
#   stdout. Each line is one JSON object on one line, so it stays one CloudWatch event.
# Elsewhere (the Azure worker's handler, which sends records to the Functions host with the
# invocation attached) the line goes through `logging`.

_write_lock = allocate_lock()
_bare_threshold = INFO  # LOG_LEVEL while nothing has imported logging
_platform: tuple[Any, ...] | None = None  # Lambda: the runtime's root handlers and their filter counts
_invocation_log: Any = None
_record_template: dict[str, Any] | None = None


def set_bare_level(levelno: int) -> None:
    """The threshold of the invocation line while nothing has imported logging (LOG_LEVEL)."""
    global _bare_threshold
    _bare_threshold = levelno


def set_platform_handlers(handlers: list[Any] | None) -> None:
    """Lambda: the runtime's root handlers, found when omnicloud configured logging (stdout is where
    they write); None elsewhere."""
    global _platform
    _platform = None if handlers is None else tuple((h, len(h.filters)) for h in handlers)


def _route(levelno: int) -> tuple[Any, Any, str] | None:
    """(stream, lock, terminator) to write the invocation line to, (None, None, "") when the line is
    off at this level, or None when it must go through logging."""
    logging = sys.modules.get("logging")
    if logging is None:
        return (sys.stderr, _write_lock, "\n") if levelno >= _bare_threshold else _OFF
    log = _invocation_log or _invocation_logger()
    if not log.isEnabledFor(levelno):
        return _OFF
    parent = log.parent
    if (log.handlers or log.filters or parent.handlers or parent.filters or not log.propagate
            or not parent.propagate or parent.parent is not logging.root
            or logging.getLogRecordFactory() is not logging.LogRecord):
        return None
    handlers = logging.root.handlers
    own = _own_handler
    if own is not None and len(handlers) == 1 and handlers[0] is own:
        if own.filters or levelno < own.level or type(own.formatter) is not _formatter():
            return None
        return own.stream, own, own.terminator
    platform = _platform
    if platform is not None and len(handlers) == len(platform):
        for handler, (expected, filters) in zip(handlers, platform, strict=True):
            if handler is not expected or len(handler.filters) != filters or levelno < handler.level:
                return None
        return sys.stdout, _write_lock, "\n"
    return None


_OFF = (None, None, "")


def _formatter() -> type:
    return globals().get("JsonFormatter") or __getattr__("JsonFormatter")


def _invocation_logger() -> Any:
    global _invocation_log
    import logging

    logging.getLogger("omnicloud")  # a real parent, not a placeholder, for _route's checks
    _invocation_log = logging.getLogger(INVOCATION_LOGGER)
    return _invocation_log


def invocation_line(levelno: int, message: str, fields: dict[str, Any], error: BaseException | None = None,
                    traceback: bool = False) -> None:
    """Write an invocation's line (`message` with `fields`, and `error`'s traceback when `traceback`)
    at `levelno`, straight or through logging (see above)."""
    route = _route(levelno)
    if route is None:
        _through_logging(levelno, message, fields, error, traceback)
        return
    stream, lock, terminator = route
    if stream is None:
        return
    created = _now()
    text = render(created, (created - int(created)) * 1000, LEVEL_NAMES.get(levelno, "INFO"), INVOCATION_LOGGER,
                  message, fields, format_exception(error) if traceback and error else None)
    lock.acquire()
    try:
        stream.write(text + terminator)
        stream.flush()
    finally:
        lock.release()


# The logging path: the line is a LogRecord like any other (handlers and filters see it). At INFO it
# is made without Logger.info's stack walk for the caller and without LogRecord.__init__'s per-record
# path and process lookups: a copy of a first record's attributes, with the time, thread and values
# of this one. A custom record factory (e.g. a tracing library's) is honoured.


def _through_logging(levelno: int, message: str, fields: dict[str, Any], error: BaseException | None,
                     traceback: bool) -> None:
    log = _invocation_log or _invocation_logger()
    if levelno != INFO or error is not None:
        log.log(levelno, message, extra={"fields": fields},
                exc_info=(type(error), error, error.__traceback__) if traceback and error else None)
        return
    log.handle(_info_record(log, message, fields))


def _info_record(log: Any, message: str, fields: dict[str, Any]) -> Any:
    global _record_template
    logging = sys.modules["logging"]
    template = _record_template
    if (logging.getLogRecordFactory() is not logging.LogRecord or template is None
            or ("taskName" in template and "asyncio" in sys.modules)):  # 3.12+ names the asyncio task
        record = log.makeRecord(log.name, INFO, __file__, 0, message, (), None, "invocation_line", {"fields": fields})
        if type(record) is logging.LogRecord and template is None:
            _record_template = dict(record.__dict__)
        return record
    record = logging.LogRecord.__new__(logging.LogRecord)
    attrs = record.__dict__
    attrs.update(template)
    now = _now()
    attrs["created"] = now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = template["relativeCreated"] + (now - template["created"]) * 1000
    if template["thread"] is not None:
        threading = sys.modules["threading"]  # imported by logging
        attrs["thread"] = threading.get_ident()
        attrs["threadName"] = threading.current_thread().name
    if template["process"] is not None:
        attrs["process"] = _getpid()
    attrs["msg"] = message
    attrs["fields"] = fields
    return record
