"""Shared plumbing of the platform: runtime clients (created once per warm instance), settings, ids, keys.

Every item a tenant owns lives under a partition key that starts with `TENANT#<tenant_id>`, so a
lookup made with the caller's tenant cannot reach another tenant's item (it is simply not there).
Key layout (both tables have `pk` + `sk`; `expires_at` is the TTL of tasks and deliveries):
  agents  pk=TENANT#<t>            sk=TENANT               the tenant: name, created_at
          pk=TENANT#<t>            sk=AGENT#<agent_id>     agent definition (listed by prefix)
          pk=TENANT#<t>            sk=KEY#<key_id>         the tenant's API keys, as listed (no hash)
          pk=TENANT#<t>#AGENT#<a>  sk=NOTE#<key>           the agent's notes (the notes tool)
          pk=TENANT#<t>#AGENT#<a>  sk=WEBHOOK#<id>         webhooks of the agent
          pk=KEY#<key_id>          sk=KEY                  an API key: sha256 of it, its tenant, permissions
          pk=TENANTS               sk=TENANT#<t>           every tenant (platform:* lists them)
          pk=META                  sk=BOOTSTRAP            marker: the first tenant and admin key exist
  tasks   pk=TENANT#<t>#TASK#<id>  sk=TASK                 the task: status, steps, output
          pk=TENANT#<t>#AGENT#<a>  sk=TASK#<created>#<id>  an agent's task list, newest last; once a
                                                           task ends, its status and run time (metrics)
          pk=DEADLINES             sk=<epoch:012d>#<id>    queued/running tasks by deadline (the sweeper)
  deliveries pk=TENANT#<t>#EVENT#<event_id> sk=<webhook_id>  a webhook already got this event
          pk=TENANT#<t>#AGENT#<a>  sk=DELIVERY#<at>#<event>#<webhook>#<attempt>  every delivery attempt
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from datetime import UTC, datetime

from runtime import HTTPError, Page, Queue, Secret, Table, Topic
from runtime.links import current_environ

_lock = threading.Lock()
_clients: dict[tuple[str, str], object] = {}

_FACTORIES = {"table": Table, "queue": Queue, "topic": Topic, "secret": Secret}


def _client(kind: str, name: str):
    key = (kind, name)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _FACTORIES[kind](name)
    return client


def table(name: str) -> Table:
    return _client("table", name)  # type: ignore[return-value]


def queue(name: str) -> Queue:
    return _client("queue", name)  # type: ignore[return-value]


def topic(name: str) -> Topic:
    return _client("topic", name)  # type: ignore[return-value]


def secret(name: str) -> Secret:
    return _client("secret", name)  # type: ignore[return-value]


def reset() -> None:
    """Forget cached clients (and so cached secret values): tests, or a rotated secret."""
    with _lock:
        _clients.clear()


def setting(name: str, default: str | None = None) -> str | None:
    """A plain (non-secret) setting: the function's env in app.yaml, else the process environment."""
    value = current_environ().get(name)
    if value is None:
        value = os.environ.get(name)
    return default if value in (None, "") else value


def int_setting(name: str, default: int) -> int:
    raw = setting(name)
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def now() -> float:
    return time.time()


_iso_second: tuple[int, str] = (0, "1970-01-01T00:00:00")


def iso(ts: float | None) -> str | None:
    """`ts` as ISO-8601 UTC with milliseconds: exactly datetime.fromtimestamp(ts, UTC) formatted
    with "%Y-%m-%dT%H:%M:%S.%f" cut to ms, but the date part is formatted once per second."""
    global _iso_second
    if ts is None:
        return None
    frac, whole = math.modf(ts)
    micros = round(frac * 1e6)  # rounded half-even to the microsecond, as datetime does
    if micros >= 1_000_000:
        micros -= 1_000_000
        whole += 1
    elif micros < 0:
        micros += 1_000_000
        whole -= 1
    second, text = _iso_second
    if whole != second:
        text = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _iso_second = (int(whole), text)
    return f"{text}.{micros // 1000:03d}Z"


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase


_last_id = [0, 0]  # (ms, random part) of the last id made here: ids made in one ms stay ordered


def new_id(prefix: str) -> str:
    """`prefix_` + 10 chars of milliseconds + 16 random chars: unique, sortable by creation (ULID-like)."""
    with _lock:
        ms = int(time.time() * 1000)
        if ms <= _last_id[0]:
            ms, rand = _last_id[0], _last_id[1] + 1
        else:
            rand = secrets.randbits(79)
        _last_id[:] = [ms, rand]
    stamp = "".join(_ALPHABET[(ms >> shift) & 31] for shift in range(45, -1, -5))
    tail = "".join(_ALPHABET[(rand >> shift) & 31] for shift in range(75, -1, -5))
    return f"{prefix}_{stamp}{tail}"


# -- keys ------------------------------------------------------------------------------------

def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def agent_pk(tenant: str, agent_id: str) -> str:
    """The partition of an agent's notes and webhooks (agents table) and its task list (tasks table)."""
    return f"TENANT#{tenant}#AGENT#{agent_id}"


def task_pk(tenant: str, task_id: str) -> str:
    return f"TENANT#{tenant}#TASK#{task_id}"


def event_pk(tenant: str, event_id: str) -> str:
    return f"TENANT#{tenant}#EVENT#{event_id}"


def page(table_name: str, pk: str, *, limit: int, cursor: str | None, **query) -> Page:
    """One page of a list route; a cursor this list did not hand out is a 400, never a 500."""
    try:
        return table(table_name).query(pk, limit=limit, cursor=cursor, **query)
    except ValueError:
        raise HTTPError(400, "invalid_request",
                        "cursor is not one this list returned; start again without it") from None
