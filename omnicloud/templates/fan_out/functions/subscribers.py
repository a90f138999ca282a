"""Topic subscribers. Each gets its own copy of every event its filter lets through, at least
once: both are idempotent, so a redelivered event changes nothing. Raising asks for a retry."""

from __future__ import annotations

from runtime import ConditionFailed, Message, Table

ledger = Table("ledger")


def audit(message: Message) -> None:
    """Keep every event, keyed by publish time and message id (a redelivery overwrites itself)."""
    event = message.json()
    published = message.published_at.isoformat() if message.published_at else ""
    ledger.put(
        {"pk": "event", "sk": f"{published}#{message.id}", "type": message.type, "event": event}
    )


def ship(message: Message) -> None:
    """Ship each placed order once (the subscription's filter sends only order.placed)."""
    order_id = message.json()["order_id"]
    try:
        ledger.put({"pk": "shipment", "sk": order_id, "status": "shipping"}, if_absent=True)
    except ConditionFailed:
        pass  # already shipping: this is a redelivery
