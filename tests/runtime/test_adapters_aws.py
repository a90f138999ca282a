"""The AWS Lambda adapter on real event payloads (tests/events/aws)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from runtime.adapters import aws
from runtime.adapters.base import EventError, HandlerNotFound
from tests.events import load

from . import adapter_support
from .adapter_support import TRACE_ID, TRACEPARENT, LambdaContext, target

seen = adapter_support.seen
invocation_log = adapter_support.invocation_log
quiet_logging = adapter_support.quiet_logging

CTX = LambdaContext()


def _json_body(result: dict) -> object:
    assert result["isBase64Encoded"] is False
    return json.loads(result["body"])


# ---- HTTP -------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["apigw_v2_http_api", "function_url"])
def test_http_api_v2_and_function_url_become_the_same_request(source):
    result = aws.make_handler(target("raw_http"), "http")(load("aws", source), CTX)

    assert result["statusCode"] == 200
    seen_request = _json_body(result)
    assert seen_request["method"] == "POST"
    assert seen_request["path"] == "/my/path"
    assert seen_request["query_all"] == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert seen_request["query"]["parameter1"] == "value1"
    # A header API Gateway joined with commas reaches the handler as it came.
    assert seen_request["header2"] == "value1,value2"


def test_http_api_v2_cookies_reach_the_handler():
    event = load("aws", "apigw_v2_http_api")
    event["cookies"] = ["session=abc", "theme=dark"]
    result = aws.make_handler(target("raw_http"), "http")(event, CTX)
    assert _json_body(result)["cookies"] == {"session": "abc", "theme": "dark"}


def test_http_api_v2_base64_body_is_decoded():
    event = load("aws", "apigw_v2_http_api")
    event["body"] = base64.b64encode("héllo wörld".encode()).decode()
    event["isBase64Encoded"] = True
    result = aws.make_handler(target("raw_http"), "http")(event, CTX)
    assert _json_body(result)["body"] == "héllo wörld"


def test_router_answers_through_http_api_v2_with_status_headers_and_json():
    event = load("aws", "apigw_v2_http_api")
    event["rawPath"] = "/echo"
    event["headers"]["x-test"] = "yes"
    event["cookies"] = ["session=s1"]
    result = aws.make_handler(target("app"), "http")(event, CTX)

    assert result["statusCode"] == 201
    assert result["headers"]["x-handled-by"] == "sample"
    body = _json_body(result)
    assert body["got"] == {"message": "hello world", "username": "tom"}
    assert body["header"] == "yes" and body["cookie"] == "s1"


def test_get_with_repeated_query_parameters():
    event = load("aws", "apigw_v2_get")
    event["rawPath"] = "/items/abc"
    event["rawQueryString"] = "q=1&tag=a&tag=b"
    result = aws.make_handler(target("app"), "http")(event, CTX)
    assert result["statusCode"] == 200
    assert _json_body(result) == {"id": "abc", "q": "1", "tags": ["a", "b"]}


def test_binary_response_is_base64_encoded_for_api_gateway():
    event = load("aws", "apigw_v2_get")
    event["rawPath"] = "/binary"
    result = aws.make_handler(target("app"), "http")(event, CTX)
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == bytes(range(256))


def test_response_cookies_use_the_payload_formats_own_field():
    v2 = load("aws", "apigw_v2_get")
    v2["rawPath"] = "/cookie"
    v2_result = aws.make_handler(target("app"), "http")(v2, CTX)
    assert v2_result["cookies"] == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]

    v1 = load("aws", "apigw_rest_v1")
    v1["path"] = "/cookie"
    v1_result = aws.make_handler(target("app"), "http")(v1, CTX)
    assert v1_result["multiValueHeaders"]["Set-Cookie"] == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]


def test_rest_api_v1_multi_value_headers_and_query():
    result = aws.make_handler(target("raw_http"), "http")(load("aws", "apigw_rest_v1"), CTX)
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert body["method"] == "GET" and body["path"] == "/my/path"
    assert body["header2"] == "value1, value2"
    assert body["query_all"] == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert body["source_ip"] == "192.168.0.1/32"
    assert body["body"] == "Hello from Lambda!"
    assert result["headers"]["content-type"] == "application/json"
    assert result["multiValueHeaders"]["content-type"] == ["application/json"]


def test_handler_bug_is_a_500_json_error_and_one_log_line_with_the_traceback(invocation_log):
    event = load("aws", "apigw_v2_get")
    event["rawPath"] = "/boom"
    result = aws.make_handler(target("app"), "http")(event, CTX)

    assert result["statusCode"] == 500
    assert _json_body(result) == {"error": {"code": "internal", "message": "internal error; the log has the details"}}
    assert "Traceback" not in result["body"]
    (line,) = invocation_log()
    assert line["outcome"] == "error" and line["status"] == 500 and line["path"] == "/boom"


def test_plain_function_bug_is_logged_once_as_error(invocation_log, monkeypatch):
    monkeypatch.setenv("OMNICLOUD_FUNCTION", "api")

    def broken(request):
        raise ValueError("bad thing")

    monkeypatch.setattr("tests.runtime.handlers_sample.broken", broken, raising=False)
    result = aws.make_handler(target("broken"), "http")(load("aws", "apigw_v2_get"), CTX)

    assert result["statusCode"] == 500
    (line,) = invocation_log()
    assert line["function"] == "api" and line["invocation_id"] == CTX.aws_request_id
    assert line["outcome"] == "error" and line["status"] == 500
    assert line["error"] == "ValueError: bad thing"
    assert "Traceback" in line["exception"]


def test_traceparent_header_sets_the_correlation_id_the_clients_forward(seen, invocation_log):
    event = load("aws", "apigw_v2_http_api")
    event["rawPath"] = "/echo"
    event["headers"]["traceparent"] = TRACEPARENT
    result = aws.make_handler(target("app"), "http")(event, CTX)

    assert _json_body(result)["correlation_id"] == TRACE_ID
    assert seen[0]["forwarded_traceparent"].split("-")[1] == TRACE_ID
    (line,) = invocation_log()
    assert line["correlation_id"] == TRACE_ID and line["outcome"] == "ok" and line["status"] == 201
    assert isinstance(line["duration_ms"], float)


def test_malformed_base64_body_is_a_400_with_one_line():
    event = load("aws", "apigw_v2_http_api")
    event["isBase64Encoded"] = True
    event["body"] = "%%% not base64 %%%"
    result = aws.make_handler(target("raw_http"), "http")(event, CTX)
    assert result["statusCode"] == 400
    message = _json_body(result)["error"]["message"]
    assert message.startswith("aws adapter:") and "base64" in message and "\n" not in message


# ---- SQS --------------------------------------------------------------------------------------


def test_sqs_batch_reports_exactly_the_failed_record(seen):
    event = load("aws", "sqs")
    ok_id, failing_id = (r["messageId"] for r in event["Records"])
    event["Records"][1]["body"] = json.dumps({"fail": True})

    result = aws.make_handler(target("on_message"), "queue")(event, CTX)

    assert result == {"batchItemFailures": [{"itemIdentifier": failing_id}]}
    assert [s["id"] for s in seen] == [ok_id, failing_id]  # both were tried


def test_sqs_batch_all_ok_reports_no_failures(seen):
    result = aws.make_handler(target("on_message"), "queue")(load("aws", "sqs"), CTX)
    assert result == {"batchItemFailures": []}
    assert seen[0]["body"] == "Test message." and seen[0]["attributes"] == {"testAttr": "100"}
    assert seen[1]["body"] == {"message": "foo1"}


def test_sqs_fifo_batch_stops_at_the_first_failure(seen):
    event = load("aws", "sqs")
    for record in event["Records"]:
        record["eventSourceARN"] += ".fifo"
    event["Records"][0]["body"] = json.dumps({"fail": True})
    ids = [r["messageId"] for r in event["Records"]]

    result = aws.make_handler(target("on_message"), "queue")(event, CTX)

    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert len(seen) == 1  # the later record was not run ahead of the failed one


def test_sqs_body_the_backend_sent_as_base64_arrives_as_the_original_bytes(seen):
    """runtime/backends/aws.py marks bodies SQS text cannot carry with `body-encoding: base64`."""
    import base64

    event = load("aws", "sqs")
    record = event["Records"][0]
    event["Records"] = [record]
    record["body"] = base64.b64encode(json.dumps({"note": "caf\u00e9 \u0000"}).encode()).decode()
    record["messageAttributes"] = {"body-encoding": {"stringValue": "base64", "dataType": "String"},
                                   "type": {"stringValue": "note", "dataType": "String"}}
    result = aws.make_handler(target("on_message"), "queue")(event, CTX)

    assert result == {"batchItemFailures": []}
    assert seen[0]["body"] == {"note": "caf\u00e9 \u0000"}
    assert seen[0]["attributes"] == {"type": "note"}  # the transport marker is not the app's attribute


def test_sqs_message_attributes_delivery_count_and_traceparent(seen, invocation_log):
    result = aws.make_handler(target("on_message"), "queue")(load("aws", "sqs_message_attributes"), CTX)

    assert result == {"batchItemFailures": []}
    (message,) = seen
    assert message["attributes"]["type"] == "task.created"
    assert message["delivery_attempt"] == 3
    assert message["correlation_id"] == TRACE_ID == message["message_correlation_id"]
    assert message["forwarded_traceparent"].split("-")[1] == TRACE_ID
    (line,) = invocation_log()  # a batch that went well is one line, with no per-record ids
    assert line["message"] == "batch ok" and line["records"] == 1 and line["failed"] == 0
    assert line["trigger"] == "queue" and line["invocation_id"] == CTX.aws_request_id


def test_sqs_batch_logs_each_failed_record_with_its_ids_and_one_summary(seen, invocation_log):
    event = load("aws", "sqs_message_attributes")
    record = event["Records"][0]
    event["Records"] = [record, {**record, "messageId": "second", "body": json.dumps({"fail": True})},
                        {**record, "messageId": "third"}]

    result = aws.make_handler(target("on_message"), "queue")(event, CTX)

    assert result == {"batchItemFailures": [{"itemIdentifier": "second"}]}
    failed, summary = invocation_log()
    assert failed["level"] == "error" and failed["message"] == "invocation error"
    assert failed["message_id"] == "second" and failed["correlation_id"] == TRACE_ID
    assert failed["delivery_attempt"] == 3 and failed["invocation_id"] == CTX.aws_request_id
    assert "asked to fail: second" in failed["error"] and "Traceback" in failed["exception"]
    assert summary["message"] == "batch partial" and summary["outcome"] == "partial"
    assert (summary["records"], summary["failed"]) == (3, 1) and "correlation_id" not in summary


def test_malformed_record_is_reported_alone_and_the_rest_still_run(seen, invocation_log):
    event = load("aws", "sqs")
    event["Records"][0]["attributes"]["SentTimestamp"] = "yesterday-ish"
    bad_id, good_id = (r["messageId"] for r in event["Records"])

    result = aws.make_handler(target("on_message"), "queue")(event, CTX)

    assert result == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert [s["id"] for s in seen] == [good_id]
    rejected = [line for line in invocation_log() if line["outcome"] == "rejected"]
    assert len(rejected) == 1 and "SentTimestamp" in rejected[0]["error"]
    assert "dead-letter" in rejected[0]["consequence"]


# ---- SNS --------------------------------------------------------------------------------------


def test_sns_through_sqs_envelope_is_unwrapped(seen):
    event = load("aws", "sns_via_sqs")
    result = aws.make_handler(target("on_message"), "topic")(event, CTX)

    assert result == {"batchItemFailures": []}
    (message,) = seen
    assert message["id"] == "d88d4479-6ec0-54fe-b63f-1cf9df4bb16e"  # the SNS message id
    assert message["body"] == {"message": "hello world", "username": "lessa"}


def test_sns_through_sqs_envelope_attributes_and_failure(seen):
    event = load("aws", "sns_via_sqs")
    envelope = json.loads(event["Records"][0]["body"])
    envelope["Message"] = json.dumps({"fail": True})
    envelope["MessageAttributes"] = {"type": {"Type": "String", "Value": "task.completed"},
                                     "traceparent": {"Type": "String", "Value": TRACEPARENT}}
    event["Records"][0]["body"] = json.dumps(envelope)

    result = aws.make_handler(target("on_message"), "topic")(event, CTX)

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert seen[0]["attributes"]["type"] == "task.completed"
    assert seen[0]["correlation_id"] == TRACE_ID


def test_sns_raw_delivery_attributes_come_from_sqs_message_attributes(seen):
    # Raw message delivery: the SQS body is the message itself, attributes are SQS attributes.
    result = aws.make_handler(target("on_message"), "topic")(load("aws", "sqs_message_attributes"), CTX)
    assert result == {"batchItemFailures": []}
    assert seen[0]["body"] == {"task": "t-1"} and seen[0]["attributes"]["type"] == "task.created"


def test_sns_direct(seen):
    result = aws.make_handler(target("on_message"), "topic")(load("aws", "sns"), CTX)
    assert result is None
    (message,) = seen
    assert message["id"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert message["body"] == "Hello from SNS!"
    assert message["attributes"] == {"Test": "TestString"}  # binary attributes are not text


def test_sns_direct_failure_raises_so_lambda_retries(seen):
    event = load("aws", "sns")
    event["Records"][0]["Sns"]["Message"] = json.dumps({"fail": True})
    with pytest.raises(RuntimeError, match="asked to fail"):
        aws.make_handler(target("on_message"), "topic")(event, CTX)


# ---- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "schedule", "when", "event_id"), [
    ("eventbridge_scheduler_input", "sweeper", datetime(2025, 2, 20, 16, 5, tzinfo=UTC), "d32c5kddcf5bb8c3"),
    ("eventbridge_scheduled_event", "my-scheduled-rule", datetime(2015, 10, 8, 16, 53, 6, tzinfo=UTC),
     "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"),
    ("eventbridge_scheduler_default", "aaaaa", datetime(2025, 2, 20, 16, 3, tzinfo=UTC),
     "d167b752-343a-4b28-afd6-d4de056319e8"),
])
def test_schedules(seen, source, schedule, when, event_id):
    assert aws.make_handler(target("on_schedule"), "schedule")(load("aws", source), CTX) is None
    (event,) = seen
    assert (event["schedule"], event["time"], event["id"]) == (schedule, when, event_id)


def test_failing_schedule_raises_and_logs_error(invocation_log):
    with pytest.raises(RuntimeError, match="sweep failed"):
        aws.make_handler(target("failing_schedule"), "schedule")(load("aws", "eventbridge_scheduler_input"), CTX)
    (line,) = invocation_log()
    assert line["outcome"] == "error" and line["schedule"] == "sweeper"


# ---- bad events and bad handlers ---------------------------------------------------------------


@pytest.mark.parametrize("event", [{"foo": 1}, {"Records": []}, {"Records": [{"eventSource": "aws:s3"}]}, [], "x"])
def test_unknown_event_is_one_clear_error(event, invocation_log):
    with pytest.raises(EventError) as info:
        aws.make_handler(target("on_message"), "queue")(event, CTX)
    message = str(info.value)
    assert message.startswith("aws adapter: unrecognised event") and "expected an SQS batch" in message
    assert invocation_log()[0]["outcome"] == "rejected"


def test_event_for_another_kind_of_trigger_names_both():
    with pytest.raises(EventError, match=r"a queue function received an API Gateway HTTP API v2.*expected an SQS"):
        aws.make_handler(target("on_message"), "queue")(load("aws", "apigw_v2_get"), CTX)
    with pytest.raises(EventError, match="a http function received an SQS batch"):
        aws.make_handler(target("app"), "http")(load("aws", "sqs"), CTX)


def test_sqs_record_without_message_id_is_an_event_error_not_a_key_error():
    event = load("aws", "sqs")
    del event["Records"][0]["messageId"]
    with pytest.raises(EventError, match="SQS record field messageId is missing"):
        aws.make_handler(target("on_message"), "queue")(event, CTX)


def test_scheduler_input_with_a_malformed_time():
    event = load("aws", "eventbridge_scheduler_input")
    event["time"] = "<aws.scheduler.scheduled-time>"
    with pytest.raises(EventError, match="scheduler input time is '<aws.scheduler.scheduled-time>'"):
        aws.make_handler(target("on_schedule"), "schedule")(event, CTX)


def test_unknown_trigger_is_rejected_when_building_the_handler():
    with pytest.raises(ValueError, match="unknown trigger 'cron'; expected one of http, queue, topic, schedule"):
        aws.make_handler(target("on_schedule"), "cron")


@pytest.mark.parametrize(("handler", "expected"), [
    ("tests.runtime.no_such_module:run", "module 'tests.runtime.no_such_module' not found"),
    (target("no_such_attr"), "has no attribute 'no_such_attr'"),
    (target("not_callable"), "is a int, not a function or Router"),
    ("no-colon", "is not 'module:attribute'"),
])
def test_missing_handler_is_one_line(handler, expected):
    with pytest.raises(HandlerNotFound) as info:
        aws.make_handler(handler, "queue")(load("aws", "sqs"), CTX)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_missing_http_handler_answers_500_and_logs_the_reason(invocation_log):
    result = aws.make_handler("tests.runtime.no_such_module:app", "http")(load("aws", "apigw_v2_get"), CTX)
    assert result["statusCode"] == 500
    (line,) = invocation_log()
    assert "not found" in line["error"] and "exception" not in line  # no traceback for a config error


def test_module_level_handler_builds_itself_from_the_environment(monkeypatch, seen):
    monkeypatch.setattr(aws, "_from_env", None)
    monkeypatch.setenv("OMNICLOUD_HANDLER", target("on_message"))
    monkeypatch.setenv("OMNICLOUD_TRIGGER", "queue")
    assert aws.handler(load("aws", "sqs"), CTX) == {"batchItemFailures": []}
    assert len(seen) == 2


def test_module_level_handler_without_environment_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(aws, "_from_env", None)
    monkeypatch.delenv("OMNICLOUD_HANDLER", raising=False)
    with pytest.raises(RuntimeError, match="OMNICLOUD_HANDLER and OMNICLOUD_TRIGGER are not set"):
        aws.handler(load("aws", "sqs"), CTX)


# ---- payloads found by review -----------------------------------------------------------------


def test_alb_query_parameters_arrive_decoded_like_api_gateways():
    # An ALB target gets the query still percent-encoded; API Gateway decodes it. Same Request either way.
    event = load("aws", "alb_multi_value")
    event["multiValueQueryStringParameters"]["q"] = ["hello%20w%C3%B6rld", "a+b"]
    result = aws.make_handler(target("raw_http"), "http")(event, CTX)

    assert result["statusCode"] == 200
    seen_request = _json_body(result)
    assert seen_request["path"] == "/todos"
    assert seen_request["query_all"]["q"] == ["hello wörld", "a b"]
    assert seen_request["query_all"]["parameter1"] == ["value1", "value2"]


@pytest.mark.parametrize("attributes", [["not", "an", "object"], "text", 5])
def test_sqs_record_with_malformed_message_attributes_still_runs(seen, attributes):
    event = load("aws", "sqs")
    event["Records"][0]["messageAttributes"] = attributes
    result = aws.make_handler(target("on_message"), "queue")(event, CTX)
    assert result == {"batchItemFailures": []}
    assert [m["attributes"] for m in seen] == [{}, {}]


def test_sns_with_malformed_message_attributes_still_runs(seen):
    event = load("aws", "sns")
    event["Records"][0]["Sns"]["MessageAttributes"] = ["not", "an", "object"]
    aws.make_handler(target("on_message"), "topic")(event, CTX)
    assert [(m["body"], m["attributes"]) for m in seen] == [("Hello from SNS!", {})]


# ---- issue 10, items 15-18: stages, ALB cookies, malformed fields, events that are not HTTP ----


def test_http_api_named_stage_is_not_part_of_the_path():
    # aws-lambda-rust-runtime's real event: stage "Prod", rawPath "/Prod/my/path".
    result = aws.make_handler(target("raw_http"), "http")(load("aws", "apigw_v2_named_stage"), CTX)
    assert _json_body(result)["path"] == "/my/path"


@pytest.mark.parametrize(("stage", "raw_path", "path"), [
    ("Prod", "/Prod", "/"), ("Prod", "/Prod/", "/"), ("Prod", "/Production/x", "/Production/x"),
    ("Prod", "/other/Prod/x", "/other/Prod/x"), ("$default", "/$default/x", "/$default/x"),
    ("v1", "/v1/caf%C3%A9", "/café"),
])
def test_only_a_leading_stage_segment_is_stripped(stage, raw_path, path):
    event = load("aws", "apigw_v2_named_stage")
    event["rawPath"] = raw_path
    event["requestContext"]["stage"] = stage
    assert _json_body(aws.make_handler(target("raw_http"), "http")(event, CTX))["path"] == path


def test_router_serves_routes_below_a_named_stage():
    event = load("aws", "apigw_v2_named_stage")
    event.update(rawPath="/Prod/items/abc", rawQueryString="tag=a")
    event["requestContext"]["http"]["method"] = "GET"
    result = aws.make_handler(target("app"), "http")(event, CTX)
    assert result["statusCode"] == 200 and _json_body(result) == {"id": "abc", "q": None, "tags": ["a"]}


def _set_cookies(headers: dict[str, str]) -> list[str]:
    return [value for name, value in headers.items() if name.lower() == "set-cookie"]


def test_alb_single_value_headers_keep_every_set_cookie():
    # Without multi-value headers a target group reads only `headers`, one value per name: each cookie
    # gets its own spelling of Set-Cookie (names are case-insensitive), as Mangum does.
    event = load("aws", "alb_single_value")
    event["path"] = "/cookie"
    result = aws.make_handler(target("app"), "http")(event, CTX)
    assert "multiValueHeaders" not in result
    assert _set_cookies(result["headers"]) == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]
    assert len({name for name in result["headers"] if name.lower() == "set-cookie"}) == 2


def test_alb_multi_value_headers_answer_in_multi_value_form():
    event = load("aws", "alb_multi_value")
    event["path"] = "/cookie"
    result = aws.make_handler(target("app"), "http")(event, CTX)
    assert "headers" not in result
    assert result["multiValueHeaders"]["Set-Cookie"] == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]


def test_alb_single_value_spellings_are_distinct_for_many_cookies():
    from itertools import islice

    spellings = list(islice(aws._spellings("set-cookie"), 300))
    assert len(set(spellings)) == 300 and all(s.lower() == "set-cookie" for s in spellings)


def _set(event: dict, path: tuple[str, ...], value: object) -> dict:
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return event


@pytest.mark.parametrize(("source", "path", "value", "named"), [
    ("apigw_v2_http_api", ("headers",), ["not", "an", "object"], "headers is a list"),
    ("apigw_v2_http_api", ("headers",), 7, "headers is a number"),
    ("apigw_v2_http_api", ("headers", "header1"), ["a", "b"], "headers.header1 is a list"),
    ("apigw_v2_http_api", ("rawPath",), 42, "rawPath is a number"),
    ("apigw_v2_http_api", ("rawQueryString",), {"a": 1}, "rawQueryString is an object"),
    ("apigw_v2_http_api", ("cookies",), "a=1", "cookies is a string"),
    ("apigw_v2_http_api", ("cookies",), ["a=1", 2], "cookies is a number"),
    ("apigw_v2_http_api", ("requestContext", "http", "method"), 5, "requestContext.http.method is a number"),
    ("apigw_v2_http_api", ("requestContext", "http", "sourceIp"), ["1.2.3.4"], "sourceIp is a list"),
    ("apigw_v2_http_api", ("body",), {"json": "object"}, "body is an object"),
    ("apigw_rest_v1", ("headers",), "text", "headers is a string"),
    ("apigw_rest_v1", ("multiValueHeaders",), ["x"], "multiValueHeaders is a list"),
    ("apigw_rest_v1", ("multiValueHeaders", "Header1"), "value1", "multiValueHeaders.Header1 is a string"),
    ("apigw_rest_v1", ("multiValueQueryStringParameters", "parameter1"), [1, 2], "parameter1 is a list"),
    ("apigw_rest_v1", ("queryStringParameters",), ["a"], "queryStringParameters is a list"),
    ("apigw_rest_v1", ("path",), 3.5, "path is a number"),
    ("apigw_rest_v1", ("httpMethod",), ["GET"], "httpMethod is a list"),
])
def test_malformed_field_types_are_a_400_event_error(invocation_log, source, path, value, named):
    event = _set(load("aws", source), path, value)
    if source == "apigw_rest_v1" and path[0] in ("headers", "queryStringParameters"):
        event.pop("multiValue" + path[0][0].upper() + path[0][1:], None)  # the single-value form is read
    result = aws.make_handler(target("raw_http"), "http")(event, CTX)
    assert result["statusCode"] == 400
    message = json.loads(result["body"]) if "body" in result else None
    assert message["error"]["message"].startswith("aws adapter: ") and named in message["error"]["message"]
    (line,) = invocation_log()
    assert line["outcome"] == "rejected" and "exception" not in line  # one line, no traceback


@pytest.mark.parametrize("source", ["apigw_v2_http_api", "apigw_rest_v1", "alb_single_value", "function_url"])
@pytest.mark.parametrize("bad", [None, [], 0, 1.5, True, "text", {}, {"x": [1]}])
def test_any_field_of_any_type_is_an_answer_never_a_raw_exception(source, bad):
    # Every top-level field, and every field of requestContext, replaced by each kind of JSON value.
    fixture = load("aws", source)
    paths = [(key,) for key in fixture] + [("requestContext", key) for key in fixture.get("requestContext", {})]
    for path in paths:
        event = _set(load("aws", source), path, bad)
        try:
            result = aws.make_handler(target("raw_http"), "http")(event, CTX)
        except EventError:
            continue  # no longer an HTTP event at all (e.g. requestContext gone): refused by name
        assert result["statusCode"] in (200, 400), (path, result)


@pytest.mark.parametrize("source", ["apigw_authorizer_token", "apigw_authorizer_request", "apigw_v2_authorizer"])
def test_api_gateway_authorizer_events_are_refused_by_name(seen, invocation_log, source):
    with pytest.raises(EventError, match="a http function received an API Gateway Lambda authorizer event "
                                         r"\(omnicloud functions are not Lambda authorizers"):
        aws.make_handler(target("raw_http"), "http")(load("aws", source), CTX)
    assert seen == []
    assert invocation_log()[0]["outcome"] == "rejected"


@pytest.mark.parametrize("source", ["apigw_websocket_connect", "apigw_websocket_message"])
def test_websocket_events_are_refused_by_name(seen, source):
    with pytest.raises(EventError, match="a http function received an API Gateway WebSocket event"):
        aws.make_handler(target("raw_http"), "http")(load("aws", source), CTX)
    assert seen == []


@pytest.mark.parametrize(("record_field", "value"), [("body", 5), ("body", {"a": 1}), ("eventSourceARN", [])])
def test_sqs_record_with_a_malformed_field_is_reported_failed_alone(seen, record_field, value):
    event = load("aws", "sqs")
    event["Records"][0][record_field] = value
    bad_id, good_id = (r["messageId"] for r in event["Records"])
    result = aws.make_handler(target("on_message"), "queue")(event, CTX)
    assert result == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert [s["id"] for s in seen] == [good_id]
