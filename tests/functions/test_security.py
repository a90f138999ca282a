"""One test per attack of issue 15 on the agent platform (items 1, 2, 3, 5 and the webhook half of 6;
the dev gateway's attacks are tested under tests/dev). SECURITY.md maps each attack to its test.

Every server here listens on loopback only; refused addresses are refused before any connection.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from functions import store, tasks, validation, webhooks
from functions.api import OPERATIONS
from functions.notifier import deliver
from runtime import HTTPError
from runtime import log as jsonlog
from runtime.links import use_environ

from .conftest import SECRETS, Recorder, body, make_agent, new_tenant

EVENT = {"id": "e1", "type": "task.succeeded", "tenant_id": "tn_1", "agent_id": "ag_1"}


class Server:
    """A loopback HTTP(S) server answering every request with `status` and `headers`; records requests."""

    def __init__(
        self,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        reply: bytes = b"",
    ):
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("content-length", 0))
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made: list[Server] = []

    def make(*args, **kwargs) -> Server:
        made.append(Server(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


class FakeResolver:
    """A stand-in for DNS (no name server can be run for a test here): scripted answers per name,
    numeric hosts passed to the real resolver; counts the lookups of each name."""

    def __init__(self, monkeypatch, answers: dict[str, list[str]]):
        self.answers = answers
        self.lookups: dict[str, int] = {}
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            name = host.decode() if isinstance(host, bytes) else host
            if name in self.answers:
                count = self.lookups[name] = self.lookups.get(name, 0) + 1
                address = self.answers[name][min(count, len(self.answers[name])) - 1]
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def as_under_omnicloud_dev(monkeypatch):
    """Calls made outside a function's environment act as `omnicloud dev` does (OMNICLOUD_CLOUD=local)."""
    monkeypatch.setenv("OMNICLOUD_CLOUD", "local")


def _on_a_cloud():
    return use_environ({"OMNICLOUD_CLOUD": "aws"})


# -- 1. No ownership ----------------------------------------------------------------------------


def test_attack_1_another_tenants_key_neither_sees_nor_changes_agents_tasks_notes_or_webhooks(
    cloud, admin
):
    """Any key with agent:read|update or task:* reached every caller's objects; now they are 404."""
    agent = make_agent(cloud, admin)
    base = f"/agents/{agent['agent_id']}"
    task = body(cloud.http("POST", f"{base}/execute", {"input": "calculate 6*7"}, token=admin))
    cloud.http("PUT", f"{base}/notes/plan", {"text": "private"}, token=admin)
    hook = body(
        cloud.http("POST", f"{base}/webhooks", {"url": "http://127.0.0.1:9/hook"}, token=admin)
    )
    _, other = new_tenant(cloud, admin, "team-two")
    key = body(
        cloud.http(
            "POST",
            "/admin/keys",
            {
                "name": "rw",
                "permissions": [
                    "agent:read",
                    "agent:update",
                    "agent:delete",
                    "task:create",
                    "task:read",
                ],
            },
            token=other,
        )
    )["key"]
    for method, path, payload in (
        ("GET", base, None),
        ("PATCH", base, {"name": "mine"}),
        ("DELETE", base, None),
        ("GET", f"/tasks/{task['task_id']}", None),
        ("GET", f"{base}/tasks", None),
        ("POST", f"{base}/tasks", {"input": "x"}),
        ("GET", f"{base}/notes/plan", None),
        ("PUT", f"{base}/notes/plan", {"text": "overwritten"}),
        ("GET", f"{base}/webhooks/{hook['webhook_id']}", None),
        ("DELETE", f"{base}/webhooks/{hook['webhook_id']}", None),
    ):
        response = cloud.http(method, path, payload, token=key)
        assert response.status == 404, f"{method} {path} answered {response.status}"
    assert body(cloud.http("GET", "/agents", token=key))["items"] == []
    assert body(cloud.http("GET", f"{base}/notes/plan", token=admin))["text"] == "private"
    assert body(cloud.http("GET", f"/tasks/{task['task_id']}", token=admin))["output"].endswith(
        "6*7 = 42"
    )


