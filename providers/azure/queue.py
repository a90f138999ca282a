"""Queue on Azure: where Queue becomes a Service Bus queue (maxDeliveryCount, built-in dead-letter
queue) in the app's namespace. Its consumer's trigger is in function.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, LinkTarget
from spec.capabilities import deliveries
from spec.model import QueueSpec

from . import ServiceBusEntity, iso_duration

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class QueueNodes:
    queue: azure.servicebus.Queue


class QueueOnAzure(ServiceBusEntity):
    kind = "queue"
    Nodes = QueueNodes

    def create(self, component: Component, spec: QueueSpec) -> Built[QueueNodes]:
        provider = self.provider
        queue = component.node(
            "queue",
            azure.servicebus.Queue,
            component.logical,
            self.ctx.stateful_options(component),
            namespace_name=provider.nodes.bus.name,
            resource_group_name=provider.rg_name,
            max_delivery_count=deliveries("azure", spec.max_retries),
            # Service Bus locks for at most 5 minutes; the Functions host renews the lock for
            # longer work (maxAutoLockRenewalDuration, set on the consumer).
            lock_duration=iso_duration(min(spec.visibility_timeout, 300)),
            dead_lettering_on_message_expiration=True,
            default_message_time_to_live=iso_duration(spec.retention),
        )
        return Built(name=queue.name, nodes=QueueNodes(queue=queue), native=queue, spec=spec)

    def entity(self, target: LinkTarget) -> pulumi.Resource:
        return target.built.nodes.queue
