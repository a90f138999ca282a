"""The per-cloud capability table: memory rounding, delivery counts, timeouts per trigger."""

from __future__ import annotations

import pytest

from spec.capabilities import CLOUDS, LIMITS, deliveries, round_memory, timeout_limit


@pytest.mark.parametrize(
    ("cloud", "asked", "given"),
    [
        ("aws", 128, 128), ("aws", 1000, 1000), ("aws", 10240, 10240),
        ("azure", 128, 512), ("azure", 512, 512), ("azure", 513, 2048), ("azure", 3000, 4096), ("azure", 9999, 4096),
        ("gcp", 128, 128), ("gcp", 300, 512), ("gcp", 1024, 1024), ("gcp", 5000, 8192),
    ],
)
def test_round_memory(cloud, asked, given):
    assert round_memory(cloud, asked) == given


@pytest.mark.parametrize(("cloud", "retries", "attempts"),
                         [("aws", 0, 1), ("aws", 3, 4), ("azure", 0, 1), ("azure", 9, 10),
                          ("gcp", 0, 5), ("gcp", 3, 5), ("gcp", 4, 5), ("gcp", 9, 10), ("gcp", 99, 100)])
def test_deliveries(cloud, retries, attempts):
    assert deliveries(cloud, retries) == attempts


def test_documented_limits():
    assert (LIMITS["aws"].memory_max, LIMITS["aws"].timeout_max, LIMITS["aws"].http_timeout_max) == (10240, 900, 30)
    assert LIMITS["azure"].memory_steps == (512, 2048, 4096)
    assert LIMITS["azure"].http_timeout_max == 230
    assert timeout_limit("gcp", "http")[0] == 3600
    assert timeout_limit("gcp", "queue")[0] == 600
    assert LIMITS["gcp"].filter_max_length == 256
    assert LIMITS["azure"].subscription_name_max == 50
    assert LIMITS["gcp"].min_deliveries == 5 and LIMITS["gcp"].max_retries_max == 99


def test_every_cloud_names_a_limit_for_every_trigger():
    for cloud in CLOUDS:
        for trigger in ("http", "queue", "topic", "schedule"):
            limit, why = timeout_limit(cloud, trigger)
            assert limit > 0 and why


def test_azure_warns_what_its_mapping_cannot_keep_ttl_and_batches(tmp_path):
    from spec import load_app_with_warnings

    (tmp_path / "h.py").write_text("def run(message):\n    return None\n")
    (tmp_path / "app.yaml").write_text(
        "name: shop\n"
        "functions:\n"
        "  work: {handler: h:run, queue: {name: jobs, batch_size: 5}}\n"
        "queues:\n  jobs: {}\n"
        "tables:\n  carts: {partition_key: pk, ttl: expires_at}\n")
    _, azure = load_app_with_warnings(tmp_path / "app.yaml", cloud="azure")
    _, aws = load_app_with_warnings(tmp_path / "app.yaml", cloud="aws")
    fields = {w.field for w in azure}
    assert {"functions.work.queue.batch_size", "tables.carts.ttl"} <= fields
    assert all(w.severity == "warning" for w in azure)
    assert not {"functions.work.queue.batch_size", "tables.carts.ttl"} & {w.field for w in aws}


def test_aws_warns_when_a_declared_visibility_timeout_is_under_six_function_timeouts(tmp_path):
    from spec import load_app_with_warnings

    (tmp_path / "h.py").write_text("def run(message):\n    return None\n")
    (tmp_path / "app.yaml").write_text(
        "name: shop\n"
        "functions:\n"
        "  work: {handler: h:run, queue: jobs, timeout: 300}\n"
        "  bulker: {handler: h:run, queue: bulk, timeout: 60}\n"
        "  rester: {handler: h:run, queue: rest, timeout: 60}\n"
        "queues:\n  jobs: {visibility_timeout: 360}\n  bulk: {visibility_timeout: 360}\n  rest: {}\n")
    app, aws = load_app_with_warnings(tmp_path / "app.yaml", cloud="aws")
    (warning,) = [w for w in aws if w.field.startswith("queues.")]
    assert (warning.field, warning.severity, warning.line) == ("queues.jobs.visibility_timeout", "warning", 7)
    assert "less than 6 x consumer 'work''s timeout 300s" in warning.message and "at least 1800s" in warning.message
    # 6 x 60 = 360 is enough; unset follows the advice by itself.
    assert app.visibility_timeout_of("bulk") == 360 and app.visibility_timeout_of("rest") == 360
    assert app.visibility_timeout_of("jobs") == 360  # declared values stay
    _, azure = load_app_with_warnings(tmp_path / "app.yaml", cloud="azure")
    assert not [w for w in azure if "6 x" in w.message]  # Lambda's advice, not Service Bus's


def test_the_sample_app_follows_the_six_timeouts_advice():
    from spec import load_app_with_warnings
    from tests.providers.contract import ROOT

    app, warnings = load_app_with_warnings(ROOT / "app.yaml", cloud="aws")
    assert app.visibility_timeout_of("task-queue") == 6 * app.functions["worker"].timeout
    assert not [w for w in warnings if "visibility_timeout" in w.field]
