"""The policy pack's validations, called directly on every resource of real offline previews, and on
planted bad resources that each policy must report."""

from __future__ import annotations

import copy
import importlib
import inspect
import json

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from omnicloud import policies
from tests.providers.contract import preview

CLOUDS = ("aws", "azure", "gcp")
STACKS = ("dev", "prod")
_SDK = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp", "random": "pulumi_random"}


def violations(policy, resource, environment: str | None = None) -> list[str]:
    """Run one policy's validation on a preview resource the way the analyzer does."""
    args = ResourceValidationArgs(
        resource_type=resource.type, props=resource.props, urn=resource.urn, name=resource.name,
        opts=PolicyResourceOptions(protect=resource.protect, ignore_changes=[], delete_before_replace=None,
                                   aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                   additional_secret_outputs=[], parent=resource.parent),
        provider=None, config={"environment": environment} if environment else None)
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def environment_of(stack: str) -> str:
    from omnicloud.preview import read_stack_config
    from tests.providers.contract import ROOT

    return read_stack_config(ROOT, stack).get("omnicloud:environment", "dev")


def planted(cloud: str, stack: str, type_: str, change) -> object:
    """A copy of the first `type_` resource of the preview, altered by `change(props)`."""
    original = preview(cloud, stack).of_type(type_)[0]
    bad = copy.deepcopy(original)
    change(bad.props)
    return bad


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_real_plans_pass_every_policy(cloud, stack):
    result = preview(cloud, stack)
    env = environment_of(stack)
    found = [v for r in result.resources for p in policies.POLICIES for v in violations(p, r, env)]
    assert found == []
    assert len(result.resources) > 20


def test_prod_stack_is_a_prod_environment():
    # Otherwise the prod-data checks on the real plans above would prove nothing.
    assert environment_of("prod") == "prod"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_taggable_table_covers_every_type_the_providers_emit(cloud):
    emitted = {r.type for stack in STACKS for r in preview(cloud, stack).resources if not r.type.startswith("omnicloud:")}
    for type_ in emitted:
        package, module, cls = type_.split(":")
        if package == "pulumi-python":  # a dynamic resource (Azure's trigger sync): a step, nothing to tag
            assert type_ not in policies.TAGGABLE
            continue
        module = module.split("/")[0]
        module = {"lambda": "lambda_"}.get(module, module)
        sdk = importlib.import_module(_SDK[package] if module == "index" else f"{_SDK[package]}.{module}")
        params = inspect.signature(getattr(sdk, cls)._internal_init).parameters
        # GCP `tags` are Resource Manager tag bindings; stack metadata goes in `labels` there.
        key = "labels" if package == "gcp" else "tags"
        # A tag map (API Management named values take a list of strings under `tags`).
        takes = key in params and "Mapping" in str(params[key].annotation)
        assert takes == (policies.TAGGABLE.get(type_) == key), type_


# -- no-wildcard-grants -----------------------------------------------------------------------

def _add_statement(statement):
    def change(props):
        doc = json.loads(props["policy"])
        doc["Statement"].append(statement)
        props["policy"] = json.dumps(doc)
    return change


