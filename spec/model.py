"""The pydantic model of app.yaml: what an app team may declare, with portable defaults."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Logical names are portable: each provider derives the physical name its cloud allows.
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
NAME_MAX = 40
APP_NAME_MAX = 16

Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX)]

TableVerb = Literal["read", "write"]
QueueVerb = Literal["send"]
TopicVerb = Literal["publish"]
SecretVerb = Literal["read"]
Verb = Literal["read", "write", "send", "publish"]

# Which verbs each resource kind accepts in `links`.
VERBS_BY_KIND: dict[str, tuple[str, ...]] = {
    "table": ("read", "write"),
    "queue": ("send",),
    "topic": ("publish",),
    "secret": ("read",),
}

HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueTrigger(Strict):
    """`queue: task-queue` or `queue: {name: task-queue, batch_size: 10}`."""

    name: Name
    batch_size: int = Field(default=1, ge=1, le=10000)


class TopicTrigger(Strict):
    """`topic: events` or `topic: {name: events, filter: {type: task.completed}}`.

    A filter matches message attributes by equality; a list value matches any of its items.
    """

    name: Name
    filter: dict[str, str | list[str]] = Field(default_factory=dict)

    @field_validator("filter")
    @classmethod
    def _filter_values(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for key, item in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
                raise ValueError(
                    f"filter attribute {key!r} must start with a letter or _ and hold only letters, digits, _ . -"
                )
            if isinstance(item, list) and not item:
                raise ValueError(f"filter attribute {key!r} has an empty list; give at least one value")
        return value


class FunctionSpec(Strict):
    handler: str = Field(description="module:attribute, resolved from the directory of app.yaml")
    memory: int = Field(default=256, ge=128, description="MB")
    timeout: int = Field(default=30, ge=1, description="seconds")
    min_instances: int = Field(default=0, ge=0, le=100, description="instances kept warm")
    architecture: Literal["arm64", "x86_64"] = "arm64"
    http: str | None = Field(default=None, description="path prefix served through the app's HTTP gateway")
    queue: QueueTrigger | None = None
    topic: TopicTrigger | None = None
    schedule: str | None = Field(default=None, description="`every N minutes|hours|days` or a 5-field UTC cron")
    links: dict[Name, list[Verb]] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("queue", mode="before")
    @classmethod
    def _queue_short_form(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("topic", mode="before")
    @classmethod
    def _topic_short_form(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("handler")
    @classmethod
    def _handler_form(cls, value: str) -> str:
        if not HANDLER_PATTERN.match(value):
            raise ValueError(f"handler {value!r} must be module:attribute, e.g. functions.api:app")
        return value

    @field_validator("http")
    @classmethod
    def _http_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(r"/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?", value):
            raise ValueError(
                f"http prefix {value!r} must start with / and hold only path segments, e.g. / or /api/v1"
            )
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"env name {key!r} must be letters, digits and _, not starting with a digit")
            if key.upper().startswith("OMNICLOUD_"):
                raise ValueError(f"env name {key!r} is reserved: OMNICLOUD_* variables are set by links")
        return value

    @field_validator("links")
    @classmethod
    def _links_have_verbs(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, verbs in value.items():
            if not verbs:
                raise ValueError(f"link {name!r} has no verbs; list at least one, e.g. [read]")
            if len(set(verbs)) != len(verbs):
                raise ValueError(f"link {name!r} repeats a verb")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> FunctionSpec:
        triggers = self.triggers()
        if len(triggers) != 1:
            found = ", ".join(triggers) if triggers else "none"
            raise ValueError(
                f"a function has exactly one trigger of http, queue, topic, schedule (found: {found})"
            )
        return self

    def triggers(self) -> list[str]:
        return [kind for kind in ("http", "queue", "topic", "schedule") if getattr(self, kind) is not None]

    @property
    def trigger(self) -> str:
        return self.triggers()[0]


class QueueSpec(Strict):
    visibility_timeout: int = Field(default=30, ge=1, le=43200, description="seconds a received message stays hidden")
    max_retries: int = Field(default=3, ge=0, le=100, description="deliveries after the first, then dead-lettered")
    retention: int = Field(default=345600, ge=600, le=604800, description="seconds a message is kept")


class TopicSpec(Strict):
    pass


class TableSpec(Strict):
    partition_key: str = Field(default="pk", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    sort_key: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    ttl: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

    @model_validator(mode="after")
    def _distinct_keys(self) -> TableSpec:
        used = [k for k in (self.partition_key, self.sort_key, self.ttl) if k]
        if len(set(used)) != len(used):
            raise ValueError("partition_key, sort_key and ttl must be different attributes")
        return self


class SecretSpec(Strict):
    description: str = ""


class AppSpec(Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN, min_length=2, max_length=APP_NAME_MAX)]
    functions: dict[Name, FunctionSpec] = Field(min_length=1)
    queues: dict[Name, QueueSpec] = Field(default_factory=dict)
    topics: dict[Name, TopicSpec] = Field(default_factory=dict)
    tables: dict[Name, TableSpec] = Field(default_factory=dict)
    secrets: dict[Name, SecretSpec] = Field(default_factory=dict)

    @field_validator("queues", "topics", "tables", "secrets", mode="before")
    @classmethod
    def _empty_bodies(cls, value: object) -> object:
        # `events:` with nothing after it means "all defaults", as `events: {}` does.
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return {} if value is None else value

    def kind_of(self, name: str) -> str | None:
        """The kind (queue, topic, table, secret, function) a resource name was declared as."""
        for kind, group in self.resource_groups().items():
            if name in group:
                return kind
        return None

    def resource_groups(self) -> dict[str, dict]:
        return {
            "queue": self.queues,
            "topic": self.topics,
            "table": self.tables,
            "secret": self.secrets,
            "function": self.functions,
        }

    def consumers_of_queue(self, queue: str) -> list[str]:
        return [n for n, f in self.functions.items() if f.queue and f.queue.name == queue]

    def subscribers_of_topic(self, topic: str) -> list[str]:
        return [n for n, f in self.functions.items() if f.topic and f.topic.name == topic]


class StackSettings(Strict):
    """What a `Pulumi.<stack>.yaml` may set under `omnicloud:`."""

    cloud: Literal["aws", "azure", "gcp"]
    environment: Literal["dev", "prod"] = "dev"
    app: str = "app.yaml"
    functions: dict[str, dict] = Field(default_factory=dict)
