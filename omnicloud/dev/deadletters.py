"""Queues and their dead letters in the local state, for the console and `omnicloud dlq`.

The queues of an app are those app.yaml declares and one per topic subscription
(`<topic>~<subscriber>`, see runtime/backends/local.py); each has a dead-letter queue `<name>-dlq`.
Both the console (omnicloud/dev/console.py) and the command line (`omnicloud dlq`) go through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runtime.backends.local import DLQ_SUFFIX, dlq_name, subscription_queue

if TYPE_CHECKING:
    from runtime.backends.local import Received, Store
    from spec import AppSpec


@dataclass(frozen=True)
class QueueInfo:
    """A queue of the app: declared (`queue`) or a topic's subscription (`subscription`)."""

    name: str
    kind: str  # queue | subscription
    consumer: str | None  # the function that consumes it
    topic: str | None = None
    filter: dict[str, Any] | None = None

    @property
    def dlq(self) -> str:
        return dlq_name(self.name)


class UnknownQueue(LookupError):
    """No such queue in the app; the message names the ones there are."""


class UnknownMessage(LookupError):
    """No such message in the queue; the message says how to list them."""


def queues_of(spec: AppSpec) -> list[QueueInfo]:
    consumers = {fn.queue.name: name for name, fn in spec.functions.items() if fn.queue is not None}
    found = [QueueInfo(name, "queue", consumers.get(name)) for name in spec.queues]
    for name, fn in spec.functions.items():
        if fn.topic is not None:
            found.append(
                QueueInfo(
                    subscription_queue(fn.topic.name, name),
                    "subscription",
                    name,
                    fn.topic.name,
                    dict(fn.topic.filter or {}),
                )
            )
    return found


def resolve(spec: AppSpec, name: str) -> QueueInfo:
    """The queue `name` names (its dead-letter queue's name is accepted too)."""
    known = queues_of(spec)
    for info in known:
        if name in (info.name, info.dlq):
            return info
    names = ", ".join(info.name for info in known) or "none"
    raise UnknownQueue(f"no queue {name!r} in app {spec.name!r}; its queues are: {names}")


def dead_letter(store: Store, info: QueueInfo, message_id: str) -> Received:
    found = store.message(info.dlq, message_id)
    if found is None:
        raise UnknownMessage(
            f"no dead letter {message_id!r} in {info.dlq}; list them with "
            f"`omnicloud dlq list {info.name}`"
        )
    return found


def redrive(store: Store, info: QueueInfo, message_id: str | None = None) -> int:
    """Move one dead letter (or, without `message_id`, all of them) back to the queue."""
    if message_id is not None:
        dead_letter(store, info, message_id)  # UnknownMessage if it is not there
        return store.redrive(info.name, [message_id])
    return store.redrive(info.name)


def describe(received: Received, *, body_limit: int | None = None) -> dict[str, Any]:
    """A message as the console and `omnicloud dlq show --json` show it: the body as text (and as
    JSON when it is JSON), attributes, attempts, last error."""
    text = received.body.decode("utf-8", "replace")
    truncated = body_limit is not None and len(text) > body_limit
    out: dict[str, Any] = {
        "id": received.id,
        "queue": received.queue,
        "source": received.source,
        "body": text[:body_limit] if truncated else text,
        "body_truncated": truncated,
        "attributes": received.attributes,
        "content_type": received.content_type,
        "attempts": received.receive_count,
        "enqueued_at": iso(received.enqueued_at),
        "visible_at": iso(received.visible_at),
        "in_flight": received.lease is not None,
        "last_error": received.last_error,
    }
    if not truncated:
        try:
            out["json"] = json.loads(text)
        except ValueError:
            pass
    return out


def iso(ts: float | None) -> str | None:
    return (
        None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    )


def is_dlq(queue: str) -> bool:
    return queue.endswith(DLQ_SUFFIX)
