"""`omnicloud dev`: the local cloud — HTTP gateway, queue pollers, topic fan-out, scheduler, reload.

State is durable in SQLite (runtime.backends.local), so a restart, even after kill -9, picks up
every message that was in flight. Hidden knobs (for tests and demos):
  OMNICLOUD_DEV_TICK=<s>         one scheduled minute lasts <s> seconds (see dev/scheduler.py)
  OMNICLOUD_DEV_RETRY_DELAY=<s>  first retry backoff of a failed message (default 1, doubling)
  OMNICLOUD_DEV_POLL=<s>         queue poll interval when idle (default 0.2); a send or publish from
                                 this process wakes the consumers at once, the poll finds the rest
  OMNICLOUD_DEV_GRACE=<s>        how long Ctrl-C waits for running invocations (default 10)
  OMNICLOUD_DEV_HTTP_TIMEOUT=<s> a request (head and body) must arrive within <s> seconds of its
                                 first byte, else 408 (default 30)
  OMNICLOUD_DEV_HTTP_IDLE=<s>    a connection without a request is closed after <s> seconds (default 5)
  OMNICLOUD_DEV_HTTP_THREADS=<n> threads running HTTP invocations at once (default 64)
  OMNICLOUD_DEV_HTTP_CONNECTIONS=<n>  open connections before new requests get 503 (default 512)
  OMNICLOUD_DEV_HISTORY=<n>      invocations the console keeps per function (default 1000)
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtime.adapters import local as adapter
from runtime.log import configure, event
from runtime.types import Request, Response, ScheduledEvent

from .app import LocalApp, QueueBinding
from .console_auth import ConsoleAuth, write_server_file
from .gateway import INTERNAL_PREFIX, Gateway, GatewayApp, GatewaySettings, listen
from .invocations import InvocationLog
from .local_routes import TOKEN_FILE, LocalRoutes, load_token

log = logging.getLogger("omnicloud.dev")

HOST = "127.0.0.1"
RELOADED_ENV = "OMNICLOUD_DEV_RELOADED"
LOCK_FILE = "dev.lock"
SECRETS_FILE = "generated-secrets.env"
CONSUMER_CONCURRENCY = 4  # consumer threads per queue binding, each: lease, invoke, ack
EXIT_USAGE = 2
EXIT_FAILED = 1


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def gateway_settings() -> GatewaySettings:
    defaults = GatewaySettings()
    return GatewaySettings(
        request_timeout=_float_env("OMNICLOUD_DEV_HTTP_TIMEOUT", defaults.request_timeout),
        idle_timeout=_float_env("OMNICLOUD_DEV_HTTP_IDLE", defaults.idle_timeout),
        threads=max(1, int(_float_env("OMNICLOUD_DEV_HTTP_THREADS", defaults.threads))),
        max_connections=max(1, int(_float_env("OMNICLOUD_DEV_HTTP_CONNECTIONS", defaults.max_connections))),
    )


def _say(line: str = "") -> None:
    print(line, flush=True)


def _fail(line: str) -> None:
    print(f"omnicloud dev: {line}", file=sys.stderr, flush=True)


# -- one dev server per state dir --------------------------------------------------------------


def acquire_lock(state_dir: Path) -> tuple[int | None, str]:
    """Hold an exclusive lock on the state dir. The OS drops it when the process dies (even by
    kill -9), so a lock left by a dead pid is simply taken over. Returns (fd, holder pid)."""
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        return None, holder
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd, str(os.getpid())


# -- the server ----------------------------------------------------------------------------------


def _nothing() -> None:
    pass


class _Wakeup:
    """Wakes a queue's idle consumers when this process enqueues on it, instead of their next poll."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.seq = 0
        self._waiting = 0
        self._gathering = 0

    def notify(self, n: int) -> None:
        with self._cond:
            self.seq += 1
            if self._waiting and not self._gathering:  # a gathering consumer takes these too
                self._cond.notify(n)

    def wait(self, seen: int, timeout: float) -> bool:
        """Sleep up to `timeout`, unless something was enqueued since `seen` was read. True if
        woken by an enqueue."""
        with self._cond:
            if self.seq != seen:
                return True
            self._waiting += 1
            try:
                return self._cond.wait(timeout)
            finally:
                self._waiting -= 1

    def gather(self, window: float, stop: threading.Event) -> None:
        """Let a batch gather for `window` seconds; meanwhile enqueues wake no other consumer."""
        with self._cond:
            self._gathering += 1
        try:
            stop.wait(window)
        finally:
            with self._cond:
                self._gathering -= 1


