"""Topic on Azure: a Service Bus topic in the app's namespace; each subscriber's subscription and
filter rule are in function.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure

from providers.base import Built, LinkTarget
from spec.model import TopicSpec

from . import ServiceBusEntity

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class TopicNodes:
    topic: azure.servicebus.Topic


class TopicOnAzure(ServiceBusEntity):
    kind = "topic"
    Nodes = TopicNodes

    def topic_args(self, spec: TopicSpec) -> dict[str, Any]:
        """The Service Bus topic's settings beyond its place: none by default (Azure's defaults)."""
        return {}

    def create(self, component: Component, spec: TopicSpec) -> Built[TopicNodes]:
        provider = self.provider
        topic = component.node(
            "topic",
            azure.servicebus.Topic,
            component.logical,
            self.ctx.stateful_options(component),
            namespace_name=provider.nodes.bus.name,
            resource_group_name=provider.rg_name,
            **self.topic_args(spec),
        )
        return Built(name=topic.name, nodes=TopicNodes(topic=topic), native=topic, spec=spec)

    def entity(self, target: LinkTarget) -> pulumi.Resource:
        return target.built.nodes.topic
