"""Tenant isolation on every route: the cases are generated from the route table, so a new route is
checked the day it is added (a route this file cannot build a request for fails the test)."""

from __future__ import annotations

import json
import re
import time

import jwt
import pytest

from functions import auth
from functions.api import OPERATIONS, PUBLIC
from functions.notifier import deliver

from .conftest import SECRETS, VALID_BODIES, body, make_agent, new_tenant


@pytest.fixture
def first_tenant(cloud, admin, receiver):
    """Tenant A, with one of everything: an agent with a finished task, a note, a webhook, a key."""
    agent = make_agent(cloud, admin, name="a-agent")
    base = f"/agents/{agent['agent_id']}"
    task = body(cloud.http("POST", f"{base}/execute", {"input": "calculate 2+2"}, token=admin))
    assert task["status"] == "succeeded"
    assert (
        cloud.http("PUT", f"{base}/notes/secret-plan", {"text": "a's plan"}, token=admin).status
        == 200
    )
    hook = body(cloud.http("POST", f"{base}/webhooks", {"url": receiver.url}, token=admin))
    key = body(
        cloud.http(
            "POST", "/admin/keys", {"name": "a-reader", "permissions": ["agent:read"]}, token=admin
        )
    )
    return {
        "tenant_id": cloud.tenant,
        "agent_id": agent["agent_id"],
        "task_id": task["task_id"],
        "webhook_id": hook["webhook_id"],
        "key": "secret-plan",
        "key_id": key["key_id"],
        "reader": key["key"],
    }


def _jwt_for(tenant: str, permissions: list[str]) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "sub": "bob",
            "aud": "agents-api",
            "iss": "agents",
            "exp": now + 300,
            "tenant": tenant,
            "permissions": permissions,
        },
        SECRETS["JWT_SECRET"],
        algorithm="HS256",
    )


@pytest.fixture(params=["api_key", "jwt"])
def intruder(request, cloud, admin):
    """Tenant B's most powerful non-platform credential: an admin:* API key, or a JWT of tenant B."""
    tenant_id, key = new_tenant(cloud, admin, "b")
    return key if request.param == "api_key" else _jwt_for(tenant_id, ["admin:*"])


def _request(op, ids):
    path = op.template
    for name in re.findall(r"\{(\w+)\}", op.template):
        assert name in ids, (
            f"{op.method} {op.template}: this test has no object of another tenant for {{{name}}}"
        )
        path = path.replace(f"{{{name}}}", ids[name])
    payload = None
    if op.body is not None and op.body_required:
        assert (op.method, op.template) in VALID_BODIES, (
            f"{op.method} {op.template}: add a valid body to conftest.VALID_BODIES"
        )
        payload = VALID_BODIES[(op.method, op.template)]
    return op.method, path, payload


def _authenticated_operations():
    return [op for op in OPERATIONS.values() if op.permission != PUBLIC]


def test_the_route_table_has_no_public_route_but_health_openapi_bootstrap_and_the_dashboards_files():
    public = {(op.method, op.template) for op in OPERATIONS.values() if op.permission == PUBLIC}
    assert public == {
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("POST", "/admin/bootstrap"),
        ("GET", "/ui"),
        ("GET", "/ui/{name}"),
    }


