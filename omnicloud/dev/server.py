"""`omnicloud dev`: the local cloud — HTTP gateway, queue pollers, topic fan-out, scheduler, reload.

State is durable in SQLite (runtime.backends.local), so a restart, even after kill -9, picks up
every message that was in flight. Hidden knobs (for tests and demos):
  OMNICLOUD_DEV_TICK=<s>         one scheduled minute lasts <s> seconds (see dev/scheduler.py)
  OMNICLOUD_DEV_RETRY_DELAY=<s>  first retry backoff of a failed message (default 1, doubling)
  OMNICLOUD_DEV_POLL=<s>         queue poll interval when idle (default 0.2); a send or publish from
                                 this process wakes the consumers at once, the poll finds the rest
  OMNICLOUD_DEV_GRACE=<s>        how long Ctrl-C waits for running invocations (default 10)
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import errno
import http.client
import itertools
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from runtime.adapters import local as adapter
from runtime.backends.local import random_uuid
from runtime.log import configure, event
from runtime.types import Request, Response, ScheduledEvent

from .app import LocalApp, QueueBinding

log = logging.getLogger("omnicloud.dev")

HOST = "127.0.0.1"
RELOADED_ENV = "OMNICLOUD_DEV_RELOADED"
LOCK_FILE = "dev.lock"
INTERNAL_PREFIX = "/_omnicloud"
MAX_BODY = 6 * 1024 * 1024  # the smallest request limit among the clouds (Lambda)
CONSUMER_CONCURRENCY = 4  # consumer threads per queue binding, each: lease, invoke, ack
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

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once per second (it has whole seconds)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        global _date
        now = int(time.time())
        if _date[0] != now:
            _date = (now, super().date_time_string(now))
        return _date[1]

    def parse_request(self) -> bool:
        """http.server's parse_request, but plain header lines are parsed here instead of by the
        email package (most of the cost of a small request); anything unusual still goes to it."""
        self.command = None  # set in case of error on the first line
        self.request_version = version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if len(words) == 0:
            return False
        if len(words) >= 3:  # enough to determine the protocol version
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                base_version_number = version.split("/", 1)[1]
                version_number = base_version_number.split(".")
                if len(version_number) != 2:
                    raise ValueError
                if any(not component.isdigit() for component in version_number):
                    raise ValueError("non digit in http version")
                if any(len(component) > 10 for component in version_number):
                    raise ValueError("unreasonable length http version")
                major, minor = int(version_number[0]), int(version_number[1])
            except (ValueError, IndexError):
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if (major, minor) >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if (major, minor) >= (2, 0):
                self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({base_version_number})")
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path
        if self.path.startswith("//"):  # gh-87389: no open redirects through //host paths
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = _parse_headers(self.rfile)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "")
        if (expect.lower() == "100-continue" and self.protocol_version >= "HTTP/1.1"
                and self.request_version >= "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def _handle(self) -> None:
        dev = self.server.dev
        dev.defer_wakes()
        try:
            try:
                response = self._respond()
            except _BadBody as exc:
                response = Response.error(exc.status, exc.code, str(exc))
                self.close_connection = True
            if response is None:  # the deadline watchdog already answered 504; the connection is done
                self.close_connection = True
                return
            self.send(response)
        finally:
            dev.flush_wakes()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (unknown method, bad request line, huge headers) as the
        gateway's JSON errors instead of its HTML page."""
        status = HTTPStatus(code)
        text = message or status.phrase
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            text = f"{self.command} is not a method this gateway serves; use GET, POST, PUT, PATCH or DELETE"
        self.close_connection = True
        if not self.request_version.startswith("HTTP/1."):
            self.request_version = "HTTP/1.1"  # a request line too broken to parse still gets headers
        self.send(Response.error(code, status.phrase.lower().replace(" ", "_").replace("-", "_"), text), close=True)

    def send(self, response: Response, *, close: bool = False) -> None:
        body = response.body_bytes()
        try:
            self.send_response(response.status)
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers["content-length"] = str(len(body))
            if close:
                headers["connection"] = "close"
            for key, value in headers.items():
                self.send_header(key, value)
            for cookie in response.cookies:
                self.send_header("set-cookie", cookie)
            # Status, headers and body in one write (end_headers() would make it two).
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(body)
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def answer_late(self, response: Response) -> None:
        """Send `response` from another thread while this one still runs the function (a 504),
        then end the connection: the client's next request goes on a new one, served at once."""
        self.send(response, close=True)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

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
            source_ip=self.client_address[0], request_id=random_uuid(),
        )
        return dev.invoke_http(function, request, self.answer_late)


