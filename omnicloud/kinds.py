"""The built-in kinds, each defined once (see omnicloud/registry.py for what a Kind holds).

Their mappings are one file per kind per cloud: `providers/<cloud>/<kind>.py`.
"""

from __future__ import annotations

from typing import Any

from spec import checks
from spec.model import FunctionSpec, QueueSpec, SecretSpec, TableSpec, TopicSpec

from .registry import Kind


def _mappings(kind: str, cls: str) -> dict[str, str]:
    """providers/<cloud>/<kind>.py:<Cls>On<Cloud> on each cloud."""
    return {
        cloud: f"providers.{cloud}.{kind}:{cls}On{suffix}"
        for cloud, suffix in (("aws", "Aws"), ("azure", "Azure"), ("gcp", "Gcp"))
    }


def _named(logical: str, spec: Any) -> dict[str, Any]:
    return {"name": logical}


def _table_link(logical: str, spec: TableSpec) -> dict[str, Any]:
    props: dict[str, Any] = {"name": logical, "partition_key": spec.partition_key}
    props.update({k: v for k, v in (("sort_key", spec.sort_key), ("ttl", spec.ttl)) if v})
    return props


def _secret_link(logical: str, spec: SecretSpec) -> dict[str, Any]:
    from runtime.backends import local

    return {"env": local.env_var_for_secret(logical)}


FUNCTION = Kind(
    name="function",
    model=FunctionSpec,
    section="functions",
    component="components.function:Function",
    mappings=_mappings("function", "Function"),
    checks=checks.function_problems,
)

QUEUE = Kind(
    name="queue",
    model=QueueSpec,
    section="queues",
    verbs=("send",),
    component="components.queue:Queue",
    client="runtime.clients:Queue",
    mappings=_mappings("queue", "Queue"),
    local_link=_named,
    checks=checks.queue_problems,
    stateful=True,
    expected={
        (): "a mapping of queue name -> settings, e.g. `queues: {task-queue: {}}`",
        ("*",): "a mapping of queue settings (visibility_timeout, max_retries, retention) or {}",
        ("*", "*"): "a whole number of seconds (or retries)",
    },
    verb_hints={"read": " (its consumer reads it through `queue:`, no link needed)"},
)

TOPIC = Kind(
    name="topic",
    model=TopicSpec,
    section="topics",
    verbs=("publish",),
    component="components.topic:Topic",
    client="runtime.clients:Topic",
    mappings=_mappings("topic", "Topic"),
    local_link=_named,
    checks=checks.topic_problems,
    stateful=True,
    expected={
        (): "a mapping of topic name -> {}, e.g. `topics: {events: {}}`",
        ("*",): "{} (topics take no settings; subscribers declare filters)",
    },
    verb_hints={"read": " (subscribers read it through `topic:`, no link needed)"},
)

TABLE = Kind(
    name="table",
    model=TableSpec,
    section="tables",
    verbs=("read", "write"),
    component="components.table:Table",
    client="runtime.clients:Table",
    mappings=_mappings("table", "Table"),
    local_link=_table_link,
    checks=checks.table_problems,
    stateful=True,
    expected={
        (): "a mapping of table name -> settings, e.g. `tables: {orders: {partition_key: pk}}`",
        ("*",): "a mapping of table settings (partition_key, sort_key, ttl) or {}",
        ("*", "*"): "an attribute name, e.g. pk",
    },
)

SECRET = Kind(
    name="secret",
    model=SecretSpec,
    section="secrets",
    verbs=("read",),
    component="components.secret:Secret",
    client="runtime.clients:Secret",
    mappings=_mappings("secret", "Secret"),
    local_link=_secret_link,
    stateful=True,
    expected={
        (): "a mapping of secret name -> settings, e.g. `secrets: {api-key: {}}`",
        ("*",): "a mapping with an optional description, or {}",
        ("*", "description"): "a string",
    },
)

SCHEDULE = Kind(
    name="schedule",
    component="components.schedule:Schedule",
    mappings=_mappings("schedule", "Schedule"),
)

HTTP = Kind(
    name="http",
    component="components.http_api:HttpApi",
    mappings=_mappings("http", "Http"),
)

BUILTIN_KINDS = (FUNCTION, QUEUE, TOPIC, TABLE, SECRET, SCHEDULE, HTTP)
