"""What a job is, shared by the API and the worker: its record in the `results` table."""

from __future__ import annotations

import time

PARTITION = "job"
KEEP_SECONDS = 7 * 24 * 3600  # results expire a week after they were written (the table's ttl)


def record(job_id: str, status: str, **fields: object) -> dict:
    return {
        "pk": PARTITION,
        "sk": job_id,
        "status": status,
        "expires_at": int(time.time()) + KEEP_SECONDS,
        **fields,
    }


def public(item: dict) -> dict:
    return {
        "id": item["sk"],
        "status": item["status"],
        "text": item.get("text"),
        "result": item.get("result"),
    }
