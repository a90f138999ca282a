"""AWS Lambda adapter: API Gateway (v2 HTTP API, v1 REST), Function URLs, SQS, SNS, EventBridge.

The bundle's entry module is ``handler = make_handler("<module:attr>", "<trigger>")``; the
module-level ``handler`` builds itself from OMNICLOUD_HANDLER / OMNICLOUD_TRIGGER instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from time import perf_counter

from .. import context as invocation_context
from ..types import Message, Request, Response, ScheduledEvent
from . import base
from .base import EventError, HandlerNotFound

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any, Protocol

ADAPTER = "aws"
SCHEDULE_KEY = "omnicloud-schedule"

# What a function of each kind should receive, for "expected ..." in errors.
EXPECTED = {
    "http": "an API Gateway (HTTP API v2 or REST v1) or Function URL event",
    "message": "an SQS batch (Records[].eventSource 'aws:sqs') or an SNS event (Records[].EventSource 'aws:sns')",
    "schedule": f"an EventBridge Scheduler input {{{SCHEDULE_KEY!r}: ...}} or an EventBridge 'Scheduled Event'",
}

# ---- read-only event wrappers -------------------------------------------------------------


class _Wrapper:
    """A read-only view over one event dict; missing required keys are EventErrors, not KeyErrors."""

    source = "event"

    def __init__(self, data: Mapping[str, Any]):
        self._data = data

    @property
    def raw(self) -> Mapping[str, Any]:
        return self._data

    def _get(self, *path: str, default: Any = None) -> Any:
        node: Any = self._data
        for key in path:
            # Events come from json.loads: check for a plain dict before the (slower) ABC.
            if type(node) is not dict and not isinstance(node, Mapping):
                return default
            node = node.get(key)
            if node is None:
                return default
        return node

    def _require(self, *path: str, kind: type | tuple[type, ...] = str) -> Any:
        value = self._get(*path)
        if not isinstance(value, kind):
            raise self._malformed(path, value, _a(kind))
        return value

    def _optional(self, *path: str, kind: type | tuple[type, ...] = str, default: Any = None) -> Any:
        """The field if present (of `kind`, else an EventError), else `default`."""
        value = self._get(*path)
        if value is None:
            return default
        if type(value) is not kind and not isinstance(value, kind):
            raise self._malformed(path, value, _a(kind))
        return value

    def _object(self, path: tuple[str, ...], expected: str) -> Mapping[str, Any]:
        """The object at `path` ({} if absent), or an EventError saying it is not one."""
        value = self._get(*path)
        if value is None:
            return {}
        if not _is_mapping(value):
            raise self._malformed(path, value, expected)
        return value

    def _string_map(self, *path: str) -> dict[str, str]:
        """An object of strings (headers, query parameters), checked: a clear error, never a TypeError."""
        value = self._object(path, "an object of strings")
        for key, item in value.items():
            if type(item) is not str:
                raise self._malformed((*path, str(key)), item, "a string")
        return value  # type: ignore[return-value]

    def _list_map(self, *path: str) -> dict[str, list[str]]:
        """An object of lists of strings (multiValueHeaders, multiValueQueryStringParameters)."""
        value = self._object(path, "an object of lists of strings")
        for key, items in value.items():
            if items is None:
                continue
            if type(items) is not list:
                raise self._malformed((*path, str(key)), items, "a list of strings")
            for item in items:
                if type(item) is not str:
                    raise self._malformed((*path, str(key)), items, "a list of strings")
        return value  # type: ignore[return-value]

    def _malformed(self, path: tuple[str, ...], value: Any, expected: str) -> EventError:
        return EventError(ADAPTER, f"{self.source} field {'.'.join(path)} is {_a(value)}", expected)


def _a(what: Any) -> str:
    """'a string', 'an object', 'missing': a JSON value (or type) as an error message names it."""
    if what is None:
        return "missing"
    name = _names(what if isinstance(what, (type, tuple)) else type(what))
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "string", dict: "object", list: "list", int: "number", float: "number",
                        bool: "boolean"}.get(k, k.__name__) for k in kinds)


def unquote(text: str) -> str:
    from urllib.parse import unquote  # only for a path with percent-escapes: not on the cold path

    return unquote(text)


def unquote_plus(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text)


def _decode_body(body: Any, is_base64: bool, source: str) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise EventError(ADAPTER, f"{source} field body is {_a(body)}", "a string")
    if not is_base64:
        return body.encode("utf-8")
    import base64
    import binascii

    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise EventError(ADAPTER, f"{source} says isBase64Encoded but the body is not base64", "a base64 body") from None


class HttpApiV2Event(_Wrapper):
    """API Gateway HTTP API (payload format 2.0) and Lambda Function URL requests."""

    source = "HTTP API v2 event"

    def to_request(self) -> Request:
        # The fields are read once each, straight from the dicts (the warm path of every HTTP event);
        # a field of the wrong type is an EventError naming it, never a TypeError.
        data = self._data
        context = data.get("requestContext")
        if not _is_mapping(context):
            context = {}
        http = context.get("http")
        if not _is_mapping(http):
            http = {}
        method = http.get("method")
        if type(method) is not str:
            raise self._malformed(("requestContext", "http", "method"), method, "a string")
        headers = self._string_map("headers")
        cookies = data.get("cookies")
        cookie_header = None
        if cookies:
            if type(cookies) is not list:
                raise self._malformed(("cookies",), cookies, "a list of strings")
            for cookie in cookies:
                if type(cookie) is not str:
                    raise self._malformed(("cookies",), cookie, "a list of strings")
            # HTTP API moves the Cookie header into `cookies` (one entry per cookie).
            cookie_header = "; ".join(cookies)
        path = self._stageless(data.get("rawPath") or http.get("path") or "/", context.get("stage"))
        query = data.get("rawQueryString") or ""
        if type(query) is not str:
            raise self._malformed(("rawQueryString",), query, "a string")
        source_ip, request_id = http.get("sourceIp"), context.get("requestId")
        if source_ip is not None and type(source_ip) is not str:
            raise self._malformed(("requestContext", "http", "sourceIp"), source_ip, "a string")
        if request_id is not None and type(request_id) is not str:
            raise self._malformed(("requestContext", "requestId"), request_id, "a string")
        return base.http_request(
            method, unquote(path) if "%" in path else path, headers, query=query,
            body=_decode_body(data.get("body"), bool(data.get("isBase64Encoded")), self.source),
            cookie_header=cookie_header, source_ip=source_ip, request_id=request_id,
        )

    def _stageless(self, path: Any, stage: Any) -> str:
        """The path as sent (still percent-encoded), without a named stage's `/{stage}` prefix."""
        if type(path) is not str:
            raise self._malformed(("rawPath",), path, "a string")
        # An HTTP API stage other than $default is the first path segment of rawPath (the route
        # matched below it). API Gateway payload format 2.0, "rawPath":
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
        # (a real event: aws-lambda-rust-runtime lambda-http/tests/data/apigw_v2_proxy_request_with_stage_in_path.json)
        if type(stage) is str and stage and stage != "$default":
            prefix = "/" + stage
            if path == prefix:
                return "/"
            if path.startswith(prefix) and path[len(prefix)] == "/":
                return path[len(prefix):]
        return path

    def from_response(self, response: Response) -> dict[str, Any]:
        body, is_b64 = _event_body(response)
        out: dict[str, Any] = {"statusCode": response.status, "headers": dict(response.headers),
                               "body": body, "isBase64Encoded": is_b64}
        if response.cookies:
            out["cookies"] = list(response.cookies)
        return out


