"""Queue worker: runs agent tasks from `task-queue`; safe to redeliver (see functions.tasks)."""

from __future__ import annotations

from runtime import BadRequest, Message

from . import tasks


def run_task(message: Message) -> None:
    body = message.json()
    task_id = body.get("task_id") if isinstance(body, dict) else None
    tenant = body.get("tenant_id") if isinstance(body, dict) else None
    if not isinstance(task_id, str) or not task_id or not isinstance(tenant, str) or not tenant:
        raise BadRequest(f"message {message.id} is not a task; expected {{\"task_id\": \"t_...\", \"tenant_id\": \"...\"}}")
    tasks.process(tenant, task_id)
