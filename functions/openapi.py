"""The agent API's OpenAPI 3.1 document, built from the route table (functions.api.OPERATIONS) and
the validation rules' JSON Schemas (functions.validation), so it says what the handlers do."""

from __future__ import annotations

import re
from typing import Any

from . import validation
from .auth import PERMISSIONS

TITLE = "omnicloud agent platform API"
VERSION = "1"

_TIME = {"type": "string", "description": "ISO-8601 UTC, e.g. 2025-01-01T00:00:00.000Z"}
_NULLABLE_TIME = {"type": ["string", "null"], "description": _TIME["description"]}
_CURSOR = {
    "type": ["string", "null"],
    "description": "pass back as ?cursor= for the next page; null at the end",
}
# What each error status may carry as its code; every error body is {"error": {"code", "message"}}.
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_request",),
    401: ("unauthorized",),
    403: ("forbidden",),
    404: (
        "not_found",
        "tenant_not_found",
        "agent_not_found",
        "task_not_found",
        "webhook_not_found",
        "note_not_found",
        "key_not_found",
    ),
    409: ("already_bootstrapped", "conflict"),
    412: ("version_mismatch",),
    422: ("idempotency_key_reused",),
    503: ("bootstrap_disabled",),
}
ERROR_MEANING = {
    400: "the request is invalid (the message says what and where)",
    401: "no credential, or an unknown, revoked, expired or malformed one",
    403: "the credential lacks the permission, or (Omnicloud-Tenant) acting in another tenant needs platform:*",
    404: "no such object in the caller's tenant (another tenant's objects are 404 too)",
    409: "conflict with the current state",
    412: "If-Match names an older version",
    422: "Idempotency-Key reused with a different request",
    503: "the installation is not set up for this",
}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _list_of(name: str) -> dict[str, Any]:
    return _obj(
        ["items", "next_cursor"],
        items={"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
        next_cursor=_CURSOR,
    )


def _schemas() -> dict[str, Any]:
    string = {"type": "string"}
    tenant = _obj(
        ["tenant_id", "name", "created_at", "created_by"],
        tenant_id=string,
        name=string,
        created_at=_TIME,
        created_by=string,
    )
    key_props = {
        "key_id": string,
        "tenant_id": string,
        "name": string,
        "permissions": {"type": "array", "items": {"enum": list(PERMISSIONS)}},
        "created_at": _TIME,
        "created_by": string,
    }
    key_required = ["key_id", "tenant_id", "name", "permissions", "created_at", "created_by"]
    task_props = {
        "task_id": string,
        "agent_id": string,
        "status": {"enum": ["queued", "running", "succeeded", "failed", "timed_out"]},
        "input": string,
        "metadata": {"type": ["object", "null"]},
        "output": {"type": ["string", "null"]},
        "error": {
            "oneOf": [{"type": "null"}, _obj(["code", "message"], code=string, message=string)]
        },
        "attempts": {"type": "integer", "minimum": 0},
        "idempotency_key": {"type": ["string", "null"]},
        "created_at": _TIME,
        "started_at": _NULLABLE_TIME,
        "finished_at": _NULLABLE_TIME,
        "step_count": {"type": "integer", "minimum": 0},
    }
    task_required = list(task_props)
    webhook_props = {
        "webhook_id": string,
        "agent_id": string,
        "url": string,
        "events": {"type": "array", "items": {"enum": ["*", *validation.EVENT_TYPES]}},
        "description": string,
        "created_at": _TIME,
    }
    count = {"type": "integer", "minimum": 0}
    nullable_ms = {"type": ["number", "null"], "description": "milliseconds"}
    summary_props = {
        "tasks": count,
        "succeeded": count,
        "failed": count,
        "timed_out": count,
        "unfinished": count,
        "failure_rate": {
            "type": ["number", "null"],
            "description": "failed or timed out, of the finished",
        },
        "p50_ms": nullable_ms,
        "p95_ms": nullable_ms,
    }
    delivery_props = {
        "webhook_id": string,
        "event_id": string,
        "event_type": string,
        "task_id": {"type": ["string", "null"]},
        "url": {"type": "string", "description": "without its query string"},
        "ok": {"type": "boolean"},
        "status": {"type": ["integer", "null"], "description": "the receiver's HTTP status"},
        "error": {"type": ["string", "null"]},
        "attempt": {"type": "integer", "minimum": 1},
        "at": _TIME,
        "duration_ms": {"type": "number"},
    }
    return {
        "Error": _obj(["error"], error=_obj(["code", "message"], code=string, message=string)),
        "Health": _obj(["ok"], ok={"const": True}),
        "Me": _obj(
            ["subject", "kind", "tenant_id", "permissions"],
            subject=string,
            kind={"enum": ["api_key", "jwt"]},
            tenant_id=string,
            permissions={"type": "array", "items": string},
        ),
        "Tenant": tenant,
        "TenantList": _list_of("Tenant"),
        "Key": _obj(key_required, **key_props),
        "KeyCreated": _obj(
            [*key_required, "key"],
            **key_props,
            key={
                "type": "string",
                "description": "the API key: shown once, only its SHA-256 is kept",
            },
            tenant={"$ref": "#/components/schemas/Tenant"},
        ),
        "KeyList": _list_of("Key"),
        "Agent": _obj(
            [
                "agent_id",
                "name",
                "description",
                "model",
                "system_prompt",
                "tools",
                "limits",
                "created_at",
                "updated_at",
                "created_by",
            ],
            agent_id=string,
            name=string,
            description=string,
            model={
                "type": "object",
                "required": ["backend"],
                "properties": {"backend": {"enum": ["echo", "openai"]}},
            },
            system_prompt=string,
            tools={"type": "array", "items": string},
            limits=_obj(
                ["max_steps", "timeout_seconds"],
                max_steps={"type": "integer"},
                timeout_seconds={"type": "integer"},
            ),
            created_at=_TIME,
            updated_at=_TIME,
            created_by=string,
        ),
        "AgentList": _list_of("Agent"),
        "Deleting": _obj(
            ["agent_id", "status", "message"],
            agent_id=string,
            status={"const": "deleting"},
            message=string,
        ),
        "Task": _obj(
            [*task_required, "steps"],
            **task_props,
            steps={"type": "array", "items": {"type": "object", "required": ["n", "type"]}},
        ),
        "TaskSummary": _obj(task_required, **task_props),
        "TaskList": _list_of("TaskSummary"),
        "Webhook": _obj(list(webhook_props), **webhook_props),
        "WebhookCreated": _obj(
            [*webhook_props, "secret"],
            **webhook_props,
            secret={"type": "string", "description": "the signing secret: shown once"},
        ),
        "WebhookList": _list_of("Webhook"),
        "Delivery": _obj(list(delivery_props), **delivery_props),
        "DeliveryList": _list_of("Delivery"),
        "Metrics": _obj(
            ["agent_id", "minutes", "since", "until", "truncated", "totals", "series"],
            agent_id=string,
            minutes={"type": "integer"},
            since=_TIME,
            until=_TIME,
            truncated={"type": "boolean", "description": "more tasks than one answer reads"},
            totals=_obj(
                [*summary_props, "tasks_per_minute"],
                **summary_props,
                tasks_per_minute={"type": "number"},
            ),
            series={
                "type": "array",
                "items": _obj(["minute", *summary_props], minute=_TIME, **summary_props),
            },
        ),
        "Note": _obj(["key", "text", "updated_at"], key=string, text=string, updated_at=_TIME),
        "NoteList": _list_of("Note"),
    }


_HEADER = {"schema": {"type": "string"}}
_SECURITY_HEADERS = {"X-Content-Type-Options": {"required": True, "schema": {"const": "nosniff"}}}
_NO_STORE = {"Cache-Control": {"required": True, "schema": {"const": "no-store"}}}
# Response headers a route's answers carry, by the schema of their body.
_BODY_HEADERS = {
    "Agent": {
        "ETag": {
            "required": True,
            **_HEADER,
            "description": "the agent's version; send it "
            "back as If-Match to change or delete only that version",
        }
    }
}

_PARAMETERS = {
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": validation.PAGE_MAX,
            "default": validation.PAGE_DEFAULT,
        },
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 4096},
        "description": "next_cursor of the previous page",
    },
    "If-Match": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": 'the ETag of the version this change is for, e.g. "3"',
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
        "description": "the same key with the same body returns the same task, run once",
    },
    "Omnicloud-Tenant": {
        "name": "Omnicloud-Tenant",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "act in this tenant instead of the credential's own: needs platform:*",
    },
}


