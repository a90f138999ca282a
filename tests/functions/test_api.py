"""The HTTP API over the local backend: agents CRUD and paging, tasks, idempotency, execute, notes."""

from __future__ import annotations

import pytest

from functions import agents as agents_module
from functions import store, tasks

from .conftest import body, make_agent


def test_agent_crud_round_trip_with_events(cloud, admin):
    agent = make_agent(cloud, admin, system_prompt="be terse", limits={"max_steps": 3})
    agent_id = agent["agent_id"]
    assert agent["model"] == {"backend": "echo"} and agent["limits"] == {"max_steps": 3, "timeout_seconds": 60}
    got = cloud.http("GET", f"/agents/{agent_id}", token=admin)
    assert body(got)["system_prompt"] == "be terse" and got.headers["etag"] == '"1"'

    stale = cloud.http("PATCH", f"/agents/{agent_id}", {"name": "x"}, token=admin, headers={"If-Match": '"7"'})
    assert stale.status == 412 and body(stale)["error"]["code"] == "version_mismatch"
    updated = cloud.http("PATCH", f"/agents/{agent_id}", {"name": "renamed", "tools": ["clock"]}, token=admin,
                         headers={"If-Match": '"1"'})
    assert updated.status == 200 and body(updated)["name"] == "renamed" and updated.headers["etag"] == '"2"'
    assert not any(k.startswith("_") or k == "version" for k in body(updated))  # versions travel as ETags only
    assert body(cloud.http("GET", f"/agents/{agent_id}", token=admin))["tools"] == ["clock"]
    limits = cloud.http("PATCH", f"/agents/{agent_id}", {"limits": {"timeout_seconds": 9}}, token=admin)
    assert body(limits)["limits"] == {"max_steps": 3, "timeout_seconds": 9}
    unknown = cloud.http("PATCH", f"/agents/{agent_id}", {"tools": ["browser"]}, token=admin)
    assert unknown.status == 400 and "unknown tool 'browser'" in body(unknown)["error"]["message"]

    assert cloud.http("DELETE", f"/agents/{agent_id}", token=admin).status == 204
    missing = cloud.http("GET", f"/agents/{agent_id}", token=admin)
    assert missing.status == 404 and body(missing)["error"]["code"] == "agent_not_found"

    types = [(e["type"], e["agent_id"]) for e in cloud.events()]
    assert types == [("agent.created", agent_id)] + [("agent.updated", agent_id)] * 2 + [("agent.deleted", agent_id)]
    attributes = [m.attributes["type"] for m in cloud.messages("events~notifier")]
    assert attributes == ["agent.created", "agent.updated", "agent.updated", "agent.deleted"]


