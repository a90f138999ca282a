"""Topic on Google Cloud: a Pub/Sub topic; each subscriber's filtered push subscription is in
function.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, LinkTarget, Mapping
from spec.model import TopicSpec

from . import PUBSUB
from .queue import publish_grant

if TYPE_CHECKING:
    from components.base import Component


@dataclass
class TopicNodes:
    topic: gcp.pubsub.Topic


class TopicOnGcp(Mapping):
    kind = "topic"
    Nodes = TopicNodes
    services = (PUBSUB,)

    def create(self, component: Component, spec: TopicSpec) -> Built[TopicNodes]:
        provider = self.provider
        topic = component.node(
            "topic", gcp.pubsub.Topic, provider.name(component.logical), provider.opts(component)
        )
        return Built(name=topic.name, nodes=TopicNodes(topic=topic), native=topic, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"topic": self.provider.topic_path(target.built.nodes.topic)}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return publish_grant(function, target, target.built.nodes.topic)
