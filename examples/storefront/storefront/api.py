"""Versioned JSON API (served at /api/v1)."""

from __future__ import annotations

import uuid

from runtime import HTTPError, Response, Router, Table, Topic

app = Router()
products = Table("products")
orders = Table("orders")
placed = Topic("order-placed")


@app.get("/products/{product_id}")
def product(request, product_id):
    item = products.get(product_id)
    if item is None:
        raise HTTPError(404, "not_found", f"no product {product_id}")
    return item


@app.post("/orders")
def place(request):
    order = request.json()
    order_id = uuid.uuid4().hex
    orders.put({"pk": order["customer"], "sk": order_id, "lines": order["lines"], "status": "placed"})
    placed.publish({"customer": order["customer"], "order_id": order_id}, attributes={"type": "order.placed"})
    return Response.json({"id": order_id}, status=201)
