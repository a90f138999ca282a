"""Function on AWS: a Lambda with its own IAM role and log group, and its trigger wiring (an SQS
event source mapping; a topic subscriber's own SQS queue fed by SNS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import Built, FunctionRequest, Mapping
from spec.filters import sns_filter_policy
from spec.model import FunctionSpec, QueueSpec

from . import IAM_NAME_MAX, allow, assume_role_policy, fit, policy_document, source_code_hash
from .queue import queue_with_dlq

if TYPE_CHECKING:
    from components.base import Component

RUNTIME = "python3.12"
HANDLER = "omnicloud_entry.handler"  # generated into every zip by the bundler
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}
SUBSCRIBER_MAX_RETRIES = 3
# Lambda insists on a batching window of at least 1s once a batch may exceed 10 records;
# a few seconds lets large batches actually fill.
BATCH_WINDOW_SECONDS = 5
CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


@dataclass
class FunctionNodes:
    role: aws.iam.Role
    function: aws.lambda_.Function
    log_group: aws.cloudwatch.LogGroup
    log_policy: aws.iam.RolePolicy
    # min_instances: a published version behind an alias, with provisioned concurrency.
    alias: aws.lambda_.Alias | None = None
    warm: aws.lambda_.ProvisionedConcurrencyConfig | None = None
    # A topic subscriber's own queue (and dead letters), its policy and subscription.
    subscription_queue: aws.sqs.Queue | None = None
    subscription_dead_letter: aws.sqs.Queue | None = None
    subscription_policy: aws.sqs.QueuePolicy | None = None
    subscription: aws.sns.TopicSubscription | None = None
    # Queue and topic consumers: receive rights and the event source mapping.
    consume_policy: aws.iam.RolePolicy | None = None
    trigger: aws.lambda_.EventSourceMapping | None = None
    # One inline policy per link (made by the linked kind's mapping).
    grants: list[pulumi.Resource] = field(default_factory=list)

    @property
    def invoke_arn(self) -> pulumi.Output[str]:
        """What triggers invoke: the alias when there is one (provisioned concurrency needs it)."""
        return self.alias.arn if self.alias is not None else self.function.arn

    @property
    def qualifier(self) -> pulumi.Output[str] | None:
        return self.alias.name if self.alias is not None else None

    @property
    def ready(self) -> list[pulumi.Resource]:
        """Nothing may invoke the function before its log group and log rights exist, or the first
        invocations' logs are lost."""
        return [self.log_group, self.log_policy]


