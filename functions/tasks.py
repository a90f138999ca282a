"""Tasks: submission with idempotency keys, the agent loop, and the status transitions.

queued -> running -> succeeded | failed | timed_out. Every change to a task is a conditional
write on its `_version`, and a run owns the task through its `run_id`: a redelivered message
takes the task over and resumes from the recorded steps; the run that lost the task stops at
its next write. So a task finishes once, whatever crashes or duplicates happen on the way.
A task belongs to its agent's tenant: its key starts with `TENANT#<tenant_id>` (see store.py),
and the queue message names the tenant with the task.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import secrets
import time
from typing import Any

from runtime import ConditionFailed, HTTPError, LinkError
from runtime.log import event as log_event

from . import agents, events, store
from .models import ModelError, ModelTimeout, ToolCall, complete
from .tools import ToolContext, run_tool

log = logging.getLogger("agents.tasks")

QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT = "queued", "running", "succeeded", "failed", "timed_out"
TERMINAL = (SUCCEEDED, FAILED, TIMED_OUT)
TASK_SK = "TASK"
DEADLINES_PK = "DEADLINES"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
STEP_TEXT_LIMIT = 4000
OUTPUT_LIMIT = 32_000
MODEL_RETRIES = 2


class Lost(Exception):
    """Another run took the task over, or it already finished: stop without touching it."""


class Yielded(Exception):
    """The caller's time budget ran out first (synchronous execute): the worker carries on."""


def tasks_table():
    return store.table("tasks")


def get(tenant: str, task_id: str) -> dict[str, Any] | None:
    return tasks_table().get(store.task_pk(tenant, task_id), TASK_SK)


def public(task: dict[str, Any], *, steps: bool = True) -> dict[str, Any]:
    keys = ["task_id", "agent_id", "status", "input", "metadata", "output", "error", "attempts",
            "idempotency_key", "created_at", "started_at", "finished_at"]
    out = {k: task.get(k) for k in keys}
    out["step_count"] = len(task.get("steps") or ())
    if steps:
        out["steps"] = task.get("steps") or []
    return out


# -- submission ----------------------------------------------------------------------------

