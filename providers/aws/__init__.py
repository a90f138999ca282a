"""AWS: Lambda, API Gateway HTTP API, SQS, SNS, DynamoDB, EventBridge Scheduler, Secrets Manager,
with one IAM role per function and one inline policy per link (exact actions on exact ARNs).

One file per kind: function.py, queue.py, topic.py, table.py, secret.py, schedule.py, http.py.
This module holds the provider (stack tags) and what those files share (IAM documents, names).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import CloudProvider, DeployContext, LinkTarget

if TYPE_CHECKING:
    from components.base import Component

IAM_NAME_MAX = 64  # roles; schedules share the limit
INLINE_POLICY_NAME_MAX = 128
AUTONAME_SUFFIX = 8  # "-" + 7 random characters


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(
    actions: tuple[str, ...] | list[str],
    resources: str | list[str],
    sid: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources,
        **extra,
    }
    if sid:
        statement["Sid"] = sid
    return statement


def assume_role_policy(service: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
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
    return f"{name[: room - 7].rstrip('-')}-{digest}"


def grant_actions(
    function: Component,
    target: LinkTarget,
    actions: dict[str, tuple[str, ...]],
    arn: pulumi.Input[str],
) -> list[pulumi.Resource]:
    """One inline policy on `function`'s role: the actions of `target.verbs` on exactly `arn`."""
    app = function.provider.ctx.app.name
    granted = [action for verb in target.verbs for action in actions[verb]]
    sid = "".join(part.capitalize() for part in (target.kind, *target.verbs))
    policy = function.node(
        "grants",
        aws.iam.RolePolicy,
        fit(f"{app}-{function.logical}-link-{target.logical}", INLINE_POLICY_NAME_MAX),
        role=function.nodes.role.name,
        policy=pulumi.Output.from_input(arn).apply(
            lambda resolved: policy_document(allow(granted, resolved, sid))
        ),
    )
    return [policy]


class AwsProvider(CloudProvider):
    cloud = "aws"

    def __init__(self, ctx: DeployContext, kinds=None) -> None:
        super().__init__(ctx, kinds)
        self.app = ctx.app.name
        self._account: pulumi.Output[str] | None = None

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("aws:") or "tags" not in args.props:
            return None
        stack_tags = self.ctx.tags()
        own = args.props.get("tags")
        if own is None:
            tags: pulumi.Input[Any] = stack_tags
        elif isinstance(own, Mapping):
            tags = {**stack_tags, **own}
        else:  # an Output: merge once it resolves
            tags = pulumi.Output.from_input(own).apply(
                lambda value: {**stack_tags, **(value or {})}
            )
        return pulumi.ResourceTransformationResult({**args.props, "tags": tags}, args.opts)

    def account_id(self) -> pulumi.Output[str]:
        if self._account is None:
            self._account = aws.get_caller_identity_output().account_id
        return self._account
