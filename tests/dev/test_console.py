"""The local console's API and its sign-in, against a real `omnicloud dev` (the basic test app).

What a browser does is in tests/browser/; here each route's answer and each defence is checked
over plain HTTP."""

from __future__ import annotations

import http.client
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
from typing import Any

import pytest

from runtime.backends.local import Store

from .conftest import APPS, ROOT, DevProcess, clean_env, free_port, sign_in_link, wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> DevProcess:
    tmp = tmp_path_factory.mktemp("console")
    shutil.copytree(APPS / "basic", tmp / "app", ignore=shutil.ignore_patterns("__pycache__"))
    process = DevProcess(tmp / "app" / "app.yaml", tmp / "state").start()
    yield process
    process.stop()


def raw(
    server: DevProcess,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes, list[str]]:
    """One request, no redirect followed: (status, headers, body, every Set-Cookie)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    conn.request(
        method, path, body=data, headers={"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    )
    response = conn.getresponse()
    payload = response.read()
    cookies = response.headers.get_all("set-cookie") or []
    out = (response.status, {k.lower(): v for k, v in response.getheaders()}, payload, cookies)
    conn.close()
    return out


@pytest.fixture(scope="module")
def browser(server):
    """A signed-in browser session: the cookie the one-time link set, and the console's CSRF value."""
    link = sign_in_link(server.state)
    status, headers, _, cookies = raw(server, "GET", link.split(str(server.port), 1)[1])
    assert status == 303 and headers["location"] == "/_omnicloud/console/"
    cookie = cookies[0].split(";", 1)[0]
    status, _, body, _ = raw(server, "GET", "/_omnicloud/api/session", headers={"Cookie": cookie})
    assert status == 200
    return {"cookie": cookie, "csrf": json.loads(body)["csrf"]}


def call(
    server, browser, method: str, path: str, body: Any = None, **extra: str
) -> tuple[int, Any]:
    headers = {
        "Cookie": browser["cookie"],
        "Origin": f"http://127.0.0.1:{server.port}",
        "X-Omnicloud-Csrf": browser["csrf"],
        "Sec-Fetch-Site": "same-origin",
    }
    headers.update(extra)
    status, _, payload, _ = raw(
        server, method, "/_omnicloud/api/" + path, body, {k: v for k, v in headers.items() if v}
    )
    return status, json.loads(payload) if payload else None


# -- signing in ------------------------------------------------------------------------------


def test_a_sign_in_link_sets_an_httponly_strict_cookie_and_works_once(server):
    link = sign_in_link(server.state)
    assert link.startswith(f"http://127.0.0.1:{server.port}/_omnicloud/login?ticket=")
    assert server.local_token() not in link  # a ticket, not the token
    path = link.split(str(server.port), 1)[1]
    status, headers, _, [cookie] = raw(server, "GET", path)
    assert status == 303 and headers["location"] == "/_omnicloud/console/"
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path"} <= attributes and "SameSite=Strict" in cookie
    assert "Path=/_omnicloud" in cookie
    again = raw(server, "GET", path)
    assert again[0] == 401 and "used already" in json.loads(again[2])["error"]["message"]
    assert raw(server, "GET", "/_omnicloud/login?ticket=1.2.3")[0] == 401
    forged = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    assert raw(server, "GET", forged)[0] == 401


def test_the_console_and_its_api_need_the_cookie_or_the_token(server, browser):
    for path in ("/_omnicloud/console/", "/_omnicloud/api/overview", "/_omnicloud/api/queues"):
        assert raw(server, "GET", path)[0] == 401
        assert raw(server, "GET", path, headers={"Cookie": "omnicloud_console_1=nope"})[0] == 401
        assert raw(server, "GET", path, headers={"Cookie": browser["cookie"]})[0] == 200
        assert (
            raw(server, "GET", path, headers={"Authorization": f"Bearer {server.local_token()}"})[0]
            == 200
        )


def test_a_foreign_host_is_refused_even_with_the_cookie_or_a_ticket(server, browser):
    for path in ("/_omnicloud/api/overview", "/_omnicloud/login?ticket=x"):
        status, _, body, _ = raw(
            server, "GET", path, headers={"Cookie": browser["cookie"], "Host": "evil.example"}
        )
        assert status == 403 and json.loads(body)["error"]["code"] == "forbidden"


