"""Jobs on the local cloud: queued over HTTP, run by the worker, retried, then dead-lettered."""

from __future__ import annotations

from omnicloud.testing import body
from runtime import Queue


def test_a_job_is_queued_then_run_by_the_worker(cloud):
    auth = cloud.bearer("api-token")
    submitted = cloud.http("POST", "/jobs", json={"text": "the quick brown fox"}, headers=auth)
    assert submitted.status == 202
    job_id = body(submitted)["id"]
    assert body(cloud.http("GET", f"/jobs/{job_id}", headers=auth))["status"] == "queued"
    (message,) = cloud.messages("jobs")
    assert message.attributes["job-id"] == job_id

    deliveries = cloud.deliver()
    assert [(d.function, d.error) for d in deliveries] == [("worker", None)]
    job = body(cloud.http("GET", f"/jobs/{job_id}", headers=auth))
    assert job["status"] == "done" and job["result"] == {"words": 4, "longest": "quick"}


def test_a_delayed_job_waits_for_its_delay(cloud):
    submitted = cloud.http(
        "POST",
        "/jobs",
        json={"text": "later"},
        query={"delay": "600"},
        headers=cloud.bearer("api-token"),
    )
    assert submitted.status == 202
    assert cloud.deliver() == []
    assert len(cloud.messages("jobs")) == 1


def test_a_job_that_keeps_failing_is_dead_lettered_after_max_retries(cloud):
    with cloud.as_function("api"):  # a message the API would never send: the worker raises on it
        Queue("jobs").send({"unexpected": True})
    deliveries = cloud.deliver()
    max_retries = cloud.spec.queues["jobs"].max_retries
    assert len(deliveries) == max_retries + 1 and all(d.error is not None for d in deliveries)
    assert cloud.messages("jobs") == []
    (dead,) = cloud.dead_letters("jobs")
    assert dead.json() == {"unexpected": True}


def test_the_api_needs_the_token(cloud):
    assert cloud.http("POST", "/jobs", json={"text": "x"}).status == 401
