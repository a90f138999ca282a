"""Schedule: run a function on a rate or a UTC cron, translated to each cloud's syntax."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base
from spec.schedule import parse_schedule

from ._base import NeutralComponent
from .function import Function


class ScheduleArgs(TypedDict):
    expression: str
    """`every N minutes|hours|days` or a 5-field UTC cron."""
    function: Function
    """The function to run."""


class Schedule(NeutralComponent):
    KIND = "Schedule"

    def __init__(self, name: str, args: ScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.schedule = parse_schedule(args["expression"])
        built = base.active().schedule(self, name, self.schedule, args["function"].built)
        self._finish(built, {"expression": self.schedule.describe()})
