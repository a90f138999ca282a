"""The dashboard's routes: its files under /ui, and the API routes it reads (metrics, the delivery
log, step timings). Its other calls are the API's own routes, tested elsewhere; tenancy, the
OpenAPI document and the fuzzer cover these routes too, through the route table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from functions import tasks, ui
from functions.notifier import deliver

from .conftest import ROOT, Recorder, body, make_agent, new_tenant

STATIC = ROOT / "functions" / "static"


def test_the_dashboard_files_are_served_with_a_strict_policy(cloud):
    page = cloud.http("GET", "/ui/")
    assert page.status == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.body_bytes() == (STATIC / "index.html").read_bytes()
    for name, media in (
        ("app.js", "text/javascript"),
        ("charts.js", "text/javascript"),
        ("style.css", "text/css"),
    ):
        response = cloud.http("GET", f"/ui/{name}")
        assert response.status == 200 and response.headers["content-type"].startswith(media)
        assert response.body_bytes() == (STATIC / name).read_bytes()
    for response in (page, cloud.http("GET", "/ui/app.js")):
        csp = response.headers["content-security-policy"]
        assert (
            "default-src 'none'" in csp
            and "script-src 'self'" in csp
            and "frame-ancestors 'none'" in csp
        )
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "require-trusted-types-for 'script'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    redirect = cloud.http("GET", "/ui")
    assert redirect.status == 308 and redirect.headers["location"] == "ui/"
    for name in ("nope.js", "..", "ui.py", "%2e%2e"):
        assert cloud.http("GET", f"/ui/{name}").status == 404


def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere():
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="app.js">']
    assert (
        " style=" not in html
        and "<style" not in html
        and " on" not in re.sub(r"\bonly\b", "", html)
    )
    for name in ("index.html", "app.js", "charts.js", "style.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), (
            name
        )  # no CDN, works offline
        assert (
            "innerHTML" not in text and "localStorage" not in text and "sessionStorage" not in text
        ), name
        assert "document.cookie" not in text, name


def test_every_step_records_how_long_it_took(cloud, admin):
    agent = make_agent(cloud, admin)
    task = body(
        cloud.http(
            "POST", f"/agents/{agent['agent_id']}/execute", {"input": "calculate 2+3"}, token=admin
        )
    )
    assert task["status"] == "succeeded"
    steps = body(cloud.http("GET", f"/tasks/{task['task_id']}", token=admin))["steps"]
    assert [s["type"] for s in steps] == ["model", "tool", "model"]
    assert all(isinstance(s["duration_ms"], float) and s["duration_ms"] >= 0 for s in steps)


def test_a_slow_model_call_shows_in_its_steps_timing(cloud, admin):
    agent = make_agent(cloud, admin, model={"backend": "echo", "delay_seconds": 1}, tools=[])
    task = body(
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin)
    )
    [step] = body(cloud.http("GET", f"/tasks/{task['task_id']}", token=admin))["steps"]
    assert step["duration_ms"] >= 1000  # the echo model slept a second inside the call


def test_metrics_count_tasks_per_minute_with_percentiles_and_failure_rate(cloud, admin):
    good = make_agent(cloud, admin)
    bad = make_agent(cloud, admin, name="bad", model={"backend": "echo", "fail": "no"})
    for n in range(4):
        cloud.http(
            "POST",
            f"/agents/{good['agent_id']}/execute",
            {"input": f"calculate {n}+1"},
            token=admin,
        )
    cloud.http("POST", f"/agents/{good['agent_id']}/tasks", {"input": "still queued"}, token=admin)
    for _ in range(2):
        cloud.http("POST", f"/agents/{bad['agent_id']}/execute", {"input": "x"}, token=admin)
    response = cloud.http("GET", f"/agents/{good['agent_id']}/metrics?minutes=5", token=admin)
    assert response.status == 200
    m = body(response)
    assert m["minutes"] == 5 and len(m["series"]) == 5 and m["truncated"] is False
    totals = m["totals"]
    assert (totals["tasks"], totals["succeeded"], totals["failed"], totals["unfinished"]) == (
        5,
        4,
        0,
        1,
    )
    assert totals["failure_rate"] == 0 and totals["tasks_per_minute"] == 1.0
    assert 0 <= totals["p50_ms"] <= totals["p95_ms"]
    assert sum(point["tasks"] for point in m["series"]) == 5 and m["series"][-1]["tasks"] >= 1
    failing = body(cloud.http("GET", f"/agents/{bad['agent_id']}/metrics", token=admin))
    assert (
        failing["minutes"] == 60
        and failing["totals"]["failed"] == 2
        and failing["totals"]["failure_rate"] == 1.0
    )
    assert (
        cloud.http("GET", f"/agents/{good['agent_id']}/metrics?minutes=0", token=admin).status
        == 400
    )
    assert (
        cloud.http("GET", f"/agents/{good['agent_id']}/metrics?minutes=1441", token=admin).status
        == 400
    )


def test_metrics_bucket_by_minute_of_submission_and_percentiles_are_nearest_rank(cloud, admin):
    agent = make_agent(cloud, admin)
    now = time.time()
    start = (int(now) // 60 - 2) * 60
    with cloud.as_function("api"):
        table = tasks.tasks_table()
        from functions import store

        for n, (offset, status, run_ms) in enumerate(
            [
                (5, "succeeded", 100.0),
                (10, "succeeded", 300.0),
                (65, "failed", 50.0),
                (70, "timed_out", 900.0),
                (125, "succeeded", 200.0),
            ]
        ):
            table.put(
                {
                    "pk": store.agent_pk(cloud.tenant, agent["agent_id"]),
                    "sk": f"TASK#{store.iso(start + offset)}#t{n}",
                    "task_id": f"t{n}",
                    "status": status,
                    "run_ms": run_ms,
                    "expires_at": int(now) + 3600,
                }
            )
        m = tasks.metrics(cloud.tenant, agent["agent_id"], 3, now=now)
    assert [p["tasks"] for p in m["series"]] == [2, 2, 1]
    assert [p["failure_rate"] for p in m["series"]] == [0.0, 1.0, 0.0]
    assert [(p["p50_ms"], p["p95_ms"]) for p in m["series"]] == [
        (100.0, 300.0),
        (50.0, 900.0),
        (200.0, 200.0),
    ]
    assert (
        m["totals"]["p50_ms"] == 200.0
        and m["totals"]["p95_ms"] == 900.0
        and m["totals"]["failure_rate"] == 0.4
    )


def test_the_delivery_log_lists_every_attempt_newest_first(cloud, admin):
    flaky = Recorder(statuses=[500])
    try:
        agent = make_agent(cloud, admin)
        hook = body(
            cloud.http(
                "POST",
                f"/agents/{agent['agent_id']}/webhooks",
                {"url": flaky.url + "?token=hidden", "events": ["task.succeeded"]},
                token=admin,
            )
        )
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "ping"}, token=admin)
        event = next(
            m for m in cloud.messages("events~notifier") if m.attributes["type"] == "task.succeeded"
        )
        event.delivery_attempt = 1
        with cloud.as_function("notifier"), pytest.raises(RuntimeError):
            deliver(event)
        event.delivery_attempt = 2
        with cloud.as_function("notifier"):
            deliver(event)
        page = body(cloud.http("GET", f"/agents/{agent['agent_id']}/deliveries", token=admin))
        first, second = page["items"][1], page["items"][0]  # newest first
        assert (first["ok"], first["status"], first["attempt"]) == (False, None, 1)
        assert "answered 500" in first["error"]
        assert (second["ok"], second["status"], second["attempt"], second["error"]) == (
            True,
            200,
            2,
            None,
        )
        for item in (first, second):
            assert (
                item["webhook_id"] == hook["webhook_id"] and item["event_type"] == "task.succeeded"
            )
            assert item["url"] == flaky.url and "hidden" not in json.dumps(item)
        one = body(
            cloud.http("GET", f"/agents/{agent['agent_id']}/deliveries?limit=1", token=admin)
        )
        assert len(one["items"]) == 1 and one["next_cursor"]
    finally:
        flaky.close()


def test_another_tenant_sees_no_metrics_or_deliveries(cloud, admin):
    agent = make_agent(cloud, admin)
    _, other = new_tenant(cloud, admin)
    for route in ("metrics", "deliveries"):
        response = cloud.http("GET", f"/agents/{agent['agent_id']}/{route}", token=other)
        assert response.status == 404 and body(response)["error"]["code"] == "agent_not_found"


def test_deleting_an_agent_deletes_its_delivery_log(cloud, admin, receiver):
    agent = make_agent(cloud, admin)
    cloud.http("POST", f"/agents/{agent['agent_id']}/webhooks", {"url": receiver.url}, token=admin)
    cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "ping"}, token=admin)
    with cloud.as_function("notifier"):
        for message in cloud.messages("events~notifier"):
            deliver(message)
    log_pk = f"TENANT#{cloud.tenant}#AGENT#{agent['agent_id']}"
    assert cloud.store.table_query("deliveries", log_pk, prefix="DELIVERY#").items
    assert cloud.http("DELETE", f"/agents/{agent['agent_id']}", token=admin).status == 204
    assert cloud.store.table_query("deliveries", log_pk).items == []
    assert cloud.store.table_query("tasks", log_pk).items == []


def test_the_api_does_not_import_the_dashboard_until_it_is_asked_for():
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from runtime import Request
        from functions.api import app
        loaded = ["functions.ui" in sys.modules]
        app(Request(method="GET", path="/health"))
        loaded.append("functions.ui" in sys.modules)
        app(Request(method="GET", path="/ui/"))
        loaded.append("functions.ui" in sys.modules)
        print(json.dumps(loaded))
    """)
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False, True]


def test_the_dashboard_module_lists_exactly_the_files_it_ships():
    assert sorted(ui.FILES) == sorted(p.name for p in Path(ui.STATIC).iterdir())
