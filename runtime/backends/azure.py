"""Azure backend: Storage Tables (azure-data-tables), Service Bus queues and topics, Key Vault secrets.

Identity-based: DefaultAzureCredential against the link's endpoints. AZURE_TABLES_CONNECTION_STRING,
when set, overrides the table endpoint (Azurite, local use). A dedup id becomes the Service Bus
`message_id` (honoured by duplicate detection) and the attribute `dedup-id`; a delay becomes the
scheduled enqueue time. Storage Tables cannot scan backwards: a descending query reads its range
in ascending order and keeps the last page, so keep descending ranges bounded. Storage Tables
have no TTL either: expired items are hidden on read but stay stored until deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ..links import Link, current_environ
from .base import (
    ConditionFailed,
    NotDeployed,
    OutgoingMessage,
    Page,
    access_denied,
    decode_cursor,
    encode_cursor,
    not_deployed,
    prefix_end,
)

CLOUD = "Azure"
# What the Azure provider stores in a Key Vault secret whose stack value is not set yet
# (providers/azure.py UNSET_SECRET).
UNSET_SECRET = "omnicloud:unset"
CONNECTION_STRING_ENV = "AZURE_TABLES_CONNECTION_STRING"
DEDUP_ATTRIBUTE = "dedup-id"
JSON_PROPERTIES = "omnicloud_json"  # names of the properties stored as JSON text
EXTRA_PROPERTIES = "omnicloud_extra"  # attributes whose names Azure does not allow, as one JSON object
_RESERVED = {"PartitionKey", "RowKey", "Timestamp", "ETag", JSON_PROPERTIES, EXTRA_PROPERTIES}
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
VERSION = "_version"

_clients: dict[Any, Any] = {}
_lock = threading.RLock()  # re-entrant: a sender is made while its client is made


def _cached(key: Any, make: Any) -> Any:
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = _clients[key] = make()
    return found


def credential() -> Any:
    def make() -> Any:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()

    return _cached("credential", make)


# -- keys ---------------------------------------------------------------------------------
# PartitionKey and RowKey may not hold / \ # ? or control characters. Each forbidden character
# shares an escape with the allowed character just below it (its group), written as escape +
# one digit: an order- and prefix-preserving code, so ranges and prefixes still work server-side.

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GROUPS = ((0x00, 0x20, " "), (0x22, 0x23, '"'), (0x2E, 0x2F, "."), (0x3E, 0x3F, ">"), (0x5B, 0x5C, "["),
           (0x7E, 0x9F, "~"))
_ENCODE = {chr(c): escape + _DIGITS[c - low] for low, high, escape in _GROUPS for c in range(low, high + 1)}
_DECODE = {escape: low for low, _, escape in _GROUPS}


def encode_key(value: str) -> str:
    """A Table key for `value`: reversible, and a < b (and prefix-of) is kept for the encoded keys."""
    return "".join(_ENCODE.get(c, c) for c in value)


def decode_key(key: str) -> str:
    out, i = [], 0
    while i < len(key):
        c = key[i]
        if c in _DECODE:
            out.append(chr(_DECODE[c] + _DIGITS.index(key[i + 1])))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# -- errors -------------------------------------------------------------------------------


def translate(error: Exception, link: Link, action: str, physical: str) -> Exception:
    """A clear LinkError / NotDeployed for the Azure errors a user can fix; others unchanged.

    A missing entity is not a missing resource: only a missing table, vault secret or
    messaging entity says to deploy.
    """
    from azure.core.exceptions import ClientAuthenticationError

    status = getattr(error, "status_code", None)
    code = str(getattr(error, "error_code", "") or "")
    if status == 403 or isinstance(error, ClientAuthenticationError) or code.startswith("Authorization"):
        return access_denied(CLOUD, link, action, physical)
    if status == 404 and (code in ("TableNotFound", "SecretNotFound") or "TableNotFound" in str(error)):
        return not_deployed(CLOUD, link, physical)
    return error


@contextlib.contextmanager
def _errors(link: Link, action: str, physical: str) -> Iterator[None]:
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as error:
        raise translate(error, link, action, physical) from None


# -- Storage Tables -----------------------------------------------------------------------


class StorageTable:
    def __init__(self, link: Link):
        self.link = link
        self.name = link.require("name")
        self.partition_key = link.get("partition_key", "pk")
        self.sort_key = link.get("sort_key")
        connection_string = current_environ().get(CONNECTION_STRING_ENV) or os.environ.get(CONNECTION_STRING_ENV)
        if connection_string:
            self.client = _cached(("table", connection_string, self.name), lambda: _from_connection_string(
                connection_string, self.name))
        else:
            endpoint = link.require("endpoint")
            self.client = _cached(("table", endpoint, self.name), lambda: _from_endpoint(endpoint, self.name))

    def _keys(self, pk: str, sk: str | None) -> tuple[str, str]:
        return encode_key(pk), encode_key(sk) if self.sort_key and sk is not None else ""

    def _entity(self, item: dict[str, Any]) -> dict[str, Any]:
        from azure.data.tables import EdmType, EntityProperty

        pk, rk = self._keys(str(item[self.partition_key]), str(item[self.sort_key]) if self.sort_key else None)
        entity: dict[str, Any] = {"PartitionKey": pk, "RowKey": rk}
        as_json: list[str] = []
        extra: dict[str, Any] = {}
        for name, value in item.items():
            if name in (self.partition_key, self.sort_key):
                continue
            if name in _RESERVED or not _PROPERTY_NAME.fullmatch(name):
                extra[name] = value
            elif isinstance(value, (bool, str, float)) or (isinstance(value, int) and -2**31 <= value < 2**31):
                entity[name] = value
            elif isinstance(value, int) and -2**63 <= value < 2**63:
                entity[name] = EntityProperty(value, EdmType.INT64)
            else:  # objects, arrays, null and huge integers: JSON text, restored on read
                entity[name] = json.dumps(value, separators=(",", ":"))
                as_json.append(name)
        if as_json:
            entity[JSON_PROPERTIES] = ",".join(as_json)
        if extra:
            entity[EXTRA_PROPERTIES] = json.dumps(extra, separators=(",", ":"))
        return entity

    def _item(self, entity: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {self.partition_key: decode_key(entity["PartitionKey"])}
        if self.sort_key:
            item[self.sort_key] = decode_key(entity["RowKey"])
        as_json = set(filter(None, str(entity.get(JSON_PROPERTIES) or "").split(",")))
        for name, value in entity.items():
            if name in _RESERVED:
                continue
            value = getattr(value, "value", value)  # EntityProperty (Int64) -> int
            item[name] = json.loads(value) if name in as_json else value
        if entity.get(EXTRA_PROPERTIES):
            item.update(json.loads(entity[EXTRA_PROPERTIES]))
        return item

    def _describe(self, pk: str, sk: str | None) -> str:
        return repr(pk) + (f"/{sk!r}" if self.sort_key else "")

    def _current(self, pk: str, sk: str | None, condition: Any) -> dict[str, Any]:
        """The stored entity a ("version", n) condition is checked against; ConditionFailed if absent or moved on."""
        from azure.core.exceptions import ResourceNotFoundError

        if not (isinstance(condition, (tuple, list)) and len(condition) == 2 and condition[0] == "version"):
            raise ValueError(f"unknown write condition {condition!r}; use 'absent' or ('version', n)")
        partition, row = self._keys(pk, sk)
        try:
            with _errors(self.link, "read", self.name):
                entity = self.client.get_entity(partition, row)
        except ResourceNotFoundError:
            raise ConditionFailed(f"{self.link.logical}: item {self._describe(pk, sk)} does not exist "
                                  f"(expected version {condition[1]})") from None
        version = entity.get(VERSION)
        if version != condition[1]:
            raise ConditionFailed(f"{self.link.logical}: item {self._describe(pk, sk)} is at version {version}, "
                                  f"expected {condition[1]}")
        return entity

    def put(self, item: dict[str, Any], condition: Any = None) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        entity = self._entity(item)
        pk, sk = str(item[self.partition_key]), str(item[self.sort_key]) if self.sort_key else None
        try:
            with _errors(self.link, "write", self.name):
                if condition is None:
                    self.client.upsert_entity(entity, mode=UpdateMode.REPLACE)
                elif condition == "absent":
                    self.client.create_entity(entity)
                else:
                    current = self._current(pk, sk, condition)
                    self.client.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                              match_condition=MatchConditions.IfNotModified)
        except ResourceExistsError:
            raise ConditionFailed(f"{self.link.logical}: item {self._describe(pk, sk)} already exists") from None
        except (ResourceModifiedError, ResourceNotFoundError):
            raise ConditionFailed(f"{self.link.logical}: item {self._describe(pk, sk)} changed meanwhile") from None

    def get(self, pk: str, sk: str | None) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with _errors(self.link, "read", self.name):
                return self._item(self.client.get_entity(*self._keys(pk, sk)))
        except ResourceNotFoundError:
            return None

    def delete(self, pk: str, sk: str | None, condition: Any = None) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        partition, row = self._keys(pk, sk)
        try:
            with _errors(self.link, "write", self.name):
                if condition is None:
                    self.client.delete_entity(partition, row)
                else:
                    current = self._current(pk, sk, condition)
                    self.client.delete_entity(partition, row, etag=current.metadata["etag"],
                                              match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise ConditionFailed(f"{self.link.logical}: item {self._describe(pk, sk)} changed meanwhile") from None

    def query(self, pk: str, *, prefix: str | None, start: str | None, end: str | None,
              limit: int, cursor: str | None, descending: bool) -> Page:
        clauses, parameters = ["PartitionKey eq @pk"], {"pk": encode_key(pk)}
        if self.sort_key:
            if prefix:
                clauses.append("RowKey ge @low")
                parameters["low"] = encode_key(prefix)
                above = prefix_end(encode_key(prefix))
                if above is not None:
                    clauses.append("RowKey lt @above")
                    parameters["above"] = above
            if start is not None:
                clauses.append("RowKey ge @start")
                parameters["start"] = encode_key(start)
            if end is not None:
                clauses.append("RowKey le @end")
                parameters["end"] = encode_key(end)
            if cursor:
                clauses.append("RowKey lt @after" if descending else "RowKey gt @after")
                parameters["after"] = encode_key(decode_cursor(cursor, pk, descending))
        query_filter = " and ".join(clauses)
        with _errors(self.link, "read", self.name):
            pager = self.client.query_entities(query_filter, parameters=parameters,
                                               results_per_page=min(limit + 1, 1000))
            if descending:
                kept = deque(pager, maxlen=limit + 1)
                entities = list(reversed(kept))
            else:
                entities = []
                for entity in pager:
                    entities.append(entity)
                    if len(entities) > limit:
                        break
        items = [self._item(e) for e in entities[:limit]]
        if prefix:  # the server range is exact; this guards odd code points (UTF-16 vs code-point order)
            items = [i for i in items if i[self.sort_key].startswith(prefix)]
        more = len(entities) > limit and bool(self.sort_key)
        return Page(items=items, cursor=encode_cursor(pk, decode_key(entities[limit - 1]["RowKey"]), descending)
                    if more else None)


def _from_connection_string(connection_string: str, name: str) -> Any:
    from azure.data.tables import TableClient

    return TableClient.from_connection_string(connection_string, table_name=name)


def _from_endpoint(endpoint: str, name: str) -> Any:
    from azure.data.tables import TableClient

    return TableClient(endpoint=endpoint, table_name=name, credential=credential())


# -- Service Bus --------------------------------------------------------------------------


class ServiceBusEntity:
    """A Service Bus queue or topic sender; one AMQP link per entity, kept while warm."""

    def __init__(self, link: Link, kind: str):
        self.link = link
        self.namespace = link.require("namespace")
        self.name = link.require("name")
        self.kind = kind
        self.physical = f"{self.namespace}/{self.name}"

    def _sender(self) -> Any:
        def make() -> Any:
            from azure.servicebus import ServiceBusClient

            bus = _cached(("servicebus", self.namespace), lambda: ServiceBusClient(
                fully_qualified_namespace=self.namespace, credential=credential()))
            if self.kind == "queue":
                return bus.get_queue_sender(queue_name=self.name)
            return bus.get_topic_sender(topic_name=self.name)

        return _cached(("sender", self.namespace, self.kind, self.name), make)

    def _message(self, message: OutgoingMessage) -> Any:
        from azure.servicebus import ServiceBusMessage

        properties = dict(message.attributes)
        if message.dedup_id:
            properties[DEDUP_ATTRIBUTE] = message.dedup_id
        sb_message = ServiceBusMessage(message.body, application_properties=properties,
                                       message_id=message.dedup_id or uuid.uuid4().hex,
                                       content_type=message.content_type)
        if message.delay_seconds:
            sb_message.scheduled_enqueue_time_utc = datetime.now(UTC) + timedelta(seconds=message.delay_seconds)
        return sb_message

    def send(self, messages: list[OutgoingMessage]) -> list[str]:
        from azure.servicebus.exceptions import (
            MessageSizeExceededError,
            MessagingEntityNotFoundError,
            ServiceBusAuthorizationError,
        )

        action = "Send"
        sender = self._sender()
        built = [self._message(m) for m in messages]
        try:
            batch = sender.create_message_batch()
            for sb_message in built:
                try:
                    batch.add_message(sb_message)
                except MessageSizeExceededError:
                    if len(batch) == 0:
                        raise
                    sender.send_messages(batch)
                    batch = sender.create_message_batch()
                    batch.add_message(sb_message)
            if len(batch):
                sender.send_messages(batch)
        except ServiceBusAuthorizationError:
            raise access_denied(CLOUD, self.link, action, self.physical) from None
        except MessagingEntityNotFoundError:
            raise not_deployed(CLOUD, self.link, self.physical) from None
        return [m.message_id for m in built]


class ServiceBusQueue(ServiceBusEntity):
    def __init__(self, link: Link):
        super().__init__(link, "queue")

    def send_batch(self, messages: list[OutgoingMessage]) -> list[str]:
        return self.send(messages)


class ServiceBusTopic(ServiceBusEntity):
    def __init__(self, link: Link):
        super().__init__(link, "topic")

    def publish(self, message: OutgoingMessage) -> str:
        return self.send([message])[0]


# -- Key Vault ----------------------------------------------------------------------------


class KeyVaultSecret:
    def __init__(self, link: Link):
        self.link = link
        self.vault_url = link.require("vault_url")
        self.name = link.require("name")

    def value(self) -> str:
        def make() -> Any:
            from azure.keyvault.secrets import SecretClient

            return SecretClient(vault_url=self.vault_url, credential=credential())

        secrets = _cached(("keyvault", self.vault_url), make)
        with _errors(self.link, "get secret", f"{self.vault_url.rstrip('/')}/secrets/{self.name}"):
            value = secrets.get_secret(self.name).value
        if value == UNSET_SECRET:
            raise NotDeployed(
                f"secret {self.link.logical!r} has no value yet; set it with "
                f"`pulumi config set --secret {self.link.logical} <value>` and run `pulumi up`")
        return value


# The distributions this backend imports, per link kind: the bundler vendors those of the kinds a
# function links (azure-identity signs every call; azure-core comes with each of them).
SDKS = {
    "table": ("azure-data-tables", "azure-identity"),
    "queue": ("azure-servicebus", "azure-identity"),
    "topic": ("azure-servicebus", "azure-identity"),
    "secret": ("azure-keyvault-secrets", "azure-identity"),
}

# The factories runtime.clients calls with a resolved Link (runtime/backends/base.py).
queue = ServiceBusQueue
topic = ServiceBusTopic
table = StorageTable
secret = KeyVaultSecret
