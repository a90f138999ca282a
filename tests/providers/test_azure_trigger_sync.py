"""Azure trigger sync (issue 10.8): every Function App gets a TriggerSync step that POSTs ARM's
syncfunctiontriggers after each new package, as part of `pulumi up`.

The plan is checked under the mocks. The POST itself is checked against a local HTTP server on
127.0.0.1 standing in for ARM (no Azure here), with a fake credential handing out a fixed token
(Entra ID cannot run here either); both are labelled as such below."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from pathlib import Path

import dill
import pytest

from providers.azure import sync
from tests.providers.contract import preview
from tests.providers.test_azure import arm_id, function_child, web_app

SYNC_TYPE = "pulumi-python:dynamic/omnicloud-azure:TriggerSync"
SITE = "/subscriptions/0000/resourceGroups/agents-rg/providers/Microsoft.Web/sites/agents-worker-abcd1234"


# -- the plan ------------------------------------------------------------------------------------

def test_every_function_app_syncs_its_triggers_after_its_package_and_app():
    dev = preview("azure")
    for fn in ("api", "worker", "notifier", "sweeper"):
        step = function_child(dev, fn, SYNC_TYPE)
        app, blob = web_app(dev, fn), function_child(dev, fn, "azure-native:storage:Blob")
        sha = hashlib.sha256(Path(blob.props["source"]["asset"]).read_bytes()).hexdigest()
        assert step.props["site_id"] == arm_id(app)
        assert step.props["package_sha256"] == sha
        assert step.props["endpoint"] == "https://management.azure.com"
        # It runs after the app and its package exist, never before.
        assert {app.urn, blob.urn} <= set(step.dependencies)
        # The provider is pickled by reference to this module, which `pulumi up`'s dynamic provider
        # host imports from the installed package (not by value), and not as a secret: it holds none.
        assert isinstance(step.props["__provider"], str)
        assert type(dill.loads(base64.b64decode(step.props["__provider"]))) is sync.TriggerSyncProvider


@pytest.fixture
def azure_environment():
    from pulumi.runtime import config

    def set_environment(value: str) -> None:
        config.set_config("azure-native:environment", value)

    yield set_environment
    config.CONFIG.get().pop("azure-native:environment", None)


def test_sovereign_clouds_sync_through_their_own_arm_endpoint(azure_environment):
    for environment, endpoint in (("china", "https://management.chinacloudapi.cn"),
                                  ("usgovernment", "https://management.usgovcloudapi.net"),
                                  ("public", "https://management.azure.com")):
        azure_environment(environment)
        assert sync.arm_endpoint() == endpoint


def test_an_unknown_azure_environment_is_one_clear_line_that_stops_the_program(azure_environment):
    import pulumi

    azure_environment("mars")
    with pytest.raises(pulumi.RunError) as err:  # Pulumi reports a RunError's message alone
        sync.arm_endpoint()
    assert str(err.value) == "azure-native:environment is 'mars'; use one of public, usgovernment, china"


def test_only_a_new_package_or_app_makes_a_new_sync():
    provider = sync.TriggerSyncProvider()
    olds = {"site_id": SITE, "package_sha256": "a" * 64, "endpoint": sync.ARM_ENDPOINTS["public"]}
    assert provider.diff("id", olds, dict(olds)).changes is False
    for key, value in (("package_sha256", "b" * 64), ("site_id", SITE + "x")):
        diff = provider.diff("id", olds, {**olds, key: value})
        assert diff.changes is True and not diff.replaces


# -- the POST, against a stand-in for ARM ----------------------------------------------------------

class FakeCredential:
    """FAKE: stands in for azure-identity's DefaultAzureCredential (no Entra ID here)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str):
        from azure.core.credentials import AccessToken

        self.scopes.extend(scopes)
        return AccessToken("t0ken", 4102444800)


