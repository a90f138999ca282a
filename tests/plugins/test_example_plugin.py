"""examples/plugins/acme, a package of its own, adds a kind and overrides one mapping with no line
of omnicloud changed: its own tests pass against this checkout, with the package installed in
isolation (conftest.py), and `omnicloud preview` shows its bucket on every cloud (request 3 of
tests/test_platform.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from .conftest import PLUGIN, ROOT


def _env(acme, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": str(acme["site"]), "ACME_WHEEL": str(acme["wheel"]), **extra}


def test_the_example_plugins_own_tests_pass(acme):
    azurite = ROOT / "node_modules" / ".bin" / "azurite-blob"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(PLUGIN / "tests"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(PLUGIN),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_env(acme, AZURITE_BLOB=str(azurite)),
    )
    summary = proc.stdout.strip().splitlines()[-1:] or [proc.stderr[-2000:]]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in summary[0] and "skipped" not in summary[0] and "failed" not in summary[0], (
        summary
    )


def test_a_bucket_kind_from_the_teams_own_package_shows_in_preview(acme, tmp_path):
    """Request 3: add a Bucket kind. The app declares `buckets:`; with the package installed,
    `omnicloud preview` builds it on every cloud; without it, app.yaml is refused, one line."""
    project = tmp_path / "shop"
    shutil.copytree(PLUGIN / "tests" / "app", project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "requirements.txt").write_text(f"acme-omnicloud @ {acme['wheel'].as_uri()}\n")
    command = [
        sys.executable,
        "-m",
        "omnicloud",
        "preview",
        "--cloud",
        "all",
        "--project",
        str(project),
        "--json",
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=_env(acme))
    assert proc.returncode == 0, proc.stderr[-3000:]
    plans = json.loads(proc.stdout)
    natives = {
        "aws": "aws:s3/bucket:Bucket",
        "azure": "azure-native:storage:BlobContainer",
        "gcp": "gcp:storage/bucket:Bucket",
    }
    for plan in plans:
        (bucket,) = [r for r in plan["resources"] if r["type"] == "omnicloud:index:Bucket"]
        children = [r for r in plan["resources"] if r["parent"] == bucket["urn"]]
        assert natives[plan["cloud"]] in {r["type"] for r in children}, plan["cloud"]
    alone = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert "unknown field 'buckets'" in alone.stderr
