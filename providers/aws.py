"""AWS: Lambda, API Gateway HTTP API, SQS, SNS, DynamoDB, EventBridge Scheduler, Secrets Manager,
with one IAM role per function and one inline policy per link (exact actions on exact ARNs)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from spec.capabilities import AWS_LINK_KEYS, deliveries
from spec.filters import sns_filter_policy
from spec.model import FunctionSpec, QueueSpec, SecretSpec, TableSpec, TopicSpec
from spec.schedule import Schedule

from .base import Built, DeployContext, FunctionRequest, LinkTarget

RUNTIME = "python3.12"
HANDLER = "omnicloud_entry.handler"  # generated into every zip by the bundler
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: a message's age counts from its first enqueue
SUBSCRIBER_MAX_RETRIES = 3
# Lambda insists on a batching window of at least 1s once a batch may exceed 10 records;
# a few seconds lets large batches actually fill.
BATCH_WINDOW_SECONDS = 5
IAM_NAME_MAX = 64  # roles; schedules share the limit
INLINE_POLICY_NAME_MAX = 128
SQS_NAME_MAX = 80
AUTONAME_SUFFIX = 8  # "-" + 7 random characters

# The exact IAM actions behind each link verb.
ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("table", "read"): ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"),
    ("table", "write"): ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
    ("queue", "send"): ("sqs:SendMessage",),
    ("topic", "publish"): ("sns:Publish",),
    ("secret", "read"): ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
}
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(actions: tuple[str, ...] | list[str], resources: str | list[str], sid: str | None = None,
          **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resources, **extra}
    if sid:
        statement["Sid"] = sid
    return statement


def assume_role_policy(service: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return policy_document(statement)


def source_code_hash(sha256_hex: str) -> str:
    """What Lambda reports as CodeSha256: base64 of the zip's raw SHA-256 digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def fit(name: str, limit: int) -> str:
    """A resource name whose auto-name (name + suffix) stays within `limit`; unique when cut."""
    room = limit - AUTONAME_SUFFIX
    if len(name) <= room:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:room - 7].rstrip('-')}-{digest}"