class RestApiV1Event(_Wrapper):
    """API Gateway REST API proxy integration (payload format 1.0) and ALB target-group requests."""

    source = "REST API v1 event"

    @property
    def method(self) -> str:
        return self._require("httpMethod")

    @property
    def path(self) -> str:
        return self._optional("path") or "/"

    @property
    def is_alb(self) -> bool:
        return self._get("requestContext", "elb") is not None

    @property
    def multi_value(self) -> bool:
        """The event carries (and so the answer must carry) multi-value headers."""
        return self._get("multiValueHeaders") is not None

    @property
    def headers(self) -> list[tuple[str, str]]:
        multi = self._list_map("multiValueHeaders")
        if multi:
            return [(name, value) for name, values in multi.items() if values for value in values]
        return list(self._string_map("headers").items())

    def query(self, alb: bool) -> list[tuple[str, str]]:
        multi = self._list_map("multiValueQueryStringParameters")
        if multi:
            pairs = [(name, value) for name, values in multi.items() if values for value in values]
        else:
            pairs = list(self._string_map("queryStringParameters").items())
        if alb:
            # An ALB target gets the query as it came, still percent-encoded (API Gateway decodes it):
            # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
            pairs = [(unquote_plus(k), unquote_plus(v)) for k, v in pairs]
        return pairs

    @property
    def body(self) -> bytes:
        return _decode_body(self._get("body"), bool(self._get("isBase64Encoded")), self.source)

    def to_request(self) -> Request:
        path, alb = self.path, self.is_alb
        return base.http_request(
            self.method, unquote(path) if alb and "%" in path else path, self.headers, query=self.query(alb),
            body=self.body, source_ip=self._optional("requestContext", "identity", "sourceIp"),
            request_id=self._optional("requestContext", "requestId"),
        )

    def from_response(self, response: Response) -> dict[str, Any]:
        body, is_b64 = _event_body(response)
        out: dict[str, Any] = {"statusCode": response.status, "body": body, "isBase64Encoded": is_b64}
        if not self.is_alb:
            # API Gateway merges both forms.
            out["headers"] = dict(response.headers)
            out["multiValueHeaders"] = _multi_value_headers(response)
        elif self.multi_value:
            # An ALB target group answers in the form its requests come in (multi-value headers on
            # or off); the other form is ignored:
            # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html#multi-value-headers
            out["multiValueHeaders"] = _multi_value_headers(response)
        else:
            out["headers"] = _single_value_headers(response)
        return out


