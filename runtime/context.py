"""Per-invocation context: function, invocation id and the W3C traceparent that travels with work."""

from __future__ import annotations

import contextvars
import os
import secrets
from dataclasses import dataclass

TRACEPARENT = "traceparent"


@dataclass(frozen=True)
class Invocation:
    function: str
    invocation_id: str
    traceparent: str

    @property
    def correlation_id(self) -> str:
        """The trace id part of the traceparent: the same from HTTP request to topic subscriber."""
        parts = self.traceparent.split("-")
        return parts[1] if len(parts) == 4 else self.traceparent


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("omnicloud_invocation", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def valid_traceparent(value: str | None) -> bool:
    if not value:
        return False
    parts = value.strip().split("-")
    return (len(parts) == 4 and len(parts[0]) == 2 and len(parts[1]) == 32 and len(parts[2]) == 16
            and parts[1] != "0" * 32 and all(c in "0123456789abcdef" for c in "".join(parts).lower()))


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (or a new trace when there is no valid parent)."""
    if valid_traceparent(parent):
        return new_traceparent(parent.split("-")[1])  # type: ignore[union-attr]
    return new_traceparent()


def begin(invocation_id: str | None = None, traceparent: str | None = None, function: str | None = None) -> contextvars.Token:
    invocation = Invocation(
        function=function or os.environ.get("OMNICLOUD_FUNCTION", "local"),
        invocation_id=invocation_id or secrets.token_hex(8),
        traceparent=child_traceparent(traceparent),
    )
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