@pytest.mark.parametrize("statement, expected", [
    ({"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"},
     "wildcard action dynamodb:*"),
    ({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}, "wildcard resource *"),
    ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/*"}, "wildcard resource"),
    # The log-stream exception covers log actions on a Lambda log group only.
    ({"Effect": "Allow", "Action": ["logs:DeleteLogGroup"],
      "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:log-stream:*"}, "wildcard resource"),
    ({"Effect": "Allow", "Action": ["logs:PutLogEvents"],
      "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:*:log-stream:*"}, "wildcard resource"),
    ({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "arn:aws:s3:::bucket"}, "NotAction"),
])
def test_aws_wildcard_statement_is_reported(statement, expected):
    bad = planted("aws", "dev", "aws:iam/rolePolicy:RolePolicy", _add_statement(statement))
    found = violations(policies.no_wildcard_grants, bad)
    assert any(expected in v for v in found), found
    assert all(bad.name in v for v in found)


def test_aws_deny_with_wildcard_is_fine():
    bad = planted("aws", "dev", "aws:iam/rolePolicy:RolePolicy",
                  _add_statement({"Effect": "Deny", "Action": ["*"], "Resource": "*"}))
    assert violations(policies.no_wildcard_grants, bad) == []


_SUB = "/subscriptions/00000000-0000-4000-8000-00000000feed"


@pytest.mark.parametrize("role, name", [
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator"),
])
def test_azure_broad_role_is_reported(role, name):
    def change(props):
        props["roleDefinitionId"] = f"{_SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    bad = planted("azure", "prod", "azure-native:authorization:RoleAssignment", change)
    assert any(f"role {name} " in v for v in violations(policies.no_wildcard_grants, bad))


@pytest.mark.parametrize("scope", [_SUB, f"{_SUB}/resourceGroups/agents-rg", "/"])
@pytest.mark.parametrize("type_", policies.AZURE_ASSIGNMENT_TYPES)
def test_azure_broad_scope_is_reported(type_, scope):
    bad = planted("azure", "prod", type_, lambda props: props.update(scope=scope))
    assert any(f"scope {scope} " in v for v in violations(policies.no_wildcard_grants, bad))


@pytest.mark.parametrize("change, expected", [
    (lambda props: props.update(role="roles/owner"), "role roles/owner"),
    (lambda props: props.update(role="roles/editor"), "role roles/editor"),
    (lambda props: props.update(member="allUsers"), "allUsers"),
])
def test_gcp_broad_or_public_member_is_reported(change, expected):
    bad = planted("gcp", "dev", "gcp:pubsub/topicIAMMember:TopicIAMMember", change)
    assert any(expected in v for v in violations(policies.no_wildcard_grants, bad))


@pytest.mark.parametrize("stack", STACKS)
def test_every_gcp_iam_member_type_in_a_plan_is_checked(stack):
    member_types = {r.type for r in preview("gcp", stack).resources if "iammember" in r.type.lower()}
    assert len(member_types) >= 4
    for type_ in member_types:
        bad = planted("gcp", stack, type_, lambda props: props.update(role="roles/owner"))
        assert any("role roles/owner" in v for v in violations(policies.no_wildcard_grants, bad)), type_


def test_gcp_unconditioned_project_binding_is_reported():
    conditioned = [r for r in preview("gcp", "prod").of_type("gcp:projects/iAMMember:IAMMember")
                   if r.props.get("condition")]
    bad = copy.deepcopy(conditioned[0])
    bad.props.pop("condition")
    assert any("without a condition" in v for v in violations(policies.no_wildcard_grants, bad))


def test_gcp_build_log_writer_is_the_only_project_wide_grant_allowed():
    (log_writer,) = [r for r in preview("gcp", "prod").of_type("gcp:projects/iAMMember:IAMMember")
                     if r.props["role"] == "roles/logging.logWriter"]
    assert "condition" not in log_writer.props
    assert violations(policies.no_wildcard_grants, log_writer) == []
    other = copy.deepcopy(log_writer)
    other.props["role"] = "roles/datastore.user"
    assert any("without a condition" in v for v in violations(policies.no_wildcard_grants, other))


# -- prod-data-protected ----------------------------------------------------------------------

@pytest.mark.parametrize("cloud, type_, change, expected", [
    ("aws", "aws:dynamodb/table:Table", lambda p: p.update(pointInTimeRecovery={"enabled": False}),
     "point-in-time recovery"),
    ("aws", "aws:dynamodb/table:Table", lambda p: p.pop("deletionProtectionEnabled"), "deletion protection"),
    ("gcp", "gcp:firestore/database:Database",
     lambda p: p.update(pointInTimeRecoveryEnablement="POINT_IN_TIME_RECOVERY_DISABLED"), "point-in-time recovery"),
    ("gcp", "gcp:firestore/database:Database",
     lambda p: p.update(deleteProtectionState="DELETE_PROTECTION_DISABLED"), "delete protection"),
    ("azure", "azure-native:cosmosdb:DatabaseAccount", lambda p: p.update(backupPolicy={"type": "Periodic"}),
     "continuous backup"),
])
def test_unprotected_prod_table_is_reported(cloud, type_, change, expected):
    bad = planted(cloud, "prod", type_, change)
    assert any(expected in v for v in violations(policies.prod_data_protected, bad, "prod"))
    # The same table is fine for a dev stack.
    assert violations(policies.prod_data_protected, bad, "dev") == []


def test_environment_comes_from_stack_config_without_policy_config():
    import pulumi.runtime
    from pulumi.runtime import config as pulumi_config

    bad = planted("aws", "prod", "aws:dynamodb/table:Table", lambda p: p.pop("deletionProtectionEnabled"))
    saved = dict(pulumi_config.CONFIG.get())
    try:
        pulumi.runtime.set_all_config({"omnicloud:environment": "prod"})
        assert any("deletion protection" in v for v in violations(policies.prod_data_protected, bad))
        pulumi.runtime.set_all_config({"omnicloud:environment": "dev"})
        assert violations(policies.prod_data_protected, bad) == []
    finally:
        pulumi.runtime.set_all_config(saved)


# -- tagged -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cloud, type_, key", [
    ("aws", "aws:sqs/queue:Queue", "tags"),
    ("azure", "azure-native:keyvault:Vault", "tags"),
    ("gcp", "gcp:pubsub/topic:Topic", "labels"),
])
def test_untagged_resource_is_reported(cloud, type_, key):
    missing = planted(cloud, "dev", type_, lambda p: p.pop(key))
    assert any("omnicloud-app, omnicloud-stack, managed-by" in v for v in violations(policies.tagged, missing))
    partial = planted(cloud, "dev", type_, lambda p: p[key].pop("omnicloud-stack"))
    assert [v for v in violations(policies.tagged, partial) if "omnicloud-stack" in v and "omnicloud-app" not in v]
