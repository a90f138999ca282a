"""The bucket kind, added by this package alone: found through its entry point, validated with
located errors, built on the three clouds with grants of exactly the linked verbs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnicloud.cli import main as cli
from omnicloud.preview import run_preview
from omnicloud.registry import registry

CLOUDS = ("aws", "azure", "gcp")


def test_the_kind_comes_from_this_packages_entry_point():
    kind = registry().kind("bucket")
    assert kind.section == "buckets" and kind.verbs == ("read", "write")
    assert "acme-omnicloud" in registry().origins["bucket"]
    assert "acme-azure" in registry().providers


BROKEN = """\
name: shop
functions:
  api:
    handler: shop.api:handle
    http: /
    links:
      uploads: [send]
buckets:
  uploads: {expires_days: 30}
  archive: {versioned: yes}
"""


def test_a_broken_buckets_section_is_one_located_line_per_problem(shop, capsys, monkeypatch):
    (shop / "broken.yaml").write_text(BROKEN)
    monkeypatch.chdir(shop)
    assert cli(["validate", "--app", "broken.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "broken.yaml:9:13: buckets.uploads.expires_days: unknown field 'expires_days'; did you mean 'expire_days'?",
        "broken.yaml:10:24: buckets.archive.versioned: expected true or false, got 'yes'",
    ]


def test_a_verb_a_bucket_does_not_take_and_what_azure_cannot_do_are_located(
    shop, capsys, monkeypatch
):
    (shop / "verbs.yaml").write_text(
        BROKEN.replace("{expires_days: 30}", "{versioned: true}").replace(
            "  archive: {versioned: yes}\n", ""
        )
    )
    monkeypatch.chdir(shop)
    assert cli(["validate", "--app", "verbs.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "verbs.yaml:7:17: functions.api.links.uploads[0]: verb 'send' does not apply to bucket 'uploads'; a bucket takes read or write",
        "verbs.yaml:9:24: buckets.uploads.versioned: on azure: blob versioning is a setting of the whole storage"
        " account the app shares; leave it off on Azure",
    ]


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict:
    import os
    import shutil

    from conftest import APP

    project = tmp_path_factory.mktemp("plans") / "shop"
    shutil.copytree(APP, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "requirements.txt").write_text(
        f"acme-omnicloud @ {Path(os.environ['ACME_WHEEL']).as_uri()}\n"
    )
    return {cloud: run_preview(project, cloud, "dev") for cloud in CLOUDS}


def test_every_cloud_builds_the_bucket_under_its_one_type_token(plans):
    for cloud, plan in plans.items():
        (component,) = plan.of_type("omnicloud:index:Bucket")
        assert component.name == "uploads"
        assert [c for c in plan.children(component.urn) if c.custom], cloud


def test_aws_grants_exactly_the_linked_verbs_on_exactly_the_bucket(plans):
    plan = plans["aws"]
    (bucket,) = plan.of_type("aws:s3/bucket:Bucket")
    arn = bucket.outputs["arn"]
    policies = {
        r.name: json.loads(r.props["policy"])
        for r in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        if "-link-uploads" in r.name
    }
    granted = {
        (name, tuple(s["Action"]), s["Resource"])
        for name, doc in policies.items()
        for s in doc["Statement"]
    }
    assert granted == {
        ("shop-api-link-uploads", ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), f"{arn}/*"),
        ("shop-api-link-uploads-list", ("s3:ListBucket",), arn),
        ("shop-report-link-uploads", ("s3:GetObject",), f"{arn}/*"),
        ("shop-report-link-uploads-list", ("s3:ListBucket",), arn),
    }
    # The link the function reads: the one wire format (runtime.links), kind and verbs included.
    (api,) = [r for r in plan.of_type("aws:lambda/function:Function") if r.name == "shop-api"]
    link = json.loads(api.props["environment"]["variables"]["OMNICLOUD_LINK_UPLOADS"])
    assert link == {
        "bucket": bucket.outputs["bucket"],
        "kind": "bucket",
        "verbs": ["read", "write"],
    }
    assert not [
        r
        for r in plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if not all(
            r.props[k]
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
    ]


def test_azure_grants_a_blob_role_on_exactly_the_container(plans):
    plan = plans["azure"]
    (container,) = [
        r
        for r in plan.of_type("azure-native:storage:BlobContainer")
        if r.props["containerName"] == "bkt-uploads"
    ]
    assert container.props["publicAccess"] == "None"
    assignments = {
        r.name: r
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if "-uploads-" in r.name
    }
    roles = {
        name: r.props["roleDefinitionId"].rsplit("/", 1)[-1] for name, r in assignments.items()
    }
    assert roles == {
        "api-uploads-blob-contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "report-uploads-blob-reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    }
    from omnicloud.mockstate import azure as azure_state

    # The container's ARM id, as Azure gives it (the preview's mock state computes it).
    container_id = azure_state.state(container.type, container.name, container.props)[0]
    assert container_id.endswith("/blobServices/default/containers/bkt-uploads")
    assert {r.props["scope"] for r in assignments.values()} == {container_id}


def test_gcp_grants_a_storage_role_on_exactly_the_bucket(plans):
    plan = plans["gcp"]
    buckets = [r for r in plan.of_type("gcp:storage/bucket:Bucket") if r.name == "shop-uploads"]
    (bucket,) = buckets
    assert (
        bucket.props["publicAccessPrevention"] == "enforced"
        and bucket.props["uniformBucketLevelAccess"]
    )
    members = {
        r.name: (r.props["bucket"], r.props["role"])
        for r in plan.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if "-uploads-" in r.name
    }
    name = bucket.outputs["name"]
    assert members == {
        "api-uploads-objectUser": (name, "roles/storage.objectUser"),
        "report-uploads-objectViewer": (name, "roles/storage.objectViewer"),
    }


def test_prod_protects_and_retains_the_bucket(tmp_path, shop):
    (shop / "Pulumi.prod.yaml").write_text(
        (shop / "Pulumi.dev.yaml").read_text().replace("dev", "prod")
    )
    plan = run_preview(shop, "gcp", "prod")
    (bucket,) = [r for r in plan.of_type("gcp:storage/bucket:Bucket") if r.name == "shop-uploads"]
    assert bucket.protect and bucket.retain_on_delete and bucket.props["forceDestroy"] is False


def test_versions_and_expiry_map_on_aws_and_google_cloud(shop):
    app = (
        (shop / "app.yaml")
        .read_text()
        .replace("uploads: {}", "uploads: {versioned: true, expire_days: 30}")
    )
    (shop / "app.yaml").write_text(app)
    aws = run_preview(shop, "aws", "dev")
    (versioning,) = aws.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.props["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = aws.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle.props["rules"][0]["expiration"]["days"] == 30
    gcp = run_preview(shop, "gcp", "dev")
    (bucket,) = [r for r in gcp.of_type("gcp:storage/bucket:Bucket") if r.name == "shop-uploads"]
    assert bucket.props["versioning"] == {"enabled": True}
    assert bucket.props["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 30}}
    ]
