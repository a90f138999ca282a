"""Queue on AWS: an SQS queue and its dead-letter queue (redrive after max_retries)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import Built, LinkTarget, Mapping
from spec.capabilities import deliveries
from spec.model import QueueSpec

from . import fit, grant_actions

if TYPE_CHECKING:
    from components.base import Component

DLQ_RETENTION_SECONDS = (
    14 * 24 * 3600
)  # the SQS maximum: a message's age counts from its first enqueue
SQS_NAME_MAX = 80
ACTIONS = {"send": ("sqs:SendMessage",)}


@dataclass
class QueueNodes:
    queue: aws.sqs.Queue
    dead_letter: aws.sqs.Queue


def queue_with_dlq(
    component: Component,
    name: str,
    visibility: int,
    retention: int,
    max_retries: int,
    options: Callable[[], pulumi.ResourceOptions],
    prefix: str = "",
) -> QueueNodes:
    """An SQS queue that dead-letters after `max_retries`, as nodes `<prefix>queue` and
    `<prefix>dead_letter` of `component`."""
    dlq = component.node(
        f"{prefix}dead_letter",
        aws.sqs.Queue,
        fit(f"{name}-dlq", SQS_NAME_MAX),
        options(),
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
    )
    receives = deliveries("aws", max_retries)
    queue = component.node(
        f"{prefix}queue",
        aws.sqs.Queue,
        fit(name, SQS_NAME_MAX),
        options(),
        visibility_timeout_seconds=visibility,
        message_retention_seconds=retention,
        sqs_managed_sse_enabled=True,
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": receives})
        ),
    )
    return QueueNodes(queue=queue, dead_letter=dlq)


class QueueOnAws(Mapping):
    kind = "queue"
    Nodes = QueueNodes

    def create(self, component: Component, spec: QueueSpec) -> Built[QueueNodes]:
        nodes = queue_with_dlq(
            component,
            f"{self.ctx.app.name}-{component.logical}",
            spec.visibility_timeout,
            spec.retention,
            spec.max_retries,
            lambda: self.ctx.stateful_options(component),
        )
        return Built(name=nodes.queue.name, nodes=nodes, native=nodes.queue, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        queue = target.built.nodes.queue
        return {"url": queue.url, "arn": queue.arn}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return grant_actions(function, target, ACTIONS, target.built.nodes.queue.arn)