def _multi_value_headers(response: Response) -> dict[str, list[str]]:
    multi = {k: [v] for k, v in response.headers.items()}
    if response.cookies:
        multi["Set-Cookie"] = list(response.cookies)
    return multi


def _single_value_headers(response: Response) -> dict[str, str]:
    """Headers for an ALB without multi-value headers: one value per name, so each Set-Cookie gets
    its own spelling of the name (header names are case-insensitive), as Mangum's ALB handler does
    (mangum/handlers/alb.py, case_mutated_headers); without it every cookie but one is lost."""
    headers = dict(response.headers)
    spellings = (spelling for spelling in _spellings("set-cookie") if spelling not in headers)
    for cookie in response.cookies:
        headers[next(spellings)] = cookie
    return headers


def _spellings(name: str):
    """Distinct spellings of `name` that differ only in letter case, lower case first."""
    letters = [i for i, char in enumerate(name) if char.isalpha()]
    for n in range(2 ** len(letters)):
        chars = list(name.lower())
        for bit, i in enumerate(letters):
            if n >> bit & 1:
                chars[i] = chars[i].upper()
        yield "".join(chars)


def _event_body(response: Response) -> tuple[str, bool]:
    """The response body as Lambda's answer carries it: (text, whether it is base64)."""
    text = response._json_text()
    return (text, False) if text is not None else _encode_body(response.body_bytes())


