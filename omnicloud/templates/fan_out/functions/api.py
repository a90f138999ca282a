"""Publish order events and read what the subscribers did with them.

GET  /health                   no token needed
POST /events                   {"type": "order.placed"|"order.cancelled", "order_id"} -> 202 {"id"}
GET  /events?cursor=           what `audit` recorded, oldest first
GET  /shipments?cursor=        what `shipping` recorded
"""

from __future__ import annotations

from runtime import HTTPError, Request, Response, Router, Table, Topic

from .auth import protect

TYPES = ("order.placed", "order.cancelled")

app = protect(Router())  # the api-token check, and GET /health
events = Topic("order-events")
ledger = Table("ledger")


@app.post("/events")
def publish(request: Request) -> Response:
    doc = request.json()
    if (
        not isinstance(doc, dict)
        or doc.get("type") not in TYPES
        or not isinstance(doc.get("order_id"), str)
    ):
        raise HTTPError(
            400, "invalid", f'send {{"type", "order_id"}} with type one of {", ".join(TYPES)}'
        )
    # Subscription filters match attributes, never the body: the type travels as an attribute.
    message_id = events.publish(
        {"type": doc["type"], "order_id": doc["order_id"]}, attributes={"type": doc["type"]}
    )
    return Response.json({"id": message_id}, status=202)


def _page(partition: str, request: Request) -> dict:
    try:
        page = ledger.query(partition, limit=50, cursor=request.query.get("cursor") or None)
    except ValueError as exc:
        raise HTTPError(400, "invalid", str(exc)) from None
    return {
        "items": [
            {k: v for k, v in item.items() if k not in ("pk", "_version")} for item in page.items
        ],
        "next_cursor": page.cursor,
    }


@app.get("/events")
def list_events(request: Request) -> dict:
    return _page("event", request)


@app.get("/shipments")
def list_shipments(request: Request) -> dict:
    return _page("shipment", request)
