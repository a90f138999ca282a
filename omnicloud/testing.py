"""Test an app's handlers on the local cloud that `omnicloud dev` runs: SQLite tables, queues and
topics, each call made as its function (its env, its links, its http prefix), through the same
local adapter as the dev server. No server, no port, no cloud account.

    from omnicloud.testing import LocalCloud, body

    def test_create(tmp_path):
        cloud = LocalCloud("app.yaml", tmp_path / "state")
        response = cloud.http("POST", "/items", json={"name": "a"}, headers=cloud.bearer("api-token"))
        assert response.status == 201, body(response)
        cloud.deliver()            # run queue and topic consumers until nothing is ready
"""

from __future__ import annotations

import json as jsonlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omnicloud.dev.app import LocalApp
from runtime.adapters import local as adapter
from runtime.backends import local
from runtime.links import use_environ
from runtime.types import Message, Request, Response, ScheduledEvent

__all__ = ["Delivery", "LocalCloud", "body"]


def body(response: Response) -> Any:
    """A response's body as the client gets it: parsed JSON, else text (None when empty)."""
    raw = response.body_bytes()
    if not raw:
        return None
    try:
        return jsonlib.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Delivery:
    """One message handed to a consumer by `deliver`: which function, the message, the error it raised."""

    __slots__ = ("function", "message", "error")

    def __init__(self, function: str, message: Message, error: BaseException | None):
        self.function = function
        self.message = message
        self.error = error

    def __repr__(self) -> str:
        return f"Delivery({self.function!r}, {self.message.id!r}, error={self.error!r})"


class LocalCloud:
    """The app of `app_path` on the local backend, state in `state_dir`.

    Each secret's value is the one given in `secrets` (logical name -> value), else
    `test-<name>`: fixed, because a Secret client caches its value for minutes in the process,
    as in a warm instance, and tests share one process.
    """

    def __init__(
        self,
        app_path: str | Path = "app.yaml",
        state_dir: str | Path = ".omnicloud/test-state",
        *,
        secrets: Mapping[str, str] | None = None,
    ):
        self.app = LocalApp(app_path, state_dir)
        self.spec = self.app.spec
        self.store = self.app.store
        given = dict(secrets or {})
        unknown = sorted(set(given) - set(self.spec.secrets))
        if unknown:
            raise KeyError(
                f"{unknown[0]!r} is not a secret of {self.app.app_path}; secrets: {', '.join(self.spec.secrets)}"
            )
        self._secrets = {
            local.env_var_for_secret(name): given.get(name, f"test-{name}")
            for name in self.spec.secrets
        }
        self.app.sync_subscriptions()
        # Import every handler now, as a cold start (and `omnicloud dev`) would.
        for name in self.spec.functions:
            with self.as_function(name):
                self.app.load_handler(name)

    # -- as a function

    def env(self, function: str) -> dict[str, str]:
        """Exactly the environment `function` runs with: identity, app.yaml env, links, secrets."""
        return {**self.app.function_env(function), **self._secrets}

    @contextmanager
    def as_function(self, function: str) -> Iterator[None]:
        """Run the block as `function`: runtime clients reach its links only, with its verbs."""
        with use_environ(self.env(function)):
            yield

    def secret(self, name: str) -> str:
        """The value functions linked to secret `name` read."""
        return self._secrets[local.env_var_for_secret(name)]

    def bearer(self, secret: str) -> dict[str, str]:
        """An Authorization header carrying secret `secret`'s value as a bearer token."""
        return {"authorization": f"Bearer {self.secret(secret)}"}

    # -- triggers

    def http(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        """Send a request to the function whose http prefix serves `path` (404 when none does)."""
        function = self.app.route(path)
        if function is None:
            return Response.error(404, "not_found", f"no function serves {path}")
        all_headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json)
            all_headers.setdefault("content-type", "application/json")
        raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        request = Request(
            method=method,
            path=path,
            headers=all_headers,
            query=dict(query or {}),
            body=raw,
            source_ip="127.0.0.1",
            request_id=str(uuid.uuid4()),
        )
        response = adapter.invoke_http(
            self.spec.functions[function].handler,
            request,
            function=function,
            environ=self.env(function),
        )
        response.body_bytes()  # as on the wire: sets content-type for dict/str bodies
        return response

    def deliver(self, *, rounds: int = 100) -> list[Delivery]:
        """Hand every ready message of every queue and topic subscription to its consumer, as the
        dev server does, until none is ready (messages the handlers send are delivered too).

        A handler that raises has its message retried on a later round and dead-lettered after
        the queue's max_retries (topic subscribers: their trigger's max_retries, 3 by default). Delayed messages wait for their delay.
        Returns every delivery, failed ones with their error.
        """
        done: list[Delivery] = []
        for _ in range(rounds):
            delivered = False
            for binding in self.app.queue_bindings():
                received = self.store.receive(
                    binding.queue,
                    max_messages=binding.batch_size,
                    visibility_timeout=binding.visibility_timeout,
                    max_receives=binding.max_retries + 1,
                    retention=binding.retention,
                )
                for item in received:
                    delivered = True
                    message = item.to_message()
                    try:
                        adapter.invoke_message(
                            self.spec.functions[binding.function].handler,
                            message,
                            trigger=binding.trigger,
                            function=binding.function,
                            environ=self.env(binding.function),
                        )
                    except Exception as exc:  # the handler asked for a retry
                        self.store.release(
                            item.id, item.lease, error=f"{type(exc).__name__}: {exc}"
                        )
                        done.append(Delivery(binding.function, message, exc))
                    else:
                        self.store.ack(item.id, item.lease)
                        done.append(Delivery(binding.function, message, None))
            if not delivered:
                return done
        raise RuntimeError(
            f"messages were still being delivered after {rounds} rounds; does a handler"
            " send a message for every message it handles?"
        )

    def messages(self, queue: str) -> list[Message]:
        """The messages waiting in `queue` (delayed ones included), oldest first."""
        return [item.to_message() for item in self.store.peek(queue, limit=1000)]

    def dead_letters(self, queue: str) -> list[Message]:
        """The messages dead-lettered from `queue` (for a topic subscriber: `topic~function`)."""
        return self.messages(local.dlq_name(queue))

    def run_schedule(self, function: str) -> None:
        """Fire `function`'s schedule once, now; raises what the handler raised."""
        fn = self.spec.functions[function]
        adapter.invoke_schedule(
            fn.handler,
            ScheduledEvent(schedule=fn.schedule or "", id=str(uuid.uuid4())),
            function=function,
            environ=self.env(function),
        )