def _encode_body(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        return base64.b64encode(data).decode("ascii"), True


class SnsNotification(_Wrapper):
    """An SNS notification: the `Sns` object of a direct record, or the envelope in an SQS body."""

    source = "SNS notification"

    @property
    def message_id(self) -> str:
        return self._require("MessageId")

    @property
    def message(self) -> str:
        return self._optional("Message", default="")

    @property
    def topic_arn(self) -> str:
        return self._optional("TopicArn", default="")

    @property
    def timestamp(self) -> datetime | None:
        return base.parse_time(self._get("Timestamp"), ADAPTER, "SNS Timestamp")

    @property
    def attributes(self) -> dict[str, str]:
        attrs = self._get("MessageAttributes")
        if not _is_mapping(attrs):
            return {}
        return {str(k): str(v.get("Value")) for k, v in attrs.items()
                if isinstance(v, Mapping) and v.get("Type") != "Binary" and v.get("Value") is not None}

    def to_message(self, delivery_attempt: int = 1) -> Message:
        body, attributes = _decoded_body(self.message, self.attributes)
        return Message(id=self.message_id, body=body, attributes=attributes,
                       delivery_attempt=delivery_attempt, source=self.topic_arn, published_at=self.timestamp)


class SqsRecord(_Wrapper):
    """One SQS record; its body may be an SNS envelope (SNS -> SQS without raw message delivery)."""

    source = "SQS record"

    @property
    def message_id(self) -> str:
        value = self._data.get("messageId")
        if type(value) is str or isinstance(value, str):
            return value
        raise self._malformed(("messageId",), value, "a string")

    @property
    def body(self) -> str:
        body = self._data.get("body")
        if body is None:
            return ""
        if type(body) is str or isinstance(body, str):
            return body
        raise self._malformed(("body",), body, "a string")

    @property
    def receive_count(self) -> int:
        return _receive_count(self._get("attributes", "ApproximateReceiveCount", default=1))

    @property
    def sent_at(self) -> datetime | None:
        return base.parse_time(self._get("attributes", "SentTimestamp"), ADAPTER, "SQS SentTimestamp")

    @property
    def source_arn(self) -> str:
        return self._optional("eventSourceARN", default="")

    @property
    def message_attributes(self) -> dict[str, str]:
        # Raw SNS delivery lands the SNS attributes here too.
        attrs = self._data.get("messageAttributes")
        out: dict[str, str] = {}
        if not attrs or not _is_mapping(attrs):
            return out
        for key, value in attrs.items():
            try:
                text = value["stringValue"] if type(value) is dict or isinstance(value, Mapping) else None
            except KeyError:
                continue
            if text is not None:
                out[key if type(key) is str else str(key)] = text if type(text) is str else str(text)
        return out

    @property
    def sns_envelope(self) -> SnsNotification | None:
        return _sns_envelope(self.body)
    def to_message(self, message_id: str | None = None) -> Message:
        # Once per record of every batch: what a handler always reads (id, body, source) is checked
        # and set here; the attributes, receive count and send time stay in the record until read.
        data = self._data
        body = data.get("body")
        if body is None:
            body = ""
        elif type(body) is not str and not isinstance(body, str):
            raise self._malformed(("body",), body, "a string")
        source = data.get("eventSourceARN")
        if source is None:
            source = ""
        elif type(source) is not str and not isinstance(source, str):
            raise self._malformed(("eventSourceARN",), source, "a string")
        attributes = data.get("messageAttributes")
        system = data.get("attributes")
        sent = system.get("SentTimestamp") if type(system) is dict else None
        if ('"TopicArn"' in body or (attributes and (type(attributes) is not dict or BODY_ENCODING_ATTRIBUTE in attributes))
                or (sent is not None and not (type(sent) is str and sent.isdecimal()))):
            return self._decoded_message(message_id, body, source)
        return _message_from_wire(message_id or self.message_id, body.encode(), source, _decode_sqs_fields, data)

    def _decoded_message(self, message_id: str | None, body: str, source: str) -> Message:
        """The message of a record that needs more than copying: an SNS envelope in the body, a body
        runtime/backends/aws.py encoded, a send time to check."""
        count = self.receive_count
        envelope = _sns_envelope(body)
        if envelope is not None:
            message = envelope.to_message(count)
            message.attributes = {**self.message_attributes, **message.attributes}
            return message
        attributes = self.message_attributes
        if BODY_ENCODING_ATTRIBUTE in attributes:
            body_bytes, attributes = _decoded_body(body, attributes)
        else:
            body_bytes = body.encode("utf-8")
        return Message(message_id or self.message_id, body_bytes, attributes, count, source, published_at=self.sent_at)


_message_from_wire = Message._from_wire


def _decode_sqs_fields(message: Message, data: dict[str, Any], name: str) -> None:
    """Message._from_wire's decoder for an SQS record: attributes, receive count and send time."""
    record = SqsRecord(data)
    fields = message.__dict__  # a field the handler has set already keeps its value
    if "attributes" not in fields:
        fields["attributes"] = record.message_attributes
    if "delivery_attempt" not in fields:
        fields["delivery_attempt"] = record.receive_count
    if "published_at" not in fields:
        fields["published_at"] = record.sent_at


def _receive_count(count: Any) -> int:
    if type(count) is str and count.isdecimal():  # what SQS sends
        return int(count) or 1
    try:
        return max(1, int(count))
    except (TypeError, ValueError):
        return 1


def _sns_envelope(body: str) -> SnsNotification | None:
    """The SNS notification an SQS body carries (SNS -> SQS without raw message delivery), if any."""
    if '"TopicArn"' not in body or not body.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data and "MessageId" in data:
        return SnsNotification(data)
    return None


# What runtime/backends/aws.py marks a body with when SQS/SNS text could not carry it as sent.
BODY_ENCODING_ATTRIBUTE = "body-encoding"


def _decoded_body(text: str, attributes: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    if attributes.get(BODY_ENCODING_ATTRIBUTE) != "base64":
        return text.encode("utf-8"), attributes
    import base64

    try:
        body = base64.b64decode(text, validate=True)
    except ValueError:
        raise EventError(ADAPTER, "a message marked body-encoding: base64 is not base64", "a base64 body") from None
    return body, {k: v for k, v in attributes.items() if k != BODY_ENCODING_ATTRIBUTE}


# ---- adapters -----------------------------------------------------------------------------


if TYPE_CHECKING:
    class Adapter(Protocol):
        name: str
        kind: str

        def infer(self, event: Any, context: Any) -> bool: ...

        def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> Any: ...


def _is_mapping(value: Any) -> bool:
    # Events come from json.loads: a plain dict is checked before the (slower) ABC.
    return type(value) is dict or isinstance(value, Mapping)


def _records(event: Any) -> list[Any]:
    records = event.get("Records") if _is_mapping(event) else None
    return records if type(records) is list else []


def _request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)


class _Refused:
    """An event shape omnicloud recognises only to refuse it by name: never run as an HTTP request."""

    kind = "unsupported"

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> Any:
        raise AssertionError("refused events are never handled")  # make_handler refuses them first


class AuthorizerAdapter(_Refused):
    """An API Gateway Lambda authorizer call (REST TOKEN/REQUEST, HTTP API REQUEST): it expects an
    IAM policy or {"isAuthorized": ...} back, which an omnicloud function does not produce."""

    name = "API Gateway Lambda authorizer event"
    hint = ("omnicloud functions are not Lambda authorizers; authenticate inside the handler "
            "(the agent platform checks API keys and JWTs itself)")

    def infer(self, event: Any, context: Any) -> bool:
        # REST authorizers get {"type": "TOKEN" | "REQUEST", "methodArn", ...}
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html),
        # HTTP API ones {"version", "type": "REQUEST", "routeArn", ...}
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
        return (_is_mapping(event) and event.get("type") in ("TOKEN", "REQUEST")
                and ("methodArn" in event or "routeArn" in event))


