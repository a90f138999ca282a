"""Shared shape of every omnicloud component: one type token on every cloud, neutral outputs."""

from __future__ import annotations

from typing import Any

import pulumi

from providers.base import Built


class NeutralComponent(pulumi.ComponentResource):
    """Base for the components: `name`, `url` (where there is one) and `native`."""

    KIND = ""
    name: pulumi.Output[str]
    url: pulumi.Output[str] | None
    native: pulumi.Resource | None
    built: Built

    def __init__(self, logical: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"omnicloud:index:{self.KIND}", logical, None, opts)
        self.logical = logical

    def _finish(self, built: Built, extra_outputs: dict[str, Any] | None = None) -> None:
        self.built = built
        self.native = built.native
        self.name = pulumi.Output.from_input(built.name)
        self.url = pulumi.Output.from_input(built.url) if built.url is not None else None
        outputs: dict[str, Any] = {"name": self.name}
        if self.url is not None:
            outputs["url"] = self.url
        outputs.update(extra_outputs or {})
        self.register_outputs(outputs)
