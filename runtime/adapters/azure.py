"""Azure Functions adapter (Python v2 model): HTTP, Service Bus queue/topic and timer triggers.

The rendered ``function_app.py`` (see azure_templates.py) registers the trigger and calls
``handle_http``, ``handle_message`` or ``handle_timer`` here. azure.functions is imported only
when a response object has to be built, never when this module is imported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .. import context as invocation_context
from ..types import Message, Request, Response, ScheduledEvent
from . import base
from .base import EventError

if TYPE_CHECKING:
    import azure.functions as func

ADAPTER = "azure"
log = logging.getLogger("omnicloud.adapter")


def _invocation_id(context: Any) -> str | None:
    return getattr(context, "invocation_id", None)


def _host_traceparent(context: Any) -> str | None:
    """The W3C traceparent the Functions host created for this invocation, if any."""
    trace = getattr(context, "trace_context", None)
    return getattr(trace, "trace_parent", None) or None


# ---- HTTP ---------------------------------------------------------------------------------


def to_request(req: func.HttpRequest, context: Any = None) -> Request:
    """func.HttpRequest -> Request (path from the URL; the host's route prefix is empty)."""
    try:
        method, url, body, headers = req.method, req.url, req.get_body(), req.headers
        if not isinstance(headers, Mapping):
            raise AttributeError
    except AttributeError:
        raise EventError(ADAPTER, f"the HTTP trigger passed {base.describe(req)}", "an azure.functions.HttpRequest") from None
    parts = urlsplit(url or "/")
    # The query comes from the URL, not req.params: the host's params keep a repeated key's last
    # value, every other adapter its first (runtime/adapters/base.http_request).
    return base.http_request(
        # Decoded, as API Gateway (rawPath) and functions-framework (PATH_INFO) give it.
        method or "GET", unquote(parts.path) or "/", headers, query=parts.query, body=body or b"",
        # The host's headers (names in lower case, looked up case-insensitively) are decoded when read.
        source_ip=base.first_ip(headers.get("x-forwarded-for") or headers.get("X-Forwarded-For")),
        request_id=_invocation_id(context),
    )


def to_http_response(response: Response) -> func.HttpResponse:
    import azure.functions as func

    body = response.body_bytes()
    headers = response.headers
    if any(k.lower() == "set-cookie" for k in headers):
        headers = {k: v for k, v in headers.items() if k.lower() != "set-cookie"}
    content_type = headers.get("content-type") or next(
        (v for k, v in headers.items() if k.lower() == "content-type"), None)
    out = func.HttpResponse(body=body, status_code=response.status, headers=headers,
                            mimetype=content_type.split(";")[0].strip() if content_type else None)
    for cookie in response.cookies:
        out.headers.add("Set-Cookie", host_cookie(cookie))
    return out


# Set-Cookie attributes the Functions host carries (RpcHttpCookie: name, value, domain, path,
# expires, secure, http_only, same_site, max_age).
_HOST_COOKIE_ATTRIBUTES = {"domain", "path", "expires", "max-age", "secure", "httponly", "samesite"}


def host_cookie(set_cookie: str) -> str:
    """A Set-Cookie line the Azure Functions host will not lose.

    azure.functions hands every Set-Cookie to http.cookies.SimpleCookie, and the worker passes on
    what that parsed as RpcHttpCookie fields (azure-functions-python-library azure/functions/http.py
    HttpResponseConverter.encode; azure-functions-python-worker bindings/datumdef.py
    parse_to_rpc_http_cookie_list). SimpleCookie gives up on the whole line, silently, at a value
    that is not a token (JSON: quotes, commas) or an attribute it does not know (Partitioned), and
    the cookie vanishes. So the line is rebuilt with SimpleCookie itself: the value quoted where it
    must be (the worker reads it back unquoted), and the attributes the host has no field for
    left out, with a warning naming them.
    """
    from http.cookies import CookieError, SimpleCookie

    first, *attributes = set_cookie.split(";")
    name, _, value = first.strip().partition("=")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar[name] = value
    except CookieError:
        log.warning("azure adapter: cookie name %r is not a token; the Functions host drops it", name)
        return set_cookie
    morsel = jar[name]
    lost = []
    for attribute in attributes:
        key, eq, attr_value = attribute.strip().partition("=")
        lowered = key.lower()
        if not key:
            continue
        if lowered not in _HOST_COOKIE_ATTRIBUTES:
            lost.append(key)
        elif lowered in ("secure", "httponly"):
            morsel[lowered] = True
        else:
            morsel[lowered] = attr_value if eq else ""
    if lost:
        log.warning("azure adapter: cookie %r sent without %s: the Functions host has no field for %s",
                    name, ", ".join(lost), "it" if len(lost) == 1 else "them")
    else:
        as_sent = SimpleCookie()
        as_sent.load(set_cookie)
        if name in as_sent and as_sent[name].value == value:
            return set_cookie  # the host reads it as it is
    return morsel.OutputString()


def handle_http(target: str, req: func.HttpRequest, context: Any = None) -> func.HttpResponse:
    base.configure_logging()
    try:
        request = to_request(req, context)
    except EventError as exc:
        base.reject("http", exc, invocation_id=_invocation_id(context), consequence="answered 400")
        return to_http_response(Response.error(400, "bad_request", str(exc)))
    traceparent = request._traceparent() or _host_traceparent(context)  # without decoding the other headers
    return to_http_response(base.run_http(target, request, invocation_id=_invocation_id(context),
                                          traceparent=traceparent))


# ---- Service Bus --------------------------------------------------------------------------


def _property_text(value: Any) -> str:
    """An application property as the string attribute other clouds would carry (true, not True)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def to_message(msg: func.ServiceBusMessage) -> Message:
    """func.ServiceBusMessage -> Message: id, delivery count, application properties, correlation id."""
    try:
        message_id, body = msg.message_id, msg.get_body()
    except AttributeError:
        raise EventError(ADAPTER, f"the Service Bus trigger passed {base.describe(msg)}",
                         "an azure.functions.ServiceBusMessage") from None
    if not message_id:
        raise EventError(ADAPTER, "Service Bus message has no message_id", "a message id")
    properties = getattr(msg, "application_properties", None) or getattr(msg, "user_properties", None) or {}
    if not isinstance(properties, Mapping):
        properties = {}
    enqueued = getattr(msg, "enqueued_time_utc", None)
    if isinstance(enqueued, datetime) and enqueued.tzinfo is None:
        enqueued = enqueued.replace(tzinfo=UTC)
    return Message(
        id=str(message_id), body=body or b"",
        attributes={str(k): _property_text(v) for k, v in properties.items() if v is not None},
        delivery_attempt=max(1, int(getattr(msg, "delivery_count", None) or 1)),
        source=os.environ.get("OMNICLOUD_TRIGGER_QUEUE") or os.environ.get("OMNICLOUD_TRIGGER_TOPIC") or "servicebus",
        correlation_id=getattr(msg, "correlation_id", None),
        published_at=enqueued if isinstance(enqueued, datetime) else None,
    )


def _message_traceparent(message: Message) -> str | None:
    traceparent = message.attributes.get(invocation_context.TRACEPARENT)
    if traceparent:
        return traceparent
    # A sender that set only the native correlation id (a W3C trace id) still joins the trace.
    cid = (message.correlation_id or "").lower()
    if len(cid) == 32 and all(c in "0123456789abcdef" for c in cid):
        return invocation_context.new_traceparent(cid)
    return None


def handle_message(target: str, msg: func.ServiceBusMessage, context: Any = None, trigger: str = "queue") -> None:
    """Run a queue/topic handler; raising makes the host abandon the message, so Service Bus
    redelivers it until maxDeliveryCount and then dead-letters it."""
    base.configure_logging()
    try:
        message = to_message(msg)
    except EventError as exc:
        base.reject(trigger, exc, invocation_id=_invocation_id(context),
                    consequence="abandoned; Service Bus dead-letters it after maxDeliveryCount")
        raise
    if trigger == "topic" and not _passes_filter(message):
        return  # completed: the subscription's filter was not yet in place when it arrived
    base.run_message(target, message, trigger=trigger, invocation_id=_invocation_id(context),
                     traceparent=_message_traceparent(message))


def _passes_filter(message: Message) -> bool:
    """Whether the subscriber's own filter (OMNICLOUD_TRIGGER_FILTER, set by the provider) lets
    `message` through. Service Bus applies the filter itself once the subscription's `$Default`
    rule is replaced; until then every message arrives, and those the filter excludes are
    completed here without running the handler."""
    raw = os.environ.get("OMNICLOUD_TRIGGER_FILTER")
    if not raw:
        return True
    import json

    from ..filters import matches

    if matches(json.loads(raw), message.attributes):
        return True
    base.log.info("message %s skipped: it does not match this subscriber's filter", message.id)
    return False


# ---- timer --------------------------------------------------------------------------------


def to_scheduled_event(timer: Any, context: Any = None) -> ScheduledEvent:
    # The timer payload says when the *next* run is due, not this one: now is the best answer.
    return ScheduledEvent(time=datetime.now(UTC),
                          schedule=os.environ.get("OMNICLOUD_FUNCTION", ""), id=_invocation_id(context) or "")


def handle_timer(target: str, timer: func.TimerRequest, context: Any = None) -> None:
    base.configure_logging()
    event = to_scheduled_event(timer, context)
    base.run_schedule(target, event, invocation_id=_invocation_id(context), traceparent=_host_traceparent(context))
