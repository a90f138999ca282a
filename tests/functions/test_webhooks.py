"""Webhooks: HMAC signing and verification, registration routes, and the notifier's at-most-once delivery."""

from __future__ import annotations

import json
import time

import pytest

from functions import webhooks
from functions.notifier import deliver
from runtime import BadRequest, Message

from .conftest import Recorder, body, make_agent

SECRET = "whsec_test"


def test_signature_verifies_and_binds_body_secret_and_time():
    payload = b'{"id":"e1","type":"task.succeeded"}'
    header = webhooks.sign(SECRET, payload)
    assert webhooks.verify(SECRET, header, payload) == int(header.split(",")[0][2:])
    for secret, data, why in ((SECRET, payload + b" ", "does not match"), ("whsec_other", payload, "does not match")):
        with pytest.raises(webhooks.SignatureError, match=why):
            webhooks.verify(secret, header, data)
    with pytest.raises(webhooks.SignatureError, match="missing"):
        webhooks.verify(SECRET, None, payload)


def test_old_signatures_are_rejected_so_captured_requests_cannot_be_replayed():
    payload = b"{}"
    old = webhooks.sign(SECRET, payload, timestamp=int(time.time()) - 3600)
    with pytest.raises(webhooks.SignatureError, match="tolerance"):
        webhooks.verify(SECRET, old, payload)
    assert not webhooks.is_valid(SECRET, old, payload)
    assert webhooks.verify(SECRET, old, payload, now=time.time() - 3600)  # fine when it was fresh


def test_a_header_with_several_signatures_passes_if_one_matches():
    payload = b"{}"
    header = webhooks.sign(SECRET, payload)
    assert webhooks.is_valid(SECRET, f"{header},v1={'0' * 64}", payload)


def test_webhook_routes_show_the_secret_only_at_creation(cloud, admin):
    agent = make_agent(cloud, admin)
    base = f"/agents/{agent['agent_id']}/webhooks"
    created = cloud.http("POST", base, {"url": "http://127.0.0.1:9/hook", "events": ["task.succeeded"]}, token=admin)
    hook = body(created)
    assert created.status == 201 and hook["secret"].startswith("whsec_")
    listed = body(cloud.http("GET", base, token=admin))["items"]
    assert [h["webhook_id"] for h in listed] == [hook["webhook_id"]] and "secret" not in listed[0]
    assert "secret" not in body(cloud.http("GET", f"{base}/{hook['webhook_id']}", token=admin))
    for bad, says in (({"url": "ftp://x"}, "http"), ({"url": "http://x", "events": ["task.done"]}, "unknown event")):
        response = cloud.http("POST", base, bad, token=admin)
        assert response.status == 400 and says in body(response)["error"]["message"]
    assert cloud.http("DELETE", f"{base}/{hook['webhook_id']}", token=admin).status == 204
    assert cloud.http("GET", f"{base}/{hook['webhook_id']}", token=admin).status == 404


@pytest.mark.parametrize(("url", "says"), [
    ("https://exa mple.com/hook", "spaces or control characters"),
    ("https://example.com/a\tb", "spaces or control characters"),
    ("https://example.com:99999/hook", "invalid port"),
])
def test_webhook_urls_that_could_never_be_delivered_are_refused_at_registration(cloud, admin, url, says):
    agent = make_agent(cloud, admin)
    response = cloud.http("POST", f"/agents/{agent['agent_id']}/webhooks", {"url": url}, token=admin)
    assert response.status == 400 and body(response)["error"]["code"] == "invalid_request"
    assert says in body(response)["error"]["message"]


def test_a_stored_url_that_cannot_be_delivered_is_a_delivery_failure_not_a_crash():
    # A webhook registered before validation was stricter: retried and dead-lettered like any failure.
    with pytest.raises(webhooks.DeliveryFailed, match="not a valid URL"):
        webhooks.post("https://example.com:99999/hook", "whsec_x", {"id": "e1", "type": "task.succeeded"}, timeout=1)


@pytest.mark.parametrize("url", ["{receiver}", "http://169.254.169.254/latest/meta-data/", "http://localhost:9/x"])
def test_on_a_cloud_webhooks_cannot_reach_private_or_metadata_addresses(receiver, url):
    from runtime.links import use_environ

    url = url.format(receiver=receiver.url)
    with use_environ({"OMNICLOUD_CLOUD": "aws"}), pytest.raises(webhooks.DeliveryFailed, match="webhooks may only target public hosts"):
        webhooks.post(url, "whsec_x", {"id": "e1", "type": "task.succeeded"}, timeout=1)
    assert receiver.requests == []


def test_private_webhook_targets_are_allowed_locally_or_by_setting(receiver):
    from runtime.links import use_environ

    event = {"id": "e2", "type": "task.succeeded"}
    with use_environ({"OMNICLOUD_CLOUD": "local"}):
        assert webhooks.post(receiver.url, "whsec_x", event, timeout=5) == 200
    with use_environ({"OMNICLOUD_CLOUD": "gcp", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}):
        assert webhooks.post(receiver.url, "whsec_x", event, timeout=5) == 200
    assert len(receiver.requests) == 2


def _register(cloud, token, agent, url, events=None):
    payload = {"url": url} | ({"events": events} if events else {})
    return body(cloud.http("POST", f"/agents/{agent['agent_id']}/webhooks", payload, token=token))


def _notify(cloud):
    """Run the notifier over every pending event once; the messages whose delivery raised."""
    failed = []
    for message in cloud.messages("events~notifier"):
        with cloud.as_function("notifier"):
            try:
                deliver(message)
            except RuntimeError:
                failed.append(message)
    return failed


def test_notifier_delivers_signed_events_the_webhook_asked_for(cloud, admin, receiver):
    agent = make_agent(cloud, admin)
    hook = _register(cloud, admin, agent, receiver.url, events=["task.succeeded"])
    task = body(cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "ping"}, token=admin))
    assert _notify(cloud) == []
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    webhooks.verify(hook["secret"], request["headers"]["Omnicloud-Signature"], request["body"])
    event = json.loads(request["body"])
    assert event["type"] == "task.succeeded" and event["data"]["task_id"] == task["task_id"]
    assert event["data"]["output"] == "echo: ping" and request["headers"]["Omnicloud-Event-Id"] == event["id"]


def test_retry_skips_webhooks_that_already_got_the_event(cloud, admin, receiver):
    flaky = Recorder(statuses=[500])
    try:
        agent = make_agent(cloud, admin)
        _register(cloud, admin, agent, receiver.url, events=["task.succeeded"])
        _register(cloud, admin, agent, flaky.url, events=["task.succeeded"])
        cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "ping"}, token=admin)
        event = next(m for m in cloud.messages("events~notifier") if m.attributes["type"] == "task.succeeded")
        with cloud.as_function("notifier"), pytest.raises(RuntimeError, match="1 webhook"):
            deliver(event)  # the subscription will redeliver it
        assert len(receiver.requests) == 1 and len(flaky.requests) == 1
        with cloud.as_function("notifier"):
            deliver(event)
            deliver(event)  # and once more: everyone has it now
        assert len(receiver.requests) == 1 and len(flaky.requests) == 2
        assert json.loads(flaky.requests[1]["body"])["id"] == json.loads(receiver.requests[0]["body"])["id"]
    finally:
        flaky.close()


def test_notifier_refuses_a_message_that_is_not_an_event(cloud):
    with cloud.as_function("notifier"), pytest.raises(BadRequest, match="not an agents event"):
        deliver(Message(id="m1", body=b'{"hello": "world"}'))
