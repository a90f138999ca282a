"""Parse `schedule:` (`every N minutes|hours|days` or a 5-field UTC cron) and translate it per cloud."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EVERY = re.compile(r"^every\s+(\d+)\s+(minute|minutes|hour|hours|day|days)$")
_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}
_FIELD_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_NAMED = {
    "month": {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())},
    "day-of-week": {d: i for i, d in enumerate(_DOW_NAMES[:7])},
}


class ScheduleError(ValueError):
    """A schedule that no cloud can run, or that one cloud cannot express."""


@dataclass(frozen=True)
class Schedule:
    """A neutral schedule: either a rate (`every`, `unit`) or a cron (`fields`, always UTC)."""

    every: int | None = None
    unit: str | None = None  # minutes | hours | days
    fields: tuple[str, str, str, str, str] | None = None

    @property
    def is_rate(self) -> bool:
        return self.every is not None

    def as_unix_cron(self) -> str:
        """Five-field cron; rates that cron cannot express exactly raise ScheduleError."""
        if self.fields:
            return " ".join(self.fields)
        n, unit = self.every, self.unit
        assert n is not None
        if unit == "minutes":
            if n == 1:
                return "* * * * *"
            if n < 60 and 60 % n == 0:
                return f"*/{n} * * * *"
            raise ScheduleError(
                f"'every {n} minutes' is not expressible as cron (it must divide 60); "
                f"use a divisor of 60 minutes, 'every {max(1, n // 60)} hours', or an explicit cron"
            )
        if unit == "hours":
            if n == 1:
                return "0 * * * *"
            if n < 24 and 24 % n == 0:
                return f"0 */{n} * * *"
            raise ScheduleError(
                f"'every {n} hours' is not expressible as cron (it must divide 24); "
                "use a divisor of 24 hours, 'every 1 days', or an explicit cron"
            )
        if n == 1:
            return "0 0 * * *"
        raise ScheduleError(
            f"'every {n} days' is not expressible as cron (day-of-month steps restart each month); "
            "use 'every 1 days' or an explicit cron such as '0 0 * * 1' (weekly)"
        )

    def for_aws(self) -> str:
        """EventBridge Scheduler expression: rate(...) or 6-field cron(...) with `?` and day names."""
        if self.is_rate:
            unit = self.unit[:-1] if self.every == 1 else self.unit  # type: ignore[index]
            return f"rate({self.every} {unit})"
        minute, hour, dom, month, dow = self.fields  # type: ignore[misc]
        if dom != "*" and dow != "*":
            raise ScheduleError(
                "AWS cron cannot restrict both day-of-month and day-of-week; keep one of them '*'"
            )
        if dow == "*":
            dow = "?"
        else:
            dom = "?"
            dow = _aws_day_of_week(dow)
        return f"cron({minute} {hour} {dom} {month} {dow} *)"

    def for_azure(self) -> str:
        """NCRONTAB with seconds, as the Azure Functions timer trigger takes it (UTC)."""
        return "0 " + self.as_unix_cron()

    def for_gcp(self) -> str:
        """Unix cron, as Cloud Scheduler takes it (time zone set to UTC by the provider)."""
        return self.as_unix_cron()

    def describe(self) -> str:
        if self.is_rate:
            return f"every {self.every} {self.unit}"
        return " ".join(self.fields or ())

    def interval_seconds(self) -> int | None:
        """For rates, the period in seconds (used by the local scheduler)."""
        if not self.is_rate:
            return None
        return self.every * {"minutes": 60, "hours": 3600, "days": 86400}[self.unit]  # type: ignore[index,operator]


def _aws_day_of_week(expr: str) -> str:
    # Unix counts Sunday as 0 (or 7); AWS counts it as 1. Day names are the same on both.
    def convert(token: str) -> str:
        return _DOW_NAMES[int(token)] if token.isdigit() else token

    parts = []
    for item in expr.split(","):
        base, _, step = item.partition("/")
        rng = "-".join(convert(t) for t in base.split("-")) if base != "*" else base
        parts.append(rng + (f"/{step}" if step else ""))
    return ",".join(parts)


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule string; raise ScheduleError with a message an app team can act on."""
    value = " ".join(str(text).strip().split())
    match = _EVERY.match(value.lower())
    if match:
        n = int(match.group(1))
        unit = _UNITS.get(match.group(2), match.group(2))
        if n < 1:
            raise ScheduleError("'every 0 ...' never runs; use every 1 or more")
        return Schedule(every=n, unit=unit)
    parts = value.split(" ")
    if value.lower().startswith(("rate(", "cron(")):
        raise ScheduleError(
            f"{value!r} is AWS syntax; write 'every N minutes|hours|days' or a 5-field cron like '0 3 * * *'"
        )
    if len(parts) != 5:
        raise ScheduleError(
            f"{value!r} is neither 'every N minutes|hours|days' nor a 5-field cron "
            f"(minute hour day-of-month month day-of-week), found {len(parts)} fields"
        )
    for part, (label, low, high) in zip(parts, _FIELD_RANGES):
        _check_cron_field(part.upper(), label, low, high)
    return Schedule(fields=tuple(p.upper() for p in parts))  # type: ignore[arg-type]


def _check_cron_field(field: str, label: str, low: int, high: int) -> None:
    names = _NAMED.get(label, {})
    for item in field.split(","):
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            raise ScheduleError(f"cron {label} step {step!r} must be a positive number")
        if base == "*":
            continue
        for token in base.split("-"):
            if token in names:
                continue
            if not token.isdigit():
                raise ScheduleError(f"cron {label} value {token!r} is not a number in {low}-{high}")
            if not low <= int(token) <= high:
                raise ScheduleError(f"cron {label} value {token} is outside {low}-{high}")
