"""Topic subscribers of the test app: one filtered, one taking everything."""

from __future__ import annotations

from runtime import Table

items = Table("items")


def record(message):
    items.put({"pk": "audit", "sk": message.id, "type": message.attributes.get("type"), "source": message.source})


def record_all(message):
    if message.attributes.get("fail"):  # counts its deliveries, then asks for a retry
        attempts = items.get("firehose-attempts", message.id) or {"pk": "firehose-attempts", "sk": message.id, "count": 0}
        attempts["count"] += 1
        items.put(attempts)
        raise RuntimeError(f"event {message.id} asked to fail")
    items.put({"pk": "firehose", "sk": message.id, "type": message.attributes.get("type")})
