"""The built-in tools an agent may use, behind one registry: calculator, clock, notes."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


class ToolError(Exception):
    """The tool could not do what was asked; the message goes back to the model as the result."""


@dataclass(frozen=True)
class ToolContext:
    agent_id: str
    notes: Callable[[str], list[dict[str, Any]]] = field(default=lambda agent_id: [])


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any], ToolContext], Any]

    def schema(self) -> dict[str, Any]:
        """The tool in the OpenAI `tools` format."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


# -- calculator: arithmetic over a parsed AST, never eval ----------------------------------

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_MAX_EXPRESSION = 200
_MAX_MAGNITUDE = 1e100


def calculate(expression: str) -> int | float:
    """Evaluate + - * / // % ** and parentheses over numbers; anything else is a ToolError."""
    if not isinstance(expression, str) or not expression.strip():
        raise ToolError("expression must be a non-empty string, e.g. '2 * (3 + 4)'")
    if len(expression) > _MAX_EXPRESSION:
        raise ToolError(f"expression is longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from None
    result = _evaluate(tree.body)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        return int(result)
    return result


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ToolError("exponent too large (at most 64, base at most 1e6)")
        try:
            value = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ToolError("division by zero") from None
        except (OverflowError, ValueError) as exc:
            raise ToolError(f"cannot compute: {exc}") from None
        if isinstance(value, complex) or (isinstance(value, (int, float)) and abs(value) > _MAX_MAGNITUDE):
            raise ToolError("result out of range")
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolError("result is not a finite number")
        return value
    raise ToolError(f"only numbers, + - * / // % ** and parentheses are allowed (found {type(node).__name__})")


def _calculator(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    expression = args.get("expression")
    return {"expression": expression, "result": calculate(expression)}  # type: ignore[arg-type]


# -- clock ---------------------------------------------------------------------------------

def _clock(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    offset = args.get("utc_offset_hours", 0)
    if not isinstance(offset, (int, float)) or isinstance(offset, bool) or not -14 <= offset <= 14:
        raise ToolError("utc_offset_hours must be a number between -14 and 14")
    now = datetime.now(UTC).astimezone(timezone(timedelta(hours=offset)))
    return {"iso": now.isoformat(timespec="seconds"), "unix": int(now.timestamp()), "utc_offset_hours": offset}


# -- notes: the agent's own notes in the agents table --------------------------------------

def _notes(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    query = args.get("query", "")
    if not isinstance(query, str):
        raise ToolError("query must be a string")
    words = [w for w in query.lower().split() if len(w) > 2] or [query.lower().strip()]
    matches = []
    for note in ctx.notes(ctx.agent_id):
        haystack = f"{note.get('key', '')} {note.get('text', '')}".lower()
        score = sum(1 for w in words if w and w in haystack)
        if score or not query.strip():
            matches.append((score, note.get("key", ""), note.get("text", "")))
    matches.sort(key=lambda m: (-m[0], m[1]))
    return {"query": query, "notes": [{"key": k, "text": t} for _, k, t in matches[:5]]}


REGISTRY: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("calculator", "Evaluate an arithmetic expression (+ - * / // % ** and parentheses).",
             {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
             _calculator),
        Tool("clock", "The current date and time, optionally at a UTC offset in hours.",
             {"type": "object", "properties": {"utc_offset_hours": {"type": "number"}}},
             _clock),
        Tool("notes", "Search this agent's notes; returns the best matching notes (key and text).",
             {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
             _notes),
    )
}


def unknown_tools(names: list[str]) -> list[str]:
    return [name for name in names if name not in REGISTRY]


def run_tool(name: str, arguments: dict[str, Any], ctx: ToolContext, allowed: list[str]) -> dict[str, Any]:
    """Run tool `name`; the outcome (result or error) is what the model sees next."""
    if name not in allowed or name not in REGISTRY:
        return {"error": f"tool {name!r} is not available to this agent (available: {', '.join(allowed) or 'none'})"}
    if not isinstance(arguments, dict):
        return {"error": "tool arguments must be a JSON object"}
    try:
        return {"result": REGISTRY[name].run(arguments, ctx)}
    except ToolError as exc:
        return {"error": str(exc)}
