"""Admin area (served at /admin), guarded by a bearer token kept as a secret."""

from __future__ import annotations

import hmac

from runtime import HTTPError, Router, Secret, Table

app = Router()
token = Secret("admin-token")
products = Table("products")
orders = Table("orders")


@app.before
def require_token(request):
    given = (request.header("authorization") or "").removeprefix("Bearer ")
    if not hmac.compare_digest(given, token.value()):
        raise HTTPError(401, "unauthorized", "send Authorization: Bearer <admin token>")
    return None


@app.put("/products/{product_id}")
def save_product(request, product_id):
    return products.put({**request.json(), "pk": product_id})


@app.get("/orders/{customer}")
def customer_orders(request, customer):
    return {"orders": orders.query(customer).items}