def test_every_route_refuses_another_tenants_objects(
    cloud, admin, first_tenant, intruder, receiver
):
    a_ids = {v for k, v in first_tenant.items() if k != "reader"}
    checked = []
    for op in _authenticated_operations():
        method, path, payload = _request(op, first_tenant)
        response = cloud.http(method, path, payload, token=intruder)
        answer = json.dumps(body(response))
        where = f"{method} {op.template} answered {response.status}: {answer[:300]}"
        if op.permission == auth.PLATFORM_PERMISSION:
            assert response.status == 403, where  # tenants are the platform's business
        elif "{" in op.template:
            assert response.status == 404 and body(response)["error"]["code"].endswith(
                "not_found"
            ), where
        elif method == "GET":
            assert response.status == 200 and not any(i in answer for i in a_ids), where
        else:  # creating in its own tenant is fine, and lands there
            assert response.status == 201 and not any(i in answer for i in a_ids), where
        checked.append((method, op.template))
    assert len(checked) == len(_authenticated_operations()) >= 20

    # Nothing of tenant A moved, and what B created is not in A's lists.
    a = first_tenant
    agent = cloud.http("GET", f"/agents/{a['agent_id']}", token=admin)
    assert (
        agent.status == 200 and body(agent)["name"] == "a-agent" and agent.headers["etag"] == '"1"'
    )
    assert [x["agent_id"] for x in body(cloud.http("GET", "/agents", token=admin))["items"]] == [
        a["agent_id"]
    ]
    note = body(cloud.http("GET", f"/agents/{a['agent_id']}/notes/secret-plan", token=admin))
    assert note["text"] == "a's plan"
    assert (
        cloud.http("GET", f"/agents/{a['agent_id']}/webhooks/{a['webhook_id']}", token=admin).status
        == 200
    )
    hooks = body(cloud.http("GET", f"/agents/{a['agent_id']}/webhooks", token=admin))["items"]
    assert [h["webhook_id"] for h in hooks] == [a["webhook_id"]]
    tasks = body(cloud.http("GET", f"/agents/{a['agent_id']}/tasks", token=admin))["items"]
    assert [t["task_id"] for t in tasks] == [a["task_id"]]
    assert cloud.http("GET", "/me", token=a["reader"]).status == 200  # A's key was not revoked
    keys = {k["name"] for k in body(cloud.http("GET", "/admin/keys", token=admin))["items"]}
    assert keys == {"root", "a-reader"}


def test_acting_in_another_tenant_needs_the_platform_permission_on_every_route(
    cloud, admin, first_tenant, intruder, receiver
):
    for op in _authenticated_operations():
        method, path, payload = _request(op, first_tenant)
        response = cloud.http(
            method,
            path,
            payload,
            token=intruder,
            headers={"Omnicloud-Tenant": first_tenant["tenant_id"]},
        )
        assert response.status == 403 and "platform:*" in body(response)["error"]["message"], (
            f"{method} {op.template} answered {response.status}"
        )


def test_a_platform_key_acts_in_another_tenant_only_when_it_says_so(cloud, admin):
    b_tenant, b_admin = new_tenant(cloud, admin, "b")
    b_agent = make_agent(cloud, b_admin, name="b-agent")
    assert cloud.http("GET", f"/agents/{b_agent['agent_id']}", token=admin).status == 404
    crossing = {"Omnicloud-Tenant": b_tenant}
    seen = cloud.http("GET", f"/agents/{b_agent['agent_id']}", token=admin, headers=crossing)
    assert seen.status == 200 and body(seen)["name"] == "b-agent"
    assert body(cloud.http("GET", "/me", token=admin, headers=crossing))["tenant_id"] == b_tenant
    unknown = cloud.http("GET", "/agents", token=admin, headers={"Omnicloud-Tenant": "tn_nope"})
    assert unknown.status == 404 and body(unknown)["error"]["code"] == "tenant_not_found"
    # platform:* is never implied: admin:* of B can neither list tenants nor grant platform:*.
    assert cloud.http("GET", "/tenants", token=b_admin).status == 403
    grant = cloud.http(
        "POST", "/admin/keys", {"name": "x", "permissions": ["platform:*"]}, token=b_admin
    )
    assert grant.status == 403
    listed = [t["tenant_id"] for t in body(cloud.http("GET", "/tenants", token=admin))["items"]]
    assert listed == [cloud.tenant, b_tenant]


def test_events_and_deliveries_stay_in_their_tenant(cloud, admin, receiver):
    b_tenant, b_admin = new_tenant(cloud, admin, "b")
    a_agent, b_agent = make_agent(cloud, admin), make_agent(cloud, b_admin)
    cloud.http(
        "POST", f"/agents/{b_agent['agent_id']}/webhooks", {"url": receiver.url}, token=b_admin
    )
    cloud.http(
        "POST",
        f"/agents/{a_agent['agent_id']}/execute",
        {"input": "a's secret output"},
        token=admin,
    )
    # Even an event naming B's tenant with A's agent (e.g. forged on the topic) finds no webhook of B.
    owners = {a_agent["agent_id"]: cloud.tenant, b_agent["agent_id"]: b_tenant}
    for message in cloud.messages("events~notifier"):
        event = message.json()
        assert event["tenant_id"] == message.attributes["tenant_id"] == owners[event["agent_id"]]
        if event["agent_id"] != a_agent["agent_id"]:
            continue
        with cloud.as_function("notifier"):
            deliver(message)
            forged = {**event, "tenant_id": b_tenant}
            deliver(type(message)(id="forged", body=json.dumps(forged).encode()))
    assert receiver.requests == []
