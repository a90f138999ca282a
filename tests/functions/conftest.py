"""Fixtures for the agent platform: the local backend in a temp state dir, with each function's links."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runtime import Message, Request, Response
from runtime.backends import local
from runtime.links import link_env, use_environ
from spec import load_app

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "JWT_SECRET": "test-jwt-secret-of-at-least-32-bytes!!",
    "BOOTSTRAP_TOKEN": "test-bootstrap-token",
    "MODEL_API_KEY": "test-model-key",
}


class LocalCloud:
    """The app's functions over the local SQLite backend, each with exactly its own links."""

    def __init__(self, state_dir: Path, settings: dict[str, str]):
        self.state_dir = state_dir
        self.spec = load_app(ROOT / "app.yaml")
        self.settings = settings
        self.store = local.Store.at(state_dir)
        self.tenant = ""  # the first tenant's id, once the `admin` fixture bootstrapped it
        self.store.set_subscriptions([
            (fn.topic.name, name, dict(fn.topic.filter)) for name, fn in self.spec.functions.items() if fn.topic
        ])

    def env(self, function: str) -> dict[str, str]:
        fn = self.spec.functions[function]
        env = {"OMNICLOUD_CLOUD": "local", "OMNICLOUD_FUNCTION": function,
               local.STATE_DIR_ENV: str(self.state_dir), local.DOTENV_ENV: str(self.state_dir / ".env"),
               **fn.env, **self.settings}
        for name, verbs in fn.links.items():
            kind = self.spec.kind_of(name)
            props: dict[str, Any] = {"name": name}
            if kind == "table":
                table = self.spec.tables[name]
                props.update(partition_key=table.partition_key, sort_key=table.sort_key, ttl=table.ttl)
            if kind == "secret":
                props = {"env": local.env_var_for_secret(name)}
            env.update(link_env(name, kind, list(verbs), **props))
        return env

    @contextmanager
    def as_function(self, function: str) -> Iterator[None]:
        with use_environ(self.env(function)):
            yield

    def http(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None) -> Response:
        from functions.api import app

        all_headers = dict(headers or {})
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        path, _, query = path.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        with self.as_function("api"):
            response = app(Request(method=method, path=path, headers=all_headers, body=raw, query=params))
        response.body_bytes()
        return response

    def messages(self, queue: str) -> list[Message]:
        """Every message waiting in `queue` (topic subscriptions are `<topic>~<function>`), delays included."""
        return [m.to_message() for m in self.store.peek(queue, limit=1000)]

    def events(self) -> list[dict[str, Any]]:
        return [m.json() for m in self.messages("events~notifier")]

    def run_worker(self, max_messages: int = 100) -> int:
        """Deliver ready task-queue messages to the worker, as the dev server does; returns how many."""
        from functions.worker import run_task

        handled = 0
        for received in self.store.receive("task-queue", max_messages=max_messages, visibility_timeout=60):
            with self.as_function("worker"):
                run_task(received.to_message())
            self.store.ack(received.id, received.lease)
            handled += 1
        return handled


def body(response: Response) -> Any:
    return json.loads(response.body_bytes() or b"null")


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    from functions import agents, auth, store

    store.reset()
    agents.forget()
    auth.forget_cached_keys()
    yield LocalCloud(tmp_path / "state", dict(SECRETS))
    store.reset()
    agents.forget()
    auth.forget_cached_keys()


@pytest.fixture
def admin(cloud: LocalCloud) -> str:
    """The bootstrap key: admin:* of the first tenant (`cloud.tenant`), and platform:*."""
    response = cloud.http("POST", "/admin/bootstrap", {"name": "root"}, token=SECRETS["BOOTSTRAP_TOKEN"])
    assert response.status == 201, response.body
    cloud.tenant = body(response)["tenant_id"]
    return body(response)["key"]


def new_tenant(cloud: LocalCloud, platform_key: str, name: str = "second") -> tuple[str, str]:
    """A tenant made with POST /tenants: (its tenant id, its admin key)."""
    response = cloud.http("POST", "/tenants", {"name": name}, token=platform_key)
    assert response.status == 201, response.body
    return body(response)["tenant_id"], body(response)["key"]


@pytest.fixture
def other_admin(cloud: LocalCloud, admin: str) -> str:
    """The admin key (admin:*, no platform:*) of a second tenant."""
    return new_tenant(cloud, admin)[1]


# A valid body for every route that takes one (tests/functions/test_tenancy.py, test_openapi.py).
VALID_BODIES = {
    ("POST", "/tenants"): {"name": "third"},
    ("POST", "/admin/keys"): {"name": "k2", "permissions": ["agent:read"]},
    ("POST", "/agents"): {"name": "a2"},
    ("PATCH", "/agents/{agent_id}"): {"description": "changed"},
    ("POST", "/agents/{agent_id}/tasks"): {"input": "calculate 1+1"},
    ("POST", "/agents/{agent_id}/execute"): {"input": "calculate 1+1"},
    ("POST", "/agents/{agent_id}/webhooks"): {"url": "http://127.0.0.1:9/x"},
    ("PUT", "/agents/{agent_id}/notes/{key}"): {"text": "t"},
}


def make_agent(cloud: LocalCloud, token: str, **fields: Any) -> dict[str, Any]:
    payload = {"name": "helper", "model": "echo", "tools": ["calculator", "clock", "notes"], **fields}
    response = cloud.http("POST", "/agents", payload, token=token)
    assert response.status == 201, response.body
    return body(response)


class Recorder:
    """A tiny HTTP receiver on 127.0.0.1 that records requests and answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": data})
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()