def test_attack_1_a_second_team_cannot_hook_the_first_teams_agent_to_receive_its_outputs(
    cloud, admin, receiver
):
    agent = make_agent(cloud, admin)
    _, other = new_tenant(cloud, admin, "team-two")
    hooked = cloud.http(
        "POST", f"/agents/{agent['agent_id']}/webhooks", {"url": receiver.url}, token=other
    )
    assert hooked.status == 404 and body(hooked)["error"]["code"] == "agent_not_found"
    cloud.http(
        "POST",
        f"/agents/{agent['agent_id']}/execute",
        {"input": "the quarterly numbers"},
        token=admin,
    )
    for message in cloud.messages("events~notifier"):
        with cloud.as_function("notifier"):
            deliver(message)
    assert receiver.requests == []


# -- 2. Webhook SSRF ----------------------------------------------------------------------------


def test_attack_2_a_redirect_to_an_internal_address_is_not_followed(servers, caplog):
    target = servers(200)  # stands in for the metadata service the redirect points at
    public = servers(302, {"location": f"{target.url}/latest/meta-data/?token=from-the-redirect"})
    with pytest.raises(webhooks.DeliveryFailed) as failed:
        webhooks.post(f"{public.url}/hook", "whsec_x", EVENT, timeout=5)
    assert target.requests == [] and len(public.requests) == 1
    message = str(failed.value)
    assert (
        "302" in message and f"{target.url}/latest/meta-data/" in message
    )  # the Location, logged...
    assert "from-the-redirect" not in message  # ...without its query string


@pytest.mark.parametrize("status", [301, 303, 307, 308])
def test_attack_2_every_redirect_status_is_a_failed_delivery(servers, status):
    target = servers(200)
    public = servers(status, {"location": target.url})
    with pytest.raises(webhooks.DeliveryFailed, match=f"answered {status} redirecting"):
        webhooks.post(public.url, "whsec_x", EVENT, timeout=5)
    assert target.requests == []


def test_attack_2_dns_rebinding_cannot_swap_the_checked_address(monkeypatch, receiver):
    """The host is resolved once; the delivery dials the address that passed, with the host's name in Host."""
    port = receiver.server.server_address[1]
    dns = FakeResolver(monkeypatch, {"rebind.example.test": ["127.0.0.1", "169.254.169.254"]})
    assert (
        webhooks.post(f"http://rebind.example.test:{port}/hook", "whsec_x", EVENT, timeout=5) == 200
    )
    assert dns.lookups == {"rebind.example.test": 1}
    assert receiver.requests[0]["headers"]["Host"] == f"rebind.example.test:{port}"
    # The second answer (what a rebinding resolver gives the connect) is refused on its own.
    with pytest.raises(
        webhooks.DeliveryFailed, match="169.254.169.254, the cloud metadata service"
    ):
        webhooks.post(f"http://rebind.example.test:{port}/hook", "whsec_x", EVENT, timeout=5)
    assert len(receiver.requests) == 1


