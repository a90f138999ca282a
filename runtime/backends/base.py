"""What each backend (aws, azure, gcp, local) implements for the neutral clients.

A backend module exposes four factories, each taking a resolved Link and returning an object
with the methods below. The facades in runtime.clients check links and verbs, add trace
attributes and filter expired items; backends only talk to their service. SDK clients are
created on first use and cached per process (module-level), so a warm instance reuses them.
"""

from __future__ import annotations

import json

from ..links import Link, LinkError, current_environ

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from typing import Any


class ConditionFailed(Exception):
    """A conditional write lost: the item exists (if_absent) or its version moved on."""


class NotDeployed(LookupError):
    """The linked resource does not exist in the cloud (yet): deploy the stack, then retry."""


def access_denied(cloud: str, link: Link, action: str, physical: str) -> LinkError:
    """The one-line error for a call the cloud refused (the deployed grants lack the verb)."""
    function = current_environ().get("OMNICLOUD_FUNCTION", "this function")
    return LinkError(
        f"{cloud} refused {function} {action} on {link.kind} {link.logical!r} ({physical}); "
        f"redeploy so its identity holds the grants of its link in app.yaml"
    )


def not_deployed(cloud: str, link: Link, physical: str) -> NotDeployed:
    return NotDeployed(f"{link.kind} {link.logical!r} ({physical}) does not exist in {cloud}; deploy the stack, then retry")


def encode_cursor(pk: str, last_sort_key: str, descending: bool) -> str:
    """An opaque cursor: the next page starts after `last_sort_key` (sort keys are unique in a partition)."""
    import base64

    data = json.dumps({"p": pk, "s": last_sort_key, "d": descending}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, pk: str, descending: bool) -> str:
    """The sort key a cursor from `encode_cursor` resumes after; ValueError if it is not this query's."""
    import base64

    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["p"] == pk and data["d"] == descending and isinstance(data["s"], str):
            return data["s"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: a deeply nested JSON cursor
        pass
    raise ValueError("cursor does not belong to this query; pass back page.cursor unchanged with the same pk and order")


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix` (code-point order)."""
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be sent; the next code point is U+E000
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:i] + chr(code)
    return None  # empty, or only U+10FFFF: no upper bound


class Page:
    """One page of query results; `cursor` is opaque: pass it back for the next page, None when done."""

    __slots__ = ("items", "cursor")

    def __init__(self, items: list[dict[str, Any]], cursor: str | None = None):
        self.items = items
        self.cursor = cursor

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Page):
            return NotImplemented
        return (self.items, self.cursor) == (other.items, other.cursor)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Page(items={self.items!r}, cursor={self.cursor!r})"

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class OutgoingMessage:
    """A message on its way to a queue or topic backend."""

    __slots__ = ("body", "attributes", "delay_seconds", "dedup_id", "content_type")

    def __init__(self, body: bytes, attributes: dict[str, str] | None = None, delay_seconds: int = 0,
                 dedup_id: str | None = None, content_type: str = "application/json"):
        self.body = body
        self.attributes = {} if attributes is None else attributes
        self.delay_seconds = delay_seconds
        self.dedup_id = dedup_id
        self.content_type = content_type

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutgoingMessage):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OutgoingMessage({', '.join(f'{f}={getattr(self, f)!r}' for f in self.__slots__)})"


# What each backend implements (for type checkers; `typing` stays off the cold path).
if TYPE_CHECKING:
    from typing import Protocol

    class QueueBackend(Protocol):
        def send_batch(self, messages: list[OutgoingMessage]) -> list[str]:
            """Send every message (the backend splits into service-sized batches); return ids in order."""

    class TopicBackend(Protocol):
        def publish(self, message: OutgoingMessage) -> str:
            """Publish one message with its attributes (subscription filters match on them); return its id."""

    class TableBackend(Protocol):
        """Items are dicts of JSON values; keys are strings. `_version` is managed by the facade.

        - put(item, condition): condition is None, "absent" (fail if the key exists) or
          ("version", n) (fail unless the stored item's `_version` == n). Raise ConditionFailed.
        - get(pk, sk) -> item | None
        - delete(pk, sk, condition) with the same conditions as put; deleting a missing item is no error
          unless a condition was given.
        - query(pk, prefix, start, end, limit, cursor, descending) -> Page, sorted by sort key;
          start/end are inclusive bounds on the sort key; prefix restricts to sort keys starting with it.
        """

        def put(self, item: dict[str, Any], condition: Any = None) -> None: ...

        def get(self, pk: str, sk: str | None) -> dict[str, Any] | None: ...

        def delete(self, pk: str, sk: str | None, condition: Any = None) -> None: ...

        def query(
            self, pk: str, *, prefix: str | None, start: str | None, end: str | None,
            limit: int, cursor: str | None, descending: bool,
        ) -> Page: ...

    class SecretBackend(Protocol):
        def value(self) -> str:
            """The secret's current value (the facade caches it with a TTL)."""

    class BackendModule(Protocol):
        def queue(self, link: Link) -> QueueBackend: ...
        def topic(self, link: Link) -> TopicBackend: ...
        def table(self, link: Link) -> TableBackend: ...
        def secret(self, link: Link) -> SecretBackend: ...
