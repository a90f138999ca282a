"""HttpApi: the app's one HTTP base URL, routing each function's path prefix to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import pulumi

from providers.base import CloudProvider

from .base import Component, Transform
from .function import Function


class HttpRoute(TypedDict):
    prefix: str
    """Path prefix, e.g. / or /api."""
    function: Function
    """The function serving it."""


class HttpApiArgs(TypedDict):
    routes: list[HttpRoute]


class HttpApi(Component):
    """`HttpApi(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/http.py."""

    KIND = "HttpApi"
    kind = "http"

    def __init__(
        self,
        name: str,
        args: HttpApiArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Transform] | None = None,
    ):
        super().__init__(name, opts, provider=provider, transform=transform)
        routes = [(r["prefix"], r["function"]) for r in args["routes"]]
        self._finish(self.mapping.create(self, routes))
