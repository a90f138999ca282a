"""One conformance suite for the neutral clients, run against every backend.

local: SQLite. aws: moto in server mode. azure: tables on Azurite; Service Bus and Key Vault
against fakes at the SDK boundary. gcp: Firestore and Pub/Sub emulators; Secret Manager
against a fake. Every emulator is started by the session on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import random
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime import context
from runtime.backends.base import ConditionFailed, NotDeployed
from runtime.clients import Queue, Secret, Table, Topic
from runtime.links import LinkError, link_env, use_environ
from tests.emulators import wait_until

FUNCTION = "conformance"
READ_DEADLINE = 30.0


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass
class Received:
    body: bytes
    attributes: dict[str, str]
    id: str = ""


Reader = Callable[[int], list[Received]]


def poll(fetch: Callable[[], list[Received]], count: int, what: str) -> list[Received]:
    """Read until `count` messages arrived (or fail at the deadline with what did arrive)."""
    got: list[Received] = []

    def enough() -> bool:
        got.extend(fetch())
        return len(got) >= count

    try:
        wait_until(enough, READ_DEADLINE, f"{what}: {count} messages")
    except RuntimeError:
        pytest.fail(f"{what}: only {len(got)} of {count} messages arrived within {READ_DEADLINE:.0f}s")
    return got


class Harness:
    """Creates resources in one backend's service, links them, and reads back what clients sent."""

    cloud = ""

    def __init__(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
        self.request = request
        self.monkeypatch = monkeypatch
        self.tmp_path = tmp_path
        monkeypatch.setenv("OMNICLOUD_CLOUD", self.cloud)
        monkeypatch.setenv("OMNICLOUD_FUNCTION", FUNCTION)

    def link(self, logical: str, kind: str, verbs: tuple[str, ...], **props: Any) -> None:
        for name, value in link_env(logical, kind, verbs, **{k: v for k, v in props.items() if v is not None}).items():
            self.monkeypatch.setenv(name, value)

    def table(self, logical: str, *, sort_key: str | None = "sk", ttl: str | None = None,
              verbs: tuple[str, ...] = ("read", "write")) -> None:
        raise NotImplementedError

    def queue(self, logical: str, verbs: tuple[str, ...] = ("send",)) -> Reader:
        raise NotImplementedError

    def topic(self, logical: str, verbs: tuple[str, ...] = ("publish",)) -> Reader:
        raise NotImplementedError

    def secret(self, logical: str, value: str) -> Callable[[str], None]:
        """Link a secret holding `value`; returns a function that changes the value in the service."""
        raise NotImplementedError

    def missing(self, logical: str) -> Callable[[], Any]:
        """Link a resource that was never deployed; returns the client call that must fail."""
        pytest.skip(f"{self.cloud}: every resource exists on first use")


# -- local -------------------------------------------------------------------------------


class LocalHarness(Harness):
    cloud = "local"

    def __init__(self, request, monkeypatch, tmp_path):
        self.local = pytest.importorskip("runtime.backends.local", reason="local backend not built yet")
        super().__init__(request, monkeypatch, tmp_path)
        monkeypatch.setenv(self.local.STATE_DIR_ENV, str(tmp_path / "state"))
        monkeypatch.setenv(self.local.DOTENV_ENV, str(tmp_path / "no.env"))

    def table(self, logical, *, sort_key="sk", ttl=None, verbs=("read", "write")):
        self.link(logical, "table", verbs, name=unique("t"), partition_key="pk", sort_key=sort_key, ttl=ttl)

    def _reader(self, queue: str) -> Reader:
        seen: set[str] = set()

        def fetch() -> list[Received]:
            fresh = [m for m in self.local.Store.at().peek(queue, limit=1000) if m.id not in seen]
            seen.update(m.id for m in fresh)
            return [Received(m.body, dict(m.attributes), m.id) for m in fresh]

        return lambda count: poll(fetch, count, f"local queue {queue}")

    def queue(self, logical, verbs=("send",)):
        name = unique("q")
        self.link(logical, "queue", verbs, name=name)
        return self._reader(name)

    def topic(self, logical, verbs=("publish",)):
        name = unique("topic")
        self.link(logical, "topic", verbs, name=name)
        self.local.Store.at().set_subscriptions([(name, "reader", {})])
        return self._reader(self.local.subscription_queue(name, "reader"))

    def secret(self, logical, value):
        variable = unique("CONFORMANCE_SECRET_").upper()
        self.link(logical, "secret", ("read",), env=variable)
        self.monkeypatch.setenv(variable, value)
        return lambda new: self.monkeypatch.setenv(variable, new)


# -- AWS on moto --------------------------------------------------------------------------


class AwsHarness(Harness):
    cloud = "aws"
    region = "us-east-1"

    def __init__(self, request, monkeypatch, tmp_path):
        super().__init__(request, monkeypatch, tmp_path)
        endpoint = request.getfixturevalue("moto_endpoint")
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": self.region}.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            monkeypatch.delenv(name, raising=False)
        import boto3

        self.sdk = lambda service: boto3.client(service, region_name=self.region, endpoint_url=endpoint)

    def table(self, logical, *, sort_key="sk", ttl=None, verbs=("read", "write")):
        name = unique("t-")
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
        if sort_key:
            keys.append({"AttributeName": sort_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": sort_key, "AttributeType": "S"})
        arn = self.sdk("dynamodb").create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attributes,
                                                BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
        self.link(logical, "table", verbs, name=name, arn=arn, partition_key="pk", sort_key=sort_key, ttl=ttl)

    def _sqs_queue(self) -> tuple[str, str]:
        sqs = self.sdk("sqs")
        url = sqs.create_queue(QueueName=unique("q-"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _reader(self, url: str) -> Reader:
        sqs = self.sdk("sqs")

        def fetch() -> list[Received]:
            response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                           VisibilityTimeout=300, WaitTimeSeconds=0)
            out = []
            for m in response.get("Messages", []):
                attributes = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
                body = m["Body"].encode()
                if attributes.get("body-encoding") == "base64":  # the documented contract for binary bodies
                    body = base64.b64decode(body)
                out.append(Received(body, attributes, m["MessageId"]))
            return out

        return lambda count: poll(fetch, count, f"SQS {url}")

    def queue(self, logical, verbs=("send",)):
        url, arn = self._sqs_queue()
        self.link(logical, "queue", verbs, url=url, arn=arn)
        return self._reader(url)

    def topic(self, logical, verbs=("publish",)):
        sns = self.sdk("sns")
        arn = sns.create_topic(Name=unique("topic-"))["TopicArn"]
        self.link(logical, "topic", verbs, arn=arn)
        return self.subscribe(arn)

    def subscribe(self, topic_arn: str, filter_policy: dict[str, Any] | None = None) -> Reader:
        url, queue_arn = self._sqs_queue()
        attributes = {"RawMessageDelivery": "true"}
        if filter_policy:
            attributes["FilterPolicy"] = json.dumps(filter_policy)
        self.sdk("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
        return self._reader(url)

    def secret(self, logical, value):
        manager = self.sdk("secretsmanager")
        arn = manager.create_secret(Name=unique("s-"), SecretString=value)["ARN"]
        self.link(logical, "secret", ("read",), arn=arn)
        return lambda new: manager.put_secret_value(SecretId=arn, SecretString=new)

    def missing(self, logical):
        self.link(logical, "table", ("read", "write"), name=unique("never-deployed-"), partition_key="pk",
                  sort_key="sk")
        return lambda: Table(logical).get("a", "b")


# -- Azure: Azurite tables, fake Service Bus and Key Vault -------------------------------


class FakeServiceBus:
    """FAKE: stands in for azure.servicebus.ServiceBusClient (no Service Bus emulator runs here).

    Entities must be created first; senders hand out the SDK's real ServiceBusMessageBatch (with
    a small size limit, so batches split) and record every real ServiceBusMessage sent.
    """

    def __init__(self, batch_bytes: int = 4096):
        self.entities: dict[tuple[str, str], list[Any]] = {}
        self.sends: dict[tuple[str, str], int] = {}
        self.denied: set[tuple[str, str]] = set()
        self.batch_bytes = batch_bytes
        self.clients: list[tuple[str, Any]] = []

    def create(self, namespace: str, name: str) -> list[Any]:
        return self.entities.setdefault((namespace, name), [])

    def client_class(self) -> type:
        bus = self

        class ServiceBusClient:
            def __init__(self, fully_qualified_namespace: str, credential: Any, **kwargs: Any):
                self.namespace = fully_qualified_namespace
                bus.clients.append((fully_qualified_namespace, credential))

            def get_queue_sender(self, queue_name: str, **kwargs: Any) -> Any:
                return Sender(self.namespace, queue_name)

            def get_topic_sender(self, topic_name: str, **kwargs: Any) -> Any:
                return Sender(self.namespace, topic_name)

        class Sender:
            def __init__(self, namespace: str, name: str):
                self.key = (namespace, name)

            def create_message_batch(self) -> Any:
                from azure.servicebus import ServiceBusMessageBatch

                return ServiceBusMessageBatch(max_size_in_bytes=bus.batch_bytes)

            def send_messages(self, messages: Any) -> None:
                from azure.servicebus import ServiceBusMessage
                from azure.servicebus.exceptions import (
                    MessagingEntityNotFoundError,
                    ServiceBusAuthorizationError,
                )

                if self.key in bus.denied:
                    raise ServiceBusAuthorizationError(message="Unauthorized access. 'Send' claim(s) are required")
                if self.key not in bus.entities:
                    raise MessagingEntityNotFoundError(message=f"The messaging entity {self.key[1]} could not be found")
                batch = [messages] if isinstance(messages, ServiceBusMessage) else list(getattr(messages, "_messages", messages))
                bus.entities[self.key].extend(batch)
                bus.sends[self.key] = bus.sends.get(self.key, 0) + 1

        return ServiceBusClient


class FakeKeyVault:
    """FAKE: stands in for azure.keyvault.secrets.SecretClient (no Key Vault emulator runs here)."""

    def __init__(self):
        self.values: dict[tuple[str, str], str] = {}
        self.denied: set[tuple[str, str]] = set()

    def client_class(self) -> type:
        vault = self

        class SecretClient:
            def __init__(self, vault_url: str, credential: Any, **kwargs: Any):
                self.vault_url = vault_url

            def get_secret(self, name: str, version: str | None = None, **kwargs: Any) -> Any:
                from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
                from azure.keyvault.secrets import KeyVaultSecret, SecretProperties

                key = (self.vault_url, name)
                if key in vault.denied:
                    error = HttpResponseError(message="Caller is not authorized to perform action on resource")
                    error.status_code = 403
                    raise error
                if key not in vault.values:
                    error = ResourceNotFoundError(message=f"A secret with (name/id) {name} was not found")
                    error.status_code = 404
                    error.error_code = "SecretNotFound"
                    raise error
                return KeyVaultSecret(properties=SecretProperties(vault_id=f"{self.vault_url}secrets/{name}"),
                                      value=vault.values[key])

        return SecretClient


class AzureHarness(Harness):
    cloud = "azure"
    namespace = "conformance.servicebus.windows.net"
    vault_url = "https://conformance.vault.azure.net/"

    def __init__(self, request, monkeypatch, tmp_path):
        super().__init__(request, monkeypatch, tmp_path)
        from runtime.backends import azure as backend

        self.backend = backend
        monkeypatch.setattr(backend, "_clients", {})
        monkeypatch.setattr("azure.identity.DefaultAzureCredential", lambda **kwargs: "test-credential")
        self.bus = FakeServiceBus()
        monkeypatch.setattr("azure.servicebus.ServiceBusClient", self.bus.client_class())
        self.vault = FakeKeyVault()
        monkeypatch.setattr("azure.keyvault.secrets.SecretClient", self.vault.client_class())

    def use_tables(self) -> str:
        connection_string = self.request.getfixturevalue("azurite_tables")
        self.monkeypatch.setenv(self.backend.CONNECTION_STRING_ENV, connection_string)
        return connection_string

    def table(self, logical, *, sort_key="sk", ttl=None, verbs=("read", "write")):
        from azure.data.tables import TableServiceClient

        name = unique("t")
        TableServiceClient.from_connection_string(self.use_tables()).create_table(name)
        self.link(logical, "table", verbs, endpoint="https://unused.table.core.windows.net", name=name,
                  partition_key="pk", sort_key=sort_key, ttl=ttl)

    def _entity(self, logical: str, kind: str, verbs: tuple[str, ...]) -> Reader:
        name = unique(f"{kind}-")
        sent = self.bus.create(self.namespace, name)
        self.link(logical, kind, verbs, namespace=self.namespace, name=name)

        def fetch() -> list[Received]:
            fresh, sent[:] = list(sent), []
            return [Received(b"".join(m.body), {str(k): str(v) for k, v in (m.application_properties or {}).items()},
                             m.message_id) for m in fresh]

        return lambda count: poll(fetch, count, f"Service Bus {kind} {name}")

    def queue(self, logical, verbs=("send",)):
        return self._entity(logical, "queue", verbs)

    def topic(self, logical, verbs=("publish",)):
        return self._entity(logical, "topic", verbs)

    def secret(self, logical, value):
        name = unique("s-")
        self.vault.values[(self.vault_url, name)] = value
        self.link(logical, "secret", ("read",), vault_url=self.vault_url, name=name)
        return lambda new: self.vault.values.__setitem__((self.vault_url, name), new)

    def missing(self, logical):
        self.use_tables()
        self.link(logical, "table", ("read", "write"), endpoint="https://unused.table.core.windows.net",
                  name=unique("never"), partition_key="pk", sort_key="sk")
        return lambda: Table(logical).get("a", "b")


# -- Google Cloud: Firestore and Pub/Sub emulators, fake Secret Manager ------------------


class FakeSecretManager:
    """FAKE: stands in for google.cloud.secretmanager.SecretManagerServiceClient (no emulator exists).

    It answers with the SDK's real response types, from the latest version it holds.
    """

    def __init__(self):
        self.versions: dict[str, list[str]] = {}
        self.denied: set[str] = set()

    def client_class(self) -> type:
        manager = self

        class SecretManagerServiceClient:
            def access_secret_version(self, name: str, **kwargs: Any) -> Any:
                from google.api_core.exceptions import NotFound, PermissionDenied
                from google.cloud import secretmanager

                secret, _, version = name.rpartition("/versions/")
                if secret in manager.denied:
                    raise PermissionDenied(f"Permission 'secretmanager.versions.access' denied for resource '{name}'")
                if secret not in manager.versions or version != "latest":
                    raise NotFound(f"Secret [{name}] not found or has no versions.")
                payload = secretmanager.SecretPayload(data=manager.versions[secret][-1].encode())
                return secretmanager.AccessSecretVersionResponse(name=name, payload=payload)

        return SecretManagerServiceClient


class GcpHarness(Harness):
    cloud = "gcp"
    project = "demo-omnicloud"

    def __init__(self, request, monkeypatch, tmp_path):
        super().__init__(request, monkeypatch, tmp_path)
        from runtime.backends import gcp as backend

        self.backend = backend
        self.secrets = FakeSecretManager()
        monkeypatch.setattr(backend, "_clients", {})
        monkeypatch.setattr("google.cloud.secretmanager.SecretManagerServiceClient", self.secrets.client_class())

    def emulators(self) -> dict[str, str]:
        hosts = self.request.getfixturevalue("google_emulators")
        self.monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", hosts["firestore"])
        self.monkeypatch.setenv("PUBSUB_EMULATOR_HOST", hosts["pubsub"])
        return hosts

    def table(self, logical, *, sort_key="sk", ttl=None, verbs=("read", "write")):
        self.emulators()
        self.link(logical, "table", verbs, project=self.project, database="(default)", collection=unique("c"),
                  partition_key="pk", sort_key=sort_key, ttl=ttl)

    def _topic(self, logical: str, kind: str, verbs: tuple[str, ...]) -> Reader:
        self.emulators()
        from google.cloud import pubsub_v1

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(self.project, unique(f"{kind}-"))
        subscription = subscriber.subscription_path(self.project, unique("sub-"))
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic)
        self.link(logical, kind, verbs, topic=topic)

        def fetch() -> list[Received]:
            response = subscriber.pull(subscription=subscription, max_messages=100, timeout=10)
            if response.received_messages:
                subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
            return [Received(m.message.data, dict(m.message.attributes), m.message.message_id)
                    for m in response.received_messages]

        return lambda count: poll(fetch, count, f"Pub/Sub {topic}")

    def queue(self, logical, verbs=("send",)):
        return self._topic(logical, "queue", verbs)

    def topic(self, logical, verbs=("publish",)):
        return self._topic(logical, "topic", verbs)

    def secret(self, logical, value):
        name = f"projects/{self.project}/secrets/{unique('s-')}"
        self.secrets.versions[name] = [value]
        self.link(logical, "secret", ("read",), name=name)
        return lambda new: self.secrets.versions[name].append(new)

    def missing(self, logical):
        self.emulators()
        self.link(logical, "queue", ("send",), topic=f"projects/{self.project}/topics/{unique('never-')}")
        return lambda: Queue(logical).send({"x": 1})


HARNESSES: dict[str, type[Harness]] = {"local": LocalHarness, "aws": AwsHarness, "azure": AzureHarness,
                                       "gcp": GcpHarness}


@pytest.fixture(params=[
    "local",
    pytest.param("aws", marks=pytest.mark.emulator),
    pytest.param("azure", marks=pytest.mark.emulator),
    pytest.param("gcp", marks=pytest.mark.emulator),
])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Harness:
    return HARNESSES[request.param](request, monkeypatch, tmp_path)


# -- tables ------------------------------------------------------------------------------

NESTED = {
    "pk": "user#1", "sk": "profile", "name": "Ada", "age": 36, "score": 9.5, "active": False, "nothing": None,
    "empty": "", "big": 2**40, "tags": ["a", "b"], "matrix": [[1, 2], [3]],
    "address": {"city": "London", "lines": ["1 Main St", {"flat": 2}], "geo": {"lat": 51.5, "lng": -0.12}},
    "first-name": "Ada", "with space": {"x": []},
}


def test_put_get_delete_round_trip_keeps_nested_json(cloud: Harness):
    cloud.table("items")
    table = Table("items")

    stored = table.put(NESTED)

    assert stored["_version"] == 1
    assert table.get("user#1", "profile") == {**NESTED, "_version": 1}
    assert table.get("user#1", "other") is None
    table.delete("user#1", "profile")
    assert table.get("user#1", "profile") is None
    table.delete("user#1", "profile")  # deleting what is not there is no error


def test_put_if_absent_refuses_an_existing_item(cloud: Harness):
    cloud.table("items")
    table = Table("items")
    table.put({"pk": "a", "sk": "1", "owner": "first"}, if_absent=True)

    with pytest.raises(ConditionFailed):
        table.put({"pk": "a", "sk": "1", "owner": "second"}, if_absent=True)

    assert table.get("a", "1")["owner"] == "first"


def test_optimistic_version_check_on_put_and_delete(cloud: Harness):
    cloud.table("items")
    table = Table("items")
    first = table.put({"pk": "a", "sk": "1", "n": 1}, if_absent=True)
    second = table.put({**first, "n": 2}, expected_version=1)
    assert second["_version"] == 2

    with pytest.raises(ConditionFailed):
        table.put({**first, "n": 3}, expected_version=1)  # a stale writer loses
    with pytest.raises(ConditionFailed):
        table.put({"pk": "a", "sk": "missing", "n": 1}, expected_version=1)
    with pytest.raises(ConditionFailed):
        table.delete("a", "1", expected_version=1)

    assert table.get("a", "1") == {"pk": "a", "sk": "1", "n": 2, "_version": 2}
    table.delete("a", "1", expected_version=2)
    assert table.get("a", "1") is None


def test_update_merges_changes_and_removes_none(cloud: Harness):
    cloud.table("items")
    table = Table("items")
    table.put({"pk": "a", "sk": "1", "name": "x", "count": 1, "drop": "me"})

    updated = table.update("a", "1", {"count": 2, "drop": None, "extra": {"k": [1, {"deep": True}]}})

    expected = {"pk": "a", "sk": "1", "name": "x", "count": 2, "extra": {"k": [1, {"deep": True}]}, "_version": 2}
    assert updated == expected
    assert table.get("a", "1") == expected
    with pytest.raises(ConditionFailed):
        table.update("a", "1", {"count": 3}, expected_version=1)
    with pytest.raises(KeyError):
        table.update("a", "nope", {"count": 3})


def _fill(table: Table) -> list[str]:
    keys = [f"order#{i:03d}" for i in range(23)] + ["note#a", "note#b", "profile"]
    for key in keys:
        table.put({"pk": "p", "sk": key, "n": key})
    table.put({"pk": "other", "sk": "order#000", "n": "elsewhere"})
    return sorted(keys)


def _sort_keys(page) -> list[str]:
    return [item["sk"] for item in page.items]


def test_query_prefix_range_limit_and_descending(cloud: Harness):
    cloud.table("items")
    table = Table("items")
    keys = _fill(table)
    orders = [k for k in keys if k.startswith("order#")]

    assert _sort_keys(table.query("p", prefix="order#", limit=1000)) == orders
    assert _sort_keys(table.query("p", prefix="note#")) == ["note#a", "note#b"]
    assert _sort_keys(table.query("p", start="order#005", end="order#008")) == orders[5:9]
    assert _sort_keys(table.query("p", start="order#020")) == orders[20:] + ["profile"]
    assert _sort_keys(table.query("p", end="note#a")) == ["note#a"]
    assert _sort_keys(table.query("p", start="order#009", end="order#001")) == []
    assert _sort_keys(table.query("p", limit=4)) == keys[:4]
    assert _sort_keys(table.query("p", limit=3, descending=True)) == keys[::-1][:3]
    assert _sort_keys(table.query("p", prefix="order#", limit=2, descending=True)) == orders[::-1][:2]
    assert _sort_keys(table.query("p", prefix="zzz")) == []
    assert [i["n"] for i in table.query("other").items] == ["elsewhere"]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_cursor_pagination_visits_every_item_exactly_once(cloud: Harness, descending: bool):
    cloud.table("items")
    table = Table("items")
    keys = _fill(table)
    orders = [k for k in keys if k.startswith("order#")]

    ranged = [k for k in keys if "note#b" <= k <= "order#010"]
    for query, expected in (({}, keys), ({"prefix": "order#"}, orders),
                            ({"start": "note#b", "end": "order#010"}, ranged)):
        seen, cursor, pages = [], None, 0
        while True:
            page = table.query("p", limit=5, cursor=cursor, descending=descending, **query)
            assert len(page) <= 5
            seen += _sort_keys(page)
            pages += 1
            cursor = page.cursor
            if cursor is None:
                break
            assert pages < 2 * len(expected), f"the cursor never ends: {query}"
        assert seen == (expected[::-1] if descending else expected), query
        assert pages == -(-len(expected) // 5), query  # no empty trailing page: cursor is None when done

    first = table.query("p", limit=5, descending=descending)
    with pytest.raises(ValueError, match="cursor"):
        table.query("other", limit=5, cursor=first.cursor, descending=descending)


AWKWARD = ["a/b", "a/c", "a\\b", "a#1", "a?x", "a\tb", "a\x1fz", "a\x7fq", "a b", "a.b", "a~b", "a'b", "a%20",
           "a+b", "a&b", "a\"b", "a>b", "a[b", "é/è", "日本/語", "a💡b", "a\u0085b", "a|b"]


def test_keys_with_characters_clouds_reserve_still_work(cloud: Harness):
    cloud.table("items")
    table = Table("items")
    for key in AWKWARD:
        table.put({"pk": "we/ird#?\\", "sk": key, "key": key})

    for key in AWKWARD:
        assert table.get("we/ird#?\\", key)["sk"] == key
    assert _sort_keys(table.query("we/ird#?\\", limit=100)) == sorted(AWKWARD)
    assert _sort_keys(table.query("we/ird#?\\", prefix="a/")) == ["a/b", "a/c"]
    assert _sort_keys(table.query("we/ird#?\\", prefix="a")) == sorted(k for k in AWKWARD if k.startswith("a"))
    assert _sort_keys(table.query("we/ird#?\\", start="a#1", end="a/c")) == sorted(
        k for k in AWKWARD if "a#1" <= k <= "a/c")


def test_table_without_sort_key(cloud: Harness):
    cloud.table("singles", sort_key=None)
    table = Table("singles")
    table.put({"pk": "solo", "v": {"x": 1}})

    assert table.get("solo") == {"pk": "solo", "v": {"x": 1}, "_version": 1}
    page = table.query("solo")
    assert page.items == [{"pk": "solo", "v": {"x": 1}, "_version": 1}] and page.cursor is None
    table.delete("solo")
    assert table.get("solo") is None


def test_items_past_their_ttl_are_invisible(cloud: Harness):
    cloud.table("sessions", ttl="expires_at")
    table = Table("sessions")
    now = time.time()
    table.put({"pk": "u", "sk": "expired", "expires_at": int(now) - 60})
    table.put({"pk": "u", "sk": "live", "expires_at": int(now) + 3600})
    table.put({"pk": "u", "sk": "forever"})

    assert table.get("u", "expired") is None
    assert table.get("u", "live")["expires_at"] == int(now) + 3600
    assert _sort_keys(table.query("u")) == ["forever", "live"]


# -- queues and topics -------------------------------------------------------------------


def test_queue_send_and_batch_arrive_with_attributes_and_trace(cloud: Harness):
    read = cloud.queue("jobs")
    queue = Queue("jobs")
    token = context.begin(function=FUNCTION)
    try:
        traceparent = context.current().traceparent
        single = queue.send({"task": "one"}, attributes={"type": "task.created"})
        ids = queue.send_batch([{"n": i} for i in range(25)], attributes={"type": "bulk", "tenant": "t1"})
    finally:
        context.end(token)

    assert len(ids) == 25 and len(set(ids) | {single}) == 26
    received = read(26)
    assert len(received) == 26
    assert {m.id for m in received} == set(ids) | {single}
    by_type = {t: [m for m in received if m.attributes.get("type") == t] for t in ("task.created", "bulk")}
    assert [json.loads(m.body) for m in by_type["task.created"]] == [{"task": "one"}]
    assert sorted(json.loads(m.body)["n"] for m in by_type["bulk"]) == list(range(25))
    assert all(m.attributes["tenant"] == "t1" for m in by_type["bulk"])
    assert {m.attributes["traceparent"] for m in received} == {traceparent}


def test_queue_carries_text_and_binary_bodies(cloud: Harness):
    read = cloud.queue("jobs")
    queue = Queue("jobs")
    queue.send("plain text é")
    queue.send(b"\x00\xff\x01binary")

    bodies = sorted(m.body for m in read(2))

    assert bodies == sorted([b"\x00\xff\x01binary", "plain text é".encode()])


def test_topic_publish_carries_attributes_for_filters(cloud: Harness):
    read = cloud.topic("events")
    topic = Topic("events")

    message_id = topic.publish({"task": 7}, attributes={"type": "task.completed"})

    assert message_id
    (message,) = read(1)
    assert json.loads(message.body) == {"task": 7}
    assert message.attributes.get("type") == "task.completed"
    assert "traceparent" not in message.attributes  # sent outside any invocation


# -- secrets ------------------------------------------------------------------------------


def test_secret_value_is_cached_for_its_ttl(cloud: Harness, monkeypatch: pytest.MonkeyPatch):
    rotate = cloud.secret("api-key", "first-value")
    clock = [1000.0]
    monkeypatch.setattr("runtime.clients.time", types.SimpleNamespace(time=time.time, monotonic=lambda: clock[0]))
    secret = Secret("api-key", ttl=60)

    assert secret.value() == "first-value"
    rotate("second-value")
    clock[0] += 59
    assert secret.value() == "first-value"  # within the TTL the service is not asked again
    clock[0] += 2
    assert secret.value() == "second-value"


# -- links and errors ---------------------------------------------------------------------


def test_unlinked_resource_and_ungranted_verb_raise_link_error(cloud: Harness):
    cloud.table("readonly", verbs=("read",))
    cloud.queue("jobs", verbs=())
    cloud.topic("events", verbs=())

    with pytest.raises(LinkError, match=f"{FUNCTION} is not linked to table 'nowhere'.*app.yaml"):
        Table("nowhere").get("a", "b")
    # A misspelt name: the nearest name the function is linked to, of the same kind.
    with pytest.raises(LinkError, match=f"{FUNCTION} is not linked to table 'readonyl'; did you mean 'readonly',"
                                        " which it is linked to\\? \\(or add `readonyl: \\[...\\]`"):
        Table("readonyl").get("a", "b")
    with pytest.raises(LinkError) as not_a_table:
        Table("jbos").get("a", "b")  # close to the queue 'jobs', but that is no table
    assert "did you mean" not in str(not_a_table.value)
    with pytest.raises(LinkError, match=f"{FUNCTION} may not write table 'readonly' \\(granted: read\\)"):
        Table("readonly").put({"pk": "a", "sk": "b"})
    with pytest.raises(LinkError, match=f"{FUNCTION} may not send queue 'jobs' \\(granted: nothing\\)"):
        Queue("jobs").send({"x": 1})
    with pytest.raises(LinkError, match=f"{FUNCTION} may not publish topic 'events'"):
        Topic("events").publish({"x": 1})
    with pytest.raises(LinkError, match="'readonly' is a table, not a secret"):
        Secret("readonly").value()
    with use_environ({"OMNICLOUD_CLOUD": cloud.cloud, "OMNICLOUD_FUNCTION": "other"}):
        with pytest.raises(LinkError, match="other is not linked to table 'readonly'"):
            Table("readonly").get("a", "b")
    assert Table("readonly").get("a", "b") is None  # the granted verb works
    assert isinstance(LinkError("x"), PermissionError)


def test_resource_that_was_never_deployed_says_to_deploy(cloud: Harness):
    call = cloud.missing("ghost")

    with pytest.raises(NotDeployed, match="'ghost' .* does not exist in .*; deploy the stack"):
        call()


# -- backend specifics ---------------------------------------------------------------------


def _harness(name: str, request, monkeypatch, tmp_path) -> Any:
    return HARNESSES[name](request, monkeypatch, tmp_path)


@pytest.mark.emulator
def test_aws_queue_delay_dedup_and_attribute_limit(request, monkeypatch, tmp_path):
    aws = _harness("aws", request, monkeypatch, tmp_path)
    read = aws.queue("jobs")
    queue = Queue("jobs")
    started = time.monotonic()
    queue.send({"later": True}, delay_seconds=1, dedup_id="job-7")

    (message,) = read(1)

    assert time.monotonic() - started >= 0.9  # SQS held it back for the delay
    assert message.attributes["dedup-id"] == "job-7"
    with pytest.raises(ValueError, match="at most 10 attributes"):
        queue.send({"x": 1}, attributes={f"a{i}": "v" for i in range(11)})


@pytest.mark.emulator
def test_aws_refused_batch_entries_are_reported(request, monkeypatch, tmp_path):
    from runtime.backends import aws as backend
    from runtime.backends.base import OutgoingMessage
    from runtime.links import resolve

    aws = _harness("aws", request, monkeypatch, tmp_path)
    read = aws.queue("jobs")
    sqs = backend.queue(resolve("jobs", "queue", "send"))
    messages = [OutgoingMessage(body=f"m{i}".encode()) for i in range(12)]
    messages[11].delay_seconds = 901  # past SQS's limit: SQS refuses this entry alone

    with pytest.raises(RuntimeError, match="SQS refused 1 of 2 messages .*queue 'jobs'.*message 11: InvalidParameterValue"):
        sqs.send_batch(messages)
    assert sorted(m.body for m in read(11)) == sorted(f"m{i}".encode() for i in range(11))


@pytest.mark.emulator
def test_aws_sns_filter_policy_matches_the_type_attribute(request, monkeypatch, tmp_path):
    aws = _harness("aws", request, monkeypatch, tmp_path)
    read_all = aws.topic("events")
    from runtime.links import resolve

    arn = resolve("events", "topic").get("arn")
    read_completed = aws.subscribe(arn, filter_policy={"type": ["task.completed"]})
    Topic("events").publish({"n": 1}, attributes={"type": "task.created"})
    Topic("events").publish({"n": 2}, attributes={"type": "task.completed"})

    assert sorted(json.loads(m.body)["n"] for m in read_all(2)) == [1, 2]
    assert [json.loads(m.body)["n"] for m in read_completed(1)] == [2]


def test_aws_access_denied_becomes_a_link_error():
    from botocore.exceptions import ClientError

    from runtime.backends import aws
    from runtime.links import Link

    link = Link(logical="agents", kind="table", verbs=("read",), props={"name": "agents-123"})
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "GetItem")
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "GetItem")
    other = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")

    error = aws.translate(denied, link, "dynamodb:GetItem", "agents-123")
    assert isinstance(error, LinkError) and isinstance(error, PermissionError)
    assert "dynamodb:GetItem on table 'agents' (agents-123)" in str(error) and "\n" not in str(error)
    assert isinstance(aws.translate(missing, link, "dynamodb:GetItem", "agents-123"), NotDeployed)
    assert aws.translate(other, link, "dynamodb:GetItem", "agents-123") is other


@pytest.mark.emulator
def test_azure_table_refused_by_storage_becomes_a_link_error(request, monkeypatch, tmp_path):
    azure = _harness("azure", request, monkeypatch, tmp_path)
    azure.table("items")
    wrong_key = base64.b64encode(b"not the account key").decode()
    connection_string = ";".join(
        f"AccountKey={wrong_key}" if part.startswith("AccountKey=") else part
        for part in azure.use_tables().split(";"))
    monkeypatch.setenv(azure.backend.CONNECTION_STRING_ENV, connection_string)

    with pytest.raises(LinkError, match="Azure refused conformance read on table 'items'"):
        Table("items").get("a", "b")


def test_azure_key_encoding_keeps_order_and_prefixes():
    from runtime.backends.azure import decode_key, encode_key

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0, 0xA0)] + ["é", "日", "💡"]
    values = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3000)})
    encoded = [encode_key(v) for v in values]

    assert all(decode_key(e) == v for e, v in zip(encoded, values, strict=True))
    assert encoded == sorted(encoded)
    assert not any(c in "/\\#?" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for e in encoded for c in e)
    for a in values[::37]:
        for b in values[::41]:
            assert b.startswith(a) == encode_key(b).startswith(encode_key(a)), (a, b)


