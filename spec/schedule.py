"""Parse `schedule:` (`every N minutes|hours|days` or a 5-field UTC cron) and translate it per cloud."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EVERY = re.compile(r"^every\s+(?:(\d+)\s+)?([a-z]+)$")
_UNITS = {
    "minute": "minutes", "minutes": "minutes", "hour": "hours", "hours": "hours", "day": "days", "days": "days",
}
_UNIT_TYPOS = {"min": "minutes", "mins": "minutes", "m": "minutes", "hr": "hours", "hrs": "hours", "h": "hours",
               "d": "days", "week": "days", "weeks": "days"}
_FIELD_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_NAMED = {
    "month": {m: i + 1 for i, m in enumerate(_MONTHS)},
    "day-of-week": {d: i for i, d in enumerate(_DOW_NAMES)},
}
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


class ScheduleError(ValueError):
    """A schedule that no cloud can run, or that one cloud cannot express."""


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _rate_text(minutes: int) -> str:
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            n = minutes // size
            return f"every {n} {unit}{'s' if n != 1 else ''}"
    raise AssertionError(minutes)


# Rates cron can express exactly, in minutes: divisors of an hour, divisors of a day, one day.
_CRON_RATES = sorted({*_divisors(60), *(60 * h for h in _divisors(24))})


def nearest_cron_rates(minutes: int) -> list[str]:
    """The cron-expressible rates just below and above `minutes`, as `every ...` text."""
    below = [r for r in _CRON_RATES if r < minutes]
    above = [r for r in _CRON_RATES if r > minutes]
    return [_rate_text(r) for r in ([below[-1]] if below else []) + ([above[0]] if above else [])]


@dataclass(frozen=True)
class Schedule:
    """A neutral schedule: either a rate (`every`, `unit`) or a cron (`fields`, always UTC)."""

    every: int | None = None
    unit: str | None = None  # minutes | hours | days
    fields: tuple[str, str, str, str, str] | None = None

    @property
    def is_rate(self) -> bool:
        return self.every is not None

    def _minutes(self) -> int:
        return self.every * {"minutes": 1, "hours": 60, "days": 1440}[self.unit]  # type: ignore[index,operator]

    def as_unix_cron(self) -> str:
        """Five-field cron; rates that cron cannot express exactly raise ScheduleError."""
        if self.fields:
            return " ".join(self.fields)
        minutes = self._minutes()
        if minutes == 1:
            return "* * * * *"
        if minutes < 60 and 60 % minutes == 0:
            return f"*/{minutes} * * * *"
        if minutes == 60:
            return "0 * * * *"
        if minutes == 1440:
            return "0 0 * * *"
        if minutes % 60 == 0 and 1440 % minutes == 0:
            return f"0 */{minutes // 60} * * *"
        nearest = " or ".join(repr(r) for r in nearest_cron_rates(minutes))
        hint = f"; nearest: {nearest}, or an explicit 5-field cron" if nearest else ""
        raise ScheduleError(
            f"{self.describe()!r} cannot be written as cron (minutes must divide an hour, hours must divide a day)"
            f"{hint}")

    def for_aws(self) -> str:
        """EventBridge Scheduler expression: rate(...) or 6-field cron(...) with `?` and day names."""
        if self.is_rate:
            unit = self.unit[:-1] if self.every == 1 else self.unit  # type: ignore[index]
            return f"rate({self.every} {unit})"
        minute, hour, dom, month, dow = self.fields  # type: ignore[misc]
        if dom != "*" and dow != "*":
            raise ScheduleError(
                f"cron cannot restrict both day-of-month ({dom}) and day-of-week ({dow});"
                f" keep one of them '*' (e.g. '{minute} {hour} {dom} {month} *') and check the other in the handler")
        minute, hour = _aws_step(minute, "0"), _aws_step(hour, "0")
        month = _aws_step(month, "1")
        if dow == "*":
            dom, dow = _aws_step(dom, "1"), "?"
        else:
            dom, dow = "?", _compress(_dow_set(dow), _DOW_NAMES)
        return f"cron({minute} {hour} {dom} {month} {dow} *)"

    def for_azure(self) -> str:
        """NCRONTAB with seconds, as the Azure Functions timer trigger takes it (UTC, day-of-week 0-6)."""
        minute, hour, dom, month, dow = self.as_unix_cron().split(" ")
        if dow != "*":
            dow = _compress(_dow_set(dow), None)
        return f"0 {minute} {hour} {dom} {month} {dow}"

    def for_gcp(self) -> str:
        """Unix cron, as Cloud Scheduler takes it (time zone set to UTC by the provider)."""
        return self.as_unix_cron()

    def describe(self) -> str:
        if self.is_rate:
            unit = self.unit[:-1] if self.every == 1 else self.unit  # type: ignore[index]
            return f"every {self.every} {unit}"
        return " ".join(self.fields or ())

    def interval_seconds(self) -> int | None:
        """For rates, the period in seconds (used by the local scheduler)."""
        if not self.is_rate:
            return None
        return self._minutes() * 60


def _aws_step(field: str, start: str) -> str:
    # EventBridge writes steps from a start value (0/5); `*/5` is the unix spelling.
    return re.sub(r"(^|,)\*/", rf"\g<1>{start}/", field)


def _dow_set(expr: str) -> list[int]:
    """Days of week (0 = Sunday .. 6) a unix day-of-week field selects."""
    days: set[int] = set()
    for item in expr.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            low, high = 0, 6
        else:
            ends = [_day_number(t) for t in base.split("-")]
            low, high = ends[0], ends[-1]
            if step and len(ends) == 1:
                high = 6
        span = list(range(low, high + 1)) if low <= high else list(range(low, 7)) + list(range(0, high + 1))
        days.update(d % 7 for d in span[:: int(step) if step else 1])
    return sorted(days)


def _day_number(token: str) -> int:
    return _NAMED["day-of-week"][token] if token in _NAMED["day-of-week"] else int(token)


def _compress(values: list[int], names: tuple[str, ...] | None) -> str:
    """0,1,2,5 -> '0-2,5' (or 'SUN-TUE,FRI' with names)."""
    label = (lambda v: names[v]) if names else str
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(label(r[0]) if len(r) == 1 else f"{label(r[0])}-{label(r[-1])}" for r in runs)


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule string; raise ScheduleError with a message an app team can act on."""
    value = " ".join(str(text).strip().split())
    lowered = value.lower()
    if not value:
        raise ScheduleError("is empty; write 'every N minutes|hours|days' or a 5-field cron like '0 3 * * *'")
    if lowered in _MACROS:
        raise ScheduleError(f"{value!r} is a crontab shortcut; write the cron itself: {_MACROS[lowered]!r}")
    aws = re.fullmatch(r"(rate|cron)\((.*)\)", lowered)
    if aws:
        if aws.group(1) == "rate":
            suggestion = f"'every {aws.group(2).strip()}'"
        else:
            parts = aws.group(2).split()[:5]
            suggestion = repr(" ".join("*" if p == "?" else p for p in parts).upper())
        raise ScheduleError(f"{value!r} is AWS syntax; write {suggestion} (every N minutes|hours|days, or 5-field UTC cron)")
    match = _EVERY.match(lowered)
    if match:
        count, word = match.group(1), match.group(2)
        n = int(count) if count is not None else 1
        if word in ("second", "seconds", "sec", "secs", "s"):
            raise ScheduleError(f"{value!r}: no cloud schedules more often than once a minute; use 'every 1 minute'")
        unit = _UNITS.get(word)
        if unit is None:
            guess = _UNIT_TYPOS.get(word)
            hint = f"; write 'every {n} {guess}'" if guess and not word.startswith("week") else ""
            if word.startswith("week"):
                hint = f"; write 'every {7 * n} days' or a weekly cron like '0 0 * * MON'"
            raise ScheduleError(f"unit {word!r} is not one of minutes, hours, days{hint}")
        if n < 1:
            raise ScheduleError(f"{value!r} never runs; use every 1 {unit[:-1]} or more")
        return Schedule(every=n, unit=unit)
    if lowered.startswith("every"):
        raise ScheduleError(f"{value!r} is not 'every N minutes|hours|days' (e.g. 'every 5 minutes')")
    parts = value.split(" ")
    if len(parts) == 6:
        hint = ""
        # AWS puts a year last and needs `?` in a day field; NCRONTAB puts seconds first.
        if "?" in parts or re.fullmatch(r"\d{4}", parts[5]):
            hint = f"; drop the year field: {' '.join('*' if p == '?' else p for p in parts[:5])!r}"
        elif parts[0] in ("0", "00"):
            hint = f"; drop the seconds field: {' '.join(parts[1:])!r}"
        raise ScheduleError(
            f"{value!r} has 6 fields; omnicloud takes a 5-field UTC cron"
            f" (minute hour day-of-month month day-of-week){hint}")
    if len(parts) != 5:
        raise ScheduleError(
            f"{value!r} is neither 'every N minutes|hours|days' nor a 5-field cron "
            f"(minute hour day-of-month month day-of-week); it has {len(parts)} field{'s' if len(parts) != 1 else ''}")
    parts = [p.upper() for p in parts]
    for part, (label, low, high) in zip(parts, _FIELD_RANGES, strict=True):
        _check_cron_field(part, label, low, high)
    return Schedule(fields=tuple(parts))  # type: ignore[arg-type]


