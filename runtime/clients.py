"""Neutral clients: Queue, Topic, Table, Secret. The backend is chosen by OMNICLOUD_CLOUD.

Nothing here imports a cloud SDK; the backend module is imported on first use and its SDK
clients are reused while the instance is warm.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Iterable

from . import context
from .backends.base import ConditionFailed, OutgoingMessage, Page
from .links import Link, LinkError, current_environ, resolve
from .types import encode_body

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from typing import Any

BACKENDS = {
    "aws": "runtime.backends.aws",
    "azure": "runtime.backends.azure",
    "gcp": "runtime.backends.gcp",
    "local": "runtime.backends.local",
}

__all__ = ["Client", "ConditionFailed", "LinkError", "Page", "Queue", "Secret", "Table", "Topic", "backend_module"]

_lock = threading.Lock()


def backend_module(cloud: str | None = None):
    cloud = cloud or current_environ().get("OMNICLOUD_CLOUD") or os.environ.get("OMNICLOUD_CLOUD", "local")
    try:
        return importlib.import_module(BACKENDS[cloud])
    except KeyError:
        raise RuntimeError(f"OMNICLOUD_CLOUD={cloud!r} is not one of {', '.join(BACKENDS)}") from None


class Client:
    """Base of every client: `kind` is the kind's name in links, `backends` the module of each
    cloud's backend (cloud -> module; the module's attribute named after the kind makes the
    backend from a resolved Link). A package's kind defines its own client the same way:

        class Bucket(Client):
            kind = "bucket"
            backends = {"aws": "acme.backends.aws", ..., "local": "acme.backends.local"}

    The backend is imported on first use, by this map: no registry lookup at run time.
    """

    kind = ""
    backends: dict[str, str] = BACKENDS

    def __init__(self, name: str):
        self.name = name
        self._impl: Any = None
        self._link: Link | None = None

    def _backend(self, verb: str):
        link = resolve(self.name, self.kind, verb)
        if self._impl is None:
            with _lock:
                if self._impl is None:
                    self._impl = getattr(self._backend_module(), self.kind)(link)
                    self._link = link
        return self._impl

    def _backend_module(self):
        cloud = current_environ().get("OMNICLOUD_CLOUD") or os.environ.get("OMNICLOUD_CLOUD", "local")
        try:
            return importlib.import_module(self.backends[cloud])
        except KeyError:
            raise RuntimeError(f"{type(self).__name__} has no backend for OMNICLOUD_CLOUD={cloud!r}"
                               f" (it has {', '.join(self.backends)})") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Queue(Client):
    """A queue from app.yaml. Needs the `send` verb."""

    kind = "queue"

    def send(self, body: Any, *, delay_seconds: int = 0, dedup_id: str | None = None,
             attributes: dict[str, str] | None = None) -> str:
        return self.send_batch([body], delay_seconds=delay_seconds, attributes=attributes,
                               dedup_ids=[dedup_id] if dedup_id else None)[0]

    def send_batch(self, bodies: Iterable[Any], *, delay_seconds: int = 0,
                   attributes: dict[str, str] | None = None, dedup_ids: list[str] | None = None) -> list[str]:
        backend = self._backend("send")
        if not 0 <= delay_seconds <= 900:
            raise ValueError("delay_seconds must be 0..900 (the shortest maximum among the clouds)")
        attrs = context.outgoing_attributes(attributes)
        messages = []
        for i, body in enumerate(bodies):
            data, content_type = encode_body(body)
            messages.append(OutgoingMessage(body=data, attributes=dict(attrs), delay_seconds=delay_seconds,
                                            dedup_id=dedup_ids[i] if dedup_ids else None, content_type=content_type))
        return backend.send_batch(messages) if messages else []


class Topic(Client):
    """A topic from app.yaml. Needs the `publish` verb. Subscription filters match `attributes`."""

    kind = "topic"

    def publish(self, body: Any, *, attributes: dict[str, str] | None = None) -> str:
        backend = self._backend("publish")
        data, content_type = encode_body(body)
        return backend.publish(OutgoingMessage(body=data, attributes=context.outgoing_attributes(attributes),
                                               content_type=content_type))


VERSION = "_version"
MAX_CURSOR = 4096  # characters; a cursor holds one sort key, and sort keys are short


class Table(Client):
    """A table from app.yaml: `read` for get/query, `write` for put/update/delete.

    Every stored item carries `_version` (1 on creation, +1 on each write) for optimistic
    concurrency. Items whose TTL attribute (epoch seconds) has passed are never returned,
    on every backend, even before the cloud removes them.
    """

    kind = "table"

    def _keys(self) -> tuple[str, str | None, str | None]:
        link = self._link or resolve(self.name, "table")
        return link.get("partition_key", "pk"), link.get("sort_key"), link.get("ttl")

    def _key_values(self, pk: str, sk: str | None) -> None:
        _, sort_key, _ = self._keys()
        if not isinstance(pk, str) or not pk:
            raise ValueError("partition key must be a non-empty string")
        if sort_key and (not isinstance(sk, str) or sk == ""):
            raise ValueError(f"table {self.name!r} has sort key {sort_key!r}; pass sk")

    def _live(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        if item is None:
            return None
        ttl = self._keys()[2]
        if ttl and isinstance(item.get(ttl), (int, float)) and item[ttl] <= time.time():
            return None
        return item

    def get(self, pk: str, sk: str | None = None) -> dict[str, Any] | None:
        backend = self._backend("read")
        self._key_values(pk, sk)
        return self._live(backend.get(pk, sk))

    def put(self, item: dict[str, Any], *, if_absent: bool = False, expected_version: int | None = None) -> dict[str, Any]:
        """Write `item` whole. `if_absent` fails if the key exists; `expected_version` fails unless
        the stored `_version` matches. Raises ConditionFailed. Returns the item as stored."""
        backend = self._backend("write")
        pk_name, sk_name, _ = self._keys()
        if pk_name not in item:
            raise ValueError(f"item has no partition key {pk_name!r}")
        if sk_name and sk_name not in item:
            raise ValueError(f"item has no sort key {sk_name!r}")
        stored = dict(item)
        if if_absent and expected_version is not None:
            raise ValueError("pass if_absent or expected_version, not both")
        if if_absent:
            condition: Any = "absent"
            stored[VERSION] = 1
        elif expected_version is not None:
            condition = ("version", expected_version)
            stored[VERSION] = expected_version + 1
        else:
            # Unconditional: no extra read (a write-only link may not read); an item that came
            # from get() keeps counting from its version.
            condition = None
            stored[VERSION] = int(item.get(VERSION, 0)) + 1
        backend.put(stored, condition)
        return stored

    def update(self, pk: str, sk: str | None = None, changes: dict[str, Any] | None = None, *,
               expected_version: int | None = None, retries: int = 5) -> dict[str, Any]:
        """Merge `changes` into an existing item (None deletes an attribute).

        Without `expected_version` the read-merge-write retries on conflict; with it, a conflict
        raises ConditionFailed. KeyError if the item does not exist. Needs `read` and `write`.
        """
        self._backend("write")
        for _ in range(max(1, retries)):
            current = self.get(pk, sk)
            if current is None:
                raise KeyError(f"{self.name}: no item {pk!r}" + (f"/{sk!r}" if sk else ""))
            version = int(current.get(VERSION, 0))
            if expected_version is not None and version != expected_version:
                raise ConditionFailed(f"{self.name}: version is {version}, expected {expected_version}")
            merged = {k: v for k, v in {**current, **(changes or {})}.items() if v is not None}
            try:
                return self.put(merged, expected_version=version)
            except ConditionFailed:
                if expected_version is not None:
                    raise
        raise ConditionFailed(f"{self.name}: too much contention updating {pk!r}")

    def delete(self, pk: str, sk: str | None = None, *, expected_version: int | None = None) -> None:
        backend = self._backend("write")
        self._key_values(pk, sk)
        backend.delete(pk, sk, ("version", expected_version) if expected_version is not None else None)

    def query(self, pk: str, *, prefix: str | None = None, start: str | None = None, end: str | None = None,
              limit: int = 100, cursor: str | None = None, descending: bool = False) -> Page:
        """Items of partition `pk`, in sort-key order, `limit` per page; pass `page.cursor` back for more."""
        backend = self._backend("read")
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be 1..1000")
        if prefix is not None and (start is not None or end is not None):
            raise ValueError("pass prefix or start/end, not both")
        if cursor is not None and (not isinstance(cursor, str) or len(cursor) > MAX_CURSOR):
            raise ValueError(f"cursor must be the string a previous page returned (at most {MAX_CURSOR} characters)")
        page = backend.query(pk, prefix=prefix, start=start, end=end, limit=limit, cursor=cursor, descending=descending)
        page.items = [item for item in page.items if self._live(item) is not None]
        return page


class Secret(Client):
    """A secret from app.yaml; needs `read`. The value is cached for `ttl` seconds."""

    kind = "secret"

    def __init__(self, name: str, ttl: float = 300.0):
        super().__init__(name)
        self.ttl = ttl
        self._value: str | None = None
        self._fetched = 0.0

    def value(self) -> str:
        backend = self._backend("read")
        now = time.monotonic()
        if self._value is None or now - self._fetched > self.ttl:
            self._value = backend.value()
            self._fetched = now
        return self._value
