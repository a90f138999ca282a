"""The Pulumi program's own entry (`__main__.py` -> omnicloud.program.main), as `pulumi up` runs it:
config read through pulumi.Config (as the CLI passes it), under Pulumi's mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from omnicloud.mockstate import aws as aws_state
from omnicloud.program import main

ROOT = Path(__file__).resolve().parent.parent


class Recorder(mocks.Mocks):
    def __init__(self):
        self.resources: list[tuple[str, str, dict]] = []

    def new_resource(self, args: mocks.MockResourceArgs):
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        return aws_state.state(args.typ, args.name, dict(args.inputs))

    def call(self, args: mocks.MockCallArgs):
        return aws_state.call(args.token, dict(args.args)), []


def _run_main(config: dict[str, str], secret_keys: list[str] | None = None, stack: str = "prod") -> Recorder:
    recorder = Recorder()
    settings.ROOT.set(None)
    pulumi_config.set_all_config(config, secret_keys or [])
    mocks.set_mocks(recorder, project="omnicloud", stack=stack, preview=False)
    _sync_await(run_pulumi_func(main))
    return recorder


@pytest.fixture(autouse=True)
def _in_project(monkeypatch):
    monkeypatch.chdir(ROOT)  # the CLI runs the program from the project directory


def test_main_reads_stack_config_as_the_cli_passes_it():
    # The CLI hands objects over as JSON text, and secrets decrypted under secret_keys.
    recorder = _run_main({
        "omnicloud:cloud": "aws", "omnicloud:environment": "prod", "aws:region": "eu-west-1",
        "omnicloud:functions": json.dumps({"api": {"memory": 1536}}),
        "omnicloud:jwt-secret": "s3cr3t-value",
    }, secret_keys=["omnicloud:jwt-secret"])

    lambdas = {name: inputs for typ, name, inputs in recorder.resources if typ == "aws:lambda/function:Function"}
    api = next(inputs for name, inputs in lambdas.items() if "api" in name)
    assert api["memorySize"] == 1536
    versions = [inputs for typ, _, inputs in recorder.resources if typ == "aws:secretsmanager/secretVersion:SecretVersion"]
    # Only the secret that has a value gets a version, and the value stays marked secret.
    from pulumi.runtime import rpc

    assert [v["secretString"]["value"] for v in versions] == ["s3cr3t-value"]
    assert versions[0]["secretString"][rpc._special_sig_key] == rpc._special_secret_sig
    tables = [inputs for typ, _, inputs in recorder.resources if typ == "aws:dynamodb/table:Table"]
    assert tables and all(t["deletionProtectionEnabled"] for t in tables)


def test_main_without_a_cloud_fails_with_one_line_saying_what_to_set():
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:environment": "dev"}, stack="dev")
    message = str(err.value)
    assert "\n" not in message and "pulumi config set omnicloud:cloud" in message


def test_main_rejects_an_override_of_a_function_the_app_lacks():
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:cloud": "aws", "omnicloud:functions": json.dumps({"apii": {"memory": 1024}})})
    assert "no function 'apii'" in str(err.value) and "Pulumi.prod.yaml" in str(err.value)


@pytest.mark.parametrize(("override", "expected"), [
    # Lambda's largest size is 10,240 MB; app.yaml would be refused the same value.
    ({"api": {"memory": 20000}}, ("omnicloud:functions.api.memory", "10240")),
    # API Gateway HTTP APIs end an integration after 30 seconds.
    ({"api": {"timeout": 60}}, ("omnicloud:functions.api.timeout", "30s")),
])
def test_main_checks_stack_overrides_against_the_clouds_limits(override, expected):
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:cloud": "aws", "omnicloud:functions": json.dumps(override)})
    message = str(err.value)
    assert "\n" not in message and message.startswith("Pulumi.prod.yaml: ")
    assert all(part in message for part in expected), message


def test_override_outliving_a_declared_visibility_timeout_is_refused_an_unset_one_follows():
    # A consumer that outlives its queue's declared visibility timeout gets its message twice
    # (aws_extras declares jobs: 720 s, consumed by crunch).
    extras = {"omnicloud:cloud": "aws", "omnicloud:app": "tests/providers/apps/aws_extras/app.yaml"}
    with pytest.raises(pulumi.RunError) as err:
        _run_main({**extras, "omnicloud:functions": json.dumps({"crunch": {"timeout": 900}})})
    expected = ("omnicloud:functions.crunch.timeout", "visibility_timeout 720s")
    # app.yaml leaves task-queue's unset: it becomes 6 x the overridden timeout, no error.
    _run_main({"omnicloud:cloud": "aws", "omnicloud:functions": json.dumps({"worker": {"timeout": 900}})})
    message = str(err.value)
    assert "\n" not in message and message.startswith("Pulumi.prod.yaml: ")
    assert all(part in message for part in expected), message


def test_main_names_the_bad_override_value():
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:cloud": "aws", "omnicloud:functions": json.dumps({"api": {"memory": "lots"}})})
    message = str(err.value)
    assert message.startswith("Pulumi.prod.yaml: omnicloud:functions.api.memory: ") and "'lots'" in message
