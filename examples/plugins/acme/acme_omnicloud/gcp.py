"""Bucket on Google Cloud: a Cloud Storage bucket with uniform access and public access
prevention; a link grants a role on exactly that bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_gcp as gcp

from providers.base import Built, LinkTarget, Mapping

from .buckets import BucketSpec

if TYPE_CHECKING:
    from components.base import Component

# Predefined roles (cloud.google.com/storage/docs/access-control/iam-roles): objectViewer reads and
# lists objects; objectUser also creates, replaces and deletes them (there is no write-only role
# that may delete). Granted on the bucket, never the project.
ROLES = {"read": "roles/storage.objectViewer", "write": "roles/storage.objectUser"}


@dataclass
class BucketNodes:
    bucket: gcp.storage.Bucket


class BucketOnGcp(Mapping):
    kind = "bucket"
    Nodes = BucketNodes
    services = ("storage.googleapis.com",)

    def create(self, component: Component, spec: BucketSpec) -> Built[BucketNodes]:
        provider, prod = self.provider, self.ctx.prod
        bucket = component.node(
            "bucket",
            gcp.storage.Bucket,
            provider.name(component.logical),
            provider.stateful(component),
            location=provider.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=not prod,
            versioning={"enabled": True} if spec.versioned else None,
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": spec.expire_days}}]
            if spec.expire_days
            else None,
        )
        return Built(name=bucket.name, nodes=BucketNodes(bucket=bucket), native=bucket, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"bucket": target.built.nodes.bucket.name}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        role = ROLES["write"] if "write" in target.verbs else ROLES["read"]
        return [
            function.node(
                "grants",
                gcp.storage.BucketIAMMember,
                f"{function.logical}-{target.logical}-{role.rsplit('.', 1)[-1]}",
                self.provider.opts(function),
                bucket=target.built.nodes.bucket.name,
                role=role,
                member=function.nodes.member,
            )
        ]
