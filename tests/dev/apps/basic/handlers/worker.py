"""Queue consumer of the test app: records each delivery; fails or stalls when told to."""

from __future__ import annotations

import logging
import time

from runtime import Table

items = Table("items")
log = logging.getLogger("devtest.worker")


def run(message):
    job = message.json()
    job_id = job["id"]
    attempts = items.get("attempts", job_id) or {"pk": "attempts", "sk": job_id, "count": 0}
    attempts["count"] += 1
    items.put(attempts)
    log.info("working on job %s, delivery %d", job_id, message.delivery_attempt, extra={"fields": {"job": job_id}})
    if job.get("fail"):
        raise RuntimeError(f"job {job_id} asked to fail")
    if attempts["count"] <= job.get("fail_first", 0):  # fails its first n deliveries, then succeeds
        raise RuntimeError(f"job {job_id} fails delivery {attempts['count']} of the first {job['fail_first']}")
    if job.get("stall_first") and attempts["count"] == 1:
        time.sleep(60)  # the test kills the server meanwhile
    items.put({"pk": "done", "sk": job_id, "attempt": message.delivery_attempt, "source": message.source})
