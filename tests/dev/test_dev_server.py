"""`omnicloud dev` end to end: a real process serving tests/dev/apps/basic on a free port."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import APPS, ROOT, DevProcess, clean_env, free_port, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> DevProcess:
    """One server for the tests that only read or add their own uniquely named work."""
    state = tmp_path_factory.mktemp("dev") / "state"
    process = DevProcess(APPS / "basic" / "app.yaml", state).start()
    yield process
    assert process.stop(signal.SIGTERM) == 0


def generated_greeting(output: str) -> str:
    """The generated secret's value, from the file the banner names (its output is not a terminal)."""
    match = re.search(r"^secret greeting: generated for local use, value in (\S+) \(set GREETING to choose it\)$",
                      output, re.M)
    assert match, output
    path = Path(match.group(1))
    assert path.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return values["GREETING"]


def log_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_banner_lists_url_functions_and_triggers(server):
    out = server.output()
    assert f"http://127.0.0.1:{server.port}" in out
    for expected in ("admin     http", "worker    queue     jobs", "audit     topic     events", "tick      schedule  every 1 minutes"):
        assert expected in out


def test_http_routes_to_the_longest_prefix(server):
    assert server.request("GET", "/whoami") == (200, {
        "served_by": "api", "route_path": "/whoami", "path": "/whoami", "trigger": "http", "style": "plain",
        "links": ["OMNICLOUD_LINK_EVENTS", "OMNICLOUD_LINK_GREETING", "OMNICLOUD_LINK_ITEMS", "OMNICLOUD_LINK_JOBS"]})
    status, body = server.request("GET", "/admin/whoami")
    assert status == 200 and body == {"served_by": "admin", "route_path": "/whoami", "path": "/admin/whoami"}
    # /administrator is not under /admin: whole path segments only.
    status, body = server.request("GET", "/administrator/whoami")
    assert status == 404 and body["error"]["message"] == "no route for GET /administrator/whoami"
    assert any(line.get("function") == "admin" and line.get("path") == "/admin/whoami" and line.get("status") == 200
               for line in log_lines(server.output()))


def test_each_function_gets_only_its_own_links(server):
    status, body = server.request("POST", "/admin/write", {})
    assert status == 403 and "admin may not write table 'items' (granted: read)" in body["error"]["message"]
    status, body = server.request("POST", "/admin/send", {})
    assert status == 403 and "admin is not linked to queue 'jobs'" in body["error"]["message"]
    status, body = server.request("GET", "/forbidden")
    assert status == 403 and "api is not linked to table 'secret-stuff'" in body["error"]["message"]


def test_http_function_past_its_timeout_gets_504(server):
    status, body = server.request("GET", "/slow")
    assert status == 504
    assert body["error"]["message"] == "function slow did not answer within its timeout of 1s"


def test_secret_from_dotenv(dev_server, app_copy):
    app = app_copy("basic")
    (app.parent / ".env").write_text("GREETING=hello from .env\n")
    server = dev_server(app)
    assert server.request("GET", "/hello") == (200, {"greeting": "hello from .env"})
    assert "secret greeting: from .env (GREETING)" in server.output()


def test_generated_secret_is_kept_out_of_the_log_and_served(server):
    greeting = generated_greeting(server.output())
    assert server.request("GET", "/hello") == (200, {"greeting": greeting})
    assert greeting not in server.output()  # the log names the file, never the value


def test_queue_message_is_processed(server):
    assert server.request("POST", "/jobs", {"id": "ok-1"})[0] == 202
    done = wait_until(lambda: [i for i in server.items("done") if i["sk"] == "ok-1"], what="job ok-1 to be done")
    assert done[0]["source"] == "jobs" and done[0]["attempt"] == 1


def test_failing_message_is_dead_lettered_after_max_retries(server):
    assert server.request("POST", "/jobs", {"id": "bad-1", "fail": True})[0] == 202

    def dead_lettered():
        status, messages = server.request("GET", "/_omnicloud/queues/jobs-dlq")
        return [m for m in messages if json.loads(m["body"])["id"] == "bad-1"]

    [dead] = wait_until(dead_lettered, what="bad-1 in jobs-dlq")
    assert dead["last_error"] == "RuntimeError: job bad-1 asked to fail"
    attempts = [i for i in server.items("attempts") if i["sk"] == "bad-1"]
    assert attempts[0]["count"] == 3  # the first delivery + max_retries (2)


def test_topic_subscribers_get_only_what_their_filter_matches(server):
    for kind in ("order.shipped", "order.created", "order.paid"):
        assert server.request("POST", "/events", {"attributes": {"type": kind}})[0] == 202
    wait_until(lambda: len(server.items("firehose")) >= 3, what="the unfiltered subscriber")
    wait_until(lambda: len(server.items("audit")) >= 2, what="the filtered subscriber")
    assert sorted(i["type"] for i in server.items("audit")) == ["order.created", "order.paid"]
    assert sorted(i["type"] for i in server.items("firehose")) == ["order.created", "order.paid", "order.shipped"]
    # Fan-out happens at publish time, so a non-matching message was never queued for audit.
    assert server.request("GET", "/_omnicloud/queues/events~audit") == (200, [])


