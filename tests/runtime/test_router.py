"""The router's own answers (404, 405) name the path the client sent, prefix included."""

from __future__ import annotations

import json

from runtime import Request, Router


def _app() -> Router:
    app = Router(prefix="/api/v1")

    @app.get("/orders")
    def orders(request):
        return {"orders": []}

    return app


def test_405_names_the_full_path_and_the_allowed_methods():
    response = _app()(Request("DELETE", "/api/v1/orders"))
    assert response.status == 405 and response.headers["allow"] == "GET"
    message = json.loads(response.body_bytes())["error"]["message"]
    assert message == "DELETE is not allowed on /api/v1/orders; use GET"


def test_404_names_the_full_path():
    response = _app()(Request("GET", "/api/v1/nothing-here"))
    assert response.status == 404
    assert (
        json.loads(response.body_bytes())["error"]["message"]
        == "no route for GET /api/v1/nothing-here"
    )


def test_routes_still_match_below_the_prefix():
    response = _app()(Request("GET", "/api/v1/orders/"))
    assert response.status == 200 and json.loads(response.body_bytes()) == {"orders": []}