def test_changes_made_with_the_cookie_need_the_csrf_header_and_the_same_origin(server, browser):
    body = {"body": {"id": "csrf-check"}}
    assert (
        call(server, browser, "POST", "queues/jobs/send", body, **{"X-Omnicloud-Csrf": ""})[0]
        == 403
    )
    assert (
        call(server, browser, "POST", "queues/jobs/send", body, **{"X-Omnicloud-Csrf": "wrong"})[0]
        == 403
    )
    assert (
        call(server, browser, "POST", "queues/jobs/send", body, Origin="http://localhost:3000")[0]
        == 403
    )
    assert (
        call(server, browser, "POST", "queues/jobs/send", body, **{"Sec-Fetch-Site": "same-site"})[
            0
        ]
        == 403
    )
    status, answer = call(server, browser, "POST", "queues/jobs/send", body)
    assert status == 200 and answer["queue"] == "jobs"
    # curl and scripts use the token, which a browser never sends by itself: no CSRF header needed.
    status, _, _, _ = raw(
        server,
        "POST",
        "/_omnicloud/api/queues/jobs/send",
        body,
        {"Authorization": f"Bearer {server.local_token()}"},
    )
    assert status == 200


def test_console_pages_have_a_strict_policy_and_cannot_be_framed(server, browser):
    for name in ("", "console.js", "console.css"):
        status, headers, body, _ = raw(
            server, "GET", f"/_omnicloud/console/{name}", headers={"Cookie": browser["cookie"]}
        )
        assert status == 200 and body
        csp = headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "frame-ancestors 'none'" in csp
            and "unsafe-inline" not in csp
        )
        assert "require-trusted-types-for 'script'" in csp
        assert (
            headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        )
    assert (
        raw(
            server, "GET", "/_omnicloud/console/../dev-token", headers={"Cookie": browser["cookie"]}
        )[0]
        == 404
    )
    page = raw(server, "GET", "/_omnicloud/console/", headers={"Cookie": browser["cookie"]})[
        2
    ].decode()
    assert (
        "<script>" not in page and " style=" not in page and "http" not in page.split("<body>")[1]
    )


def test_the_banner_writes_no_sign_in_link_into_a_log(server):
    output = server.output()
    assert "omnicloud console --state" in output and "ticket=" not in output


def test_the_sign_in_command_says_in_one_line_when_no_server_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "omnicloud", "console", "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no omnicloud dev is running on state dir" in proc.stderr


# -- what it shows and does ------------------------------------------------------------------


def test_overview_is_the_app_graph_with_live_counts(server, browser):
    status, data = call(server, browser, "GET", "overview")
    assert status == 200 and data["app"] == "devtest"
    functions = {f["name"]: f for f in data["functions"]}
    assert functions["worker"]["trigger"] == {"kind": "queue", "source": "jobs", "batch_size": 2}
    assert functions["audit"]["trigger"]["filter"] == {"type": ["order.created", "order.paid"]}
    assert functions["api"]["links"] == {
        "items": ["read", "write"],
        "jobs": ["send"],
        "events": ["publish"],
        "greeting": ["read"],
    }
    kinds = {(r["kind"], r["name"]) for r in data["resources"]}
    assert {
        ("queue", "jobs"),
        ("topic", "events"),
        ("table", "items"),
        ("secret", "greeting"),
    } <= kinds
    before = next(r for r in data["resources"] if r["name"] == "items")["count"]
    server.request("POST", "/jobs", {"id": "overview-1"})
    wait_until(
        lambda: (
            next(
                r
                for r in call(server, browser, "GET", "overview")[1]["resources"]
                if r["name"] == "items"
            )["count"]
            > before
        ),
        what="the item count to go up",
    )

    def worker_invocations() -> int:
        worker = next(
            f
            for f in call(server, browser, "GET", "overview")[1]["functions"]
            if f["name"] == "worker"
        )
        return (worker["totals"] or {}).get("invocations", 0)

    wait_until(worker_invocations, what="the worker's invocation count")


def test_a_dead_lettered_message_is_found_read_and_redriven_and_then_succeeds(server, browser):
    server.request(
        "POST", "/jobs", {"id": "dlq-1", "fail_first": 3}
    )  # 3 deliveries (max_retries 2), then DLQ
    jobs = wait_until(
        lambda: next(
            (
                q
                for q in call(server, browser, "GET", "queues")[1]["queues"]
                if q["name"] == "jobs" and q["dead_letters"] >= 1
            ),
            None,
        ),
        what="a dead letter",
    )
    assert jobs["consumer"] == "worker" and jobs["kind"] == "queue"
    status, page = call(server, browser, "GET", "queues/jobs/messages?dlq=1")
    assert status == 200 and page["queue"] == "jobs-dlq"
    [dead] = [m for m in page["items"] if m["json"].get("id") == "dlq-1"]
    status, message = call(server, browser, "GET", f"queues/jobs/messages/{dead['id']}?dlq=1")
    assert (
        status == 200
        and message["attempts"] == 3
        and message["json"] == {"id": "dlq-1", "fail_first": 3}
    )
    assert "fails delivery 3 of the first 3" in message["last_error"]
    status, answer = call(
        server, browser, "POST", "queues/jobs/redrive", {"message_id": dead["id"]}
    )
    assert status == 200 and answer == {"redriven": 1, "queue": "jobs"}
    done = wait_until(
        lambda: [i for i in server.items("done") if i["sk"] == "dlq-1"], what="the redriven job"
    )
    assert done[0]["attempt"] == 1  # delivered afresh
    assert call(server, browser, "GET", f"queues/jobs/messages/{dead['id']}?dlq=1")[0] == 404
    assert call(server, browser, "POST", "queues/jobs/redrive", {"message_id": "missing"})[0] == 404
    assert call(server, browser, "POST", "queues/nope/redrive", {"all": True})[0] == 404


