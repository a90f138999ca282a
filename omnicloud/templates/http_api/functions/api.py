"""The HTTP API: items in the `items` table, behind a bearer token.

GET    /health                  no token needed
POST   /items                   {"name", "data"?} -> 201, the item, ETag: "<version>"
GET    /items?limit=&cursor=    {"items": [...], "next_cursor"}: pass next_cursor back for more
GET    /items/{item_id}         the item, with its ETag
PUT    /items/{item_id}         {"name", "data"?}; with If-Match: "<version>" only if unchanged (else 412)
DELETE /items/{item_id}         204; with If-Match, only if unchanged
"""

from __future__ import annotations

import uuid

from runtime import ConditionFailed, HTTPError, Request, Response, Router, Table

from .auth import protect

app = protect(Router())  # the api-token check, and GET /health
items = Table("items")

# Every item lives in one partition, listed in id order. An API with several tenants would use
# the tenant as the partition key, so each tenant lists (and reaches) only its own items.
PARTITION = "item"


def _public(item: dict) -> dict:
    return {
        "id": item["sk"],
        "name": item["name"],
        "data": item.get("data"),
        "version": item["_version"],
    }


def _with_etag(item: dict, status: int = 200) -> Response:
    return Response.json(_public(item), status=status, headers={"etag": f'"{item["_version"]}"'})


def _fields(request: Request) -> dict:
    doc = request.json()  # a BadRequest (400) when the body is not JSON
    if not isinstance(doc, dict):
        raise HTTPError(400, "invalid", "send a JSON object with name and data")
    unknown = sorted(set(doc) - {"name", "data"})
    if unknown:
        raise HTTPError(400, "invalid", f"unknown field {unknown[0]!r}; send name and data")
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise HTTPError(400, "invalid", "name must be a string of 1 to 200 characters")
    return {"name": name, "data": doc.get("data")}


def _if_match(request: Request) -> int | None:
    """The version an If-Match header names (as ETag gave it), or None without the header."""
    raw = request.header("if-match")
    if raw is None:
        return None
    version = raw.strip().removeprefix("W/").strip('"')
    if not version.isdigit():
        raise HTTPError(400, "invalid", 'If-Match must be the ETag of the item, e.g. "3"')
    return int(version)


@app.post("/items")
def create(request: Request) -> Response:
    stored = items.put(
        {"pk": PARTITION, "sk": uuid.uuid4().hex, **_fields(request)}, if_absent=True
    )
    return _with_etag(stored, status=201)


@app.get("/items")
def list_items(request: Request) -> dict:
    limit = request.query.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise HTTPError(400, "invalid", "limit must be a whole number from 1 to 100")
    try:
        page = items.query(PARTITION, limit=int(limit), cursor=request.query.get("cursor") or None)
    except ValueError as exc:  # a cursor that does not belong to this listing
        raise HTTPError(400, "invalid", str(exc)) from None
    return {"items": [_public(item) for item in page.items], "next_cursor": page.cursor}


@app.get("/items/{item_id}")
def read(request: Request, item_id: str) -> Response:
    item = items.get(PARTITION, item_id)
    if item is None:
        raise HTTPError(404, "not_found", f"no item {item_id}")
    return _with_etag(item)


@app.put("/items/{item_id}")
def replace(request: Request, item_id: str) -> Response:
    fields = _fields(request)
    try:
        # Without If-Match the update retries on a concurrent write; with it, a stale version is a 412.
        stored = items.update(PARTITION, item_id, fields, expected_version=_if_match(request))
    except KeyError:
        raise HTTPError(404, "not_found", f"no item {item_id}") from None
    except ConditionFailed:
        raise HTTPError(
            412, "stale", "the item changed since that version; GET it and retry with its ETag"
        ) from None
    return _with_etag(stored)


@app.delete("/items/{item_id}")
def delete(request: Request, item_id: str) -> None:
    try:
        items.delete(PARTITION, item_id, expected_version=_if_match(request))
    except ConditionFailed:
        raise HTTPError(
            412, "stale", "the item changed since that version (or is gone); GET it again"
        ) from None