def _tls_pair(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, Path]:
    """A CA and a server certificate for `hostname` signed by it: (server context, CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")
    return context, tmp_path / "ca.pem"


def test_attack_2_https_deliveries_dial_the_checked_address_but_verify_the_hosts_certificate(
    tmp_path, monkeypatch, servers
):
    context, ca = _tls_pair(tmp_path, "hooks.example.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # trust the test CA (OpenSSL reads it per context)
    hooks = servers(204, tls=context)
    FakeResolver(
        monkeypatch, {"hooks.example.test": ["127.0.0.1"], "other.example.test": ["127.0.0.1"]}
    )
    assert (
        webhooks.post(f"https://hooks.example.test:{hooks.port}/in", "whsec_x", EVENT, timeout=5)
        == 204
    )
    assert hooks.requests[0]["headers"]["Host"] == f"hooks.example.test:{hooks.port}"
    # Same address, another name: the certificate (checked against the URL's host, sent as SNI) does not match.
    with pytest.raises(webhooks.DeliveryFailed, match="other.example.test"):
        webhooks.post(f"https://other.example.test:{hooks.port}/in", "whsec_x", EVENT, timeout=5)
    assert len(hooks.requests) == 1


ALWAYS_REFUSED = [
    ("http://[::7f00:1]/", "IPv4-compatible"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped"),
    ("http://[64:ff9b::7f00:1]/", "NAT64"),
    ("http://[64:ff9b:1::a9fe:a9fe]/", "NAT64"),
    ("http://[2002:7f00:1::1]/", "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("http://168.63.129.16/machine?comp=goalstate", "WireServer"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://100.100.100.200/latest/meta-data/", "metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://0.0.0.0/", "non-public"),
    ("http://[::]/", "non-public"),
    ("http://224.0.0.1/", "non-public"),
    ("http://240.0.0.1/", "non-public"),
    ("http://192.0.2.1/", "non-public"),
]
PRIVATE = [
    "http://127.0.0.1:9/",
    "http://localhost:9/",
    "http://[::1]:9/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://100.64.0.1/",
    "http://2130706433:9/",
]


@pytest.mark.parametrize(("url", "why"), ALWAYS_REFUSED)
def test_attack_2_smuggled_metadata_and_reserved_addresses_are_refused_everywhere(
    cloud, admin, url, why
):
    """Refused at registration and at delivery, on a cloud and even where private networks are allowed."""
    agent = make_agent(cloud, admin)
    registered = cloud.http(
        "POST", f"/agents/{agent['agent_id']}/webhooks", {"url": url}, token=admin
    )
    assert registered.status == 400 and why in body(registered)["error"]["message"]
    for environ in (
        {"OMNICLOUD_CLOUD": "local"},
        {"OMNICLOUD_CLOUD": "aws"},
        {"OMNICLOUD_CLOUD": "gcp", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"},
    ):
        with use_environ(environ), pytest.raises(webhooks.DeliveryFailed, match=why):
            webhooks.post(url, "whsec_x", EVENT, timeout=1)


@pytest.mark.parametrize("url", PRIVATE)
def test_attack_2_private_receivers_are_refused_on_a_cloud_unless_allowed_explicitly(url):
    with _on_a_cloud():
        with pytest.raises(HTTPError, match="webhooks may only target public hosts"):
            validation.webhook_fields({"url": url})
        with pytest.raises(webhooks.DeliveryFailed, match="WEBHOOK_ALLOW_PRIVATE_NETWORKS=true"):
            webhooks.post(url, "whsec_x", EVENT, timeout=1)
    for environ in (
        {"OMNICLOUD_CLOUD": "local"},
        {"OMNICLOUD_CLOUD": "azure", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1"},
    ):
        with use_environ(environ):
            assert validation.webhook_fields({"url": url})["url"] == url  # registration passes


def test_attack_2_private_receivers_need_an_explicit_allowance(monkeypatch):
    """Only OMNICLOUD_CLOUD=local (set by `omnicloud dev`) or WEBHOOK_ALLOW_PRIVATE_NETWORKS allows them;
    a function whose environment says nothing gets the cloud's rule."""
    monkeypatch.delenv("OMNICLOUD_CLOUD")
    with pytest.raises(webhooks.DeliveryFailed, match="a loopback address"):
        webhooks.check_destination("http://127.0.0.1:9/")
    for allowed in ("true", "1", "yes", "TRUE"):
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", allowed)
        webhooks.check_destination("http://127.0.0.1:9/")
    for refused in ("false", "0", "", "no", "on"):
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", refused)
        with pytest.raises(webhooks.DeliveryFailed, match="a loopback address"):
            webhooks.check_destination("http://127.0.0.1:9/")


def test_public_addresses_pass_the_check():
    for text in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8", "1.1.1.1"):
        assert webhooks.address_problem(ipaddress.ip_address(text), allow_private=False) is None


# -- 3. Model key on redirect --------------------------------------------------------------------


@pytest.fixture
def model_key_cloud(cloud, servers):
    other_host = servers(200, host="127.0.0.2")  # another host, the one the redirect points at
    model = servers(302, {"location": f"{other_host.url}/v1/chat/completions?leak=1"})
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = f"{model.url}/v1"
    return cloud, model, other_host


def test_attack_3_a_cross_host_redirect_never_gets_the_model_api_key(model_key_cloud, admin):
    cloud, model, other_host = model_key_cloud
    agent = make_agent(
        cloud, admin, model={"backend": "openai", "name": "m", "base_url": f"{model.url}/v1"}
    )
    task = body(
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin)
    )
    assert task["status"] == "failed" and "redirects are not followed" in task["error"]["message"]
    assert model.requests[0]["headers"]["Authorization"] == f"Bearer {SECRETS['MODEL_API_KEY']}"
    assert other_host.requests == []
    assert SECRETS["MODEL_API_KEY"] not in json.dumps(task)