def test_redrive_all_and_purge(server, browser):
    for n in range(3):
        server.request("POST", "/jobs", {"id": f"bulk-{n}", "fail": True})
    wait_until(
        lambda: call(server, browser, "GET", "queues/jobs/messages?dlq=1")[1]["total"] >= 3,
        what="3 dead letters",
    )
    status, answer = call(server, browser, "POST", "queues/jobs/purge", {"dlq": True})
    assert status == 200 and answer["purged"] >= 3 and answer["queue"] == "jobs-dlq"
    assert call(server, browser, "GET", "queues/jobs/messages?dlq=1")[1]["total"] == 0


def test_invocations_show_status_duration_trigger_ids_error_traceback_and_log_lines(
    server, browser
):
    server.request("POST", "/jobs", {"id": "trace-1", "fail": True})
    failed = wait_until(
        lambda: [
            i
            for i in call(server, browser, "GET", "invocations?function=worker&outcome=error")[1][
                "items"
            ]
            if i["details"].get("message_id") and i["error"] and "trace-1" in i["error"]
        ],
        what="the failed invocation",
    )[0]
    assert (
        failed["trigger"] == "queue" and failed["outcome"] == "error" and failed["duration_ms"] >= 0
    )
    assert len(failed["correlation_id"]) == 32 and failed["lines"] >= 1
    status, full = call(server, browser, "GET", f"invocations/{failed['seq']}")
    assert status == 200
    assert "Traceback" in full["traceback"] and "job trace-1 asked to fail" in full["traceback"]
    assert any(
        line["message"].startswith("working on job trace-1") and line["logger"] == "devtest.worker"
        for line in full["lines"]
    )
    newer = call(server, browser, "GET", f"invocations?after={failed['seq']}")[1]
    assert all(i["seq"] > failed["seq"] for i in newer["items"])
    older = call(server, browser, "GET", f"invocations?before={failed['seq']}&limit=5")[1]
    assert len(older["items"]) <= 5 and all(i["seq"] < failed["seq"] for i in older["items"])
    assert call(server, browser, "GET", "invocations?limit=0")[0] == 400
    assert call(server, browser, "GET", "invocations/999999999")[0] == 404


def test_invoke_a_function_with_an_event(server, browser):
    status, result = call(
        server,
        browser,
        "POST",
        "functions/api/invoke",
        {"event": {"method": "GET", "path": "/whoami"}},
    )
    assert status == 200 and result["outcome"] == "ok" and result["response"]["status"] == 200
    assert json.loads(result["response"]["body"])["served_by"] == "api"
    status, result = call(
        server,
        browser,
        "POST",
        "functions/worker/invoke",
        {"event": {"body": {"id": "inv-1", "fail": True}}},
    )
    assert (
        status == 200 and result["outcome"] == "error" and "inv-1 asked to fail" in result["error"]
    )
    status, problem = call(
        server, browser, "POST", "functions/worker/invoke", {"event": {"nobody": 1}}
    )
    assert status == 400 and "unknown key 'nobody'" in problem["error"]["message"]


def test_publish_says_which_subscriptions_the_filter_lets_through(server, browser):
    def delivered(event_type: str) -> dict[str, bool]:
        body = {"body": {"n": 1}, "attributes": {"type": event_type}}
        status, answer = call(server, browser, "POST", "topics/events/publish", body)
        assert status == 200 and answer["attributes"] == {"type": event_type}
        return {s["subscriber"]: s["delivered"] for s in answer["subscriptions"]}

    assert delivered("order.shipped") == {"audit": False, "firehose": True}
    assert delivered("order.paid") == {"audit": True, "firehose": True}
    bad = {"body": 1, "attributes": []}
    assert call(server, browser, "POST", "topics/events/publish", bad)[0] == 400


