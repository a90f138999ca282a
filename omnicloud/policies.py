"""Policies for omnicloud stacks on every cloud: no wildcard grants, prod data protected, stack tags.

Plain functions (type, props, environment) -> violation messages, wrapped as pulumi-policy
ResourceValidationPolicy objects that policy/__main__.py packs for `pulumi up --policy-pack policy/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

STACK_TAGS = ("omnicloud-app", "omnicloud-stack", "managed-by")

# Types the providers emit whose SDK class takes `tags` (AWS, Azure) or `labels` (GCP; GCP
# `tags` are Resource Manager tag bindings, not labels). tests/test_policies.py checks this
# table against the SDK signatures of every type a preview emits.
TAGGABLE: dict[str, str] = {t: "tags" for t in (
    "aws:apigatewayv2/api:Api", "aws:apigatewayv2/stage:Stage", "aws:cloudwatch/logGroup:LogGroup",
    "aws:dynamodb/table:Table", "aws:iam/role:Role", "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/function:Function", "aws:secretsmanager/secret:Secret", "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "azure-native:apimanagement:ApiManagementService", "azure-native:applicationinsights:Component",
    "azure-native:cosmosdb:DatabaseAccount", "azure-native:cosmosdb:TableResourceTable",
    "azure-native:keyvault:Secret", "azure-native:keyvault:Vault",
    "azure-native:managedidentity:UserAssignedIdentity", "azure-native:operationalinsights:Workspace",
    "azure-native:resources:ResourceGroup", "azure-native:servicebus:Namespace",
    "azure-native:storage:StorageAccount", "azure-native:web:AppServicePlan", "azure-native:web:WebApp",
)} | {t: "labels" for t in (
    "gcp:apigateway/api:Api", "gcp:apigateway/apiConfig:ApiConfig", "gcp:apigateway/gateway:Gateway",
    "gcp:artifactregistry/repository:Repository",
    "gcp:cloudfunctionsv2/function:Function", "gcp:pubsub/subscription:Subscription", "gcp:pubsub/topic:Topic",
    "gcp:secretmanager/secret:Secret", "gcp:storage/bucket:Bucket",
)}

AWS_POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
# The one wildcard a Lambda needs: its log streams are created at run time with generated
# names, so PutLogEvents can only be scoped to "<its own log group>:log-stream:*".
_LOG_STREAMS = re.compile(r"^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:/aws/lambda/[^*:]+:log-stream:\*$")
_LOG_STREAM_ACTIONS = {"logs:PutLogEvents", "logs:CreateLogStream"}

AZURE_ASSIGNMENT_TYPES = ("azure-native:authorization:RoleAssignment",
                          "azure-native:cosmosdb:TableResourceTableRoleAssignment")
AZURE_BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
# A resource scope: something under a resource group's providers, never the group, the
# subscription, a management group or "/".
_AZURE_RESOURCE_SCOPE = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+", re.IGNORECASE)

GCP_BROAD_ROLES = {"roles/owner", "roles/editor"}
GCP_PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
GCP_PROJECT_GRANTS = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
# The one project-wide grant a build needs: Cloud Logging has nothing narrower than the project to
# write build logs to (cloud.google.com/functions/docs/securing/build-custom-sa), and the role only
# writes log entries.
GCP_PROJECT_ONLY_ROLES = {"roles/logging.logWriter"}


def wildcard_grant_violations(type_: str, props: Mapping[str, Any]) -> list[str]:
    """no-wildcard-grants: what is too broad about this grant (empty when it is not a grant)."""
    if type_ in AWS_POLICY_TYPES:
        return _aws_statement_violations(props.get("policy"))
    if type_ in AZURE_ASSIGNMENT_TYPES:
        return _azure_assignment_violations(props)
    if type_.startswith("gcp:") and re.search(r"/\w*iam(member|binding):", type_, re.IGNORECASE):
        return _gcp_member_violations(type_, props)
    return []


def _aws_statement_violations(policy: Any) -> list[str]:
    doc = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for i, st in enumerate(statements):
        if st.get("Effect", "Allow") != "Allow":
            continue
        where = f"statement {st.get('Sid') or i}"
        for inverse in ("NotAction", "NotResource"):
            if inverse in st:
                found.append(f"{where}: {inverse} grants everything not listed; list what is allowed instead")
        actions = _as_list(st.get("Action"))
        resources = _as_list(st.get("Resource"))
        wild_actions = [a for a in actions if "*" in str(a)]
        if wild_actions:
            found.append(f"{where}: wildcard action {', '.join(map(str, wild_actions))}; name each action")
        for res in resources:
            if "*" not in str(res):
                continue
            if _LOG_STREAMS.match(str(res)) and set(actions) <= _LOG_STREAM_ACTIONS:
                continue
            found.append(f"{where}: wildcard resource {res}; scope the statement to exact ARNs")
    return found


def _azure_assignment_violations(props: Mapping[str, Any]) -> list[str]:
    found = []
    role_id = str(props.get("roleDefinitionId") or "").rstrip("/").rsplit("/", 1)[-1].lower()
    if role_id in AZURE_BROAD_ROLES:
        found.append(f"role {AZURE_BROAD_ROLES[role_id]} is never granted; assign a data-plane role for the resource")
    scope = str(props.get("scope") or "")
    if not _AZURE_RESOURCE_SCOPE.match(scope):
        found.append(f"scope {scope or '<none>'} is broader than one resource; scope the assignment to the resource id")
    return found


def _gcp_member_violations(type_: str, props: Mapping[str, Any]) -> list[str]:
    found = []
    role = str(props.get("role") or "")
    if role in GCP_BROAD_ROLES:
        found.append(f"role {role} is never granted; use the service's narrowest predefined role")
    members = _as_list(props.get("members")) + _as_list(props.get("member"))
    public = [m for m in members if m in GCP_PUBLIC_MEMBERS]
    if public:
        found.append(f"member {', '.join(public)} makes the resource public; grant named service accounts")
    if (type_ in GCP_PROJECT_GRANTS and role not in GCP_PROJECT_ONLY_ROLES
            and not (props.get("condition") or {}).get("expression")):
        found.append(f"project-level {role} without a condition; bind on the resource or add an IAM condition")
    return found


def prod_data_violations(type_: str, props: Mapping[str, Any], environment: str) -> list[str]:
    """prod-data-protected: what a prod table/database lacks (nothing outside prod)."""
    if environment != "prod":
        return []
    found = []
    if type_ == "aws:dynamodb/table:Table":
        if not (props.get("pointInTimeRecovery") or {}).get("enabled"):
            found.append("prod DynamoDB table without point-in-time recovery (pointInTimeRecovery.enabled)")
        if not props.get("deletionProtectionEnabled"):
            found.append("prod DynamoDB table without deletion protection (deletionProtectionEnabled)")
    elif type_ == "gcp:firestore/database:Database":
        if props.get("pointInTimeRecoveryEnablement") != "POINT_IN_TIME_RECOVERY_ENABLED":
            found.append("prod Firestore database without point-in-time recovery (pointInTimeRecoveryEnablement)")
        if props.get("deleteProtectionState") != "DELETE_PROTECTION_ENABLED":
            found.append("prod Firestore database without delete protection (deleteProtectionState)")
    elif type_ == "azure-native:cosmosdb:DatabaseAccount":
        if (props.get("backupPolicy") or {}).get("type") != "Continuous":
            found.append("prod Cosmos DB account without continuous backup (backupPolicy.type Continuous)")
    return found


def tag_violations(type_: str, props: Mapping[str, Any]) -> list[str]:
    """tagged: the stack tags (GCP: labels) a taggable resource is missing."""
    key = TAGGABLE.get(type_)
    if key is None:
        return []
    present = props.get(key) or {}
    missing = [t for t in STACK_TAGS if not present.get(t)]
    if not missing:
        return []
    return [f"{key} lack {', '.join(missing)}; build it with the provider's stack {key}"]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def stack_environment(args: ResourceValidationArgs) -> str:
    """The stack's environment: the policy's `environment` config (`--policy-pack-config`) if set,
    else the stack's `omnicloud:environment`, which Pulumi hands to policy packs as stack config;
    "dev" (the project default) when neither is there. Stack tags and resource labels are no
    guide: the stack name is free, and Firestore databases carry no labels."""
    configured = (args.get_config() or {}).get("environment")
    if configured:
        return str(configured)
    import pulumi

    return pulumi.Config("omnicloud").get("environment") or "dev"


def _validation(check: Callable[[ResourceValidationArgs], list[str]]) -> Callable:
    def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
        for message in check(args):
            report_violation(f"{args.resource_type} {args.name}: {message}")
    return validate


no_wildcard_grants = ResourceValidationPolicy(
    name="no-wildcard-grants",
    description="IAM grants name exact actions on exact resources: no '*', no owner/editor/contributor roles, "
                "no subscription/resource-group/project-wide or public grants.",
    validate=_validation(lambda a: wildcard_grant_violations(a.resource_type, a.props)),
    enforcement_level=EnforcementLevel.MANDATORY,
)

prod_data_protected = ResourceValidationPolicy(
    name="prod-data-protected",
    description="In prod stacks, tables have point-in-time recovery / continuous backup and deletion protection.",
    validate=_validation(lambda a: prod_data_violations(a.resource_type, a.props, stack_environment(a))),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={"environment": {"type": "string", "enum": ["dev", "prod"]}}),
)

tagged = ResourceValidationPolicy(
    name="tagged",
    description="Every taggable resource carries the stack tags (GCP: labels) "
                + ", ".join(STACK_TAGS) + ".",
    validate=_validation(lambda a: tag_violations(a.resource_type, a.props)),
    enforcement_level=EnforcementLevel.MANDATORY,
)

POLICIES = [no_wildcard_grants, prod_data_protected, tagged]
