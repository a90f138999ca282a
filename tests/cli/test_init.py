"""`omnicloud init`: every template makes a project that validates and whose tests pass, with
the files the README promises; nothing existing is ever overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from omnicloud.cli import main
from omnicloud.init import TEMPLATES
from spec import load_app

ROOT = Path(__file__).resolve().parents[2]
PROMISED = {
    "app.yaml",
    "app.schema.json",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.prod.yaml",
    "__main__.py",
    "requirements.txt",
    "requirements-dev.txt",
    "README.md",
    "pytest.ini",
    ".gitignore",
    "tests/conftest.py",
    "functions/__init__.py",
    "docs/omnicloud-runtime.md",
}


def _init(tmp_path: Path, template: str, *args: str) -> Path:
    assert main(["init", str(tmp_path / "my-app"), "--template", template, *args]) == 0
    return tmp_path / "my-app"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_template_writes_a_project_that_validates_on_every_cloud(tmp_path, template, capsys):
    project = _init(tmp_path, template)
    written = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert PROMISED <= written, PROMISED - written
    assert any(name.startswith("tests/test_") for name in written)

    app_yaml = (project / "app.yaml").read_text()
    assert "# yaml-language-server: $schema=./app.schema.json" in app_yaml
    spec = load_app(project / "app.yaml")  # every cloud's limits, every handler found
    assert spec.name == "my-app"
    assert json.loads((project / "app.schema.json").read_text())["title"]
    assert (project / "docs/omnicloud-runtime.md").read_text() == (
        ROOT / "docs/runtime.md"
    ).read_text()

    pulumi = yaml.safe_load((project / "Pulumi.yaml").read_text())
    assert pulumi["name"] == "my-app" and pulumi["runtime"]["name"] == "python"
    # Pulumi refuses typed config of another namespace in a project's Pulumi.yaml: declare none.
    assert "config" not in pulumi
    assert (project / pulumi["runtime"]["options"]["virtualenv"]).resolve() == Path(
        sys.prefix
    ).resolve()
    for stack, environment in (("dev", "dev"), ("prod", "prod")):
        config = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert config["omnicloud:cloud"] == "aws" and config["omnicloud:environment"] == environment
    assert "my-app" in (project / "README.md").read_text()
    assert "omnicloud validate" in capsys.readouterr().out


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_the_generated_tests_pass(tmp_path, template):
    project = _init(tmp_path, template)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICLOUD_")}
    env["PYTHONPATH"] = str(
        ROOT
    )  # omnicloud from this checkout (tests/packaging runs the installed wheel)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_requirements_name_omnicloud_as_it_is_installed(tmp_path):
    project = _init(tmp_path, "agents")
    direct = json.loads(metadata.distribution("omnicloud").read_text("direct_url.json") or "null")
    lines = [
        line
        for line in (project / "requirements.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    if direct and direct.get("dir_info", {}).get(
        "editable"
    ):  # this checkout, as scripts/setup.sh installs it
        assert lines[0] == f"-e {ROOT}[aws,azure,gcp]"
    elif direct and direct["url"].startswith("file:"):
        assert lines[0] == f"omnicloud[aws,azure,gcp] @ {direct['url']}"
    else:
        assert lines[0] == f"omnicloud[aws,azure,gcp]=={metadata.version('omnicloud')}"
    assert "-r functions/requirements.txt" in lines  # the agent platform's own dependencies
    dev = (project / "requirements-dev.txt").read_text()
    pytest_pin = next(
        line
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith("pytest==")
    )
    assert pytest_pin in dev.splitlines()


def test_the_agents_template_is_the_agent_platform_of_this_repository(tmp_path):
    project = _init(tmp_path, "agents")
    for source in (ROOT / "functions").glob("*.py"):
        assert (project / "functions" / source.name).read_text() == source.read_text(), source.name
    assert (project / "app.yaml").read_text() == (ROOT / "app.yaml").read_text().replace(
        "name: agents", "name: my-app"
    )


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "README.md").write_text("mine\n")
    assert main(["init", str(target), "--template", "http-api"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"omnicloud: {target / 'README.md'} already exists; init never overwrites a file: start in an"
        " empty directory, or move it away"
    ]
    assert [p.name for p in target.iterdir()] == ["README.md"] and (
        target / "README.md"
    ).read_text() == "mine\n"


def test_init_into_the_current_directory_takes_its_name(tmp_path, monkeypatch):
    project = tmp_path / "orders"
    project.mkdir()
    monkeypatch.chdir(project)
    assert main(["init", "--template", "fan-out"]) == 0
    assert load_app(project / "app.yaml").name == "orders"


def test_a_directory_name_that_is_no_app_name_asks_for_name(tmp_path, capsys):
    assert main(["init", str(tmp_path / "My Orders Service!"), "--template", "http-api"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "does not make an app name" in line and "--name" in line
    assert (
        main(
            [
                "init",
                str(tmp_path / "My Orders Service!"),
                "--template",
                "http-api",
                "--name",
                "orders",
            ]
        )
        == 0
    )
    assert load_app(tmp_path / "My Orders Service!" / "app.yaml").name == "orders"


def test_the_stack_cloud_can_be_chosen(tmp_path):
    project = _init(tmp_path, "queue-worker", "--cloud", "gcp")
    assert (
        yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["omnicloud:cloud"]
        == "gcp"
    )
