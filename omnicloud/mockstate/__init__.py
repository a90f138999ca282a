"""What each cloud would compute for a resource (ids, ARNs, URLs), for `omnicloud preview` and tests.

One module per cloud exposes ``state(type, name, inputs) -> (id, state)`` and
``call(token, args) -> dict`` (for invokes such as getCallerIdentity).
"""

from __future__ import annotations

from typing import Any


def default_state(name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{name}-id", dict(inputs)
