"""Schedule parsing and its translation to EventBridge Scheduler, NCRONTAB and Cloud Scheduler."""

from __future__ import annotations

import pytest

from spec.schedule import ScheduleError, parse_schedule


@pytest.mark.parametrize(
    ("text", "aws", "azure", "gcp", "seconds"),
    [
        ("every 5 minutes", "rate(5 minutes)", "0 */5 * * * *", "*/5 * * * *", 300),
        ("every 5 minute", "rate(5 minutes)", "0 */5 * * * *", "*/5 * * * *", 300),
        ("every 1 minutes", "rate(1 minute)", "0 * * * * *", "* * * * *", 60),
        ("every minute", "rate(1 minute)", "0 * * * * *", "* * * * *", 60),
        ("every 60 minutes", "rate(60 minutes)", "0 0 * * * *", "0 * * * *", 3600),
        ("every 120 minutes", "rate(120 minutes)", "0 0 */2 * * *", "0 */2 * * *", 7200),
        ("every 1 hour", "rate(1 hour)", "0 0 * * * *", "0 * * * *", 3600),
        ("every 6 hours", "rate(6 hours)", "0 0 */6 * * *", "0 */6 * * *", 21600),
        ("Every  2  Days", "rate(2 days)", None, None, 172800),
        ("every 1 day", "rate(1 day)", "0 0 0 * * *", "0 0 * * *", 86400),
        ("every 90 minutes", "rate(90 minutes)", None, None, 5400),
    ],
)
def test_rates(text, aws, azure, gcp, seconds):
    schedule = parse_schedule(text)
    assert schedule.for_aws() == aws
    assert schedule.interval_seconds() == seconds
    for translate, expected in ((schedule.for_azure, azure), (schedule.for_gcp, gcp)):
        if expected is None:
            with pytest.raises(ScheduleError, match="cannot be written as cron"):
                translate()
        else:
            assert translate() == expected


def test_rate_not_expressible_names_nearest_alternatives():
    with pytest.raises(ScheduleError) as info:
        parse_schedule("every 90 minutes").as_unix_cron()
    assert "nearest: 'every 1 hour' or 'every 2 hours'" in str(info.value)
    with pytest.raises(ScheduleError) as info:
        parse_schedule("every 7 minutes").for_gcp()
    assert "nearest: 'every 6 minutes' or 'every 10 minutes'" in str(info.value)


@pytest.mark.parametrize(
    ("cron", "aws", "azure"),
    [
        ("0 3 * * *", "cron(0 3 * * ? *)", "0 0 3 * * *"),
        ("*/15 * * * *", "cron(0/15 * * * ? *)", "0 */15 * * * *"),
        ("30 9 * * 1-5", "cron(30 9 ? * MON-FRI *)", "0 30 9 * * 1-5"),
        ("30 9 * * mon-fri", "cron(30 9 ? * MON-FRI *)", "0 30 9 * * 1-5"),
        ("0 0 * * 0", "cron(0 0 ? * SUN *)", "0 0 0 * * 0"),
        ("0 0 * * 7", "cron(0 0 ? * SUN *)", "0 0 0 * * 0"),
        ("0 0 * * 5-7", "cron(0 0 ? * SUN,FRI-SAT *)", "0 0 0 * * 0,5-6"),
        ("0 12 * * */2", "cron(0 12 ? * SUN,TUE,THU,SAT *)", "0 0 12 * * 0,2,4,6"),
        ("0 6 1 * *", "cron(0 6 1 * ? *)", "0 0 6 1 * *"),
        ("0 6 1 JAN,JUL *", "cron(0 6 1 JAN,JUL ? *)", "0 0 6 1 JAN,JUL *"),
        ("0 */4 */2 * *", "cron(0 0/4 1/2 * ? *)", "0 0 */4 */2 * *"),
    ],
)
def test_cron_translation(cron, aws, azure):
    schedule = parse_schedule(cron)
    assert schedule.for_aws() == aws
    assert schedule.for_azure() == azure
    assert schedule.for_gcp() == cron.upper()
    assert schedule.interval_seconds() is None


def test_aws_cannot_restrict_both_days():
    with pytest.raises(ScheduleError, match=r"both day-of-month \(1\) and day-of-week \(MON\)"):
        parse_schedule("0 9 1 * MON").for_aws()
    assert parse_schedule("0 9 1 * MON").for_gcp() == "0 9 1 * MON"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every 0 minutes", "never runs"),
        ("every 5 mins", "write 'every 5 minutes'"),
        ("every 2 weeks", "write 'every 14 days'"),
        ("every 30 seconds", "more often than once a minute"),
        ("rate(5 minutes)", "AWS syntax; write 'every 5 minutes'"),
        ("cron(0 3 ? * MON *)", "AWS syntax; write '0 3 * * MON'"),
        ("0 0 3 * * *", "drop the seconds field: '0 3 * * *'"),
        ("0 3 * * ? *", "drop the year field: '0 3 * * *'"),
        ("0 3 * *", "it has 4 fields"),
        ("60 * * * *", "minute value 60 is outside 0-59"),
        ("0 0 0 * *", "day-of-month value 0 is outside 1-31"),
        ("0 0 * 13 *", "month value 13 is outside 1-12"),
        ("0 0 * * 8", "day-of-week value 8 is outside 0-7"),
        ("0 0 * * FUN", "value 'FUN' is not a number in 0-7 or SUN-SAT"),
        ("0 3 ? * *", "'?' in the day-of-month field is AWS syntax"),
        ("0 0 L * *", "'L' in the day-of-month field is not portable"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("0 17-9 * * *", "range 17-9 runs backwards"),
        ("@daily", "write the cron itself: '0 0 * * *'"),
        ("", "is empty"),
    ],
)
def test_bad_schedules_say_what_to_write(text, message):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    assert message in str(info.value)


def test_describe_round_trips():
    assert parse_schedule("every 1 hours").describe() == "every 1 hour"
    assert parse_schedule("every 5 minutes").describe() == "every 5 minutes"
    assert parse_schedule("0 3 * * mon").describe() == "0 3 * * MON"
