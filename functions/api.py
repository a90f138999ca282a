"""HTTP API of the agent platform: tenants, keys, agents, tasks, webhooks, notes.

Every route is declared once, with `operation(...)`: its permission, body, parameters, answers
and errors. That one table drives the router, the authentication of each request and the
OpenAPI document served at /openapi.json (functions.openapi). Every authenticated route acts in
the caller's tenant only: another tenant's agents, tasks, notes, webhooks and keys are 404.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from runtime import HTTPError, Request, Response, Router

from . import agents, auth, events, store, tasks, validation, webhooks
from .validation import body_object, page_args

app = Router()

PUBLIC = "public"  # a route anyone may call (no credential)
ANY = "any"  # any valid credential, no particular permission


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI document describes it (see functions.openapi)."""

    method: str
    template: str
    permission: str
    summary: str
    answers: dict[int, str | None]  # status -> schema name of the body (None: no body)
    body: Callable[[], dict[str, Any]] | None = None
    body_required: bool = True
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()  # besides those every route of its kind has (see `errors_of`)
    media: tuple[str, ...] = ("application/json",)  # what a 2xx body may be (the dashboard's files differ)

    def errors_of(self) -> tuple[int, ...]:
        found = set(self.errors)
        if self.permission != PUBLIC:
            found |= {401, 403, 404}  # 403 and 404 also come from Omnicloud-Tenant
        if "{" in self.template:
            found.add(404)
        if (self.body is not None or self.query or set(self.headers) & {"If-Match", "Idempotency-Key"}):
            found.add(400)
        return tuple(sorted(found))


OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(method: str, template: str, permission: str, *, summary: str, answers: dict[int, str | None],
              **details: Any) -> Callable:
    """Register a route: authenticate (unless PUBLIC), check `permission`, then call the handler
    with the caller's Principal (its `tenant` is where the request acts)."""

    def register(handler: Callable) -> Callable:
        if permission == PUBLIC:
            wrapper = handler
        else:
            @wraps(handler)
            def wrapper(request: Request, **params):
                principal = auth.authenticate(request) if permission == ANY else auth.require(request, permission)
                return handler(request, principal, **params)

        OPERATIONS[(method, template)] = Operation(method, template, permission, summary, answers, **details)
        app.route(method, template)(wrapper)
        return wrapper

    return register


@app.after
def security_headers(request: Request, response: Response) -> None:
    """On every answer, on every cloud: no MIME sniffing, and nothing stored by caches on the way
    (answers carry tenants' data); only the public OpenAPI document may be cached."""
    response.headers.setdefault("x-content-type-options", "nosniff")
    if request.route_path != "/openapi.json":
        response.headers.setdefault("cache-control", "no-store")


def _if_match(request: Request) -> int | None:
    raw = request.header("if-match")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise validation.invalid('If-Match must be the ETag of the agent, e.g. If-Match: "3"')
    return int(text)


def _page(items: list, cursor: str | None) -> dict:
    return {"items": items, "next_cursor": cursor}


@operation("GET", "/health", PUBLIC, summary="Liveness", answers={200: "Health"})
def health(request: Request):
    return {"ok": True}


@operation("GET", "/openapi.json", PUBLIC, summary="This API's OpenAPI 3.1 document", answers={200: None})
def openapi_document(request: Request):
    from .openapi import document

    return Response.json(document(app, OPERATIONS), headers={"cache-control": "public, max-age=60"})


# -- tenants and keys ---------------------------------------------------------------------------

def _bootstrap_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        "name": validation.text_schema(1, 100, single_line=True, nullable=True),
        "tenant": validation.text_schema(1, 100, single_line=True, nullable=True)}}


@operation("POST", "/admin/bootstrap", PUBLIC, summary="Create the first tenant and its admin key (once)",
           answers={201: "KeyCreated"}, body=_bootstrap_schema, body_required=False, errors=(400, 401, 409, 503))
def bootstrap(request: Request):
    data = body_object(request) if request.body else {}
    validation.no_unknown(data, ("name", "tenant"))
    key_name = validation.name_field(data, required=False, default="admin")
    tenant_name = validation.name_field(data, "tenant", required=False, default="default")
    tenant, key, item = auth.bootstrap(request, tenant_name, key_name)
    return Response.json({**auth.public_key(item), "key": key, "tenant": auth.public_tenant(tenant)}, status=201)


