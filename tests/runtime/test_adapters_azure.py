"""The Azure Functions adapter through the real azure-functions types and the rendered function_app.py."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.servicebus import ServiceBusMessageInConverter
from azure.functions.timer import TimerRequestConverter

from runtime import Response
from runtime.adapters import azure as azure_adapter
from runtime.adapters.azure_templates import host_json, render_function_app, render_host_json
from runtime.adapters.base import EventError
from tests.events import load

from . import adapter_support
from .adapter_support import TRACE_ID, TRACEPARENT, AzureContext, import_function_app, target

seen = adapter_support.seen
invocation_log = adapter_support.invocation_log
quiet_logging = adapter_support.quiet_logging


def _function(module):
    (function,) = module.app.get_functions()
    return function


def _bindings(function) -> dict[str, dict]:
    """The binding metadata the worker reports to the Functions host, by binding type."""
    return {b["type"]: b for b in map(json.loads, function.get_raw_bindings())}


def _service_bus_message(**metadata_overrides) -> func.ServiceBusMessage:
    """A ServiceBusMessage decoded by azure-functions from the host's trigger data, as the worker does."""
    fixture = load("azure", "servicebus_message")
    fixture["trigger_metadata"].update(metadata_overrides)
    fixture["trigger_metadata"] = {k: v for k, v in fixture["trigger_metadata"].items() if v is not None}
    data = meta.Datum(fixture["data"]["value"], fixture["data"]["type"])
    metadata = {k: meta.Datum(v["value"], v["type"]) for k, v in fixture["trigger_metadata"].items()}
    return ServiceBusMessageInConverter.decode(data, trigger_metadata=metadata)


def _http_request(**overrides) -> func.HttpRequest:
    fixture = {**load("azure", "http_request"), **overrides}
    return func.HttpRequest(method=fixture["method"], url=fixture["url"], headers=fixture["headers"],
                            params=fixture["params"], route_params=fixture["route_params"],
                            body=fixture["body"].encode())


# ---- rendering --------------------------------------------------------------------------------


