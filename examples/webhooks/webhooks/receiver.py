"""Webhook receiver: verifies the HMAC signature, records the delivery, publishes the event."""

from __future__ import annotations

import hashlib
import hmac
import time

from runtime import HTTPError, Router, Secret, Table, Topic

app = Router()
secret = Secret("signing-secret")
events = Topic("events")
deliveries = Table("deliveries")


@app.post("/{source}")
def receive(request, source):
    expected = hmac.new(secret.value().encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.header("x-signature", "")):
        raise HTTPError(401, "bad_signature", "x-signature does not match the body")
    event = request.json()
    event_type = str(event.get("type", "unknown"))
    event_id = events.publish(event, attributes={"type": event_type, "source": source})
    deliveries.put({"pk": source, "sk": event_id, "type": event_type, "expires_at": int(time.time()) + 30 * 86400})
    return {"accepted": event_id}
