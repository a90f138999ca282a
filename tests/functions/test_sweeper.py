"""The sweeper: tasks stuck past their deadline become timed_out, found through the deadline index."""

from __future__ import annotations

from functions import store, tasks
from functions.sweeper import sweep
from runtime import ScheduledEvent

from .conftest import body, make_agent


def test_stuck_tasks_are_timed_out_and_others_left_alone(cloud, admin, monkeypatch):
    agent = make_agent(cloud, admin, limits={"timeout_seconds": 5})
    url = f"/agents/{agent['agent_id']}/tasks"
    stuck_running, never_started, finished = (body(cloud.http("POST", url, {"input": f"t{i}"}, token=admin))["task_id"]
                                              for i in range(3))
    with cloud.as_function("worker"):
        tasks.claim(cloud.tenant, stuck_running)  # its worker then dies
        tasks.process(cloud.tenant, finished)
        running_deadline = tasks.get(cloud.tenant, stuck_running)["deadline"]
        queued_deadline = tasks.get(cloud.tenant, never_started)["deadline"]

    queries = []
    table_query = type(store.table("tasks")).query

    def recording_query(self, pk, **kwargs):
        queries.append((self.name, pk))
        return table_query(self, pk, **kwargs)

    monkeypatch.setattr(type(store.table("tasks")), "query", recording_query)
    with cloud.as_function("sweeper"):
        assert tasks.sweep(now=running_deadline - 1) == []
        monkeypatch.setattr(store, "now", lambda: running_deadline + 1)
        sweep(ScheduledEvent())
        assert tasks.get(cloud.tenant, stuck_running)["status"] == "timed_out"
        assert tasks.get(cloud.tenant, never_started)["status"] == "queued"
        assert tasks.get(cloud.tenant, finished)["status"] == "succeeded"
        assert tasks.sweep(now=queued_deadline + 1) == [never_started]
    assert queries and all(q == ("tasks", tasks.DEADLINES_PK) for q in queries)

    timed_out = [e for e in cloud.events() if e["type"] == "task.timed_out"]
    assert sorted(e["data"]["task_id"] for e in timed_out) == sorted([stuck_running, never_started])
    # The dead worker's message comes back later: the task stays timed out, nothing reruns.
    with cloud.as_function("worker"):
        tasks.process(cloud.tenant, stuck_running)
        assert tasks.get(cloud.tenant, stuck_running)["status"] == "timed_out"
        assert tasks.get(cloud.tenant, stuck_running)["steps"] == []
