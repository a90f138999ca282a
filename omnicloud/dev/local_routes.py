"""`/_omnicloud/*`: what `omnicloud dev` shows about itself — the console and its API, and the
queue inspection routes — for its user only.

These routes show message bodies (task inputs and outputs) and change state (redrive, purge, run a
function), so every request must name a loopback host and prove it holds the local token:
  - a `Host` of 127.0.0.1, localhost or [::1] (with any port): a web page whose own host name
    an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name in Host, and is
    refused before anything else is looked at;
  - `Authorization: Bearer <token>`, the token being the content of `<state dir>/dev-token`
    (created once per state dir with mode 0600, so only the user who runs `omnicloud dev` can
    read it; the banner prints its path, never its value), or the console's session cookie,
    which a one-time sign-in link sets (omnicloud/dev/console_auth.py; a change made with the
    cookie also needs the console's CSRF header).
Only `/_omnicloud/login` (which exchanges a one-time ticket for the cookie) skips the second check.
Every local route is in the one table `LocalRoutes.router` and behind those checks.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.router import Router
from runtime.types import Request, Response

if TYPE_CHECKING:
    from runtime.backends.local import Store

    from .console_auth import ConsoleAuth

PREFIX = "/_omnicloud"
TOKEN_FILE = "dev-token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
LOGIN_PATH = PREFIX + "/login"
CONSOLE_DIR = Path(__file__).resolve().parent / "console"
CONSOLE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
# The console's pages run no inline script or style, load nothing from elsewhere, and cannot be
# framed; Trusted Types make string-to-HTML sinks (innerHTML, ...) throw, so a value shown on a
# page (a message body, a table item) can never become markup.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)


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


class LocalRoutes:
    """The local routes of one dev server: the guard, then one routing table."""

    def __init__(self, token: str, store: Store, app_name: str, auth: ConsoleAuth | None = None):
        self._token = token.encode()
        self.store = store
        self.app_name = app_name
        self.auth = auth
        self.router = Router(prefix=PREFIX)
        self.router.get("/")(self._health)
        self.router.get("/health")(self._health)
        self.router.get("/queues")(self._queues)
        self.router.get("/queues/{name}")(self._queue)
        self.router.get("/login")(self._login)
        self.router.get("/console")(self._console_page)
        self.router.get("/console/{name}")(self._console_file)
        self.router.after(_security_headers)

    def refuse(self, headers: list[tuple[bytes, bytes]], path: str = PREFIX) -> Response | None:
        """None if the request may use a local route; else the answer that refuses it."""
        host = authorization = cookie = None
        for name, value in headers:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = (
                    value.decode("latin-1")
                    if cookie is None
                    else f"{cookie}; {value.decode('latin-1')}"
                )
        if host is None or host_name(host) not in LOOPBACK_HOSTS:
            return Response.error(
                403,
                "forbidden",
                f"{PREFIX} answers only requests for 127.0.0.1, localhost or "
                "[::1] (the Host header); use http://127.0.0.1:<port>",
            )
        if path.rstrip("/") == LOGIN_PATH:
            return None  # the one-time ticket in the query is the credential (see _login)
        scheme, _, token = (authorization or b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._token):
            return None
        if self.auth is not None and self.auth.has_session(cookie):
            return None
        return Response.error(
            401,
            "unauthorized",
            f"{PREFIX} needs the local token: send 'Authorization: "
            f"Bearer <token>', the token being in the state dir's {TOKEN_FILE} file; "
            "in a browser, open the link `omnicloud console` prints",
            headers={"www-authenticate": 'Bearer realm="omnicloud dev"'},
        )

    def dispatch(self, request: Request) -> Response:
        """Answer a local route (the caller has passed `refuse` first)."""
        if request.method not in ("GET", "HEAD") and self.auth is not None:
            authorization = request.headers.get("authorization") or ""
            scheme, _, token = authorization.partition(" ")
            bearer = scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), self._token
            )
            if (
                not bearer
            ):  # the session cookie: a browser, which must show it is the console's own page
                problem = self.auth.cross_site(
                    request.headers.get("host"),
                    request.headers.get("origin"),
                    request.headers.get("sec-fetch-site"),
                    request.headers.get("x-omnicloud-csrf"),
                )
                if problem is not None:
                    return _security_headers(request, Response.error(403, "forbidden", problem))
        return self.router(request)

    # -- routes ---------------------------------------------------------------------------------

    def _health(self, request: Request) -> Response:
        return Response.json({"ok": True, "app": self.app_name, "pid": os.getpid()})

    def _queues(self, request: Request) -> Response:
        return Response.json({name: vars(stats) for name, stats in self.store.queues().items()})

    def _queue(self, request: Request, name: str) -> Response:
        raw = request.query.get("limit") or "20"
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
                for m in self.store.peek(name, limit)
            ]
        )

    def _login(self, request: Request) -> Response:
        if self.auth is None:
            return Response.error(404, "not_found", "this server has no console")
        problem = self.auth.redeem(request.query.get("ticket") or "")
        if problem is not None:
            return Response.error(
                401, "unauthorized", f"{problem}; run `omnicloud console` for a new link"
            )
        return Response(
            303, b"", {"location": f"{PREFIX}/console/"}, cookies=[self.auth.session_cookie()]
        )

    def _console_page(self, request: Request) -> Response:
        if not request.path.endswith("/"):  # so the page's relative URLs resolve below /console/
            return Response(308, b"", {"location": f"{PREFIX}/console/"})
        return self._console_file(request, "index.html")

    def _console_file(self, request: Request, name: str) -> Response:
        media = CONSOLE_FILES.get(name)
        if media is None:
            return Response.error(404, "not_found", f"the console has no file {name!r}")
        return Response(200, (CONSOLE_DIR / name).read_bytes(), {"content-type": media})


def _security_headers(request: Request, response: Response) -> Response:
    headers = response.headers
    headers.setdefault("x-content-type-options", "nosniff")
    headers.setdefault("cache-control", "no-store")
    headers.setdefault("referrer-policy", "no-referrer")
    headers.setdefault("cross-origin-resource-policy", "same-origin")
    headers.setdefault("x-frame-options", "DENY")
    headers.setdefault("content-security-policy", CONSOLE_CSP)
    return response
