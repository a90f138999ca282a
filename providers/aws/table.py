"""Table on AWS: a DynamoDB table, on demand and encrypted; prod adds PITR and deletion protection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.base import Built, LinkTarget, Mapping
from spec.model import TableSpec

from . import grant_actions

if TYPE_CHECKING:
    from components.base import Component

# The exact IAM actions behind each link verb.
ACTIONS = {
    "read": (
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
    ),
    "write": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ),
}


@dataclass
class TableNodes:
    table: aws.dynamodb.Table


class TableOnAws(Mapping):
    kind = "table"
    Nodes = TableNodes

    def create(self, component: Component, spec: TableSpec) -> Built[TableNodes]:
        keys = [aws.dynamodb.TableAttributeArgs(name=spec.partition_key, type="S")]
        if spec.sort_key:
            keys.append(aws.dynamodb.TableAttributeArgs(name=spec.sort_key, type="S"))
        prod = self.ctx.prod
        table = component.node(
            "table",
            aws.dynamodb.Table,
            f"{self.ctx.app.name}-{component.logical}",
            self.ctx.stateful_options(component),
            billing_mode="PAY_PER_REQUEST",
            hash_key=spec.partition_key,
            range_key=spec.sort_key,
            attributes=keys,
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl, enabled=True)
            if spec.ttl
            else None,
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=prod),
            deletion_protection_enabled=prod,
        )
        return Built(name=table.name, nodes=TableNodes(table=table), native=table, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        # The ARN too: the backend takes the region from it when AWS_REGION is not set.
        table, spec = target.built.nodes.table, target.built.spec
        return {
            "name": table.name,
            "partition_key": spec.partition_key,
            "sort_key": spec.sort_key,
            "ttl": spec.ttl,
            "arn": table.arn,
        }

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        return grant_actions(function, target, ACTIONS, target.built.nodes.table.arn)
