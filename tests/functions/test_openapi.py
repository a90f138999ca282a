"""The OpenAPI document matches the handlers: every route is in it, and every answer and error it
lists for a route is one a real request gets from that route, with a body of the documented shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from functions import store
from functions.api import OPERATIONS, app

from .conftest import SECRETS, VALID_BODIES, body, make_agent, new_tenant


@pytest.fixture
def doc(cloud, admin):
    response = cloud.http("GET", "/openapi.json")
    assert response.status == 200 and response.headers["content-type"] == "application/json"
    return body(response)


def test_the_document_is_valid_openapi_3_1_with_every_route_of_the_router(doc):
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented == {(route.method, route.template) for route in app.routes}
    assert documented == set(OPERATIONS)


class World:
    """Tenant A (the bootstrap key, which also holds platform:*) with one of everything, and tenant B."""

    def __init__(self, cloud, admin):
        self.cloud, self.admin = cloud, admin
        self.other_tenant, self.other = new_tenant(cloud, admin, "b")
        self.agent = make_agent(cloud, admin)["agent_id"]
        self.base = f"/agents/{self.agent}"
        self.task = body(
            cloud.http("POST", f"{self.base}/execute", {"input": "calculate 1+1"}, token=admin)
        )["task_id"]
        cloud.http("PUT", f"{self.base}/notes/n1", {"text": "note"}, token=admin)
        self.webhook = body(
            cloud.http("POST", f"{self.base}/webhooks", {"url": "http://127.0.0.1:9/"}, token=admin)
        )["webhook_id"]
        self.key_id = body(
            cloud.http(
                "POST", "/admin/keys", {"name": "k", "permissions": ["task:read"]}, token=admin
            )
        )["key_id"]
        self.ids = {
            "agent_id": self.agent,
            "task_id": self.task,
            "webhook_id": self.webhook,
            "key": "n1",
            "key_id": self.key_id,
            "name": "app.js",  # a file of the dashboard (/ui/{name})
        }

    def call(self, method, path, payload=None, *, token="admin", headers=None):
        return self.cloud.http(
            method, path, payload, token=self.admin if token == "admin" else token, headers=headers
        )


def _path(template: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


def _fresh_agent(w: World) -> str:
    return make_agent(w.cloud, w.admin, name="fresh")["agent_id"]


def _contended_patch(w: World, monkeypatch) -> object:
    """Another writer changes the agent before each of our writes (a real write, made deterministic)."""
    table = store.table("agents")
    real_put = type(table).put

    def put_after_a_competitor(self, item, **kwargs):
        if item.get("sk", "").startswith("AGENT#") and kwargs.get("expected_version") is not None:
            current = self.get(item["pk"], item["sk"])
            real_put(
                self, {**current, "description": "theirs"}, expected_version=current["_version"]
            )
        return real_put(self, item, **kwargs)

    monkeypatch.setattr(type(table), "put", put_after_a_competitor)
    return w.call("PATCH", w.base, {"name": "mine"})


def _expired_idempotent_task(w: World, path: str) -> object:
    key = {"Idempotency-Key": f"k-409-{path.rsplit('/', 1)[1]}"}
    first = body(w.call("POST", path, {"input": "once"}, headers=key))
    with w.cloud.as_function("api"):
        table = store.table("tasks")
        item = table.get(store.task_pk(w.cloud.tenant, first["task_id"]), "TASK")
        table.put({**item, "expires_at": 1})  # past its retention, not yet purged by the cloud
    return w.call("POST", path, {"input": "once"}, headers=key)


def _no_bootstrap_token(w: World) -> object:
    w.cloud.settings.pop("BOOTSTRAP_TOKEN")
    store.reset()  # forget the cached secret value
    return w.call("POST", "/admin/bootstrap", token="anything")


# Requests for the answers that need more than "a valid request": (method, template, status) -> case.
SPECIAL: dict[tuple[str, str, int], Callable] = {
    ("POST", "/admin/bootstrap", 201): lambda w, mp: _bootstrap_fresh(w),
    ("POST", "/admin/bootstrap", 401): lambda w, mp: w.call(
        "POST", "/admin/bootstrap", token="wrong"
    ),
    ("POST", "/admin/bootstrap", 400): lambda w, mp: w.call(
        "POST", "/admin/bootstrap", {"x": 1}, token=SECRETS["BOOTSTRAP_TOKEN"]
    ),
    ("POST", "/admin/bootstrap", 409): lambda w, mp: w.call(
        "POST", "/admin/bootstrap", token=SECRETS["BOOTSTRAP_TOKEN"]
    ),
    ("POST", "/admin/bootstrap", 503): lambda w, mp: _no_bootstrap_token(w),
    ("PATCH", "/agents/{agent_id}", 409): lambda w, mp: _contended_patch(w, mp),
    ("PATCH", "/agents/{agent_id}", 412): lambda w, mp: w.call(
        "PATCH", w.base, {"name": "x"}, headers={"If-Match": '"99"'}
    ),
    ("DELETE", "/agents/{agent_id}", 204): lambda w, mp: w.call(
        "DELETE", f"/agents/{_fresh_agent(w)}"
    ),
    ("DELETE", "/agents/{agent_id}", 202): lambda w, mp: _slow_delete(w),
    ("DELETE", "/agents/{agent_id}", 412): lambda w, mp: w.call(
        "DELETE", w.base, headers={"If-Match": '"99"'}
    ),
    ("POST", "/agents/{agent_id}/tasks", 200): lambda w, mp: _twice(w, "tasks", "k-200", "first"),
    ("POST", "/agents/{agent_id}/tasks", 409): lambda w, mp: _expired_idempotent_task(
        w, f"{w.base}/tasks"
    ),
    ("POST", "/agents/{agent_id}/tasks", 422): lambda w, mp: _twice(w, "tasks", "k-422", "second"),
    ("POST", "/agents/{agent_id}/execute", 202): lambda w, mp: _slow_execute(w),
    ("POST", "/agents/{agent_id}/execute", 409): lambda w, mp: _expired_idempotent_task(
        w, f"{w.base}/execute"
    ),
    ("POST", "/agents/{agent_id}/execute", 422): lambda w, mp: _twice(
        w, "execute", "k-422", "second"
    ),
    ("DELETE", "/admin/keys/{key_id}", 204): lambda w, mp: w.call(
        "DELETE", f"/admin/keys/{w.key_id}"
    ),
    ("DELETE", "/agents/{agent_id}/webhooks/{webhook_id}", 204): lambda w, mp: w.call(
        "DELETE", f"{w.base}/webhooks/{w.webhook}"
    ),
    ("DELETE", "/agents/{agent_id}/notes/{key}", 204): lambda w, mp: w.call(
        "DELETE", f"{w.base}/notes/n1"
    ),
    ("GET", "/agents/{agent_id}/metrics", 400): lambda w, mp: w.call(
        "GET", f"{w.base}/metrics?minutes=0"
    ),
    ("GET", "/ui", 200): lambda w, mp: w.call("GET", "/ui/"),
    ("GET", "/ui", 308): lambda w, mp: w.call("GET", "/ui"),
    ("GET", "/ui/{name}", 200): lambda w, mp: w.call("GET", "/ui/app.js"),
}


def _bootstrap_fresh(w: World):
    with w.cloud.as_function("api"):
        store.table("agents").delete(
            "META", "BOOTSTRAP"
        )  # a new installation, as far as bootstrap knows
    return w.call(
        "POST",
        "/admin/bootstrap",
        {"name": "again", "tenant": "t"},
        token=SECRETS["BOOTSTRAP_TOKEN"],
    )


def _slow_delete(w: World):
    agent = _fresh_agent(w)
    for i in range(101):
        w.call("POST", f"/agents/{agent}/tasks", {"input": f"t{i}"})
    w.cloud.settings["AGENT_DELETE_BUDGET_SECONDS"] = "0"
    return w.call("DELETE", f"/agents/{agent}")


def _twice(w: World, route: str, key: str, second_input: str):
    """The same Idempotency-Key twice: with the same body (a replay) or another (a misuse)."""
    headers = {"Idempotency-Key": f"{key}-{route}"}
    w.call("POST", f"{w.base}/{route}", {"input": "first"}, headers=headers)
    return w.call("POST", f"{w.base}/{route}", {"input": second_input}, headers=headers)


def _slow_execute(w: World):
    agent = make_agent(w.cloud, w.admin, model={"backend": "echo", "delay_seconds": 1.5})[
        "agent_id"
    ]
    return w.call("POST", f"/agents/{agent}/execute?wait=1", {"input": "slow"})


def _generic(w: World, op, status: int):
    """The request that gets `status` from any route of its kind, or None."""
    path = _path(op.template, w.ids)
    payload = VALID_BODIES.get((op.method, op.template))
    if status < 300:
        return w.call(op.method, path, payload)
    if status == 401:
        return w.call(op.method, path, payload, token=None)
    if status == 403:  # acting in another tenant without platform:*
        return w.call(
            op.method, path, payload, token=w.other, headers={"Omnicloud-Tenant": w.cloud.tenant}
        )
    if status == 404:
        if "{" in op.template:
            return w.call(op.method, _path(op.template, {k: "missing" for k in w.ids}), payload)
        return w.call(op.method, path, payload, headers={"Omnicloud-Tenant": "tn_missing"})
    if status == 400:
        if op.body is not None:
            return w.call(op.method, path, b'{"broken": ')
        if "limit" in op.query:
            return w.call(op.method, f"{path}?limit=0")
        if "If-Match" in op.headers:
            return w.call(op.method, path, headers={"If-Match": "not-a-version"})
    return None


def _validator(doc: dict, pointer: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:doc#{pointer}"}, registry=registry)


def _escape(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def test_every_documented_answer_and_error_is_what_the_handler_gives(
    cloud, admin, doc, monkeypatch
):
    world = World(cloud, admin)
    seen = []
    for (method, template), op in OPERATIONS.items():
        responses = doc["paths"][template][method.lower()]["responses"]
        for status_text, documented in responses.items():
            status = int(status_text)
            case = SPECIAL.get((method, template, status))
            with monkeypatch.context() as mp:
                response = case(world, mp) if case else _generic(world, op, status)
            where = f"{method} {template} -> {status}"
            assert response is not None, f"{where}: no request for it; add one to SPECIAL"
            assert response.status == status, f"{where}: got {response.status} {body(response)}"
            if "$ref" in documented:
                name = documented["$ref"].rsplit("/", 1)[1]
                documented = doc["components"]["responses"][name]
                pointer = f"/components/responses/{name}"
            else:
                pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{status_text}"
            for header, spec in documented.get("headers", {}).items():
                if spec.get("required"):
                    assert header.lower() in {h.lower() for h in response.headers}, (
                        f"{where}: no {header} header"
                    )
            if "content" in documented and "application/json" in documented["content"]:
                _validator(doc, f"{pointer}/content/application~1json/schema").validate(
                    body(response)
                )
            elif "content" in documented:  # the dashboard's files
                media = response.headers["content-type"].split(";")[0]
                assert media in documented["content"] and response.body_bytes(), where
            else:
                assert response.body_bytes() == b"", where
            seen.append((method, template, status))
            world.cloud.settings.setdefault("BOOTSTRAP_TOKEN", SECRETS["BOOTSTRAP_TOKEN"])
            world.cloud.settings.pop("AGENT_DELETE_BUDGET_SECONDS", None)
    assert len(seen) >= 100
    assert {k for k in SPECIAL} <= set(seen), (
        "a SPECIAL case for an answer the document does not list"
    )


def test_errors_outside_a_route_are_json_with_the_security_headers(cloud):
    missing = cloud.http("GET", "/nope")
    assert missing.status == 404 and body(missing)["error"]["code"] == "not_found"
    wrong = cloud.http("PUT", "/agents")
    assert wrong.status == 405 and body(wrong)["error"]["code"] == "method_not_allowed"
    for response in (missing, wrong):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_the_document_follows_the_settings_it_describes(cloud):
    cloud.settings["TASK_MAX_TIMEOUT_SECONDS"] = "100"
    doc = body(cloud.http("GET", "/openapi.json"))
    limits = doc["paths"]["/agents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    limits = limits["properties"]["limits"]["oneOf"][1]
    assert limits["properties"]["timeout_seconds"]["maximum"] == 100
    json.dumps(doc)  # plain JSON