def test_azure_service_bus_uses_message_id_schedule_and_splits_batches(request, monkeypatch, tmp_path):
    """FAKE: Service Bus is the FakeServiceBus above (no emulator runs here); messages and batches are the SDK's."""
    azure = _harness("azure", request, monkeypatch, tmp_path)
    azure.queue("jobs")
    queue = Queue("jobs")
    key = next(iter(azure.bus.entities))
    before = datetime.now(UTC)

    queue.send({"x": 1}, dedup_id="job-7", delay_seconds=120)
    ids = queue.send_batch([{"n": i, "pad": "p" * 200} for i in range(25)])

    first, *rest = azure.bus.entities[key]
    assert first.message_id == "job-7" and first.application_properties["dedup-id"] == "job-7"
    assert 119 <= (first.scheduled_enqueue_time_utc - before).total_seconds() <= 125
    assert first.content_type == "application/json"
    assert [json.loads(b"".join(m.body))["n"] for m in rest] == list(range(25))
    assert [m.message_id for m in rest] == ids
    assert azure.bus.sends[key] >= 3  # 25 x ~250 bytes do not fit one 4 KB batch: split, none lost
    assert azure.bus.clients == [(azure.namespace, "test-credential")]  # identity-based, one client kept warm


def test_azure_service_bus_and_key_vault_refusals_are_clear(request, monkeypatch, tmp_path):
    """FAKE: Service Bus and Key Vault are the fakes above; the errors are the SDKs' own types."""
    azure = _harness("azure", request, monkeypatch, tmp_path)
    azure.queue("jobs")
    azure.secret("api-key", "v")
    azure.bus.denied.update(azure.bus.entities)
    azure.vault.denied.update(azure.vault.values)

    with pytest.raises(LinkError, match="Azure refused conformance Send on queue 'jobs'"):
        Queue("jobs").send({"x": 1})
    with pytest.raises(LinkError, match="Azure refused conformance get secret on secret 'api-key'"):
        Secret("api-key").value()
    azure.link("gone", "queue", ("send",), namespace=azure.namespace, name="never-created")
    with pytest.raises(NotDeployed, match="queue 'gone'"):
        Queue("gone").send({"x": 1})