class WebSocketAdapter(_Refused):
    """An API Gateway WebSocket API event ($connect, $disconnect, messages): no HTTP request to answer."""

    name = "API Gateway WebSocket event"
    hint = "omnicloud serves HTTP APIs only; WebSocket APIs are not supported"

    def infer(self, event: Any, context: Any) -> bool:
        # Every WebSocket route's event names its connection and event type (CONNECT, MESSAGE,
        # DISCONNECT) in requestContext ($connect and $disconnect routes:
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html;
        # real events: aws/aws-lambda-go events/testdata/apigw-websocket-request*.json).
        request_context = event.get("requestContext") if _is_mapping(event) else None
        return (_is_mapping(request_context) and "connectionId" in request_context
                and "eventType" in request_context)


class _HttpAdapter:
    kind = "http"
    wrapper: type[HttpApiV2Event] | type[RestApiV1Event]

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        wrapped = self.wrapper(event)
        try:
            request = wrapped.to_request()
        except EventError as exc:
            base.reject(trigger, exc, invocation_id=_request_id(context), consequence="answered 400")
            return wrapped.from_response(Response.error(400, "bad_request", str(exc)))
        response = base.run_http(target, request, invocation_id=_request_id(context) or request.request_id)
        return wrapped.from_response(response)


class HttpApiV2Adapter(_HttpAdapter):
    name = "API Gateway HTTP API v2 / Function URL event"
    wrapper = HttpApiV2Event

    def infer(self, event: Any, context: Any) -> bool:
        return (_is_mapping(event) and event.get("version") == "2.0"
                and _is_mapping(event.get("requestContext")) and "http" in event["requestContext"])


