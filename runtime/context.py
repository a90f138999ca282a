"""Per-invocation context: function, invocation id and the W3C traceparent that travels with work."""

from __future__ import annotations

import contextvars
import os
import re
from _random import Random

TRACEPARENT = "traceparent"

# Trace and span ids need to be unique, not secret (OpenTelemetry draws them the same way): a
# Mersenne Twister seeded from the OS, reseeded in a forked child, costs a fraction of `secrets`
# per id and imports nothing (secrets pulls in hmac and hashlib).
_random = Random(int.from_bytes(os.urandom(32), "big"))
_bits = _random.getrandbits
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _random.seed(int.from_bytes(os.urandom(32), "big")))

_VALID = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = "0" * 32


class Invocation:
    """Who runs (function), which run (invocation_id) and in which trace (traceparent)."""

    __slots__ = ("function", "invocation_id", "traceparent", "correlation_id")

    def __init__(self, function: str, invocation_id: str, traceparent: str):
        self.function = function
        self.invocation_id = invocation_id
        self.traceparent = traceparent
        # The trace id part of the traceparent: the same from HTTP request to topic subscriber.
        parts = traceparent.split("-")
        self.correlation_id = parts[1] if len(parts) == 4 else traceparent

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
    """`size` random bytes as hex (bytes.hex is cheaper than formatting the int)."""
    return _bits(size * 8).to_bytes(size, "little").hex()


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


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (or a new trace when there is no valid parent)."""
    if parent:
        match = _VALID.fullmatch(parent) or _VALID.fullmatch(parent.strip().lower())
        if match is not None and match.group(1) != _ZERO_TRACE:
            return f"00-{match.group(1)}-{_hex(8)}-01"
    return new_traceparent()


def function_name() -> str:
    """This function's name from the environment (what begin() uses when it is not given)."""
    return os.environ.get("OMNICLOUD_FUNCTION", "local")


def begin(invocation_id: str | None = None, traceparent: str | None = None, function: str | None = None) -> contextvars.Token:
    invocation = Invocation(
        function or os.environ.get("OMNICLOUD_FUNCTION", "local"),
        invocation_id or _hex(8),
        child_traceparent(traceparent),
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
