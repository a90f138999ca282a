"""Schedule: run a function on a rate or a UTC cron, translated to each cloud's syntax."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import pulumi

from providers.base import CloudProvider
from spec.schedule import parse_schedule

from .base import Component, Transform
from .function import Function


class ScheduleArgs(TypedDict):
    expression: str
    """`every N minutes|hours|days` or a 5-field UTC cron."""
    function: Function
    """The function to run."""


class Schedule(Component):
    """`Schedule(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/schedule.py."""

    KIND = "Schedule"
    kind = "schedule"

    def __init__(
        self,
        name: str,
        args: ScheduleArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Transform] | None = None,
    ):
        super().__init__(name, opts, provider=provider, transform=transform)
        self.schedule = parse_schedule(args["expression"])
        built = self.mapping.create(self, self.schedule, args["function"])
        self._finish(built, {"expression": self.schedule.describe()})