def test_agent_list_pages_through_every_agent_once(cloud, admin):
    created = [make_agent(cloud, admin, name=f"a{i}")["agent_id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        response = cloud.http("GET", "/agents?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=admin)
        page = body(response)
        seen += [a["agent_id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == created and pages == 3
    bad = cloud.http("GET", "/agents?limit=500", token=admin)
    assert bad.status == 400 and "limit" in body(bad)["error"]["message"]
    assert cloud.http("GET", "/agents?cursor=garbage", token=admin).status == 400


@pytest.mark.parametrize(("payload", "says"), [
    ({"name": "x", "tools": ["calculator", "rm-rf"]}, "unknown tool 'rm-rf'"),
    ({"model": "echo"}, "name is required"),
    ({"name": "x", "model": "gpt"}, "model.backend"),
    ({"name": "x", "limits": {"max_steps": 0}}, "limits.max_steps"),
    ({"name": "x", "limits": {"timeout_seconds": 100000}}, "limits.timeout_seconds"),
    ({"name": "x", "colour": "blue"}, "unknown field 'colour'"),
    ({"name": "x", "model": {"backend": "openai"}}, "model.name is required"),
])
def test_invalid_agent_bodies_get_one_clear_400(cloud, admin, payload, says):
    response = cloud.http("POST", "/agents", payload, token=admin)
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert says in body(response)["error"]["message"]


def test_non_json_body_is_400_not_500(cloud, admin):
    response = cloud.http("POST", "/agents", b"{not json", token=admin)
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert body(response)["error"]["message"].startswith("request body is not valid JSON: ")


def test_deeply_nested_json_body_is_400_not_500(cloud, admin):
    # json.loads hits the recursion limit on this; a client's mistake, so one clear 400.
    response = cloud.http("POST", "/agents", b"[" * 100_000 + b"]" * 100_000, token=admin)
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert "nested deeper than 32 levels" in body(response)["error"]["message"]


def test_agent_definitions_are_cached_for_the_ttl(cloud, admin, monkeypatch):
    agent = make_agent(cloud, admin)
    with cloud.as_function("api"):
        item = store.table("agents").get(store.tenant_pk(cloud.tenant), f"AGENT#{agent['agent_id']}")
        store.table("agents").put({**item, "name": "changed elsewhere"})  # another instance's write
    assert body(cloud.http("GET", f"/agents/{agent['agent_id']}", token=admin))["name"] == "helper"
    clock = agents_module.time.monotonic() + agents_module.cache_ttl() + 1
    monkeypatch.setattr(agents_module.time, "monotonic", lambda: clock)
    assert body(cloud.http("GET", f"/agents/{agent['agent_id']}", token=admin))["name"] == "changed elsewhere"


def test_task_submission_queues_it_and_the_worker_completes_it(cloud, admin):
    agent = make_agent(cloud, admin)
    response = cloud.http("POST", f"/agents/{agent['agent_id']}/tasks", {"input": "calculate 19*3"}, token=admin)
    task = body(response)
    assert response.status == 202 and task["status"] == "queued"
    assert response.headers["location"] == f"/tasks/{task['task_id']}"
    assert [m.json() for m in cloud.messages("task-queue")] == [{"task_id": task["task_id"], "tenant_id": cloud.tenant}]
    assert cloud.run_worker() == 1
    done = body(cloud.http("GET", f"/agents/{agent['agent_id']}/tasks/{task['task_id']}", token=admin))
    assert done["status"] == "succeeded" and "19*3 = 57" in done["output"]
    assert [s["type"] for s in done["steps"]] == ["model", "tool", "model"]
    assert [e["type"] for e in cloud.events() if e["type"].startswith("task.")] == [
        "task.queued", "task.started", "task.succeeded"]


def test_same_idempotency_key_returns_the_same_task_and_runs_it_once(cloud, admin):
    agent = make_agent(cloud, admin)
    url = f"/agents/{agent['agent_id']}/tasks"
    first = cloud.http("POST", url, {"input": "hello"}, token=admin, headers={"Idempotency-Key": "order-42"})
    again = cloud.http("POST", url, {"input": "hello"}, token=admin, headers={"Idempotency-Key": "order-42"})
    assert first.status == 202 and again.status == 200 and again.headers["idempotent-replayed"] == "true"
    assert body(first)["task_id"] == body(again)["task_id"]
    assert len(cloud.messages("task-queue")) == 1
    cloud.run_worker()
    after = cloud.http("POST", url, {"input": "hello"}, token=admin, headers={"Idempotency-Key": "order-42"})
    assert body(after)["status"] == "succeeded" and body(after)["attempts"] == 1
    assert len(body(cloud.http("GET", f"{url}?limit=100", token=admin))["items"]) == 1

    reused = cloud.http("POST", url, {"input": "something else"}, token=admin, headers={"Idempotency-Key": "order-42"})
    assert reused.status == 422 and body(reused)["error"]["code"] == "idempotency_key_reused"
    other = cloud.http("POST", url, {"input": "hello"}, token=admin, headers={"Idempotency-Key": "order-43"})
    assert other.status == 202 and body(other)["task_id"] != body(first)["task_id"]


def test_agent_task_list_is_newest_first_and_paged(cloud, admin):
    agent = make_agent(cloud, admin)
    url = f"/agents/{agent['agent_id']}/tasks"
    ids = [body(cloud.http("POST", url, {"input": f"n{i}"}, token=admin))["task_id"] for i in range(3)]
    page = body(cloud.http("GET", f"{url}?limit=2", token=admin))
    rest = body(cloud.http("GET", f"{url}?limit=2&cursor={page['next_cursor']}", token=admin))
    assert [t["task_id"] for t in page["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None and "steps" not in page["items"][0]


def test_tasks_of_unknown_agents_and_unknown_tasks_are_404(cloud, admin):
    assert body(cloud.http("POST", "/agents/ag_nope/tasks", {"input": "x"}, token=admin))["error"]["code"] == "agent_not_found"
    assert cloud.http("GET", "/tasks/t_nope", token=admin).status == 404
    agent = make_agent(cloud, admin)
    other = make_agent(cloud, admin)
    task = body(cloud.http("POST", f"/agents/{agent['agent_id']}/tasks", {"input": "x"}, token=admin))
    assert cloud.http("GET", f"/agents/{other['agent_id']}/tasks/{task['task_id']}", token=admin).status == 404


def test_task_body_and_key_are_validated(cloud, admin):
    agent = make_agent(cloud, admin)
    url = f"/agents/{agent['agent_id']}/tasks"
    assert "input is required" in body(cloud.http("POST", url, {}, token=admin))["error"]["message"]
    bad_key = cloud.http("POST", url, {"input": "x"}, token=admin, headers={"Idempotency-Key": "a b"})
    assert bad_key.status == 400 and body(bad_key)["error"]["code"] == "invalid_request"


def test_execute_answers_short_runs_synchronously(cloud, admin):
    agent = make_agent(cloud, admin)
    response = cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "what is 2**10?"}, token=admin)
    assert response.status == 200 and body(response)["status"] == "succeeded"
    assert "2**10 = 1024" in body(response)["output"]
    # The hand-off message to the worker is there, delayed; delivered later it finds the task done.
    assert cloud.messages("task-queue")[0].json() == {"task_id": body(response)["task_id"], "tenant_id": cloud.tenant}
    with cloud.as_function("worker"):
        tasks.process(cloud.tenant, body(response)["task_id"])
    again = body(cloud.http("GET", f"/tasks/{body(response)['task_id']}", token=admin))
    assert again["attempts"] == 1 and again["step_count"] == body(response)["step_count"]


def test_execute_hands_long_runs_to_the_worker(cloud, admin):
    agent = make_agent(cloud, admin, model={"backend": "echo", "delay_seconds": 1.5})
    response = cloud.http("POST", f"/agents/{agent['agent_id']}/execute?wait=1", {"input": "slow"}, token=admin)
    assert response.status == 202 and body(response)["status"] == "running"
    task_id = body(response)["task_id"]
    with cloud.as_function("worker"):
        tasks.process(cloud.tenant, task_id)  # what the delayed hand-off message does
    done = body(cloud.http("GET", f"/tasks/{task_id}", token=admin))
    assert done["status"] == "succeeded" and done["output"] == "echo: slow" and done["attempts"] == 2
    assert cloud.http("POST", f"/agents/{agent['agent_id']}/execute?wait=99", {"input": "x"}, token=admin).status == 400


def test_notes_feed_the_notes_tool(cloud, admin):
    agent = make_agent(cloud, admin)
    base = f"/agents/{agent['agent_id']}/notes"
    assert cloud.http("PUT", f"{base}/wifi", {"text": "guest wifi password is tulip"}, token=admin).status == 200
    assert cloud.http("PUT", f"{base}/bad key", {"text": "x"}, token=admin).status == 400
    assert [n["key"] for n in body(cloud.http("GET", base, token=admin))["items"]] == ["wifi"]
    result = body(cloud.http("POST", f"/agents/{agent['agent_id']}/execute",
                             {"input": "check your notes about wifi"}, token=admin))
    assert "wifi: guest wifi password is tulip" in result["output"]
    assert cloud.http("DELETE", f"{base}/wifi", token=admin).status == 204
    assert cloud.http("GET", f"{base}/wifi", token=admin).status == 404
