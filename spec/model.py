"""The pydantic model of app.yaml: what an app team may declare, with portable defaults."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Logical names are portable: each provider derives the physical name its cloud allows, and
# spec.checks rejects, per cloud, what no derivation can fix (see spec.capabilities).
NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
NAME_MAX = 63  # a DNS label; each cloud's physical-name rule is checked on top of it
APP_NAME_MAX = 16  # the app name prefixes every physical name
APP_NAME_MIN = 2

Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX)]
AppName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=APP_NAME_MIN, max_length=APP_NAME_MAX)]

TableVerb = Literal["read", "write"]
QueueVerb = Literal["send"]
TopicVerb = Literal["publish"]
SecretVerb = Literal["read"]

TRIGGERS = ("http", "queue", "topic", "schedule")

HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
# Attribute names a topic filter may match: the subset every cloud's filter syntax takes unquoted.
FILTER_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ATTRIBUTE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
HTTP_PREFIX_PATTERN = r"^/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?$"

StrictInt = Annotated[int, Field(strict=True)]
StrictStr = Annotated[str, Field(strict=True)]


def _describe(value: Any) -> str:
    """How a YAML value reads back to its author."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return repr(value)


def _error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the app team as is."""
    return PydanticCustomError("omni", message)


def _filter_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if not value:
            raise _error("empty list matches nothing; give at least one value, e.g. [created]")
        for item in value:
            if not isinstance(item, str):
                raise _error(f"list holds {_describe(item)}; filter values are strings"
                             " (quote numbers and booleans: '1', 'true')")
        return value
    raise _error(f"expected a string or a list of strings (e.g. task.completed or [created, updated]),"
                 f" got {_describe(value)}; quote numbers and booleans: '1', 'true'")


def _env_value(value: Any) -> Any:
    # Whole numbers read unambiguously (PORT: 8080); booleans and decimals do not (yes/1.10), so say quote.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise _error(f"env values are strings; got {_describe(value)}, quote it (e.g. DEBUG: 'true', VERSION: '1.10')")


def _env_name(key: str) -> str:
    if key.upper().startswith("OMNICLOUD_"):
        raise _error(f"env name {key!r} is reserved: OMNICLOUD_* variables are set by links; rename it")
    return key


def _verbs(value: Any) -> Any:
    if isinstance(value, str):
        raise _error(f"expected a list of verbs, got {_describe(value)}; write it as a list: [{value}]")
    if isinstance(value, list):
        if not value:
            raise _error("no verbs; list at least one, e.g. [read]")
        if len({v for v in value if isinstance(v, str)}) != len(value) and all(isinstance(v, str) for v in value):
            raise _error("repeats a verb; list each verb once")
    return value


def _verb(value: Any) -> Any:
    """One link verb: a verb of some registered kind (which kind takes it is checked per link)."""
    from omnicloud.registry import registry

    verbs = registry().verbs()
    if value not in verbs:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": " or ".join(repr(v) for v in verbs)})
    return value


FilterValue = Annotated[str | list[str], BeforeValidator(_filter_value)]
FilterKey = Annotated[str, Field(pattern=FILTER_KEY_PATTERN)]
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN), AfterValidator(_env_name)]
EnvValue = Annotated[str, BeforeValidator(_env_value)]
Verb = Annotated[str, BeforeValidator(_verb)]
Verbs = Annotated[list[Verb], BeforeValidator(_verbs)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class QueueTrigger(Strict):
    """`queue: task-queue` or `queue: {name: task-queue, batch_size: 10}`."""

    name: Name
    batch_size: StrictInt = Field(default=1, ge=1, le=10000, description="messages per invocation")


# Retries after the first delivery, then dead-lettered: a queue's (`queues.<name>.max_retries`) and a
# topic subscriber's (`topic: {max_retries}`). Each cloud's own range is checked in spec.checks.
DEFAULT_MAX_RETRIES = 3
MAX_RETRIES_MAX = 100


class TopicTrigger(Strict):
    """`topic: events` or `topic: {name: events, filter: {type: task.completed}, max_retries: 5}`.

    A filter matches message attributes by equality; a list value matches any of its items. Each
    subscriber has its own subscription: its own retries and dead letters.
    """

    name: Name
    filter: dict[FilterKey, FilterValue] = Field(
        default_factory=dict, description="attribute -> value or [values]; all attributes must match")
    max_retries: StrictInt = Field(
        default=DEFAULT_MAX_RETRIES, ge=0, le=MAX_RETRIES_MAX,
        description="deliveries after the first, then the subscription dead-letters the message")


def _short_form(kind: str, example: str):
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict):
            return value
        raise _error(f"expected a {kind} name or a mapping, e.g. `{kind}: {example}`, got {_describe(value)}")

    return convert


class FunctionSpec(Strict):
    handler: StrictStr = Field(description="module:attribute, resolved from the directory of app.yaml")
    memory: StrictInt = Field(default=256, ge=128, description="MB")
    timeout: StrictInt = Field(default=30, ge=1, description="seconds")
    min_instances: StrictInt = Field(default=0, ge=0, le=100, description="instances kept warm")
    max_instances: StrictInt | None = Field(
        default=None, ge=1, le=1000,
        description="at most this many instances at once (Azure, Google Cloud; on AWS use reserved_concurrency)")
    reserved_concurrency: StrictInt | None = Field(
        default=None, ge=0, le=10000,
        description="AWS: concurrent executions set aside for the function, and its cap (0 stops it)")
    architecture: Literal["arm64", "x86_64"] = "arm64"
    http: StrictStr | None = Field(default=None, description="path prefix served through the app's HTTP gateway")
    queue: QueueTrigger | None = Field(default=None, description="queue name, or {name, batch_size}")
    topic: TopicTrigger | None = Field(default=None, description="topic name, or {name, filter, max_retries}")
    schedule: StrictStr | None = Field(default=None, description="`every N minutes|hours|days` or a 5-field UTC cron")
    links: dict[Name, Verbs] = Field(default_factory=dict, description="resource name -> verbs it may use")
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)

    @field_validator(*TRIGGERS, mode="before")
    @classmethod
    def _trigger_given(cls, value: Any, info) -> Any:
        if value is None:
            return value
        if info.field_name == "queue":
            return _short_form("queue", "task-queue")(value)
        if info.field_name == "topic":
            return _short_form("topic", "events")(value)
        return value

    @field_validator("handler")
    @classmethod
    def _handler_form(cls, value: str) -> str:
        if not HANDLER_PATTERN.match(value):
            raise _error(f"handler {value!r} must be module:attribute{_handler_hint(value)}")
        return value

    @field_validator("http")
    @classmethod
    def _http_prefix(cls, value: str) -> str:
        if not value.startswith("/") and re.fullmatch(HTTP_PREFIX_PATTERN, "/" + value):
            raise _error(f"http prefix {value!r} must start with /; write {'/' + value.rstrip('/')!r}")
        if len(value) > 1 and value.endswith("/"):
            value = value.rstrip("/") or "/"
        if not re.fullmatch(HTTP_PREFIX_PATTERN, value):
            raise _error(f"http prefix {value!r} must be / or path segments of letters, digits and . _ ~ -,"
                         " e.g. /api/v1 (routes with {params} go in the handler's Router)")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> FunctionSpec:
        triggers = self.triggers()
        if len(triggers) != 1:
            raise PydanticCustomError("trigger_count", "a function has exactly one trigger", {"found": triggers})
        return self

    def triggers(self) -> list[str]:
        return [kind for kind in TRIGGERS if getattr(self, kind) is not None]

    def runtime_env(self, name: str, cloud: str) -> dict[str, str]:
        """The environment every cloud gives function `name` before its links: the OMNICLOUD_*
        settings the runtime reads, then the app's own `env`."""
        env = {"OMNICLOUD_CLOUD": cloud, "OMNICLOUD_FUNCTION": name, "OMNICLOUD_HANDLER": self.handler,
               "OMNICLOUD_TRIGGER": self.trigger}
        if self.http is not None:
            env["OMNICLOUD_HTTP_PREFIX"] = self.http
        env.update(self.env)
        return env

    @property
    def trigger(self) -> str:
        return self.triggers()[0]


