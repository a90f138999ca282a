"""The Bucket client on each backend: `omnicloud dev`'s (files in the state directory, through
the app's own handlers), S3 (moto), Blob Storage (Azurite) and Cloud Storage (its emulator)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from acme_omnicloud.client import Bucket

from omnicloud.testing import LocalCloud, body
from runtime.links import LinkError, link_env, use_environ


def test_the_apps_handlers_store_and_read_objects_on_the_local_cloud(shop, tmp_path):
    cloud = LocalCloud(shop / "app.yaml", tmp_path / "state")
    stored = cloud.http(
        "PUT",
        "/files/reports/2026-01.csv",
        body=b"a,b\n1,2\n",
        headers={"content-type": "text/csv"},
    )
    assert stored.status == 201, body(stored)
    got = cloud.http("GET", "/files/reports/2026-01.csv")
    assert got.status == 200 and got.body_bytes() == b"a,b\n1,2\n"
    assert body(cloud.http("GET", "/files", query={"prefix": "reports/"})) == {
        "keys": ["reports/2026-01.csv"]
    }
    assert cloud.http("GET", "/files/missing").status == 404
    # Objects live in the state directory, one file each, their keys encoded.
    assert [p.name for p in (tmp_path / "state" / "buckets" / "uploads").iterdir()] == [
        "reports%2F2026-01.csv"
    ]


def test_a_function_linked_for_read_cannot_write(shop, tmp_path):
    cloud = LocalCloud(shop / "app.yaml", tmp_path / "state")
    with use_environ(cloud.app.function_env("report")):
        uploads = Bucket("uploads")
        assert uploads.list() == []
        with pytest.raises(LinkError, match="may not write bucket 'uploads'"):
            uploads.put("x", b"y")


@pytest.mark.parametrize("key", ["", "../etc/passwd", "a/./b", "line\nbreak", "x" * 1025])
def test_a_key_no_cloud_can_store_is_refused_before_any_call(key):
    env = {
        "OMNICLOUD_CLOUD": "local",
        **link_env("uploads", "bucket", ["read", "write"], name="uploads"),
    }
    with use_environ(env), pytest.raises(ValueError):
        Bucket("uploads").put(key, b"data")


def _exercise(env: dict[str, str]) -> None:
    """put, get, list, delete through the client, as a function linked for read and write."""
    with use_environ(env):
        uploads = Bucket("uploads")
        uploads.put("a/1.txt", "one")
        uploads.put("a/2.txt", b"two")
        uploads.put("b/3.txt", b"three")
        assert uploads.get("a/1.txt") == b"one"
        assert uploads.get("missing") is None
        assert uploads.list("a/") == ["a/1.txt", "a/2.txt"]
        assert uploads.list(limit=2) == ["a/1.txt", "a/2.txt"]
        uploads.delete("a/1.txt")
        uploads.delete("a/1.txt")  # again: no error
        assert uploads.list() == ["a/2.txt", "b/3.txt"]


def test_s3(moto_endpoint, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ):
        monkeypatch.setenv(name, value)
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="shop-uploads-1a2b3c4", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    _exercise(
        {
            "OMNICLOUD_CLOUD": "aws",
            **link_env("uploads", "bucket", ["read", "write"], bucket="shop-uploads-1a2b3c4"),
        }
    )


def test_blob_storage(azurite_blob, monkeypatch):
    from azure.storage.blob import ContainerClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_blob)
    ContainerClient.from_connection_string(azurite_blob, "bkt-uploads").create_container()
    _exercise(
        {
            "OMNICLOUD_CLOUD": "azure",
            **link_env(
                "uploads",
                "bucket",
                ["read", "write"],
                account_url="https://unused.blob.core.windows.net",
                container="bkt-uploads",
            ),
        }
    )


def test_cloud_storage(gcs_emulator, monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test")
    monkeypatch.setattr("google.auth.default", lambda *a, **k: (AnonymousCredentials(), "test"))
    storage.Client(project="test", credentials=AnonymousCredentials()).create_bucket(
        "shop-uploads-1a2b3c4"
    )
    _exercise(
        {
            "OMNICLOUD_CLOUD": "gcp",
            **link_env("uploads", "bucket", ["read", "write"], bucket="shop-uploads-1a2b3c4"),
        }
    )


def test_importing_the_client_loads_no_sdk_and_scans_no_entry_points():
    """Cold start: what a function imports at start-up stays free of SDKs and of the registry.
    Compared with the interpreter's own start-up (a .pth file of the venv pre-imports the bare
    `google` namespace packages)."""
    code = (
        "import json, sys; before = set(sys.modules); import acme_omnicloud.client, runtime.adapters.aws; "
        "new = set(sys.modules) - before; "
        "print(json.dumps(sorted(m for m in new if m.split('.')[0] in ('boto3', 'botocore', 'azure', 'google',"
        " 'pulumi', 'omnicloud', 'spec', 'pydantic') or m == 'importlib.metadata')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_the_client_reaches_the_artifact_through_the_apps_requirements(shop, tmp_path):
    """The honest way in: the app names this package in its requirements.txt, and the bundler
    vendors it like any dependency (omnicloud's core knows nothing of it)."""
    import zipfile

    from omnicloud.cli import main as cli

    out = tmp_path / "package"
    assert (
        cli(["package", "--cloud", "aws", "--app", str(shop / "app.yaml"), "--out", str(out)]) == 0
    )
    names = set(zipfile.ZipFile(out / "api.zip").namelist())
    assert {"acme_omnicloud/client.py", "acme_omnicloud/backends/aws.py", "shop/api.py"} <= names
    assert not any(
        n.startswith(("boto3/", "botocore/")) for n in names
    )  # the Lambda runtime has them
