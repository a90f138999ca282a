"""The agent platform's dashboard (/ui) in a real browser: sign in with an API key or a JWT, see
only your tenant's agents, follow a task's steps, the webhook deliveries and the metrics."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.functions.conftest import Recorder

from .conftest import JWT_SECRET, api, screenshot

pytestmark = pytest.mark.browser


def _sign_in(page, platform, credential: str) -> None:
    page.goto(platform.url + "/ui/")
    page.locator("#credential").fill(credential)
    page.get_by_role("button", name="Sign in").click()


def test_the_dashboard_follows_a_tasks_steps_deliveries_and_metrics(
    browser, platform, admin_key, tmp_path
):
    from playwright.sync_api import expect

    receiver = Recorder(
        statuses=[503]
    )  # the first delivery fails; the subscription's retry succeeds
    try:
        _, agent = api(
            platform,
            "POST",
            "/agents",
            {"name": "dashboard-demo", "model": "echo", "tools": ["calculator", "clock"]},
            token=admin_key,
        )
        api(
            platform,
            "POST",
            f"/agents/{agent['agent_id']}/webhooks",
            {"url": receiver.url, "events": ["task.succeeded", "task.failed"]},
            token=admin_key,
        )
        _, other = api(platform, "POST", "/tenants", {"name": "someone-else"}, token=admin_key)
        api(platform, "POST", "/agents", {"name": "not-yours", "model": "echo"}, token=other["key"])

        page = browser.new_page()
        _sign_in(page, platform, admin_key)
        expect(page.locator("#who")).to_contain_text("admin:*")
        rows = page.locator("tr[data-agent]")
        expect(rows.filter(has_text="dashboard-demo")).to_be_visible()
        expect(rows.filter(has_text="not-yours")).to_have_count(0)  # another tenant's agent

        rows.filter(has_text="dashboard-demo").click()
        status, task = api(
            platform,
            "POST",
            f"/agents/{agent['agent_id']}/tasks",
            {"input": "calculate 12*(3+4), and what time is it?"},
            token=admin_key,
        )
        assert status == 202
        row = page.locator(f'tr[data-task="{task["task_id"]}"]')
        expect(row).to_have_attribute(
            "data-status", "succeeded"
        )  # live: queued, running, then done
        row.click()
        steps = page.locator("#task tr[data-step]")
        expect(steps).to_have_count(5)  # the echo model asks for one tool per step, then answers
        for n, kind in enumerate(
            ["model call", "tool call: calculator", "model call", "tool call: clock", "model call"]
        ):
            expect(steps.nth(n).locator("td").nth(1)).to_have_text(kind)
        expect(steps.nth(1)).to_contain_text("84")
        expect(steps.nth(1).locator("td").nth(3)).to_contain_text(" ms")
        expect(page.locator("#task-output")).to_contain_text("calculator: 12*(3+4) = 84")
        screenshot(page, "dashboard-task", tmp_path)

        page.locator('button[data-tab="webhooks"]').click()
        deliveries = page.locator("#deliveries tr[data-ok]")
        expect(deliveries.filter(has_text="task.succeeded")).to_have_count(2)
        expect(page.locator('#deliveries tr[data-ok="false"]')).to_contain_text("answered 503")
        expect(page.locator('#deliveries tr[data-ok="true"]')).to_contain_text("200")

        base = f"/agents/{agent['agent_id']}"
        for n in range(5):
            api(platform, "POST", f"{base}/execute", {"input": f"calculate {n}+1"}, token=admin_key)
        api(
            platform, "PATCH", base, {"limits": {"max_steps": 1}}, token=admin_key
        )  # too few steps: fails
        for n in range(2):
            _, failed = api(
                platform, "POST", f"{base}/execute", {"input": f"calculate {n}*2"}, token=admin_key
            )
            assert failed["status"] == "failed"
        page.locator('button[data-tab="metrics"]').click()
        metrics = page.locator("#metrics")
        page.locator("#window").select_option("15")
        expect(metrics.locator(".card", has_text="tasks / minute")).to_contain_text(
            str(round(8 / 15, 3))
        )
        expect(metrics.locator(".card").first).to_contain_text("8")  # tasks in the window
        expect(metrics.locator(".card", has_text="failure rate")).to_contain_text(
            "25.0 %"
        )  # 2 of 8
        expect(
            metrics.get_by_role("img", name="tasks per minute").locator("rect.s-failed")
        ).not_to_have_count(0)
        expect(metrics.get_by_role("img", name="run time").locator("path")).to_have_count(
            2
        )  # p50 and p95
        expect(metrics.get_by_role("img", name="failure rate").locator("path")).to_have_count(1)
        screenshot(page, "dashboard-metrics", tmp_path)

        # The credential is in the page's memory only: not in storage, not in a cookie.
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        assert page.evaluate("document.cookie") == "" and not [
            c
            for c in browser.cookies()
            if c["domain"] in ("127.0.0.1", "localhost") and c["path"] == "/"
        ]
        assert admin_key not in page.content()
        page.reload()
        expect(page.locator("#sign-in")).to_be_visible()  # a reload signs out

        # A JWT of the other tenant, with agent:read only: its own agents, none of ours.
        token = jwt.encode(
            {
                "sub": "viewer",
                "aud": "agents-api",
                "iss": "agents",
                "tenant": other["tenant"]["tenant_id"],
                "exp": int(time.time()) + 600,
                "permissions": ["agent:read"],
            },
            JWT_SECRET,
            algorithm="HS256",
        )
        _sign_in(page, platform, token)
        expect(page.locator("#who")).to_contain_text("jwt:viewer")
        expect(page.locator("tr[data-agent]")).to_have_count(1)
        expect(page.locator("tr[data-agent]")).to_contain_text("not-yours")
        page.locator("tr[data-agent]").click()
        expect(page.locator("#main")).to_contain_text(
            "lacks the 'task:read' permission"
        )  # the API's own answer
        page.close()
    finally:
        receiver.close()


def test_a_wrong_credential_is_refused_on_the_sign_in_form(browser, platform, admin_key):
    from playwright.sync_api import expect

    page = browser.new_page()
    _sign_in(page, platform, "ak_nope_nope")
    expect(page.locator("#sign-in-error")).to_have_text("unknown or revoked API key")
    expect(page.locator("#nav")).to_be_hidden()
    page.close()