def _check_cron_field(field: str, label: str, low: int, high: int) -> None:
    names = _NAMED.get(label, {})
    if "?" in field:
        raise ScheduleError(f"'?' in the {label} field is AWS syntax; use '*'")
    for char in "LW#":
        if char in field and not (names and any(n in field for n in names)):
            raise ScheduleError(f"{char!r} in the {label} field is not portable cron; list the values instead")
    for item in field.split(","):
        if not item:
            raise ScheduleError(f"cron {label} field {field!r} has an empty list item")
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            raise ScheduleError(f"cron {label} step {step!r} must be a positive number")
        if slash and int(step) > high:
            raise ScheduleError(f"cron {label} step {step} is larger than {high}")
        if base == "*":
            continue
        tokens = base.split("-")
        if len(tokens) > 2 or not all(tokens):
            raise ScheduleError(f"cron {label} value {base!r} is not a number, a range a-b, or *")
        numbers = []
        for token in tokens:
            if token in names:
                numbers.append(names[token])
                continue
            if not token.isdigit():
                known = f" or {next(iter(names))}-{list(names)[-1]}" if names else ""
                raise ScheduleError(f"cron {label} value {token!r} is not a number in {low}-{high}{known}")
            if not low <= int(token) <= high:
                raise ScheduleError(f"cron {label} value {token} is outside {low}-{high}")
            numbers.append(int(token))
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise ScheduleError(f"cron {label} range {base} runs backwards; write {numbers[1]}-{numbers[0]}")
