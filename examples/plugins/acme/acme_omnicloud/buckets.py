"""The `bucket` kind, defined once: its app.yaml section (`buckets:`) and settings, its verbs,
component, runtime client, mapping on each cloud, local link and per-cloud checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omnicloud.registry import Kind

# Pulumi auto-names a bucket `<app>-<name>-<7 characters>`; S3 and Cloud Storage bucket names are
# at most 63 characters (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
# cloud.google.com/storage/docs/buckets#naming), and so are Azure container names
# (learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata).
NAME_MAX = 63
AUTONAME_SUFFIX = 8
CONTAINER_PREFIX = "bkt-"


class BucketSpec(BaseModel):
    """One bucket: `buckets: {uploads: {versioned: true, expire_days: 30}}` or `uploads: {}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    versioned: bool = Field(
        default=False, strict=True, description="keep every version of an object"
    )
    expire_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        strict=True,
        description="delete objects this many days after they are written",
    )


def physical_name(cloud: str, app: str, logical: str) -> tuple[str, int]:
    """The name the bucket gets on `cloud` (before any suffix) and how long it will be."""
    if cloud == "azure":
        name = f"{CONTAINER_PREFIX}{logical}"
        return name, len(name)
    name = f"{app}-{logical}"
    return name, len(name) + AUTONAME_SUFFIX


# Azure keeps blob versioning and lifecycle rules on the storage account, which the app's
# functions share (providers/azure: the app-wide storage account), not per container
# (learn.microsoft.com/azure/storage/blobs/versioning-overview, .../lifecycle-management-overview).
AZURE_ACCOUNT_WIDE = {
    "versioned": "blob versioning is a setting of the whole storage account the app shares; leave it off on Azure",
    "expire_days": "lifecycle rules belong to the whole storage account the app shares; expire objects from a"
    " scheduled function on Azure",
}


def checks(app: Any, source: Any, cloud: str) -> list[Any]:
    """What `cloud` cannot do with the app's buckets, located at the line that asks for it."""
    problems = []
    for logical, bucket in app.section("bucket").items():
        base = ("buckets", logical)
        name, length = physical_name(cloud, app.name, logical)
        if length > NAME_MAX:
            problems.append(
                source.problem(
                    base,
                    f"on {cloud}: bucket name '{name}' is {length} characters with its suffix, over {NAME_MAX};"
                    " shorten the app or bucket name",
                    at_key=True,
                )
            )
        if cloud == "azure":
            for setting, why in AZURE_ACCOUNT_WIDE.items():
                if setting in bucket.model_fields_set and getattr(bucket, setting) not in (
                    None,
                    False,
                ):
                    loc = (*base, setting)
                    problems.append(
                        source.problem(loc if loc in source.values else base, f"on azure: {why}")
                    )
    return problems


def local_link(logical: str, spec: BucketSpec) -> dict[str, Any]:
    """The link `omnicloud dev` gives a function: the bucket's name (backends/local.py keeps its
    objects under the state directory)."""
    return {"name": logical}


def _mock_state(cloud: str):
    def state(type_: str, name: str, inputs: dict[str, Any]):
        from acme_omnicloud import mockstate

        return mockstate.state(cloud, type_, name, inputs)

    return state


KIND = Kind(
    name="bucket",
    model=BucketSpec,
    section="buckets",
    verbs=("read", "write"),
    component="acme_omnicloud.component:Bucket",
    client="acme_omnicloud.client:Bucket",
    mappings={
        "aws": "acme_omnicloud.aws:BucketOnAws",
        "azure": "acme_omnicloud.azure:BucketOnAzure",
        "gcp": "acme_omnicloud.gcp:BucketOnGcp",
    },
    local_link=local_link,
    checks=checks,
    stateful=True,
    expected={
        (): "a mapping of bucket name -> settings, e.g. `buckets: {uploads: {}}`",
        ("*",): "a mapping of bucket settings (versioned, expire_days) or {}",
        ("*", "versioned"): "true or false",
        ("*", "expire_days"): "a whole number of days, e.g. 30",
    },
    mock_state={"aws": _mock_state("aws")},
)
