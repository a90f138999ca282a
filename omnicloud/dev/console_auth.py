"""How a browser signs in to the local console without weakening the local token.

The local routes (`/_omnicloud/*`) answer a request that names a loopback Host and proves it holds
the local token (`<state dir>/dev-token`, mode 0600). A browser proves it in one of two ways:

1. A one-time sign-in link: `omnicloud dev` prints one on a terminal (never into a log), and
   `omnicloud console --state DIR` prints a new one at any time. The link carries a ticket, not
   the token: `<expiry>.<nonce>.<HMAC(token, server boot id, expiry, nonce)>`, valid for 10 minutes,
   once, and only for the server run it was made for (a restart voids unused tickets). Opening it
   sets a session cookie and redirects to the console.
2. The session cookie `omnicloud_console_<port>`: HMAC(token, "console session"), HttpOnly (page
   scripts cannot read it), SameSite=Strict (other sites' requests do not carry it), Path
   /_omnicloud. It survives restarts of the same state dir; a new dev-token voids it.

Every request authenticated by the cookie that changes something (any method but GET and HEAD)
must also carry `X-Omnicloud-Csrf: <HMAC(token, "console csrf")>`, which the console's own page
reads from `GET /_omnicloud/api/session` (a page of another origin cannot read that answer), and
must not come from another origin (`Origin` and `Sec-Fetch-Site`, when the browser sends them).
That matters because cookies do not keep ports apart: a page served by another program on
127.0.0.1 is "same-site" and its requests would carry the cookie.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from pathlib import Path

from .local_routes import PREFIX, TOKEN_FILE

SERVER_FILE = "dev-server.json"  # where the running server says its URL and boot id (mode 0600)
TICKET_SECONDS = 600
CSRF_HEADER = "x-omnicloud-csrf"


class ConsoleAuthError(Exception):
    """Signing in cannot work: one line saying why and what to do."""


def _mac(token: str, *parts: str) -> str:
    return hmac.new(token.encode(), "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def make_ticket(token: str, boot: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + TICKET_SECONDS)
    nonce = secrets.token_urlsafe(12)
    return f"{expires}.{nonce}.{_mac(token, 'console ticket', boot, str(expires), nonce)}"


class ConsoleAuth:
    """The console's session checks for one server run (boot id) on one port."""

    def __init__(self, token: str, port: int, boot: str | None = None):
        self._token = token
        self.port = port
        self.boot = boot or secrets.token_hex(8)
        self.cookie_name = f"omnicloud_console_{port}"
        self._session = _mac(token, "console session")
        self.csrf = _mac(token, "console csrf")
        self._used: dict[str, float] = {}  # nonce -> expiry of the tickets already exchanged
        self._lock = threading.Lock()

    def ticket(self) -> str:
        return make_ticket(self._token, self.boot)

    def redeem(self, ticket: str) -> str | None:
        """None if `ticket` is good (and now used up); else why not."""
        parts = ticket.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return "this is not a sign-in link of this server"
        expires, nonce, mac = parts
        if not hmac.compare_digest(
            mac.encode(), _mac(self._token, "console ticket", self.boot, expires, nonce).encode()
        ):
            return "this sign-in link is not for this server run (it restarted since, or the link is damaged)"
        now = time.time()
        if int(expires) < now:
            return "this sign-in link has expired"
        with self._lock:
            self._used = {n: e for n, e in self._used.items() if e >= now}
            if nonce in self._used:
                return "this sign-in link was used already"
            self._used[nonce] = int(expires)
        return None

    def session_cookie(self) -> str:
        return f"{self.cookie_name}={self._session}; Path={PREFIX}; HttpOnly; SameSite=Strict"

    def cleared_cookie(self) -> str:
        return f"{self.cookie_name}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0"

    def has_session(self, cookie_header: str | None) -> bool:
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie_name and hmac.compare_digest(
                value.encode(), self._session.encode()
            ):
                return True
        return False

    def cross_site(
        self, host: str | None, origin: str | None, fetch_site: str | None, csrf: str | None
    ) -> str | None:
        """Why a cookie-authenticated change must be refused (None: it may go ahead)."""
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return f"a request from another site ({fetch_site}) may not change anything here"
        if origin is not None and origin != f"http://{host}":
            return f"a request from {origin} may not change anything here"
        if csrf is None or not hmac.compare_digest(csrf.encode(), self.csrf.encode()):
            return f"missing or wrong {CSRF_HEADER} header; the console page sends it"
        return None


def write_server_file(state_dir: Path, url: str, boot: str) -> None:
    """Tell `omnicloud console` where this server listens and which run it is (owner-only file)."""
    path = state_dir / SERVER_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        json.dump({"url": url, "boot": boot, "pid": os.getpid()}, out)


def _server_running(state_dir: Path) -> bool:
    """True while an `omnicloud dev` holds the state dir's lock."""
    import fcntl

    from .server import LOCK_FILE

    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def sign_in_link(state_dir: Path) -> str:
    """A fresh one-time link to the console of the server running on `state_dir`."""
    try:
        info = json.loads((state_dir / SERVER_FILE).read_text(encoding="utf-8"))
        token = (state_dir / TOKEN_FILE).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        info, token = None, ""
    if not info or not token or not _server_running(state_dir):
        raise ConsoleAuthError(
            f"no omnicloud dev is running on state dir {state_dir}; start it "
            "(omnicloud dev), or pass --state DIR"
        )
    return f"{info['url']}{PREFIX}/login?ticket={make_ticket(token, info['boot'])}"
