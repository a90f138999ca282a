"""The local HTTP gateway of `omnicloud dev`: uvicorn parses HTTP, functions run on a bounded pool.

One event-loop thread owns every connection (uvicorn with httptools, the bindings of Node.js's
strict llhttp parser), so idle or slow clients cost no thread; functions run on at most
`threads` invocation threads. What uvicorn leaves to the application is done here:
  - requests uvicorn cannot parse (bad request line, negative or conflicting Content-Length,
    chunk sizes that are not hex) get the API's JSON 400 instead of uvicorn's text one;
  - a request (head and body) must arrive within `request_timeout` of its first byte, else 408
    and the connection closes; a connection that sends nothing is closed after `idle_timeout`;
  - the body cap holds before anything reads the body (Content-Length over it: 413 at once; a
    chunked body: 413 as soon as the chunks pass it), and nothing reads a body unboundedly;
  - a function past its timeout is answered 504 while its thread finishes (it cannot be killed);
  - `/_omnicloud/*` goes to the local routes (omnicloud/dev/local_routes.py), which check the
    local token and the Host header first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from runtime.adapters import local as adapter
from runtime.backends.local import random_uuid
from runtime.types import Response

from .local_routes import PREFIX as INTERNAL_PREFIX

if TYPE_CHECKING:
    from .local_routes import LocalRoutes

log = logging.getLogger("omnicloud.dev")

MAX_BODY = 6 * 1024 * 1024  # the smallest request limit among the clouds (Lambda)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
SERVER = "omnicloud-dev"


@dataclass(frozen=True)
class GatewaySettings:
    request_timeout: float = 30.0  # seconds for a whole request (head and body) to arrive
    idle_timeout: float = 5.0  # seconds a connection may sit without a request
    threads: int = 64  # invocation threads (the functions' concurrency)
    max_connections: int = 512  # open connections; past it new requests get 503
    max_body: int = MAX_BODY
    backlog: int = 1024


# ---- HTTP/1.1 protocol: uvicorn's, with the timeouts and error bodies of the gateway ------------------


def _raw_error(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete JSON error answer that closes the connection (for errors before any request runs)."""
    body = Response.error(status, code, message).body_bytes()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"connection: close\r\nserver: {SERVER}\r\n\r\n"
    )
    return head.encode("ascii") + body


BAD_REQUEST = _raw_error(
    400,
    "Bad Request",
    "bad_request",
    "the request is not valid HTTP/1.1 (request line, headers, Content-Length or chunked framing); "
    "fix the client",
)
REQUEST_TIMEOUT = _raw_error(
    408,
    "Request Timeout",
    "request_timeout",
    "the request did not arrive in time; send the whole request at once",
)


class GatewayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus: a deadline for each request's head, and JSON 400s.

    uvicorn arms its keep-alive timer only after a response; it is armed here when the connection
    opens too, so a connection that never sends a request is closed like an idle keep-alive one.
    From the first byte of a request its head must be complete within `request_timeout` (the
    gateway app holds the body to the same deadline), else the client gets 408 and the connection
    closes: a client trickling bytes (slowloris) cannot hold a connection open.
    """

    request_timeout: float = GatewaySettings.request_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._head_timer = self.loop.call_later(self.request_timeout, self._head_too_slow)
        super().data_received(data)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not (self.cycle is None or self.cycle.response_complete):
            return  # closed already, or the head arrived and a request runs (the app times its body)
        log.warning(
            "closing a connection whose request did not arrive within %ss (408)",
            self.request_timeout,
            extra={"fields": {"client": _client(self.client)}},
        )
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def on_response_complete(self) -> None:
        self._cancel_head_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def send_400_response(self, msg: str) -> None:
        """The API's JSON error instead of uvicorn's text/plain one (uvicorn has logged it)."""
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.transport.write(BAD_REQUEST)
            self.transport.close()


def _client(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None


# ---- the ASGI application: body limits, local routes, invocations ---------------------------------


class _Refused(Exception):
    """Answer `response` and close the connection (the rest of the request is not read)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


