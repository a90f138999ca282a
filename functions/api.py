"""HTTP API of the agent platform: keys, agents, tasks, webhooks, notes. Every route checks a permission."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from runtime import HTTPError, Request, Response, Router

from . import agents, auth, events, store, tasks, validation, webhooks
from .validation import body_object, page_args

app = Router()


def needs(permission: str | None) -> Callable:
    """Authenticate the caller and require `permission` (None: any valid credential)."""

    def decorate(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapper(request: Request, **params):
            principal = auth.authenticate(request) if permission is None else auth.require(request, permission)
            return handler(request, principal, **params)

        return wrapper

    return decorate


def _if_match(request: Request) -> int | None:
    raw = request.header("if-match")
    if raw is None or raw.strip() == "*":
        return None
    try:
        return int(raw.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise HTTPError(400, "invalid_if_match", 'If-Match must be the agent version, e.g. If-Match: "3"') from None


def _page(items: list, cursor: str | None) -> dict:
    return {"items": items, "next_cursor": cursor}


@app.get("/health")
def health(request: Request):
    return {"ok": True}


# -- keys -----------------------------------------------------------------------------------

@app.post("/admin/bootstrap")
def bootstrap(request: Request):
    data = body_object(request) if request.body else {}
    validation.no_unknown(data, ("name",))
    name = validation.string(data, "name", max_len=100, default="admin")
    key, item = auth.bootstrap(request, name)
    return Response.json({**auth.public_key(item), "key": key}, status=201)


@app.get("/me")
@needs(None)
def whoami(request: Request, principal: auth.Principal):
    return {"subject": principal.subject, "kind": principal.kind, "permissions": sorted(principal.permissions)}


@app.post("/admin/keys")
@needs("admin:*")
def create_key(request: Request, principal: auth.Principal):
    data = body_object(request)
    validation.no_unknown(data, ("name", "permissions"))
    name = validation.string(data, "name", required=True, max_len=100)
    permissions = data.get("permissions")
    if not isinstance(permissions, list) or not permissions or not all(p in auth.PERMISSIONS for p in permissions):
        raise validation.invalid(f"permissions must be a non-empty list of {', '.join(auth.PERMISSIONS)}")
    key, item = auth.create_key(name, permissions, created_by=principal.subject)
    return Response.json({**auth.public_key(item), "key": key}, status=201)


@app.get("/admin/keys")
@needs("admin:*")
def list_keys(request: Request, principal: auth.Principal):
    limit, cursor = page_args(request)
    try:
        page = store.table("agents").query(auth.KEYS_PK, limit=limit, cursor=cursor)
    except ValueError:
        raise HTTPError(400, "invalid_cursor", "cursor is not one this list returned; start again without it") from None
    return _page([auth.public_key(item) for item in page.items], page.cursor)


@app.delete("/admin/keys/{key_id}")
@needs("admin:*")
def revoke_key(request: Request, principal: auth.Principal, key_id: str):
    if store.table("agents").get(auth.KEYS_PK, key_id) is None:
        raise HTTPError(404, "key_not_found", f"no API key {key_id!r}")
    store.table("agents").delete(auth.KEYS_PK, key_id)
    auth.forget_cached_keys()
    return None


# -- agents ---------------------------------------------------------------------------------

@app.post("/agents")
@needs("agent:create")
def create_agent(request: Request, principal: auth.Principal):
    fields = validation.agent_fields(body_object(request))
    agent = agents.create(fields, created_by=principal.subject)
    events.publish("agent.created", agent["agent_id"], {"agent_id": agent["agent_id"], "name": agent["name"]},
                   event_id=f"{agent['agent_id']}.agent.created")
    return Response.json(agents.public(agent), status=201,
                         headers={"location": f"/agents/{agent['agent_id']}", "etag": f'"{agent["_version"]}"'})


@app.get("/agents")
@needs("agent:read")
def list_agents(request: Request, principal: auth.Principal):
    return _page(*agents.list_page(*page_args(request)))


@app.get("/agents/{agent_id}")
@needs("agent:read")
def get_agent(request: Request, principal: auth.Principal, agent_id: str):
    agent = agents.require(agent_id)
    return Response.json(agents.public(agent), headers={"etag": f'"{agent["_version"]}"'})


@app.patch("/agents/{agent_id}")
@needs("agent:update")
def update_agent(request: Request, principal: auth.Principal, agent_id: str):
    data = body_object(request)
    if isinstance(data.get("limits"), dict):  # a partial update of limits keeps the other limit
        data["limits"] = {**agents.require(agent_id, fresh=True)["limits"], **data["limits"]}
    changes = validation.agent_fields(data, partial=True)
    agent = agents.update(agent_id, changes, expected_version=_if_match(request))
    events.publish("agent.updated", agent_id, {"agent_id": agent_id, "changed": sorted(changes)},
                   event_id=f"{agent_id}.agent.updated.{agent['_version']}")
    return Response.json(agents.public(agent), headers={"etag": f'"{agent["_version"]}"'})


@app.delete("/agents/{agent_id}")
@needs("agent:delete")
def delete_agent(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(agent_id, fresh=True)
    agents.delete(agent_id, expected_version=_if_match(request))
    events.publish("agent.deleted", agent_id, {"agent_id": agent_id}, event_id=f"{agent_id}.agent.deleted")
    return None


# -- tasks ----------------------------------------------------------------------------------

def _task_response(task: dict, status: int, *, replayed: bool = False) -> Response:
    headers = {"location": f"/tasks/{task['task_id']}"}
    if replayed:
        headers["idempotent-replayed"] = "true"
    return Response.json(tasks.public(task), status=status, headers=headers)


def _submit(request: Request, principal: auth.Principal, agent_id: str):
    agent = agents.require(agent_id)
    fields = validation.task_fields(body_object(request))
    key = tasks.check_idempotency_key(request.header("idempotency-key"))
    return tasks.submit(agent, fields, key, submitted_by=principal.subject)


@app.post("/agents/{agent_id}/tasks")
@needs("task:create")
def submit_task(request: Request, principal: auth.Principal, agent_id: str):
    task, created = _submit(request, principal, agent_id)
    if created:
        tasks.enqueue(task["task_id"])
        return _task_response(task, 202)
    if task["status"] == tasks.QUEUED and store.now() - task.get("created_ts", 0) > 30:
        tasks.enqueue(task["task_id"])  # the first request may have stopped before enqueueing
    return _task_response(task, 200, replayed=True)


def _execute_wait(request: Request) -> float:
    maximum = store.int_setting("EXECUTE_MAX_WAIT_SECONDS", 25)
    raw = request.query.get("wait")
    try:
        wait = float(raw) if raw is not None else float(store.int_setting("EXECUTE_WAIT_SECONDS", 10))
    except ValueError:
        raise validation.invalid(f"wait must be a number of seconds from 1 to {maximum}") from None
    if not 1 <= wait <= maximum:
        raise validation.invalid(f"wait must be a number of seconds from 1 to {maximum}")
    return wait


@app.post("/agents/{agent_id}/execute")
@needs("task:create")
def execute(request: Request, principal: auth.Principal, agent_id: str):
    """Run a task here and answer with its result, if it ends within `?wait=` seconds; otherwise
    answer 202 and let the worker finish it (poll GET /tasks/{id})."""
    wait = _execute_wait(request)
    task, created = _submit(request, principal, agent_id)
    if not created:
        task = tasks.wait_for(task["task_id"], time.monotonic() + wait) or task
        return _task_response(task, 200 if task["status"] in tasks.TERMINAL else 202, replayed=True)
    # The hand-off to the worker is sent first, delayed past our budget: if this run finishes,
    # the worker finds the task done; if it yields or this instance dies, the worker resumes it.
    tasks.enqueue_later(task["task_id"], delay_seconds=int(wait) + 2)
    try:
        claimed = tasks.claim(task["task_id"])
        if claimed is not None:
            task = tasks.run(claimed, soft_deadline=store.now() + wait)
    except (tasks.Yielded, tasks.Lost):
        task = tasks.get(task["task_id"]) or task
    return _task_response(task, 200 if task["status"] in tasks.TERMINAL else 202)


@app.get("/agents/{agent_id}/tasks")
@needs("task:read")
def list_tasks(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(agent_id)
    return _page(*tasks.list_page(agent_id, *page_args(request)))


def _task_or_404(task_id: str, agent_id: str | None = None) -> dict:
    task = tasks.get(task_id)
    if task is None or (agent_id is not None and task["agent_id"] != agent_id):
        raise HTTPError(404, "task_not_found", f"no task {task_id!r}")
    return task


@app.get("/agents/{agent_id}/tasks/{task_id}")
@needs("task:read")
def get_agent_task(request: Request, principal: auth.Principal, agent_id: str, task_id: str):
    return tasks.public(_task_or_404(task_id, agent_id))


@app.get("/tasks/{task_id}")
@needs("task:read")
def get_task(request: Request, principal: auth.Principal, task_id: str):
    return tasks.public(_task_or_404(task_id))


# -- webhooks -------------------------------------------------------------------------------

@app.post("/agents/{agent_id}/webhooks")
@needs("agent:update")
def create_webhook(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(agent_id)
    fields = validation.webhook_fields(body_object(request))
    webhook_id = store.new_id("wh")
    item = {"pk": f"agent#{agent_id}", "sk": f"webhook#{webhook_id}", "webhook_id": webhook_id,
            "agent_id": agent_id, **fields, "secret": webhooks.new_secret(), "created_at": store.iso(store.now())}
    store.table("agents").put(item, if_absent=True)
    # The signing secret is shown once, here; receivers verify deliveries with it.
    return Response.json({**webhooks.public(item), "secret": item["secret"]}, status=201,
                         headers={"location": f"/agents/{agent_id}/webhooks/{webhook_id}"})


@app.get("/agents/{agent_id}/webhooks")
@needs("agent:read")
def list_webhooks(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(agent_id)
    limit, cursor = page_args(request)
    page = store.table("agents").query(f"agent#{agent_id}", prefix="webhook#", limit=limit, cursor=cursor)
    return _page([webhooks.public(item) for item in page.items], page.cursor)


def _webhook_or_404(agent_id: str, webhook_id: str) -> dict:
    item = store.table("agents").get(f"agent#{agent_id}", f"webhook#{webhook_id}")
    if item is None:
        raise HTTPError(404, "webhook_not_found", f"agent {agent_id!r} has no webhook {webhook_id!r}")
    return item


@app.get("/agents/{agent_id}/webhooks/{webhook_id}")
@needs("agent:read")
def get_webhook(request: Request, principal: auth.Principal, agent_id: str, webhook_id: str):
    return webhooks.public(_webhook_or_404(agent_id, webhook_id))


@app.delete("/agents/{agent_id}/webhooks/{webhook_id}")
@needs("agent:update")
def delete_webhook(request: Request, principal: auth.Principal, agent_id: str, webhook_id: str):
    _webhook_or_404(agent_id, webhook_id)
    store.table("agents").delete(f"agent#{agent_id}", f"webhook#{webhook_id}")
    return None


# -- notes (what the notes tool searches) ---------------------------------------------------

@app.put("/agents/{agent_id}/notes/{key}")
@needs("agent:update")
def put_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    agents.require(agent_id)
    fields = validation.note_fields(key, body_object(request))
    item = {"pk": agents.notes_pk(agent_id), "sk": f"note#{key}", **fields, "updated_at": store.iso(store.now())}
    store.table("agents").put(item)
    return {k: item[k] for k in ("key", "text", "updated_at")}


@app.get("/agents/{agent_id}/notes")
@needs("agent:read")
def list_notes(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(agent_id)
    limit, cursor = page_args(request)
    page = store.table("agents").query(agents.notes_pk(agent_id), prefix="note#", limit=limit, cursor=cursor)
    return _page([{k: n.get(k) for k in ("key", "text", "updated_at")} for n in page.items], page.cursor)


@app.get("/agents/{agent_id}/notes/{key}")
@needs("agent:read")
def get_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    item = store.table("agents").get(agents.notes_pk(agent_id), f"note#{key}")
    if item is None:
        raise HTTPError(404, "note_not_found", f"agent {agent_id!r} has no note {key!r}")
    return {k: item.get(k) for k in ("key", "text", "updated_at")}


@app.delete("/agents/{agent_id}/notes/{key}")
@needs("agent:update")
def delete_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    store.table("agents").delete(agents.notes_pk(agent_id), f"note#{key}")
    return None
