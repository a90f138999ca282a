"""Per-invocation context: function, invocation id and the W3C traceparent that travels with work."""

from __future__ import annotations

import contextvars
import os
import re

TRACEPARENT = "traceparent"

# Trace and span ids need to be unique, not secret: os.urandom, with nothing to import (`random`
# and `secrets` cost a cold start milliseconds) and nothing to reseed in a forked child. An
# invocation draws its ids only when something reads them (the log line, a client forwarding the
# traceparent): a queue record that succeeds without either draws none.

_VALID = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = "0" * 32


class Invocation:
    """Who runs (function), which run (invocation_id) and in which trace (traceparent).

    `correlation_id` is the trace id: the same from HTTP request to topic subscriber, taken from
    the incoming traceparent (or new) when first read; this invocation's own span id is drawn when
    its traceparent is first read.
    """

    __slots__ = ("function", "invocation_id", "_parent", "_correlation_id", "_traceparent")

    def __init__(self, function: str, invocation_id: str, traceparent: str):
        self.function = function
        self.invocation_id = invocation_id
        self._parent = None
        self._traceparent: str | None = traceparent
        parts = traceparent.split("-")
        self._correlation_id: str | None = parts[1] if len(parts) == 4 else traceparent

    @property
    def correlation_id(self) -> str:
        correlation_id = self._correlation_id
        if correlation_id is None:
            correlation_id = self._correlation_id = _trace_id(self._parent)
        return correlation_id

    @property
    def traceparent(self) -> str:
        traceparent = self._traceparent
        if traceparent is None:
            traceparent = self._traceparent = f"00-{self.correlation_id}-{_hex(8)}-01"
        return traceparent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Invocation):
            return NotImplemented
        return (self.function, self.invocation_id, self.traceparent) == (
            other.function, other.invocation_id, other.traceparent)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Invocation(function={self.function!r}, invocation_id={self.invocation_id!r}, "
                f"traceparent={self.traceparent!r})")


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("omnicloud_invocation", default=None)


def _hex(size: int) -> str:
    """`size` random bytes as hex."""
    return os.urandom(size).hex()


def new_id() -> str:
    """A 16-hex-digit id (invocation ids, span ids)."""
    return _hex(8)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or _hex(16)}-{_hex(8)}-01"


def valid_traceparent(value: str | None) -> bool:
    if not value:
        return False
    match = _VALID.fullmatch(value.strip().lower())
    return match is not None and match.group(1) != _ZERO_TRACE


def _trace_id(parent: str | None) -> str:
    """The trace id of a valid parent traceparent, else a new one."""
    if parent:
        match = _VALID.fullmatch(parent) or _VALID.fullmatch(parent.strip().lower())
        if match is not None and match.group(1) != _ZERO_TRACE:
            return match.group(1)
    return _hex(16)


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (or a new trace when there is no valid parent)."""
    return f"00-{_trace_id(parent)}-{_hex(8)}-01"


def function_name() -> str:
    """This function's name from the environment (what begin() uses when it is not given)."""
    return os.environ.get("OMNICLOUD_FUNCTION", "local")


def begin(invocation_id: str | None = None, traceparent: str | None = None, function: str | None = None) -> contextvars.Token:
    invocation = Invocation.__new__(Invocation)
    invocation.function = function or os.environ.get("OMNICLOUD_FUNCTION", "local")
    invocation.invocation_id = invocation_id or _hex(8)
    invocation._parent = traceparent  # the trace id and a span id of its own when first read
    invocation._correlation_id = invocation._traceparent = None
    return _current.set(invocation)


def end(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> Invocation | None:
    return _current.get()


def outgoing_attributes(attributes: dict[str, str] | None) -> dict[str, str]:
    """Message attributes with the current traceparent added, so the next hop joins the trace."""
    out = {str(k): str(v) for k, v in (attributes or {}).items()}
    invocation = current()
    if invocation is not None and TRACEPARENT not in out:
        out[TRACEPARENT] = invocation.traceparent
    return out