def test_rendered_http_function_app_registers_a_key_protected_catch_all_route(tmp_path):
    module = import_function_app(tmp_path, render_function_app("api", target("app"), "http", "/api"))
    function = _function(module)
    trigger = _bindings(function)["httpTrigger"]

    assert function.get_function_name() == "api"
    assert trigger["route"] == "{*path}"
    # Only API Management holds the key (providers/azure.py), so the app is not reachable around it.
    assert trigger["authLevel"] == "FUNCTION"
    assert set(trigger["methods"]) == {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
    assert _bindings(function)["http"] == {"direction": "OUT", "type": "http", "name": "$return"}


@pytest.mark.parametrize(("trigger", "expected"), [
    ("queue", {"type": "serviceBusTrigger", "queueName": "%OMNICLOUD_TRIGGER_QUEUE%",
               "connection": "ServiceBusConnection"}),
    ("topic", {"type": "serviceBusTrigger", "topicName": "%OMNICLOUD_TRIGGER_TOPIC%",
               "subscriptionName": "%OMNICLOUD_TRIGGER_SUBSCRIPTION%", "connection": "ServiceBusConnection"}),
    ("schedule", {"type": "timerTrigger", "schedule": "%OMNICLOUD_SCHEDULE%"}),
])
def test_rendered_function_app_registers_the_trigger(tmp_path, trigger, expected):
    module = import_function_app(tmp_path, render_function_app("worker-1", target("on_message"), trigger))
    function = _function(module)
    (binding,) = _bindings(function).values()

    assert function.get_function_name() == "worker-1"
    assert {k: binding[k] for k in expected} == expected


def test_render_rejects_unknown_trigger_and_malformed_target():
    with pytest.raises(ValueError, match="unknown trigger 'cron'"):
        render_function_app("x", target("on_message"), "cron")
    with pytest.raises(ValueError, match="is not 'module:attribute'"):
        render_function_app("x", "functions.worker", "queue")


def test_host_json_has_an_empty_route_prefix_and_completes_service_bus_messages_on_success():
    http = json.loads(render_host_json("http", timeout_seconds=300))
    assert http["version"] == "2.0"
    assert http["extensions"]["http"]["routePrefix"] == ""
    assert http["functionTimeout"] == "00:05:00"
    assert http["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host_json("queue")["extensions"]["serviceBus"]["autoCompleteMessages"] is True
    assert "serviceBus" not in host_json("schedule")["extensions"]


# ---- HTTP -------------------------------------------------------------------------------------


def test_http_request_through_the_rendered_function(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNICLOUD_FUNCTION", "api")
    module = import_function_app(tmp_path, render_function_app("api", target("raw_http"), "http"))
    user_function = _function(module).get_user_function()

    response = user_function(_http_request(), AzureContext("inv-1"))

    assert isinstance(response, func.HttpResponse)
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert body["method"] == "POST" and body["path"] == "/my/path"
    assert body["query_all"] == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert body["cookies"] == {"cookie1": "a", "cookie2": "b"}
    assert body["source_ip"] == "203.0.113.7"  # Azure's X-Forwarded-For carries a port
    assert body["request_id"] == "inv-1"
    assert body["body"] == '{"message": "hello world", "username": "tom"}'


def test_router_response_status_headers_and_cookies(tmp_path):
    module = import_function_app(tmp_path, render_function_app("api", target("app"), "http"))
    call = _function(module).get_user_function()

    created = call(_http_request(url="https://agents-api.azurewebsites.net/echo",
                                 headers={"x-test": "yes", "content-type": "application/json"}), AzureContext())
    assert created.status_code == 201
    assert created.headers["x-handled-by"] == "sample"
    assert created.mimetype == "application/json"
    assert json.loads(created.get_body())["got"] == {"message": "hello world", "username": "tom"}

    cookies = call(_http_request(method="GET", url="https://agents-api.azurewebsites.net/cookie", body=""), AzureContext())
    assert cookies.headers.getlist("Set-Cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]

    missing = call(_http_request(method="GET", url="https://agents-api.azurewebsites.net/items/missing", body=""),
                   AzureContext())
    assert missing.status_code == 404
    assert json.loads(missing.get_body())["error"]["code"] == "not_found"


def test_http_traceparent_header_wins_over_the_hosts_trace_context(tmp_path, seen):
    module = import_function_app(tmp_path, render_function_app("api", target("app"), "http"))
    call = _function(module).get_user_function()
    host_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    call(_http_request(url="https://x.azurewebsites.net/echo", headers={"traceparent": TRACEPARENT}),
         AzureContext(trace_parent=host_trace))
    call(_http_request(url="https://x.azurewebsites.net/echo", headers={}), AzureContext(trace_parent=host_trace))

    assert seen[0]["correlation_id"] == TRACE_ID
    assert seen[1]["correlation_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_something_that_is_not_an_http_request_is_a_400():
    response = azure_adapter.handle_http(target("app"), object(), AzureContext())
    assert response.status_code == 400
    assert json.loads(response.get_body())["error"]["message"].startswith("azure adapter:")


# ---- Service Bus ------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["queue", "topic"])
def test_service_bus_message_reaches_the_handler_as_a_message(tmp_path, seen, invocation_log, trigger):
    module = import_function_app(tmp_path, render_function_app("worker", target("on_message"), trigger))
    call = _function(module).get_user_function()

    assert call(_service_bus_message(), AzureContext("inv-sb")) is None

    (message,) = seen
    assert message["id"] == "87c66eaf88e84119b66a26278a7b4149"
    assert message["body"] == {"lucky_number": 23}
    assert message["delivery_attempt"] == 2
    assert message["attributes"]["type"] == "task.created"
    assert message["correlation_id"] == TRACE_ID == message["message_correlation_id"]
    (line,) = invocation_log()
    assert line["trigger"] == trigger and line["outcome"] == "ok" and line["invocation_id"] == "inv-sb"


def test_service_bus_native_correlation_id_joins_the_trace_without_a_traceparent(seen):
    message = _service_bus_message(
        ApplicationProperties={"type": "json", "value": '{"type": "task.created"}'},
        UserProperties={"type": "json", "value": '{"type": "task.created"}'},
    )
    azure_adapter.handle_message(target("on_message"), message, AzureContext())
    assert seen[0]["correlation_id"] == TRACE_ID  # the fixture's CorrelationId is a W3C trace id


def test_failing_service_bus_handler_raises_so_the_host_abandons_the_message(tmp_path, invocation_log):
    module = import_function_app(tmp_path, render_function_app("worker", target("on_message"), "queue"))
    call = _function(module).get_user_function()
    failing = _service_bus_message()
    failing = type(failing)(body=b'{"fail": true}', message_id=failing.message_id, delivery_count=4,
                            application_properties={}, user_properties={})

    with pytest.raises(RuntimeError, match="asked to fail"):
        call(failing, AzureContext())
    (line,) = invocation_log()
    assert line["outcome"] == "error" and line["delivery_attempt"] == 4


def test_service_bus_message_without_an_id_is_a_clear_error(invocation_log):
    message = _service_bus_message(MessageId=None)
    with pytest.raises(EventError, match="azure adapter: Service Bus message has no message_id"):
        azure_adapter.handle_message(target("on_message"), message, AzureContext())
    assert "dead-letters" in invocation_log()[0]["consequence"]


def test_service_bus_application_properties_of_other_types_become_the_strings_other_clouds_carry(seen):
    # A .NET or Java sender may set int, bool, double or list properties; attributes are strings everywhere.
    fixture = load("azure", "servicebus_message_typed_properties")
    metadata = {k: meta.Datum(v["value"], v["type"]) for k, v in fixture["trigger_metadata"].items()}
    message = ServiceBusMessageInConverter.decode(meta.Datum(fixture["data"]["value"], fixture["data"]["type"]),
                                                  trigger_metadata=metadata)

    azure_adapter.handle_message(target("on_message"), message, AzureContext())

    assert seen[0]["attributes"] == {"type": "task.created", "priority": "5", "urgent": "true", "ratio": "0.5",
                                     "tags": '["a","b"]'}


def test_http_path_is_percent_decoded_as_on_the_other_clouds():
    response = azure_adapter.handle_http(target("raw_http"),
                                         _http_request(url="https://app.azurewebsites.net/files/a%20b/%C3%A9t%C3%A9"),
                                         AzureContext())
    assert json.loads(response.get_body())["path"] == "/files/a b/été"


# ---- timer ------------------------------------------------------------------------------------


def test_timer_through_the_rendered_function(tmp_path, monkeypatch, seen):
    monkeypatch.setenv("OMNICLOUD_FUNCTION", "sweeper")
    module = import_function_app(tmp_path, render_function_app("sweeper", target("on_schedule"), "schedule"))
    timer = TimerRequestConverter.decode(meta.Datum(json.dumps(load("azure", "timer")), "json"), trigger_metadata={})

    assert _function(module).get_user_function()(timer, AzureContext("inv-timer")) is None

    (event,) = seen
    assert event["schedule"] == "sweeper" and event["id"] == "inv-timer"
    assert event["time"].tzinfo is not None


def test_failing_timer_raises(tmp_path):
    module = import_function_app(tmp_path, render_function_app("sweeper", target("failing_schedule"), "schedule"))
    timer = TimerRequestConverter.decode(meta.Datum(json.dumps(load("azure", "timer")), "json"), trigger_metadata={})
    with pytest.raises(RuntimeError, match="sweep failed"):
        _function(module).get_user_function()(timer, AzureContext())


def test_topic_subscriber_skips_what_its_filter_excludes_before_the_subscription_rule_exists(seen, monkeypatch):
    # A new Service Bus subscription delivers everything until its $Default rule is replaced
    # (providers/azure.py); the subscriber completes the messages its own filter excludes.
    monkeypatch.setenv("OMNICLOUD_TRIGGER_FILTER", json.dumps({"type": ["task.succeeded", "task.failed"]}))
    excluded = _service_bus_message()  # type task.created
    azure_adapter.handle_message(target("on_message"), excluded, AzureContext(), trigger="topic")
    assert seen == []
    wanted = _service_bus_message(ApplicationProperties={"type": "json", "value": '{"type": "task.failed"}'},
                                  UserProperties={"type": "json", "value": '{"type": "task.failed"}'})
    azure_adapter.handle_message(target("on_message"), wanted, AzureContext(), trigger="topic")
    assert [m["attributes"]["type"] for m in seen] == ["task.failed"]
    # Queues have no filter: the setting never applies to them.
    azure_adapter.handle_message(target("on_message"), excluded, AzureContext(), trigger="queue")
    assert len(seen) == 2


# ---- issue 10, item 19: cookies the Functions host's cookie parser cannot read ----------------------

HARD_COOKIES = [
    "theme=dark; Path=/",
    'prefs={"lang":"fr","tabs":[1,2]}; Path=/; Max-Age=3600',  # a JSON value: quotes and commas
    "id=abc; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",  # CHIPS' Partitioned attribute
]


def _cookies_the_host_gets(response: func.HttpResponse) -> dict[str, dict]:
    """What the Functions host receives: azure.functions' own converter turns each Set-Cookie into a
    SimpleCookie, and the Python worker sends each parsed morsel on as an RpcHttpCookie (name, value,
    path, ..., azure-functions-python-worker bindings/datumdef.py parse_to_rpc_http_cookie_list); this
    reads the morsels the same way."""
    from azure.functions.http import HttpResponseConverter

    datum = HttpResponseConverter.encode(response, expected_type=None)
    return {name: {"value": morsel.value, "path": morsel["path"], "max-age": morsel["max-age"],
                   "secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]),
                   "samesite": morsel["samesite"]}
            for jar in datum.value["cookies"] or [] for name, morsel in jar.items()}


def test_without_the_adapter_the_host_loses_json_and_partitioned_cookies():
    # The failure the adapter works around, shown with the real library (kept so the test below means something).
    raw = func.HttpResponse(body=b"ok", status_code=200)
    for cookie in HARD_COOKIES:
        raw.headers.add("Set-Cookie", cookie)
    assert set(_cookies_the_host_gets(raw)) == {"theme"}


def test_cookies_the_host_cannot_parse_reach_it_with_their_values(caplog):
    with caplog.at_level("WARNING", logger="omnicloud.adapter"):
        response = azure_adapter.to_http_response(Response(body="ok", cookies=list(HARD_COOKIES)))
    assert response.headers.getlist("Set-Cookie")[0] == "theme=dark; Path=/"  # readable as sent: untouched
    got = _cookies_the_host_gets(response)
    assert got["theme"]["value"] == "dark" and got["theme"]["path"] == "/"
    assert got["prefs"]["value"] == '{"lang":"fr","tabs":[1,2]}' and got["prefs"]["max-age"] == "3600"
    assert got["id"] == {"value": "abc", "path": "/", "max-age": "", "secure": True, "httponly": True,
                         "samesite": "None"}
    # What the host has no field for is said, once, by name: nothing vanishes silently.
    assert [r.getMessage() for r in caplog.records] == [
        "azure adapter: cookie 'id' sent without Partitioned: the Functions host has no field for it"]