class RestApiV1Adapter(_HttpAdapter):
    name = "API Gateway REST v1 event"
    wrapper = RestApiV1Event

    def infer(self, event: Any, context: Any) -> bool:
        return _is_mapping(event) and "httpMethod" in event and "requestContext" in event


class SqsAdapter:
    """SQS batches; reports exactly the failed records in batchItemFailures."""

    name = "SQS batch"
    kind = "message"

    def infer(self, event: Any, context: Any) -> bool:
        records = _records(event)
        return bool(records) and _is_mapping(records[0]) and records[0].get("eventSource") == "aws:sqs"

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        # A failed record logs its own line (message id, correlation id, error); the others are
        # summed up in one line for the batch.
        started = perf_counter()
        failures: list[str] = []
        request_id = _request_id(context)
        function = invocation_context.function_name()  # once per batch, not per record
        records = _records(event)
        record = SqsRecord({})  # one read-only view, moved from record to record
        run = base.message_runner(target, trigger, request_id, function)
        for raw in records:
            record._data = data = raw if type(raw) is dict or _is_mapping(raw) else {}
            message_id = data.get("messageId")
            if type(message_id) is not str:
                message_id = record.message_id  # a string after all, or the EventError naming the field
            # FIFO: once a record fails, later ones in the batch must not overtake it.
            if failures and record.source_arn.endswith(".fifo"):
                failures.append(message_id)
                continue
            try:
                message = record.to_message(message_id)
            except EventError as exc:
                base.reject(trigger, exc, invocation_id=message_id, message_id=message_id,
                            consequence="reported as failed; SQS redrives it to the dead-letter queue after max_retries")
                failures.append(message_id)
                continue
            try:
                run(message)
            except HandlerNotFound:
                raise
            except Exception:
                failures.append(message_id)
        base.log_batch(trigger, len(records), len(failures), (perf_counter() - started) * 1000,
                       invocation_id=request_id, function=function)
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


class SnsAdapter:
    """SNS invoking the function directly (asynchronous invoke: raise to have Lambda retry)."""

    name = "SNS event"
    kind = "message"

    def infer(self, event: Any, context: Any) -> bool:
        records = _records(event)
        return bool(records) and _is_mapping(records[0]) and records[0].get("EventSource") == "aws:sns"

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> None:
        for record in _records(event):
            sns = record.get("Sns") if isinstance(record, Mapping) else None
            if not isinstance(sns, Mapping):
                raise EventError(ADAPTER, "SNS record has no Sns object", "Records[].Sns with MessageId and Message")
            base.run_message(target, SnsNotification(sns).to_message(), trigger=trigger,
                             invocation_id=_request_id(context))
        return None


