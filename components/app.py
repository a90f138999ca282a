"""App: builds every component of an app.yaml on the stack's cloud and wires links and triggers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi

from omnicloud.registry import load
from providers.base import CloudProvider, DeployContext

from .base import Component, Transform, TransformError, check_transform
from .function import Function, FunctionLink
from .http_api import HttpApi
from .schedule import Schedule


class AppArgs(TypedDict):
    context: DeployContext
    """The validated app, its stack settings and packaged code."""


class App(Component):
    """Every resource of the app hangs below this component, so one transformation tags them all.

    `transform` maps the App's own nodes (the provider's app-wide resources, e.g. Azure's
    `bus`) to a function, and a component's logical name (`events`, `api`, `http`,
    `sweeper-schedule`) to that component's transform dict:

        App("agents", {"context": ctx}, provider=provider,
            transform={"events": {"topic": set_ttl}, "bus": premium_namespace})
    """

    KIND = "App"
    url: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        args: AppArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Any] | None = None,
    ):
        ctx = args["context"]
        own = {k: v for k, v in (transform or {}).items() if not isinstance(v, Mapping)}
        self._component_transforms = {
            k: v for k, v in (transform or {}).items() if isinstance(v, Mapping)
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(transformations=[provider.transformation])
        )
        super().__init__(name, opts, provider=provider, transform=own, nodes=provider.Nodes)
        self._build(ctx, provider)

    def _transform_of(self, logical: str) -> dict[str, Transform] | None:
        self._unused.discard(logical)
        return self._component_transforms.get(logical)

    def _build(self, ctx: DeployContext, provider: CloudProvider) -> None:
        spec = ctx.app
        self._unused = set(self._component_transforms)
        child = pulumi.ResourceOptions(parent=self)
        self.nodes = provider.setup(self)
        self.resources: dict[str, Component] = {}
        for kind in provider.kinds.resource_kinds():
            component = load(kind.component)
            for name, resource in spec.section(kind.name).items():
                self.resources[name] = component(
                    name,
                    resource.model_dump(exclude_none=True),
                    child,
                    provider=provider,
                    transform=self._transform_of(name),
                )

        self.functions: dict[str, Function] = {}
        self.schedules: dict[str, Schedule] = {}
        routes = []
        for name, fn in spec.functions.items():
            links: list[FunctionLink] = [
                {"target": self.resources[target], "verbs": list(verbs)}
                for target, verbs in fn.links.items()
            ]
            source = None
            if fn.queue is not None:
                source = self.resources[fn.queue.name]
            elif fn.topic is not None:
                source = self.resources[fn.topic.name]
            function = Function(
                name,
                {
                    "spec": fn,
                    "artifact": ctx.artifacts.get(name),
                    "links": links,
                    "trigger_source": source,
                },
                child,
                provider=provider,
                transform=self._transform_of(name),
            )
            self.functions[name] = function
            if fn.schedule is not None:
                logical = f"{name}-schedule"
                self.schedules[name] = Schedule(
                    logical,
                    {"expression": fn.schedule, "function": function},
                    child,
                    provider=provider,
                    transform=self._transform_of(logical),
                )
            if fn.http is not None:
                routes.append({"prefix": fn.http, "function": function})

        self.http_api = (
            HttpApi(
                "http",
                {"routes": routes},
                child,
                provider=provider,
                transform=self._transform_of("http"),
            )
            if routes
            else None
        )
        if self._unused:
            from spec.loader import did_you_mean

            names = sorted(
                [
                    *self.resources,
                    *self.functions,
                    *(f"{n}-schedule" for n in self.schedules),
                    *(["http"] if self.http_api else []),
                ]
            )
            key = sorted(self._unused)[0]
            raise TransformError(
                f"App {self.logical!r}: transform names {key!r}, which is no component of the app"
                f"{did_you_mean(key, names)}; components: {', '.join(names)} (or a node of the"
                f" app itself, given a function: {_node_names(provider)})"
            )
        self.url = self.http_api.url if self.http_api else None
        outputs = {"url": self.url} if self.url is not None else {}
        self.register_outputs(outputs)


def _node_names(provider: CloudProvider) -> str:
    import dataclasses

    return ", ".join(f.name for f in dataclasses.fields(provider.Nodes)) or "none"


__all__ = ["App", "AppArgs", "check_transform"]
