"""Google Cloud backend: Firestore tables, Pub/Sub queues and topics, Secret Manager secrets.

The SDKs honour FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST. A queue is a Pub/Sub topic:
a dedup id travels as the attribute `dedup-id` (Pub/Sub has no duplicate detection for push),
and a delay travels as `omnicloud-not-before` (Pub/Sub cannot hold a message back): the
consumer's adapter waits until then before running the handler. A table is a collection
whose documents carry the partition and sort keys as fields; querying `pk == x order by sk`
needs a composite index (pk asc, sk asc) and (pk asc, sk desc) on real Firestore (the emulator
needs none). Items with a TTL attribute also get `omnicloud_expires` (a timestamp), the field a
Firestore TTL policy can act on.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ..links import Link
from .base import (
    ConditionFailed,
    OutgoingMessage,
    Page,
    access_denied,
    decode_cursor,
    encode_cursor,
    not_deployed,
    prefix_end,
)

CLOUD = "Google Cloud"
DEDUP_ATTRIBUTE = "dedup-id"
EXPIRES_FIELD = "omnicloud_expires"
NOT_BEFORE_ATTRIBUTE = "omnicloud-not-before"  # epoch seconds; honoured by the consumer's adapter
JSON_FIELDS = "omnicloud_json"  # top-level fields stored as JSON text (Firestore has no arrays of arrays)
VERSION = "_version"

_clients: dict[Any, Any] = {}
_lock = threading.Lock()


def _cached(key: Any, make: Any) -> Any:
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = _clients[key] = make()
    return found


def _environment_key() -> tuple[str | None, str | None]:
    return os.environ.get("FIRESTORE_EMULATOR_HOST"), os.environ.get("PUBSUB_EMULATOR_HOST")


def translate(error: Exception, link: Link, action: str, physical: str) -> Exception:
    """A clear LinkError / NotDeployed for the Google errors a user can fix; others unchanged."""
    from google.api_core import exceptions

    if isinstance(error, (exceptions.PermissionDenied, exceptions.Forbidden, exceptions.Unauthenticated)):
        return access_denied(CLOUD, link, action, physical)
    if isinstance(error, exceptions.NotFound):
        return not_deployed(CLOUD, link, physical)
    return error


@contextlib.contextmanager
def _errors(link: Link, action: str, physical: str) -> Iterator[None]:
    from google.api_core.exceptions import GoogleAPICallError

    try:
        yield
    except GoogleAPICallError as error:
        raise translate(error, link, action, physical) from None


# -- Firestore ----------------------------------------------------------------------------


def _needs_json(value: Any, in_array: bool = False) -> bool:
    """Firestore stores JSON natively except arrays directly inside arrays and integers beyond 64 bits."""
    if isinstance(value, list):
        return in_array or any(_needs_json(v, True) for v in value)
    if isinstance(value, dict):
        return any(_needs_json(v) for v in value.values())
    return isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63


def document_id(pk: str, sk: str | None) -> str:
    """A reversible document id for (pk, sk): no "/", never "." or "..", never "__...__"."""

    def part(value: str) -> str:
        encoded = quote(value, safe="")
        return "%5F" + encoded[1:] if encoded.startswith("_") else encoded

    return f"{part(pk)}:{part(sk or '')}"


class FirestoreTable:
    def __init__(self, link: Link):
        self.link = link
        self.project = link.require("project")
        self.database = link.get("database") or "(default)"
        self.collection_name = link.require("collection")
        self.partition_key = link.get("partition_key", "pk")
        self.sort_key = link.get("sort_key")
        self.ttl = link.get("ttl")
        self.physical = f"projects/{self.project}/databases/{self.database}/documents/{self.collection_name}"

        def make() -> Any:
            from google.cloud import firestore

            return firestore.Client(project=self.project, database=self.database)

        self.client = _cached(("firestore", self.project, self.database, _environment_key()), make)
        self.collection = self.client.collection(self.collection_name)

    def _ref(self, pk: str, sk: str | None) -> Any:
        return self.collection.document(document_id(pk, sk if self.sort_key else None))

    def _document(self, item: dict[str, Any]) -> dict[str, Any]:
        data = dict(item)
        as_json = [k for k, v in item.items() if _needs_json(v)]
        for name in as_json:
            data[name] = json.dumps(item[name], separators=(",", ":"))
        if as_json:
            data[JSON_FIELDS] = as_json
        expires = item.get(self.ttl) if self.ttl else None
        if isinstance(expires, (int, float)) and not isinstance(expires, bool):
            data[EXPIRES_FIELD] = datetime.fromtimestamp(expires, tz=UTC)
        return data

    def _item(self, data: dict[str, Any]) -> dict[str, Any]:
        data.pop(EXPIRES_FIELD, None)
        for name in data.pop(JSON_FIELDS, None) or ():
            data[name] = json.loads(data[name])
        return data

    def _check(self, snapshot: Any, condition: Any, key: str) -> None:
        if not (isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] == "version"):
            raise ValueError(f"unknown write condition {condition!r}; use 'absent' or ('version', n)")
        if not snapshot.exists:
            raise ConditionFailed(f"{self.link.logical}: item {key} does not exist (expected version {condition[1]})")
        version = (snapshot.to_dict() or {}).get(VERSION)
        if version != condition[1]:
            raise ConditionFailed(f"{self.link.logical}: item {key} is at version {version}, expected {condition[1]}")

    def _describe(self, pk: Any, sk: Any) -> str:
        return repr(pk) + (f"/{sk!r}" if self.sort_key else "")

    def _in_transaction(self, ref: Any, condition: Any, key: str, write: Any) -> None:
        from google.cloud import firestore

        @firestore.transactional
        def run(transaction: Any) -> None:
            self._check(ref.get(transaction=transaction), condition, key)
            write(transaction)

        run(self.client.transaction())

    def put(self, item: dict[str, Any], condition: Any = None) -> None:
        from google.api_core.exceptions import AlreadyExists, Conflict

        pk = str(item[self.partition_key])
        sk = str(item[self.sort_key]) if self.sort_key else None
        ref, data, key = self._ref(pk, sk), self._document(item), self._describe(pk, sk)
        try:
            with _errors(self.link, "write", self.physical):
                if condition is None:
                    ref.set(data)
                elif condition == "absent":
                    ref.create(data)
                else:
                    self._in_transaction(ref, condition, key, lambda tx: tx.set(ref, data))
        except (AlreadyExists, Conflict):
            raise ConditionFailed(f"{self.link.logical}: item {key} already exists") from None

    def get(self, pk: str, sk: str | None) -> dict[str, Any] | None:
        with _errors(self.link, "read", self.physical):
            snapshot = self._ref(pk, sk).get()
        return self._item(snapshot.to_dict() or {}) if snapshot.exists else None

    def delete(self, pk: str, sk: str | None, condition: Any = None) -> None:
        ref = self._ref(pk, sk)
        with _errors(self.link, "write", self.physical):
            if condition is None:
                ref.delete()
            else:
                self._in_transaction(ref, condition, self._describe(pk, sk), lambda tx: tx.delete(ref))

    def query(self, pk: str, *, prefix: str | None, start: str | None, end: str | None,
              limit: int, cursor: str | None, descending: bool) -> Page:
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.collection.where(filter=FieldFilter(self.partition_key, "==", pk))
        if self.sort_key:
            bounds: list[tuple[str, str]] = []
            if prefix:
                bounds.append((">=", prefix))
                above = prefix_end(prefix)
                if above is not None:
                    bounds.append(("<", above))
            if start is not None:
                bounds.append((">=", start))
            if end is not None:
                bounds.append(("<=", end))
            if cursor:
                bounds.append(("<" if descending else ">", decode_cursor(cursor, pk, descending)))
            for op, value in bounds:
                query = query.where(filter=FieldFilter(self.sort_key, op, value))
            query = query.order_by(self.sort_key,
                                   direction=firestore.Query.DESCENDING if descending else firestore.Query.ASCENDING)
        query = query.limit(limit + 1)
        with _errors(self.link, "read", self.physical):
            items = [self._item(snapshot.to_dict() or {}) for snapshot in query.stream()]
        more = len(items) > limit and bool(self.sort_key)
        items = items[:limit]
        return Page(items=items, cursor=encode_cursor(pk, items[-1][self.sort_key], descending) if more else None)


# -- Pub/Sub ------------------------------------------------------------------------------


def publisher() -> Any:
    def make() -> Any:
        from google.cloud import pubsub_v1

        return pubsub_v1.PublisherClient()

    return _cached(("publisher", _environment_key()), make)


class PubSubTopic:
    """A neutral queue or topic: both are Pub/Sub topics on Google Cloud."""

    def __init__(self, link: Link):
        self.link = link
        self.topic = link.require("topic")

    def send_batch(self, messages: list[OutgoingMessage]) -> list[str]:
        client = publisher()
        with _errors(self.link, "pubsub.topics.publish", self.topic):
            futures = []
            for message in messages:
                attributes = dict(message.attributes)
                if message.dedup_id:
                    attributes[DEDUP_ATTRIBUTE] = message.dedup_id
                if message.delay_seconds:
                    # Pub/Sub cannot hold a message back: the consumer's adapter waits until this
                    # time before running the handler (runtime/adapters/gcp.py).
                    attributes[NOT_BEFORE_ATTRIBUTE] = f"{time.time() + message.delay_seconds:.3f}"
                futures.append(client.publish(self.topic, message.body, **attributes))
            return [future.result(timeout=60) for future in futures]

    def publish(self, message: OutgoingMessage) -> str:
        return self.send_batch([message])[0]


# -- Secret Manager -----------------------------------------------------------------------


class SecretManagerSecret:
    def __init__(self, link: Link):
        self.link = link
        self.name = link.require("name")

    def value(self) -> str:
        def make() -> Any:
            from google.cloud import secretmanager

            return secretmanager.SecretManagerServiceClient()

        client = _cached("secretmanager", make)
        with _errors(self.link, "secretmanager.versions.access", self.name):
            response = client.access_secret_version(name=f"{self.name}/versions/latest")
        return response.payload.data.decode("utf-8")


# The distributions this backend imports, per link kind: the bundler lists those of the kinds a
# function links in its requirements.txt (google-api-core and google-auth come with each of them).
SDKS = {
    "table": ("google-cloud-firestore",),
    "queue": ("google-cloud-pubsub",),
    "topic": ("google-cloud-pubsub",),
    "secret": ("google-cloud-secret-manager",),
}

# The factories runtime.clients calls with a resolved Link (runtime/backends/base.py).
queue = PubSubTopic
topic = PubSubTopic
table = FirestoreTable
secret = SecretManagerSecret
