"""JSON log lines carrying function, invocation id and correlation id."""

from __future__ import annotations

import json
import logging
import sys
import time

from . import context

_encode = json.JSONEncoder(default=str).encode  # what json.dumps(value, default=str) writes
_string = json.encoder.encode_basestring_ascii
# Keys the formatter writes itself; a record whose `fields` use one takes the dict path.
_OWN_KEYS = frozenset({"ts", "level", "logger", "message", "function", "invocation_id", "correlation_id",
                       "exception"})
_heads: dict[tuple[str, str], str] = {}
_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    global _second
    whole = int(record.created)
    second, text = _second
    if whole != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{int(record.msecs):03d}Z"


def _value(value: object) -> str:
    return _string(value) if type(value) is str else _encode(value)


_SCALARS = frozenset({str, int, float, bool, type(None)})
# json.JSONEncoder.encode builds a new C encoder per call; a dict of scalars cannot be circular,
# so one encoder without the circular-reference check serves every such `fields`.
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_flat = _make_encoder(None, str, _string, None, ": ", ", ", False, False, True) if _make_encoder else None


def _fields(extra: dict) -> str:
    """`extra` as JSON members (no braces)."""
    if _flat is not None:
        for value in extra.values():
            if type(value) not in _SCALARS:
                break
        else:
            return "".join(_flat(extra, 0))[1:-1]
    return _encode(extra)[1:-1]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the invocation's ids, `fields`.

    Written from JSON fragments (a cached head per logger and level, the timestamp's date part
    cached per second), so only the record's own values go through the encoder: this runs once
    per invocation on every cloud, and json.dumps of the whole entry was most of its cost.
    """

    def format(self, record: logging.LogRecord) -> str:
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict) and extra and not _OWN_KEYS.isdisjoint(extra):
            return self._format_entry(record, extra)
        key = (record.name, record.levelname)
        head = _heads.get(key)
        if head is None:
            head = _heads[key] = f'", "level": {_string(record.levelname.lower())}, "logger": {_value(record.name)}'
        parts = ['{"ts": "', _timestamp(record), head, ', "message": ', _string(record.getMessage())]
        invocation = context.current()
        if invocation is not None:
            parts += (', "function": ', _value(invocation.function), ', "invocation_id": ',
                      _value(invocation.invocation_id), ', "correlation_id": ', _value(invocation.correlation_id))
        if isinstance(extra, dict) and extra:
            parts += (", ", _fields(extra))
        if record.exc_info:
            parts += (', "exception": ', _string(self.formatException(record.exc_info)))
        parts.append("}")
        return "".join(parts)

    def _format_entry(self, record: logging.LogRecord, extra: dict) -> str:
        entry = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        invocation = context.current()
        if invocation is not None:
            entry["function"] = invocation.function
            entry["invocation_id"] = invocation.invocation_id
            entry["correlation_id"] = invocation.correlation_id
        entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)


_configured = False


def configure(level: str | int = "INFO", stream=None) -> None:
    """Route the `omnicloud` and app loggers to JSON lines (idempotent)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    _configured = True


def event(logger: logging.Logger, message: str, **fields) -> None:
    """Log `message` at INFO with structured `fields`."""
    logger.info(message, extra={"fields": fields})
