"""What AWS would compute for a bucket in `omnicloud preview` (its name and ARN); Azure containers
and Cloud Storage buckets are answered by omnicloud's own mock state."""

from __future__ import annotations

from typing import Any

from omnicloud.mockstate.aws import physical_name


def state(
    cloud: str, type_: str, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    if cloud != "aws" or type_ != "aws:s3/bucket:Bucket":
        return None
    physical = inputs.get("bucket") or physical_name(name)
    # An S3 bucket's ARN holds neither region nor account (docs.aws.amazon.com/service-authorization/
    # latest/reference/list_amazons3.html#amazons3-resources-for-iam-policies).
    return physical, {
        **inputs,
        "bucket": physical,
        "arn": f"arn:aws:s3:::{physical}",
        "bucketDomainName": f"{physical}.s3.amazonaws.com",
        "tagsAll": inputs.get("tags") or {},
    }