@operation("GET", "/me", ANY, summary="Who am I: subject, tenant, permissions", answers={200: "Me"})
def whoami(request: Request, principal: auth.Principal):
    return {"subject": principal.subject, "kind": principal.kind, "tenant_id": principal.tenant,
            "permissions": sorted(principal.permissions)}


def _tenant_schema() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
        "name": validation.text_schema(1, 100, single_line=True),
        "admin_key_name": validation.text_schema(1, 100, single_line=True, nullable=True)}}


@operation("POST", "/tenants", auth.PLATFORM_PERMISSION, summary="Create a tenant and its first admin key",
           answers={201: "KeyCreated"}, body=_tenant_schema)
def create_tenant(request: Request, principal: auth.Principal):
    data = body_object(request)
    validation.no_unknown(data, ("name", "admin_key_name"))
    name = validation.name_field(data)
    key_name = validation.name_field(data, "admin_key_name", required=False, default="admin")
    tenant = auth.create_tenant(name, created_by=principal.subject)
    key, item = auth.create_key(tenant["tenant_id"], key_name, ["admin:*"], created_by=principal.subject)
    return Response.json({**auth.public_key(item), "key": key, "tenant": auth.public_tenant(tenant)}, status=201,
                         headers={"location": f"/tenants/{tenant['tenant_id']}"})


@operation("GET", "/tenants", auth.PLATFORM_PERMISSION, summary="Every tenant", answers={200: "TenantList"},
           query=("limit", "cursor"))
def list_tenants(request: Request, principal: auth.Principal):
    limit, cursor = page_args(request)
    page = store.page("agents", auth.TENANTS_PK, prefix="TENANT#", limit=limit, cursor=cursor)
    return _page([auth.public_tenant(item) for item in page.items], page.cursor)


def _key_schema() -> dict[str, Any]:
    return validation.key_schema(auth.PERMISSIONS)


@operation("POST", "/admin/keys", "admin:*", summary="Create an API key in the caller's tenant",
           answers={201: "KeyCreated"}, body=_key_schema)
def create_key(request: Request, principal: auth.Principal):
    name, permissions = validation.key_fields(body_object(request), auth.PERMISSIONS)
    if auth.PLATFORM_PERMISSION in permissions and not principal.allows(auth.PLATFORM_PERMISSION):
        raise auth.forbidden(f"only a holder of {auth.PLATFORM_PERMISSION!r} may grant it")
    key, item = auth.create_key(principal.tenant, name, permissions, created_by=principal.subject)
    return Response.json({**auth.public_key(item), "key": key}, status=201)


@operation("GET", "/admin/keys", "admin:*", summary="The API keys of the caller's tenant", answers={200: "KeyList"},
           query=("limit", "cursor"))
def list_keys(request: Request, principal: auth.Principal):
    limit, cursor = page_args(request)
    page = store.page("agents", store.tenant_pk(principal.tenant), prefix="KEY#", limit=limit, cursor=cursor)
    return _page([auth.public_key(item) for item in page.items], page.cursor)


@operation("DELETE", "/admin/keys/{key_id}", "admin:*", summary="Revoke an API key of the caller's tenant",
           answers={204: None})
def revoke_key(request: Request, principal: auth.Principal, key_id: str):
    if not auth.revoke_key(principal.tenant, key_id):
        raise HTTPError(404, "key_not_found", f"no API key {key_id!r}")
    return None


# -- agents ---------------------------------------------------------------------------------

def _agent_response(agent: dict[str, Any], status: int = 200, **headers: str) -> Response:
    return Response.json(agents.public(agent), status=status, headers={"etag": agents.etag(agent), **headers})


@operation("POST", "/agents", "agent:create", summary="Create an agent", answers={201: "Agent"},
           body=lambda: validation.agent_schema(partial=False))
def create_agent(request: Request, principal: auth.Principal):
    fields = validation.agent_fields(body_object(request))
    agent = agents.create(principal.tenant, fields, created_by=principal.subject)
    events.publish("agent.created", principal.tenant, agent["agent_id"],
                   {"agent_id": agent["agent_id"], "name": agent["name"]},
                   event_id=f"{agent['agent_id']}.agent.created")
    return _agent_response(agent, 201, location=f"/agents/{agent['agent_id']}")


@operation("GET", "/agents", "agent:read", summary="The tenant's agents", answers={200: "AgentList"},
           query=("limit", "cursor"))
def list_agents(request: Request, principal: auth.Principal):
    return _page(*agents.list_page(principal.tenant, *page_args(request)))


