"""Lifecycle events on the `events` topic: `type` and `tenant_id` attributes (subscription filters match on them)."""

from __future__ import annotations

from typing import Any

from . import store


def publish(event_type: str, tenant: str, agent_id: str, data: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    """Publish one event. `event_id` is stable for the same fact (e.g. `<task_id>.task.succeeded`),
    so a re-publish after a retry is recognised by the notifier and not delivered twice."""
    event = {"id": event_id, "type": event_type, "tenant_id": tenant, "agent_id": agent_id,
             "time": store.iso(store.now()), "data": data}
    store.topic("events").publish(event, attributes={"type": event_type, "tenant_id": tenant, "agent_id": agent_id})
    return event
