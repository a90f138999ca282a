"""Function on Google Cloud: a Cloud Functions (2nd gen) function with its own service account, its
source object in the app's bucket, and its trigger wiring (a push subscription with an OIDC token
of an account that may invoke only this function)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, FunctionRequest, Mapping
from spec.capabilities import deliveries, round_memory
from spec.filters import pubsub_filter
from spec.model import QueueSpec

from . import ack_deadline, fit_name

if TYPE_CHECKING:
    from components.base import Component

RUNTIME = "python312"
ENTRY_POINT = "handle"  # the bundler's main.py exposes `handle`
# Topic subscribers have no queue settings of their own: they retry like a default queue.
SUBSCRIBER_DEFAULTS = QueueSpec()


@dataclass
class FunctionNodes:
    account: gcp.serviceaccount.Account
    function: gcp.cloudfunctionsv2.Function | None = None
    source: gcp.storage.BucketObject | None = None
    # Queue and topic consumers: the push account, its invoker right and token creator, the push
    # subscription and the service agent's right to dead-letter from it.
    push_account: gcp.serviceaccount.Account | None = None
    push_invoker: gcp.cloudrunv2.ServiceIamMember | None = None
    push_token_creator: gcp.serviceaccount.IAMMember | None = None
    push_subscription: gcp.pubsub.Subscription | None = None
    push_agent_subscriber: gcp.pubsub.SubscriptionIAMMember | None = None
    # A topic subscriber's own dead-letter topic.
    dead_letter: gcp.pubsub.Topic | None = None
    dead_letter_subscription: gcp.pubsub.Subscription | None = None
    dead_letter_publisher: gcp.pubsub.TopicIAMMember | None = None
    # One IAM member per link (made by the linked kind's mapping).
    grants: list[pulumi.Resource] = field(default_factory=list)

    @property
    def member(self) -> pulumi.Output[str]:
        """The function's identity as an IAM member."""
        return self.account.email.apply(lambda email: f"serviceAccount:{email}")

    @property
    def url(self) -> pulumi.Output[str]:
        return self.function.url


