"""Queue: a durable work queue with retries and a dead-letter target on every cloud."""

from __future__ import annotations

from typing import TypedDict

import pulumi

from providers import base
from spec.model import QueueSpec

from ._base import NeutralComponent


class QueueArgs(TypedDict, total=False):
    visibility_timeout: pulumi.Input[int]
    """Seconds a received message stays hidden from other consumers."""
    max_retries: pulumi.Input[int]
    """Deliveries after the first before the message is dead-lettered."""
    retention: pulumi.Input[int]
    """Seconds an undelivered message is kept."""


class Queue(NeutralComponent):
    KIND = "Queue"

    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        spec = QueueSpec(**args)  # validates, fills defaults
        self._finish(base.active().queue(self, name, spec))
