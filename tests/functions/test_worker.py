"""The worker: the agent loop's limits, and exactly-once completion under redelivery and crashes."""

from __future__ import annotations

import pytest

from functions import tasks
from functions.worker import run_task
from runtime import BadRequest, Message

from .conftest import body, make_agent


def _submit(cloud, token, agent, text="calculate 1+1 and 2+2"):
    return body(cloud.http("POST", f"/agents/{agent['agent_id']}/tasks", {"input": text}, token=token))["task_id"]


def _task(cloud, task_id):
    with cloud.as_function("worker"):
        return tasks.get(cloud.tenant, task_id)


def _terminal_events(cloud, task_id):
    return [e["type"] for e in cloud.events()
            if e["data"].get("task_id") == task_id and e["type"] not in ("task.queued", "task.started")]


def test_redelivered_message_of_a_finished_task_does_not_run_it_again(cloud, admin):
    task_id = _submit(cloud, admin, make_agent(cloud, admin))
    message = cloud.messages("task-queue")[0]
    with cloud.as_function("worker"):
        run_task(message)
        finished = tasks.get(cloud.tenant, task_id)
        run_task(message)  # the queue delivers it again (at-least-once)
    again = _task(cloud, task_id)
    assert finished["status"] == "succeeded" and again["_version"] == finished["_version"]
    assert again["attempts"] == 1 and again["steps"] == finished["steps"]
    # The terminal event may be re-published, but with the same id, so webhooks get it once.
    assert {e["id"] for e in cloud.events() if e["type"] == "task.succeeded"} == {f"{task_id}.task.succeeded"}


def test_a_crash_mid_task_is_retried_and_resumes_from_the_recorded_steps(cloud, admin, monkeypatch):
    task_id = _submit(cloud, admin, make_agent(cloud, admin))
    message = cloud.messages("task-queue")[0]
    real_run_tool = tasks.run_tool
    monkeypatch.setattr(tasks, "run_tool", lambda *a, **k: (_ for _ in ()).throw(OSError("instance died")))
    with cloud.as_function("worker"), pytest.raises(OSError):
        run_task(message)
    crashed = _task(cloud, task_id)
    assert crashed["status"] == "running" and [s["type"] for s in crashed["steps"]] == ["model"]

    monkeypatch.setattr(tasks, "run_tool", real_run_tool)
    with cloud.as_function("worker"):
        run_task(message)  # the redelivery
        run_task(message)  # and a late duplicate
    done = _task(cloud, task_id)
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert done["steps"][0] == crashed["steps"][0]  # the first model call was not made again
    assert [s["type"] for s in done["steps"]] == ["model", "tool", "model", "tool", "model"]
    assert "1+1 = 2" in done["output"] and "2+2 = 4" in done["output"]
    assert _terminal_events(cloud, task_id) == ["task.succeeded"]


def test_a_run_that_lost_the_task_stops_without_writing(cloud, admin):
    task_id = _submit(cloud, admin, make_agent(cloud, admin))
    with cloud.as_function("worker"):
        stale = tasks.claim(cloud.tenant, task_id)
        current = tasks.claim(cloud.tenant, task_id)  # a redelivery took it over
        with pytest.raises(tasks.Lost):
            tasks.run(stale)
        finished = tasks.run(current)
        assert tasks.get(cloud.tenant, task_id)["_version"] == finished["_version"]
    assert finished["status"] == "succeeded" and finished["attempts"] == 2
    assert _terminal_events(cloud, task_id) == ["task.succeeded"]


def test_step_limit_fails_the_task(cloud, admin):
    agent = make_agent(cloud, admin, limits={"max_steps": 2})
    task_id = _submit(cloud, admin, agent, "calculate 1+1, 2+2 and 3+3")
    cloud.run_worker()
    task = _task(cloud, task_id)
    assert task["status"] == "failed" and task["error"]["code"] == "step_limit"
    assert sum(s["type"] == "model" for s in task["steps"]) == 2
    assert _terminal_events(cloud, task_id) == ["task.failed"]


def test_timeout_stops_a_slow_model(cloud, admin):
    agent = make_agent(cloud, admin, model={"backend": "echo", "delay_seconds": 30}, limits={"timeout_seconds": 1})
    task_id = _submit(cloud, admin, agent, "hi")
    cloud.run_worker()
    task = _task(cloud, task_id)
    assert task["status"] == "timed_out" and task["error"]["code"] == "timeout"
    assert _terminal_events(cloud, task_id) == ["task.timed_out"]


def test_model_failure_fails_the_task_with_its_message(cloud, admin):
    agent = make_agent(cloud, admin, model={"backend": "echo", "fail": "quota exhausted"})
    task_id = _submit(cloud, admin, agent, "hi")
    cloud.run_worker()
    task = _task(cloud, task_id)
    assert task["status"] == "failed" and "quota exhausted" in task["error"]["message"]


def test_malformed_message_is_a_bad_request(cloud):
    with cloud.as_function("worker"), pytest.raises(BadRequest, match="task_id"):
        run_task(Message(id="m1", body=b'{"nope": 1}'))
    with cloud.as_function("worker"), pytest.raises(BadRequest, match="tenant_id"):
        run_task(Message(id="m2", body=b'{"task_id": "t_1"}'))  # from before tenancy: dead-lettered
    with cloud.as_function("worker"):
        run_task(Message(id="m3", body=b'{"task_id": "t_gone", "tenant_id": "tn_1"}'))  # expired: nothing to do
