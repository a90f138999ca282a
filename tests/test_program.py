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


# -- stack settings (issue 11): tags, concurrency, unknown keys, the provider ------------------

from omnicloud.program import StackConfigError, settings_from_config  # noqa: E402


@pytest.mark.parametrize(("cloud", "tags", "expected"), [
    ("aws", {"aws:team": "x"}, ("omnicloud:tags.aws:team: on aws:", "reserved", "docs.aws.amazon.com")),
    ("aws", {"team": "a" * 257}, ("omnicloud:tags.team: on aws:", "over the 256", "docs.aws.amazon.com")),
    ("azure", {"cost/center": "x"}, ("omnicloud:tags.cost/center: on azure:", "< > % & \\ ? /",
                                     "learn.microsoft.com/azure/azure-resource-manager")),
    ("gcp", {"cost-center": "CC-1234"}, ("omnicloud:tags.cost-center: on gcp:", "write 'cc-1234'",
                                         "cloud.google.com/resource-manager/docs/labels-overview")),
    ("gcp", {"Team": "x"}, ("omnicloud:tags.Team: on gcp:", "lowercase letters",)),
    ("aws", {"managed-by": "me"}, ("omnicloud:tags.managed-by: omnicloud sets this tag itself",)),
])
def test_a_tag_a_cloud_refuses_is_one_line_citing_its_rule(cloud, tags, expected):
    with pytest.raises(StackConfigError) as err:
        settings_from_config({"omnicloud:cloud": cloud, "omnicloud:tags": json.dumps(tags)}, "Pulumi.dev.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("Pulumi.dev.yaml: ")
    assert all(part in message for part in expected), message


def test_too_many_tags_for_the_cloud_are_refused():
    tags = {f"t{i}": "x" for i in range(48)}
    with pytest.raises(StackConfigError, match="over the 50 per resource aws allows"):
        settings_from_config({"omnicloud:cloud": "aws", "omnicloud:tags": tags}, "Pulumi.dev.yaml")
    assert settings_from_config({"omnicloud:cloud": "gcp", "omnicloud:tags": tags}, "Pulumi.dev.yaml").tags == tags


@pytest.mark.parametrize(("config", "expected"), [
    ({"omnicloud:envirnment": "prod"}, "omnicloud:envirnment is not a setting; did you mean 'environment'?"),
    ({"omnicloud:tag": "{}"}, "omnicloud:tag is not a setting; did you mean 'tags'?"),
    ({"omnicloud:functions": json.dumps({"api": {"memroy": 1024}})},
     "omnicloud:functions.api.memroy cannot be set per stack; did you mean 'memory'?"),
    ({"omnicloud:functions": json.dumps({"api": {"reserved_concurency": 5}})},
     "omnicloud:functions.api.reserved_concurency cannot be set per stack; did you mean 'reserved_concurrency'?"),
])
def test_unknown_settings_are_errors_with_a_did_you_mean(config, expected):
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:cloud": "aws", **config})
    message = str(err.value)
    assert "\n" not in message and expected in message


def test_a_declared_secret_in_the_projects_namespace_is_not_an_unknown_setting():
    # The root project is named omnicloud: `pulumi config set --secret jwt-secret` writes omnicloud:jwt-secret.
    _run_main({"omnicloud:cloud": "aws", "omnicloud:jwt-secret": "value"}, secret_keys=["omnicloud:jwt-secret"])
    with pytest.raises(pulumi.RunError, match="omnicloud:jwt-secrt is not a setting; did you mean 'jwt-secret'"):
        _run_main({"omnicloud:cloud": "aws", "omnicloud:jwt-secrt": "value"})


@pytest.mark.parametrize(("provider", "expected"), [
    ("acme", "omnicloud:provider: no provider 'acme'; installed: aws, azure, gcp"),
    ("azure", "omnicloud:provider: 'azure' deploys to 'azure', but omnicloud:cloud is 'aws'"),
])
def test_a_provider_the_stack_cannot_use_is_named(provider, expected):
    with pytest.raises(pulumi.RunError) as err:
        _run_main({"omnicloud:cloud": "aws", "omnicloud:provider": provider})
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_concurrency_settings_map_onto_each_cloud(tmp_path):
    from omnicloud.preview import run_preview
    from tests.projects import project

    stack = "  omnicloud:functions:\n    api: {max_instances: 60}\n"
    azure = run_preview(project(tmp_path / "azure", stack=stack), "azure", "dev")
    scale = {r.name: r.props["functionAppConfig"]["scaleAndConcurrency"]["maximumInstanceCount"]
             for r in azure.of_type("azure-native:web:WebApp")}
    assert scale["api"] == 60 and scale["notifier"] == 100  # Flex Consumption's default elsewhere
    stack += "    worker: {max_instances: 2, min_instances: 1}\n"  # Cloud Functions takes any cap from 1
    gcp = run_preview(project(tmp_path / "gcp", stack=stack), "gcp", "dev")
    services = {r.name: r.props["serviceConfig"] for r in gcp.of_type("gcp:cloudfunctionsv2/function:Function")}
    assert services["shop-api"]["maxInstanceCount"] == 60 and "maxInstanceCount" not in services["shop-notifier"]
    assert services["shop-worker"]["maxInstanceCount"] == 2 and services["shop-worker"]["minInstanceCount"] == 1


@pytest.mark.parametrize(("cloud", "override", "expected"), [
    ("aws", {"api": {"max_instances": 50}}, "omnicloud:functions.api.max_instances: on aws: max_instances has no"
                                             " equivalent on Lambda: Lambda caps a function only with reserved concurrency"),
    ("gcp", {"api": {"reserved_concurrency": 5}}, "omnicloud:functions.api.reserved_concurrency: on gcp:"),
    ("azure", {"api": {"max_instances": 10}}, "omnicloud:functions.api.max_instances: on azure: max_instances 10 is"
                                               " outside 40..1000"),
    ("aws", {"api": {"reserved_concurrency": 1, "min_instances": 2}},
     "omnicloud:functions.api.reserved_concurrency: on aws: reserved_concurrency 1 is below min_instances 2"),
])
def test_a_concurrency_setting_a_cloud_lacks_is_refused_naming_the_cloud(cloud, override, expected):
    from omnicloud.program import apply_overrides
    from spec import load_app

    settings = settings_from_config({"omnicloud:cloud": cloud, "omnicloud:functions": override}, "Pulumi.dev.yaml")
    with pytest.raises(StackConfigError) as err:
        apply_overrides(load_app(ROOT / "app.yaml"), settings, "Pulumi.dev.yaml")
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("config, expected", [
    ({"omnicloud:cloud": "aws", "omnicloud:azure_suffix": "k3x9q2mz"},
     "Pulumi.dev.yaml: omnicloud:azure_suffix applies to Azure stacks only; this stack deploys to aws"),
    ({"omnicloud:cloud": "azure", "omnicloud:azure_suffix": "K3X9"},
     "Pulumi.dev.yaml: omnicloud:azure_suffix is 'K3X9'; it is the 8 lowercase letters and digits the names of the"
     " deployment to recover end in (agents-k3x9q2mz: k3x9q2mz)"),
    ({"omnicloud:cloud": "azure", "omnicloud:azure_recover": '["key-vault"]'},
     "Pulumi.dev.yaml: omnicloud:azure_recover needs omnicloud:azure_suffix, the 8 characters the deleted resources'"
     " names end in, so they are named as they were"),
    ({"omnicloud:cloud": "azure", "omnicloud:azure_suffix": "k3x9q2mz", "omnicloud:azure_recover": '["keyvault"]'},
     "Pulumi.dev.yaml: omnicloud:azure_recover: 'keyvault' cannot be recovered; use key-vault, api-management;"
     " did you mean 'key-vault'?"),
    ({"omnicloud:cloud": "azure", "omnicloud:azure_suffix": "k3x9q2mz", "omnicloud:azure_recover": "[]"},
     "Pulumi.dev.yaml: omnicloud:azure_recover must be a list of key-vault, api-management"),
])
def test_azure_recovery_settings_are_checked_with_one_line(config, expected):
    with pytest.raises(StackConfigError) as err:
        settings_from_config(config, "Pulumi.dev.yaml")
    assert str(err.value) == expected


def test_azure_recovery_settings_accept_a_list_or_one_bare_item():
    from omnicloud.program import azure_recover_items

    for value in ('["key-vault", "api-management"]', "api-management"):
        config = {"omnicloud:cloud": "azure", "omnicloud:azure_suffix": "k3x9q2mz", "omnicloud:azure_recover": value}
        settings_from_config(config, "Pulumi.dev.yaml")  # accepted
    assert azure_recover_items("api-management") == ["api-management"]
    assert azure_recover_items('["key-vault"]') == ["key-vault"]
