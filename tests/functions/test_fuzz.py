"""Property-based fuzzing of the agent API with Schemathesis, against a real `omnicloud dev` process.

For every operation of the OpenAPI document it serves, Schemathesis generates valid (positive) and
invalid (negative) requests from the document; each is sent with a real admin key, and every answer
must be no 5xx, a status the document lists for that operation, a body and headers of the documented
shape, and (for invalid requests) a refusal. Bounded: FUZZ_EXAMPLES examples per operation and mode
(default 12), derandomized so CI runs the same cases every time; about a minute on 2 cores.

Nothing leaves this machine: model calls may only go to a closed loopback port, and webhook URLs
are pointed at a loopback receiver before sending (the fuzzer would otherwise register random hosts).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Recorder
from .test_e2e import DevServer

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def receiver():
    recorder = Recorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, receiver):
    """`omnicloud dev` with a bootstrapped admin key, one agent with a note, a webhook and a task."""
    work = tmp_path_factory.mktemp("fuzz")
    server = DevServer(
        work / "state",
        work,
        env={
            "MODEL_ALLOWED_BASE_URLS": "http://127.0.0.1:9/v1",
            "MODEL_BASE_URL": "http://127.0.0.1:9/v1",
            "EXECUTE_WAIT_SECONDS": "1",
            "EXECUTE_MAX_WAIT_SECONDS": "1",
            "AGENT_DELETE_BUDGET_SECONDS": "1",
            "TASK_MAX_TIMEOUT_SECONDS": "5",
        },
    ).start()
    try:
        status, made, _ = server.request(
            "POST", "/admin/bootstrap", {"name": "fuzz"}, token=server.bootstrap_token()
        )
        assert status == 201, made
        key = made["key"]
        agent = server.request(
            "POST", "/agents", {"name": "target", "tools": ["calculator"]}, token=key
        )[1]
        base = f"/agents/{agent['agent_id']}"
        server.request("PUT", f"{base}/notes/n1", {"text": "a note"}, token=key)
        hook = server.request("POST", f"{base}/webhooks", {"url": receiver.url}, token=key)[1]
        task = server.request("POST", f"{base}/tasks", {"input": "calculate 1+1"}, token=key)[1]
        spare = server.request(
            "POST", "/admin/keys", {"name": "spare", "permissions": ["task:read"]}, token=key
        )[1]
        ids = {
            "agent_id": agent["agent_id"],
            "task_id": task["task_id"],
            "webhook_id": hook["webhook_id"],
            "key": "n1",
            "key_id": spare["key_id"],
        }
        yield server, key, ids
    finally:
        server.stop()


def _operations(schema):
    """Every operation, deletions last (so the shared objects live as long as possible)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: op.method.upper() == "DELETE")


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"]
)
def test_fuzzed_requests_get_documented_answers_and_never_a_5xx(platform, receiver, mode):
    server, key, ids = platform
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = _operations(schema)
    assert len(operations) >= 25
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    sent: list[int] = []

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), real_ids=st.booleans())
        def fuzz(case, real_ids):
            params = case.path_parameters
            if real_ids and params:  # half the time, objects that exist (past the 404)
                case.path_parameters = {k: ids.get(k, v) for k, v in params.items()}
            webhook = "webhooks" in case.path and isinstance(case.body, dict)
            if webhook and isinstance(case.body.get("url"), str):
                case.body["url"] = receiver.url  # never let the platform call a generated host
            response = case.call(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            sent.append(response.status_code)
            case.validate_response(response, checks=checks)

        try:
            fuzz()
        except Unsatisfiable:  # nothing about this operation can be invalid (e.g. GET /health)
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert sent and all(status < 500 for status in sent)
    assert any(200 <= status < 300 for status in sent)  # it got past 401 and 404, too
