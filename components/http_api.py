"""HttpApi: the app's one HTTP base URL, routing each function's path prefix to it."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base

from ._base import NeutralComponent
from .function import Function


class HttpRoute(TypedDict):
    prefix: str
    """Path prefix, e.g. / or /api."""
    function: Function
    """The function serving it."""


class HttpApiArgs(TypedDict):
    routes: list[HttpRoute]


class HttpApi(NeutralComponent):
    KIND = "HttpApi"

    def __init__(self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        routes = [(r["prefix"], r["function"].logical, r["function"].built) for r in args["routes"]]
        self._finish(base.active().http_api(self, name, routes))
