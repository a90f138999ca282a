"""Bearer-token auth: every route but /health needs `Authorization: Bearer <api-token>`, the value
of the `api-token` secret (compared in constant time)."""

from __future__ import annotations

import hmac

from runtime import Request, Response, Router, Secret

api_token = Secret("api-token")
OPEN = frozenset({"/health"})


def protect(app: Router) -> Router:
    """Add the token check and an open `GET /health` to `app`."""

    @app.before
    def authenticate(request: Request) -> Response | None:
        if request.route_path in OPEN:
            return None
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.encode(), api_token.value().encode()
        ):
            return Response.error(
                401,
                "unauthorized",
                "send Authorization: Bearer <api-token>",
                {"www-authenticate": "Bearer"},
            )
        return None

    @app.get("/health")
    def health(request: Request) -> dict:
        return {"ok": True}

    return app
