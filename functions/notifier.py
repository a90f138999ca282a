"""Topic subscriber: delivers lifecycle events to the agent's webhooks, each at most once.

A webhook that got an event is recorded in `deliveries`; on a retry (this function raises
when any webhook failed, and the subscription redelivers, then dead-letters) only the
webhooks without a record are tried again.
"""

from __future__ import annotations

import logging
import time

from runtime import BadRequest, ConditionFailed, Message
from runtime.log import event as log_event

from . import store, webhooks

log = logging.getLogger("agents.notifier")
RETENTION_SECONDS = 7 * 24 * 3600
DELIVERY_SK = "DELIVERY#"  # the agent's delivery log: pk=TENANT#<t>#AGENT#<a>, sk=DELIVERY#<at>#<event>#<hook>#<n>


def _record(event: dict, hook: dict, attempt: int, started: float, *, status: int | None = None,
            error: str | None = None) -> None:
    """One line of the agent's delivery log (GET /agents/{id}/deliveries): every attempt, failed or not."""
    now = store.now()
    at = store.iso(now)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    item = {"pk": store.agent_pk(event["tenant_id"], event["agent_id"]),
            "sk": f"{DELIVERY_SK}{at}#{event['id']}#{hook['webhook_id']}#{attempt}",
            "webhook_id": hook["webhook_id"], "event_id": event["id"], "event_type": event["type"],
            "task_id": data.get("task_id"), "url": webhooks.shown(hook["url"]), "ok": error is None,
            "status": status, "error": error, "attempt": attempt, "at": at,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "expires_at": int(now) + RETENTION_SECONDS}
    store.table("deliveries").put({k: v for k, v in item.items() if v is not None})


def deliver(message: Message) -> None:
    event = message.json()
    if not isinstance(event, dict) or not all(isinstance(event.get(k), str) and event[k]
                                              for k in ("id", "type", "tenant_id", "agent_id")):
        raise BadRequest(f"message {message.id} is not an agents event (needs id, type, tenant_id, agent_id)")
    event_id, event_type, tenant, agent_id = event["id"], event["type"], event["tenant_id"], event["agent_id"]
    # Only the webhooks of this agent of this tenant: the key starts with the event's tenant.
    hooks = store.table("agents").query(store.agent_pk(tenant, agent_id), prefix="WEBHOOK#", limit=100).items
    deliveries = store.table("deliveries")
    delivered_pk = store.event_pk(tenant, event_id)
    failures = []
    for hook in hooks:
        if not webhooks.wants(hook, event_type):
            continue
        if deliveries.get(delivered_pk, hook["webhook_id"]) is not None:
            continue  # delivered on an earlier attempt
        started = time.perf_counter()
        try:
            status = webhooks.post(hook["url"], hook["secret"], event,
                                   timeout=float(store.int_setting("WEBHOOK_TIMEOUT_SECONDS", 10)))
        except webhooks.DeliveryFailed as exc:
            failures.append(str(exc))
            log_event(log, "webhook delivery failed", event_id=event_id, webhook_id=hook["webhook_id"],
                      error=str(exc), attempt=message.delivery_attempt)
            _record(event, hook, message.delivery_attempt, started, error=str(exc))
            continue
        _record(event, hook, message.delivery_attempt, started, status=status)
        try:
            deliveries.put({"pk": delivered_pk, "sk": hook["webhook_id"], "status": status,
                            "at": store.iso(store.now()), "expires_at": int(store.now()) + RETENTION_SECONDS},
                           if_absent=True)
        except ConditionFailed:
            pass  # a concurrent attempt recorded it first
        log_event(log, "webhook delivered", event_id=event_id, webhook_id=hook["webhook_id"], status=status)
    if failures:
        # Raising makes the subscription redeliver (then dead-letter); recorded webhooks are skipped.
        raise RuntimeError(f"{len(failures)} webhook(s) failed for event {event_id}: {'; '.join(failures)}")
