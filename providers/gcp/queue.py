"""Queue on Google Cloud: a Pub/Sub topic with a dead-letter topic; its consumer's push subscription
is in function.py (a queue without a consumer keeps messages in a pull subscription)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, LinkTarget, Mapping
from spec.model import QueueSpec

from . import PUBSUB, ack_deadline

if TYPE_CHECKING:
    from components.base import Component

# Prod protection (protect + retain_on_delete) is for what holds data: Firestore databases,
# secrets, a queue's backlog and dead letters. Topics hold no messages here (no topic retention
# is set); a subscription's backlog does ("Message retention duration", cloud.google.com/pubsub/
# docs/subscription-properties). A topic subscriber's push subscription
# is plumbing derived from app.yaml: protected, a changed filter (which replaces it) could not be
# deployed, and retained, a removed subscriber's would go on pushing to a deleted function.


@dataclass
class QueueNodes:
    topic: gcp.pubsub.Topic
    dead_letter: gcp.pubsub.Topic
    dead_letter_subscription: gcp.pubsub.Subscription | None = None
    dead_letter_publisher: gcp.pubsub.TopicIAMMember | None = None
    # Without a consumer: the pull subscription that keeps messages until one comes.
    backlog: gcp.pubsub.Subscription | None = None


def publish_grant(
    function: Component, target: LinkTarget, topic: gcp.pubsub.Topic
) -> list[pulumi.Resource]:
    """roles/pubsub.publisher on exactly the topic, for the function's service account."""
    return [
        function.node(
            "grants",
            gcp.pubsub.TopicIAMMember,
            f"{function.logical}-{target.logical}-publisher",
            function.provider.opts(function),
            topic=topic.id,
            role="roles/pubsub.publisher",
            member=function.nodes.member,
        )
    ]


class QueueOnGcp(Mapping):
    kind = "queue"
    Nodes = QueueNodes
    services = (PUBSUB,)

    def create(self, component: Component, spec: QueueSpec) -> Built[QueueNodes]:
        provider, logical = self.provider, component.logical
        topic = component.node(
            "topic", gcp.pubsub.Topic, provider.name(logical), provider.opts(component)
        )
        dead_letter, kept, publisher = provider.dead_letter(
            component, provider.name(logical, "dlq")
        )
        nodes = QueueNodes(
            topic=topic,
            dead_letter=dead_letter,
            dead_letter_subscription=kept,
            dead_letter_publisher=publisher,
        )
        if not self.ctx.app.consumers_of_queue(logical):
            # A topic without subscriptions drops what is published: keep messages until a consumer comes.
            nodes.backlog = component.node(
                "backlog",
                gcp.pubsub.Subscription,
                provider.name(logical),
                provider.stateful(component),
                topic=topic.id,
                ack_deadline_seconds=ack_deadline(spec.visibility_timeout),
                message_retention_duration=f"{spec.retention}s",
                expiration_policy={"ttl": ""},
            )
        return Built(name=topic.name, nodes=nodes, native=topic, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"topic": self.provider.topic_path(target.built.nodes.topic)}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return publish_grant(function, target, target.built.nodes.topic)