class AwsProvider:
    cloud = "aws"

    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx
        self.app = ctx.app.name
        self._account: pulumi.Output[str] | None = None

    # -- app-wide -----------------------------------------------------------------------------

    def setup(self, parent: pulumi.ComponentResource) -> None:
        """Nothing app-wide: every AWS resource here belongs to one component."""

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("aws:") or "tags" not in args.props:
            return None
        stack_tags = self.ctx.tags()
        own = args.props.get("tags")
        if own is None:
            tags: pulumi.Input[Any] = stack_tags
        elif isinstance(own, Mapping):
            tags = {**stack_tags, **own}
        else:  # an Output: merge once it resolves
            tags = pulumi.Output.from_input(own).apply(lambda value: {**stack_tags, **(value or {})})
        return pulumi.ResourceTransformationResult({**args.props, "tags": tags}, args.opts)

    def account_id(self) -> pulumi.Output[str]:
        if self._account is None:
            self._account = aws.get_caller_identity_output().account_id
        return self._account

    # -- data ---------------------------------------------------------------------------------

    def table(self, parent: pulumi.ComponentResource, logical: str, spec: TableSpec) -> Built:
        keys = [aws.dynamodb.TableAttributeArgs(name=spec.partition_key, type="S")]
        if spec.sort_key:
            keys.append(aws.dynamodb.TableAttributeArgs(name=spec.sort_key, type="S"))
        table = aws.dynamodb.Table(
            f"{self.app}-{logical}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=spec.partition_key,
            range_key=spec.sort_key,
            attributes=keys,
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl, enabled=True) if spec.ttl else None,
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=self.ctx.prod),
            deletion_protection_enabled=self.ctx.prod,
            opts=self.ctx.stateful_options(parent),
        )
        return Built(name=table.name, native=table, refs={
            "arn": table.arn, "name": table.name, "partition_key": spec.partition_key,
            "sort_key": spec.sort_key, "ttl": spec.ttl})

    def queue(self, parent: pulumi.ComponentResource, logical: str, spec: QueueSpec) -> Built:
        queue, _ = self._queue_with_dlq(
            f"{self.app}-{logical}", spec.visibility_timeout, spec.retention, spec.max_retries,
            lambda: self.ctx.stateful_options(parent))
        return Built(name=queue.name, native=queue, url=None, refs={"arn": queue.arn, "url": queue.url})

    def _queue_with_dlq(self, name: str, visibility: int, retention: int, max_retries: int,
                        options) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
        dlq = aws.sqs.Queue(fit(f"{name}-dlq", SQS_NAME_MAX), message_retention_seconds=DLQ_RETENTION_SECONDS,
                            sqs_managed_sse_enabled=True, opts=options())
        receives = deliveries("aws", max_retries)
        queue = aws.sqs.Queue(
            fit(name, SQS_NAME_MAX),
            visibility_timeout_seconds=visibility,
            message_retention_seconds=retention,
            sqs_managed_sse_enabled=True,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": receives})),
            opts=options(),
        )
        return queue, dlq

    def topic(self, parent: pulumi.ComponentResource, logical: str, spec: TopicSpec) -> Built:
        topic = aws.sns.Topic(f"{self.app}-{logical}", opts=self.ctx.stateful_options(parent))
        return Built(name=topic.name, native=topic, refs={"arn": topic.arn})

    def secret(self, parent: pulumi.ComponentResource, logical: str, spec: SecretSpec) -> Built:
        secret = aws.secretsmanager.Secret(
            f"{self.app}-{logical}",
            description=spec.description or None,
            # dev is destroyable at once; prod keeps the 30-day recovery window.
            recovery_window_in_days=None if self.ctx.prod else 0,
            opts=self.ctx.stateful_options(parent),
        )
        # `pulumi config set --secret <logical> <value>` deploys the value; without it the secret
        # stays empty and the value is put in out of band.
        value = pulumi.Config().get_secret(logical)
        if value is not None:
            aws.secretsmanager.SecretVersion(f"{self.app}-{logical}-value", secret_id=secret.id,
                                             secret_string=value, opts=self.ctx.stateful_options(parent))
        return Built(name=secret.name, native=secret, refs={"arn": secret.arn})

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        refs = target.built.refs
        return {key: refs[key] for key in AWS_LINK_KEYS[target.kind]}

    # -- compute ------------------------------------------------------------------------------

    def function(self, parent: pulumi.ComponentResource, request: FunctionRequest,
                 env: dict[str, pulumi.Input[str]]) -> Built:
        spec = request.spec
        name = fit(f"{self.app}-{request.logical}", IAM_NAME_MAX)  # spec checks keep it whole on AWS
        child = pulumi.ResourceOptions(parent=parent)
        role = aws.iam.Role(name, assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
                            description=f"{self.app} function {request.logical}", opts=child)
        code: dict[str, Any] = {}
        if request.artifact is not None:
            code = {"code": pulumi.FileArchive(str(request.artifact.path)),
                    "source_code_hash": source_code_hash(request.artifact.sha256)}
        function = aws.lambda_.Function(
            name,
            role=role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            architectures=[spec.architecture],
            memory_size=spec.memory,
            timeout=spec.timeout,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=env),
            publish=spec.min_instances > 0,
            description=f"{self.app} {request.logical} ({spec.handler})",
            **code,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=function.name.apply(lambda n: f"/aws/lambda/{n}"),
            retention_in_days=LOG_RETENTION_DAYS[self.ctx.environment],
            opts=child,
        )
        # Not AWSLambdaBasicExecutionRole (Resource "*"): only this function's own log group.
        # Stream names are chosen by Lambda at run time, so streams are matched within the group.
        log_policy = aws.iam.RolePolicy(
            f"{name}-logs",
            role=role.name,
            policy=log_group.arn.apply(lambda arn: policy_document(
                allow(["logs:CreateLogStream"], arn, "OwnLogGroup"),
                allow(["logs:PutLogEvents"], f"{arn}:log-stream:*", "OwnLogStreams"))),
            opts=child,
        )
        # Nothing may invoke the function before its log group and log rights exist, or the first
        # invocations' logs are lost.
        ready: list[pulumi.Resource] = [log_group, log_policy]

        invoke_target: pulumi.Output[str] = function.arn
        qualifier: pulumi.Output[str] | None = None
        if spec.min_instances > 0:
            # Provisioned concurrency only applies to a published version behind an alias, so every
            # trigger invokes the alias.
            alias = aws.lambda_.Alias(f"{name}-live", name="live", function_name=function.name,
                                      function_version=function.version, opts=child)
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-warm", function_name=function.name, qualifier=alias.name,
                provisioned_concurrent_executions=spec.min_instances, opts=child)
            invoke_target, qualifier = alias.arn, alias.name

        built = Built(name=function.name, native=function, refs={
            "logical": request.logical, "arn": invoke_target, "function_name": function.name,
            "qualifier": qualifier, "role": role, "role_name": role.name, "log_group": log_group,
            "ready": ready})

        source = request.trigger_source
        if spec.queue is not None and source is not None:
            self._consume(parent, name, built, source.refs["arn"], spec.queue.batch_size)
        elif spec.topic is not None and source is not None:
            self._subscribe(parent, name, built, source.refs["arn"], spec)
        return built

    def _consume(self, parent: pulumi.ComponentResource, name: str, function: Built,
                 queue_arn: pulumi.Input[str], batch_size: int) -> aws.lambda_.EventSourceMapping:
        """Poll `queue_arn` into the function, reporting per-message failures back to SQS."""
        policy = aws.iam.RolePolicy(
            f"{name}-consume",
            role=function.refs["role_name"],
            policy=pulumi.Output.from_input(queue_arn).apply(
                lambda arn: policy_document(allow(CONSUME_ACTIONS, arn, "ConsumeTriggerQueue"))),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # Lambda checks the role can receive from the queue when the mapping is created.
        return aws.lambda_.EventSourceMapping(
            f"{name}-trigger",
            event_source_arn=queue_arn,
            function_name=function.refs["arn"],
            batch_size=batch_size,
            maximum_batching_window_in_seconds=BATCH_WINDOW_SECONDS if batch_size > 10 else None,
            function_response_types=["ReportBatchItemFailures"],
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, *function.refs["ready"]]),
        )

    def _subscribe(self, parent: pulumi.ComponentResource, name: str, function: Built,
                   topic_arn: pulumi.Input[str], spec: FunctionSpec) -> None:
        """A topic subscriber gets its own SQS queue (retries, dead letters, batching) fed by SNS."""
        child = pulumi.ResourceOptions(parent=parent)
        # Lambda refuses an SQS trigger whose visibility timeout is below the function timeout;
        # six times the timeout is AWS's advice so retries of a slow batch do not overlap.
        visibility = min(43200, max(30, 6 * spec.timeout))
        queue, _ = self._queue_with_dlq(f"{name}-sub", visibility, QueueSpec().retention,
                                        SUBSCRIBER_MAX_RETRIES, lambda: child)
        aws.sqs.QueuePolicy(
            f"{name}-sub",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, topic_arn).apply(lambda args: policy_document(allow(
                ["sqs:SendMessage"], args[0], "OnlyTheTopic",
                Principal={"Service": "sns.amazonaws.com"},
                Condition={"ArnEquals": {"aws:SourceArn": args[1]}}))),
            opts=child,
        )
        filter_ = spec.topic.filter
        aws.sns.TopicSubscription(
            f"{name}-sub",
            topic=topic_arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=True,
            filter_policy=sns_filter_policy(filter_) if filter_ else None,
            filter_policy_scope="MessageAttributes" if filter_ else None,
            opts=child,
        )
        self._consume(parent, name, function, queue.arn, 10)

    def grant(self, parent: pulumi.ComponentResource, function: Built, target: LinkTarget) -> list[pulumi.Resource]:
        actions = [action for verb in target.verbs for action in ACTIONS[(target.kind, verb)]]
        sid = "".join(part.capitalize() for part in (target.kind, *target.verbs))
        policy = aws.iam.RolePolicy(
            fit(f"{self.app}-{function.refs['logical']}-link-{target.logical}", INLINE_POLICY_NAME_MAX),
            role=function.refs["role_name"],
            policy=pulumi.Output.from_input(target.built.refs["arn"]).apply(
                lambda arn: policy_document(allow(actions, arn, sid))),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return [policy]

    def schedule(self, parent: pulumi.ComponentResource, logical: str, schedule: Schedule, function: Built) -> Built:
        name = fit(f"{self.app}-{logical}", IAM_NAME_MAX)
        child = pulumi.ResourceOptions(parent=parent)
        role = aws.iam.Role(
            name,
            # Only schedules of this account may use the role (confused-deputy guard).
            assume_role_policy=self.account_id().apply(lambda account: assume_role_policy(
                "scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account}})),
            description=f"{self.app} schedule {logical}",
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-invoke",
            role=role.name,
            policy=pulumi.Output.from_input(function.refs["arn"]).apply(
                lambda arn: policy_document(allow(["lambda:InvokeFunction"], arn, "InvokeTheFunction"))),
            opts=child,
        )
        target_input = json.dumps({"omnicloud-schedule": logical, "time": "<aws.scheduler.scheduled-time>",
                                   "id": "<aws.scheduler.execution-id>"})
        native = aws.scheduler.Schedule(
            name,
            schedule_expression=schedule.for_aws(),
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(arn=function.refs["arn"], role_arn=role.arn, input=target_input),
            description=f"{schedule.describe()} (UTC)",
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, *function.refs["ready"]]),
        )
        return Built(name=native.name, native=native, refs={"arn": native.arn})

    def http_api(self, parent: pulumi.ComponentResource, logical: str, routes: list[tuple[str, str, Built]]) -> Built:
        name = f"{self.app}-{logical}"
        child = pulumi.ResourceOptions(parent=parent)
        api = aws.apigatewayv2.Api(name, protocol_type="HTTP", description=f"{self.app} HTTP entry point",
                                   opts=child)
        for prefix, fname, function in routes:
            integration = aws.apigatewayv2.Integration(
                f"{name}-{fname}",
                api_id=api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=function.refs["arn"],
                payload_format_version="2.0",
                opts=child,
            )
            paths = [None] if prefix == "/" else [prefix, f"{prefix}/{{proxy+}}"]
            for path in paths:
                suffix = "default" if path is None else ("prefix" if path == prefix else "proxy")
                aws.apigatewayv2.Route(
                    f"{name}-{fname}-{suffix}",
                    api_id=api.id,
                    route_key="$default" if path is None else f"ANY {path}",
                    target=integration.id.apply(lambda i: f"integrations/{i}"),
                    opts=child,
                )
                # Scoped to this API and this route, as narrow as API Gateway's source ARNs go:
                # <api>/<stage>/<method><route path>. Stage and method stay open because the route is
                # ANY and the API has only the $default stage; the catch-all $default route has no
                # path, so its grant covers the API (all of whose other routes are ours).
                aws.lambda_.Permission(
                    f"{name}-{fname}-{suffix}",
                    action="lambda:InvokeFunction",
                    function=function.refs["function_name"],
                    qualifier=function.refs["qualifier"],
                    principal="apigateway.amazonaws.com",
                    source_arn=api.execution_arn.apply(lambda arn, p=path: f"{arn}/*/*{p or ''}"),
                    opts=pulumi.ResourceOptions(parent=parent, depends_on=function.refs["ready"]),
                )
        aws.apigatewayv2.Stage(f"{name}-default", api_id=api.id, name="$default", auto_deploy=True, opts=child)
        return Built(name=api.name, native=api, url=api.api_endpoint,
                     refs={"id": api.id, "execution_arn": api.execution_arn})
