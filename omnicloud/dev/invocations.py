"""The recent invocations of every function, for the console: status, duration, trigger, ids,
error and traceback, and the log lines each one wrote.

Nothing on the invocation path changes: this is a logging handler. Every invocation already ends
with one log line (runtime/adapters/base.py: logger `omnicloud.invocation`, its outcome and
fields), written inside the invocation's context; the lines a handler logs meanwhile carry the
same context. The handler keeps those lines per running invocation and turns the outcome line into
a history entry. History is bounded: `limit` entries per function (older ones drop off), at most
`lines` log lines per invocation and `text` characters per line or traceback.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from typing import Any

from runtime import context

OUTCOME_LOGGER = "omnicloud.invocation"
RUNNING_MAX = (
    10_000  # invocations with log lines and no outcome yet (their outcome line drops them)
)
_DETAILS = (
    "method",
    "path",
    "status",
    "message_id",
    "delivery_attempt",
    "schedule",
    "scheduled_time",
    "consequence",
)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size] + f"… ({len(text) - size} more characters)"


class InvocationLog(logging.Handler):
    """A logging handler that keeps the recent invocations of each function."""

    def __init__(self, limit: int = 1000, lines: int = 200, text: int = 4000):
        super().__init__(logging.INFO)
        self.limit, self.max_lines, self.max_text = limit, lines, text
        self.seq = 0
        self._running: dict[
            int, tuple[Any, list[dict[str, Any]]]
        ] = {}  # id(Invocation) -> (it, lines)
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._totals: dict[str, dict[str, int]] = {}
        self._guard = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        """Emit without the handler-wide lock logging.Handler.handle takes (this runs for every log
        record of every invocation; the history has its own, shorter-held lock)."""
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        invocation = context.current()
        if invocation is None:
            return
        try:
            if record.name == OUTCOME_LOGGER:
                self._finish(invocation, record)
            else:
                self._line(invocation, record)
        except Exception:  # never let the console's bookkeeping break an invocation
            self.handleError(record)

    # The write side runs on every invocation: it keeps references and tuples, and builds the
    # dictionaries the console reads only when it reads them.
    def _line(self, invocation: Any, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if len(message) > self.max_text:
            message = _clip(message, self.max_text)
        exception = None
        if record.exc_info and record.exc_info[0] is not None:
            exception = _clip("".join(traceback.format_exception(*record.exc_info)), self.max_text)
        line = (
            record.created,
            record.levelname,
            record.name,
            message,
            getattr(record, "fields", None),
            exception,
        )
        with self._guard:
            running = self._running.get(id(invocation))
            if running is None or running[0] is not invocation:
                if len(self._running) >= RUNNING_MAX:  # an invocation whose outcome line never came
                    del self._running[next(iter(self._running))]
                running = self._running[id(invocation)] = (invocation, [])
            if len(running[1]) < self.max_lines:
                running[1].append(line)

    def _finish(self, invocation: Any, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None) or {}  # the adapter's own dict, not changed after
        trace = None
        if record.exc_info and record.exc_info[0] is not None:
            trace = _clip("".join(traceback.format_exception(*record.exc_info)), self.max_text * 4)
        failed = fields.get("outcome", "ok") != "ok"
        with self._guard:
            running = self._running.pop(id(invocation), None) if self._running else None
            lines = running[1] if running is not None and running[0] is invocation else ()
            self.seq += 1
            history = self._history.get(invocation.function)
            if history is None:
                history = self._history[invocation.function] = deque(maxlen=self.limit)
                self._totals[invocation.function] = [0, 0]
            history.append(_Entry(self.seq, invocation, fields, record.created, trace, lines))
            totals = self._totals[invocation.function]
            totals[0] += 1
            totals[1] += failed

    # -- reading -------------------------------------------------------------------------------

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per function: invocations and errors since the server started, running now, the last one."""
        with self._guard:
            running: dict[str, int] = {}
            for invocation, _ in self._running.values():
                running[invocation.function] = running.get(invocation.function, 0) + 1
            out = {}
            for function, (count, errors) in self._totals.items():
                last = self._history[function][-1].summary()
                out[function] = {
                    "invocations": count,
                    "errors": errors,
                    "running": running.pop(function, 0),
                    "last": {k: last[k] for k in ("seq", "outcome", "ended_at", "duration_ms")},
                }
            for function, count in running.items():
                out[function] = {"invocations": 0, "errors": 0, "running": count, "last": None}
            return out

    def page(
        self,
        function: str | None = None,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
        outcome: str | None = None,
    ) -> list[dict[str, Any]]:
        """Summaries (no log lines) newest first: older than `before`, or newer than `after`."""
        with self._guard:
            sources = (
                [self._history.get(function, ())] if function else list(self._history.values())
            )
            picked = []
            for history in sources:  # each in seq order: its newest `limit` matches are enough
                taken = 0
                for entry in reversed(history):
                    if before is not None and entry.seq >= before:
                        continue
                    if after is not None and entry.seq <= after:
                        break
                    if outcome is not None and entry.ok != (outcome == "ok"):
                        continue
                    picked.append(entry)
                    taken += 1
                    if taken >= limit:
                        break
            picked.sort(key=lambda e: e.seq, reverse=True)
            return [entry.summary() for entry in picked[:limit]]

    def get(self, seq: int) -> dict[str, Any] | None:
        with self._guard:
            for history in self._history.values():
                if history and history[0].seq <= seq <= history[-1].seq:
                    for entry in history:
                        if entry.seq == seq:
                            return entry.full()
            return None


class _Entry:
    """One finished invocation, as kept (the dictionaries are built when the console reads it)."""

    __slots__ = ("seq", "invocation", "fields", "ended_at", "traceback", "lines")

    def __init__(
        self,
        seq: int,
        invocation: Any,
        fields: dict[str, Any],
        ended_at: float,
        trace: str | None,
        lines: Any,
    ):
        self.seq, self.invocation, self.fields = seq, invocation, fields
        self.ended_at, self.traceback, self.lines = ended_at, trace, lines

    @property
    def ok(self) -> bool:
        return self.fields.get("outcome", "ok") == "ok"

    def summary(self) -> dict[str, Any]:
        fields, invocation = self.fields, self.invocation
        return {
            "seq": self.seq,
            "function": invocation.function,
            "invocation_id": invocation.invocation_id,
            "correlation_id": invocation.correlation_id,
            "trigger": fields.get("trigger"),
            "outcome": fields.get("outcome") or "ok",
            "duration_ms": fields.get("duration_ms"),
            "ended_at": self.ended_at,
            "error": fields.get("error"),
            "details": {key: fields[key] for key in _DETAILS if key in fields},
            "lines": len(self.lines),
        }

    def full(self) -> dict[str, Any]:
        out = self.summary()
        out["lines"] = [_line_view(line) for line in self.lines]
        if self.traceback is not None:
            out["traceback"] = self.traceback
        return out


def _line_view(line: tuple) -> dict[str, Any]:
    created, level, logger, message, fields, exception = line
    out = {"ts": created, "level": level.lower(), "logger": logger, "message": message}
    if isinstance(fields, dict) and fields:
        out["fields"] = fields
    if exception is not None:
        out["exception"] = exception
    return out
