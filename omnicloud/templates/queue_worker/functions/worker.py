"""Run one job per message. Raising hands the message back: it is delivered again, and after the
queue's max_retries it goes to the dead-letter queue. Redelivery can happen even after success
(every cloud delivers at least once), so running a job twice must do no harm: it does the same
work and writes the same result."""

from __future__ import annotations

import logging

from runtime import Message, Table

from .jobs import record

log = logging.getLogger(__name__)
results = Table("results")


def run(message: Message) -> None:
    job = message.json()  # a body that is not JSON raises BadRequest: retried, then dead-lettered
    if (
        not isinstance(job, dict)
        or not isinstance(job.get("job_id"), str)
        or not isinstance(job.get("text"), str)
    ):
        raise ValueError(f"message {message.id} is not a job: expected {{'job_id', 'text'}}")
    words = job["text"].split()
    result = {"words": len(words), "longest": max(words, key=len) if words else None}
    results.put(record(job["job_id"], "done", text=job["text"], result=result))
    log.info(
        "job done", extra={"fields": {"job_id": job["job_id"], "attempt": message.delivery_attempt}}
    )
