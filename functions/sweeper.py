"""Scheduled sweeper: marks tasks stuck past their deadline `timed_out` (reads the deadline index only)."""

from __future__ import annotations

import logging

from runtime import ScheduledEvent
from runtime.log import event as log_event

from . import tasks

log = logging.getLogger("agents.sweeper")


def sweep(event: ScheduledEvent) -> None:
    timed_out = tasks.sweep()
    log_event(log, "sweep done", timed_out=len(timed_out), task_ids=timed_out[:20])
