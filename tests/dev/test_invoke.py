"""`omnicloud invoke FUNCTION --event FILE` on each trigger kind, against the local state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from omnicloud.cli import main
from runtime.backends.local import Store

from .conftest import APPS, ROOT, clean_env

APP = APPS / "basic" / "app.yaml"


@pytest.fixture
def invoke(tmp_path: Path):
    state = tmp_path / "state"

    def run(function: str, event: object, *extra: str, raw: str | None = None) -> subprocess.CompletedProcess:
        path = tmp_path / "event.json"
        path.write_text(raw if raw is not None else json.dumps(event))
        return subprocess.run(
            [sys.executable, "-m", "omnicloud", "invoke", function, "--event", str(path), "--app", str(APP),
             "--state", str(state), *extra],
            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)

    run.state = state  # type: ignore[attr-defined]
    run.event_path = tmp_path / "event.json"  # type: ignore[attr-defined]
    return run


def test_http_event_runs_with_the_functions_links(invoke):
    proc = invoke("admin", {"method": "GET", "path": "/admin/whoami"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["body"] == {"served_by": "admin", "route_path": "/whoami", "path": "/admin/whoami"}
    proc = invoke("admin", {"method": "POST", "path": "/admin/write", "body": {}})
    assert proc.returncode == 0
    result = json.loads(proc.stdout)
    assert result["status"] == 403 and "may not write table 'items'" in result["body"]["error"]["message"]


def test_http_json_body_reaches_the_handler_and_the_queue(invoke):
    proc = invoke("api", {"method": "POST", "path": "/jobs", "body": {"id": "via-invoke"}})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == 202
    [queued] = Store.at(invoke.state).peek("jobs")
    assert json.loads(queued.body) == {"id": "via-invoke"}


def test_queue_event_runs_the_consumer(invoke):
    proc = invoke("worker", {"body": {"id": "inv-1"}, "attributes": {"type": "test"}})
    assert proc.returncode == 0, proc.stderr
    done = Store.at(invoke.state).table_get("items", "done", "inv-1")
    assert done["source"] == "jobs"


def test_failing_handler_exits_non_zero(invoke):
    proc = invoke("worker", {"body": {"id": "inv-2", "fail": True}})
    assert proc.returncode == 1
    assert "omnicloud invoke: worker failed: RuntimeError: job inv-2 asked to fail" in proc.stderr


def test_topic_event_runs_the_subscriber(invoke):
    proc = invoke("audit", {"body": {"n": 1}, "attributes": {"type": "order.paid"}})
    assert proc.returncode == 0, proc.stderr
    [record] = Store.at(invoke.state).table_query("items", "audit").items
    assert record["type"] == "order.paid" and record["source"] == "events"


def invoke_in_process(tmp_path, monkeypatch, capsys, function: str, event: object, *extra: str):
    """`omnicloud invoke` in this process, for outcomes decided before any handler is imported."""
    monkeypatch.setattr("runtime.log._configured", True)  # keep the test process's logging as it is
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    code = main(["invoke", function, "--event", str(path), "--app", str(APP), "--state", str(tmp_path / "state"),
                 *extra])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_an_event_the_subscription_filter_drops_is_not_delivered(tmp_path, monkeypatch, capsys):
    code, out, err = invoke_in_process(tmp_path, monkeypatch, capsys, "audit",
                                       {"body": {"n": 1}, "attributes": {"type": "order.shipped"}})
    assert (code, err) == (0, [])
    assert out == ["audit: not delivered: its subscription's filter {\"type\": [\"order.created\", \"order.paid\"]}"
                   " does not match the event's attributes {\"type\": \"order.shipped\"} (--no-filter delivers it anyway)"]
    assert Store.at(tmp_path / "state").table_query("items", "audit").items == []


def test_no_filter_delivers_what_the_filter_would_drop(invoke):
    proc = invoke("audit", {"body": {"n": 2}, "attributes": {"type": "order.shipped"}}, "--no-filter")
    assert proc.returncode == 0, proc.stderr
    [record] = Store.at(invoke.state).table_query("items", "audit").items
    assert record["type"] == "order.shipped"


def test_no_filter_is_refused_for_a_function_without_a_topic_trigger(tmp_path, monkeypatch, capsys):
    code, out, err = invoke_in_process(tmp_path, monkeypatch, capsys, "worker", {"body": {"id": "x"}}, "--no-filter")
    assert (code, out) == (2, [])
    assert err == ["omnicloud invoke: --no-filter applies to topic subscribers; 'worker' has a queue trigger"]


def test_schedule_event_runs_the_function(invoke):
    proc = invoke("tick", {"time": "2030-01-01T03:00:00Z"})
    assert proc.returncode == 0, proc.stderr
    [record] = Store.at(invoke.state).table_query("items", "tick").items
    assert record["sk"].startswith("2030-01-01T03:00:00+00:00") and record["schedule"] == "every 1 minutes"


@pytest.mark.parametrize(("function", "raw", "expected"), [
    ("worker", '{"body": 1,', "event.json:1:12: not valid JSON"),
    ("worker", '{"bdy": 1}', "unknown key 'bdy' for a queue event; expected attributes, body"),
    ("worker", '{"attributes": {}}', "a queue event needs 'body'"),
    ("api", '[1, 2]', "an http event must be a JSON object, found list"),
    ("api", '{"path": "agents"}', "'path' must be a string starting with /"),
    ("tick", '{"time": "soon"}', "'time' must be an ISO-8601 time"),
])
def test_bad_event_file_is_one_clear_line(invoke, function, raw, expected):
    proc = invoke(function, None, raw=raw)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("omnicloud invoke: ") and expected in lines[0], proc.stderr


def test_unknown_function_and_missing_file(invoke, tmp_path):
    proc = invoke("nope", {})
    assert proc.returncode == 2 and "no function 'nope'" in proc.stderr and "worker" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "invoke", "tick", "--event", str(tmp_path / "missing.json"),
                           "--app", str(APP), "--state", str(tmp_path / "s")],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "missing.json: file not found" in proc.stderr


def test_help_documents_the_event_shapes():
    proc = subprocess.run([sys.executable, "-m", "omnicloud", "invoke", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for shape in ('"method"', '"attributes"', "schedule  {}"):
        assert shape in proc.stdout


def test_a_handler_bug_points_at_the_traceback_in_the_log_line(invoke):
    proc = invoke("worker", {"body": {"id": "inv-3", "fail": True}})
    assert proc.returncode == 1
    *log_lines, last = proc.stderr.strip().splitlines()
    assert last.endswith("(the log line above has the traceback)")
    failed = [json.loads(line) for line in log_lines if '"invocation error"' in line]
    assert failed and "Traceback" in failed[-1]["exception"]


def test_an_expected_error_does_not_claim_a_traceback(invoke):
    proc = invoke("worker", {"body": "this is not JSON"})  # message.json() raises BadRequest
    assert proc.returncode == 1
    *log_lines, last = proc.stderr.strip().splitlines()
    assert last.startswith("omnicloud invoke: worker failed: BadRequest: message ") and "not valid JSON" in last
    assert "traceback" not in last
    failed = [json.loads(line) for line in log_lines if '"invocation error"' in line]
    assert failed and "exception" not in failed[-1]