def test_azure_secret_not_yet_set_by_the_stack_says_how_to_set_it(request, monkeypatch, tmp_path):
    """FAKE: Key Vault is the fake above, holding the provider's placeholder for an unset stack value."""
    from providers.azure import UNSET_SECRET

    azure = _harness("azure", request, monkeypatch, tmp_path)
    azure.secret("jwt-secret", UNSET_SECRET)
    with pytest.raises(NotDeployed, match="pulumi config set --secret jwt-secret"):
        Secret("jwt-secret").value()


@pytest.mark.emulator
def test_gcp_queue_dedup_and_delay_travel_as_attributes(request, monkeypatch, tmp_path):
    import time

    gcp = _harness("gcp", request, monkeypatch, tmp_path)
    read = gcp.queue("jobs")
    queue = Queue("jobs")

    queue.send({"x": 1}, dedup_id="job-7")
    (message,) = read(1)
    assert message.attributes["dedup-id"] == "job-7"

    before = time.time()
    queue.send({"x": 2}, delay_seconds=5)
    (delayed,) = read(1)
    # Pub/Sub delivers at once; the consumer's adapter holds the message until it is due.
    due = float(delayed.attributes["omnicloud-not-before"])  # epoch seconds, to the millisecond
    assert before + 5 - 0.001 <= due <= time.time() + 5 + 0.001


