"""`omnicloud dev`: the local cloud — HTTP gateway, queue pollers, topic fan-out, scheduler, reload.

State is durable in SQLite (runtime.backends.local), so a restart, even after kill -9, picks up
every message that was in flight. Hidden knobs (for tests and demos):
  OMNICLOUD_DEV_TICK=<s>         one scheduled minute lasts <s> seconds (see dev/scheduler.py)
  OMNICLOUD_DEV_RETRY_DELAY=<s>  first retry backoff of a failed message (default 1, doubling)
  OMNICLOUD_DEV_POLL=<s>         queue poll interval when idle (default 0.2)
  OMNICLOUD_DEV_GRACE=<s>        how long Ctrl-C waits for running invocations (default 10)
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from runtime.adapters import local as adapter
from runtime.log import configure, event
from runtime.types import Request, Response, ScheduledEvent

from .app import LocalApp, QueueBinding

log = logging.getLogger("omnicloud.dev")

HOST = "127.0.0.1"
RELOADED_ENV = "OMNICLOUD_DEV_RELOADED"
LOCK_FILE = "dev.lock"
INTERNAL_PREFIX = "/_omnicloud"
MAX_BODY = 6 * 1024 * 1024  # the smallest request limit among the clouds (Lambda)
CONSUMER_CONCURRENCY = 4
EXIT_USAGE = 2
EXIT_FAILED = 1


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


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


# -- the HTTP gateway --------------------------------------------------------------------------


class _Gateway(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops SYNs (1 s retries) under load
    dev: DevServer


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Gateway
    server_version = "omnicloud-dev"

    def log_message(self, format: str, *args) -> None:
        pass  # the invocation log line replaces the access log

    def _handle(self) -> None:
        try:
            response = self._respond()
        except _BadBody as exc:
            response = Response.error(exc.status, exc.code, str(exc))
            self.close_connection = True
        body = response.body_bytes()
        try:
            self.send_response(response.status)
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers["content-length"] = str(len(body))
            for key, value in headers.items():
                self.send_header(key, value)
            for cookie in response.cookies:
                self.send_header("set-cookie", cookie)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadBody(413, "payload_too_large", f"request body is over {MAX_BODY} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise _BadBody(400, "bad_request", "Content-Length is not a number") from None
        if length > MAX_BODY:
            raise _BadBody(413, "payload_too_large", f"request body is over {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def _respond(self) -> Response:
        dev = self.server.dev
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        body = self._read_body()
        if path == INTERNAL_PREFIX or path.startswith(INTERNAL_PREFIX + "/"):
            return dev.internal(self.command, path, parse_qs(parts.query))
        function = dev.app.route(path)
        if function is None:
            prefixes = ", ".join(prefix for prefix, _ in dev.app.http_routes()) or "none"
            return Response.error(404, "not_found", f"no function serves {path} (http prefixes: {prefixes})")
        query_all = parse_qs(parts.query, keep_blank_values=True)
        cookies: dict[str, str] = {}
        for chunk in self.headers.get("cookie", "").split(";"):
            key, sep, value = chunk.strip().partition("=")
            if sep:
                cookies[key] = value
        request = Request(
            method=self.command, path=path, headers=list(self.headers.items()),
            query={k: v[-1] for k, v in query_all.items()}, query_all=query_all, body=body, cookies=cookies,
            source_ip=self.client_address[0], request_id=str(uuid.uuid4()),
        )
        return dev.invoke_http(function, request)


class _BadBody(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code


# -- the server ----------------------------------------------------------------------------------


class DevServer:
    def __init__(self, app: LocalApp, port: int, *, reload: bool):
        self.app = app
        self.port = port
        self.reload = reload
        self.stop_event = threading.Event()
        self.restart_reason: str | None = None
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.httpd: _Gateway | None = None
        self.scheduler = None
        self._active = 0
        self._active_cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.retry_delay = _float_env("OMNICLOUD_DEV_RETRY_DELAY", 1.0)
        self.poll = _float_env("OMNICLOUD_DEV_POLL", 0.2)
        self.grace = _float_env("OMNICLOUD_DEV_GRACE", 10.0)
        self._environs: dict[str, dict[str, str]] = {}

    def function_env(self, function: str) -> dict[str, str]:
        """The function's environment, built once: app.yaml and the state dir are fixed for a run."""
        env = self._environs.get(function)
        if env is None:
            env = self._environs[function] = self.app.function_env(function)
        return env

    # -- lifecycle

    def bind(self) -> None:
        self.httpd = _Gateway((HOST, self.port), _GatewayHandler)
        self.httpd.dev = self
        self.port = self.httpd.server_address[1]

    def start(self) -> None:
        from .scheduler import Scheduler

        released = self.app.store.release_leases(refund=True)
        if released:
            event(log, "picked up messages left in flight by the previous run", released=released)
        self.app.sync_subscriptions()
        assert self.httpd is not None
        self._spawn(self.httpd.serve_forever, "http", poll_interval=0.2)
        for binding in self.app.queue_bindings():
            self._spawn(self._consume, f"queue:{binding.queue}", binding)
        jobs = {name: fn.schedule for name, fn in self.app.spec.functions.items() if fn.schedule}
        self.scheduler = Scheduler(jobs, self._fire_schedule, store=self.app.store, stop=self.stop_event,
                                   housekeeping=self._housekeeping)
        if jobs:
            self._spawn(self.scheduler.run, "scheduler")
        if self.reload:
            self._spawn(self._watch, "reload")

    def _spawn(self, target, name: str, *args, **kwargs) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def request_stop(self, reason: str | None = None) -> None:
        if reason and self.restart_reason is None:
            self.restart_reason = reason
        self.stop_event.set()

    def shutdown(self) -> None:
        """Stop accepting, let running invocations finish (up to the grace period), and hand
        every message still leased back to the queue for the next start."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        deadline = time.monotonic() + self.grace
        with self._active_cond:
            while self._active and time.monotonic() < deadline:
                self._active_cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            unfinished = self._active
        if unfinished:
            event(log, "stopping with invocations still running; their messages stay queued", running=unfinished)
        self.app.store.release_leases(refund=True)

    @contextlib.contextmanager
    def _invocation(self) -> Iterator[None]:
        with self._active_cond:
            self._active += 1
        try:
            yield
        finally:
            with self._active_cond:
                self._active -= 1
                self._active_cond.notify_all()

    # -- triggers

    def invoke_http(self, function: str, request: Request) -> Response:
        fn = self.app.function(function)
        result: list[Response] = []

        def call() -> None:
            with self._invocation():
                result.append(adapter.invoke_http(fn.handler, request, function=function,
                                                  environ=self.function_env(function)))

        # The gateway answers 504 at the function's timeout, as the clouds' gateways do; the
        # handler thread cannot be killed and finishes in the background.
        worker = threading.Thread(target=call, name=f"http:{function}", daemon=True)
        worker.start()
        worker.join(timeout=fn.timeout)
        if not result:
            if worker.is_alive():
                return Response.error(504, "timeout", f"function {function} did not answer within its timeout of {fn.timeout}s")
            return Response.error(500, "internal", "internal error; the log has the details")
        return result[0]

    def _consume(self, binding: QueueBinding) -> None:
        store = self.app.store
        slots = threading.BoundedSemaphore(CONSUMER_CONCURRENCY)
        while not self.stop_event.is_set():
            if not slots.acquire(timeout=self.poll):
                continue
            free = 1
            while free < binding.batch_size and slots.acquire(blocking=False):
                free += 1
            try:
                messages = store.receive(binding.queue, max_messages=free, visibility_timeout=binding.visibility_timeout,
                                         owner=self.owner, max_receives=binding.max_retries + 1,
                                         retention=binding.retention)
            except Exception:
                log.exception("receiving from %s failed; retrying", binding.queue)
                messages = []
            for _ in range(free - len(messages)):
                slots.release()
            if not messages:
                self.stop_event.wait(self.poll)
                continue
            for message in messages:
                self._spawn_handler(binding, message, slots)

    def _spawn_handler(self, binding: QueueBinding, received, slots: threading.BoundedSemaphore) -> None:
        def handle() -> None:
            try:
                with self._invocation():
                    self._handle_message(binding, received)
            finally:
                slots.release()

        threading.Thread(target=handle, name=f"message:{binding.function}", daemon=True).start()

    def _handle_message(self, binding: QueueBinding, received) -> None:
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
            return
        if not store.ack(received.id, received.lease):
            log.warning("message handled after its visibility timeout; it may be delivered again",
                        extra={"fields": fields})

    def _fire_schedule(self, function: str, due, text: str) -> None:
        def call() -> None:
            with self._invocation(), contextlib.suppress(Exception):  # the adapter logs the failure
                adapter.invoke_schedule(self.app.function(function).handler,
                                        ScheduledEvent(time=due, schedule=text, id=str(uuid.uuid4())),
                                        function=function, environ=self.function_env(function))

        threading.Thread(target=call, name=f"schedule:{function}", daemon=True).start()

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

    # -- inspection (GET /_omnicloud/...)

    def internal(self, method: str, path: str, query: dict[str, list[str]]) -> Response:
        parts = [p for p in path[len(INTERNAL_PREFIX):].split("/") if p]
        store = self.app.store
        if method not in ("GET", "HEAD"):
            return Response.error(405, "method_not_allowed", f"{path} is read-only; use GET")
        if parts in ([], ["health"]):
            return Response.json({"ok": True, "app": self.app.spec.name, "pid": os.getpid()})
        if parts == ["queues"]:
            return Response.json({name: vars(stats) for name, stats in store.queues().items()})
        if len(parts) == 2 and parts[0] == "queues":
            limit = int((query.get("limit") or ["20"])[0]) if (query.get("limit") or ["20"])[0].isdigit() else 20
            return Response.json([
                {"id": m.id, "body": m.body.decode("utf-8", "replace"), "attributes": m.attributes,
                 "receive_count": m.receive_count, "enqueued_at": m.enqueued_at, "last_error": m.last_error}
                for m in store.peek(parts[1], limit)
            ])
        return Response.error(404, "not_found", f"{path}: try {INTERNAL_PREFIX}/health, /queues or /queues/NAME")


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
            what = (f"queue     {fn.queue.name} (batch {fn.queue.batch_size}, visibility {q.visibility_timeout}s,"
                    f" max_retries {q.max_retries}, then {fn.queue.name}-dlq)")
        elif fn.topic is not None:
            filt = f" filter {json.dumps(dict(fn.topic.filter))}" if fn.topic.filter else ""
            what = f"topic     {fn.topic.name}{filt}"
        else:
            nxt = server.scheduler.next_run(name) if server.scheduler else None
            when = f" (next {nxt:%Y-%m-%d %H:%M:%S} UTC)" if nxt and not os.environ.get("OMNICLOUD_DEV_TICK") else ""
            what = f"schedule  {fn.schedule}{when}"
        _say(f"  {name:<{width}}  {what}  -> {fn.handler}")
    for secret in app.secrets(generate=True):
        if secret.origin == "generated":
            _say(f"secret {secret.name}: {secret.value} (generated for local use; set {secret.env} to choose it)")
        else:
            _say(f"secret {secret.name}: from {secret.origin} ({secret.env})")
    _say("inspect queues at " + f"{url}{INTERNAL_PREFIX}/queues; "
         + ("reloading on code changes; " if server.reload else "") + "Ctrl-C to stop")


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
    os.environ.update(app.process_environ())
    os.environ.setdefault("OMNICLOUD_CLOUD", "local")
    failed = import_handlers(app)
    if failed:
        return unusable() if reloaded else EXIT_FAILED
    app.secrets(generate=True)

    lock_fd, holder = acquire_lock(app.state_dir)
    if lock_fd is None:
        _fail(f"state dir {app.state_dir} is in use by another omnicloud dev (pid {holder}); "
              "stop it, or pass --state DIR")
        return EXIT_FAILED
    server = DevServer(app, args.port, reload=reload)
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
        server.start()
        _banner(server)
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

