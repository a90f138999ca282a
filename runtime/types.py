"""Neutral event types every handler sees, whatever cloud (or laptop) delivered the event."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers; repeated headers are joined with ', '."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        merged: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        for key, value in pairs:
            lower = key.lower()
            if lower in merged:
                merged[lower] = (merged[lower][0], f"{merged[lower][1]}, {value}")
            else:
                merged[lower] = (key, str(value))
        self._items = merged

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


class BadRequest(ValueError):
    """The request (or message) is malformed; routers answer it with a 400."""


@dataclass
class Request:
    """An HTTP request, as the function's router sees it."""

    method: str
    path: str
    headers: Headers = field(default_factory=Headers)
    query: dict[str, str] = field(default_factory=dict)
    query_all: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    cookies: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)
    source_ip: str | None = None
    request_id: str | None = None
    # The path below the function's http prefix (what the router matches on).
    route_path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)
        self.method = self.method.upper()
        if self.query and not self.query_all:
            self.query_all = {k: [v] for k, v in self.query.items()}
        if self.route_path is None:
            self.route_path = self.path

    @property
    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("request body is not UTF-8 text") from None

    def json(self) -> Any:
        """The body parsed as JSON; a BadRequest (400) when it is empty or not JSON."""
        if not self.body:
            raise BadRequest("request body is empty; send a JSON document")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class Response:
    """An HTTP response. `body` may be bytes, str, or anything JSON-serialisable."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status=status, body=data, headers={"content-type": "application/json", **(headers or {})})

    @classmethod
    def error(cls, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return cls.json({"error": {"code": code, "message": message}}, status=status, headers=headers)

    def body_bytes(self) -> bytes:
        """The body encoded for the wire; dicts/lists become JSON (and set content-type)."""
        body = self.body
        if body is None:
            return b""
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            self.headers.setdefault("content-type", "text/plain; charset=utf-8")
            return body.encode("utf-8")
        self.headers.setdefault("content-type", "application/json")
        return json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")


@dataclass
class Message:
    """One queue or topic message. A handler raises to have it retried (then dead-lettered)."""

    id: str
    body: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    delivery_attempt: int = 1
    source: str = ""
    correlation_id: str | None = None
    published_at: datetime | None = None

    @property
    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"message {self.id} body is not UTF-8 text") from None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"message {self.id} body is not valid JSON: {exc}") from None

    @property
    def type(self) -> str | None:
        return self.attributes.get("type")


@dataclass
class ScheduledEvent:
    """A schedule firing: when it was due, and which schedule."""

    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    schedule: str = ""
    id: str = ""


def encode_body(body: Any) -> tuple[bytes, str]:
    """Body for a queue/topic message: (bytes, content type). Dicts and lists become JSON."""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":"), default=str).encode("utf-8"), "application/json"
