"""Queue worker: runs agent tasks from `task-queue`; safe to redeliver (see functions.tasks)."""

from __future__ import annotations

from runtime import BadRequest, Message

from . import tasks


def run_task(message: Message) -> None:
    body = message.json()
    task_id = body.get("task_id") if isinstance(body, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise BadRequest(f"message {message.id} has no task_id; expected {{\"task_id\": \"t_...\"}}")
    tasks.process(task_id)
