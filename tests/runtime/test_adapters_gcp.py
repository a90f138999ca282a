"""The Cloud Functions adapter through functions-framework's own app and test client."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from tests.events import load

from . import adapter_support
from .adapter_support import TRACE_ID, TRACEPARENT, gcp_client, target

seen = adapter_support.seen
invocation_log = adapter_support.invocation_log
quiet_logging = adapter_support.quiet_logging


def _send(client, fixture: dict, **changes):
    request = {**fixture, **changes}
    body = request["body"]
    data = json.dumps(body) if isinstance(body, dict) else body
    return client.open(request["path"], method=request["method"], headers=request["headers"], data=data)


def _push(data: bytes, attributes: dict | None = None, **envelope) -> dict:
    fixture = load("gcp", "pubsub_push")
    fixture["body"]["message"]["data"] = base64.b64encode(data).decode()
    if attributes is not None:
        fixture["body"]["message"]["attributes"] = attributes
    fixture["body"].update(envelope)
    return fixture


# ---- HTTP -------------------------------------------------------------------------------------


def test_http_request_reaches_the_router(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("app"), "http")
    client.set_cookie("session", "s1")

    response = client.post("/echo?x=1", json={"a": 1}, headers={"x-test": "yes", "traceparent": TRACEPARENT})

    assert response.status_code == 201
    assert response.headers["x-handled-by"] == "sample"
    assert response.get_json() == {"got": {"a": 1}, "header": "yes", "cookie": "s1", "correlation_id": TRACE_ID}


def test_http_query_path_and_body_through_a_plain_function(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("raw_http"), "http")
    response = client.put("/my/path?parameter1=value1&parameter1=value2&parameter2=value", data="hi",
                          headers={"Function-Execution-Id": "exec-1", "X-Forwarded-For": "198.51.100.4, 10.0.0.1"})
    body = response.get_json()
    assert body["method"] == "PUT" and body["path"] == "/my/path" and body["body"] == "hi"
    assert body["query_all"] == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert body["request_id"] == "exec-1" and body["source_ip"] == "198.51.100.4"


def test_http_cookies_binary_and_errors(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("app"), "http")

    cookies = client.get("/cookie")
    assert cookies.headers.getlist("Set-Cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]
    assert client.get("/binary").data == bytes(range(256))
    assert client.get("/items/missing").status_code == 404
    boom = client.get("/boom")
    assert boom.status_code == 500 and boom.get_json()["error"]["code"] == "internal"
    assert b"Traceback" not in boom.data


# ---- Pub/Sub push -----------------------------------------------------------------------------


def test_wrapped_push_is_acked_with_2xx(tmp_path, monkeypatch, seen, invocation_log):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue")

    response = _send(client, load("gcp", "pubsub_push"))

    assert 200 <= response.status_code < 300
    (message,) = seen
    assert message["id"] == "2070443601311540"
    assert message["body"] == "Hello Cloud Pub/Sub! Here is my message!"
    assert message["attributes"] == {"key": "value"}
    assert message["delivery_attempt"] == 5
    (line,) = invocation_log()
    assert line["outcome"] == "ok" and line["delivery_attempt"] == 5 and line["message_id"] == "2070443601311540"


def test_failing_push_gets_a_non_2xx_so_pubsub_retries(tmp_path, monkeypatch, invocation_log):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "topic")

    response = _send(client, _push(b'{"fail": true}'))

    assert response.status_code >= 500
    assert b"Pub/Sub will redeliver" in response.data and b"\n" not in response.data
    (line,) = invocation_log()
    assert line["outcome"] == "error" and "asked to fail" in line["error"]


def test_push_attributes_carry_the_traceparent(tmp_path, monkeypatch, seen):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "topic")
    _send(client, _push(b'{"task": 1}', {"type": "task.completed", "traceparent": TRACEPARENT}))
    assert seen[0]["body"] == {"task": 1}
    assert seen[0]["attributes"]["type"] == "task.completed"
    assert seen[0]["correlation_id"] == TRACE_ID and seen[0]["forwarded_traceparent"].split("-")[1] == TRACE_ID


def test_delayed_push_runs_only_once_due_and_without_the_marker(tmp_path, monkeypatch, seen):
    """Queue.send(delay_seconds=...) on Pub/Sub: the adapter holds the message until it is due."""
    import time

    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue")
    due = round(time.time() + 0.3, 3)
    response = _send(client, _push(b'{"n": 1}', {"omnicloud-not-before": f"{due:.3f}", "type": "t"}))

    assert response.status_code == 204
    assert seen[0]["attributes"] == {"type": "t"}
    assert seen[0]["handled_at"] >= due


def test_push_delayed_beyond_the_hold_is_refused_for_redelivery(tmp_path, monkeypatch, seen):
    import time

    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue")
    response = _send(client, _push(b'{"n": 1}', {"omnicloud-not-before": f"{time.time() + 3600:.3f}"}))

    assert response.status_code == 503 and b"Pub/Sub will redeliver" in response.data
    assert seen == []


def test_push_without_delivery_attempt_is_the_first_attempt(tmp_path, monkeypatch, seen):
    fixture = load("gcp", "pubsub_push")
    del fixture["body"]["deliveryAttempt"]  # absent when the subscription has no dead-letter policy
    response = _send(gcp_client(tmp_path, monkeypatch, target("on_message"), "queue"), fixture)
    assert response.status_code == 204 and seen[0]["delivery_attempt"] == 1


def test_unwrapped_push_reads_metadata_and_attributes_from_headers(tmp_path, monkeypatch, seen):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "topic")

    response = _send(client, load("gcp", "pubsub_push_unwrapped"))

    assert 200 <= response.status_code < 300
    (message,) = seen
    assert message["id"] == "2070443601311540"
    assert message["body"] == {"status": "Hello there"}
    assert message["attributes"] == {"color": "red"}


@pytest.mark.parametrize(("body", "reason"), [
    ({"message": {"data": "%%%not-base64", "messageId": "1"}}, "message.data is not valid base64"),
    ({"message": "hello", "subscription": "s"}, "push body has no 'message' object"),
    ({"message": {"data": "aGk="}}, "push message has no messageId"),
    ({"message": {"data": "aGk=", "messageId": "1", "publishTime": "not a time"}}, "publishTime is 'not a time'"),
])
def test_malformed_push_is_a_400_with_one_line_and_says_it_will_be_dead_lettered(
        tmp_path, monkeypatch, invocation_log, body, reason):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue")

    response = client.post("/", json=body)

    assert response.status_code == 400
    text = response.data.decode()
    assert text.startswith("gcp adapter:") and reason in text and "\n" not in text
    (line,) = invocation_log()
    assert line["outcome"] == "rejected" and "dead-letters" in line["consequence"]


def test_request_that_is_no_push_at_all(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue")
    response = client.get("/")
    assert response.status_code == 400
    assert response.data.decode().startswith("gcp adapter: a queue function received a GET request")


# ---- Cloud Scheduler --------------------------------------------------------------------------


def test_cloud_scheduler_call(tmp_path, monkeypatch, seen):
    client = gcp_client(tmp_path, monkeypatch, target("on_schedule"), "schedule")

    response = _send(client, load("gcp", "cloud_scheduler"))

    assert 200 <= response.status_code < 300
    (event,) = seen
    assert event["schedule"] == "sweeper"
    assert event["time"] == datetime(2024, 5, 1, 3, 0, tzinfo=UTC)


def test_failing_schedule_answers_500(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("failing_schedule"), "schedule")
    assert _send(client, load("gcp", "cloud_scheduler")).status_code == 500


def test_scheduler_with_a_body_that_is_not_json(tmp_path, monkeypatch):
    client = gcp_client(tmp_path, monkeypatch, target("on_schedule"), "schedule")
    response = _send(client, load("gcp", "cloud_scheduler"), body="not json")
    assert response.status_code == 400 and b"Cloud Scheduler body is not a JSON object" in response.data


# ---- issue 10, item 1: API Gateway's x-google-backend replaces Authorization ----------------------


def test_api_gateway_callers_credential_reaches_the_handler_as_authorization(tmp_path, monkeypatch):
    fixture = load("gcp", "api_gateway_http")
    client = gcp_client(tmp_path, monkeypatch, target("request_fields"), "http")
    seen_request = _send(client, fixture).get_json()
    assert seen_request["headers"]["authorization"] == "Bearer ak_caller_api_key"
    assert "x-forwarded-authorization" not in seen_request["headers"]  # one credential, where handlers look
    # The gateway's own ID token stays readable, apart from the caller's request.
    assert seen_request["gateway_authorization"] == fixture["headers"]["Authorization"]
    assert seen_request["source_ip"] == "203.0.113.7"


def test_gateway_token_without_a_forwarded_one_is_no_credential_at_all(tmp_path, monkeypatch):
    # A caller that sent no Authorization: the gateway's token is all there is, and it is not the caller's.
    fixture = load("gcp", "api_gateway_http")
    del fixture["headers"]["X-Forwarded-Authorization"]
    seen_request = _send(gcp_client(tmp_path, monkeypatch, target("request_fields"), "http"), fixture).get_json()
    assert "authorization" not in seen_request["headers"]
    assert seen_request["gateway_authorization"] == fixture["headers"]["Authorization"]

