"""The app as the local cloud runs it: each function's handler and its own environment (links)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnicloud.registry import registry
from runtime.backends import local
from runtime.links import link_env, use_environ
from spec import AppSpec, FunctionSpec, load_app

# A topic subscription's internal queue gets these settings (topics declare none of their own).
SUBSCRIPTION_MAX_RETRIES = 3
# Events a subscriber's consumer leases at once (each is still its own invocation, in order), as
# SNS -> SQS -> Lambda delivers up to 10; a batch ends early rather than outlive its lease. An
# idle consumer woken by a publish lets a batch gather this long first (Lambda's batching window).
SUBSCRIPTION_BATCH = 10
SUBSCRIPTION_WINDOW = 0.01  # seconds


@dataclass(frozen=True)
class QueueBinding:
    """A function consuming a queue (or a topic subscription's internal queue)."""

    function: str
    queue: str
    batch_size: int
    visibility_timeout: int
    max_retries: int
    retention: int | None
    source: str  # the queue or topic name as app.yaml says it
    trigger: str  # queue | topic
    window: float = 0.0  # seconds an idle consumer waits for a batch to gather after a wake-up


@dataclass(frozen=True)
class SecretValue:
    name: str
    env: str
    value: str | None
    origin: str  # environment | .env | generated | missing
    newly_generated: bool = False


class LocalApp:
    """app.yaml loaded for local running; handlers are imported from the app's directory."""

    def __init__(self, app_path: str | Path, state_dir: str | Path):
        self.app_path = Path(app_path).resolve()
        self.app_dir = self.app_path.parent
        self.state_dir = Path(state_dir).resolve()
        self.spec: AppSpec = load_app(Path(app_path), check_handlers=True)  # problems name the path as given
        self.store = local.Store.at(self.state_dir)

    @property
    def dotenv(self) -> Path:
        return self.app_dir / ".env"

    def process_environ(self) -> dict[str, str]:
        """Settings of the local cloud itself, shared by every function of this process."""
        return {local.STATE_DIR_ENV: str(self.state_dir), local.DOTENV_ENV: str(self.dotenv)}

    def function(self, name: str) -> FunctionSpec:
        return self.spec.functions[name]

    def function_env(self, name: str) -> dict[str, str]:
        """Exactly what the function would see on a cloud: its identity, its env, its links."""
        fn = self.spec.functions[name]
        env = {**self.process_environ(), **fn.runtime_env(name, "local")}
        kinds = registry()
        for logical, verbs in fn.links.items():
            kind = self.spec.kind_of(logical)
            definition = kinds.kinds.get(kind or "")
            if definition is None or definition.local_link is None:
                continue  # the spec checks reject links to anything else
            props = definition.local_link(logical, self.spec.section(kind)[logical])
            env.update(link_env(logical, kind, list(verbs), **props))
        return env

    def load_handler(self, name: str) -> Callable[..., Any]:
        """Import the function's `module:attribute` from the app's directory, as the adapter will.

        HandlerNotFound for a missing module or attribute; whatever the module raises otherwise.
        """
        from runtime.adapters.base import load_handler

        if str(self.app_dir) not in sys.path:
            sys.path.insert(0, str(self.app_dir))
        return load_handler(self.spec.functions[name].handler)

    def http_routes(self) -> list[tuple[str, str]]:
        """(prefix, function) pairs, longest prefix first."""
        routes = [(fn.http, name) for name, fn in self.spec.functions.items() if fn.http is not None]
        return sorted(routes, key=lambda item: len(item[0].rstrip("/")), reverse=True)

    def route(self, path: str) -> str | None:
        """The function serving `path`: the longest prefix that matches whole segments."""
        for prefix, name in self.http_routes():
            base = prefix.rstrip("/")
            if not base or path == base or path.startswith(base + "/"):
                return name
        return None

    def queue_bindings(self) -> list[QueueBinding]:
        bindings = []
        for name, fn in self.spec.functions.items():
            if fn.queue is not None:
                queue = self.spec.queues.get(fn.queue.name)
                if queue is None:
                    continue
                bindings.append(QueueBinding(name, fn.queue.name, fn.queue.batch_size,
                                             self.spec.visibility_timeout_of(fn.queue.name),
                                             queue.max_retries, queue.retention, fn.queue.name, "queue"))
            elif fn.topic is not None:
                bindings.append(QueueBinding(
                    name, local.subscription_queue(fn.topic.name, name), SUBSCRIPTION_BATCH,
                    max(30, fn.timeout + 30), SUBSCRIPTION_MAX_RETRIES, None, fn.topic.name, "topic",
                    SUBSCRIPTION_WINDOW))
        return bindings

    def sync_subscriptions(self) -> None:
        """Write the topic subscriptions of app.yaml into the state, so publishes fan out."""
        self.store.set_subscriptions([
            (fn.topic.name, name, dict(fn.topic.filter))
            for name, fn in self.spec.functions.items() if fn.topic is not None
        ])

    def secrets(self, *, generate: bool = True) -> list[SecretValue]:
        """Where each secret's local value comes from; generate (once, kept) the missing ones."""
        out = []
        with use_environ({**os.environ, **self.process_environ()}):
            for name in self.spec.secrets:
                env = local.env_var_for_secret(name)
                found = local.lookup_secret(name, env, self.store)
                if found is not None:
                    out.append(SecretValue(name, env, found[0], found[1]))
                elif generate:
                    value, created = self.store.ensure_generated_secret(name)
                    out.append(SecretValue(name, env, value, "generated", created))
                else:
                    out.append(SecretValue(name, env, None, "missing"))
        return out
