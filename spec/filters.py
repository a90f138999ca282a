"""Translate a neutral topic filter ({attribute: value | [values]}) into each cloud's syntax.

All attributes must match; a list matches any of its values. Attribute names are limited by the
model to letters, digits, `_` and `-`, which every cloud's syntax below accepts.
"""

from __future__ import annotations

import json
import re

from runtime.filters import matches  # the neutral semantics every translation must agree with

__all__ = ["filter_expression", "matches", "pubsub_filter", "servicebus_sql", "sns_filter_policy"]

# Service Bus SQL keywords: an attribute with one of these names must be written [in brackets].
_SQL_KEYWORDS = {"and", "or", "not", "in", "is", "null", "like", "escape", "exists", "true", "false", "sys", "user"}


def _values(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def sns_filter_policy(filter_: dict[str, str | list[str]]) -> str:
    """SNS filter policy (on message attributes): {"type": ["task.completed"]}."""
    return json.dumps({key: _values(value) for key, value in sorted(filter_.items())}, sort_keys=True)


def servicebus_sql(filter_: dict[str, str | list[str]]) -> str:
    """Service Bus SQL filter over application properties: type = 'a' AND [kind] IN ('x', 'y')."""

    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def column(key: str) -> str:
        plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) and key.lower() not in _SQL_KEYWORDS
        return key if plain else f"[{key}]"

    clauses = []
    for key, value in sorted(filter_.items()):
        items = _values(value)
        if len(items) == 1:
            clauses.append(f"{column(key)} = {quote(items[0])}")
        else:
            clauses.append(f"{column(key)} IN ({', '.join(quote(v) for v in items)})")
    return " AND ".join(clauses) if clauses else "1=1"


def pubsub_filter(filter_: dict[str, str | list[str]]) -> str:
    """Pub/Sub subscription filter: attributes.type = "a" AND (attributes.k = "x" OR attributes.k = "y")."""

    def quote(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    clauses = []
    for key, value in sorted(filter_.items()):
        parts = [f"attributes.{key} = {quote(v)}" for v in _values(value)]
        clauses.append(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")
    return " AND ".join(clauses)




def filter_expression(cloud: str, filter_: dict[str, str | list[str]]) -> str:
    return {"aws": sns_filter_policy, "azure": servicebus_sql, "gcp": pubsub_filter}[cloud](filter_)
