"""The console's invocation history: built from the invocations' own log lines, bounded."""

from __future__ import annotations

import logging
import threading

import pytest

from omnicloud.dev.invocations import InvocationLog
from runtime import context
from runtime.adapters import base
from runtime.types import BadRequest, Message, Request

log = logging.getLogger("tests.invocations")
TARGET = "tests.dev.test_invocations"


def chatty(message: Message) -> None:
    for n in range(int(message.attributes.get("lines", "1"))):
        log.info("line %d of %s", n, message.id, extra={"fields": {"n": n}})
    if message.attributes.get("fail") == "bug":
        raise KeyError("missing")
    if message.attributes.get("fail") == "bad":
        raise BadRequest("not for me")


def page(request: Request):
    log.warning("serving %s", request.path)
    return {"ok": True}


@pytest.fixture
def history():
    recorder = InvocationLog(limit=5, lines=3, text=40)
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.INFO)
    root.addHandler(recorder)
    yield recorder
    root.removeHandler(recorder)
    root.setLevel(saved)


def message(n: int, **attributes: str) -> Message:
    return Message(id=f"m{n}", body=b"{}", attributes=attributes, delivery_attempt=2)


def test_each_invocation_keeps_its_outcome_ids_details_and_its_own_log_lines(history):
    base.run_message(f"{TARGET}:chatty", message(1, lines="2"), trigger="queue", function="worker")
    base.run_http(
        f"{TARGET}:page", Request(method="GET", path="/x", request_id="r1"), function="api"
    )
    [http, queued] = history.page()
    assert (queued["function"], queued["trigger"], queued["outcome"], queued["invocation_id"]) == (
        "worker",
        "queue",
        "ok",
        "m1",
    )
    assert queued["details"] == {"message_id": "m1", "delivery_attempt": 2} and queued["lines"] == 2
    assert len(queued["correlation_id"]) == 32 and queued["duration_ms"] >= 0
    full = history.get(queued["seq"])
    assert [line["message"] for line in full["lines"]] == ["line 0 of m1", "line 1 of m1"]
    assert (
        full["lines"][1]["fields"] == {"n": 1} and full["lines"][0]["logger"] == "tests.invocations"
    )
    assert http["details"] == {"method": "GET", "path": "/x", "status": 200}
    assert [line["message"] for line in history.get(http["seq"])["lines"]] == ["serving /x"]


def test_a_bug_keeps_its_traceback_and_an_expected_error_its_one_line(history):
    with pytest.raises(KeyError):
        base.run_message(f"{TARGET}:chatty", message(1, fail="bug"), function="worker")
    with pytest.raises(BadRequest):
        base.run_message(f"{TARGET}:chatty", message(2, fail="bad"), function="worker")
    expected, bug = history.page(function="worker")
    assert bug["outcome"] == "error" and bug["error"] == "KeyError: 'missing'"
    assert "Traceback" in history.get(bug["seq"])["traceback"]
    assert expected["error"] == "BadRequest: not for me" and "traceback" not in history.get(
        expected["seq"]
    )
    assert [e["seq"] for e in history.page(outcome="error")] == [expected["seq"], bug["seq"]]
    assert history.totals()["worker"] == {
        "invocations": 2,
        "errors": 2,
        "running": 0,
        "last": {k: expected[k] for k in ("seq", "outcome", "ended_at", "duration_ms")},
    }


def test_history_lines_and_text_are_bounded(history):
    for n in range(8):
        base.run_message(f"{TARGET}:chatty", message(n, lines="10"), function="worker")
    base.run_message(f"{TARGET}:chatty", message(99), function="other")
    kept = history.page(function="worker", limit=100)
    assert [e["invocation_id"] for e in kept] == ["m7", "m6", "m5", "m4", "m3"]  # the newest 5 of 8
    assert all(e["lines"] == 3 for e in kept)
    assert (
        history.page(function="other")[0]["invocation_id"] == "m99"
    )  # a busy function evicts only its own
    assert history.totals()["worker"]["invocations"] == 8
    first = history.page(function="worker", limit=100)[-1]["seq"]
    assert history.get(first - 1) is None  # dropped
    recorder = InvocationLog(text=10)  # a line longer than `text` characters is cut
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "0123456789abcdef", (), None)
    token = context.begin("i1", None, "f")
    try:
        recorder.handle(record)
        recorder.handle(
            logging.LogRecord(
                "omnicloud.invocation", logging.INFO, __file__, 1, "invocation ok", (), None
            )
        )
    finally:
        context.end(token)
    [entry] = recorder.page()
    assert recorder.get(entry["seq"])["lines"][0]["message"].startswith("0123456789… (6 more")


def test_pages_go_back_with_before_and_forward_with_after(history):
    for n in range(5):
        base.run_message(f"{TARGET}:chatty", message(n, lines="0"), function="worker")
    seqs = [e["seq"] for e in history.page()]
    assert [e["seq"] for e in history.page(before=seqs[1], limit=2)] == seqs[2:4]
    assert [e["seq"] for e in history.page(after=seqs[2])] == seqs[:2]


def test_lines_logged_outside_an_invocation_are_not_kept(history):
    log.info("the dev server speaking")
    assert history.page() == [] and history.totals() == {}


def test_concurrent_invocations_keep_their_own_lines(history):
    def run(n: int) -> None:
        base.run_message(f"{TARGET}:chatty", message(n, lines="3"), function="worker")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for entry in history.page(limit=10):
        lines = history.get(entry["seq"])["lines"]
        assert {line["message"].rsplit(" ", 1)[1] for line in lines} == {entry["invocation_id"]}