class FunctionOnGcp(Mapping):
    kind = "function"
    Nodes = FunctionNodes

    def create(
        self, component: Component, request: FunctionRequest, env: dict[str, pulumi.Input[str]]
    ) -> Built[FunctionNodes]:
        provider = self.provider
        logical, spec = request.logical, request.spec
        account = provider.service_account(component, "account", logical, "fn", "runs the function")
        nodes = FunctionNodes(account=account)
        build: dict[str, Any] = {"runtime": RUNTIME, "entry_point": ENTRY_POINT, **provider.build}
        bucket = provider.nodes.bucket
        if request.artifact is not None:
            assert bucket is not None
            # The object name carries the code's hash, so new code means a new object and a redeploy.
            nodes.source = component.node(
                "source",
                gcp.storage.BucketObject,
                provider.name(logical, "source"),
                provider.opts(component),
                bucket=bucket.name,
                name=f"{logical}/{request.artifact.sha256}.zip",
                source=pulumi.FileAsset(str(request.artifact.path)),
            )
            build["source"] = {
                "storage_source": {"bucket": bucket.name, "object": nodes.source.name}
            }
        # Only the gateway reaches HTTP functions from outside; Pub/Sub push and Cloud Scheduler in
        # the same project count as internal traffic. Either way IAM decides who may invoke.
        ingress = "ALLOW_ALL" if spec.http is not None else "ALLOW_INTERNAL_ONLY"
        service: dict[str, Any] = {
            "available_memory": _memory(round_memory("gcp", spec.memory)),
            "timeout_seconds": spec.timeout,
            "min_instance_count": spec.min_instances,
            "service_account_email": account.email,
            "environment_variables": env,
            "ingress_settings": ingress,
            "all_traffic_on_latest_revision": True,
        }
        if spec.max_instances is not None:
            # serviceConfig.maxInstanceCount caps the instances (cloud.google.com/functions/docs/
            # configuring/max-instances).
            service["max_instance_count"] = spec.max_instances
        nodes.function = component.node(
            "function",
            gcp.cloudfunctionsv2.Function,
            # The function's Cloud Run service takes its name, and service names are under 50
            # characters (so <name>-<hash>-<region>.a.run.app fits a DNS label): 41 + Pulumi's 8.
            fit_name(provider.name(logical), 41),
            # The build runs as the build account: its roles must be in place first.
            provider.opts(component, after=provider.nodes.build_grants),
            location=provider.region,
            description=f"{provider.prefix} {logical} ({spec.handler})",
            build_config=build,
            service_config=service,
        )
        built = Built(
            name=nodes.function.name,
            nodes=nodes,
            native=nodes.function,
            url=nodes.function.url,
            spec=spec,
        )
        source = request.trigger_source
        if source is not None and spec.queue is not None:
            queue_spec: QueueSpec = source.spec
            self._push_subscription(
                component,
                nodes,
                source.nodes.topic,
                source.nodes.dead_letter,
                name=provider.name(spec.queue.name, logical),
                max_retries=queue_spec.max_retries,
                ack_deadline=ack_deadline(queue_spec.visibility_timeout),
                retention=queue_spec.retention,
                holds_backlog=True,
            )
        elif source is not None and spec.topic is not None:
            trigger = spec.topic
            name = provider.name(trigger.name, logical)
            nodes.dead_letter, nodes.dead_letter_subscription, nodes.dead_letter_publisher = (
                provider.dead_letter(component, f"{name}-dlq")
            )
            self._push_subscription(
                component,
                nodes,
                source.nodes.topic,
                nodes.dead_letter,
                name=name,
                max_retries=SUBSCRIBER_DEFAULTS.max_retries,
                ack_deadline=ack_deadline(spec.timeout),
                retention=SUBSCRIBER_DEFAULTS.retention,
                filter_=pubsub_filter(trigger.filter) if trigger.filter else None,
            )
        return built

    def _push_subscription(
        self,
        component: Component,
        nodes: FunctionNodes,
        topic: gcp.pubsub.Topic,
        dead_letter: gcp.pubsub.Topic,
        *,
        name: str,
        max_retries: int,
        ack_deadline: int,
        retention: int,
        filter_: str | None = None,
        holds_backlog: bool = False,
    ) -> None:
        """Push `topic` to the function with an OIDC token of an account that may invoke only it.

        A queue's subscription holds the queue's backlog: prod protects it from deletion, but does
        not retain it (a retained push subscription would push to the deleted function)."""
        provider, logical = self.provider, component.logical
        pusher = provider.service_account(
            component, "push_account", logical, "push", "Pub/Sub push to the function"
        )
        nodes.push_account = pusher
        nodes.push_invoker = provider.invoker(
            component,
            "push_invoker",
            f"{logical}-push-invoker",
            nodes.function,
            provider.member(pusher),
        )
        agent = provider.pubsub_agent()
        # Projects from before April 2021 need the service agent to mint the push account's tokens.
        nodes.push_token_creator = component.node(
            "push_token_creator",
            gcp.serviceaccount.IAMMember,
            f"{logical}-push-token-creator",
            provider.opts(component),
            service_account_id=pusher.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=agent.member,
        )
        url = nodes.url
        subscription = component.node(
            "push_subscription",
            gcp.pubsub.Subscription,
            name,
            provider.opts(
                component, after=[nodes.push_invoker], protect=self.ctx.prod and holds_backlog
            ),
            topic=topic.id,
            filter=filter_,
            ack_deadline_seconds=ack_deadline,
            message_retention_duration=f"{retention}s",
            expiration_policy={"ttl": ""},
            push_config={
                "push_endpoint": url,
                "oidc_token": {"service_account_email": pusher.email, "audience": url},
            },
            dead_letter_policy={
                "dead_letter_topic": dead_letter.id,
                "max_delivery_attempts": deliveries("gcp", max_retries),
            },
            retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
        )
        nodes.push_subscription = subscription
        # Dead-lettering acks the message on the source subscription as the service agent.
        nodes.push_agent_subscriber = component.node(
            "push_agent_subscriber",
            gcp.pubsub.SubscriptionIAMMember,
            f"{name}-agent-subscriber",
            provider.opts(component),
            subscription=subscription.id,
            role="roles/pubsub.subscriber",
            member=agent.member,
        )


def _memory(mb: int) -> str:
    return f"{mb // 1024}Gi" if mb >= 1024 and mb % 1024 == 0 else f"{mb}Mi"
