"""The agent platform's dashboard: static files (functions/static/) served under /ui by the API.

Imported on the first /ui request only (functions/api.py imports it inside the route), so the API's
cold start does not read these files. The page signs in with an API key or a JWT and then calls
the API's own routes with it, so it sees exactly what that credential may see. The credential is
kept in a variable of the page's script only: never in localStorage, sessionStorage or a cookie,
so it is gone when the tab is, and no other page or script of the origin finds it stored anywhere.
"""

from __future__ import annotations

from pathlib import Path

from runtime import HTTPError, Response

STATIC = Path(__file__).resolve().parent / "static"
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# No inline script or style and nothing from another origin; Trusted Types make string-to-HTML
# sinks throw, so a value from the API (an agent's name, a task's output) never becomes markup;
# the page cannot be framed (clickjacking) and sends no Referer.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
_cache: dict[str, bytes] = {}


def file(name: str) -> Response:
    """One file of the dashboard, with its security headers; 404 for any other name."""
    media = FILES.get(name)
    if media is None:
        raise HTTPError(404, "not_found", f"the dashboard has no file {name!r}")
    body = _cache.get(name)
    if body is None:
        body = _cache[name] = (STATIC / name).read_bytes()
    return Response(200, body, {"content-type": media, **HEADERS})
