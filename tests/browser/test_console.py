"""The local console in a real browser, on the agent platform under `omnicloud dev`: sign in with
the one-time link, watch a task run, dead-letter a webhook event, read it, redrive it and see it
succeed, browse a table, run a schedule, and see that secrets show no values."""

from __future__ import annotations

import json
import re

import pytest

from tests.dev.conftest import sign_in_link, wait_until
from tests.functions.conftest import Recorder

from .conftest import BOOTSTRAP_TOKEN, api, screenshot

pytestmark = pytest.mark.browser


def test_the_console_follows_a_task_and_redrives_its_dead_lettered_webhook(
    browser, platform, admin_key, tmp_path
):
    from playwright.sync_api import expect

    receiver = Recorder(
        statuses=[500] * 4
    )  # the notifier's 4 deliveries fail, then it is dead-lettered
    try:
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(sign_in_link(platform.state))
        expect(page).to_have_url(re.compile(r"/_omnicloud/console/#?$"))
        expect(page.locator("#app-name")).to_have_text("app agents")
        graph = page.get_by_role("img", name="app graph")
        for function in ("api", "worker", "notifier", "sweeper"):
            expect(graph.locator(f'[data-node="f:{function}"]')).to_be_visible()
        expect(graph.locator('[data-node="r:table:deliveries"]')).to_contain_text("table ·")
        cookies = {c["name"]: c for c in browser.cookies()}
        session = cookies[f"omnicloud_console_{platform.port}"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # page scripts cannot read it

        # A task runs to completion: the worker's invocation shows up live, with its log lines.
        _, agent = api(
            platform,
            "POST",
            "/agents",
            {"name": "console-demo", "model": "echo", "tools": ["calculator"]},
            token=admin_key,
        )
        api(
            platform,
            "POST",
            f"/agents/{agent['agent_id']}/webhooks",
            {"url": receiver.url, "events": ["task.succeeded"]},
            token=admin_key,
        )
        page.locator('nav a[data-view="functions"]').click()
        page.locator('tr[data-function="worker"]').click()
        # The session's platform may already list worker invocations (other browser tests): this
        # task's is one of the rows that were not there before it was submitted.
        expect(page.get_by_role("heading", name="Recent invocations of worker")).to_be_visible()
        before = page.locator("tr[data-seq]").evaluate_all("rows => rows.map(r => r.dataset.seq)")
        status, task = api(
            platform,
            "POST",
            f"/agents/{agent['agent_id']}/tasks",
            {"input": "calculate 6*7"},
            token=admin_key,
        )
        assert status == 202
        new = "".join(f':not([data-seq="{seq}"])' for seq in before)
        done = page.locator(f'tr[data-seq][data-outcome="ok"]{new}', has_text="queue").first
        expect(done).to_be_visible()
        done.click()
        detail = page.locator("#invocation")
        expect(detail).to_contain_text("worker")
        expect(detail.locator(".lines")).to_contain_text("task finished")
        expect(detail.locator(".lines")).to_contain_text(task["task_id"])
        screenshot(page, "console-functions", tmp_path)

        # The webhook fails 4 times: the event lands in the notifier's dead-letter queue.
        page.locator('nav a[data-view="overview"]').click()
        expect(graph.locator('[data-node="r:topic:events"]')).to_contain_text("1 dead letters")
        screenshot(page, "console-overview", tmp_path)
        page.locator('nav a[data-view="queues"]').click()
        row = page.locator('tr[data-queue="events~notifier"]')
        expect(row.locator("[data-dead-letters]")).to_have_text("1")
        row.click()
        message = page.locator("#queue-panel tr[data-message]").first
        expect(message).to_contain_text("1 webhook(s) failed")
        message.click()
        body = page.locator("#message-body")
        expect(body).to_contain_text('"type": "task.succeeded"')
        expect(body).to_contain_text(task["task_id"])
        expect(page.locator("#message")).to_contain_text("answered 500")
        screenshot(page, "console-queues", tmp_path)
        assert len(receiver.requests) == 4

        # Redrive it: this time the receiver answers 200, and the dead-letter queue empties.
        page.get_by_role("button", name="Redrive this message").click()
        expect(row.locator("[data-dead-letters]")).to_have_text("0")
        wait_until(lambda: len(receiver.requests) == 5, what="the redriven delivery")
        event = json.loads(receiver.requests[-1]["body"])
        assert event["type"] == "task.succeeded" and event["data"]["task_id"] == task["task_id"]
        page.locator('nav a[data-view="functions"]').click()
        page.locator('tr[data-function="notifier"]').click()
        expect(page.locator('tr[data-seq][data-outcome="ok"]').first).to_be_visible()

        # Publish with attributes: which subscriptions the filter lets through.
        page.locator('nav a[data-view="queues"]').click()
        topic = page.locator('[data-topic="events"]')
        topic.get_by_role("button", name="Publish").click()
        expect(topic.locator('tr[data-subscriber="notifier"]')).to_contain_text("yes")

        # Browse a table by partition key, page through it, open an item as JSON.
        page.locator('nav a[data-view="tables"]').click()
        page.locator('tr[data-table="tasks"]').click()
        partition = f"TENANT#{agent_tenant(platform, admin_key)}#AGENT#{agent['agent_id']}"
        page.locator("#pk-prefix").fill(partition)
        page.locator("#pk-prefix").press("Enter")
        page.locator(f'tr[data-pk="{partition}"]').click()
        entry = page.locator("#items tr[data-sk]").first
        expect(entry).to_contain_text(task["task_id"])
        entry.click()
        expect(page.locator("#item-json")).to_contain_text(f'"task_id": "{task["task_id"]}"')
        expect(page.locator("#item-json")).to_contain_text('"status": "succeeded"')
        screenshot(page, "console-tables", tmp_path)

        # Run the sweeper now and see its result.
        page.locator('nav a[data-view="schedules"]').click()
        sweeper = page.locator('tr[data-schedule="sweeper"]')
        expect(sweeper).to_contain_text("never")  # its first scheduled run is minutes away
        sweeper.get_by_role("button", name="Run now").click()
        expect(sweeper.locator(".ok")).to_have_text("ok")
        screenshot(page, "console-schedules", tmp_path)

        # Secrets: names and whether set, never a value.
        page.locator('nav a[data-view="secrets"]').click()
        expect(page.locator('tr[data-secret="bootstrap-token"]')).to_contain_text("environment")
        assert BOOTSTRAP_TOKEN not in page.content()
        page.close()
    finally:
        receiver.close()


def agent_tenant(platform, key: str) -> str:
    return api(platform, "GET", "/me", token=key)[1]["tenant_id"]
