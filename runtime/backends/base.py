"""What each backend (aws, azure, gcp, local) implements for the neutral clients.

A backend module exposes four factories, each taking a resolved Link and returning an object
with the methods below. The facades in runtime.clients check links and verbs, add trace
attributes and filter expired items; backends only talk to their service. SDK clients are
created on first use and cached per process (module-level), so a warm instance reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..links import Link


class ConditionFailed(Exception):
    """A conditional write lost: the item exists (if_absent) or its version moved on."""


@dataclass
class Page:
    items: list[dict[str, Any]]
    cursor: str | None = None  # opaque; pass back to get the next page, None when done

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class OutgoingMessage:
    body: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    delay_seconds: int = 0
    dedup_id: str | None = None
    content_type: str = "application/json"


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