def _handler_hint(value: str) -> str:
    module, colon, attr = value.partition(":")
    fixed_module = module.removesuffix(".py").replace("/", ".").replace("\\", ".").strip(".")
    if not colon and "." in value:
        fixed_module, _, attr = fixed_module.rpartition(".")
    fixed = f"{fixed_module}:{attr}"
    if HANDLER_PATTERN.match(fixed) and fixed != value:
        return f"; write {fixed!r}"
    return ", e.g. functions.api:app (a dotted module path, a colon, a top-level name)"


# AWS: "set the source queue's visibility timeout to at least six times the configuration timeout on
# your function. The extra time allows Lambda to retry if your function is throttled while processing
# a previous batch" (docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html). An unset
# visibility_timeout follows that advice on every cloud; each provider caps it at its cloud's limit.
VISIBILITY_PER_TIMEOUT = 6
VISIBILITY_TIMEOUT_MAX = 43200
DEFAULT_VISIBILITY_TIMEOUT = 30


class QueueSpec(Strict):
    visibility_timeout: StrictInt = Field(
        default=DEFAULT_VISIBILITY_TIMEOUT, ge=1, le=VISIBILITY_TIMEOUT_MAX,
        description="seconds a received message stays hidden; when unset, 6 x the consumer's timeout"
                    f" (at most {VISIBILITY_TIMEOUT_MAX}), or {DEFAULT_VISIBILITY_TIMEOUT} without a consumer")
    max_retries: StrictInt = Field(default=DEFAULT_MAX_RETRIES, ge=0, le=MAX_RETRIES_MAX,
                                   description="deliveries after the first, then dead-lettered")
    retention: StrictInt = Field(default=345600, ge=600, le=604800, description="seconds a message is kept")


