"""Function: the app's code behind one trigger, with its own identity and least-privilege links."""

from __future__ import annotations

from typing import Any, TypedDict

import pulumi

from providers import base
from providers.base import Artifact, FunctionRequest, LinkTarget
from runtime.links import env_name, link_value
from spec.model import FunctionSpec

from ._base import NeutralComponent


class FunctionLink(TypedDict):
    target: NeutralComponent
    """A Table, Queue, Topic or Secret component."""
    verbs: list[str]
    """What the function may do with it (read, write, send, publish)."""


class FunctionArgs(TypedDict, total=False):
    spec: FunctionSpec
    """The function as declared in app.yaml (with stack overrides applied)."""
    artifact: Artifact | None
    """The packaged code (see `omnicloud package`)."""
    links: list[FunctionLink]
    """Resources the function may touch, and how."""
    trigger_source: NeutralComponent | None
    """The Queue or Topic component that triggers it, if any."""


class Function(NeutralComponent):
    KIND = "Function"

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        provider = base.active()
        spec = args["spec"]
        links = [
            LinkTarget(logical=link["target"].logical, kind=link["target"].KIND.lower(),
                       verbs=tuple(link["verbs"]), built=link["target"].built)
            for link in args.get("links", [])
        ]
        source = args.get("trigger_source")
        request = FunctionRequest(
            logical=name, spec=spec, artifact=args.get("artifact"), links=links,
            trigger_source=source.built if source is not None else None,
        )
        env: dict[str, pulumi.Input[str]] = dict(spec.runtime_env(name, provider.cloud))
        for link in links:
            env[env_name(link.logical)] = _link_json(link, provider.link_properties(link))
        self.links = links
        built = provider.function(self, request, env)
        self.grants = [grant for link in links for grant in provider.grant(self, built, link)]
        self._finish(built)


def _link_json(link: LinkTarget, props: dict[str, pulumi.Input[Any]]) -> pulumi.Output[str]:
    """The link's env value, encoded by runtime.links (the one wire format) once `props` resolve."""

    def render(resolved: dict[str, Any]) -> str:
        return link_value(link.kind, link.verbs, resolved)

    return pulumi.Output.all(**props).apply(render) if props else pulumi.Output.from_input(render({}))
