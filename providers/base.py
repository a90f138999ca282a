"""The provider protocol: how each cloud turns a neutral component into its resources.

A component calls exactly one method here with itself as `parent`; the provider creates the
cloud resources as children (``ResourceOptions(parent=parent)``) and returns a `Built`:
the neutral outputs plus `native`, the main cloud resource (the escape hatch).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi

from omnicloud.bundle.artifact import Artifact  # noqa: F401  (providers' name for it)
from spec.model import AppSpec, FunctionSpec, QueueSpec, SecretSpec, TableSpec, TopicSpec
from spec.schedule import Schedule

REGISTRY = {
    "aws": "providers.aws:AwsProvider",
    "azure": "providers.azure:AzureProvider",
    "gcp": "providers.gcp:GcpProvider",
}

STATEFUL_KINDS = ("table", "queue", "topic", "secret")


@dataclass
class DeployContext:
    """Everything a provider needs to know about this deployment, fixed before any resource."""

    app: AppSpec
    app_dir: Path
    cloud: str
    stack: str
    environment: str  # dev | prod
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    # Per-function overrides from Pulumi.<stack>.yaml (memory, timeout, min_instances), already
    # applied to `app`; kept for reference.
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def stateful_options(self, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
        """Options for data-holding resources: prod protects them and keeps them on delete."""
        return pulumi.ResourceOptions(parent=parent, protect=self.prod, retain_on_delete=self.prod, **extra)

    def tags(self) -> dict[str, str]:
        return {"omnicloud-app": self.app.name, "omnicloud-stack": self.stack, "managed-by": "omnicloud"}


@dataclass
class Built:
    """What a provider returns for a component: neutral outputs, the native resource, and
    cloud-specific references (`refs`) the same provider reads back when wiring links."""

    name: pulumi.Input[str]
    native: pulumi.Resource | None
    url: pulumi.Input[str] | None = None
    refs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LinkTarget:
    """A resource a function is linked to, with the verbs app.yaml granted."""

    logical: str
    kind: str  # table | queue | topic | secret
    verbs: tuple[str, ...]
    built: Built


@dataclass
class FunctionRequest:
    """What a provider needs to build one function."""

    logical: str
    spec: FunctionSpec
    artifact: Artifact | None
    links: list[LinkTarget]
    # The built queue or topic this function is triggered by, when it is.
    trigger_source: Built | None = None
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class CloudProvider(Protocol):
    """One per cloud (providers/aws.py, azure.py, gcp.py)."""

    cloud: str

    def __init__(self, ctx: DeployContext) -> None: ...

    def setup(self, parent: pulumi.ComponentResource) -> None:
        """Create shared, app-wide resources (resource group, namespaces, buckets) under the App."""

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        """Stack-wide tags/labels on every resource type that takes them."""

    def table(self, parent: pulumi.ComponentResource, logical: str, spec: TableSpec) -> Built: ...

    def queue(self, parent: pulumi.ComponentResource, logical: str, spec: QueueSpec) -> Built: ...

    def topic(self, parent: pulumi.ComponentResource, logical: str, spec: TopicSpec) -> Built: ...

    def secret(self, parent: pulumi.ComponentResource, logical: str, spec: SecretSpec) -> Built: ...

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        """Backend properties of a link's env JSON (see runtime.links for each cloud's keys)."""

    def function(self, parent: pulumi.ComponentResource, request: FunctionRequest,
                 env: dict[str, pulumi.Input[str]]) -> Built:
        """The function, its own identity, logs, and its trigger wiring (queue/topic); `env`
        already holds OMNICLOUD_* variables and the links' JSON."""

    def grant(self, parent: pulumi.ComponentResource, function: Built, target: LinkTarget) -> list[pulumi.Resource]:
        """Least-privilege grants: exactly `target.verbs` on exactly `target`'s resource."""

    def schedule(self, parent: pulumi.ComponentResource, logical: str, schedule: Schedule, function: Built) -> Built: ...

    def http_api(self, parent: pulumi.ComponentResource, logical: str, routes: list[tuple[str, str, Built]]) -> Built:
        """One gateway with a route per (prefix, function logical name, built function)."""


def load_provider(cloud: str, ctx: DeployContext) -> CloudProvider:
    """Import only the selected cloud's provider (an Azure stack never imports pulumi_aws)."""
    try:
        target = REGISTRY[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}; use one of {', '.join(REGISTRY)}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(ctx)


_active: CloudProvider | None = None


def activate(provider: CloudProvider | None) -> None:
    global _active
    _active = provider


def active() -> CloudProvider:
    if _active is None:
        raise RuntimeError("no cloud provider is active; build components through components.App")
    return _active