class StandInArm:
    """FAKE: a local HTTP server on 127.0.0.1 answering as ARM would, from a script of
    (status, headers, body) answers; records every request it gets."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.answers, self.requests = list(answers), []
        arm = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                arm.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, headers, body = arm.answers.pop(0) if arm.answers else (200, {}, b"")
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST  # a followed redirect would arrive as a GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def arm():
    servers: list[StandInArm] = []

    def start(*answers):
        servers.append(StandInArm(list(answers)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_the_sync_is_an_authenticated_post_to_the_apps_syncfunctiontriggers(arm):
    server, credential = arm((200, {}, b"")), FakeCredential()
    assert sync.sync_triggers(SITE, endpoint=server.endpoint, credential=credential) == 1
    [(method, path, headers, body)] = server.requests
    assert method == "POST" and body == b""
    assert path == f"{SITE}/syncfunctiontriggers?api-version={sync.API_VERSION}"
    assert headers["Authorization"] == "Bearer t0ken"
    assert credential.scopes == [f"{server.endpoint}/.default"]


def test_throttling_and_server_errors_are_retried_after_what_arm_asks(arm):
    server = arm((429, {"Retry-After": "7"}, b""), (503, {}, b"busy"), (200, {}, b""))
    waits: list[float] = []
    attempts = sync.sync_triggers(SITE, endpoint=server.endpoint, credential=FakeCredential(), sleep=waits.append)
    assert attempts == 3 and len(server.requests) == 3
    assert waits == [7.0, 4.0]  # Retry-After, then exponential backoff


def test_a_refusal_fails_the_deployment_with_arms_error_and_is_not_retried(arm):
    error = {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}
    server = arm((403, {"Content-Type": "application/json"}, json.dumps(error).encode()))
    with pytest.raises(sync.TriggerSyncError) as err:
        sync.sync_triggers(SITE, endpoint=server.endpoint, credential=FakeCredential(), sleep=lambda s: None)
    assert str(err.value) == ("sync triggers of Function App agents-worker-abcd1234: ARM answered HTTP 403"
                              " AuthorizationFailed: The client does not have authorization")
    assert len(server.requests) == 1


def test_a_redirect_is_not_followed_with_the_token(arm):
    target = arm((200, {}, b""))
    server = arm((302, {"Location": f"{target.endpoint}/elsewhere"}, b""))
    with pytest.raises(sync.TriggerSyncError, match="a redirect is not followed"):
        sync.sync_triggers(SITE, endpoint=server.endpoint, credential=FakeCredential(), sleep=lambda s: None)
    assert target.requests == []


def test_persistent_failure_gives_up_after_a_bounded_number_of_attempts(arm):
    server = arm(*[(500, {}, b"oops")] * sync.ATTEMPTS)
    waits: list[float] = []
    with pytest.raises(sync.TriggerSyncError, match=f"gave up after {sync.ATTEMPTS} attempts \\(HTTP 500 oops\\)"):
        sync.sync_triggers(SITE, endpoint=server.endpoint, credential=FakeCredential(), sleep=waits.append)
    assert len(server.requests) == sync.ATTEMPTS and all(w <= sync.MAX_WAIT_S for w in waits)


def test_a_malformed_site_id_is_refused_before_any_request():
    with pytest.raises(sync.TriggerSyncError, match="is not a Function App's ARM id"):
        sync.sync_triggers("agents-worker", credential=FakeCredential())


def test_the_provider_posts_on_create_and_on_each_update(arm, monkeypatch):
    server = arm((200, {}, b""), (200, {}, b""))
    monkeypatch.setattr(sync, "_default_credential", FakeCredential)
    provider = sync.TriggerSyncProvider()
    props = {"site_id": SITE, "package_sha256": "a" * 64, "endpoint": server.endpoint}
    created = provider.create(props)
    assert created.id == f"{SITE}/syncfunctiontriggers" and created.outs == props
    provider.update(created.id, props, {**props, "package_sha256": "b" * 64})
    assert [r[1].split("?")[0] for r in server.requests] == [f"{SITE}/syncfunctiontriggers"] * 2
