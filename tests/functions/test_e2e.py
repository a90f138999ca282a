"""End to end through a real `omnicloud dev` process: bootstrap, agents, tasks, signed webhooks, kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from functions import webhooks

from .conftest import ROOT, Recorder

pytestmark = pytest.mark.e2e
SECRET_VARS = ("BOOTSTRAP_TOKEN", "JWT_SECRET", "MODEL_API_KEY")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, check, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class DevServer:
    """`omnicloud dev` in its own process group, on a free port, over `state_dir`."""

    def __init__(self, state_dir: Path, log_dir: Path, env: dict[str, str] | None = None):
        self.state_dir = state_dir
        self.log_dir = log_dir
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> DevServer:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts += 1
        self.out = self.log_dir / f"dev-{self.starts}.out"
        env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS and not k.startswith("OMNICLOUD_")}
        env.update(OMNICLOUD_DEV_POLL="0.05", OMNICLOUD_DEV_RETRY_DELAY="0.2", PYTHONUNBUFFERED="1", **self.extra_env)
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "omnicloud", "dev", "--app", str(ROOT / "app.yaml"), "--port", str(self.port),
                 "--state", str(self.state_dir), "--no-reload"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait("omnicloud dev to answer /health", self._healthy, timeout=60)
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"omnicloud dev exited with {self.proc.returncode}:\n{self.out.read_text()[-3000:]}")
        try:
            return self.request("GET", "/health")[0] == 200
        except OSError:
            return False

    def bootstrap_token(self) -> str:
        """The generated bootstrap token: its output is a file, not a terminal, so the banner names the
        mode-0600 file that holds it instead of printing it."""
        def printed():
            return re.search(r"^secret bootstrap-token: generated for local use, value in (\S+) ", self.out.read_text(),
                             re.M)

        try:
            match = _wait("the bootstrap token's file in the dev server's banner", printed, timeout=10)
        except AssertionError:
            raise AssertionError(f"the dev server did not name a generated bootstrap token's file:\n"
                                 f"{self.out.read_text()[-2000:]}") from None
        values = dict(line.split("=", 1) for line in Path(match.group(1)).read_text().splitlines()
                      if line and not line.startswith("#"))
        return values["BOOTSTRAP_TOKEN"]

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        if token is None and path.startswith("/_omnicloud"):
            token = (self.state_dir / "dev-token").read_text().strip()  # the local routes' token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {}),
            **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, got = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as exc:
            raw, status, got = exc.read(), exc.code, dict(exc.headers)
        return status, json.loads(raw) if raw else None, {k.lower(): v for k, v in got.items()}

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def dev(tmp_path: Path):
    server = DevServer(tmp_path / "state", tmp_path)
    yield server.start()
    server.stop()


def _admin_key(dev: DevServer) -> str:
    status, created, _ = dev.request("POST", "/admin/bootstrap", {"name": "e2e"}, token=dev.bootstrap_token())
    assert status == 201, created
    return created["key"]


def _deliveries(receiver: Recorder, event_type: str) -> list[dict[str, Any]]:
    return [r for r in receiver.requests if json.loads(r["body"])["type"] == event_type]


def test_agent_task_and_signed_webhook_through_the_dev_server(dev, receiver):
    key = _admin_key(dev)
    status, agent, _ = dev.request("POST", "/agents", {"name": "math", "model": "echo", "tools": ["calculator"]},
                                   token=key)
    assert status == 201, agent
    agent_id = agent["agent_id"]
    status, hook, _ = dev.request("POST", f"/agents/{agent_id}/webhooks",
                                  {"url": receiver.url, "events": ["task.succeeded", "task.failed"]}, token=key)
    assert status == 201, hook

    submit = ("POST", f"/agents/{agent_id}/tasks", {"input": "calculate 12*(3+4)"})
    status, task, headers = dev.request(*submit, token=key, headers={"Idempotency-Key": "e2e-1"})
    assert status == 202 and task["status"] == "queued" and headers["location"] == f"/tasks/{task['task_id']}"

    def finished():
        found = dev.request("GET", f"/tasks/{task['task_id']}", token=key)[1]
        return found if found["status"] in ("succeeded", "failed", "timed_out") else None

    done = _wait("the task to finish", finished)
    assert done["status"] == "succeeded" and "12*(3+4) = 84" in done["output"]

    delivery = _wait("the task.succeeded webhook", lambda: _deliveries(receiver, "task.succeeded"))[0]
    webhooks.verify(hook["secret"], delivery["headers"]["Omnicloud-Signature"], delivery["body"])
    event = json.loads(delivery["body"])
    assert event["data"]["task_id"] == task["task_id"] and event["agent_id"] == agent_id

    status, again, headers = dev.request(*submit, token=key, headers={"Idempotency-Key": "e2e-1"})
    assert status == 200 and again["task_id"] == task["task_id"] and headers["idempotent-replayed"] == "true"
    assert again["status"] == "succeeded" and again["attempts"] == 1
    status, listed, _ = dev.request("GET", f"/agents/{agent_id}/tasks", token=key)
    assert [t["task_id"] for t in listed["items"]] == [task["task_id"]]

    status, error, _ = dev.request("POST", "/agents", {"name": "x", "tools": ["shell"]}, token=key)
    assert status == 400 and error == {"error": {"code": "invalid_request", "message": error["error"]["message"]}}
    assert dev.request("GET", "/agents")[0] == 401


def test_kill_9_mid_task_then_restart_finishes_the_task_exactly_once(tmp_path, receiver):
    server = DevServer(tmp_path / "state", tmp_path).start()
    try:
        key = _admin_key(server)
        agent = server.request("POST", "/agents", {"name": "slow", "tools": ["calculator"],
                                                   "model": {"backend": "echo", "delay_seconds": 1.5}}, token=key)[1]
        hook = server.request("POST", f"/agents/{agent['agent_id']}/webhooks",
                              {"url": receiver.url, "events": ["task.succeeded"]}, token=key)[1]
        task = server.request("POST", f"/agents/{agent['agent_id']}/tasks", {"input": "calculate 1+1 and 2+2"},
                              token=key, headers={"Idempotency-Key": "crash-1"})[1]

        def mid_run():
            found = server.request("GET", f"/tasks/{task['task_id']}", token=key)[1]
            return found if found["status"] == "running" and 1 <= found["step_count"] < 5 else None

        before = _wait("the task to be mid-run", mid_run, interval=0.05)
        server.kill9()
        server.start()  # same state dir, new process

        def finished():
            found = server.request("GET", f"/tasks/{task['task_id']}", token=key)[1]
            return found if found["status"] not in ("queued", "running") else None

        done = _wait("the task to finish after the restart", finished, timeout=60)
        assert done["status"] == "succeeded" and done["attempts"] == 2
        assert [s["type"] for s in done["steps"]] == ["model", "tool", "model", "tool", "model"]
        assert done["steps"][: before["step_count"]] == before["steps"]  # resumed, not restarted
        assert "1+1 = 2" in done["output"] and "2+2 = 4" in done["output"]

        delivered = _wait("the task.succeeded webhook", lambda: _deliveries(receiver, "task.succeeded"))
        webhooks.verify(hook["secret"], delivered[0]["headers"]["Omnicloud-Signature"], delivered[0]["body"])
        # Let the queues drain, then check nothing ran or was delivered twice.
        _wait("the queues to drain", lambda: not any(
            q["ready"] or q["in_flight"] or q["delayed"] for name, q in server.request("GET", "/_omnicloud/queues")[1].items()
            if isinstance(q, dict) and not name.endswith("-dlq")))
        assert len(_deliveries(receiver, "task.succeeded")) == 1
        assert server.request("GET", f"/tasks/{task['task_id']}", token=key)[1]["finished_at"] == done["finished_at"]
    finally:
        server.stop()