_date: tuple[int, str] = (0, "")
# A header line the email parser would store as is: a name of visible characters (no colon), a
# colon, the value up to the line end (leading blanks dropped, like its compat32 policy does).
_PLAIN_HEADER = re.compile(rb"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)\r?\n")


def _parse_headers(fp) -> http.client.HTTPMessage:
    """http.client.parse_headers: the same reading and limits, the same HTTPMessage."""
    lines = http.client._read_headers(fp)
    message = http.client.HTTPMessage()
    for line in lines[:-1] if lines[-1] in (b"\r\n", b"\n", b"") else lines:
        match = _PLAIN_HEADER.fullmatch(line)
        if match is None:  # folded or odd lines: the email parser's rules
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
        message.set_raw(match[1].decode("iso-8859-1"), match[2].decode("iso-8859-1"))
    return message


class _BadBody(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code


# -- the server ----------------------------------------------------------------------------------


class _Deadlines:
    """Answers an HTTP invocation that outlives its function's timeout with a 504, as the clouds'
    gateways do, while the function itself runs on the connection's own thread: no thread is
    started per request, and one watchdog thread sleeps until the nearest deadline."""

    IDLE_WAKE = 1.0  # seconds; a new call with a nearer deadline wakes the watchdog at once

    def __init__(self, stop: threading.Event):
        self._cond = threading.Condition(threading.Lock())
        self._pending: dict[int, tuple[float, Callable[[], None]]] = {}
        self._expiring: set[int] = set()  # expired calls whose 504 is being sent
        self._ids = itertools.count()
        self._wake_at = 0.0
        self._stop = stop

    def add(self, timeout: float, expire: Callable[[], None]) -> int:
        key = next(self._ids)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._pending[key] = (deadline, expire)
            if deadline < self._wake_at:
                self._cond.notify_all()
        return key

    def done(self, key: int) -> bool:
        """True if the call ended in time (its caller answers); False if it expired, once the
        504 has been sent (so the caller cannot close the connection under it)."""
        if self._pending.pop(key, None) is not None:  # one atomic pop decides the race
            return True
        with self._cond:
            while key in self._expiring:
                self._cond.wait()
        return False

    def run(self) -> None:
        while not self._stop.is_set():
            expired = []
            with self._cond:
                now = time.monotonic()
                nearest = now + self.IDLE_WAKE
                for key, (deadline, expire) in list(self._pending.items()):
                    if deadline > now:
                        nearest = min(nearest, deadline)
                    elif self._pending.pop(key, None) is not None:
                        self._expiring.add(key)
                        expired.append((key, expire))
                self._wake_at = nearest
                if not expired:
                    self._cond.wait(nearest - now)
                    continue
            for _key, expire in expired:
                try:
                    expire()
                except Exception:
                    log.exception("answering a timed-out request failed")
            with self._cond:
                self._expiring.difference_update(key for key, _ in expired)
                self._cond.notify_all()


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
        self._deadlines = _Deadlines(self.stop_event)
        self._wakeups: dict[str, _Wakeup] = {}
        self._local = threading.local()  # .wakes: consumers to wake when this thread's invocation ends

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
        """Start the consumers, scheduler and watchers; `serve()` then opens the gateway."""
        from .scheduler import Scheduler

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
        assert self.httpd is not None
        self._spawn(self._deadlines.run, "http-deadlines")
        self._spawn(self.httpd.serve_forever, "http", poll_interval=0.2)

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
        for wakeup, count in wakes or ():
            wakeup.notify(count)

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
        self.app.store.on_enqueue(None)
        self.app.store.release_leases(refund=True)

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
                    answer_late: Callable[[Response], None]) -> Response | None:
        """Run the function on the calling (connection) thread. Past its timeout the gateway
        answers 504 through `answer_late`, as the clouds' gateways do, and this returns None
        when the function finally ends (it cannot be killed)."""
        fn = self.app.function(function)
        timeout = fn.timeout
        message = f"function {function} did not answer within its timeout of {timeout}s"
        key = self._deadlines.add(timeout, lambda: answer_late(Response.error(504, "timeout", message)))
        self._begin()
        try:
            response = adapter.invoke_http(fn.handler, request, function=function,
                                           environ=self.function_env(function))
        except BaseException:  # the adapter turns handler errors into 500s; this is a bug in it
            log.exception("invoking %s failed", function)
            response = Response.error(500, "internal", "internal error; the log has the details")
        finally:
            self._end()
            in_time = self._deadlines.done(key)
        return response if in_time else None

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

