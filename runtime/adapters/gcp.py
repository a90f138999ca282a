"""Google Cloud Functions gen2 adapter (functions-framework HTTP entry point).

HTTP requests, Pub/Sub push deliveries (wrapped JSON envelope or unwrapped payload) and Cloud
Scheduler calls all arrive as HTTP. Push answers 2xx to ack and 5xx when the handler raised,
so Pub/Sub redelivers (then dead-letters). The bundle's main.py is
``handle = make_entry("<module:attr>", "<trigger>")``. flask is never imported here: the
entry reads the request it is given and returns a (body, status, headers) tuple.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .. import context as invocation_context
from ..types import Headers, Message, Request, Response, ScheduledEvent
from . import base
from .base import EventError, HandlerNotFound

if TYPE_CHECKING:
    import flask

ADAPTER = "gcp"
SCHEDULE_KEY = "omnicloud-schedule"
PUSH_HEADER = "x-goog-pubsub-"
AUTHORIZATION = "authorization"
FORWARDED_AUTHORIZATION = "x-forwarded-authorization"
EXECUTION_ID = "Function-Execution-Id"

FlaskResult = tuple[bytes, int, list[tuple[str, str]]]

EXPECTED = {
    "message": "a Pub/Sub push (a JSON body with a 'message' object, or an unwrapped payload with "
               "x-goog-pubsub-message-id headers)",
    "schedule": f"a Cloud Scheduler POST (X-CloudScheduler headers, body {{{SCHEDULE_KEY!r}: ...}})",
}

# Headers that an unwrapped push carries but that are not message attributes.
_NOT_ATTRIBUTES = {
    "host", "user-agent", "content-length", "content-type", "accept", "accept-encoding", "authorization",
    "connection", "from", "forwarded", "via", "te", "keep-alive", "transfer-encoding", "traceparent",
    "tracestate", "x-cloud-trace-context", "function-execution-id", "x-real-ip", "x-request-id",
}
_NOT_ATTRIBUTE_PREFIXES = ("x-forwarded-", "x-goog-", "x-google-", "x-appengine-", "x-serverless-", "x-envoy-")


def _flask_result(response: Response) -> FlaskResult:
    body = response.body_bytes()
    headers = [(k, v) for k, v in response.headers.items()]
    headers += [("Set-Cookie", cookie) for cookie in response.cookies]
    return body, response.status, headers


def _plain(status: int, text: str) -> FlaskResult:
    return text.encode("utf-8"), status, [("Content-Type", "text/plain; charset=utf-8")]


class PushRequest:
    """Read-only view of the parts of a flask request the adapters use."""

    def __init__(self, request: flask.Request):
        self._request = request
        self.headers = Headers.from_wire(list(request.headers.items()))
        self.method = (request.method or "GET").upper()
        self.body: bytes = request.get_data() or b""
        self._json: Any = self  # not parsed yet (adapters ask for it more than once per request)

    @property
    def path(self) -> str:
        return self._request.path or "/"

    @property
    def query_string(self) -> str:
        raw = self._request.query_string or b""
        return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)

    @property
    def execution_id(self) -> str | None:
        return self.headers.get(EXECUTION_ID)

    def json_object(self) -> dict[str, Any] | None:
        if self._json is self:
            self._json = self._parse_json()
        return self._json

    def _parse_json(self) -> dict[str, Any] | None:
        if not self.body.lstrip().startswith(b"{"):
            return None
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def to_request(self) -> Request:
        headers: Headers | list[tuple[str, str]] = self.headers
        gateway_authorization = None
        caller_authorization = headers.get(FORWARDED_AUTHORIZATION)
        if caller_authorization is not None or AUTHORIZATION in headers:
            # HTTP functions are IAM-private behind API Gateway, whose x-google-backend with
            # jwt_audience puts its own Google-signed ID token in Authorization and moves the
            # caller's Authorization to X-Forwarded-Authorization (Cloud Endpoints / ESPv2, which
            # API Gateway runs: https://cloud.google.com/endpoints/docs/openapi/migrate-to-esp-v2
            # "Handle JWTs in the backend service"; GoogleCloudPlatform/esp-v2
            # src/envoy/http/backend_auth/README.md). So Authorization here is the platform's
            # credential, never the caller's: handlers get the caller's back in Authorization,
            # and the gateway's as request.gateway_authorization.
            gateway_authorization = headers.get(AUTHORIZATION)
            headers = [(name, value) for name, value in self._request.headers.items()
                       if name.lower() not in (AUTHORIZATION, FORWARDED_AUTHORIZATION)]
            if caller_authorization is not None:
                headers.append(("Authorization", caller_authorization))
        return base.http_request(
            self.method, self.path, headers, query=self.query_string, body=self.body,
            source_ip=base.first_ip(self.headers.get("x-forwarded-for")) or self._request.remote_addr,
            request_id=self.execution_id, gateway_authorization=gateway_authorization,
        )


class WrappedPush:
    """The standard push envelope: {"message": {data, attributes, messageId, publishTime}, "subscription", "deliveryAttempt"}."""

    def __init__(self, envelope: Mapping[str, Any]):
        self._envelope = envelope
        message = envelope.get("message")
        if not isinstance(message, Mapping):
            raise EventError(ADAPTER, "push body has no 'message' object", EXPECTED["message"])
        self._message = message

    @property
    def message_id(self) -> str:
        value = self._message.get("messageId") or self._message.get("message_id")
        if not isinstance(value, str) or not value:
            raise EventError(ADAPTER, "push message has no messageId", "message.messageId (a string)")
        return value

    @property
    def data(self) -> bytes:
        raw = self._message.get("data")
        if raw in (None, ""):
            return b""
        if not isinstance(raw, str):
            raise EventError(ADAPTER, f"push message.data is a {type(raw).__name__}", "base64 text")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise EventError(ADAPTER, "push message.data is not valid base64", "base64 text") from None

    @property
    def attributes(self) -> dict[str, str]:
        attrs = self._message.get("attributes") or {}
        if not isinstance(attrs, Mapping):
            raise EventError(ADAPTER, f"push message.attributes is a {type(attrs).__name__}", "an object of strings")
        return {str(k): str(v) for k, v in attrs.items()}

    @property
    def publish_time(self) -> datetime | None:
        value = self._message.get("publishTime") or self._message.get("publish_time")
        return base.parse_time(value, ADAPTER, "push message.publishTime")

    @property
    def delivery_attempt(self) -> int:
        # Present only when the subscription has a dead-letter policy.
        try:
            return max(1, int(self._envelope.get("deliveryAttempt") or 1))
        except (TypeError, ValueError):
            return 1

    @property
    def subscription(self) -> str:
        return str(self._envelope.get("subscription") or "")

    def to_message(self) -> Message:
        return Message(id=self.message_id, body=self.data, attributes=self.attributes,
                       delivery_attempt=self.delivery_attempt, source=self.subscription,
                       published_at=self.publish_time)


def _unwrapped_message(push: PushRequest) -> Message:
    """Payload unwrapping with write-metadata: the body is the data, attributes are headers."""
    headers = push.headers
    message_id = headers.get(PUSH_HEADER + "message-id")
    if not message_id:
        raise EventError(ADAPTER, "unwrapped push has no x-goog-pubsub-message-id header", EXPECTED["message"])
    attributes = {
        name.lower(): value for name, value in headers.items()
        if name.lower() not in _NOT_ATTRIBUTES and not name.lower().startswith(_NOT_ATTRIBUTE_PREFIXES)
    }
    return Message(
        id=message_id, body=push.body, attributes=attributes, delivery_attempt=1,
        source=headers.get(PUSH_HEADER + "subscription-name", ""),
        published_at=base.parse_time(headers.get(PUSH_HEADER + "publish-time"), ADAPTER, "x-goog-pubsub-publish-time"),
    )


# ---- adapters -----------------------------------------------------------------------------


class Adapter(Protocol):
    name: str
    kind: str

    def infer(self, push: PushRequest) -> bool: ...

    def handle(self, target: str, trigger: str, push: PushRequest) -> FlaskResult: ...


class HttpAdapter:
    name = "HTTP request"
    kind = "http"

    def infer(self, push: PushRequest) -> bool:
        return True

    def handle(self, target: str, trigger: str, push: PushRequest) -> FlaskResult:
        return _flask_result(base.run_http(target, push.to_request(), invocation_id=push.execution_id))


class _PushAdapter:
    kind = "message"

    def message(self, push: PushRequest) -> Message:
        raise NotImplementedError

    def handle(self, target: str, trigger: str, push: PushRequest) -> FlaskResult:
        try:
            message = self.message(push)
        except EventError as exc:
            base.reject(trigger, exc, invocation_id=push.execution_id, traceparent=push.headers.get("traceparent"),
                        consequence="answered 400; Pub/Sub retries it, then dead-letters it after max_retries")
            return _plain(400, str(exc))
        early = _hold_until_due(message)
        if early is not None:
            return early
        traceparent = message.attributes.get(invocation_context.TRACEPARENT) or push.headers.get("traceparent")
        try:
            base.run_message(target, message, trigger=trigger, invocation_id=push.execution_id, traceparent=traceparent)
        except HandlerNotFound as exc:
            return _plain(500, str(exc))
        except Exception:
            return _plain(500, f"message {message.id} failed (attempt {message.delivery_attempt}); Pub/Sub will redeliver it")
        return b"", 204, []


# Set by runtime/backends/gcp.py for Queue.send(delay_seconds=...): Pub/Sub has no delayed delivery.
NOT_BEFORE_ATTRIBUTE = "omnicloud-not-before"
# Longest wait served in-request; a later message is refused (503) and Pub/Sub redelivers it
# after its retry backoff, which counts as a delivery attempt.
MAX_HOLD_SECONDS = 30.0


def _hold_until_due(message: Message) -> FlaskResult | None:
    """Wait for a delayed message to fall due (a 503 if it is too far off); None to run it now."""
    raw = message.attributes.pop(NOT_BEFORE_ATTRIBUTE, None)
    if raw is None:
        return None
    try:
        due = float(raw)
    except ValueError:
        return None  # not ours to judge: run it rather than lose it
    import time

    wait = due - time.time()
    if wait > MAX_HOLD_SECONDS:
        return _plain(503, f"message {message.id} is delayed for {wait:.0f}s more; Pub/Sub will redeliver it")
    if wait > 0:
        time.sleep(wait)
    return None


class WrappedPushAdapter(_PushAdapter):
    name = "Pub/Sub push"

    def infer(self, push: PushRequest) -> bool:
        data = push.json_object()
        return data is not None and "message" in data

    def message(self, push: PushRequest) -> Message:
        return WrappedPush(push.json_object() or {}).to_message()


class UnwrappedPushAdapter(_PushAdapter):
    name = "Pub/Sub push (unwrapped)"

    def infer(self, push: PushRequest) -> bool:
        return PUSH_HEADER + "message-id" in push.headers

    def message(self, push: PushRequest) -> Message:
        return _unwrapped_message(push)


class SchedulerAdapter:
    name = "Cloud Scheduler request"
    kind = "schedule"

    def infer(self, push: PushRequest) -> bool:
        return push.headers.get("x-cloudscheduler", "").lower() == "true" or (
            (push.json_object() or {}).get(SCHEDULE_KEY) is not None)

    def handle(self, target: str, trigger: str, push: PushRequest) -> FlaskResult:
        try:
            event = self.event(push)
        except EventError as exc:
            base.reject(trigger, exc, invocation_id=push.execution_id, consequence="answered 400")
            return _plain(400, str(exc))
        try:
            base.run_schedule(target, event, invocation_id=push.execution_id,
                              traceparent=push.headers.get("traceparent"))
        except Exception:
            return _plain(500, f"schedule {event.schedule!r} failed; Cloud Scheduler retries per its retry config")
        return b"", 204, []

    @staticmethod
    def event(push: PushRequest) -> ScheduledEvent:
        body = push.json_object()
        if push.body.strip() and body is None:
            raise EventError(ADAPTER, "Cloud Scheduler body is not a JSON object", EXPECTED["schedule"])
        job = push.headers.get("x-cloudscheduler-jobname", "")
        name = (body or {}).get(SCHEDULE_KEY) or job.rsplit("/", 1)[-1]
        when = base.parse_time(push.headers.get("x-cloudscheduler-scheduletime"), ADAPTER,
                               "X-CloudScheduler-ScheduleTime") or datetime.now(UTC)
        return ScheduledEvent(time=when, schedule=str(name), id=f"{job or name}@{when.isoformat()}")


# Which adapters serve a function of each kind, first match wins.
ADAPTERS: dict[str, tuple[Adapter, ...]] = {
    "http": (HttpAdapter(),),
    "message": (WrappedPushAdapter(), UnwrappedPushAdapter()),
    "schedule": (SchedulerAdapter(),),
}


def make_entry(target: str, trigger: str) -> Callable[[flask.Request], FlaskResult]:
    """The functions-framework entry point for handler `target` behind `trigger`."""
    kind = base.trigger_kind(trigger)
    adapters = ADAPTERS[kind]

    def handle(request: flask.Request) -> FlaskResult:
        base.configure_logging()
        push = PushRequest(request)
        adapter = next((a for a in adapters if a.infer(push)), None)
        if adapter is not None:
            return adapter.handle(target, trigger, push)
        detail = "not JSON" if push.json_object() is None else base.describe(push.json_object())
        error = EventError(ADAPTER, f"a {trigger} function received a {push.method} request whose body is {detail}",
                           EXPECTED[kind])
        consequence = "answered 400" + ("; Pub/Sub retries it, then dead-letters it after max_retries"
                                        if kind == "message" else "")
        base.reject(trigger, error, invocation_id=push.execution_id, consequence=consequence)
        return _plain(400, str(error))

    handle.__qualname__ = f"omnicloud_entry[{target}]"
    return handle
