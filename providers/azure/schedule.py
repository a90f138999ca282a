"""Schedule on Azure: a timer trigger inside the function's own app (OMNICLOUD_SCHEDULE, set by
function.py); nothing to create."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.base import Built, Mapping, NoNodes
from spec.schedule import Schedule

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function


class ScheduleOnAzure(Mapping):
    kind = "schedule"
    Nodes = NoNodes

    def create(
        self, component: Component, schedule: Schedule, function: Function
    ) -> Built[NoNodes]:
        return Built(
            name=function.built.name,
            nodes=NoNodes(),
            native=function.native,
            spec=schedule.for_azure(),
        )