def test_a_failing_subscriber_is_retried_as_its_trigger_says_then_dead_lettered(server):
    assert server.request("POST", "/events", {"attributes": {"type": "order.lost", "fail": "yes"}})[0] == 202

    def dead_lettered():
        status, messages = server.request("GET", "/_omnicloud/queues/events~firehose-dlq")
        return [m for m in messages if m["attributes"].get("type") == "order.lost"]

    [dead] = wait_until(dead_lettered, what="the event in events~firehose-dlq")
    assert dead["last_error"] == f"RuntimeError: event {dead['id']} asked to fail"
    [attempts] = [i for i in server.items("firehose-attempts") if i["sk"] == dead["id"]]
    assert attempts["count"] == 2  # the first delivery + topic: {max_retries: 1}
    assert "firehose  topic     events (max_retries 1, then events~firehose-dlq)" in server.output()


def test_schedule_fires(server):
    ticks = wait_until(lambda: len(server.items("tick")) >= 2 and server.items("tick"), what="two schedule firings")
    assert {t["schedule"] for t in ticks} == {"every 1 minutes"}


# -- lifecycle -----------------------------------------------------------------------------------


def test_kill_9_mid_message_then_restart_loses_nothing(dev_server, tmp_path):
    state = tmp_path / "state"
    first = dev_server(APPS / "basic" / "app.yaml", state)
    assert first.request("POST", "/jobs", {"id": "crash-1", "stall_first": True})[0] == 202
    wait_until(lambda: [i for i in first.items("attempts") if i["sk"] == "crash-1"], what="the handler to start")
    first.proc.kill()
    first.proc.wait(10)
    assert first.proc.returncode == -signal.SIGKILL

    second = dev_server(APPS / "basic" / "app.yaml", state)  # the dead pid's lock is taken over
    done = wait_until(lambda: [i for i in second.items("done") if i["sk"] == "crash-1"], what="crash-1 to finish")
    assert len(done) == 1
    [attempts] = [i for i in second.items("attempts") if i["sk"] == "crash-1"]
    assert attempts["count"] == 2  # interrupted once, then finished
    assert "picked up messages left in flight by the previous run" in second.output()
    wait_until(lambda: second.request("GET", "/_omnicloud/queues")[1].get("jobs") is None, what="an empty queue")


def test_sigint_stops_cleanly_and_leaves_unfinished_work_queued(dev_server, tmp_path):
    state = tmp_path / "state"
    first = dev_server(APPS / "basic" / "app.yaml", state, env={"OMNICLOUD_DEV_GRACE": "0.5"})
    assert first.request("POST", "/jobs", {"id": "stop-1", "stall_first": True})[0] == 202
    wait_until(lambda: [i for i in first.items("attempts") if i["sk"] == "stop-1"], what="the handler to start")
    assert first.stop(signal.SIGINT) == 0
    assert "omnicloud dev: stopped" in first.output()

    second = dev_server(APPS / "basic" / "app.yaml", state)
    wait_until(lambda: [i for i in second.items("done") if i["sk"] == "stop-1"], what="stop-1 to finish after restart")


def test_reload_on_code_change_keeps_state(dev_server, app_copy):
    app = app_copy("basic")
    server = dev_server(app, reload=True)
    greeting = server.request("GET", "/hello")[1]["greeting"]
    assert server.request("GET", "/version")[0] == 404
    api = app.parent / "handlers" / "api.py"
    api.write_text(api.read_text() + '\n\n@app.get("/version")\ndef version(request):\n    return {"version": 2}\n')

    def reloaded():
        try:
            return server.request("GET", "/version", timeout=2) == (200, {"version": 2})
        except OSError:
            return False

    wait_until(reloaded, 20, "the server to reload the changed handler")
    assert server.proc.poll() is None
    assert "handlers/api.py changed; restarting" in server.output()
    assert server.request("GET", "/hello")[1]["greeting"] == greeting


def test_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "omnicloud", "dev", "--app", str(APPS / "basic" / "app.yaml"), "--port", str(port),
             "--state", str(tmp_path / "state"), "--no-reload"],
            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"omnicloud dev: port {port} on 127.0.0.1 is already in use; stop what is using it or pass --port N"]


def test_second_server_on_the_same_state_is_refused(dev_server, tmp_path):
    first = dev_server(APPS / "basic" / "app.yaml", tmp_path / "state")
    proc = subprocess.run(
        [sys.executable, "-m", "omnicloud", "dev", "--app", str(APPS / "basic" / "app.yaml"), "--port", str(free_port()),
         "--state", str(tmp_path / "state"), "--no-reload"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"is in use by another omnicloud dev (pid {first.proc.pid})" in proc.stderr


def test_broken_app_yaml_is_one_line_and_exit_2(tmp_path: Path):
    app = tmp_path / "app.yaml"
    app.write_text("name: broken\nfunctions:\n  api:\n    handler: handlers.api:app\n    http: /\n    memory: lots\n")
    proc = subprocess.run(
        [sys.executable, "-m", "omnicloud", "dev", "--app", str(app), "--port", str(free_port()),
         "--state", str(tmp_path / "state")],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{app}:6:") and "memory" in lines[0]
    assert proc.stdout == ""


def test_sigterm_exits_zero_with_stop_lines(dev_server, tmp_path):
    server = dev_server(APPS / "basic" / "app.yaml", tmp_path / "state")
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert server.output().rstrip().endswith("omnicloud dev: stopped")


def test_requests_the_gateway_refuses_before_any_function_still_get_a_json_error(server):
    # An unknown method and a broken request line never reach a function; the answer is JSON all the same.
    status, body = server.request("TRACE", "/whoami")
    assert status == 501 and body["error"]["code"] == "not_implemented" and "TRACE" in body["error"]["message"]

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"GARBAGE\r\n\r\n")
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: application/json" in head
    assert json.loads(payload)["error"]["code"] == "bad_request"
