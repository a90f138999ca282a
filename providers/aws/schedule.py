"""Schedule on AWS: an EventBridge Scheduler schedule invoking the function through its own role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from providers.base import Built, Mapping
from spec.schedule import Schedule

from . import IAM_NAME_MAX, allow, assume_role_policy, fit, policy_document

if TYPE_CHECKING:
    from components.base import Component
    from components.function import Function


@dataclass
class ScheduleNodes:
    role: aws.iam.Role
    invoke_policy: aws.iam.RolePolicy
    schedule: aws.scheduler.Schedule


class ScheduleOnAws(Mapping):
    kind = "schedule"
    Nodes = ScheduleNodes

    def create(
        self, component: Component, schedule: Schedule, function: Function
    ) -> Built[ScheduleNodes]:
        app, logical = self.ctx.app.name, component.logical
        name = fit(f"{app}-{logical}", IAM_NAME_MAX)
        target = function.nodes
        role = component.node(
            "role",
            aws.iam.Role,
            name,
            # Only schedules of this account may use the role (confused-deputy guard).
            assume_role_policy=self.provider.account_id().apply(
                lambda account: assume_role_policy(
                    "scheduler.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account}}
                )
            ),
            description=f"{app} schedule {logical}",
        )
        policy = component.node(
            "invoke_policy",
            aws.iam.RolePolicy,
            f"{name}-invoke",
            role=role.name,
            policy=pulumi.Output.from_input(target.invoke_arn).apply(
                lambda arn: policy_document(
                    allow(["lambda:InvokeFunction"], arn, "InvokeTheFunction")
                )
            ),
        )
        target_input = json.dumps(
            {
                "omnicloud-schedule": logical,
                "time": "<aws.scheduler.scheduled-time>",
                "id": "<aws.scheduler.execution-id>",
            }
        )
        native = component.node(
            "schedule",
            aws.scheduler.Schedule,
            name,
            pulumi.ResourceOptions(parent=component, depends_on=[policy, *target.ready]),
            schedule_expression=schedule.for_aws(),
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=target.invoke_arn, role_arn=role.arn, input=target_input
            ),
            description=f"{schedule.describe()} (UTC)",
        )
        return Built(
            name=native.name,
            nodes=ScheduleNodes(role=role, invoke_policy=policy, schedule=native),
            native=native,
        )
