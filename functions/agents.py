"""Agent definitions in the `agents` table, with a cache-aside TTL cache for warm instances."""

from __future__ import annotations

import threading
import time
from typing import Any

from runtime import ConditionFailed, HTTPError

from . import store

AGENTS_PK = "agents"
_PUBLIC = ("agent_id", "name", "description", "model", "system_prompt", "tools", "limits",
           "created_at", "updated_at", "created_by", "_version")

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def cache_ttl() -> float:
    return float(store.int_setting("AGENT_CACHE_SECONDS", 30))


def forget(agent_id: str | None = None) -> None:
    with _cache_lock:
        if agent_id is None:
            _cache.clear()
        else:
            _cache.pop(agent_id, None)


def _remember(agent: dict[str, Any]) -> None:
    with _cache_lock:
        _cache[agent["agent_id"]] = (time.monotonic() + cache_ttl(), agent)


def get(agent_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
    """The agent definition; from this instance's cache unless it is older than the TTL."""
    if not fresh:
        cached = _cache.get(agent_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    item = store.table("agents").get(AGENTS_PK, agent_id)
    if item is not None:
        _remember(item)
    else:
        forget(agent_id)
    return item


def require(agent_id: str, *, fresh: bool = False) -> dict[str, Any]:
    agent = get(agent_id, fresh=fresh)
    if agent is None:
        raise HTTPError(404, "agent_not_found", f"no agent {agent_id!r}; list agents with GET /agents")
    return agent


def public(agent: dict[str, Any]) -> dict[str, Any]:
    out = {k: agent[k] for k in _PUBLIC if k in agent}
    out["version"] = out.pop("_version", None)
    return out


def create(fields: dict[str, Any], created_by: str) -> dict[str, Any]:
    agent_id = store.new_id("ag")
    stamp = store.iso(store.now())
    item = {"pk": AGENTS_PK, "sk": agent_id, "agent_id": agent_id, **fields,
            "created_at": stamp, "updated_at": stamp, "created_by": created_by}
    stored = store.table("agents").put(item, if_absent=True)
    _remember(stored)
    return stored


def update(agent_id: str, changes: dict[str, Any], *, expected_version: int | None) -> dict[str, Any]:
    try:
        stored = store.table("agents").update(AGENTS_PK, agent_id, {**changes, "updated_at": store.iso(store.now())},
                                              expected_version=expected_version)
    except KeyError:
        forget(agent_id)
        raise HTTPError(404, "agent_not_found", f"no agent {agent_id!r}") from None
    except ConditionFailed:
        raise HTTPError(412, "version_mismatch",
                        f"agent {agent_id!r} changed since version {expected_version}; GET it and retry") from None
    _remember(stored)
    return stored


def delete(agent_id: str, *, expected_version: int | None) -> None:
    try:
        store.table("agents").delete(AGENTS_PK, agent_id, expected_version=expected_version)
    except ConditionFailed:
        raise HTTPError(412, "version_mismatch",
                        f"agent {agent_id!r} changed since version {expected_version}; GET it and retry") from None
    finally:
        forget(agent_id)


def list_page(limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    try:
        page = store.table("agents").query(AGENTS_PK, limit=limit, cursor=cursor)
    except ValueError:
        raise HTTPError(400, "invalid_cursor", "cursor is not one this list returned; start again without it") from None
    return [public(item) for item in page.items], page.cursor


# -- notes (read by the notes tool) ---------------------------------------------------------

def notes_pk(agent_id: str) -> str:
    return f"agent#{agent_id}"


def notes(agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
    page = store.table("agents").query(notes_pk(agent_id), prefix="note#", limit=limit)
    return [{"key": n["key"], "text": n["text"], "updated_at": n.get("updated_at")} for n in page.items]
