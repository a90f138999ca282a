"""Topic subscribers: each sees only the events its filter in app.yaml lets through."""

from __future__ import annotations

import time

from runtime import Table

accounts = Table("accounts")
deliveries = Table("deliveries")


def billing(message):
    event = message.json()
    customer = event["data"]["customer"]
    paid = message.type == "invoice.paid"
    accounts.update(customer, changes={"in_good_standing": paid})


def crm(message):
    event = message.json()
    accounts.put({"pk": event["data"]["id"], "email": event["data"].get("email")})


def audit(message):
    deliveries.put({"pk": "audit", "sk": message.id, "type": message.type or "unknown",
                    "expires_at": int(time.time()) + 90 * 86400})