def test_attack_3_a_model_endpoint_echoing_the_key_does_not_leak_it_to_the_tenant(
    cloud, admin, servers
):
    echo = json.dumps(
        {"error": {"message": f"Incorrect API key provided: {SECRETS['MODEL_API_KEY']}"}}
    ).encode()
    model = servers(401, {"content-type": "application/json"}, reply=echo)
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = f"{model.url}/v1"
    agent = make_agent(
        cloud, admin, model={"backend": "openai", "name": "m", "base_url": f"{model.url}/v1"}
    )
    task = body(
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin)
    )
    assert (
        task["status"] == "failed"
        and "Incorrect API key provided: [redacted]" in task["error"]["message"]
    )
    assert SECRETS["MODEL_API_KEY"] not in json.dumps(task)


def test_attack_3_a_base_url_removed_from_the_allowlist_gets_no_more_calls(cloud, admin, servers):
    model = servers(200)
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = f"{model.url}/v1"
    agent = make_agent(
        cloud, admin, model={"backend": "openai", "name": "m", "base_url": f"{model.url}/v1"}
    )
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = "https://api.openai.com/v1"
    task = body(
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin)
    )
    assert task["status"] == "failed" and "no longer allowed" in task["error"]["message"]
    assert model.requests == []


# -- 5. Data and errors -------------------------------------------------------------------------


def _nested_cursor(depth: int = 3000) -> str:
    return base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode().rstrip("=")


def test_attack_5_no_cursor_makes_any_list_answer_500(cloud, admin):
    first = make_agent(cloud, admin)
    make_agent(cloud, admin)
    agent_cursor = body(cloud.http("GET", "/agents?limit=1", token=admin))["next_cursor"]
    assert agent_cursor
    _, other = new_tenant(cloud, admin)
    lists = [op for op in OPERATIONS.values() if "cursor" in op.query]
    assert len(lists) >= 6
    for op in lists:
        path = op.template.replace("{agent_id}", first["agent_id"])
        for cursor in ("garbage", _nested_cursor(), agent_cursor, "x" * 5000, "%00", "eyJ0IjoxfQ"):
            for token in (admin, other):
                response = cloud.http("GET", f"{path}?cursor={cursor}", token=token)
                where = f"GET {path}?cursor={cursor[:20]} answered {response.status}"
                assert response.status < 500, where
                if (
                    token == other and op.permission != "platform:*"
                ):  # another tenant's cursor never works
                    assert response.status in (400, 404), where
                if (
                    cursor != agent_cursor
                ):  # not a cursor at all: 400 (unless the route refuses first)
                    assert response.status == 400 or (
                        token == other and response.status in (403, 404)
                    ), where
                    if response.status == 400:
                        assert body(response)["error"]["code"] == "invalid_request", where


