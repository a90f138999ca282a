"""How a cloud turns neutral components into its resources: a provider class per cloud
(providers/<cloud>/__init__.py) and a `Mapping` per kind per cloud (providers/<cloud>/<kind>.py).

A component (components/) asks its provider for the mapping of its kind and calls it with itself
as parent; the mapping creates the cloud resources through `component.node(...)` (which applies
the component's `transform`) and returns a `Built`: the neutral outputs, the typed `nodes` it made,
and the settings it made them from. A linkable kind's mapping also says what a link to it carries
(`link_properties`) and grants (`grant`), SST-`Linkable` style, so linking needs no per-kind branch
anywhere else.

A provider is an ordinary class: subclass it and replace one mapping to change how one kind maps
onto the cloud (`mappings = {"topic": MyTopicOnAzure}`); the registry finds the other kinds' own
mappings (omnicloud/registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pulumi

from omnicloud.bundle.artifact import Artifact  # noqa: F401  (providers' name for it)
from spec.model import AppSpec, FunctionSpec

if TYPE_CHECKING:
    from components.base import Component
    from omnicloud.registry import Registry

N = TypeVar("N")

# The tags (Google Cloud: labels) omnicloud puts on every resource that takes them, besides a
# stack's own `omnicloud:tags`.
STACK_TAG_KEYS = ("omnicloud-app", "omnicloud-stack", "managed-by")


@dataclass
class DeployContext:
    """Everything a provider needs to know about this deployment, fixed before any resource."""

    app: AppSpec
    app_dir: Path
    cloud: str
    stack: str
    environment: str  # dev | prod
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    # Per-function overrides from Pulumi.<stack>.yaml (memory, timeout, instances...), already
    # applied to `app`; kept for reference.
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The stack's own tags (omnicloud:tags), checked against the cloud's rules.
    extra_tags: dict[str, str] = field(default_factory=dict)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def stateful_options(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        """Options for data-holding resources: prod protects them and keeps them on delete."""
        return pulumi.ResourceOptions(
            parent=parent, protect=self.prod, retain_on_delete=self.prod, **extra
        )

    def tags(self) -> dict[str, str]:
        """The stack's tags, then omnicloud's own (which a stack's tags may not replace)."""
        own = dict(zip(STACK_TAG_KEYS, (self.app.name, self.stack, "omnicloud"), strict=True))
        return {**self.extra_tags, **own}


@dataclass
class Built(Generic[N]):
    """What a mapping returns for a component: the neutral outputs (`name`, `url`), the resources
    it made (`nodes`, a dataclass of the mapping's own), its main resource (`native`, the escape
    hatch) and the validated settings it built from (`spec`)."""

    name: pulumi.Input[str]
    nodes: N
    native: pulumi.Resource | None = None
    url: pulumi.Input[str] | None = None
    spec: Any = None


@dataclass
class LinkTarget:
    """A resource a function is linked to, with the verbs app.yaml granted."""

    logical: str
    kind: str
    verbs: tuple[str, ...]
    built: Built


@dataclass
class FunctionRequest:
    """What a function mapping needs to build one function."""

    logical: str
    spec: FunctionSpec
    artifact: Artifact | None
    links: list[LinkTarget]
    # The built queue or topic this function is triggered by, when it is.
    trigger_source: Built | None = None


@dataclass
class NoNodes:
    """A mapping that creates nothing of its own (e.g. an Azure schedule: a timer in the app)."""


class Mapping:
    """How one kind becomes one cloud's resources.

    `Nodes` is the dataclass of what it creates: its fields are the keys a component's
    `transform={"<node>": fn}` may use. Resource kinds implement `create(component, spec)`;
    linkable ones also `link_properties` and `grant`. Functions, schedules and the HTTP API take
    what they need instead of a spec (see their mappings).
    """

    kind: ClassVar[str] = ""
    Nodes: ClassVar[type] = NoNodes

    def __init__(self, provider: CloudProvider) -> None:
        self.provider = provider
        self.ctx = provider.ctx

    def create(self, component: Component, spec: Any) -> Built:
        raise NotImplementedError(f"{type(self).__name__} does not create {self.kind} resources")

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        """What a link to `target` carries (the backend properties of runtime.links' JSON)."""
        raise NotImplementedError(f"a {self.kind} cannot be linked on {self.provider.cloud}")

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        """Least privilege: exactly `target.verbs` on exactly `target`'s resource, for `function`'s
        identity; the grants are nodes `grants` of the function (`function.node("grants", ...)`)."""
        raise NotImplementedError(f"a {self.kind} cannot be granted on {self.provider.cloud}")


class CloudProvider:
    """One per cloud. `mappings` replaces the mapping of a kind (a subclass's way to change one);
    every other kind uses the mapping its registry definition names for this cloud."""

    cloud: ClassVar[str] = ""
    mappings: ClassVar[dict[str, type[Mapping]]] = {}
    # The app-wide resources `setup` creates (a resource group, a namespace, a bucket...).
    Nodes: ClassVar[type] = NoNodes

    def __init__(self, ctx: DeployContext, kinds: Registry | None = None) -> None:
        from omnicloud.registry import registry

        self.ctx = ctx
        self.kinds = kinds if kinds is not None else registry()
        self.nodes: Any = None
        self._mappings: dict[str, Mapping] = {}

    def setup(self, app: Component) -> Any:
        """Create the app-wide resources under `app` (its nodes); nothing by default."""
        self.nodes = self.Nodes()
        return self.nodes

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
        """Stack-wide tags/labels on every resource type that takes them."""
        return None

    def mapping_class(self, kind: str) -> type[Mapping]:
        override = type(self).mappings.get(kind)
        if override is not None:
            return override
        from omnicloud.registry import RegistryError, load

        definition = self.kinds.kind(kind)
        path = definition.mappings.get(self.cloud)
        if path is None:
            raise RegistryError(
                f"kind {kind!r} has no mapping on {self.cloud}"
                f" ({self.kinds.origins.get(kind, 'its package')} maps it onto"
                f" {', '.join(definition.mappings) or 'no cloud'})"
            )
        return load(path)

    def mapping(self, kind: str) -> Mapping:
        """This provider's mapping of `kind` (one instance per provider)."""
        found = self._mappings.get(kind)
        if found is None:
            found = self._mappings[kind] = self.mapping_class(kind)(self)
        return found
