"""The agent platform on the local cloud: bootstrap an admin key, create an agent, run a task."""

from __future__ import annotations

from omnicloud.testing import body


def test_a_task_is_queued_run_by_the_worker_and_announced(cloud):
    bootstrap = cloud.http(
        "POST", "/admin/bootstrap", json={"name": "root"}, headers=cloud.bearer("bootstrap-token")
    )
    assert bootstrap.status == 201, body(bootstrap)
    auth = {"authorization": f"Bearer {body(bootstrap)['key']}"}

    agent = cloud.http(
        "POST",
        "/agents",
        json={"name": "math", "model": "echo", "tools": ["calculator"]},
        headers=auth,
    )
    assert agent.status == 201, body(agent)
    agent_id = body(agent)["agent_id"]
    task = cloud.http(
        "POST", f"/agents/{agent_id}/tasks", json={"input": "calculate 6*7"}, headers=auth
    )
    assert task.status in (201, 202), body(task)
    task_id = body(task)["task_id"]

    deliveries = cloud.deliver()  # the worker runs the task; the notifier gets its events
    assert [d for d in deliveries if d.error is not None] == []
    assert {d.function for d in deliveries} >= {"worker", "notifier"}
    done = body(cloud.http("GET", f"/tasks/{task_id}", headers=auth))
    assert done["status"] == "succeeded" and "42" in done["output"]


def test_the_api_refuses_a_request_without_credentials(cloud):
    assert cloud.http("GET", "/agents").status == 401
    assert cloud.http("GET", "/health").status == 200
