"""Agent definitions of each tenant in the `agents` table, with a cache-aside TTL cache for warm instances."""

from __future__ import annotations

import threading
import time
from typing import Any

from runtime import ConditionFailed, HTTPError

from . import store

AGENT_SK = "AGENT#"
_PUBLIC = ("agent_id", "name", "description", "model", "system_prompt", "tools", "limits",
           "created_at", "updated_at", "created_by")

_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def cache_ttl() -> float:
    return float(store.int_setting("AGENT_CACHE_SECONDS", 30))


def forget(tenant: str | None = None, agent_id: str | None = None) -> None:
    with _cache_lock:
        if agent_id is None:
            _cache.clear()
        else:
            _cache.pop((tenant, agent_id), None)


def _remember(tenant: str, agent: dict[str, Any]) -> None:
    with _cache_lock:
        _cache[(tenant, agent["agent_id"])] = (time.monotonic() + cache_ttl(), agent)


def _key(tenant: str, agent_id: str) -> tuple[str, str]:
    return store.tenant_pk(tenant), AGENT_SK + agent_id


def get(tenant: str, agent_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
    """The tenant's agent; from this instance's cache unless it is older than the TTL. An agent
    being deleted is gone already."""
    if not fresh:
        cached = _cache.get((tenant, agent_id))
        if cached and cached[0] > time.monotonic():
            return cached[1]
    item = store.table("agents").get(*_key(tenant, agent_id))
    if item is not None and not item.get("deleting"):
        _remember(tenant, item)
        return item
    forget(tenant, agent_id)
    return None


def not_found(agent_id: str) -> HTTPError:
    return HTTPError(404, "agent_not_found", f"no agent {agent_id!r}; list agents with GET /agents")


def require(tenant: str, agent_id: str, *, fresh: bool = False) -> dict[str, Any]:
    agent = get(tenant, agent_id, fresh=fresh)
    if agent is None:
        raise not_found(agent_id)
    return agent


def etag(agent: dict[str, Any]) -> str:
    """The agent's version as an entity tag: it travels in ETag / If-Match, never in a body."""
    return f'"{agent["_version"]}"'


def public(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: agent[k] for k in _PUBLIC if k in agent}


def create(tenant: str, fields: dict[str, Any], created_by: str) -> dict[str, Any]:
    agent_id = store.new_id("ag")
    stamp = store.iso(store.now())
    pk, sk = _key(tenant, agent_id)
    item = {"pk": pk, "sk": sk, "agent_id": agent_id, "tenant_id": tenant, **fields,
            "created_at": stamp, "updated_at": stamp, "created_by": created_by}
    stored = store.table("agents").put(item, if_absent=True)
    _remember(tenant, stored)
    return stored


def _version_mismatch(agent_id: str, expected_version: int) -> HTTPError:
    return HTTPError(412, "version_mismatch",
                     f"agent {agent_id!r} changed since version {expected_version}; GET it and retry with its ETag")


def update(tenant: str, agent_id: str, changes: dict[str, Any], *, expected_version: int | None) -> dict[str, Any]:
    """Merge `changes` into the agent; 404 if it is gone or being deleted, 412 if If-Match is stale."""
    table = store.table("agents")
    for _ in range(5):
        current = table.get(*_key(tenant, agent_id))
        if current is None or current.get("deleting"):
            forget(tenant, agent_id)
            raise not_found(agent_id)
        if expected_version is not None and current["_version"] != expected_version:
            raise _version_mismatch(agent_id, expected_version)
        merged = {**current, **changes, "updated_at": store.iso(store.now())}
        try:
            stored = table.put(merged, expected_version=current["_version"])
        except ConditionFailed:
            continue  # written meanwhile: look again (a stale If-Match then answers 412)
        _remember(tenant, stored)
        return stored
    raise HTTPError(409, "conflict", f"agent {agent_id!r} is being changed by others; retry")


def delete(tenant: str, agent_id: str, *, expected_version: int | None, budget_seconds: float) -> bool:
    """Delete the agent with its notes, webhooks and tasks (queued and running ones are canceled:
    their record goes, so a worker finds nothing to run and a running one stops at its next step).

    The agent is first marked `deleting` (invisible from then on, and refusing writes), then its
    items are deleted, the agent item last. True when all is gone; False when `budget_seconds`
    ran out first — calling again (DELETE again) carries on where this stopped.
    """
    table = store.table("agents")
    current = table.get(*_key(tenant, agent_id))
    if current is None:
        forget(tenant, agent_id)
        raise not_found(agent_id)
    if not current.get("deleting"):
        if expected_version is not None and current["_version"] != expected_version:
            raise _version_mismatch(agent_id, expected_version)
        try:
            table.put({**current, "deleting": True, "updated_at": store.iso(store.now())},
                      expected_version=current["_version"])
        except ConditionFailed:
            raise _version_mismatch(agent_id, current["_version"]) from None
    forget(tenant, agent_id)
    deadline = time.monotonic() + budget_seconds
    owned = store.agent_pk(tenant, agent_id)
    tasks = store.table("tasks")
    for name in ("agents", "tasks", "deliveries"):  # notes and webhooks; task list; delivery log
        cursor = None
        while True:
            page = store.table(name).query(owned, limit=100, cursor=cursor)
            for item in page.items:
                if name == "tasks" and item.get("task_id"):
                    tasks.delete(store.task_pk(tenant, item["task_id"]), "TASK")
                store.table(name).delete(owned, item["sk"])
            cursor = page.cursor
            if not cursor:
                break
            if time.monotonic() > deadline:
                return False
    table.delete(*_key(tenant, agent_id))
    return True


def list_page(tenant: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    page = store.page("agents", store.tenant_pk(tenant), prefix=AGENT_SK, limit=limit, cursor=cursor)
    return [public(item) for item in page.items if not item.get("deleting")], page.cursor


# -- notes (read by the notes tool) ---------------------------------------------------------

def notes(tenant: str, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
    page = store.table("agents").query(store.agent_pk(tenant, agent_id), prefix="NOTE#", limit=limit)
    return [{"key": n["key"], "text": n["text"], "updated_at": n.get("updated_at")} for n in page.items]