def test_gcp_secret_manager_refusal_is_a_link_error(request, monkeypatch, tmp_path):
    """FAKE: Secret Manager is the FakeSecretManager above; PermissionDenied is google-api-core's own."""
    gcp = _harness("gcp", request, monkeypatch, tmp_path)
    gcp.secret("api-key", "v")
    gcp.secrets.denied.update(gcp.secrets.versions)

    with pytest.raises(LinkError, match="Google Cloud refused conformance secretmanager.versions.access on secret"):
        Secret("api-key").value()


@pytest.mark.emulator
def test_gcp_ttl_items_carry_a_timestamp_for_the_ttl_policy(request, monkeypatch, tmp_path):
    gcp = _harness("gcp", request, monkeypatch, tmp_path)
    gcp.table("sessions", ttl="expires_at")
    table = Table("sessions")
    expires = int(time.time()) + 3600
    table.put({"pk": "u", "sk": "live", "expires_at": expires})

    from google.cloud import firestore

    from runtime.backends.gcp import EXPIRES_FIELD, document_id
    from runtime.links import resolve

    collection = resolve("sessions", "table").get("collection")
    raw = firestore.Client(project=gcp.project).collection(collection).document(document_id("u", "live")).get()
    assert raw.get(EXPIRES_FIELD).timestamp() == expires
    assert EXPIRES_FIELD not in table.get("u", "live")
