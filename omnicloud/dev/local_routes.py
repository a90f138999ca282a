"""`/_omnicloud/*`: what `omnicloud dev` shows about itself (queues, messages), for its user only.

These routes show message bodies (task inputs and outputs), so every request must carry the
local token and name a loopback host:
  - `Authorization: Bearer <token>`, the token being the content of `<state dir>/dev-token`
    (created once per state dir with mode 0600, so only the user who runs `omnicloud dev` can
    read it; the banner prints its path, never its value);
  - a `Host` of 127.0.0.1, localhost or [::1] (with any port): a web page whose own host name
    an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name in Host, and is
    refused before the token is even looked at.
Every local route is dispatched by `LocalRoutes.dispatch`, behind that one check: add a route
to `ROUTES` (or `LocalRoutes.routes`) and it is guarded like the others.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from runtime.types import Response

if TYPE_CHECKING:
    from runtime.backends.local import Store

PREFIX = "/_omnicloud"
TOKEN_FILE = "dev-token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def load_token(state_dir: Path) -> str:
    """The state dir's local token, created (mode 0600) on first use and kept across restarts."""
    path = state_dir / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
        # An empty file (a crash mid-write): write a token now.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def host_name(host: str) -> str:
    """The host part of a Host header value (`[::1]:8080` -> `[::1]`, `Localhost:80` -> `localhost`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rpartition(":")[0] if ":" in host else host


Handler = Callable[["LocalRoutes", list[str], dict[str, list[str]]], Response]


class LocalRoutes:
    """The local routes of one dev server: the guard, then a lookup table of handlers."""

    def __init__(self, token: str, store: Store, app_name: str):
        self._token = token.encode()
        self.store = store
        self.app_name = app_name
        self.routes: dict[str, Handler] = dict(ROUTES)

    def refuse(self, headers: list[tuple[bytes, bytes]]) -> Response | None:
        """None if the request may use a local route; else the answer that refuses it."""
        host = authorization = None
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value
        if host is None or host_name(host) not in LOOPBACK_HOSTS:
            return Response.error(
                403,
                "forbidden",
                f"{PREFIX} answers only requests for 127.0.0.1, localhost or "
                "[::1] (the Host header); use http://127.0.0.1:<port>",
            )
        scheme, _, token = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self._token):
            return Response.error(
                401,
                "unauthorized",
                f"{PREFIX} needs the local token: send 'Authorization: "
                f"Bearer <token>', the token being in the state dir's {TOKEN_FILE} file",
                headers={"www-authenticate": 'Bearer realm="omnicloud dev"'},
            )
        return None

    def dispatch(self, method: str, path: str, query: str) -> Response:
        """Answer a local route (the caller has passed `refuse` first)."""
        if method not in ("GET", "HEAD"):
            return Response.error(405, "method_not_allowed", f"{path} is read-only; use GET")
        parts = [p for p in path[len(PREFIX) :].split("/") if p]
        handler = self.routes.get(parts[0] if parts else "")
        if handler is None:
            return Response.error(
                404, "not_found", f"{path}: try {PREFIX}/health, /queues or /queues/NAME"
            )
        return handler(self, parts[1:], parse_qs(query))


def _health(routes: LocalRoutes, rest: list[str], query: dict[str, list[str]]) -> Response:
    if rest:
        return Response.error(404, "not_found", f"{PREFIX}/health has no sub-paths")
    return Response.json({"ok": True, "app": routes.app_name, "pid": os.getpid()})


def _queues(routes: LocalRoutes, rest: list[str], query: dict[str, list[str]]) -> Response:
    if not rest:
        return Response.json({name: vars(stats) for name, stats in routes.store.queues().items()})
    if len(rest) > 1:
        return Response.error(404, "not_found", f"{PREFIX}/queues/NAME has no sub-paths")
    raw = (query.get("limit") or ["20"])[0]
    limit = min(int(raw), 1000) if raw.isdigit() else 20
    return Response.json(
        [
            {
                "id": m.id,
                "body": m.body.decode("utf-8", "replace"),
                "attributes": m.attributes,
                "receive_count": m.receive_count,
                "enqueued_at": m.enqueued_at,
                "last_error": m.last_error,
            }
            for m in routes.store.peek(rest[0], limit)
        ]
    )


# First path segment below /_omnicloud -> handler(routes, remaining segments, query).
ROUTES: dict[str, Handler] = {"": _health, "health": _health, "queues": _queues}
