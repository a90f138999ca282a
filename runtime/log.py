"""JSON log lines carrying function, invocation id and correlation id."""

from __future__ import annotations

import json
import logging
import sys
import time

from . import context


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        invocation = context.current()
        if invocation is not None:
            entry["function"] = invocation.function
            entry["invocation_id"] = invocation.invocation_id
            entry["correlation_id"] = invocation.correlation_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


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
