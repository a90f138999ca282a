"""The local scheduler: rates and 5-field UTC cron, fired by one thread.

OMNICLOUD_DEV_TICK (seconds, hidden, for tests and demos) makes one scheduled minute last that
long: with OMNICLOUD_DEV_TICK=0.5, `every 5 minutes` fires every 2.5 s and cron runs on a clock
that advances a minute per half second. Without it, due times are kept in the state, so a
restart neither skips nor repeats a run (a run missed while stopped fires once at start).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spec import Schedule, parse_schedule

log = logging.getLogger("omnicloud.dev")

TICK_ENV = "OMNICLOUD_DEV_TICK"

_RANGES = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}
_NAMES = {
    "month": {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())},
    "dow": {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())},
}


def _field_values(expr: str, label: str) -> set[int]:
    low, high = _RANGES[label]
    names = _NAMES.get(label, {})
    values: set[int] = set()
    for item in expr.upper().split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        else:
            bounds = [int(names.get(token, token)) for token in base.split("-")]
            first = bounds[0]
            last = bounds[1] if len(bounds) > 1 else (high if step_text else first)
        values.update(range(first, last + 1, step))
    if label == "dow" and 7 in values:
        values.add(0)  # Sunday is 0 or 7
    return values


class Cron:
    """A 5-field UTC cron; day-of-month and day-of-week match either when both are restricted."""

    def __init__(self, fields: tuple[str, str, str, str, str]):
        minute, hour, dom, month, dow = fields
        self.minutes = _field_values(minute, "minute")
        self.hours = _field_values(hour, "hour")
        self.days = _field_values(dom, "dom")
        self.months = _field_values(month, "month")
        self.weekdays = _field_values(dow, "dow")
        self.both_days = not dom.startswith("*") and not dow.startswith("*")
        self.any_dom = dom.startswith("*")
        self.any_dow = dow.startswith("*")

    def _day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        return (dom or dow) if self.both_days else (dom and dow)

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after `moment` (UTC)."""
        t = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError("cron expression never matches")


def next_due(schedule: Schedule, after: float) -> float:
    """Epoch seconds of the first run strictly after `after`."""
    if schedule.is_rate:
        return after + float(schedule.interval_seconds() or 60)
    return Cron(schedule.fields).next_after(datetime.fromtimestamp(after, UTC)).timestamp()  # type: ignore[arg-type]


@dataclass
class Job:
    function: str
    text: str  # as app.yaml says it
    schedule: Schedule
    due: float = 0.0


class Scheduler:
    """Fires `fire(function, ScheduledEvent-time, schedule text)` for each job when due."""

    def __init__(self, jobs: dict[str, str], fire: Callable[[str, datetime, str], None], *,
                 store=None, stop: threading.Event | None = None, housekeeping: Callable[[], None] | None = None):
        self.fire = fire
        self.store = store
        self.stop_event = stop or threading.Event()
        self.housekeeping = housekeeping
        tick = os.environ.get(TICK_ENV)
        self.speed = 60.0 / float(tick) if tick else 1.0
        self.persist = not tick and store is not None
        self._real_start = time.time()
        self.jobs = [Job(name, text, parse_schedule(text)) for name, text in jobs.items()]
        now = self.now()
        for job in self.jobs:
            stored = self.store.schedule_due(job.function, job.text) if self.persist else None
            # A run missed while the dev server was stopped fires once, right away.
            job.due = stored if stored is not None else next_due(job.schedule, now)
            if stored is None and self.persist:
                self.store.set_schedule_due(job.function, job.text, job.due)

    def now(self) -> float:
        """The scheduler's clock: real time, or real time sped up by OMNICLOUD_DEV_TICK."""
        return self._real_start + (time.time() - self._real_start) * self.speed

    def next_run(self, function: str) -> datetime | None:
        for job in self.jobs:
            if job.function == function:
                return datetime.fromtimestamp(job.due, UTC)
        return None

    def run(self) -> None:
        last_housekeeping = time.monotonic()
        while not self.stop_event.is_set():
            now = self.now()
            for job in self.jobs:
                if job.due <= now:
                    due = job.due
                    job.due = next_due(job.schedule, max(now, due))
                    if self.persist:
                        self.store.set_schedule_due(job.function, job.text, job.due)
                    self.fire(job.function, datetime.fromtimestamp(due, UTC), job.text)
            if self.housekeeping and time.monotonic() - last_housekeeping > 60:
                last_housekeeping = time.monotonic()
                try:
                    self.housekeeping()
                except Exception:  # housekeeping must never stop the schedules
                    log.exception("housekeeping failed")
            wait = min((job.due for job in self.jobs), default=now + 60) - self.now()
            self.stop_event.wait(max(0.05, min(wait / self.speed, 1.0)))


def scheduled_event_id() -> str:
    return str(uuid.uuid4())