def test_attack_5_deleting_an_agent_deletes_its_notes_webhooks_and_tasks_and_cancels_queued_ones(
    cloud, admin
):
    agent = make_agent(cloud, admin)
    base = f"/agents/{agent['agent_id']}"
    done = body(cloud.http("POST", f"{base}/execute", {"input": "calculate 1+1"}, token=admin))
    queued = body(cloud.http("POST", f"{base}/tasks", {"input": "calculate 2+2"}, token=admin))
    running = body(cloud.http("POST", f"{base}/tasks", {"input": "calculate 3+3"}, token=admin))
    with cloud.as_function("worker"):
        claimed = tasks.claim(cloud.tenant, running["task_id"])  # a worker is mid-run
    cloud.http("PUT", f"{base}/notes/n1", {"text": "x"}, token=admin)
    hook = body(cloud.http("POST", f"{base}/webhooks", {"url": "http://127.0.0.1:9/"}, token=admin))

    assert cloud.http("DELETE", base, token=admin).status == 204
    for path in (
        base,
        f"{base}/notes/n1",
        f"{base}/notes",
        f"{base}/webhooks",
        f"{base}/webhooks/{hook['webhook_id']}",
        f"{base}/tasks",
        f"/tasks/{done['task_id']}",
        f"/tasks/{queued['task_id']}",
        f"{base}/tasks/{done['task_id']}",
    ):
        assert cloud.http("GET", path, token=admin).status == 404, path
    for method, path, payload in (
        ("PUT", f"{base}/notes/n1", {"text": "y"}),
        ("POST", f"{base}/webhooks", {"url": "http://127.0.0.1:9/"}),
        ("POST", f"{base}/tasks", {"input": "x"}),
        ("PATCH", base, {"name": "back"}),
        ("DELETE", f"{base}/notes/n1", None),
        ("DELETE", base, None),
    ):
        assert cloud.http(method, path, payload, token=admin).status == 404, f"{method} {path}"
    # The queued task's message finds nothing to run; the running one stops at its next step.
    before = len(cloud.events())
    assert cloud.run_worker() >= 1
    with cloud.as_function("worker"), pytest.raises(tasks.Lost):
        tasks.run(claimed)
    assert [e for e in cloud.events()[before:] if e["type"].startswith("task.")] == []
    # Nothing is left in the tables under the agent.
    with cloud.as_function("api"):
        owned = store.agent_pk(cloud.tenant, agent["agent_id"])
        assert (
            store.table("agents").query(owned).items
            == store.table("tasks").query(owned).items
            == []
        )
        for task_id in (done["task_id"], queued["task_id"], running["task_id"]):
            assert tasks.get(cloud.tenant, task_id) is None
        assert (
            store.table("agents").get(store.tenant_pk(cloud.tenant), f"AGENT#{agent['agent_id']}")
            is None
        )
    assert [e["type"] for e in cloud.events() if e["type"] == "agent.deleted"] == ["agent.deleted"]


def test_attack_5_deleting_an_agent_with_many_tasks_finishes_on_a_repeated_delete(cloud, admin):
    agent = make_agent(cloud, admin)
    for i in range(150):
        cloud.http("POST", f"/agents/{agent['agent_id']}/tasks", {"input": f"t{i}"}, token=admin)
    cloud.settings["AGENT_DELETE_BUDGET_SECONDS"] = "0"  # one page per DELETE
    first = cloud.http("DELETE", f"/agents/{agent['agent_id']}", token=admin)
    assert first.status == 202 and body(first)["status"] == "deleting"
    assert (
        cloud.http("GET", f"/agents/{agent['agent_id']}", token=admin).status == 404
    )  # gone at once
    assert agent["agent_id"] not in json.dumps(body(cloud.http("GET", "/agents", token=admin)))
    statuses = [
        cloud.http("DELETE", f"/agents/{agent['agent_id']}", token=admin).status for _ in range(2)
    ]
    assert statuses == [204, 404]  # 150 tasks: two pages of 100
    with cloud.as_function("api"):
        assert (
            store.table("tasks").query(store.agent_pk(cloud.tenant, agent["agent_id"])).items == []
        )


BAD_TEXT = [
    ('"evil\\u202egnp.exe"', "bidirectional formatting character (U+202E)"),
    ('"x\\u2066y\\u2069"', "bidirectional formatting character (U+2066)"),
    ('"bell\\u0007"', "control character (U+0007)"),
    ('"nul\\u0000"', "control character (U+0000)"),
    ('"c1\\u009b"', "control character (U+009B)"),
    ('"half \\ud800 pair"', "lone surrogate (U+D800)"),
    ('"\\udfff"', "lone surrogate (U+DFFF)"),
]


@pytest.mark.parametrize(("text", "says"), BAD_TEXT + [('"two\\nlines"', "one line of text")])
def test_attack_5_names_refuse_control_bidi_and_lone_surrogate_characters(cloud, admin, text, says):
    response = cloud.http("POST", "/agents", f'{{"name": {text}}}'.encode(), token=admin)
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert says in body(response)["error"]["message"]
    key = cloud.http(
        "POST",
        "/admin/keys",
        f'{{"name": {text}, "permissions": ["task:read"]}}'.encode(),
        token=admin,
    )
    assert key.status == 400


