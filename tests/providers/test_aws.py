"""The AWS provider: the shared contract, plus the AWS properties a user would notice (billing,
encryption, dead letters, partial batch failures, filters, schedules, prod protection, IAM scope)."""

from __future__ import annotations

import base64
import hashlib
import importlib
import inspect
import json
import shutil
from pathlib import Path

import pytest
import yaml

from omnicloud.mockstate import aws as mockstate
from omnicloud.preview import PreviewResource, PreviewResult
from spec import load_app

from .contract import ROOT, CloudHooks, Grant, ProviderContract, preview

EXTRAS = "tests/providers/apps/aws_extras/app.yaml"

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LAMBDA = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SCHEDULE = "aws:scheduler/schedule:Schedule"
NATIVE = {"table": TABLE, "queue": QUEUE, "topic": "aws:sns/topic:Topic", "secret": "aws:secretsmanager/secret:Secret"}
# What each link verb must allow, and nothing more.
VERB_ACTIONS = {
    ("table", "read"): {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"},
    ("table", "write"): {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"},
    ("queue", "send"): {"sqs:SendMessage"},
    ("topic", "publish"): {"sns:Publish"},
    ("secret", "read"): {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
}


def sample_app():
    """The sample app.yaml, whose values the tests below expect to see deployed."""
    return load_app(ROOT / "app.yaml")


def prod_overrides() -> dict:
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return config.get("omnicloud:functions") or {}


def outputs(resource: PreviewResource) -> dict:
    """What AWS reports for the resource (ARN, URL, physical name), as the preview's mocks computed it."""
    return mockstate.state(resource.type, resource.name, resource.props)[1]


def component(result: PreviewResult, kind: str, logical: str) -> PreviewResource:
    return result.by_name(logical, f"omnicloud:index:{kind}")


def children(result: PreviewResult, kind: str, logical: str, type_: str) -> list[PreviewResource]:
    return [r for r in result.children(component(result, kind, logical).urn) if r.type == type_]


def only(items: list[PreviewResource]) -> PreviewResource:
    assert len(items) == 1, [r.name for r in items]
    return items[0]


def main_queue(result: PreviewResult, kind: str, logical: str) -> PreviewResource:
    """The queue that feeds consumers (the one with a redrive policy), not its dead-letter queue."""
    return only([q for q in children(result, kind, logical, QUEUE) if q.props.get("redrivePolicy")])


def lambda_of(result: PreviewResult, function: str) -> PreviewResource:
    return only(children(result, "Function", function, LAMBDA))


def function_of_role(result: PreviewResult) -> dict[str, str]:
    """Role physical name -> logical function, through the role each Lambda runs as."""
    roles = {outputs(r)["arn"]: outputs(r)["name"] for r in result.of_type(ROLE)}
    owners = {}
    for fn in result.of_type(LAMBDA):
        owner = next(r.name for r in result.resources if r.urn == fn.parent)
        owners[roles[fn.props["role"]]] = owner
    return owners


def statements(policy: PreviewResource) -> list[dict]:
    document = json.loads(policy.props["policy"])
    assert document["Version"] == "2012-10-17"
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def trigger_queues(result: PreviewResult) -> dict[str, str]:
    """Logical function -> ARN of the queue its event source mapping polls."""
    by_arn = {outputs(fn)["arn"]: next(r.name for r in result.resources if r.urn == fn.parent)
              for fn in result.of_type(LAMBDA)}
    return {by_arn[m.props["functionName"]]: m.props["eventSourceArn"] for m in result.of_type(ESM)}


class AwsHooks(CloudHooks):
    cloud = "aws"

    def grants(self, result: PreviewResult) -> list[Grant]:
        """Statements of function roles' inline policies, minus each function's own plumbing: reading
        its trigger queue and writing its own log group (checked separately below)."""
        owners = function_of_role(result)
        triggers = trigger_queues(result)
        log_groups = {}
        for group in result.of_type(LOG_GROUP):
            log_groups[next(r.name for r in result.resources if r.urn == group.parent)] = outputs(group)["arn"]
        found = []
        for policy in result.of_type(ROLE_POLICY):
            function = owners.get(policy.props["role"])
            if function is None:
                continue  # not a function's role (e.g. a scheduler's)
            for statement in statements(policy):
                actions = tuple(as_list(statement["Action"]))
                for resource in as_list(statement["Resource"]):
                    if resource == triggers.get(function) and set(actions) == {
                            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                            "sqs:ChangeMessageVisibility"}:
                        continue
                    if resource.startswith(log_groups[function]) and all(a.startswith("logs:") for a in actions):
                        continue
                    found.append(Grant(function=function, actions=actions, resource=resource))
        return found

    def resource_ref(self, result: PreviewResult, kind: str, logical: str) -> str:
        natives = children(result, kind.capitalize(), logical, NATIVE[kind])
        if kind == "queue":
            natives = [main_queue(result, "Queue", logical)]
        return outputs(only(natives))["arn"]

    def max_deliveries(self, result: PreviewResult, queue: str) -> int:
        return json.loads(main_queue(result, "Queue", queue).props["redrivePolicy"])["maxReceiveCount"]

    def stateful_resources(self, result: PreviewResult) -> list:
        holders = {r.urn for r in result.resources if r.type.split(":")[-1] in ("Table", "Queue", "Topic", "Secret")
                   and r.type.startswith("omnicloud:index:")}
        return [r for r in result.resources if r.custom and r.parent in holders]


class TestAwsContract(ProviderContract, AwsHooks):
    pass


# -- tables ------------------------------------------------------------------------------------


def test_tables_are_on_demand_encrypted_with_the_declared_keys_and_ttl():
    result = preview("aws")
    tables = sample_app().tables
    assert any(t.ttl for t in tables.values()) and any(not t.ttl for t in tables.values())
    for logical, spec in tables.items():
        table = only(children(result, "Table", logical, TABLE)).props
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert table["serverSideEncryption"]["enabled"] is True
        assert (table["hashKey"], table.get("rangeKey")) == (spec.partition_key, spec.sort_key)
        keys = {spec.partition_key, spec.sort_key} - {None}
        assert {(a["name"], a["type"]) for a in table["attributes"]} == {(k, "S") for k in keys}
        if spec.ttl:
            assert table["ttl"] == {"attributeName": spec.ttl, "enabled": True}
        else:
            assert not table.get("ttl")


def test_prod_tables_have_point_in_time_recovery_and_deletion_protection_dev_not():
    for stack, wanted in (("prod", True), ("dev", False)):
        for table in preview("aws", stack).of_type(TABLE):
            assert table.props["pointInTimeRecovery"]["enabled"] is wanted, (stack, table.name)
            assert table.props["deletionProtectionEnabled"] is wanted, (stack, table.name)
            assert (table.protect, table.retain_on_delete) == (wanted, wanted)


# -- queues and topics -------------------------------------------------------------------------


def test_queue_dead_letters_into_its_own_encrypted_dlq():
    result = preview("aws")
    queue = main_queue(result, "Queue", "task-queue")
    dlq = only([q for q in children(result, "Queue", "task-queue", QUEUE) if q is not queue])
    spec = sample_app().queues["task-queue"]
    redrive = json.loads(queue.props["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": outputs(dlq)["arn"], "maxReceiveCount": spec.max_retries + 1}
    assert queue.props["messageRetentionSeconds"] == spec.retention
    assert queue.props["sqsManagedSseEnabled"] is True and dlq.props["sqsManagedSseEnabled"] is True
    # A message keeps its first enqueue time in the DLQ, so the DLQ must keep it longer.
    assert dlq.props["messageRetentionSeconds"] > queue.props["messageRetentionSeconds"]


def test_max_retries_sets_max_receive_count():
    result = preview("aws", app=EXTRAS)  # jobs: max_retries 5
    assert json.loads(main_queue(result, "Queue", "jobs").props["redrivePolicy"])["maxReceiveCount"] == 6


def test_queue_consumer_reports_partial_batch_failures_and_may_only_consume_its_queue():
    result = preview("aws")
    mapping = only(children(result, "Function", "worker", ESM)).props
    queue_arn = outputs(main_queue(result, "Queue", "task-queue"))["arn"]
    assert mapping["eventSourceArn"] == queue_arn
    assert mapping["functionName"] == outputs(lambda_of(result, "worker"))["arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    batch = sample_app().functions["worker"].queue.batch_size
    assert batch <= 10 and mapping["batchSize"] == batch
    assert not mapping.get("maximumBatchingWindowInSeconds")
    role = outputs(only(children(result, "Function", "worker", ROLE)))["name"]
    consuming = [s for p in result.of_type(ROLE_POLICY) if p.props["role"] == role for s in statements(p)
                 if queue_arn in as_list(s["Resource"])]
    assert len(consuming) == 1 and as_list(consuming[0]["Resource"]) == [queue_arn]
    assert sorted(as_list(consuming[0]["Action"])) == sorted(
        ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"])


def test_batches_over_ten_get_a_batching_window():
    mapping = only(children(preview("aws", app=EXTRAS), "Function", "crunch", ESM)).props
    assert mapping["batchSize"] == 50
    assert mapping["maximumBatchingWindowInSeconds"] >= 1  # Lambda refuses batches > 10 without one


def test_filtered_topic_subscriber_gets_its_own_queue_with_the_sns_filter_policy():
    result = preview("aws", app=EXTRAS)
    topic_arn = outputs(only(children(result, "Topic", "events", NATIVE["topic"])))["arn"]
    queue = main_queue(result, "Function", "alerts")
    subscription = only(children(result, "Function", "alerts", "aws:sns/topicSubscription:TopicSubscription")).props
    assert subscription["topic"] == topic_arn
    assert (subscription["protocol"], subscription["endpoint"]) == ("sqs", outputs(queue)["arn"])
    assert subscription["rawMessageDelivery"] is True
    policy = json.loads(subscription["filterPolicy"])  # SNS matches any value of a list
    assert {key: sorted(values) for key, values in policy.items()} == {"type": ["task.failed", "task.succeeded"]}
    assert subscription["filterPolicyScope"] == "MessageAttributes"
    assert json.loads(queue.props["redrivePolicy"])["maxReceiveCount"] == 4
    # Lambda refuses an SQS trigger whose visibility timeout is below the function timeout (20s).
    assert queue.props["visibilityTimeoutSeconds"] >= 20
    mapping = only(children(result, "Function", "alerts", ESM)).props
    assert mapping["eventSourceArn"] == outputs(queue)["arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]


def test_subscriber_queue_accepts_messages_only_from_its_topic():
    result = preview("aws", app=EXTRAS)
    topic_arn = outputs(only(children(result, "Topic", "events", NATIVE["topic"])))["arn"]
    queue = main_queue(result, "Function", "alerts")
    policy = only(children(result, "Function", "alerts", "aws:sqs/queuePolicy:QueuePolicy"))
    assert policy.props["queueUrl"] == outputs(queue)["url"]
    (statement,) = statements(policy)
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == outputs(queue)["arn"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}


@pytest.mark.parametrize("app", [None, EXTRAS])
def test_every_subscriber_filters_exactly_as_declared(app):
    spec = load_app(ROOT / (app or "app.yaml"))
    result = preview("aws", app=app)
    subscribers = {name: fn.topic for name, fn in spec.functions.items() if fn.topic}
    assert subscribers
    for name, trigger in subscribers.items():
        subscription = only(children(result, "Function", name, "aws:sns/topicSubscription:TopicSubscription")).props
        if not trigger.filter:
            assert not subscription.get("filterPolicy"), name
            continue
        declared = {k: sorted(v if isinstance(v, list) else [v]) for k, v in trigger.filter.items()}
        assert {k: sorted(v) for k, v in json.loads(subscription["filterPolicy"]).items()} == declared


# -- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("app", "schedule", "function", "expression"), [
    (None, "sweeper-schedule", "sweeper", "rate(5 minutes)"),
    (EXTRAS, "nightly-schedule", "nightly", "cron(0 3 ? * MON-FRI *)"),  # unix 1-5
    (EXTRAS, "weekend-schedule", "weekend", "cron(30 6 ? * SUN,SAT *)"),  # unix 0 is Sunday
])
def test_schedules_invoke_exactly_their_function_in_aws_syntax(app, schedule, function, expression):
    result = preview("aws", app=app)
    native = only(children(result, "Schedule", schedule, SCHEDULE)).props
    assert native["scheduleExpression"] == expression
    assert native["scheduleExpressionTimezone"] == "UTC"
    assert native["flexibleTimeWindow"] == {"mode": "OFF"}
    function_arn = outputs(lambda_of(result, function))["arn"]
    assert native["target"]["arn"] == function_arn
    assert json.loads(native["target"]["input"]) == {
        "omnicloud-schedule": schedule, "time": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>"}
    role = only(children(result, "Schedule", schedule, ROLE))
    assert native["target"]["roleArn"] == outputs(role)["arn"]
    trust = json.loads(role.props["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    (policy,) = [p for p in result.of_type(ROLE_POLICY) if p.props["role"] == outputs(role)["name"]]
    assert [(as_list(s["Action"]), s["Resource"]) for s in statements(policy)] == [(["lambda:InvokeFunction"], function_arn)]


# -- functions ---------------------------------------------------------------------------------


def test_lambda_settings_follow_app_yaml_and_prod_overrides():
    dev, prod = preview("aws"), preview("aws", "prod")
    overrides = prod_overrides()
    assert overrides["api"]["memory"] == 1024
    for name, spec in sample_app().functions.items():
        fn = lambda_of(dev, name).props
        assert (fn["runtime"], fn["handler"]) == ("python3.12", "omnicloud_entry.handler")
        assert (fn["architectures"], fn["memorySize"], fn["timeout"]) == ([spec.architecture], spec.memory, spec.timeout)
        in_prod = lambda_of(prod, name).props
        assert in_prod["memorySize"] == overrides.get(name, {}).get("memory", spec.memory)
        assert in_prod["timeout"] == overrides.get(name, {}).get("timeout", spec.timeout)


def test_min_instances_keeps_an_alias_warm_and_routes_traffic_through_it():
    prod, dev = preview("aws", "prod"), preview("aws")
    alias = only(children(prod, "Function", "api", "aws:lambda/alias:Alias"))
    warm = only(children(prod, "Function", "api", "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"))
    assert lambda_of(prod, "api").props["publish"] is True
    assert warm.props["provisionedConcurrentExecutions"] == prod_overrides()["api"]["min_instances"] > 0
    assert warm.props["qualifier"] == alias.props["name"]
    integration = only(prod.of_type("aws:apigatewayv2/integration:Integration"))
    assert integration.props["integrationUri"] == outputs(alias)["arn"]
    assert not children(dev, "Function", "api", "aws:lambda/alias:Alias")


def test_each_function_logs_to_its_own_group_with_retention():
    for stack, days in (("dev", 14), ("prod", 90)):
        result = preview("aws", stack)
        for function in sample_app().functions:
            group = only(children(result, "Function", function, LOG_GROUP))
            assert group.props["name"] == f"/aws/lambda/{outputs(lambda_of(result, function))['name']}"
            assert group.props["retentionInDays"] == days


def test_function_env_holds_the_link_json_the_runtime_reads():
    result = preview("aws")
    env = lambda_of(result, "api").props["environment"]["variables"]
    tasks = json.loads(env["OMNICLOUD_LINK_TASKS"])
    table = outputs(only(children(result, "Table", "tasks", TABLE)))
    # Compact: the logical name is the variable's name, not repeated in the value.
    assert tasks == {"kind": "table", "verbs": ["read", "write"], "name": table["name"],
                     "partition_key": "pk", "sort_key": "sk", "ttl": "expires_at", "arn": table["arn"]}
    queue = outputs(main_queue(result, "Queue", "task-queue"))
    link = json.loads(env["OMNICLOUD_LINK_TASK_QUEUE"])
    assert (link["url"], link["arn"], link["verbs"]) == (queue["url"], queue["arn"], ["send"])
    secret = outputs(only(children(result, "Secret", "jwt-secret", NATIVE["secret"])))
    assert json.loads(env["OMNICLOUD_LINK_JWT_SECRET"])["arn"] == secret["arn"]
    assert env["OMNICLOUD_FUNCTION"] == "api"
    assert sample_app().functions["api"].env.items() <= env.items()
    assert "agents" not in sample_app().functions["sweeper"].links
    assert "OMNICLOUD_LINK_AGENTS" not in lambda_of(result, "sweeper").props["environment"]["variables"]


def test_source_code_hash_is_the_artifact_sha256():
    for fn in preview("aws").of_type(LAMBDA):
        archive = Path(fn.props["code"]["archive"])
        digest = hashlib.sha256(archive.read_bytes()).digest()
        assert fn.props["sourceCodeHash"] == base64.b64encode(digest).decode(), fn.name


# -- http --------------------------------------------------------------------------------------


def test_http_api_routes_prefixes_to_functions_through_lambda_proxy():
    for app, function, keys in ((None, "api", ["$default"]), (EXTRAS, "intake", ["ANY /hooks", "ANY /hooks/{proxy+}"])):
        result = preview("aws", app=app)
        api = only(children(result, "HttpApi", "http", "aws:apigatewayv2/api:Api"))
        assert api.props["protocolType"] == "HTTP"
        assert result.outputs["url"] == outputs(api)["apiEndpoint"]
        stage = only(children(result, "HttpApi", "http", "aws:apigatewayv2/stage:Stage")).props
        assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
        integration = only(children(result, "HttpApi", "http", "aws:apigatewayv2/integration:Integration"))
        assert integration.props["integrationType"] == "AWS_PROXY"
        assert integration.props["payloadFormatVersion"] == "2.0"
        assert integration.props["integrationUri"] == outputs(lambda_of(result, function))["arn"]
        routes = children(result, "HttpApi", "http", "aws:apigatewayv2/route:Route")
        assert sorted(r.props["routeKey"] for r in routes) == keys
        integration_id = mockstate.state(integration.type, integration.name, integration.props)[0]
        assert {r.props["target"] for r in routes} == {f"integrations/{integration_id}"}


def test_api_gateway_may_invoke_only_through_its_own_routes():
    result = preview("aws", app=EXTRAS)
    execution_arn = outputs(only(result.of_type("aws:apigatewayv2/api:Api")))["executionArn"]
    permissions = result.of_type("aws:lambda/permission:Permission")
    assert {p.props["function"] for p in permissions} == {outputs(lambda_of(result, "intake"))["name"]}
    assert all(p.props["principal"] == "apigateway.amazonaws.com" for p in permissions)
    assert sorted(p.props["sourceArn"] for p in permissions) == [
        f"{execution_arn}/*/*/hooks", f"{execution_arn}/*/*/hooks/{{proxy+}}"]


# -- secrets -----------------------------------------------------------------------------------


def test_secret_value_is_deployed_only_when_the_stack_config_holds_one(tmp_path):
    assert not preview("aws").of_type("aws:secretsmanager/secretVersion:SecretVersion")
    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  omnicloud:jwt-secret:\n    secure: v1:c2VjcmV0\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    result = preview("aws", project=str(tmp_path), app=str(ROOT / "app.yaml"))
    (version,) = result.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    jwt = outputs(only(children(result, "Secret", "jwt-secret", NATIVE["secret"])))
    assert version.props["secretId"] == mockstate.state(NATIVE["secret"], "agents-jwt-secret", {})[0] == jwt["arn"]
    assert version.props["secretString"]  # the config value, kept secret by Pulumi


# -- IAM and tags, across everything -----------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_iam_policy_names_exact_actions_and_resources(stack):
    """Not only link grants: logs, consumers, schedulers and queue policies too. The one pattern
    allowed is the log streams inside a function's own log group (Lambda names streams at run time)."""
    for app in (None, EXTRAS) if stack == "dev" else (None,):
        result = preview("aws", stack, app=app)
        groups = {outputs(g)["arn"] for g in result.of_type(LOG_GROUP)}
        policies = result.of_type(ROLE_POLICY) + result.of_type("aws:sqs/queuePolicy:QueuePolicy")
        for policy in policies:
            for statement in statements(policy):
                assert statement["Effect"] == "Allow"
                for action in as_list(statement["Action"]):
                    assert "*" not in action, (policy.name, action)
                for resource in as_list(statement["Resource"]):
                    assert resource.startswith("arn:aws:"), (policy.name, resource)
                    if "*" in resource:
                        assert resource.endswith(":log-stream:*") and resource[:-len(":log-stream:*")] in groups, (
                            policy.name, resource)


def test_function_roles_trust_only_lambda_and_carry_no_managed_policies():
    for role in preview("aws").of_type(ROLE):
        trust = json.loads(role.props["assumeRolePolicy"])["Statement"]
        assert len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRole"
        assert not role.props.get("managedPolicyArns")
        if trust[0]["Principal"] == {"Service": "scheduler.amazonaws.com"}:
            assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": mockstate.ACCOUNT}}
        else:
            assert trust[0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_grants_give_each_verb_its_exact_actions():
    result = preview("aws")
    hooks = AwsHooks()
    granted: dict[tuple[str, str], set[str]] = {}
    for grant in hooks.grants(result):
        granted.setdefault((grant.function, grant.resource), set()).update(grant.actions)
    app = sample_app()
    wanted = {}
    for fname, fn in app.functions.items():
        for target, verbs in fn.links.items():
            kind = app.kind_of(target)
            wanted[(fname, hooks.resource_ref(result, kind, target))] = set().union(
                *(VERB_ACTIONS[(kind, verb)] for verb in verbs))
    assert granted == wanted


def _takes_tags(type_: str) -> bool:
    _, module, cls = type_.split(":")
    package = module.split("/")[0]
    resource = getattr(importlib.import_module(f"pulumi_aws.{'lambda_' if package == 'lambda' else package}"), cls)
    return "tags" in inspect.signature(resource._internal_init).parameters


def test_stack_tags_reach_every_aws_resource_that_takes_tags():
    result = preview("aws", "prod")
    tagged = [r for r in result.resources if r.type.startswith("aws:") and _takes_tags(r.type)]
    assert {r.type for r in tagged} >= {TABLE, QUEUE, LAMBDA, ROLE, LOG_GROUP, NATIVE["topic"], NATIVE["secret"], ESM}
    for resource in tagged:
        assert resource.props.get("tags") == {"omnicloud-app": "agents", "omnicloud-stack": "prod",
                                              "managed-by": "omnicloud"}, resource.name


def test_long_physical_names_are_cut_to_aws_limits_and_stay_distinct():
    from providers.aws import fit

    assert fit("agents-api", 64) == "agents-api"  # the usual case: Pulumi's auto-name as is
    long_a, long_b = "a" * 40 + "-queue-one-dlq", "a" * 40 + "-queue-two-dlq"
    cut_a, cut_b = fit(long_a, 50), fit(long_b, 50)
    assert len(cut_a) + 8 <= 50 and len(cut_b) + 8 <= 50  # room for Pulumi's "-" + 7 characters
    assert cut_a != cut_b


# -- issue 10: queue visibility and the 4 KB environment -----------------------------------------


def test_unset_visibility_timeout_is_six_times_the_consumers_timeout_overrides_included(tmp_path):
    from omnicloud.preview import run_preview

    # app.yaml leaves task-queue's visibility unset; its worker runs up to 300 s.
    assert "visibility_timeout" not in sample_app().queues["task-queue"].model_fields_set
    assert main_queue(preview("aws"), "Queue", "task-queue").props["visibilityTimeoutSeconds"] == 6 * 300
    # Declared values stay as declared (aws_extras: jobs 720 s).
    assert main_queue(preview("aws", app=EXTRAS), "Queue", "jobs").props["visibilityTimeoutSeconds"] == 720
    # A stack's timeout override moves the default with it.
    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  omnicloud:functions:\n    worker:\n      timeout: 600\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    result = run_preview(tmp_path, "aws", "dev", app=str(ROOT / "app.yaml"))
    assert main_queue(result, "Queue", "task-queue").props["visibilityTimeoutSeconds"] == 3600


def test_validate_estimate_of_the_lambda_environment_covers_the_real_one():
    from spec.capabilities import AWS_ENV_BYTES_MAX
    from spec.checks import aws_env_bytes

    for app_path in (ROOT / "app.yaml", ROOT / EXTRAS):
        app = load_app(app_path)
        result = preview("aws", app=None if app_path == ROOT / "app.yaml" else EXTRAS)
        for fname in app.functions:
            variables = lambda_of(result, fname).props["environment"]["variables"]
            # What Lambda measures: the variables as one compact JSON object.
            real = len(json.dumps(variables, separators=(",", ":")).encode())
            estimate = aws_env_bytes(app, fname)
            # Never under the real size; over it only by the longest region and suffix stand-ins.
            assert real <= estimate <= real + 40 * (len(app.functions[fname].links) + 1), (fname, real, estimate)
            assert estimate < AWS_ENV_BYTES_MAX
