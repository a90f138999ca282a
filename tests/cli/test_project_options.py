"""`--project DIR` and `--app PATH` mean the same in every command: the project directory, and the
app declaration as a path from the current directory (default: app.yaml in the project). A
missing stack file names the exact file to create. Preview warnings are the same on every cloud
and are in the JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from omnicloud.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKEN = "name: shop\nfunctions:\n  api:\n    handler: handlers:app\n    http: /\n    links: {nope: [read]}\n"
# Every command besides preview (which runs in its own process, below) that reads an app.
COMMANDS = [
    ["validate"],
    ["package", "--cloud", "aws"],
    ["dev", "--no-reload"],
    ["invoke", "api", "--event", "-"],
]
GOOD = "name: shop\nfunctions:\n  api:\n    handler: handlers:app\n    http: /\n    links: {token: [read]}\nsecrets:\n  token: {}\n"


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """cwd is the workspace; the project is its subdirectory `proj` (app.yaml broken, other.yaml too)."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "handlers.py").write_text("app = object()\n")
    (project / "app.yaml").write_text(BROKEN)
    (project / "other.yaml").write_text(BROKEN)
    (project / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _problem_file(capsys) -> str:
    """The file the one problem line names."""
    lines = [line for line in capsys.readouterr().err.splitlines() if "nope" in line]
    assert len(lines) == 1, lines
    return lines[0].split(":", 1)[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_project_defaults_the_app_to_its_app_yaml(workspace, capsys, command):
    assert main([*command, "--project", "proj"]) == 2
    assert _problem_file(capsys) == str(Path("proj") / "app.yaml")


@pytest.mark.parametrize("command", COMMANDS)
def test_app_is_a_path_from_the_current_directory_whatever_the_project(workspace, capsys, command):
    assert main([*command, "--project", "proj", "--app", "proj/other.yaml"]) == 2
    assert _problem_file(capsys) == "proj/other.yaml"


def _preview(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omnicloud", "preview", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**_env(), "PYTHONPATH": str(ROOT)},
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("OMNICLOUD_")}


def test_preview_reads_app_from_the_current_directory_too(workspace):
    (workspace / "proj" / "Pulumi.dev.yaml").write_text("config:\n  omnicloud:cloud: aws\n")
    proc = _preview(workspace, "--cloud", "aws", "--project", "proj", "--app", "proj/other.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"{workspace / 'proj' / 'other.yaml'}:6:")
    # Without --app, the project's app.yaml (the stack's omnicloud:app default).
    proc = _preview(workspace, "--cloud", "aws", "--project", "proj")
    assert proc.stderr.startswith(f"{workspace / 'proj' / 'app.yaml'}:6:")


def test_a_missing_stack_file_names_the_file_to_create(workspace):
    proc = _preview(workspace, "--cloud", "gcp", "--project", "proj", "--stack", "staging")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"{workspace / 'proj' / 'Pulumi.staging.yaml'}: no such stack file" in line
    assert (
        "`config:`, `  omnicloud:cloud: gcp`, `  omnicloud:environment: dev` and `  gcp:project: <your-project-id>`"
        in line
    )


def test_the_missing_secret_warning_is_the_same_on_every_cloud_and_in_json(tmp_path):
    (tmp_path / "handlers.py").write_text("app = object()\n")
    (tmp_path / "app.yaml").write_text(GOOD)
    (tmp_path / "Pulumi.yaml").write_text("name: shop-project\nruntime: python\n")
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  omnicloud:cloud: aws\n  gcp:project: shop-dev\n"
    )
    proc = _preview(tmp_path, "--cloud", "all", "--json")
    assert proc.returncode == 0, proc.stderr
    expected = (
        "Pulumi.dev.yaml: warning: secret 'token' has no value on stack dev; set it with"
        " `pulumi config set --secret token <value>` (until then the function reading it fails)"
    )
    plans = json.loads(proc.stdout)
    assert [(p["cloud"], p["warnings"]) for p in plans] == [
        (cloud, [expected]) for cloud in ("aws", "azure", "gcp")
    ]
    assert proc.stderr.count(expected) == 3  # once per cloud, Azure included

    # A value under the project's namespace (what `pulumi config set --secret token` writes) silences it.
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  omnicloud:cloud: aws\n  shop-project:token:\n    secure: v1:AAAA\n"
    )
    proc = _preview(tmp_path, "--cloud", "azure", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["warnings"] == [] and "has no value" not in proc.stderr
