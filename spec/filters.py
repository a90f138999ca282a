"""Translate a neutral topic filter ({attribute: value | [values]}) into each cloud's syntax."""

from __future__ import annotations

import json


def _values(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def sns_filter_policy(filter_: dict[str, str | list[str]]) -> str:
    """SNS filter policy (on message attributes): {"type": ["task.completed"]}."""
    return json.dumps({key: _values(value) for key, value in sorted(filter_.items())}, sort_keys=True)


def servicebus_sql(filter_: dict[str, str | list[str]]) -> str:
    """Service Bus SQL filter over application properties: type = 'a' AND kind IN ('x', 'y')."""

    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    clauses = []
    for key, value in sorted(filter_.items()):
        items = _values(value)
        column = f"[{key}]" if not key.isidentifier() else key
        if len(items) == 1:
            clauses.append(f"{column} = {quote(items[0])}")
        else:
            clauses.append(f"{column} IN ({', '.join(quote(v) for v in items)})")
    return " AND ".join(clauses) if clauses else "1=1"


def pubsub_filter(filter_: dict[str, str | list[str]]) -> str:
    """Pub/Sub subscription filter: attributes.type = "a" AND (attributes.k = "x" OR attributes.k = "y")."""

    def quote(text: str) -> str:
        return json.dumps(text)

    def attr(key: str) -> str:
        return f"attributes.{key}" if key.isidentifier() else f"attributes[{quote(key)}]"

    clauses = []
    for key, value in sorted(filter_.items()):
        items = _values(value)
        parts = [f"{attr(key)} = {quote(v)}" for v in items]
        clauses.append(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")
    return " AND ".join(clauses)


def matches(filter_: dict[str, str | list[str]], attributes: dict[str, str]) -> bool:
    """The neutral semantics every translation must agree with (used locally)."""
    return all(attributes.get(key) in _values(value) for key, value in filter_.items())


def filter_expression(cloud: str, filter_: dict[str, str | list[str]]) -> str:
    return {"aws": sns_filter_policy, "azure": servicebus_sql, "gcp": pubsub_filter}[cloud](filter_)
