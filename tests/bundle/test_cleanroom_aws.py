"""Every AWS artifact of the sample app and of every examples/ app, run as Lambda runs it.

Clean room (tests/bundle/cleanroom): Python 3.12 as the Lambda python3.12 runtime, `python -I -S`,
sys.path = the unpacked zip and a boto3 like the runtime's (the oldest omnicloud supports,
cleanroom/lambda-runtime.txt), never the project's venv. The entry is `omnicloud_entry.handler`
called with API Gateway v2, SQS (queues, and topics through their per-subscriber SQS queue) and
EventBridge Scheduler events; tables, queues, topics and secrets are moto in server mode.
Functions default to arm64 on Lambda; this machine is x86_64, so the clean room runs each
function's x86_64 build (the same zip but for the wheels' platform).
"""

from __future__ import annotations

import shutil

import pytest

from tests.bundle.cleanroom import AwsWorld, Provided, build, run_app
from tests.bundle.cleanroom.scenarios import AGENTS, APPS

pytestmark = [pytest.mark.cleanroom, pytest.mark.emulator]


@pytest.fixture(scope="module")
def lambda_runtime(pytestconfig: pytest.Config) -> Provided:
    return Provided.of("aws", pytestconfig)


@pytest.mark.parametrize("scenario", APPS, ids=[s.name for s in APPS])
def test_every_function_runs_from_its_artifact_on_lambda(
    scenario, lambda_runtime, moto_endpoint, tmp_path, monkeypatch
):
    reports = run_app(lambda_runtime, AwsWorld(moto_endpoint), scenario, tmp_path, monkeypatch)
    assert list(reports) == list(scenario.steps)


def test_lambda_clean_room_fails_when_the_artifact_lacks_a_dependency(
    lambda_runtime, moto_endpoint, tmp_path, monkeypatch
):
    unpacked = build(AGENTS.app_dir, "aws", tmp_path)
    shutil.rmtree(unpacked["api"] / "jwt")  # the vendored PyJWT the api verifies bearer tokens with
    with pytest.raises(AssertionError, match="No module named 'jwt'"):
        run_app(
            lambda_runtime,
            AwsWorld(moto_endpoint),
            AGENTS,
            tmp_path,
            monkeypatch,
            unpacked,
            only=["api"],
        )
