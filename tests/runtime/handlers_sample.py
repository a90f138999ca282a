"""One neutral handler module that every adapter test drives, whatever the cloud.

It records what it saw (and the traceparent a client would forward) in SEEN, so tests can
check that each adapter delivered the same neutral values.
"""

from __future__ import annotations

import time
from typing import Any

from runtime import HTTPError, Message, Request, Response, Router, ScheduledEvent
from runtime import context as invocation_context

SEEN: list[dict[str, Any]] = []

app = Router(prefix="/")


def _trace() -> dict[str, Any]:
    current = invocation_context.current()
    return {
        "function": current.function if current else None,
        "correlation_id": current.correlation_id if current else None,
        # What Queue.send / Topic.publish would attach to the next hop.
        "forwarded_traceparent": invocation_context.outgoing_attributes({}).get("traceparent"),
    }


@app.get("/items/{item_id}")
def get_item(request: Request, item_id: str) -> dict[str, Any]:
    if item_id == "missing":
        raise HTTPError(404, "not_found", f"no item {item_id}")
    return {"id": item_id, "q": request.query.get("q"), "tags": request.query_all.get("tag", [])}


@app.post("/echo")
def echo(request: Request) -> Response:
    SEEN.append({"kind": "http", "json": request.json(), **_trace()})
    return Response.json(
        {"got": request.json(), "header": request.header("x-test"), "cookie": request.cookies.get("session"),
         "correlation_id": _trace()["correlation_id"]},
        status=201, headers={"x-handled-by": "sample"},
    )


@app.get("/cookie")
def set_cookie(request: Request) -> Response:
    return Response(status=200, body="ok", cookies=["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"])


@app.get("/binary")
def binary(request: Request) -> Response:
    return Response(status=200, body=bytes(range(256)), headers={"content-type": "application/octet-stream"})


@app.get("/boom")
def boom(request: Request) -> None:
    raise RuntimeError("sample handler bug")


def raw_http(request: Request) -> dict[str, Any]:
    """A plain function instead of a Router: gets the full path and reports what it saw."""
    return {
        "method": request.method, "path": request.path, "body": request.text, "query": request.query,
        "query_all": request.query_all, "cookies": request.cookies, "header2": request.header("header2"),
        "source_ip": request.source_ip, "request_id": request.request_id,
    }


def request_fields(request: Request) -> dict[str, Any]:
    """Every field of the neutral Request, as JSON (the body as latin-1 text, so any bytes survive)."""
    return {
        "method": request.method, "path": request.path, "headers": dict(request.headers), "query": request.query,
        "query_all": request.query_all, "body": request.body.decode("latin-1"), "cookies": request.cookies,
        "path_params": request.path_params, "source_ip": request.source_ip, "route_path": request.route_path,
        "request_id": request.request_id, "gateway_authorization": request.gateway_authorization,
    }


def on_message(message: Message) -> None:
    """Fails (so the cloud retries) when the body asks for it."""
    payload = message.json() if message.body[:1] in (b"{", b"[") else message.text
    SEEN.append({"kind": "message", "id": message.id, "body": payload, "attributes": dict(message.attributes),
                 "delivery_attempt": message.delivery_attempt, "message_correlation_id": message.correlation_id,
                 "handled_at": time.time(), **_trace()})
    if isinstance(payload, dict) and payload.get("fail"):
        raise RuntimeError(f"asked to fail: {message.id}")


def on_schedule(event: ScheduledEvent) -> None:
    SEEN.append({"kind": "schedule", "schedule": event.schedule, "time": event.time, "id": event.id, **_trace()})


def failing_schedule(event: ScheduledEvent) -> None:
    raise RuntimeError("sweep failed")


not_callable = 42