@pytest.mark.parametrize(("text", "says"), BAD_TEXT)
def test_attack_5_inputs_refuse_them_too_but_keep_line_breaks(cloud, admin, text, says):
    agent = make_agent(cloud, admin)
    url = f"/agents/{agent['agent_id']}/tasks"
    refused = cloud.http("POST", url, f'{{"input": {text}}}'.encode(), token=admin)
    assert refused.status == 400 and says in body(refused)["error"]["message"]
    nested = cloud.http(
        "POST", url, f'{{"input": "ok", "metadata": {{"k": [{text}]}}}}'.encode(), token=admin
    )
    assert nested.status == 400 and "metadata.k[0]" in body(nested)["error"]["message"]
    assert cloud.http("POST", url, {"input": "line one\n\tline two\r\n"}, token=admin).status == 202


def test_attack_5_duplicate_json_keys_are_refused(cloud, admin):
    response = cloud.http(
        "POST", "/agents", b'{"name": "harmless", "tools": [], "name": "evil"}', token=admin
    )
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert "'name' twice" in body(response)["error"]["message"]
    nested = cloud.http(
        "POST",
        "/agents",
        b'{"name": "x", "limits": {"max_steps": 1, "max_steps": 20}}',
        token=admin,
    )
    assert nested.status == 400 and "'max_steps' twice" in body(nested)["error"]["message"]


@pytest.mark.parametrize(
    "number", ["9" * 5000, "-" + "9" * 5000, "9007199254740992", "1e999", "NaN", "-Infinity"]
)
def test_attack_5_huge_numbers_get_a_clean_message_not_pythons(cloud, admin, number):
    response = cloud.http(
        "POST",
        "/agents",
        f'{{"name": "x", "limits": {{"max_steps": {number}}}}}'.encode(),
        token=admin,
    )
    error = body(response)["error"]
    assert response.status == 400 and error["code"] == "invalid_request"
    assert error["message"].startswith("request body has ") and len(error["message"]) < 200
    assert (
        "sys.set_int_max_str_digits" not in error["message"]
        and "Exceeds the limit" not in error["message"]
    )
    limit = cloud.http("GET", f"/agents?limit={'9' * 5000}", token=admin)
    assert limit.status == 400 and body(limit)["error"]["code"] == "invalid_request"


def _keys(value, found=None):
    found = set() if found is None else found
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def test_attack_5_versions_travel_as_etags_never_as_a_version_field(cloud, admin):
    agent = make_agent(cloud, admin)
    base = f"/agents/{agent['agent_id']}"
    answers = [
        cloud.http("GET", base, token=admin),
        cloud.http("GET", "/agents", token=admin),
        cloud.http("PATCH", base, {"name": "b"}, token=admin, headers={"If-Match": '"1"'}),
        cloud.http("POST", f"{base}/execute", {"input": "hi"}, token=admin),
        cloud.http("GET", f"{base}/tasks", token=admin),
        cloud.http("PUT", f"{base}/notes/k", {"text": "t"}, token=admin),
        cloud.http("POST", f"{base}/webhooks", {"url": "http://127.0.0.1:9/"}, token=admin),
        cloud.http("GET", "/admin/keys", token=admin),
        cloud.http("GET", "/tenants", token=admin),
    ]
    for response in answers:
        assert response.status < 300
        leaked = {k for k in _keys(body(response)) if k.startswith("_") or k == "version"}
        assert not leaked, f"{leaked} in {body(response)}"
    assert answers[0].headers["etag"] == '"1"' and answers[2].headers["etag"] == '"2"'
    stale = cloud.http(
        "DELETE", base, token=admin, headers={"If-Match": answers[0].headers["etag"]}
    )
    assert stale.status == 412 and body(stale)["error"]["code"] == "version_mismatch"
    assert (
        cloud.http(
            "DELETE", base, token=admin, headers={"If-Match": answers[2].headers["etag"]}
        ).status
        == 204
    )


# -- 6. Secrets in logs (the webhook half; the banner is the dev gateway's) -------------------------


