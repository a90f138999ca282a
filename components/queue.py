"""Queue: a durable work queue with retries and a dead-letter target on every cloud."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from .base import Resource


class QueueArgs(TypedDict, total=False):
    visibility_timeout: pulumi.Input[int]
    """Seconds a received message stays hidden from other consumers."""
    max_retries: pulumi.Input[int]
    """Deliveries after the first before the message is dead-lettered."""
    retention: pulumi.Input[int]
    """Seconds an undelivered message is kept."""


class Queue(Resource):
    """`Queue(name, args, opts, provider=..., transform={"<node>": fn})`; nodes per cloud in
    providers/<cloud>/queue.py."""

    KIND = "Queue"
    kind = "queue"