class FunctionOnAws(Mapping):
    kind = "function"
    Nodes = FunctionNodes

    def create(
        self, component: Component, request: FunctionRequest, env: dict[str, pulumi.Input[str]]
    ) -> Built[FunctionNodes]:
        spec = request.spec
        app = self.ctx.app.name
        name = fit(f"{app}-{request.logical}", IAM_NAME_MAX)  # spec checks keep it whole on AWS
        role = component.node(
            "role",
            aws.iam.Role,
            name,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            description=f"{app} function {request.logical}",
        )
        code: dict[str, Any] = {}
        if request.artifact is not None:
            code = {
                "code": pulumi.FileArchive(str(request.artifact.path)),
                "source_code_hash": source_code_hash(request.artifact.sha256),
            }
        function = component.node(
            "function",
            aws.lambda_.Function,
            name,
            role=role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            architectures=[spec.architecture],
            memory_size=spec.memory,
            timeout=spec.timeout,
            # Reserved concurrency both sets capacity aside and caps the function
            # (docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=env),
            publish=spec.min_instances > 0,
            description=f"{app} {request.logical} ({spec.handler})",
            **code,
        )
        log_group = component.node(
            "log_group",
            aws.cloudwatch.LogGroup,
            f"{name}-logs",
            name=function.name.apply(lambda n: f"/aws/lambda/{n}"),
            retention_in_days=LOG_RETENTION_DAYS[self.ctx.environment],
        )
        # Not AWSLambdaBasicExecutionRole (Resource "*"): only this function's own log group.
        # Stream names are chosen by Lambda at run time, so streams are matched within the group.
        log_policy = component.node(
            "log_policy",
            aws.iam.RolePolicy,
            f"{name}-logs",
            role=role.name,
            policy=log_group.arn.apply(
                lambda arn: policy_document(
                    allow(["logs:CreateLogStream"], arn, "OwnLogGroup"),
                    allow(["logs:PutLogEvents"], f"{arn}:log-stream:*", "OwnLogStreams"),
                )
            ),
        )
        nodes = FunctionNodes(
            role=role, function=function, log_group=log_group, log_policy=log_policy
        )
        if spec.min_instances > 0:
            # Provisioned concurrency only applies to a published version behind an alias, so every
            # trigger invokes the alias.
            nodes.alias = component.node(
                "alias",
                aws.lambda_.Alias,
                f"{name}-live",
                name="live",
                function_name=function.name,
                function_version=function.version,
            )
            nodes.warm = component.node(
                "warm",
                aws.lambda_.ProvisionedConcurrencyConfig,
                f"{name}-warm",
                function_name=function.name,
                qualifier=nodes.alias.name,
                provisioned_concurrent_executions=spec.min_instances,
            )

        built = Built(name=function.name, nodes=nodes, native=function, spec=spec)
        source = request.trigger_source
        if spec.queue is not None and source is not None:
            self._consume(component, name, nodes, source.nodes.queue.arn, spec.queue.batch_size)
        elif spec.topic is not None and source is not None:
            self._subscribe(component, name, nodes, source.nodes.topic.arn, spec)
        return built

    def _consume(
        self,
        component: Component,
        name: str,
        nodes: FunctionNodes,
        queue_arn: pulumi.Input[str],
        batch_size: int,
    ) -> None:
        """Poll `queue_arn` into the function, reporting per-message failures back to SQS."""
        nodes.consume_policy = component.node(
            "consume_policy",
            aws.iam.RolePolicy,
            f"{name}-consume",
            role=nodes.role.name,
            policy=pulumi.Output.from_input(queue_arn).apply(
                lambda arn: policy_document(allow(CONSUME_ACTIONS, arn, "ConsumeTriggerQueue"))
            ),
        )
        # Lambda checks the role can receive from the queue when the mapping is created.
        nodes.trigger = component.node(
            "trigger",
            aws.lambda_.EventSourceMapping,
            f"{name}-trigger",
            pulumi.ResourceOptions(
                parent=component, depends_on=[nodes.consume_policy, *nodes.ready]
            ),
            event_source_arn=queue_arn,
            function_name=nodes.invoke_arn,
            batch_size=batch_size,
            maximum_batching_window_in_seconds=BATCH_WINDOW_SECONDS if batch_size > 10 else None,
            function_response_types=["ReportBatchItemFailures"],
        )

    def _subscribe(
        self,
        component: Component,
        name: str,
        nodes: FunctionNodes,
        topic_arn: pulumi.Input[str],
        spec: FunctionSpec,
    ) -> None:
        """A topic subscriber gets its own SQS queue (retries, dead letters, batching) fed by SNS."""
        child = pulumi.ResourceOptions(parent=component)
        # Lambda refuses an SQS trigger whose visibility timeout is below the function timeout;
        # six times the timeout is AWS's advice so retries of a slow batch do not overlap.
        visibility = min(43200, max(30, 6 * spec.timeout))
        queue = queue_with_dlq(
            component,
            f"{name}-sub",
            visibility,
            QueueSpec().retention,
            SUBSCRIBER_MAX_RETRIES,
            lambda: child,
            prefix="subscription_",
        )
        nodes.subscription_queue, nodes.subscription_dead_letter = queue.queue, queue.dead_letter
        nodes.subscription_policy = component.node(
            "subscription_policy",
            aws.sqs.QueuePolicy,
            f"{name}-sub",
            child,
            queue_url=queue.queue.url,
            policy=pulumi.Output.all(queue.queue.arn, topic_arn).apply(
                lambda args: policy_document(
                    allow(
                        ["sqs:SendMessage"],
                        args[0],
                        "OnlyTheTopic",
                        Principal={"Service": "sns.amazonaws.com"},
                        Condition={"ArnEquals": {"aws:SourceArn": args[1]}},
                    )
                )
            ),
        )
        filter_ = spec.topic.filter
        nodes.subscription = component.node(
            "subscription",
            aws.sns.TopicSubscription,
            f"{name}-sub",
            child,
            topic=topic_arn,
            protocol="sqs",
            endpoint=queue.queue.arn,
            raw_message_delivery=True,
            filter_policy=sns_filter_policy(filter_) if filter_ else None,
            filter_policy_scope="MessageAttributes" if filter_ else None,
        )
        self._consume(component, name, nodes, queue.queue.arn, 10)
