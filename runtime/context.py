"""Per-invocation context: function, invocation id and the W3C traceparent that travels with work."""

from __future__ import annotations

import contextvars
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from collections.abc import Callable

    from .types import Message, Request

TRACEPARENT = "traceparent"

# Trace and span ids need to be unique, not secret: os.urandom, with nothing to import (`random`
# and `secrets` cost a cold start milliseconds) and nothing to reseed in a forked child. An
# invocation draws its ids only when something reads them (the log line, a client forwarding the
# traceparent): a queue record that succeeds without either draws none.

_ZERO_TRACE = "0" * 32
_HEX = "0123456789abcdef"


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
            parent = self._parent
            if parent is not None and type(parent) is not str:
                parent = parent._traceparent()  # begin() was given the event that carries it
            correlation_id = self._correlation_id = _trace_id(parent)
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


def _valid_trace_id(value: str) -> str | None:
    """The trace id of `value` if it is a W3C traceparent (version-traceid-spanid-flags, lower-case
    hex of 2, 32, 16 and 2 digits, a trace id not all zeros), else None. Checked without a regular
    expression: compiling one costs a cold start more than this whole check."""
    parts = value.split("-")
    if (len(parts) != 4 or len(parts[0]) != 2 or len(parts[1]) != 32 or len(parts[2]) != 16
            or len(parts[3]) != 2 or "".join(parts).strip(_HEX) or parts[1] == _ZERO_TRACE):
        return None  # strip() leaves something exactly when a character is not lower-case hex
    return parts[1]


def valid_traceparent(value: str | None) -> bool:
    if not value:
        return False
    return _valid_trace_id(value.strip().lower()) is not None


def _trace_id(parent: str | None) -> str:
    """The trace id of a valid parent traceparent, else a new one."""
    if parent:
        trace_id = _valid_trace_id(parent) or _valid_trace_id(parent.strip().lower())
        if trace_id is not None:
            return trace_id
    return _hex(16)


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (or a new trace when there is no valid parent)."""
    return f"00-{_trace_id(parent)}-{_hex(8)}-01"


def function_name() -> str:
    """This function's name from the environment (what begin() uses when it is not given)."""
    return os.environ.get("OMNICLOUD_FUNCTION", "local")


def new(invocation_id: str | None = None, traceparent: str | Request | Message | None = None,
        function: str | None = None) -> Invocation:
    """A new invocation (not yet entered: see `enter`). `traceparent` is the incoming one, or the
    event (Request, Message) that carries it, read only when the trace id is first read."""
    invocation = Invocation.__new__(Invocation)
    invocation.function = function or os.environ.get("OMNICLOUD_FUNCTION", "local")
    invocation.invocation_id = invocation_id or _hex(8)
    invocation._parent = traceparent  # the trace id and a span id of its own when first read
    invocation._correlation_id = invocation._traceparent = None
    return invocation


def begin(invocation_id: str | None = None, traceparent: str | Request | Message | None = None,
          function: str | None = None) -> contextvars.Token:
    """Enter a new invocation (see `new`); `end` leaves it."""
    return _current.set(new(invocation_id, traceparent, function))


# Make `invocation` the current one, and leave it (`end(token)`): the context variable's own
# methods, so the per-invocation path has no call in between.
enter: Callable[[Invocation], contextvars.Token] = _current.set
end: Callable[[contextvars.Token], None] = _current.reset
current: Callable[[], Invocation | None] = _current.get


def outgoing_attributes(attributes: dict[str, str] | None) -> dict[str, str]:
    """Message attributes with the current traceparent added, so the next hop joins the trace."""
    out = {str(k): str(v) for k, v in (attributes or {}).items()}
    invocation = current()
    if invocation is not None and TRACEPARENT not in out:
        out[TRACEPARENT] = invocation.traceparent
    return out