def idempotent_task_id(tenant: str, agent_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{tenant}\n{agent_id}\n{key}".encode()).digest()
    return "t_" + base64.b32encode(digest).decode().lower().rstrip("=")[:26]


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise HTTPError(400, "invalid_request", "Idempotency-Key must be 1..255 visible ASCII characters")
    return key


def _retention() -> int:
    return store.int_setting("TASK_RETENTION_DAYS", 30) * 86400


def submit(tenant: str, agent: dict[str, Any], fields: dict[str, Any], idempotency_key: str | None,
           submitted_by: str) -> tuple[dict[str, Any], bool]:
    """Store a new queued task; with a key already used, the earlier task. (task, created)."""
    fingerprint = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    task_id = (idempotent_task_id(tenant, agent["agent_id"], idempotency_key) if idempotency_key
               else store.new_id("t"))
    now = store.now()
    timeout = agent["limits"]["timeout_seconds"]
    deadline = int(now + store.int_setting("TASK_QUEUE_TIMEOUT_SECONDS", 3600) + timeout)
    record = {
        "pk": store.task_pk(tenant, task_id), "sk": TASK_SK, "task_id": task_id, "tenant_id": tenant,
        "agent_id": agent["agent_id"],
        "status": QUEUED, "input": fields["input"], "metadata": fields.get("metadata"),
        "agent": {k: agent[k] for k in ("name", "model", "system_prompt", "tools", "limits")},
        "idempotency_key": idempotency_key, "request_sha256": fingerprint, "submitted_by": submitted_by,
        "created_at": store.iso(now), "created_ts": now, "attempts": 0, "steps": [],
        "deadline": deadline, "deadline_key": f"{deadline:012d}#{task_id}",
        "expires_at": int(now) + _retention(),
    }
    try:
        stored = tasks_table().put(record, if_absent=True)
    except ConditionFailed:
        existing = get(tenant, task_id)
        if existing is None:  # past its retention, but not yet removed by the table's TTL
            raise HTTPError(409, "conflict", "the task of this Idempotency-Key has expired and is being removed; "
                                             "use a new Idempotency-Key") from None
        if existing.get("request_sha256") != fingerprint:
            raise HTTPError(422, "idempotency_key_reused",
                            "this Idempotency-Key was used with a different request; use a new key") from None
        if existing["status"] == QUEUED:
            _index(existing)  # the first attempt may have stopped before indexing
        return existing, False
    _index(stored)
    events.publish("task.queued", tenant, agent["agent_id"], {"task_id": task_id}, event_id=f"{task_id}.task.queued")
    return stored, True


def _list_entry(task: dict[str, Any]) -> dict[str, Any]:
    """The agent's task-list entry: the task id, and once it finished, its outcome and timing (what
    the metrics read, without a read of each task)."""
    entry = {"pk": store.agent_pk(task["tenant_id"], task["agent_id"]),
             "sk": f"TASK#{task['created_at']}#{task['task_id']}", "task_id": task["task_id"],
             "expires_at": task["expires_at"]}
    if task["status"] in TERMINAL:
        entry["status"] = task["status"]
        entry.update({k: task[k] for k in ("finished_ts", "run_ms") if task.get(k) is not None})
    return {k: v for k, v in entry.items() if v is not None}


def _index(task: dict[str, Any]) -> None:
    table = tasks_table()
    table.put(_list_entry(task))
    table.put({"pk": DEADLINES_PK, "sk": task["deadline_key"], "task_id": task["task_id"],
               "tenant_id": task["tenant_id"], "expires_at": task["expires_at"]})


def queue_message(tenant: str, task_id: str) -> dict[str, str]:
    """What the worker gets on task-queue."""
    return {"task_id": task_id, "tenant_id": tenant}


def enqueue(tenant: str, task_id: str) -> None:
    store.queue("task-queue").send(queue_message(tenant, task_id))


def enqueue_later(tenant: str, task_id: str, delay_seconds: int) -> None:
    store.queue("task-queue").send(queue_message(tenant, task_id), delay_seconds=delay_seconds)


def list_page(tenant: str, agent_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    page = store.page("tasks", store.agent_pk(tenant, agent_id), prefix="TASK#", limit=limit, cursor=cursor,
                      descending=True)
    items = []
    for entry in page.items:
        task = get(tenant, entry["task_id"])
        if task is not None:
            items.append(public(task, steps=False))
    return items, page.cursor


def wait_for(tenant: str, task_id: str, until: float) -> dict[str, Any] | None:
    """Poll until the task is finished or `until` (monotonic) passes."""
    delay = 0.05
    while True:
        task = get(tenant, task_id)
        if task is None or task["status"] in TERMINAL or time.monotonic() >= until:
            return task
        time.sleep(min(delay, max(0.0, until - time.monotonic())))
        delay = min(delay * 2, 0.5)


# -- writes that keep ownership --------------------------------------------------------------

def _save(task: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Write `changes` if nobody else wrote the task since we read it; Lost otherwise."""
    merged = {k: v for k, v in {**task, **changes}.items() if v is not None}
    try:
        return tasks_table().put(merged, expected_version=task["_version"])
    except ConditionFailed:
        current = get(task["tenant_id"], task["task_id"])  # None: the agent was deleted, and its tasks
        owner = current.get("run_id") if current else None
        raise Lost(f"task {task['task_id']} is now {current and current['status']} (run {owner})") from None


def claim(tenant: str, task_id: str) -> dict[str, Any] | None:
    """Take the task for a new run; None when it is gone or finished (nothing to do)."""
    for _ in range(5):
        task = get(tenant, task_id)
        if task is None or task["status"] in TERMINAL:
            return None
        now = store.now()
        changes: dict[str, Any] = {"status": RUNNING, "run_id": secrets.token_hex(8),
                                   "attempts": int(task.get("attempts", 0)) + 1, "heartbeat_at": store.iso(now)}
        if task["status"] == QUEUED or "run_deadline" not in task:
            run_deadline = now + task["agent"]["limits"]["timeout_seconds"]
            deadline = int(run_deadline + store.int_setting("TASK_SWEEP_GRACE_SECONDS", 30))
            changes.update(started_at=store.iso(now), started_ts=now, run_deadline=run_deadline, deadline=deadline,
                           deadline_key=f"{deadline:012d}#{task_id}")
        try:
            claimed = _save(task, changes)
        except Lost:
            continue
        if claimed["deadline_key"] != task["deadline_key"]:
            tasks_table().put({"pk": DEADLINES_PK, "sk": claimed["deadline_key"], "task_id": task_id,
                               "tenant_id": tenant, "expires_at": claimed["expires_at"]})
            tasks_table().delete(DEADLINES_PK, task["deadline_key"])
        events.publish("task.started", tenant, claimed["agent_id"], {"task_id": task_id},
                       event_id=f"{task_id}.task.started")
        return claimed
    raise Lost(f"task {task_id} is contended; leaving it to the other run")


def finish(task: dict[str, Any], status: str, *, output: str | None = None,
           error: dict[str, str] | None = None) -> dict[str, Any]:
    now = store.now()
    changes: dict[str, Any] = {"status": status, "finished_at": store.iso(now), "finished_ts": now, "run_id": None}
    if task.get("started_ts") is not None:  # it ran: from its first claim to now
        changes["run_ms"] = round((now - task["started_ts"]) * 1000, 1)
    if output is not None:
        changes["output"] = output[:OUTPUT_LIMIT]
    if error is not None:
        changes["error"] = error
    done = _save(task, changes)
    tasks_table().delete(DEADLINES_PK, done["deadline_key"])
    tasks_table().put(_list_entry(done))  # the outcome, for the metrics
    publish_outcome(done)
    try:
        done = _save(done, {"outcome_published": True})
    except Lost:
        pass  # only saves a re-publish (same event id) on a redelivery
    log_event(log, "task finished", task_id=done["task_id"], agent_id=done["agent_id"], status=status,
              attempts=done.get("attempts"), steps=len(done.get("steps") or ()))
    return done


def publish_outcome(task: dict[str, Any]) -> None:
    """Publish the terminal event; the same id every time, so a re-publish is no double delivery."""
    status = task["status"]
    data = {"task_id": task["task_id"], "status": status}
    if task.get("output") is not None:
        data["output"] = task["output"][:4000]
    if task.get("error"):
        data["error"] = task["error"]
    events.publish(f"task.{status}", task["tenant_id"], task["agent_id"], data,
                   event_id=f"{task['task_id']}.task.{status}")


# -- the agent loop ----------------------------------------------------------------------------

def _clip(text: str | None) -> str | None:
    return text if text is None or len(text) <= STEP_TEXT_LIMIT else text[:STEP_TEXT_LIMIT] + "…"


def conversation(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat so far, rebuilt from the recorded steps (so a retried run resumes, not restarts)."""
    agent = task["agent"]
    messages: list[dict[str, Any]] = []
    if agent.get("system_prompt"):
        messages.append({"role": "system", "content": agent["system_prompt"]})
    messages.append({"role": "user", "content": task["input"]})
    for step in task.get("steps") or ():
        if step["type"] == "model":
            message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
            if step.get("tool_calls"):
                message["tool_calls"] = [ToolCall(c["id"], c["name"], c["arguments"]).as_openai()
                                         for c in step["tool_calls"]]
            messages.append(message)
        else:
            outcome = {"error": step["error"]} if "error" in step else {"result": step.get("result")}
            messages.append({"role": "tool", "tool_call_id": step["call_id"], "content": json.dumps(outcome)})
    return messages


def _pending_calls(task: dict[str, Any]) -> list[dict[str, Any]]:
    steps = task.get("steps") or []
    last_model = max((i for i, s in enumerate(steps) if s["type"] == "model"), default=None)
    if last_model is None:
        return []
    answered = {s["call_id"] for s in steps[last_model + 1:] if s["type"] == "tool"}
    return [c for c in steps[last_model].get("tool_calls") or () if c["id"] not in answered]


def _since(started: float) -> float:
    """Milliseconds since `started` (a perf_counter reading), for a step's timing."""
    return round((time.perf_counter() - started) * 1000, 2)


def _step(task: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    steps = list(task.get("steps") or [])
    step = {"n": len(steps) + 1, "at": store.iso(store.now()), **step}
    return _save(task, {"steps": steps + [step], "heartbeat_at": step["at"]})


def _model_api_key(model: dict[str, Any]) -> str | None:
    if model.get("backend") != "openai":
        return None
    try:
        return store.secret("model-api-key").value()
    except LinkError:
        raise ModelError("the model-api-key secret has no value; an operator must set it") from None


def run(task: dict[str, Any], *, soft_deadline: float | None = None) -> dict[str, Any]:
    """Run a claimed task to its end; Yielded if `soft_deadline` (epoch) comes first."""
    agent = task["agent"]
    allowed = agent.get("tools") or []
    tenant = task["tenant_id"]
    ctx = ToolContext(agent_id=task["agent_id"], notes=lambda agent_id: agents.notes(tenant, agent_id))
    max_steps = agent["limits"]["max_steps"]
    timeout = agent["limits"]["timeout_seconds"]
    while True:
        if store.now() >= task["run_deadline"]:
            return finish(task, TIMED_OUT, error={"code": "timeout",
                                                  "message": f"the task ran longer than its {timeout}s timeout"})
        pending = _pending_calls(task)
        if pending:
            call = pending[0]
            started = time.perf_counter()
            outcome = run_tool(call["name"], call["arguments"], ctx, allowed)
            task = _step(task, {"type": "tool", "call_id": call["id"], "tool": call["name"],
                                "arguments": call["arguments"], **outcome, "duration_ms": _since(started)})
            continue
        model_steps = sum(1 for s in task.get("steps") or () if s["type"] == "model")
        if model_steps >= max_steps:
            return finish(task, FAILED, error={"code": "step_limit",
                                               "message": f"the agent used its {max_steps} steps without a final answer"})
        if soft_deadline is not None and store.now() >= soft_deadline:
            raise Yielded(task["task_id"])
        started = time.perf_counter()
        try:
            reply = _call_model(task, soft_deadline)
        except ModelTimeout:
            if soft_deadline is None or soft_deadline >= task["run_deadline"] or store.now() >= task["run_deadline"]:
                return finish(task, TIMED_OUT, error={
                    "code": "timeout", "message": f"the task ran longer than its {timeout}s timeout"})
            raise Yielded(task["task_id"]) from None
        except ModelError as exc:
            return finish(task, FAILED, error={"code": "model_error", "message": str(exc)[:1000]})
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
        task = _step(task, {"type": "model", "content": _clip(reply.content), "tool_calls": calls,
                            "duration_ms": _since(started)})
        if not calls:
            return finish(task, SUCCEEDED, output=reply.content or "")


def _call_model(task: dict[str, Any], soft_deadline: float | None):
    model = task["agent"]["model"]
    api_key = _model_api_key(model)
    attempt = 0
    while True:
        limit = task["run_deadline"] if soft_deadline is None else min(task["run_deadline"], soft_deadline)
        try:
            return complete(model, conversation(task), task["agent"].get("tools") or [],
                            timeout=limit - store.now(), api_key=api_key)
        except ModelTimeout:
            raise
        except ModelError as exc:
            attempt += 1
            backoff = 0.5 * 2**attempt
            if not exc.transient or attempt > MODEL_RETRIES or store.now() + backoff >= limit:
                raise
            log_event(log, "model call failed; retrying", task_id=task["task_id"], error=str(exc), attempt=attempt)
            time.sleep(backoff)


# -- entry points ------------------------------------------------------------------------------

def process(tenant: str, task_id: str) -> dict[str, Any] | None:
    """What the worker does with one message: claim, run, finish — or nothing, if already done."""
    task = claim(tenant, task_id)
    if task is None:
        current = get(tenant, task_id)
        if current is not None and current["status"] in TERMINAL and not current.get("outcome_published"):
            publish_outcome(current)  # the run that finished it stopped before publishing
        return current
    try:
        return run(task)
    except Lost as exc:
        log_event(log, "task taken over by another run; stopping", task_id=task_id, detail=str(exc))
        return get(tenant, task_id)


def sweep(now: float | None = None, *, page_size: int = 100) -> list[str]:
    """Mark tasks past their deadline timed_out; returns their ids. Reads only the deadline index."""
    now = store.now() if now is None else now
    timed_out: list[str] = []
    cursor = None
    while True:
        page = tasks_table().query(DEADLINES_PK, end=f"{int(now):012d}~", limit=page_size, cursor=cursor)
        for entry in page.items:
            task = get(entry["tenant_id"], entry["task_id"]) if entry.get("tenant_id") else None
            if task is None or task["status"] in TERMINAL or task.get("deadline_key") != entry["sk"]:
                tasks_table().delete(DEADLINES_PK, entry["sk"])  # stale entry
                continue
            if task["deadline"] > now:
                continue
            was = task["status"]
            try:
                finish(task, TIMED_OUT, error={"code": "timeout", "message": (
                    f"the task was still {was} past its deadline; its run stopped or never started")})
            except Lost:
                continue  # it moved on meanwhile; the next sweep looks again
            timed_out.append(task["task_id"])
        cursor = page.cursor
        if not cursor:
            return timed_out


# -- metrics -----------------------------------------------------------------------------------

METRICS_MAX_TASKS = 5000  # tasks read for one metrics answer (the newest are dropped past it)


def _percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def _summary(entries: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {status: sum(1 for e in entries if e.get("status") == status) for status in TERMINAL}
    finished = sum(counts.values())
    durations = [e["run_ms"] for e in entries if e.get("status") in TERMINAL and e.get("run_ms") is not None]
    return {"tasks": len(entries), **counts, "unfinished": len(entries) - finished,
            "failure_rate": round((counts[FAILED] + counts[TIMED_OUT]) / finished, 4) if finished else None,
            "p50_ms": _percentile(durations, 0.50), "p95_ms": _percentile(durations, 0.95)}


def metrics(tenant: str, agent_id: str, minutes: int, now: float | None = None) -> dict[str, Any]:
    """The agent's tasks submitted in the last `minutes`, per minute of submission: how many, how
    they ended, p50/p95 run time (claim to finish) and failure rate (failed or timed out, of the
    finished ones). Reads only the agent's task list, whose entries carry each outcome."""
    from datetime import datetime

    now = store.now() if now is None else now
    first = (int(now) // 60 - minutes + 1) * 60  # the start of the oldest minute shown
    buckets: list[list[dict[str, Any]]] = [[] for _ in range(minutes)]
    cursor, read, truncated = None, 0, False
    while True:
        page = tasks_table().query(store.agent_pk(tenant, agent_id), start=f"TASK#{store.iso(first)}", end="TASK#~",
                                   limit=min(1000, METRICS_MAX_TASKS - read), cursor=cursor)
        for entry in page.items:
            created = datetime.fromisoformat(entry["sk"].split("#")[1].replace("Z", "+00:00")).timestamp()
            buckets[max(0, min(minutes - 1, int((created - first) // 60)))].append(entry)
        read += len(page.items)
        cursor = page.cursor
        if not cursor:
            break
        if read >= METRICS_MAX_TASKS:
            truncated = True
            break
    series = [{"minute": store.iso(first + i * 60), **_summary(bucket)} for i, bucket in enumerate(buckets)]
    totals = _summary([e for bucket in buckets for e in bucket])
    totals["tasks_per_minute"] = round(totals["tasks"] / minutes, 3)
    return {"agent_id": agent_id, "minutes": minutes, "since": store.iso(first), "until": store.iso(now),
            "truncated": truncated, "totals": totals, "series": series}