@operation("GET", "/agents/{agent_id}", "agent:read", summary="An agent (its version is the ETag)",
           answers={200: "Agent"})
def get_agent(request: Request, principal: auth.Principal, agent_id: str):
    return _agent_response(agents.require(principal.tenant, agent_id))


@operation("PATCH", "/agents/{agent_id}", "agent:update", summary="Change some fields of an agent",
           answers={200: "Agent"}, body=lambda: validation.agent_schema(partial=True), headers=("If-Match",),
           errors=(409, 412))
def update_agent(request: Request, principal: auth.Principal, agent_id: str):
    data = body_object(request)
    expected = _if_match(request)
    if isinstance(data.get("limits"), dict):  # a partial update of limits keeps the other limit
        data["limits"] = {**agents.require(principal.tenant, agent_id, fresh=True)["limits"], **data["limits"]}
    changes = validation.agent_fields(data, partial=True)
    agent = agents.update(principal.tenant, agent_id, changes, expected_version=expected)
    events.publish("agent.updated", principal.tenant, agent_id, {"agent_id": agent_id, "changed": sorted(changes)},
                   event_id=f"{agent_id}.agent.updated.{agent['_version']}")
    return _agent_response(agent)


@operation("DELETE", "/agents/{agent_id}", "agent:delete",
           summary="Delete an agent with its notes, webhooks and tasks (its queued and running tasks are canceled)",
           answers={204: None, 202: "Deleting"}, headers=("If-Match",), errors=(412,))
def delete_agent(request: Request, principal: auth.Principal, agent_id: str):
    budget = float(store.int_setting("AGENT_DELETE_BUDGET_SECONDS", 10))
    if not agents.delete(principal.tenant, agent_id, expected_version=_if_match(request), budget_seconds=budget):
        return Response.json({"agent_id": agent_id, "status": "deleting",
                              "message": "the agent is gone; its many items are still being deleted: "
                                         "send DELETE again to finish"}, status=202)
    events.publish("agent.deleted", principal.tenant, agent_id, {"agent_id": agent_id},
                   event_id=f"{agent_id}.agent.deleted")
    return None


# -- tasks ----------------------------------------------------------------------------------

def _task_response(task: dict, status: int, *, replayed: bool = False) -> Response:
    headers = {"location": f"/tasks/{task['task_id']}"}
    if replayed:
        headers["idempotent-replayed"] = "true"
    return Response.json(tasks.public(task), status=status, headers=headers)


def _submit(request: Request, principal: auth.Principal, agent_id: str):
    key = tasks.check_idempotency_key(request.header("idempotency-key"))
    fields = validation.task_fields(body_object(request))
    agent = agents.require(principal.tenant, agent_id, fresh=True)  # a write: never to a deleted agent
    return tasks.submit(principal.tenant, agent, fields, key, submitted_by=principal.subject)


@operation("POST", "/agents/{agent_id}/tasks", "task:create", summary="Submit a task (queued for the worker)",
           answers={202: "Task", 200: "Task"}, body=validation.task_schema, headers=("Idempotency-Key",),
           errors=(409, 422))
def submit_task(request: Request, principal: auth.Principal, agent_id: str):
    task, created = _submit(request, principal, agent_id)
    if created:
        tasks.enqueue(principal.tenant, task["task_id"])
        return _task_response(task, 202)
    if task["status"] == tasks.QUEUED and store.now() - task.get("created_ts", 0) > 30:
        tasks.enqueue(principal.tenant, task["task_id"])  # the first request may have stopped before enqueueing
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


@operation("POST", "/agents/{agent_id}/execute", "task:create",
           summary="Run a task and answer with its result if it ends within ?wait= seconds",
           answers={200: "Task", 202: "Task"}, body=validation.task_schema, query=("wait",),
           headers=("Idempotency-Key",), errors=(409, 422))
