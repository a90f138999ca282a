"""Neutral event types every handler sees, whatever cloud (or laptop) delivered the event."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

# Plain classes instead of dataclasses: `dataclasses` imports inspect and ast, and generating
# each class's methods costs a cold start more than these few lines.

_MISSING = object()
_encode_json = json.JSONEncoder(separators=(",", ":"), default=str).encode


class _Record:
    """Equality and repr over `_fields`, as a dataclass would give."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a non-frozen dataclass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._fields)})"


class OnFirstRead:
    """A field an adapter left in the event: decoded when first read, then a plain attribute.

    The instance's `_wire` is `(decode, data)`; `decode(instance, data, name)` stores `name` (and
    whatever it decodes along with it) in the instance's `__dict__`, which shadows this descriptor
    from then on. An instance built by its constructor has every field set and never gets here.
    """

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        decode, data = instance._wire
        decode(instance, data, self.name)
        return instance.__dict__[self.name]


def lower_case_names(items: Mapping[Any, Any]) -> bool:
    """Whether every key of `items` is a str already in lower case (as HTTP API v2 and the Functions
    host hand header names over), so headers need no decoding to be looked up by name."""
    return all(type(key) is str and key == key.lower() for key in items)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers; repeated headers are joined with ', '."""

    # _values: lower-case name -> value; _names: lower-case name -> the name as given, or None when
    # every name was given in lower case (as adapters hand them over: Headers.from_wire).
    __slots__ = ("_values", "_names")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        values: dict[str, str] = {}
        names: dict[str, str] = {}
        if items is None:
            pairs: Iterable[tuple[str, str]] = ()
        elif isinstance(items, Mapping):
            pairs = items.items()
        else:
            pairs = items
        for key, value in pairs:
            lower = key.lower()
            value = value if type(value) is str else str(value)
            if lower in values:
                values[lower] = f"{values[lower]}, {value}"
            else:
                values[lower], names[lower] = value, key
        self._values = values
        self._names = names

    @classmethod
    def from_wire(cls, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
        """Headers as an adapter hands them to handlers: every name in lower case, repeated names
        joined with ', ' (Cookie with '; ', as HTTP/2 splits it: RFC 9113 8.2.3)."""
        self = cls.__new__(cls)
        self._names = None
        if type(items) is dict:
            # Names already in lower case and string values (HTTP API v2, the Functions host): a copy.
            if lower_case_names(items) and all(type(value) is str for value in items.values()):
                self._values = dict(items)
                return self
            items = items.items()
        elif isinstance(items, Mapping):
            items = items.items()
        values: dict[str, str] = {}
        for key, value in items:
            lower = key.lower()
            value = value if type(value) is str else str(value)
            found = values.get(lower)
            values[lower] = value if found is None else f"{found}{'; ' if lower == 'cookie' else ', '}{value}"
        self._values = values
        return self

    def __getitem__(self, key: str) -> str:
        return self._values[key.lower()]

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._values.get(key.lower()) if isinstance(key, str) else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values) if self._names is None else iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


class BadRequest(ValueError):
    """The request (or message) is malformed; routers answer it with a 400."""


class Request(_Record):
    """An HTTP request, as the function's router sees it.

    `gateway_authorization` is the credential a cloud's gateway put in `Authorization` in place of
    the caller's (Google API Gateway's ID token, see runtime/adapters/gcp.py), or None. It is not
    part of the request the caller sent, so equality leaves it out.
    """

    gateway_authorization: str | None = None
    # Built by runtime/adapters/base.http_request, these are decoded from the event when first read.
    headers = OnFirstRead()
    query = OnFirstRead()
    query_all = OnFirstRead()
    cookies = OnFirstRead()

    _fields = ("method", "path", "headers", "query", "query_all", "body", "cookies", "path_params", "source_ip",
               "request_id", "route_path")

    def __init__(self, method: str, path: str, headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None
                 = None, query: dict[str, str] | None = None, query_all: dict[str, list[str]] | None = None,
                 body: bytes = b"", cookies: dict[str, str] | None = None, path_params: dict[str, str] | None = None,
                 source_ip: str | None = None, request_id: str | None = None, route_path: str | None = None):
        self.method = method.upper()
        self.path = path
        self.headers = headers if type(headers) is Headers else Headers(headers)
        self.query = {} if query is None else query
        if query and not query_all:
            query_all = {k: [v] for k, v in query.items()}
        self.query_all = {} if query_all is None else query_all
        self.body = body
        self.cookies = {} if cookies is None else cookies
        self.path_params = {} if path_params is None else path_params
        self.source_ip = source_ip
        self.request_id = request_id
        # The path below the function's http prefix (what the router matches on).
        self.route_path = path if route_path is None else route_path

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
        except RecursionError:  # e.g. 100k nested arrays: the client's mistake, not a bug
            raise BadRequest("request body is nested too deeply") from None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def _traceparent(self) -> str | None:
        """The traceparent header, if any (what the request's invocation continues: context.new).
        A request whose headers are still in the event asks its decoder, which can find this one
        header without decoding the others."""
        fields = self.__dict__
        if "headers" not in fields and "_wire" in fields:
            decode, data = fields["_wire"]
            return decode(self, data, "traceparent")
        return self.headers.get("traceparent")


class Response(_Record):
    """An HTTP response. `body` may be bytes, str, or anything JSON-serialisable."""

    _fields = ("status", "body", "headers", "cookies")

    def __init__(self, status: int = 200, body: Any = b"", headers: dict[str, str] | None = None,
                 cookies: list[str] | None = None):
        self.status = status
        self.body = body
        self.headers = {} if headers is None else headers
        self.cookies = [] if cookies is None else cookies

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, data, {"content-type": "application/json", **headers} if headers
                   else {"content-type": "application/json"})

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
        return self._json_text().encode("utf-8")

    def _json_text(self) -> str | None:
        """The body as JSON text when it is neither bytes, str nor None (and the content-type set),
        else None: what an adapter whose event carries text (Lambda's) sends without a round trip
        through bytes."""
        body = self.body
        if body is None or type(body) is bytes or type(body) is str or isinstance(body, (bytes, str)):
            return None
        self.headers.setdefault("content-type", "application/json")
        return _encode_json(body)


class Message(_Record):
    """One queue or topic message. A handler raises to have it retried (then dead-lettered)."""

    _fields = ("id", "body", "attributes", "delivery_attempt", "source", "correlation_id", "published_at")
    # An adapter may leave these in the event (see `_from_wire`): decoded when first read.
    attributes = OnFirstRead()
    delivery_attempt = OnFirstRead()
    published_at = OnFirstRead()
    _correlation_id: str | None = None
    _invocation: Any = None

    def __init__(self, id: str, body: bytes, attributes: dict[str, str] | None = None,  # noqa: A002
                 delivery_attempt: int = 1, source: str = "", correlation_id: str | None = None,
                 published_at: datetime | None = None):
        self.id = id
        self.body = body
        self.attributes = {} if attributes is None else attributes
        self.delivery_attempt = delivery_attempt
        self.source = source
        self._correlation_id = correlation_id
        self._invocation: Any = None
        self.published_at = published_at

    @classmethod
    def _from_wire(cls, id: str, body: bytes, source: str, decode: Any, data: Any) -> Message:  # noqa: A002
        """A message whose attributes, delivery_attempt and published_at stay in the event `data`
        until first read: `decode(message, data, name)` then sets them (OnFirstRead). For adapters."""
        self = cls.__new__(cls)
        self.id, self.body, self.source, self._wire = id, body, source, (decode, data)
        return self

    @property
    def correlation_id(self) -> str | None:
        """The trace id the message is handled in (the runtime sets it; drawn when first read)."""
        invocation = self._invocation
        if invocation is not None:
            self._correlation_id, self._invocation = invocation.correlation_id, None
        return self._correlation_id

    @correlation_id.setter
    def correlation_id(self, value: str | None) -> None:
        self._correlation_id, self._invocation = value, None

    def _traceparent(self) -> str | None:
        """The traceparent the message carries, if any (what its invocation continues: context.new)."""
        return self.attributes.get("traceparent")

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
        except RecursionError:
            raise BadRequest(f"message {self.id} body is nested too deeply") from None

    @property
    def type(self) -> str | None:
        return self.attributes.get("type")


class ScheduledEvent(_Record):
    """A schedule firing: when it was due, and which schedule."""

    _fields = ("time", "schedule", "id")

    def __init__(self, time: datetime | None = None, schedule: str = "", id: str = ""):  # noqa: A002
        if time is None:
            from datetime import UTC, datetime

            time = datetime.now(UTC)
        self.time = time
        self.schedule = schedule
        self.id = id


def encode_body(body: Any) -> tuple[bytes, str]:
    """Body for a queue/topic message: (bytes, content type). Dicts and lists become JSON."""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return _encode_json(body).encode("utf-8"), "application/json"
