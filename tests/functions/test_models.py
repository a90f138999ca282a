"""Model backends: the deterministic echo model and the OpenAI-compatible client against a local server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.models import ModelError, ModelTimeout, complete, expressions_in
from functions.tools import ToolContext, run_tool

from .conftest import body, make_agent


def _conversation(prompt: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt}]


def test_echo_asks_the_calculator_then_answers_with_its_result():
    echo = {"backend": "echo"}
    messages = _conversation("please calculate (2+3)*4")
    first = complete(echo, messages, ["calculator"], timeout=5)
    assert first.content is None
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("calculator", {"expression": "(2+3)*4"})]
    assert complete(echo, messages, ["calculator"], timeout=5).tool_calls[0].id == first.tool_calls[0].id
    outcome = run_tool("calculator", first.tool_calls[0].arguments, ToolContext("ag"), ["calculator"])
    messages += [{"role": "assistant", "content": None, "tool_calls": [first.tool_calls[0].as_openai()]},
                 {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": json.dumps(outcome)}]
    final = complete(echo, messages, ["calculator"], timeout=5)
    assert final.tool_calls == []
    assert "(2+3)*4 = 20" in final.content


def test_echo_without_tools_just_echoes_the_prompt():
    reply = complete({"backend": "echo"}, _conversation("calculate 1+1"), [], timeout=5)
    assert reply.tool_calls == [] and reply.content == "echo: calculate 1+1"


def test_expressions_are_found_in_order_and_prose_numbers_ignored():
    assert expressions_in("task 1: add 2 + 2, then 10/(3-1). Year 2024.") == ["2 + 2", "10/(3-1)"]


def test_echo_delay_is_cut_short_by_the_timeout():
    started = time.monotonic()
    with pytest.raises(ModelTimeout):
        complete({"backend": "echo", "delay_seconds": 30}, _conversation("hi"), [], timeout=0.3)
    assert time.monotonic() - started < 5


def test_echo_can_be_told_to_fail():
    with pytest.raises(ModelError) as failure:
        complete({"backend": "echo", "fail": "boom"}, _conversation("hi"), [], timeout=5)
    assert not failure.value.transient and "boom" in str(failure.value)


class FakeOpenAI:
    """A local server speaking the chat-completions protocol: scripted replies, recorded requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "json": data})
                status, reply = fake.replies.pop(0) if fake.replies else (500, {"error": {"message": "no reply"}})
                raw = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @staticmethod
    def tool_call(name: str, arguments: dict, call_id: str = "call_abc") -> tuple[int, dict]:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}
        return 200, {"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": message,
                                                                           "finish_reason": "tool_calls"}]}

    @staticmethod
    def answer(text: str) -> tuple[int, dict]:
        return 200, {"id": "c2", "object": "chat.completion", "usage": {"total_tokens": 12},
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


@pytest.fixture
def fake_openai():
    fake = FakeOpenAI()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def openai_cloud(cloud, fake_openai):
    cloud.settings["MODEL_ALLOWED_BASE_URLS"] = fake_openai.base_url
    return cloud


def _openai_agent(cloud, token, fake):
    return make_agent(cloud, token, model={"backend": "openai", "name": "small-model", "base_url": fake.base_url},
                      tools=["calculator"])


def test_openai_task_runs_tool_calls_and_sends_results_back(openai_cloud, admin, fake_openai):
    agent = _openai_agent(openai_cloud, admin, fake_openai)
    fake_openai.replies = [FakeOpenAI.tool_call("calculator", {"expression": "6*7"}), FakeOpenAI.answer("It is 42.")]
    response = openai_cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "6 times 7?"}, token=admin)
    task = body(response)
    assert response.status == 200 and task["status"] == "succeeded" and task["output"] == "It is 42."
    first, second = fake_openai.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer test-model-key"
    assert first["json"]["model"] == "small-model"
    assert [t["function"]["name"] for t in first["json"]["tools"]] == ["calculator"]
    assert first["json"]["messages"][-1] == {"role": "user", "content": "6 times 7?"}
    tool_message = second["json"]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_abc"
    assert json.loads(tool_message["content"])["result"]["result"] == 42


def test_openai_server_errors_are_retried_then_succeed(openai_cloud, admin, fake_openai):
    agent = _openai_agent(openai_cloud, admin, fake_openai)
    fake_openai.replies = [(503, {"error": {"message": "overloaded"}}), FakeOpenAI.answer("done")]
    task = body(openai_cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin))
    assert task["status"] == "succeeded" and task["output"] == "done"
    assert len(fake_openai.requests) == 2


def test_openai_client_errors_fail_the_task_without_retrying(openai_cloud, admin, fake_openai):
    agent = _openai_agent(openai_cloud, admin, fake_openai)
    fake_openai.replies = [(401, {"error": {"message": "invalid api key"}})]
    task = body(openai_cloud.http("POST", f"/agents/{agent['agent_id']}/execute", {"input": "hi"}, token=admin))
    assert task["status"] == "failed" and task["error"]["code"] == "model_error"
    assert "401" in task["error"]["message"] and "invalid api key" in task["error"]["message"]
    assert len(fake_openai.requests) == 1


def test_openai_base_url_outside_the_allowlist_is_refused(openai_cloud, admin):
    response = openai_cloud.http("POST", "/agents", {"name": "x", "model": {
        "backend": "openai", "name": "m", "base_url": "http://attacker.example/v1"}}, token=admin)
    assert response.status == 400 and "not allowed" in body(response)["error"]["message"]
