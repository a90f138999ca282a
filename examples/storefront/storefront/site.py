"""The public site (served at /) and a health check (at /healthz)."""

from __future__ import annotations

from runtime import Response, Router, Table

app = Router()
health = Router()
products = Table("products")


@app.get("/")
def home(request):
    names = [p.get("title", p["pk"]) for p in products.query("catalogue").items]
    items = "".join(f"<li>{name}</li>" for name in names)
    return Response(200, f"<h1>Store</h1><ul>{items}</ul>", {"content-type": "text/html; charset=utf-8"})


@health.get("/")
def ok(request):
    return {"ok": True}