def execute(request: Request, principal: auth.Principal, agent_id: str):
    """Run a task here and answer with its result, if it ends within `?wait=` seconds; otherwise
    answer 202 and let the worker finish it (poll GET /tasks/{id})."""
    wait = _execute_wait(request)
    task, created = _submit(request, principal, agent_id)
    tenant = principal.tenant
    if not created:
        task = tasks.wait_for(tenant, task["task_id"], time.monotonic() + wait) or task
        return _task_response(task, 200 if task["status"] in tasks.TERMINAL else 202, replayed=True)
    # The hand-off to the worker is sent first, delayed past our budget: if this run finishes,
    # the worker finds the task done; if it yields or this instance dies, the worker resumes it.
    tasks.enqueue_later(tenant, task["task_id"], delay_seconds=int(wait) + 2)
    try:
        claimed = tasks.claim(tenant, task["task_id"])
        if claimed is not None:
            task = tasks.run(claimed, soft_deadline=store.now() + wait)
    except (tasks.Yielded, tasks.Lost):
        task = tasks.get(tenant, task["task_id"]) or task
    return _task_response(task, 200 if task["status"] in tasks.TERMINAL else 202)


@operation("GET", "/agents/{agent_id}/tasks", "task:read", summary="An agent's tasks, newest first",
           answers={200: "TaskList"}, query=("limit", "cursor"))