class SchedulerInputAdapter:
    """EventBridge Scheduler with the target input the AWS provider writes."""

    name = "EventBridge Scheduler input"
    kind = "schedule"

    def infer(self, event: Any, context: Any) -> bool:
        return _is_mapping(event) and SCHEDULE_KEY in event

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> None:
        name = event.get(SCHEDULE_KEY)
        if not isinstance(name, str):
            raise EventError(ADAPTER, f"{SCHEDULE_KEY} is a {type(name).__name__}", "the schedule's name (a string)")
        when = base.parse_time(event.get("time"), ADAPTER, "scheduler input time") or _now()
        scheduled = ScheduledEvent(time=when, schedule=name, id=str(event.get("id") or _request_id(context) or ""))
        base.run_schedule(target, scheduled, invocation_id=_request_id(context))


class ScheduledEventAdapter:
    """A classic EventBridge rule (or Scheduler default payload): detail-type 'Scheduled Event'."""

    name = "EventBridge Scheduled Event"
    kind = "schedule"

    def infer(self, event: Any, context: Any) -> bool:
        return (_is_mapping(event) and event.get("detail-type") == "Scheduled Event"
                and event.get("source") in ("aws.events", "aws.scheduler"))

    def handle(self, target: str, trigger: str, event: Mapping[str, Any], context: Any) -> None:
        resources = event.get("resources") or []
        arn = str(resources[0]) if isinstance(resources, list) and resources else ""
        scheduled = ScheduledEvent(
            time=base.parse_time(event.get("time"), ADAPTER, "event time") or _now(),
            schedule=arn.rsplit("/", 1)[-1], id=str(event.get("id") or ""),
        )
        base.run_schedule(target, scheduled, invocation_id=_request_id(context))


def _now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# First match wins; the more specific shapes come first (authorizer and WebSocket events also
# look like HTTP requests, so they are recognised before the HTTP adapters).
ADAPTERS: tuple[Adapter, ...] = (
    SchedulerInputAdapter(), ScheduledEventAdapter(), SqsAdapter(), SnsAdapter(),
    AuthorizerAdapter(), WebSocketAdapter(), HttpApiV2Adapter(), RestApiV1Adapter(),
)


def make_handler(target: str, trigger: str) -> Callable[[Any, Any], Any]:
    """The Lambda handler for the neutral handler `target` ("module:attr") behind `trigger`."""
    kind = base.trigger_kind(trigger)
    # The adapters of this kind are asked first (an event matches one adapter; the refused shapes,
    # which also look like HTTP requests, stay ahead of the HTTP adapters); the others only name
    # what arrived instead.
    adapters = (*(a for a in ADAPTERS if a.kind == kind or (kind == "http" and isinstance(a, _Refused))),
                *(a for a in ADAPTERS if a.kind != kind and not (kind == "http" and isinstance(a, _Refused))))

    def handler(event: Any, context: Any) -> Any:
        base.configure_logging()
        for adapter in adapters:
            if adapter.infer(event, context):
                break
        else:
            adapter = None
        if adapter is None:
            error = EventError(ADAPTER, f"unrecognised event ({base.describe(event)})", EXPECTED[kind])
        elif adapter.kind != kind:
            hint = getattr(adapter, "hint", None)
            error = EventError(ADAPTER, f"a {trigger} function received an {adapter.name}"
                               + (f" ({hint})" if hint else ""), EXPECTED[kind])
        else:
            return adapter.handle(target, trigger, event, context)
        base.reject(trigger, error, invocation_id=_request_id(context), consequence="invocation failed")
        raise error

    handler.__qualname__ = f"omnicloud_handler[{target}]"
    return handler


_from_env: Callable[[Any, Any], Any] | None = None


def handler(event: Any, context: Any) -> Any:
    """The Lambda handler built from OMNICLOUD_HANDLER and OMNICLOUD_TRIGGER on first call."""
    global _from_env
    if _from_env is None:
        target, trigger = os.environ.get("OMNICLOUD_HANDLER"), os.environ.get("OMNICLOUD_TRIGGER")
        if not target or not trigger:
            raise RuntimeError("aws adapter: OMNICLOUD_HANDLER and OMNICLOUD_TRIGGER are not set; "
                               "the provider sets them, so redeploy the function")
        _from_env = make_handler(target, trigger)
    return _from_env(event, context)