def _minutes_parameter() -> dict[str, Any]:
    return {
        "name": "minutes",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": validation.METRICS_MINUTES_MAX,
            "default": validation.METRICS_MINUTES_DEFAULT,
        },
        "description": "the window: tasks submitted in the last this many minutes",
    }


def _wait_parameter() -> dict[str, Any]:
    from .store import int_setting

    return {
        "name": "wait",
        "in": "query",
        "required": False,
        "schema": {
            "type": "number",
            "minimum": 1,
            "maximum": int_setting("EXECUTE_MAX_WAIT_SECONDS", 25),
        },
        "description": "seconds to wait for the result before answering 202",
    }


def _operation(op: Any) -> dict[str, Any]:
    public = op.permission == "public"
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", op.template)
    ]
    special = {"wait": _wait_parameter, "minutes": _minutes_parameter}
    parameters += [special[name]() if name in special else _PARAMETERS[name] for name in op.query]
    parameters += [_PARAMETERS[name] for name in op.headers]
    if not public:
        parameters.append(_PARAMETERS["Omnicloud-Tenant"])
    responses: dict[str, Any] = {}
    for status, schema in sorted(op.answers.items()):
        answer: dict[str, Any] = {"description": "the answer" if status < 300 else "see the body"}
        headers = {**_SECURITY_HEADERS, **(_NO_STORE if op.template != "/openapi.json" else {})}
        if schema is not None:
            answer["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
            }
            headers.update(_BODY_HEADERS.get(schema, {}))
        elif status < 300 and op.media != ("application/json",):
            answer["content"] = {media: {"schema": {"type": "string"}} for media in op.media}
        elif status not in (204, 308):
            answer["content"] = {"application/json": {"schema": {"type": "object"}}}
        if status == 308:
            headers["Location"] = {"required": True, **_HEADER}
        answer["headers"] = headers
        responses[str(status)] = answer
    for status in op.errors_of():
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', op.template)}".rstrip(
            "_"
        ),
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
        "security": [] if public else [{"bearer": []}],
    }
    if not public and op.permission != "any":
        out["description"] = f"Needs the {op.permission} permission."
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body()}},
        }
    return out


def document(router: Any, operations: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `router` (each must be in `operations`)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in router.routes:
        op = operations.get((route.method, route.template))
        if op is None:
            raise RuntimeError(
                f"route {route.method} {route.template} is not declared with operation(...)"
            )
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(op)
    errors = {
        f"Error{status}": {
            "description": ERROR_MEANING[status],
            "headers": {**_SECURITY_HEADERS, **_NO_STORE},
            "content": {
                "application/json": {
                    "schema": _obj(
                        ["error"],
                        error=_obj(
                            ["code", "message"],
                            code={"enum": list(codes)},
                            message={"type": "string"},
                        ),
                    )
                }
            },
        }
        for status, codes in ERROR_CODES.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Every object belongs to a tenant; callers see and change only their tenant's. "
            'Errors are JSON: {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "responses": errors,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key (ak_...) or a JWT (HS256/RS256)",
                }
            },
        },
    }
