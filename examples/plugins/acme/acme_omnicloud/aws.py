"""Bucket on AWS: an S3 bucket, private (public access blocked), encrypted, optionally versioned
and expiring; a link grants exactly its verbs on exactly this bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from providers.aws import grant_actions
from providers.base import Built, LinkTarget, Mapping

from .buckets import BucketSpec

if TYPE_CHECKING:
    from components.base import Component

# Least privilege per verb (docs.aws.amazon.com/service-authorization/latest/reference/
# list_amazons3.html): objects are `<bucket ARN>/<key>`, listing is on the bucket itself, so each
# verb gets its object actions on `<ARN>/*` (the objects of this bucket only) and read its listing.
OBJECT_ACTIONS = {"read": ("s3:GetObject",), "write": ("s3:PutObject", "s3:DeleteObject")}
BUCKET_ACTIONS = {"read": ("s3:ListBucket",), "write": ()}


@dataclass
class BucketNodes:
    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning | None = None
    lifecycle: aws.s3.BucketLifecycleConfiguration | None = None


class BucketOnAws(Mapping):
    kind = "bucket"
    Nodes = BucketNodes

    def create(self, component: Component, spec: BucketSpec) -> Built[BucketNodes]:
        prod = self.ctx.prod
        bucket = component.node(
            "bucket",
            aws.s3.Bucket,
            f"{self.ctx.app.name}-{component.logical}",
            self.ctx.stateful_options(component),
            # dev buckets go with their objects on `pulumi destroy`; prod ones are protected and kept.
            force_destroy=not prod,
        )
        # Block every form of public access (docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
        block = component.node(
            "public_access_block",
            aws.s3.BucketPublicAccessBlock,
            f"{self.ctx.app.name}-{component.logical}",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        encryption = component.node(
            "encryption",
            aws.s3.BucketServerSideEncryptionConfiguration,
            f"{self.ctx.app.name}-{component.logical}",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
        )
        nodes = BucketNodes(bucket=bucket, public_access_block=block, encryption=encryption)
        if spec.versioned:
            nodes.versioning = component.node(
                "versioning",
                aws.s3.BucketVersioning,
                f"{self.ctx.app.name}-{component.logical}",
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                    status="Enabled"
                ),
            )
        if spec.expire_days:
            nodes.lifecycle = component.node(
                "lifecycle",
                aws.s3.BucketLifecycleConfiguration,
                f"{self.ctx.app.name}-{component.logical}",
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=spec.expire_days
                        ),
                    )
                ],
            )
        return Built(name=bucket.bucket, nodes=nodes, native=bucket, spec=spec)

    def link_properties(self, target: LinkTarget) -> dict[str, pulumi.Input[Any]]:
        return {"bucket": target.built.nodes.bucket.bucket}

    def grant(self, function: Component, target: LinkTarget) -> list[pulumi.Resource]:
        arn = target.built.nodes.bucket.arn
        grants = grant_actions(function, target, OBJECT_ACTIONS, arn.apply(lambda a: f"{a}/*"))
        listing = {verb: BUCKET_ACTIONS[verb] for verb in target.verbs if BUCKET_ACTIONS[verb]}
        if listing:
            # Listing is on the bucket, not its objects: one more statement, on exactly the bucket.
            scoped = LinkTarget(f"{target.logical}-list", target.kind, tuple(listing), target.built)
            grants += grant_actions(function, scoped, BUCKET_ACTIONS, arn)
        return grants
