"""App: builds every component of an app.yaml on the stack's cloud and wires links and triggers."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from omnicloud.registry import load, registry
from providers import base
from providers.base import DeployContext

from ._base import NeutralComponent
from .function import Function, FunctionLink
from .http_api import HttpApi
from .schedule import Schedule


class AppArgs(TypedDict):
    context: DeployContext
    """The validated app, its stack settings and packaged code."""


class App(pulumi.ComponentResource):
    """Every resource of the app hangs below this component, so one transformation tags them all."""

    url: pulumi.Output[str] | None

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        ctx = args["context"]
        provider = base.load_provider(ctx.cloud, ctx)
        base.activate(provider)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[provider.transformation]))
        super().__init__("omnicloud:index:App", name, None, opts)
        try:
            self._build(ctx, provider)
        finally:
            base.activate(None)

    def _build(self, ctx: DeployContext, provider: base.CloudProvider) -> None:
        spec = ctx.app
        child = pulumi.ResourceOptions(parent=self)
        provider.setup(self)
        self.resources: dict[str, NeutralComponent] = {}
        for kind in registry().resource_kinds():
            component = load(kind.component)
            for name, resource in spec.section(kind.name).items():
                self.resources[name] = component(name, resource.model_dump(exclude_none=True), child)

        self.functions: dict[str, Function] = {}
        self.schedules: dict[str, Schedule] = {}
        routes = []
        for name, fn in spec.functions.items():
            links: list[FunctionLink] = [
                {"target": self.resources[target], "verbs": list(verbs)} for target, verbs in fn.links.items()
            ]
            source = None
            if fn.queue is not None:
                source = self.resources[fn.queue.name]
            elif fn.topic is not None:
                source = self.resources[fn.topic.name]
            function = Function(
                name,
                {"spec": fn, "artifact": ctx.artifacts.get(name), "links": links, "trigger_source": source},
                child,
            )
            self.functions[name] = function
            if fn.schedule is not None:
                self.schedules[name] = Schedule(f"{name}-schedule", {"expression": fn.schedule, "function": function}, child)
            if fn.http is not None:
                routes.append({"prefix": fn.http, "function": function})

        self.http_api = HttpApi("http", {"routes": routes}, child) if routes else None
        self.url = self.http_api.url if self.http_api else None
        outputs = {"url": self.url} if self.url is not None else {}
        self.register_outputs(outputs)

