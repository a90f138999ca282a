"""Topic on AWS: an SNS topic (each subscriber gets its own SQS queue, see function.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import Built, LinkTarget, Mapping
from spec.model import TopicSpec

from . import grant_actions

if TYPE_CHECKING:
    from components.base import Component

ACTIONS = {"publish": ("sns:Publish",)}


@dataclass
class TopicNodes:
    topic: aws.sns.Topic


class TopicOnAws(Mapping):
    kind = "topic"
    Nodes = TopicNodes

    def create(self, component: Component, spec: TopicSpec) -> Built[TopicNodes]:
        topic = component.node(
            "topic",
            aws.sns.Topic,
            f"{self.ctx.app.name}-{component.logical}",
            self.ctx.stateful_options(component),
        )
        return Built(name=topic.name, nodes=TopicNodes(topic=topic), native=topic, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"arn": target.built.nodes.topic.arn}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return grant_actions(function, target, ACTIONS, target.built.nodes.topic.arn)
