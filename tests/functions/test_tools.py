"""The built-in tools: safe arithmetic, clock, notes lookup, and the registry's gatekeeping."""

from __future__ import annotations

from datetime import datetime

import pytest

from functions.tools import REGISTRY, ToolContext, ToolError, calculate, run_tool


@pytest.mark.parametrize(("expression", "expected"), [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("7 / 2", 3.5), ("7 // 2", 3), ("-2 ** 2", -4),
    ("2 ^ 10", 1024), ("10 % 4", 2), ("0.1 + 0.2", 0.1 + 0.2),
])
def test_calculator_follows_arithmetic_precedence(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize("expression", [
    "__import__('os').system('true')", "open('/etc/passwd')", "x + 1", "(1).__class__", "[1, 2]",
    "True + 1", "'a' * 3", "lambda: 1", "9 ** 9 ** 9", "10 ** 1000", "1 / 0", "", "1 +",
])
def test_calculator_refuses_anything_but_bounded_arithmetic(expression):
    with pytest.raises(ToolError):
        calculate(expression)


def test_clock_answers_now_at_the_requested_offset():
    before = datetime.now().timestamp()
    result = run_tool("clock", {"utc_offset_hours": 2}, ToolContext("ag_1"), ["clock"])["result"]
    assert result["iso"].endswith("+02:00")
    assert before - 1 <= result["unix"] <= datetime.now().timestamp() + 1
    assert "error" in run_tool("clock", {"utc_offset_hours": 99}, ToolContext("ag_1"), ["clock"])


def test_notes_returns_the_best_matching_notes_of_the_agent():
    notes = {"ag_1": [{"key": "wifi", "text": "the office wifi password is hunter2"},
                      {"key": "lunch", "text": "lunch is at noon"}]}
    ctx = ToolContext("ag_1", notes=lambda agent_id: notes.get(agent_id, []))
    result = run_tool("notes", {"query": "wifi password"}, ctx, ["notes"])["result"]
    assert result["notes"][0] == {"key": "wifi", "text": "the office wifi password is hunter2"}
    assert all(n["key"] != "lunch" for n in result["notes"])
    other = ToolContext("ag_2", notes=lambda agent_id: notes.get(agent_id, []))
    assert run_tool("notes", {"query": "wifi"}, other, ["notes"])["result"]["notes"] == []


def test_a_tool_the_agent_was_not_given_is_refused_not_run():
    outcome = run_tool("calculator", {"expression": "1+1"}, ToolContext("ag_1"), ["clock"])
    assert "not available" in outcome["error"]
    assert "error" in run_tool("shell", {}, ToolContext("ag_1"), ["shell"])


def test_every_tool_describes_itself_in_the_openai_format():
    for name, tool in REGISTRY.items():
        schema = tool.schema()
        assert schema["type"] == "function" and schema["function"]["name"] == name
        assert schema["function"]["parameters"]["type"] == "object"