def test_tables_are_browsed_by_partition_and_sort_key_prefix_in_pages(server, browser):
    store = Store.at(server.state)
    for n in range(120):
        store.table_put(
            "items", "browse", f"row#{n:04d}", {"pk": "browse", "sk": f"row#{n:04d}", "n": n}
        )
    for n in range(60):
        store.table_put("items", f"part-{n:03d}", "x", {"pk": f"part-{n:03d}", "sk": "x"})
    status, first = call(server, browser, "GET", "tables/items/partitions?prefix=part-")
    assert (
        status == 200
        and first["items"] == [f"part-{n:03d}" for n in range(50)]
        and first["next"] == "part-049"
    )
    second = call(
        server, browser, "GET", f"tables/items/partitions?prefix=part-&after={first['next']}"
    )[1]
    assert second["items"] == [f"part-{n:03d}" for n in range(50, 60)] and second["next"] is None
    page = call(server, browser, "GET", "tables/items/items?pk=browse&prefix=row%23&limit=50")[1]
    assert [i["n"] for i in page["items"]] == list(range(50)) and page["cursor"]
    page2 = call(
        server,
        browser,
        "GET",
        f"tables/items/items?pk=browse&prefix=row%23&limit=50&cursor={page['cursor']}",
    )[1]
    assert [i["n"] for i in page2["items"]] == list(range(50, 100))
    narrow = call(server, browser, "GET", "tables/items/items?pk=browse&prefix=row%230011")[1]
    assert [i["n"] for i in narrow["items"]] == [11] and narrow["cursor"] is None
    status, item = call(server, browser, "GET", "tables/items/item?pk=browse&sk=row%230007")
    assert status == 200 and item["n"] == 7
    assert call(server, browser, "GET", "tables/items/items?pk=browse&cursor=garbage")[0] == 400
    assert call(server, browser, "GET", "tables/nope/items?pk=x")[0] == 404


def test_schedules_run_now_and_show_the_last_run(app_copy, dev_server):
    # Real-time clock: `every 1 minutes` first fires a minute after start, so any run here is "run now".
    slow = dev_server(app_copy("basic"), env={"OMNICLOUD_DEV_TICK": "60"})
    token = {"Authorization": f"Bearer {slow.local_token()}"}
    status, [tick] = slow.request("GET", "/_omnicloud/api/schedules", headers=token)
    assert status == 200 and tick["function"] == "tick" and tick["schedule"] == "every 1 minutes"
    assert tick["last_run"] is None and tick["next_run"]
    status, answer = slow.request("POST", "/_omnicloud/api/schedules/tick/run", headers=token)
    assert status == 202 and answer["started"] is True
    last = wait_until(
        lambda: slow.request("GET", "/_omnicloud/api/schedules", headers=token)[1][0]["last_run"],
        what="the run",
    )
    assert last["outcome"] == "ok" and last["error"] is None
    assert len(slow.items("tick")) == 1  # it ran once, now
    status, [again] = slow.request("GET", "/_omnicloud/api/schedules", headers=token)
    assert again["next_run"] == tick["next_run"]  # running now does not move the schedule
    assert slow.request("POST", "/_omnicloud/api/schedules/api/run", headers=token)[0] == 404


def test_secrets_show_names_and_whether_set_never_values(server, browser):
    status, secrets = call(server, browser, "GET", "secrets")
    assert status == 200 and secrets == [
        {"name": "greeting", "env": "GREETING", "origin": "generated", "set": True}
    ]
    value = Store.at(server.state).generated_secret("greeting")
    for path in ("secrets", "overview"):
        assert value not in json.dumps(call(server, browser, "GET", path)[1])


def test_on_a_terminal_the_banner_prints_a_sign_in_link_that_works_once(app_copy, tmp_path):
    port = free_port()
    controller, terminal = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "omnicloud",
        "dev",
        "--no-reload",
        "--app",
        str(app_copy("basic")),
        "--port",
        str(port),
        "--state",
        str(tmp_path / "state"),
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""

    def console_line():
        nonlocal seen
        if select.select([controller], [], [], 0.1)[0]:
            seen += os.read(controller, 65536)
        return re.search(
            rb"^console: (http://127\.0\.0\.1:\d+/_omnicloud/login\?ticket=\S+) \(a one-time link",
            seen,
            re.M,
        )

    try:
        link = wait_until(console_line, 30, "the console line on the terminal").group(1).decode()
        path = link.split(str(port), 1)[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        first = conn.getresponse()
        first.read()
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        second = conn.getresponse()
        second.read()
        conn.close()
        assert (first.status, second.status) == (303, 401)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        os.close(controller)