class GatewayApp:
    """Turns each HTTP request into a function invocation (or a local route), answers, and never raises."""

    def __init__(
        self,
        settings: GatewaySettings,
        local_routes: LocalRoutes,
        route: Callable[[str], str | None],
        invoke: Callable[..., Any],
        timeout_of: Callable[[str], float],
        describe_routes: Callable[[], str],
    ):
        self.settings = settings
        self.local_routes = local_routes
        self.route = route
        # invoke(function, request, deadline) -> (Response | None, after), on a pool thread.
        self.invoke = invoke
        self.timeout_of = timeout_of
        self.describe_routes = describe_routes
        self.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="http")

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are not served
            return
        after: Callable[[], None] | None = None
        try:
            response, close, after = await self._respond(scope, receive)
        except _Refused as refused:
            response, close = refused.response, True
        except Exception:  # a bug in the gateway, not in a function (the adapter catches those)
            log.exception(
                "the gateway failed to answer %s %s", scope.get("method"), scope.get("path")
            )
            response, close = (
                Response.error(500, "internal", "internal error; the log has the details"),
                True,
            )
        try:
            await _send(send, response, close=close, head=scope["method"] == "HEAD")
        except Exception:  # e.g. a status outside 100-599 from a plain handler
            log.exception(
                "the gateway failed to send the answer to %s %s",
                scope.get("method"),
                scope.get("path"),
            )
        if after is not None:
            after()

    async def _respond(
        self, scope: dict[str, Any], receive: Callable
    ) -> tuple[Response, bool, Any]:
        started = time.monotonic()
        method, path = scope["method"], scope["path"] or "/"
        headers = scope["headers"]
        has_body, smuggling = _framing(headers)
        local = path == INTERNAL_PREFIX or path.startswith(INTERNAL_PREFIX + "/")
        if local:
            refusal = self.local_routes.refuse(headers, path)
            if refusal is not None:
                return refusal, has_body, None
        if smuggling:
            return (
                Response.error(
                    400,
                    "bad_request",
                    "the request has both Content-Length and Transfer-Encoding; "
                    "send one (RFC 9112 6.3: such a request may be a smuggling attempt)",
                ),
                True,
                None,
            )
        if method not in METHODS:
            return (
                Response.error(
                    501,
                    "not_implemented",
                    f"{method} is not a method this gateway serves; use GET, POST, PUT, PATCH or DELETE",
                ),
                has_body,
                None,
            )
        body = b""
        if has_body:
            body = await self._read_body(headers, receive, started + self.settings.request_timeout)
        query = scope["query_string"].decode("utf-8", "replace")
        function = None if local else self.route(path)
        if function is None and not local:
            return (
                Response.error(
                    404,
                    "not_found",
                    f"no function serves {path} (http prefixes: {self.describe_routes()})",
                ),
                False,
                None,
            )
        client = scope.get("client")
        request = adapter.to_request(
            method,
            path,
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers],
            query_string=query,
            body=body,
            source_ip=client[0] if client else None,
            request_id=random_uuid(),
        )
        if local:  # on a pool thread: the console's reads and actions must not hold up the loop
            response = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.local_routes.dispatch, request
            )
            return response, False, None
        timeout = self.timeout_of(function)
        future = asyncio.get_running_loop().run_in_executor(
            self.pool, self.invoke, function, request, time.monotonic() + timeout
        )
        try:
            async with asyncio.timeout(timeout):
                response, after = await future
        except TimeoutError:
            # As the clouds' gateways do. An invocation still queued is cancelled; one already running
            # cannot be, and its thread runs on until it returns.
            response = None
        if response is None:
            return (
                Response.error(
                    504,
                    "timeout",
                    f"function {function} did not answer within its timeout of {timeout:g}s",
                ),
                False,
                None,
            )
        return response, False, after

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Callable, deadline: float
    ) -> bytes:
        """The whole body, within the cap and the request deadline; _Refused (413, 408) otherwise."""
        cap = self.settings.max_body
        for name, value in headers:
            # llhttp has checked Content-Length already: digits only, one value, no conflict.
            if name == b"content-length" and int(value) > cap:
                raise _Refused(
                    Response.error(413, "payload_too_large", f"request body is over {cap} bytes")
                )
        chunks, size, more = [], 0, True
        try:
            async with asyncio.timeout_at(
                asyncio.get_running_loop().time() + deadline - time.monotonic()
            ):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Refused(
                            Response.error(
                                400, "bad_request", "the client went away before sending its body"
                            )
                        )
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > cap:
                        raise _Refused(
                            Response.error(
                                413, "payload_too_large", f"request body is over {cap} bytes"
                            )
                        )
                    if chunk:
                        chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            raise _Refused(
                Response.error(
                    408,
                    "request_timeout",
                    f"the request body did not arrive within {self.settings.request_timeout:g}s",
                )
            ) from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _framing(headers: list[tuple[bytes, bytes]]) -> tuple[bool, bool]:
    """(a body may follow the head, the head has both Content-Length and Transfer-Encoding).

    A body not read means the answer must close the connection. Both lengths at once: llhttp lets
    Transfer-Encoding win, as RFC 9112 6.3 allows, but a proxy in front may not have, so the request
    is refused as a possible smuggling attempt.
    """
    body = length = chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = True
            body = body or value != b"0"
        elif name == b"transfer-encoding":
            chunked = body = True
    return body, length and chunked


async def _send(send: Callable, response: Response, *, close: bool, head: bool) -> None:
    body = response.body_bytes()
    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1"))
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "connection", "server", "transfer-encoding")
    ]
    headers += [(b"set-cookie", cookie.encode("latin-1")) for cookie in response.cookies]
    headers += [(b"content-length", str(len(body)).encode()), (b"server", SERVER.encode())]
    if close:
        headers.append((b"connection", b"close"))
    with contextlib.suppress(OSError):  # the client went away: nothing to tell it
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})


# ---- running it ---------------------------------------------------------------------------------------


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """Bind and listen now, so early clients wait in the backlog until the gateway serves."""
    # proto=IPPROTO_TCP: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are
    # TCP; otherwise a body written after its head waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class Gateway:
    """uvicorn serving `app` on `sock`, on its own thread."""

    def __init__(self, app: GatewayApp, sock: socket.socket, settings: GatewaySettings):
        import uvicorn

        protocol = type(
            "Protocol", (GatewayProtocol,), {"request_timeout": settings.request_timeout}
        )
        config = uvicorn.Config(
            app,
            http=protocol,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=True,
            loop="asyncio",
            interface="asgi3",
            timeout_keep_alive=settings.idle_timeout,  # type: ignore[arg-type]  # a float works
            limit_concurrency=settings.max_connections,
            backlog=settings.backlog,
        )
        # uvicorn's own lines (start, stop, "Invalid HTTP request received.") at WARNING and up only.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self.app = app
        self.sock = sock
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name="http-gateway",
            daemon=True,
        )
        self._thread.start()

    def stop(self, grace: float) -> None:
        """Stop accepting, let answers in progress finish (up to `grace` seconds), close the rest."""
        self.server.config.timeout_graceful_shutdown = max(1, int(grace))
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(grace + 5)
        self.app.pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            self.sock.close()
