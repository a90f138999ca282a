"""The local scheduler's cron and rate arithmetic (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from omnicloud.dev.scheduler import Cron, next_due
from spec import parse_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def next_of(expr: str, after: str) -> datetime:
    return Cron(parse_schedule(expr).fields).next_after(at(after))


def test_daily_cron_runs_next_day_once_past():
    assert next_of("0 3 * * *", "2030-01-01T02:59:30") == at("2030-01-01T03:00:00")
    assert next_of("0 3 * * *", "2030-01-01T03:00:00") == at("2030-01-02T03:00:00")


def test_steps_lists_and_ranges():
    assert next_of("*/15 * * * *", "2030-01-01T10:16:00") == at("2030-01-01T10:30:00")
    assert next_of("5,50 9-17 * * *", "2030-01-01T17:51:00") == at("2030-01-02T09:05:00")


def test_day_of_week_names_and_sunday_as_seven():
    # 2030-01-01 is a Tuesday.
    assert next_of("0 0 * * MON", "2030-01-01T00:00:00") == at("2030-01-07T00:00:00")
    assert next_of("0 0 * * 7", "2030-01-01T00:00:00") == at("2030-01-06T00:00:00")


def test_month_and_day_of_month():
    assert next_of("0 12 29 2 *", "2030-03-01T00:00:00") == at("2032-02-29T12:00:00")  # next leap day


def test_restricted_day_of_month_and_week_match_either():
    # Vixie cron: the 15th, or any Friday (2030-01-04 is the first Friday).
    assert next_of("0 0 15 * FRI", "2030-01-01T00:00:00") == at("2030-01-04T00:00:00")


def test_rates_are_periods():
    assert next_due(parse_schedule("every 5 minutes"), 1000.0) == 1300.0
    assert next_due(parse_schedule("every 2 hours"), 0.0) == 7200.0
