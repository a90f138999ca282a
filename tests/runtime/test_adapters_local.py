"""The local adapter (what `omnicloud dev` calls) and the same handler module on all four adapters."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime

import azure.functions as func
import pytest

from runtime import Message, Request, ScheduledEvent, Table
from runtime import log as jsonlog
from runtime.adapters import aws, base, local
from runtime.adapters import azure as azure_adapter
from runtime.links import LinkError, link_env
from tests.events import load

from . import adapter_support, handlers_sample
from .adapter_support import TRACE_ID, TRACEPARENT, AzureContext, LambdaContext, gcp_client, target

seen = adapter_support.seen
invocation_log = adapter_support.invocation_log
quiet_logging = adapter_support.quiet_logging


# ---- local ------------------------------------------------------------------------------------


def test_invoke_http_runs_the_router_and_logs_one_line(invocation_log):
    request = Request(method="POST", path="/echo", headers={"traceparent": TRACEPARENT, "x-test": "1"},
                      body=b'{"a": 1}', request_id="req-1")

    response = local.invoke_http(target("app"), request, function="api")

    assert response.status == 201
    assert json.loads(response.body_bytes())["correlation_id"] == TRACE_ID
    (line,) = invocation_log()
    assert {k: line[k] for k in ("function", "invocation_id", "correlation_id", "outcome", "status")} == {
        "function": "api", "invocation_id": "req-1", "correlation_id": TRACE_ID, "outcome": "ok", "status": 201}
    assert line["duration_ms"] >= 0


def test_invoke_message_passes_the_traceparent_on_and_raises_on_failure(seen, invocation_log):
    message = Message(id="m-1", body=b'{"x": 1}', attributes={"traceparent": TRACEPARENT}, delivery_attempt=2)
    local.invoke_message(target("on_message"), message, trigger="topic", function="notifier")
    assert seen[0]["correlation_id"] == TRACE_ID and message.correlation_id == TRACE_ID

    with pytest.raises(RuntimeError, match="asked to fail"):
        local.invoke_message(target("on_message"), Message(id="m-2", body=b'{"fail": 1}'), function="notifier")
    ok, failed = invocation_log()
    assert (ok["outcome"], ok["trigger"], ok["delivery_attempt"]) == ("ok", "topic", 2)
    assert (failed["outcome"], failed["message_id"], failed["function"]) == ("error", "m-2", "notifier")
    assert failed["error"] == "RuntimeError: asked to fail: m-2"


def test_invoke_schedule(seen):
    due = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    local.invoke_schedule(target("on_schedule"), ScheduledEvent(time=due, schedule="0 3 * * *", id="s-1"))
    assert (seen[0]["schedule"], seen[0]["time"], seen[0]["id"]) == ("0 3 * * *", due, "s-1")
    with pytest.raises(RuntimeError, match="sweep failed"):
        local.invoke_schedule(target("failing_schedule"), ScheduledEvent(schedule="x"))


def test_environ_scopes_links_and_the_function_name_to_the_invocation(seen, invocation_log, monkeypatch):
    monkeypatch.delenv("OMNICLOUD_LINK_AGENTS", raising=False)
    environ = {"OMNICLOUD_FUNCTION": "worker", "OMNICLOUD_CLOUD": "local",
               **link_env("agents", "table", ["read"], name="agents")}
    looked_up = []

    def handler(message):
        # Resolving a verb the function was not granted fails with the link's own error.
        try:
            Table("agents").put({"pk": "a"})
        except LinkError as exc:
            looked_up.append(str(exc))

    monkeypatch.setattr(handlers_sample, "uses_table", handler, raising=False)
    local.invoke_message(target("uses_table"), Message(id="m", body=b""), environ=environ)

    assert looked_up and "worker may not write table 'agents'" in looked_up[0]
    assert invocation_log()[0]["function"] == "worker"


# ---- the same handler module through every adapter --------------------------------------------


def _http_through_every_adapter(tmp_path, monkeypatch, path: str, body: dict) -> dict[str, tuple[int, object]]:
    headers = {"x-test": "same", "traceparent": TRACEPARENT, "content-type": "application/json"}
    raw = json.dumps(body)
    results: dict[str, tuple[int, object]] = {}

    response = local.invoke_http(target("app"), Request(method="POST", path=path, headers=headers, body=raw.encode()))
    results["local"] = (response.status, json.loads(response.body_bytes()))

    event = load("aws", "apigw_v2_http_api")
    event.update(rawPath=path, rawQueryString="", headers=headers, body=raw)
    result = aws.make_handler(target("app"), "http")(event, LambdaContext())
    results["aws"] = (result["statusCode"], json.loads(result["body"]))

    azure_request = func.HttpRequest(method="POST", url=f"https://sample.azurewebsites.net{path}", headers=headers,
                                     body=raw.encode())
    azure_response = azure_adapter.handle_http(target("app"), azure_request, AzureContext())
    results["azure"] = (azure_response.status_code, json.loads(azure_response.get_body()))

    gcp = gcp_client(tmp_path, monkeypatch, target("app"), "http").post(path, data=raw, headers=headers)
    results["gcp"] = (gcp.status_code, gcp.get_json())
    return results


def test_same_http_result_on_every_adapter(tmp_path, monkeypatch):
    results = _http_through_every_adapter(tmp_path, monkeypatch, "/echo", {"a": [1, 2]})
    expected = (201, {"got": {"a": [1, 2]}, "header": "same", "cookie": None, "correlation_id": TRACE_ID})
    assert results == dict.fromkeys(("local", "aws", "azure", "gcp"), expected)


def test_same_http_error_on_every_adapter(tmp_path, monkeypatch):
    results = _http_through_every_adapter(tmp_path, monkeypatch, "/nowhere", {})
    assert {name: status for name, (status, _) in results.items()} == dict.fromkeys(results, 404)
    assert len({json.dumps(body) for _, body in results.values()}) == 1


def _message_through_every_adapter(tmp_path, monkeypatch, body: bytes) -> dict[str, bool]:
    """Whether each adapter reported the message as handled (True) or to be retried (False)."""
    attributes = {"type": "task.created", "traceparent": TRACEPARENT}
    outcomes: dict[str, bool] = {}

    try:
        local.invoke_message(target("on_message"), Message(id="m-local", body=body, attributes=dict(attributes)))
        outcomes["local"] = True
    except RuntimeError:
        outcomes["local"] = False

    event = load("aws", "sqs_message_attributes")
    event["Records"][0]["body"] = body.decode()
    result = aws.make_handler(target("on_message"), "queue")(event, LambdaContext())
    outcomes["aws"] = result == {"batchItemFailures": []}

    sb_message = type(_any_service_bus_message())(
        body=body, message_id="m-azure", delivery_count=1, application_properties=dict(attributes), user_properties={})
    try:
        azure_adapter.handle_message(target("on_message"), sb_message, AzureContext())
        outcomes["azure"] = True
    except RuntimeError:
        outcomes["azure"] = False

    push = {"message": {"data": base64.b64encode(body).decode(), "attributes": attributes, "messageId": "m-gcp"},
            "subscription": "projects/p/subscriptions/s"}
    response = gcp_client(tmp_path, monkeypatch, target("on_message"), "queue").post("/", json=push)
    outcomes["gcp"] = 200 <= response.status_code < 300
    return outcomes


def _any_service_bus_message():
    from azure.functions.servicebus import ServiceBusMessage

    return ServiceBusMessage(body=b"", message_id="x", application_properties={}, user_properties={})


def test_same_message_outcome_on_every_adapter(tmp_path, monkeypatch, seen):
    assert _message_through_every_adapter(tmp_path, monkeypatch, b'{"task": "t-1"}') == dict.fromkeys(
        ("local", "aws", "azure", "gcp"), True)
    # Every adapter handed the handler the same neutral message.
    assert [(s["body"], s["attributes"]["type"], s["correlation_id"]) for s in seen] == [
        ({"task": "t-1"}, "task.created", TRACE_ID)] * 4

    seen.clear()
    assert _message_through_every_adapter(tmp_path, monkeypatch, b'{"fail": true}') == dict.fromkeys(
        ("local", "aws", "azure", "gcp"), False)
    assert len(seen) == 4


# ---- logging set-up on a cloud -----------------------------------------------------------------


def test_cloud_logging_reuses_the_platforms_handlers_with_the_json_formatter(monkeypatch):
    root = logging.getLogger()
    platform_handler = logging.StreamHandler()  # stands in for the Lambda runtime's / Azure worker's
    monkeypatch.setattr(root, "handlers", [platform_handler])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(base, "_logging_ready", False)
    monkeypatch.setenv("LOG_LEVEL", "warning")

    base.configure_logging()

    assert root.handlers == [platform_handler]
    assert isinstance(platform_handler.formatter, jsonlog.JsonFormatter)
    assert root.level == logging.WARNING
