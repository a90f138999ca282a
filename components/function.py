"""Function: the app's code behind one trigger, with its own identity and least-privilege links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi

from providers.base import Artifact, CloudProvider, FunctionRequest, LinkTarget
from runtime.links import env_name, link_value
from spec.model import FunctionSpec

from .base import Component, Resource, Transform


class FunctionLink(TypedDict):
    target: Resource
    """A Table, Queue, Topic, Secret, or any linkable kind's component."""
    verbs: list[str]
    """What the function may do with it (read, write, send, publish, ...)."""


class FunctionArgs(TypedDict, total=False):
    spec: FunctionSpec
    """The function as declared in app.yaml (with stack overrides applied)."""
    artifact: Artifact | None
    """The packaged code (see `omnicloud package`)."""
    links: list[FunctionLink]
    """Resources the function may touch, and how."""
    trigger_source: Component | None
    """The Queue or Topic component that triggers it, if any."""


class Function(Component):
    """`Function(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/function.py (their `grants` are the link grants, made by each linked kind's
    mapping)."""

    KIND = "Function"
    kind = "function"

    def __init__(
        self,
        name: str,
        args: FunctionArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Transform] | None = None,
    ):
        super().__init__(name, opts, provider=provider, transform=transform)
        spec = args["spec"]
        links = [
            LinkTarget(
                logical=link["target"].logical,
                kind=link["target"].kind,
                verbs=tuple(link["verbs"]),
                built=link["target"].built,
            )
            for link in args.get("links", [])
        ]
        source = args.get("trigger_source")
        request = FunctionRequest(
            logical=name,
            spec=spec,
            artifact=args.get("artifact"),
            links=links,
            trigger_source=source.built if source is not None else None,
        )
        env: dict[str, pulumi.Input[str]] = dict(spec.runtime_env(name, provider.cloud))
        for link in links:
            props = provider.mapping(link.kind).link_properties(link)
            env[env_name(link.logical)] = link_output(link.kind, link.verbs, props)
        self.links = links
        built = self.mapping.create(self, request, env)
        self.built, self.nodes = built, built.nodes
        # Each linked kind grants its own verbs (SST Linkable): no per-kind branch here.
        self.grants = [
            grant for link in links for grant in provider.mapping(link.kind).grant(self, link)
        ]
        self._finish(built)


def link_output(
    kind: str, verbs: tuple[str, ...], props: dict[str, pulumi.Input[Any]]
) -> pulumi.Output[str]:
    """A link's env value, encoded by runtime.links.link_value (the one wire format) once `props` resolve."""

    def render(resolved: dict[str, Any]) -> str:
        return link_value(kind, verbs, resolved)

    return (
        pulumi.Output.all(**props).apply(render) if props else pulumi.Output.from_input(render({}))
    )
