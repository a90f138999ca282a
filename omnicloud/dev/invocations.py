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
_DETAILS = ("method", "path", "status", "message_id", "delivery_attempt", "schedule", "scheduled_time",
            "consequence")


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size] + f"… ({len(text) - size} more characters)"


class InvocationLog(logging.Handler):
    """A logging handler that keeps the recent invocations of each function."""

    def __init__(self, limit: int = 1000, lines: int = 200, text: int = 4000):
        super().__init__(logging.INFO)
        self.limit, self.max_lines, self.max_text = limit, lines, text
        self.seq = 0
        self._running: dict[int, tuple[Any, list[dict[str, Any]]]] = {}  # id(Invocation) -> (it, lines)
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._totals: dict[str, dict[str, int]] = {}
        self._guard = threading.Lock()

    # logging.Handler.handle takes the handler's own lock around emit; the history's lock is ours.
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

    def _line(self, invocation: Any, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        line = {"ts": record.created, "level": record.levelname.lower(), "logger": record.name,
                "message": _clip(record.getMessage(), self.max_text)}
        if isinstance(fields, dict) and fields:
            line["fields"] = fields
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = _clip("".join(traceback.format_exception(*record.exc_info)), self.max_text)
        with self._guard:
            running = self._running.get(id(invocation))
            if running is None or running[0] is not invocation:
                running = self._running[id(invocation)] = (invocation, [])
            if len(running[1]) < self.max_lines:
                running[1].append(line)

    def _finish(self, invocation: Any, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None) or {}
        entry: dict[str, Any] = {
            "function": invocation.function,
            "invocation_id": invocation.invocation_id,
            "correlation_id": invocation.correlation_id,
            "trigger": fields.get("trigger"),
            "outcome": fields.get("outcome") or "ok",
            "duration_ms": fields.get("duration_ms"),
            "ended_at": record.created,
            "error": fields.get("error"),
            "details": {key: fields[key] for key in _DETAILS if key in fields},
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["traceback"] = _clip("".join(traceback.format_exception(*record.exc_info)), self.max_text * 4)
        with self._guard:
            running = self._running.pop(id(invocation), None)
            entry["lines"] = running[1] if running is not None and running[0] is invocation else []
            self.seq += 1
            entry["seq"] = self.seq
            history = self._history.get(invocation.function)
            if history is None:
                history = self._history[invocation.function] = deque(maxlen=self.limit)
                self._totals[invocation.function] = {"invocations": 0, "errors": 0}
            history.append(entry)
            totals = self._totals[invocation.function]
            totals["invocations"] += 1
            if entry["outcome"] != "ok":
                totals["errors"] += 1

    # -- reading -------------------------------------------------------------------------------

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per function: invocations and errors since the server started, running now, the last one."""
        with self._guard:
            running: dict[str, int] = {}
            for invocation, _ in self._running.values():
                running[invocation.function] = running.get(invocation.function, 0) + 1
            out = {}
            for function, totals in self._totals.items():
                last = self._history[function][-1]
                out[function] = {**totals, "running": running.pop(function, 0),
                                 "last": {k: last[k] for k in ("seq", "outcome", "ended_at", "duration_ms")}}
            for function, count in running.items():
                out[function] = {"invocations": 0, "errors": 0, "running": count, "last": None}
            return out

    def page(self, function: str | None = None, *, before: int | None = None, after: int | None = None,
             limit: int = 50, outcome: str | None = None) -> list[dict[str, Any]]:
        """Summaries (no log lines) newest first: older than `before`, or newer than `after`."""
        with self._guard:
            sources = [self._history.get(function, ())] if function else list(self._history.values())
            picked = []
            for history in sources:  # each in seq order: its newest `limit` matches are enough
                taken = 0
                for entry in reversed(history):
                    if before is not None and entry["seq"] >= before:
                        continue
                    if after is not None and entry["seq"] <= after:
                        break
                    if outcome is not None and (entry["outcome"] == "ok") != (outcome == "ok"):
                        continue
                    picked.append(entry)
                    taken += 1
                    if taken >= limit:
                        break
            picked.sort(key=lambda e: e["seq"], reverse=True)
            return [{k: v for k, v in e.items() if k not in ("lines", "traceback")} | {"lines": len(e["lines"])}
                    for e in picked[:limit]]

    def get(self, seq: int) -> dict[str, Any] | None:
        with self._guard:
            for history in self._history.values():
                if history and history[0]["seq"] <= seq <= history[-1]["seq"]:
                    for entry in history:
                        if entry["seq"] == seq:
                            return dict(entry)
            return None
