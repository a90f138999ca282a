"""Topic subscriber: marks a placed order as being fulfilled."""

from __future__ import annotations

from runtime import Table

orders = Table("orders")


def on_order(message):
    event = message.json()
    orders.update(event["customer"], event["order_id"], changes={"status": "fulfilling"})
