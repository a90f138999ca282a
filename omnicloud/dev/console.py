"""The console's API under `/_omnicloud/api/`: what the console page (omnicloud/dev/console/) shows
and does. Every list is paged here, on the server, so a table of 100,000 items or a history of
thousands of invocations costs the page one screenful.

The routes are registered on the local routes' one table (local_routes.py) and so sit behind its
Host and token (or session cookie and CSRF) checks.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from runtime.router import HTTPError, Router
from runtime.types import Request, Response

from . import deadletters
from .deadletters import UnknownMessage, UnknownQueue

if TYPE_CHECKING:
    from .server import DevServer

PAGE_DEFAULT, PAGE_MAX = 50, 200
BODY_PREVIEW = 2000  # characters of a message body in a list; the message itself shows it whole
COUNT_SECONDS = (
    5.0  # a table's item count is counted again at most this often (100,000 items: ~30 ms)
)


def _limit(request: Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return PAGE_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= PAGE_MAX:
        raise HTTPError(400, "invalid_request", f"limit must be a number from 1 to {PAGE_MAX}")
    return int(raw)


def _int(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise HTTPError(400, "invalid_request", f"{name} must be a whole number")
    return int(raw)


def _body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise HTTPError(400, "invalid_request", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "invalid_request", "the body must be a JSON object")
    return data


def _attributes(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, (str, int, float, bool)) for v in value.values()
    ):
        raise HTTPError(
            400, "invalid_request", 'attributes must be an object of strings, e.g. {"type": "x"}'
        )
    return {str(k): str(v) for k, v in value.items()}


def _payload(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class Console:
    """The console API of one dev server."""

    def __init__(self, server: DevServer):
        self.server = server
        self.app = server.app
        self.spec = server.app.spec
        self.store = server.app.store
        self._counts: dict[str, tuple[float, int]] = {}

    def _count(self, table: str) -> int:
        """The table's item count, at most COUNT_SECONDS old (the page polls every second)."""
        cached = self._counts.get(table)
        if cached is None or time.monotonic() - cached[0] > COUNT_SECONDS:
            cached = self._counts[table] = (time.monotonic(), self.store.table_count(table))
        return cached[1]

    def register(self, router: Router) -> None:
        routes = [
            ("GET", "/api/session", self.session),
            ("POST", "/api/logout", self.logout),
            ("GET", "/api/overview", self.overview),
            ("GET", "/api/invocations", self.invocations),
            ("GET", "/api/invocations/{seq}", self.invocation),
            ("POST", "/api/functions/{name}/invoke", self.invoke),
            ("GET", "/api/queues", self.queues),
            ("GET", "/api/queues/{name}/messages", self.messages),
            ("GET", "/api/queues/{name}/messages/{message_id}", self.message),
            ("POST", "/api/queues/{name}/redrive", self.redrive),
            ("POST", "/api/queues/{name}/purge", self.purge),
            ("POST", "/api/queues/{name}/send", self.send),
            ("POST", "/api/topics/{name}/publish", self.publish),
            ("GET", "/api/tables", self.tables),
            ("GET", "/api/tables/{name}/partitions", self.partitions),
            ("GET", "/api/tables/{name}/items", self.items),
            ("GET", "/api/tables/{name}/item", self.item),
            ("GET", "/api/schedules", self.schedules),
            ("POST", "/api/schedules/{name}/run", self.run_schedule),
            ("GET", "/api/secrets", self.secrets),
        ]
        for method, template, handler in routes:
            router.route(method, template)(handler)

    # -- session ----------------------------------------------------------------------------

    def session(self, request: Request):
        auth = self.server.console_auth
        return {"app": self.spec.name, "csrf": auth.csrf if auth else None, "pid": self.server.pid}

    def logout(self, request: Request):
        auth = self.server.console_auth
        return Response(204, b"", cookies=[auth.cleared_cookie()] if auth else [])

    # -- overview ---------------------------------------------------------------------------

    def _trigger(self, name: str) -> dict[str, Any]:
        fn = self.spec.functions[name]
        if fn.http is not None:
            return {"kind": "http", "source": fn.http}
        if fn.queue is not None:
            return {"kind": "queue", "source": fn.queue.name, "batch_size": fn.queue.batch_size}
        if fn.topic is not None:
            return {"kind": "topic", "source": fn.topic.name, "filter": dict(fn.topic.filter or {})}
        return {"kind": "schedule", "source": fn.schedule}

    def overview(self, request: Request):
        totals = self.server.invocations.totals()
        stats = self.store.queues()
        functions = [
            {
                "name": name,
                "handler": fn.handler,
                "trigger": self._trigger(name),
                "links": {res: list(verbs) for res, verbs in fn.links.items()},
                "timeout": fn.timeout,
                "totals": totals.get(name),
            }
            for name, fn in self.spec.functions.items()
        ]

        def waiting(queue: str) -> int:
            s = stats.get(queue)
            return (s.ready + s.delayed + s.in_flight) if s else 0

        resources = []
        for info in deadletters.queues_of(self.spec):
            if info.kind == "queue":
                resources.append(
                    {
                        "kind": "queue",
                        "name": info.name,
                        "count": waiting(info.name),
                        "dead_letters": waiting(info.dlq),
                    }
                )
        for topic in self.spec.topics:
            subs = [i for i in deadletters.queues_of(self.spec) if i.topic == topic]
            resources.append(
                {
                    "kind": "topic",
                    "name": topic,
                    "count": sum(waiting(i.name) for i in subs),
                    "dead_letters": sum(waiting(i.dlq) for i in subs),
                }
            )
        resources += [
            {"kind": "table", "name": name, "count": self._count(name)} for name in self.spec.tables
        ]
        resources += [
            {"kind": "secret", "name": s.name, "set": s.origin != "missing"}
            for s in self._secrets()
        ]
        return {"app": self.spec.name, "functions": functions, "resources": resources}

    # -- functions and invocations ----------------------------------------------------------

    def invocations(self, request: Request):
        function = request.query.get("function") or None
        if function is not None and function not in self.spec.functions:
            raise HTTPError(404, "not_found", f"no function {function!r}")
        outcome = request.query.get("outcome") or None
        if outcome not in (None, "ok", "error"):
            raise HTTPError(400, "invalid_request", "outcome must be ok or error")
        items = self.server.invocations.page(
            function,
            before=_int(request, "before"),
            after=_int(request, "after"),
            limit=_limit(request),
            outcome=outcome,
        )
        return {
            "items": items,
            "latest": self.server.invocations.seq,
            "totals": self.server.invocations.totals(),
        }

    def invocation(self, request: Request, seq: str):
        found = self.server.invocations.get(int(seq)) if seq.isdigit() else None
        if found is None:
            raise HTTPError(404, "not_found", f"no invocation {seq} in the recent history")
        return found

    def invoke(self, request: Request, name: str):
        from .invoke import EventFileError

        if name not in self.spec.functions:
            raise HTTPError(404, "not_found", f"no function {name!r}")
        try:
            return self.server.invoke_event(name, _body(request).get("event", {}))
        except EventFileError as exc:
            raise HTTPError(400, "invalid_request", str(exc)) from None

    # -- queues and topics ------------------------------------------------------------------

    def _queue(self, name: str) -> deadletters.QueueInfo:
        try:
            return deadletters.resolve(self.spec, name)
        except UnknownQueue as exc:
            raise HTTPError(404, "not_found", str(exc)) from None

    def queues(self, request: Request):
        stats = self.store.queues()
        out = []
        for info in deadletters.queues_of(self.spec):
            s, dead = stats.get(info.name), stats.get(info.dlq)
            out.append(
                {
                    "name": info.name,
                    "kind": info.kind,
                    "consumer": info.consumer,
                    "topic": info.topic,
                    "filter": info.filter,
                    "ready": s.ready if s else 0,
                    "delayed": s.delayed if s else 0,
                    "in_flight": s.in_flight if s else 0,
                    "oldest_age": s.oldest_age if s else None,
                    "dead_letters": (dead.ready + dead.delayed + dead.in_flight) if dead else 0,
                }
            )
        return {"queues": out, "topics": list(self.spec.topics)}

    def messages(self, request: Request, name: str):
        info = self._queue(name)
        queue = info.dlq if request.query.get("dlq") in ("1", "true") else info.name
        page = self.store.browse(queue, limit=_limit(request), after=_int(request, "after"))
        return {
            "queue": queue,
            "total": self.store.count(queue),
            "items": [deadletters.describe(m, body_limit=BODY_PREVIEW) for _, m in page],
            "next": page[-1][0] if len(page) == _limit(request) else None,
        }

    def message(self, request: Request, name: str, message_id: str):
        info = self._queue(name)
        queue = info.dlq if request.query.get("dlq") in ("1", "true") else info.name
        found = self.store.message(queue, message_id)
        if found is None:
            raise HTTPError(404, "not_found", f"no message {message_id!r} in {queue}")
        return deadletters.describe(found)

    def redrive(self, request: Request, name: str):
        info = self._queue(name)
        data = _body(request)
        message_id = data.get("message_id")
        if (message_id is None) == (data.get("all") is not True):
            raise HTTPError(400, "invalid_request", 'send {"message_id": "..."} or {"all": true}')
        try:
            moved = deadletters.redrive(
                self.store, info, str(message_id) if message_id is not None else None
            )
        except UnknownMessage as exc:
            raise HTTPError(404, "not_found", str(exc)) from None
        return {"redriven": moved, "queue": info.name}

    def purge(self, request: Request, name: str):
        info = self._queue(name)
        queue = info.dlq if _body(request).get("dlq") is True else info.name
        return {"purged": self.store.purge(queue), "queue": queue}

    def send(self, request: Request, name: str):
        from runtime.backends.base import OutgoingMessage

        if name not in self.spec.queues:
            raise HTTPError(
                404,
                "not_found",
                f"no queue {name!r} declared in app.yaml (publish to a topic instead)",
            )
        data = _body(request)
        if "body" not in data:
            raise HTTPError(400, "invalid_request", 'send {"body": ..., "attributes": {...}}')
        delay = data.get("delay_seconds", 0)
        if not isinstance(delay, int) or not 0 <= delay <= 900:
            raise HTTPError(
                400, "invalid_request", "delay_seconds must be a whole number from 0 to 900"
            )
        [message_id] = self.store.send(
            name,
            [
                OutgoingMessage(
                    body=_payload(data["body"]),
                    attributes=_attributes(data.get("attributes")),
                    delay_seconds=delay,
                )
            ],
        )
        return {"id": message_id, "queue": name}

    def publish(self, request: Request, name: str):
        from runtime.backends.base import OutgoingMessage

        if name not in self.spec.topics:
            raise HTTPError(404, "not_found", f"no topic {name!r} in app.yaml")
        data = _body(request)
        if "body" not in data:
            raise HTTPError(400, "invalid_request", 'send {"body": ..., "attributes": {...}}')
        attributes = _attributes(data.get("attributes"))
        message_id, delivered = self.store.fan_out(
            name, OutgoingMessage(body=_payload(data["body"]), attributes=attributes)
        )
        subscriptions = [
            {
                "subscriber": info.consumer,
                "queue": info.name,
                "filter": info.filter,
                "delivered": info.name in delivered,
            }
            for info in deadletters.queues_of(self.spec)
            if info.topic == name
        ]
        return {
            "id": message_id,
            "topic": name,
            "attributes": attributes,
            "subscriptions": subscriptions,
        }

    # -- tables -----------------------------------------------------------------------------

    def _table(self, name: str):
        table = self.spec.tables.get(name)
        if table is None:
            raise HTTPError(404, "not_found", f"no table {name!r} in app.yaml")
        return table

    def tables(self, request: Request):
        return [
            {
                "name": name,
                "partition_key": t.partition_key,
                "sort_key": t.sort_key,
                "ttl": t.ttl,
                "items": self._count(name),
            }
            for name, t in self.spec.tables.items()
        ]

    def partitions(self, request: Request, name: str):
        self._table(name)
        limit = _limit(request)
        keys = self.store.table_partitions(
            name,
            prefix=request.query.get("prefix") or "",
            after=request.query.get("after") or None,
            limit=limit,
        )
        return {"items": keys, "next": keys[-1] if len(keys) == limit else None}

    def items(self, request: Request, name: str):
        self._table(name)
        pk = request.query.get("pk")
        if pk is None:
            raise HTTPError(400, "invalid_request", "pk (the partition key to browse) is required")
        try:
            page = self.store.table_query(
                name,
                pk,
                prefix=request.query.get("prefix") or None,
                limit=_limit(request),
                cursor=request.query.get("cursor") or None,
            )
        except ValueError as exc:
            raise HTTPError(400, "invalid_request", str(exc)) from None
        return {"items": page.items, "cursor": page.cursor}

    def item(self, request: Request, name: str):
        table = self._table(name)
        pk, sk = request.query.get("pk"), request.query.get("sk") or ""
        if pk is None:
            raise HTTPError(
                400, "invalid_request", "pk is required (and sk, for a table with a sort key)"
            )
        found = self.store.table_get(name, pk, sk if table.sort_key else "")
        if found is None:
            raise HTTPError(404, "not_found", f"no item {pk!r}/{sk!r} in table {name!r}")
        return found

    # -- schedules and secrets --------------------------------------------------------------

    def schedules(self, request: Request):
        scheduler = self.server.scheduler
        out = []
        for name, fn in self.spec.functions.items():
            if not fn.schedule:
                continue
            next_run = None
            for job in scheduler.jobs if scheduler else ():
                if job.function == name:  # the scheduler's clock may run fast (OMNICLOUD_DEV_TICK)
                    next_run = deadletters.iso(
                        time.time() + max(0.0, job.due - scheduler.now()) / scheduler.speed
                    )
            [last] = self.server.invocations.page(name, limit=1) or [None]
            out.append(
                {
                    "function": name,
                    "schedule": fn.schedule,
                    "next_run": next_run,
                    "last_run": last
                    and {
                        k: last[k] for k in ("seq", "outcome", "ended_at", "duration_ms", "error")
                    },
                }
            )
        return out

    def run_schedule(self, request: Request, name: str):
        fn = self.spec.functions.get(name)
        if fn is None or not fn.schedule:
            raise HTTPError(404, "not_found", f"no scheduled function {name!r}")
        self.server.run_schedule_now(name)
        return Response.json({"function": name, "started": True}, status=202)

    def _secrets(self):
        return self.app.secrets(generate=False)

    def secrets(self, request: Request):
        # Names, where the value comes from, and whether there is one: never the value.
        return [
            {"name": s.name, "env": s.env, "origin": s.origin, "set": s.origin != "missing"}
            for s in self._secrets()
        ]
