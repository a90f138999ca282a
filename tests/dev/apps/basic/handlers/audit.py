"""Topic subscribers of the test app: one filtered, one taking everything."""

from __future__ import annotations

from runtime import Table

items = Table("items")


def record(message):
    items.put({"pk": "audit", "sk": message.id, "type": message.attributes.get("type"), "source": message.source})


def record_all(message):
    items.put({"pk": "firehose", "sk": message.id, "type": message.attributes.get("type")})