class DevServer:
    def __init__(self, app: LocalApp, port: int, *, reload: bool, token: str):
        self.app = app
        self.token = token  # guards the local routes (local_routes.py)
        self.port = port
        self.reload = reload
        self.stop_event = threading.Event()
        self.restart_reason: str | None = None
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.gateway: Gateway | None = None
        self.http = gateway_settings()
        self.scheduler = None
        self._active = 0
        self._active_cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.retry_delay = _float_env("OMNICLOUD_DEV_RETRY_DELAY", 1.0)
        self.poll = _float_env("OMNICLOUD_DEV_POLL", 0.2)
        self.grace = _float_env("OMNICLOUD_DEV_GRACE", 10.0)
        self._environs: dict[str, dict[str, str]] = {}
        self._wakeups: dict[str, _Wakeup] = {}
        self._local = threading.local()  # .wakes: consumers to wake when this thread's invocation ends
        self.pid = os.getpid()
        self.invocations = InvocationLog(limit=max(1, int(_float_env("OMNICLOUD_DEV_HISTORY", 1000))))
        self.console_auth: ConsoleAuth | None = None

    def function_env(self, function: str) -> dict[str, str]:
        """The function's environment, built once: app.yaml and the state dir are fixed for a run."""
        env = self._environs.get(function)
        if env is None:
            env = self._environs[function] = self.app.function_env(function)
        return env

    # -- lifecycle

    def bind(self) -> None:
        """Listen on the port now (OSError if it is taken); `serve()` answers later."""
        from .console import Console

        sock = listen(HOST, self.port, self.http.backlog)
        self.port = sock.getsockname()[1]
        self.console_auth = ConsoleAuth(self.token, self.port)
        routes = LocalRoutes(self.token, self.app.store, self.app.spec.name, self.console_auth)
        Console(self).register(routes.router)
        write_server_file(self.app.state_dir, self.url, self.console_auth.boot)
        app = GatewayApp(self.http, routes, route=self.app.route, invoke=self.invoke_http,
                         timeout_of=lambda function: self.app.function(function).timeout,
                         describe_routes=lambda: ", ".join(prefix for prefix, _ in self.app.http_routes()) or "none")
        self.gateway = Gateway(app, sock, self.http)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start the consumers, scheduler and watchers; `serve()` then opens the gateway."""
        from .scheduler import Scheduler

        logging.getLogger().addHandler(self.invocations)  # the console's history (invocations.py)

        released = self.app.store.release_leases(refund=True)
        if released:
            event(log, "picked up messages left in flight by the previous run", released=released)
        self.app.sync_subscriptions()
        bindings = self.app.queue_bindings()
        self._wakeups = {binding.queue: _Wakeup() for binding in bindings}
        self.app.store.on_enqueue(self._enqueued)
        for binding in bindings:
            for n in range(CONSUMER_CONCURRENCY):
                self._spawn(self._consume, f"queue:{binding.queue}:{n}", binding, self._wakeups[binding.queue])
        jobs = {name: fn.schedule for name, fn in self.app.spec.functions.items() if fn.schedule}
        self.scheduler = Scheduler(jobs, self._fire_schedule, store=self.app.store, stop=self.stop_event,
                                   housekeeping=self._housekeeping)
        if jobs:
            self._spawn(self.scheduler.run, "scheduler")
        if self.reload:
            self._spawn(self._watch, "reload")

    def serve(self) -> None:
        """Answer HTTP (the socket is bound already; early clients wait in its backlog)."""
        assert self.gateway is not None
        self.gateway.start()

    def _spawn(self, target, name: str, *args, **kwargs) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _enqueued(self, queue: str, count: int) -> None:
        wakeup = self._wakeups.get(queue)
        if wakeup is None:
            return
        deferred = getattr(self._local, "wakes", None)
        if deferred is None:
            wakeup.notify(count)
        else:
            deferred.append((wakeup, count))

    def defer_wakes(self) -> None:
        """Hold the consumer wake-ups this thread causes until `flush_wakes`: a woken consumer
        would compete for the GIL with the invocation (and its HTTP answer) still under way."""
        self._local.wakes = []

    def flush_wakes(self) -> None:
        wakes, self._local.wakes = getattr(self._local, "wakes", None), None
        self._notify(wakes)

    def request_stop(self, reason: str | None = None) -> None:
        if reason and self.restart_reason is None:
            self.restart_reason = reason
        self.stop_event.set()

    def shutdown(self) -> None:
        """Stop accepting, let running invocations finish (up to the grace period), and hand
        every message still leased back to the queue for the next start."""
        if self.gateway is not None:
            self.gateway.stop(self.grace)
        deadline = time.monotonic() + self.grace
        with self._active_cond:
            while self._active and time.monotonic() < deadline:
                self._active_cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = self._active
        if unfinished:
            event(log, "stopping with invocations still running; their messages stay queued", running=unfinished)
        self.app.store.on_enqueue(None)
        self.app.store.release_leases(refund=True)
        logging.getLogger().removeHandler(self.invocations)

    def _begin(self) -> None:
        with self._active_cond:
            self._active += 1

    def _end(self) -> None:
        with self._active_cond:
            self._active -= 1
            if self._active == 0:
                self._active_cond.notify_all()

    # -- triggers

    def invoke_http(self, function: str, request: Request,
                    deadline: float) -> tuple[Response | None, Callable[[], None]]:
        """Run the function (on one of the gateway's invocation threads). Returns its response, or
        None if it was still queued at its deadline (the gateway has answered 504: not run at all),
        and what to do once the answer is sent: wake the consumers this invocation enqueued for,
        so they do not compete for the GIL with the answer."""
        if time.monotonic() >= deadline:
            return None, _nothing
        self.defer_wakes()
        self._begin()
        try:
            response = adapter.invoke_http(self.app.function(function).handler, request, function=function,
                                           environ=self.function_env(function))
        except BaseException:  # the adapter turns handler errors into 500s; this is a bug in it
            log.exception("invoking %s failed", function)
            response = Response.error(500, "internal", "internal error; the log has the details")
        finally:
            self._end()
            wakes, self._local.wakes = self._local.wakes, None
        return response, lambda: self._notify(wakes)

    @staticmethod
    def _notify(wakes: list[tuple[_Wakeup, int]] | None) -> None:
        for wakeup, count in wakes or ():
            wakeup.notify(count)

    def _consume(self, binding: QueueBinding, wakeup: _Wakeup) -> None:
        """One of the binding's CONSUMER_CONCURRENCY consumers: lease, invoke, ack, on this thread."""
        store = self.app.store
        timeout = self.app.function(binding.function).timeout
        while not self.stop_event.is_set():
            seen = wakeup.seq
            try:
                messages = store.receive(binding.queue, max_messages=binding.batch_size,
                                         visibility_timeout=binding.visibility_timeout, owner=self.owner,
                                         max_receives=binding.max_retries + 1, retention=binding.retention)
            except Exception:
                log.exception("receiving from %s failed; retrying", binding.queue)
                messages = []
            if not messages:
                if wakeup.wait(seen, self.poll) and binding.window > 0:
                    wakeup.gather(binding.window, self.stop_event)
                continue
            if len(messages) == binding.batch_size > 1:
                wakeup.notify(1)  # a full batch: there may be more, for an idle consumer
            handled = []
            self._begin()  # the batch counts as running until its acks are written
            try:
                for i, received in enumerate(messages):
                    # A batch is handled in order; hand back what could not finish inside its lease.
                    if i and (self.stop_event.is_set() or time.time() + timeout > received.visible_at):
                        for rest in messages[i:]:
                            store.release(rest.id, rest.lease, refund=True)
                        wakeup.notify(len(messages) - i)
                        break
                    self.defer_wakes()
                    try:
                        if self._handle_message(binding, received):
                            handled.append(received)
                    finally:
                        self.flush_wakes()
                if handled:
                    self._ack(binding, handled)
            except Exception:
                log.exception("handling messages from %s failed", binding.queue)
            finally:
                self._end()

    def _handle_message(self, binding: QueueBinding, received) -> bool:
        """Invoke the function; True when it succeeded (ack the message), else retry or dead-letter."""
        store = self.app.store
        fields = {"function": binding.function, "queue": binding.source, "message_id": received.id,
                  "delivery_attempt": received.receive_count}
        try:
            adapter.invoke_message(self.app.function(binding.function).handler, received.to_message(),
                                   trigger=binding.trigger, function=binding.function,
                                   environ=self.function_env(binding.function))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if received.receive_count > binding.max_retries:
                store.dead_letter(received.id, received.lease, error=error)
                log.warning("message dead-lettered after %d deliveries", received.receive_count,
                            extra={"fields": {**fields, "dead_letter_queue": received.queue + "-dlq", "error": error}})
            else:
                delay = min(self.retry_delay * 2 ** (received.receive_count - 1), binding.visibility_timeout, 60.0)
                store.release(received.id, received.lease, delay=delay, error=error)
                log.warning("message failed; retrying in %.1fs", delay,
                            extra={"fields": {**fields, "error": error, "retries_left": binding.max_retries
                                              - received.receive_count + 1}})
            return False
        return True

    def _ack(self, binding: QueueBinding, handled: list) -> None:
        """Delete the handled messages of a batch, in one transaction."""
        store = self.app.store
        if len(handled) == 1:
            acked = [store.ack(handled[0].id, handled[0].lease)]
        else:
            acked = store.ack_many([(received.id, received.lease) for received in handled])
        for received, ok in zip(handled, acked, strict=True):
            if not ok:
                log.warning("message handled after its visibility timeout; it may be delivered again",
                            extra={"fields": {"function": binding.function, "queue": binding.source,
                                              "message_id": received.id, "delivery_attempt": received.receive_count}})

    def _fire_schedule(self, function: str, due, text: str) -> None:
        def call() -> None:
            self._begin()
            try:
                with contextlib.suppress(Exception):  # the adapter logs the failure
                    adapter.invoke_schedule(self.app.function(function).handler,
                                            ScheduledEvent(time=due, schedule=text, id=str(uuid.uuid4())),
                                            function=function, environ=self.function_env(function))
            finally:
                self._end()

        threading.Thread(target=call, name=f"schedule:{function}", daemon=True).start()

    def run_schedule_now(self, function: str) -> None:
        """Fire a schedule now (the console's "run now"); its next due time is unchanged."""
        fn = self.app.function(function)
        self._fire_schedule(function, datetime.now(UTC), fn.schedule or "")

    def invoke_event(self, function: str, raw: Any) -> dict[str, Any]:
        """Run `function` once with an event shaped as for `omnicloud invoke` (EventFileError if it is
        not), as its trigger would; the outcome, and for HTTP the response."""
        from .invoke import build_event

        fn = self.app.function(function)
        name = {"queue": fn.queue.name if fn.queue else "", "topic": fn.topic.name if fn.topic else "",
                "schedule": fn.schedule or ""}.get(fn.trigger, "")
        event_ = build_event(fn.trigger, raw, "the event", prefix=fn.http, name=name)
        environ = self.function_env(function)
        self._begin()
        try:
            if fn.trigger == "http":
                response = adapter.invoke_http(fn.handler, event_, function=function, environ=environ)
                body = response.body_bytes()
                return {"outcome": "error" if response.status >= 500 else "ok", "invocation_id": event_.request_id,
                        "response": {"status": response.status, "headers": response.headers,
                                     "body": body.decode("utf-8", "replace")}}
            try:
                if fn.trigger == "schedule":
                    adapter.invoke_schedule(fn.handler, event_, function=function, environ=environ)
                else:
                    adapter.invoke_message(fn.handler, event_, trigger=fn.trigger, function=function,
                                           environ=environ)
            except Exception as exc:
                return {"outcome": "error", "invocation_id": event_.id, "error": f"{type(exc).__name__}: {exc}"}
            return {"outcome": "ok", "invocation_id": event_.id}
        finally:
            self._end()

    def _housekeeping(self) -> None:
        for name, table in self.app.spec.tables.items():
            if table.ttl:
                self.app.store.purge_expired_items(name, table.ttl)

    # -- reload

    def _watch(self) -> None:
        before = snapshot(self.app.app_dir, self.app.state_dir, self.app.app_path)
        while not self.stop_event.wait(1.0):
            after = snapshot(self.app.app_dir, self.app.state_dir, self.app.app_path)
            if after != before:
                changed = sorted(set(after.items()) ^ set(before.items()))
                where = os.path.relpath(changed[0][0], self.app.app_dir) if changed else "the app"
                self.request_stop(f"{where} changed")
                return

def snapshot(app_dir: Path, state_dir: Path, app_path: Path) -> dict[str, float]:
    """Modification times of what a change to should restart the server: .py files, app.yaml, .env."""
    seen: dict[str, float] = {}
    skip = {"node_modules", "__pycache__"}
    for root, dirs, files in os.walk(app_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip and Path(root, d) != state_dir]
        for name in files:
            if name.endswith(".py") or name == ".env" or Path(root, name) == app_path:
                full = os.path.join(root, name)
                with contextlib.suppress(OSError):
                    seen[full] = os.stat(full).st_mtime_ns
    return seen


def _wait_for_change(app_path: Path, state_dir: Path) -> None:
    _fail("waiting for a change to restart (Ctrl-C to quit)")
    app_dir = app_path.parent
    before = snapshot(app_dir, state_dir, app_path)
    while snapshot(app_dir, state_dir, app_path) == before:
        time.sleep(1.0)


def _reexec(args: argparse.Namespace) -> None:
    os.environ[RELOADED_ENV] = "1"
    argv = [sys.executable, "-m", "omnicloud", "dev", "--app", str(Path(args.app).resolve()),
            "--port", str(args.port), "--state", str(Path(args.state).resolve())]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _banner(server: DevServer) -> None:
    app = server.app
    url = f"http://{HOST}:{server.port}"
    _say(f"omnicloud dev: app {app.spec.name!r} from {app.app_path} (state in {app.state_dir})")
    _say(f"  {url}")
    width = max(len(name) for name in app.spec.functions)
    for name, fn in app.spec.functions.items():
        if fn.http is not None:
            what = f"http      {url}{fn.http.rstrip('/') or ''}/..." if fn.http != "/" else f"http      {url}/"
        elif fn.queue is not None:
            q = app.spec.queues[fn.queue.name]
            what = (f"queue     {fn.queue.name} (batch {fn.queue.batch_size}, visibility {app.spec.visibility_timeout_of(fn.queue.name)}s,"
                    f" max_retries {q.max_retries}, then {fn.queue.name}-dlq)")
        elif fn.topic is not None:
            filt = f" filter {json.dumps(dict(fn.topic.filter))}" if fn.topic.filter else ""
            what = f"topic     {fn.topic.name}{filt}"
        else:
            nxt = server.scheduler.next_run(name) if server.scheduler else None
            when = f" (next {nxt:%Y-%m-%d %H:%M:%S} UTC)" if nxt and not os.environ.get("OMNICLOUD_DEV_TICK") else ""
            what = f"schedule  {fn.schedule}{when}"
        _say(f"  {name:<{width}}  {what}  -> {fn.handler}")
    _say_secrets(app)
    if sys.stdout.isatty() and server.console_auth is not None:  # a sign-in link never goes into a log
        _say(f"console: {url}{INTERNAL_PREFIX}/login?ticket={server.console_auth.ticket()} (a one-time link; "
             f"`omnicloud console --state {app.state_dir}` prints a new one)")
    else:
        _say(f"console: {url}{INTERNAL_PREFIX}/console/ (sign in with the one-time link that "
             f"`omnicloud console --state {app.state_dir}` prints)")
    _say(f"inspect queues at {url}{INTERNAL_PREFIX}/queues (with 'Authorization: Bearer <token>', the token in "
         f"{app.state_dir / TOKEN_FILE}); " + ("reloading on code changes; " if server.reload else "")
         + "Ctrl-C to stop")


def _say_secrets(app: LocalApp) -> None:
    """Where each secret comes from. Generated values are shown only on a terminal; when the output
    goes to a file or a pipe (a log), they are written to a mode-0600 file in the state dir instead,
    and the banner names that file: no secret value ever reaches a log."""
    secrets = app.secrets(generate=True)
    generated = [secret for secret in secrets if secret.origin == "generated"]
    on_terminal = sys.stdout.isatty()
    path = None if on_terminal or not generated else write_generated_secrets(app.state_dir, generated)
    for secret in secrets:
        if secret.origin != "generated":
            _say(f"secret {secret.name}: from {secret.origin} ({secret.env})")
        elif on_terminal:
            _say(f"secret {secret.name}: {secret.value} (generated for local use; set {secret.env} to choose it)")
        else:
            _say(f"secret {secret.name}: generated for local use, value in {path} (set {secret.env} to choose it)")


def write_generated_secrets(state_dir: Path, generated: list) -> Path:
    """`<state dir>/generated-secrets.env`: ENV=value lines (dotenv), readable by the owner only."""
    path = state_dir / SECRETS_FILE
    lines = ["# Secrets omnicloud dev generated for local use (those set in the environment or .env are not here)."]
    lines += [f"{secret.env}={secret.value}" for secret in generated]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # a file left by an older run keeps its mode otherwise
        out.write("\n".join(lines) + "\n")
    return path


def _state_problem(exc: Exception, state_dir: Path) -> str:
    """One line for a state dir or database that cannot be used: where, what, what to do."""
    database = state_dir / "state.db"
    if isinstance(exc, sqlite3.DatabaseError):
        return (f"state database {database} cannot be used ({exc}); if it is damaged, move it away "
                f"(mv {database} {database}.broken) to start with empty state, or pass --state DIR")
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    where = getattr(exc, "filename", None) or state_dir
    return f"state dir {state_dir} cannot be used ({where}: {what}); fix its permissions or pass --state DIR"


def import_handlers(app: LocalApp) -> bool:
    """Import every handler now (in its function's environment, as a cold start would), so a
    broken module shows up at startup. True if one failed."""
    from runtime.adapters.base import HandlerNotFound
    from runtime.links import use_environ

    for name, fn in app.spec.functions.items():
        try:
            with use_environ(app.function_env(name)):
                app.load_handler(name)
        except HandlerNotFound as exc:
            _fail(str(exc))
            return True
        except Exception:
            traceback.print_exc()
            _fail(f"importing {fn.handler} for function {name!r} failed (traceback above); fix it and restart")
            return True
    return False


def run(args: argparse.Namespace) -> int:
    from spec import SpecError

    configure("INFO")
    reloaded = os.environ.pop(RELOADED_ENV, None) == "1"
    reload = not getattr(args, "no_reload", False)
    app_path, state_dir = Path(args.app), Path(args.state)

    def unusable() -> int:
        # After a reload, a broken edit waits for the next one instead of ending the session.
        if reloaded and reload:
            _wait_for_change(app_path.resolve(), state_dir.resolve())
            _reexec(args)
        return EXIT_USAGE

    try:
        app = LocalApp(app_path, state_dir)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr, flush=True)
        return unusable()
    except (sqlite3.DatabaseError, OSError) as exc:
        _fail(_state_problem(exc, state_dir.resolve()))
        return EXIT_FAILED
    os.environ.update(app.process_environ())
    os.environ.setdefault("OMNICLOUD_CLOUD", "local")
    failed = import_handlers(app)
    if failed:
        return unusable() if reloaded else EXIT_FAILED
    try:
        app.secrets(generate=True)
        token = load_token(app.state_dir)
        lock_fd, holder = acquire_lock(app.state_dir)
    except (sqlite3.DatabaseError, OSError) as exc:
        _fail(_state_problem(exc, app.state_dir))
        return EXIT_FAILED
    if lock_fd is None:
        _fail(f"state dir {app.state_dir} is in use by another omnicloud dev (pid {holder}); "
              "stop it, or pass --state DIR")
        return EXIT_FAILED
    server = DevServer(app, args.port, reload=reload, token=token)
    try:
        server.bind()
    except OSError as exc:
        os.close(lock_fd)
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {args.port} on {HOST} is already in use; stop what is using it or pass --port N")
        else:
            _fail(f"cannot listen on {HOST}:{args.port}: {exc.strerror}; pass another --port")
        return EXIT_FAILED

    def on_signal(signum, _frame) -> None:
        server.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except sqlite3.DatabaseError as exc:  # damage below the schema shows at the first real query
            _fail(_state_problem(exc, app.state_dir))
            return EXIT_FAILED
        _banner(server)
        server.serve()
        while not server.stop_event.wait(0.5):
            pass
        if server.restart_reason:
            _say(f"omnicloud dev: {server.restart_reason}; restarting")
        else:
            _say("omnicloud dev: stopping")
        server.shutdown()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(lock_fd)
    if server.restart_reason:
        _reexec(args)
    _say("omnicloud dev: stopped")
    return 0

