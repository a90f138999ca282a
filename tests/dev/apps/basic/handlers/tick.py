"""Scheduled function of the test app: records each firing."""

from __future__ import annotations

import uuid

from runtime import Table

items = Table("items")


def run(event):
    items.put({"pk": "tick", "sk": f"{event.time.isoformat()}-{uuid.uuid4().hex[:6]}", "schedule": event.schedule})