@pytest.fixture
def all_logs():
    """Every log line any logger writes, formatted as the platform writes them (JSON lines)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(jsonlog.JsonFormatter().format(record))

    handler, root = Keep(level=logging.DEBUG), logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


def test_attack_6_failing_webhook_urls_are_logged_without_their_query_strings(
    cloud, admin, all_logs
):
    failing = Recorder(statuses=[500])
    try:
        agent = make_agent(cloud, admin)
        url = f"{failing.url}?token=hook-token-in-the-query#and-a-fragment"
        cloud.http(
            "POST",
            f"/agents/{agent['agent_id']}/webhooks",
            {"url": url, "events": ["task.succeeded"]},
            token=admin,
        )
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin)
        errors = []
        for message in cloud.messages("events~notifier"):
            with cloud.as_function("notifier"):
                try:
                    deliver(message)
                except RuntimeError as exc:  # the dev server and the clouds log this message
                    errors.append(str(exc))
        assert (
            len(failing.requests) == 1
            and failing.requests[0]["path"] == "/hook?token=hook-token-in-the-query"
        )
        logged = "\n".join(all_logs + errors)
        assert "webhook delivery failed" in logged and f"{failing.url} answered 500" in logged
        assert "hook-token-in-the-query" not in logged and "and-a-fragment" not in logged
    finally:
        failing.close()


def test_attack_6_no_secret_value_reaches_a_log(cloud, all_logs, servers, monkeypatch):
    """Bootstrap token, API keys, webhook secret, model key, JWT secret: none in any log line."""
    from runtime.adapters import local as local_adapter

    model = servers(
        500,
        {"content-type": "application/json"},
        reply=json.dumps({"error": {"message": f"bad key {SECRETS['MODEL_API_KEY']}"}}).encode(),
    )
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = f"{model.url}/v1"
    monkeypatch.setattr(
        tasks.time, "sleep", lambda seconds: None
    )  # the model retries without waiting
    created = local_adapter.invoke_http(
        "functions.api:app",
        _request("POST", "/admin/bootstrap", {}, SECRETS["BOOTSTRAP_TOKEN"]),
        environ=cloud.env("api"),
    )
    admin = json.loads(created.body_bytes())["key"]
    reader = body(
        cloud.http("POST", "/admin/keys", {"name": "r", "permissions": ["agent:read"]}, token=admin)
    )["key"]
    agent = make_agent(
        cloud, admin, model={"backend": "openai", "name": "m", "base_url": f"{model.url}/v1"}
    )
    hook = body(
        cloud.http(
            "POST",
            f"/agents/{agent['agent_id']}/webhooks",
            {"url": "http://127.0.0.1:9/?token=q-secret"},
            token=admin,
        )
    )
    for path in ("/me", "/agents", "/nope"):
        local_adapter.invoke_http(
            "functions.api:app", _request("GET", path, None, reader), environ=cloud.env("api")
        )
    cloud.http("POST", f"/agents/{agent['agent_id']}/tasks", {"input": "hi"}, token=admin)
    cloud.run_worker()
    for message in cloud.messages("events~notifier"):
        with cloud.as_function("notifier"):
            try:
                deliver(message)
            except RuntimeError as exc:
                logging.getLogger("test").error("notifier failed: %s", exc)
    assert any("model call failed" in line for line in all_logs) and any(
        "webhook" in line for line in all_logs
    )
    logged = "\n".join(all_logs)
    for secret in (
        SECRETS["BOOTSTRAP_TOKEN"],
        admin,
        reader,
        hook["secret"],
        SECRETS["MODEL_API_KEY"],
        SECRETS["JWT_SECRET"],
        "q-secret",
        admin.split("_", 2)[2],
    ):
        assert secret not in logged


def _request(method, path, payload, token):
    from runtime import Request

    return Request(
        method=method,
        path=path,
        headers={"authorization": f"Bearer {token}"},
        body=b"" if payload is None else json.dumps(payload).encode(),
    )


def test_security_md_names_only_tests_that_exist():
    """The attack matrix in SECURITY.md points at real tests (the docs match the code)."""
    root = Path(__file__).resolve().parents[2]
    named = re.findall(r"`((?:tests/\w+/)?test_\w+\.py)::(test_\w+)`", (root / "SECURITY.md").read_text())
    assert len(named) >= 25
    assert any(module.startswith("tests/dev/") for module, _ in named)  # the gateway's rows are filled
    for module, test in named:
        path = root / module if "/" in module else root / "tests" / "functions" / module
        source = path.read_text()
        assert f"def {test}(" in source, f"SECURITY.md names {module}::{test}, which does not exist"