def list_tasks(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(principal.tenant, agent_id)
    return _page(*tasks.list_page(principal.tenant, agent_id, *page_args(request)))


def _task_or_404(tenant: str, task_id: str, agent_id: str | None = None) -> dict:
    task = tasks.get(tenant, task_id)
    if (task is None or (agent_id is not None and task["agent_id"] != agent_id)
            or agents.get(tenant, task["agent_id"]) is None):  # a deleted agent's tasks are gone too
        raise HTTPError(404, "task_not_found", f"no task {task_id!r}")
    return task


@operation("GET", "/agents/{agent_id}/tasks/{task_id}", "task:read", summary="A task of an agent, with its steps",
           answers={200: "Task"})
def get_agent_task(request: Request, principal: auth.Principal, agent_id: str, task_id: str):
    return tasks.public(_task_or_404(principal.tenant, task_id, agent_id))


@operation("GET", "/tasks/{task_id}", "task:read", summary="A task, with its steps", answers={200: "Task"})
def get_task(request: Request, principal: auth.Principal, task_id: str):
    return tasks.public(_task_or_404(principal.tenant, task_id))


@operation("GET", "/agents/{agent_id}/metrics", "task:read",
           summary="Tasks per minute, p50/p95 run time and failure rate of an agent's recent tasks",
           answers={200: "Metrics"}, query=("minutes",))
def agent_metrics(request: Request, principal: auth.Principal, agent_id: str):
    minutes = validation.minutes_arg(request)
    agents.require(principal.tenant, agent_id)
    return tasks.metrics(principal.tenant, agent_id, minutes)


# -- webhooks -------------------------------------------------------------------------------

@operation("POST", "/agents/{agent_id}/webhooks", "agent:update",
           summary="Register a webhook (its signing secret is shown once, here)", answers={201: "WebhookCreated"},
           body=validation.webhook_schema)
def create_webhook(request: Request, principal: auth.Principal, agent_id: str):
    fields = validation.webhook_fields(body_object(request))
    agents.require(principal.tenant, agent_id, fresh=True)
    webhook_id = store.new_id("wh")
    item = {"pk": store.agent_pk(principal.tenant, agent_id), "sk": f"WEBHOOK#{webhook_id}",
            "webhook_id": webhook_id, "agent_id": agent_id, **fields, "secret": webhooks.new_secret(),
            "created_at": store.iso(store.now())}
    store.table("agents").put(item, if_absent=True)
    return Response.json({**webhooks.public(item), "secret": item["secret"]}, status=201,
                         headers={"location": f"/agents/{agent_id}/webhooks/{webhook_id}"})


@operation("GET", "/agents/{agent_id}/webhooks", "agent:read", summary="An agent's webhooks",
           answers={200: "WebhookList"}, query=("limit", "cursor"))
def list_webhooks(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(principal.tenant, agent_id)
    limit, cursor = page_args(request)
    page = store.page("agents", store.agent_pk(principal.tenant, agent_id), prefix="WEBHOOK#", limit=limit,
                      cursor=cursor)
    return _page([webhooks.public(item) for item in page.items], page.cursor)


def _webhook_or_404(tenant: str, agent_id: str, webhook_id: str, *, fresh: bool = False) -> dict:
    agents.require(tenant, agent_id, fresh=fresh)
    item = store.table("agents").get(store.agent_pk(tenant, agent_id), f"WEBHOOK#{webhook_id}")
    if item is None:
        raise HTTPError(404, "webhook_not_found", f"agent {agent_id!r} has no webhook {webhook_id!r}")
    return item


@operation("GET", "/agents/{agent_id}/webhooks/{webhook_id}", "agent:read", summary="A webhook (not its secret)",
           answers={200: "Webhook"})
def get_webhook(request: Request, principal: auth.Principal, agent_id: str, webhook_id: str):
    return webhooks.public(_webhook_or_404(principal.tenant, agent_id, webhook_id))


@operation("DELETE", "/agents/{agent_id}/webhooks/{webhook_id}", "agent:update", summary="Remove a webhook",
           answers={204: None})
def delete_webhook(request: Request, principal: auth.Principal, agent_id: str, webhook_id: str):
    _webhook_or_404(principal.tenant, agent_id, webhook_id, fresh=True)
    store.table("agents").delete(store.agent_pk(principal.tenant, agent_id), f"WEBHOOK#{webhook_id}")
    return None


@operation("GET", "/agents/{agent_id}/deliveries", "agent:read",
           summary="Every attempt to deliver an event to the agent's webhooks, newest first",
           answers={200: "DeliveryList"}, query=("limit", "cursor"))
def list_deliveries(request: Request, principal: auth.Principal, agent_id: str):
    from .notifier import DELIVERY_SK

    agents.require(principal.tenant, agent_id)
    limit, cursor = page_args(request)
    page = store.page("deliveries", store.agent_pk(principal.tenant, agent_id), prefix=DELIVERY_SK, limit=limit,
                      cursor=cursor, descending=True)
    return _page([webhooks.public_delivery(item) for item in page.items], page.cursor)


# -- notes (what the notes tool searches) ---------------------------------------------------

def _note(item: dict) -> dict:
    return {k: item.get(k) for k in ("key", "text", "updated_at")}


@operation("PUT", "/agents/{agent_id}/notes/{key}", "agent:update", summary="Write a note the notes tool searches",
           answers={200: "Note"}, body=validation.note_schema)
def put_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    fields = validation.note_fields(key, body_object(request))
    agents.require(principal.tenant, agent_id, fresh=True)
    item = {"pk": store.agent_pk(principal.tenant, agent_id), "sk": f"NOTE#{key}", **fields,
            "updated_at": store.iso(store.now())}
    store.table("agents").put(item)
    return _note(item)


@operation("GET", "/agents/{agent_id}/notes", "agent:read", summary="An agent's notes", answers={200: "NoteList"},
           query=("limit", "cursor"))
def list_notes(request: Request, principal: auth.Principal, agent_id: str):
    agents.require(principal.tenant, agent_id)
    limit, cursor = page_args(request)
    page = store.page("agents", store.agent_pk(principal.tenant, agent_id), prefix="NOTE#", limit=limit,
                      cursor=cursor)
    return _page([_note(n) for n in page.items], page.cursor)


def _note_or_404(tenant: str, agent_id: str, key: str, *, fresh: bool = False) -> dict:
    agents.require(tenant, agent_id, fresh=fresh)
    item = store.table("agents").get(store.agent_pk(tenant, agent_id), f"NOTE#{key}")
    if item is None:
        raise HTTPError(404, "note_not_found", f"agent {agent_id!r} has no note {key!r}")
    return item


@operation("GET", "/agents/{agent_id}/notes/{key}", "agent:read", summary="A note", answers={200: "Note"})
def get_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    return _note(_note_or_404(principal.tenant, agent_id, key))


@operation("DELETE", "/agents/{agent_id}/notes/{key}", "agent:update", summary="Remove a note", answers={204: None})
def delete_note(request: Request, principal: auth.Principal, agent_id: str, key: str):
    _note_or_404(principal.tenant, agent_id, key, fresh=True)
    store.table("agents").delete(store.agent_pk(principal.tenant, agent_id), f"NOTE#{key}")
    return None


# -- the dashboard (functions/ui.py; imported on its first request, so API cold starts skip it) -----

@operation("GET", "/ui", PUBLIC, summary="The dashboard: sign in with an API key or JWT",
           answers={200: None, 308: None}, media=("text/html",))
def dashboard(request: Request):
    from . import ui

    if not request.path.endswith("/"):  # its files are relative to /ui/
        return Response(308, b"", {"location": "ui/"})
    return ui.file("index.html")


@operation("GET", "/ui/{name}", PUBLIC, summary="A file of the dashboard (script, style sheet)",
           answers={200: None}, errors=(404,), media=("text/html", "text/javascript", "text/css"))
def dashboard_file(request: Request, name: str):
    from . import ui

    return ui.file(name)