def effective_visibility_timeout(queue: QueueSpec, consumer_timeout: int | None) -> int:
    """The visibility timeout a queue gets: as declared, else 6 x its consumer's timeout."""
    if "visibility_timeout" in queue.model_fields_set or consumer_timeout is None:
        return queue.visibility_timeout
    return min(max(VISIBILITY_PER_TIMEOUT * consumer_timeout, DEFAULT_VISIBILITY_TIMEOUT), VISIBILITY_TIMEOUT_MAX)


class TopicSpec(Strict):
    pass


class TableSpec(Strict):
    partition_key: StrictStr = Field(default="pk", pattern=ATTRIBUTE_PATTERN)
    sort_key: StrictStr | None = Field(default=None, pattern=ATTRIBUTE_PATTERN)
    ttl: StrictStr | None = Field(default=None, pattern=ATTRIBUTE_PATTERN, description="attribute holding an expiry (epoch seconds)")

    @model_validator(mode="after")
    def _distinct_keys(self) -> TableSpec:
        used = [k for k in (self.partition_key, self.sort_key, self.ttl) if k]
        if len(set(used)) != len(used):
            raise _error("partition_key, sort_key and ttl must name different attributes")
        return self


class SecretSpec(Strict):
    description: StrictStr = ""


def _empty_bodies(value: Any) -> Any:
    # `events:` with nothing after it means "all defaults", as `events: {}` does.
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return {} if value is None else value


class AppSpec(Strict):
    """app.yaml: the app's name, its functions, and one section per registered kind
    (queues, topics, tables, secrets, and what installed packages add). The sections are fields
    of the model `app_model` makes from the registry; `load_app` validates with it."""

    name: AppName = Field(description="prefix of every physical name")
    functions: dict[Name, FunctionSpec] = Field(min_length=1)

    def section(self, kind: str) -> dict[str, Any]:
        """The resources of `kind` (its app.yaml section), by logical name."""
        if kind == "function":
            return self.functions
        from omnicloud.registry import registry

        return getattr(self, registry().kind(kind).section or "", None) or {}

    def kind_of(self, name: str) -> str | None:
        """The kind (queue, topic, table, secret, function, ...) a resource name was declared as."""
        for kind, group in self.resource_groups().items():
            if name in group:
                return kind
        return None

    def resource_groups(self) -> dict[str, dict]:
        """kind -> its resources: every linkable kind's section, then the functions."""
        from omnicloud.registry import registry

        groups = {kind.name: getattr(self, kind.section, None) or {} for kind in registry().resource_kinds()
                  if kind.section in type(self).model_fields}
        groups["function"] = self.functions
        return groups

    def consumers_of_queue(self, queue: str) -> list[str]:
        return [n for n, f in self.functions.items() if f.queue and f.queue.name == queue]

    def visibility_timeout_of(self, queue: str) -> int:
        """`queue`'s visibility timeout as deployed (see effective_visibility_timeout)."""
        consumers = self.consumers_of_queue(queue)
        timeout = self.functions[consumers[0]].timeout if consumers else None
        return effective_visibility_timeout(self.section("queue")[queue], timeout)

    def subscribers_of_topic(self, topic: str) -> list[str]:
        return [n for n, f in self.functions.items() if f.topic and f.topic.name == topic]


def app_model(kinds: list) -> type[AppSpec]:
    """AppSpec with a section per kind (`queues: {name: QueueSpec}`, ...), in the given order.

    `events:` with nothing after it means "all defaults", as `events: {}` does, in every section.
    """
    from pydantic import create_model

    fields: dict[str, Any] = {
        kind.section: (dict[Name, kind.model], Field(default_factory=dict)) for kind in kinds
    }
    sections = tuple(fields)
    validators = {"_bodies": field_validator(*sections, mode="before")(_section_bodies)} if sections else {}
    return create_model("AppSpec", __base__=AppSpec, __module__=__name__, __validators__=validators, **fields)


def _section_bodies(cls, value: Any) -> Any:
    return _empty_bodies(value)


class StackSettings(Strict):
    """What a `Pulumi.<stack>.yaml` may set under `omnicloud:` (read by omnicloud.program only)."""

    cloud: Literal["aws", "azure", "gcp"]
    environment: Literal["dev", "prod"] = "dev"
    app: str = "app.yaml"
    # Per-function overrides of FunctionSpec's OVERRIDABLE fields.
    functions: dict[str, dict] = Field(default_factory=dict)
    # Tags (Google Cloud: labels) on every resource that takes them, besides omnicloud's own.
    tags: dict[str, str] = Field(default_factory=dict)
    # A provider of the registry (an entry point of a package), instead of the cloud's built-in one.
    provider: str | None = None
