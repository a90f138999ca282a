"""The dev gateway under attack: a real `omnicloud dev` process, raw sockets, the gateway's own timeouts.

Each test names one attack from issue 15 ("Dev gateway"). Timeouts are set small through the
server's settings (OMNICLOUD_DEV_HTTP_*) and every wait polls for the outcome up to a deadline.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import APPS, ROOT, DevProcess, clean_env, free_port, wait_until

pytestmark = pytest.mark.e2e

REQUEST_TIMEOUT = 1.5  # OMNICLOUD_DEV_HTTP_TIMEOUT: a request must arrive within this
IDLE_TIMEOUT = 1.0  # OMNICLOUD_DEV_HTTP_IDLE: a connection without a request is closed after this
THREADS = 4  # OMNICLOUD_DEV_HTTP_THREADS
SETTINGS = {
    "OMNICLOUD_DEV_HTTP_TIMEOUT": str(REQUEST_TIMEOUT),
    "OMNICLOUD_DEV_HTTP_IDLE": str(IDLE_TIMEOUT),
    "OMNICLOUD_DEV_HTTP_THREADS": str(THREADS),
}
MAX_BODY = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> DevProcess:
    state = tmp_path_factory.mktemp("gateway") / "state"
    process = DevProcess(APPS / "basic" / "app.yaml", state, env=SETTINGS).start()
    yield process
    assert process.stop(signal.SIGTERM) == 0


class Raw:
    """One raw TCP connection to the gateway: send bytes, read what comes back until it closes."""

    def __init__(self, server: DevProcess):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.received = b""
        self.closed = False

    def send(self, data: bytes) -> bool:
        """False if the server has closed the connection already."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def read_until_closed(self, deadline: float) -> bytes:
        """Everything the server sends until it closes the connection; AssertionError at `deadline`."""
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"the gateway kept the connection open; received so far: {self.received!r}"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                chunk = b""
            self.received += chunk
            self.closed = not chunk
        return self.received

    def close(self) -> None:
        self.sock.close()


def exchange(server: DevProcess, data: bytes, within: float = 10.0) -> bytes:
    conn = Raw(server)
    try:
        conn.send(data)
        return conn.read_until_closed(time.monotonic() + within)
    finally:
        conn.close()


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP responses in `raw`, in order: (status, headers, body)."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response head: {raw!r}"
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return out


def only_error(raw: bytes) -> tuple[int, str, dict[str, str]]:
    """The one response in `raw`, a JSON error: (status, error code, headers)."""
    [(status, headers, body)] = responses(raw)
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)["error"]["code"], headers


def no_traceback(server: DevProcess) -> None:
    assert "Traceback" not in server.output(), server.output()[-3000:]


def still_serves(server: DevProcess) -> None:
    assert server.request("GET", "/whoami")[0] == 200


# ---- framing: chunk sizes and Content-Length -----------------------------------------------------------


@pytest.mark.parametrize("size", [b"-1", b"zz", b"0x10", b"1 1"])
def test_chunk_size_that_is_not_hex_is_400_json(server, size):
    raw = exchange(
        server,
        b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + size
        + b"\r\n"
        + b"x" * 64
        + b"\r\n0\r\n\r\n",
    )
    status, code, headers = only_error(raw)
    assert (status, code, headers["connection"]) == (400, "bad_request", "close")
    no_traceback(server)
    still_serves(server)


def test_negative_content_length_is_400_and_its_body_is_not_a_second_request(server):
    smuggled = b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    raw = exchange(
        server, b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n" + smuggled
    )
    assert only_error(raw)[:2] == (400, "bad_request")  # one answer: the "body" was never served
    no_traceback(server)


@pytest.mark.parametrize(
    "lengths",
    [
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5, 6\r\n",
        b"Content-Length: +5\r\n",
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
    ],
)
def test_conflicting_or_malformed_lengths_are_400(server, lengths):
    raw = exchange(
        server, b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lengths + b'\r\n0\r\n\r\n{"id":1}'
    )
    assert only_error(raw)[:2] == (400, "bad_request")
    no_traceback(server)


def test_request_line_with_raw_bytes_is_400_without_a_traceback(server):
    raw = exchange(server, b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert only_error(raw)[:2] == (400, "bad_request")
    no_traceback(server)


# ---- the body cap ----------------------------------------------------------------------------------------------


def test_content_length_over_the_cap_is_413_before_the_body_is_sent(server):
    conn = Raw(server)
    try:
        conn.send(
            b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
        )
        # Not a byte of the body is sent: the answer comes from the head alone.
        raw = conn.read_until_closed(time.monotonic() + 10)
    finally:
        conn.close()
    assert only_error(raw)[:2] == (413, "payload_too_large")


# 64 KiB chunks; one chunk "of 128 TiB".
@pytest.mark.parametrize("chunk_header", [b"10000", b"7fffffffffff"])
def test_chunked_body_over_the_cap_is_413_as_soon_as_it_passes_it(server, chunk_header):
    conn = Raw(server)
    try:
        conn.send(b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 65536
        sent, refused = 0, False
        while sent < 4 * MAX_BODY and not refused:
            data = (
                (chunk_header + b"\r\n" + piece + b"\r\n")
                if chunk_header == b"10000" or sent == 0
                else piece
            )
            refused = not conn.send(data)
            sent += len(piece)
        raw = conn.read_until_closed(time.monotonic() + 10)
    finally:
        conn.close()
    assert only_error(raw)[:2] == (413, "payload_too_large")
    assert sent < 4 * MAX_BODY  # the gateway stopped reading well before the client stopped sending
    no_traceback(server)


# ---- timeouts: idle, slow heads (slowloris), slow bodies ----------------------------------------------------


def test_idle_connection_is_closed_after_the_idle_timeout(server):
    conn = Raw(server)
    started = time.monotonic()
    try:
        # Closed, and nothing said: there was no request to answer.
        assert conn.read_until_closed(started + IDLE_TIMEOUT + 5) == b""
    finally:
        conn.close()
    assert time.monotonic() - started >= IDLE_TIMEOUT * 0.9


def _answered_408_at_the_timeout(server: DevProcess, partial: bytes) -> None:
    """Send part of a request and nothing more: the gateway answers 408 at its request timeout."""
    conn = Raw(server)
    started = time.monotonic()
    try:
        conn.send(partial)
        raw = conn.read_until_closed(started + REQUEST_TIMEOUT + 5)
    finally:
        conn.close()
    assert only_error(raw)[:2] == (408, "request_timeout")
    assert time.monotonic() - started >= REQUEST_TIMEOUT * 0.9


def test_partial_request_head_gets_408_at_the_request_timeout(server):
    # Never the blank line that ends the head.
    _answered_408_at_the_timeout(server, b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n")


def test_slow_body_gets_408_at_the_request_timeout(server):
    # 6 bytes of the 100 announced.
    _answered_408_at_the_timeout(
        server, b'POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"id":'
    )


def test_slowloris_trickling_a_head_gets_408_before_it_finishes(server):
    head = b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 100 + b"\r\n\r\n"
    conn = Raw(server)
    started = time.monotonic()
    try:
        trickled = 0
        # A byte every 50 ms: the head would take 7 s, far past the request timeout.
        for byte in head:
            if not conn.send(bytes([byte])):
                break
            trickled += 1
            readable, _, _ = select.select([conn.sock], [], [], 0.05)
            if readable:
                break
        raw = conn.read_until_closed(started + REQUEST_TIMEOUT + 5)
    finally:
        conn.close()
    assert trickled < len(head)
    assert only_error(raw)[:2] == (408, "request_timeout")


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)$", status, re.M).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads thread counts from /proc")
def test_a_flood_of_idle_and_slow_connections_adds_no_threads_and_times_out(dev_server, tmp_path):
    server = dev_server(APPS / "basic" / "app.yaml", tmp_path / "state", env=SETTINGS)
    still_serves(server)
    baseline = _threads(server.proc.pid)
    idle = [Raw(server) for _ in range(300)]
    partial = [Raw(server) for _ in range(100)]
    for conn in partial:
        conn.send(b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Part: ")
    # 16 requests to a function that outlives its 1 s timeout: at most THREADS of them run at once.
    slow = [Raw(server) for _ in range(16)]
    for conn in slow:
        conn.send(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    peak = baseline
    try:
        deadline = time.monotonic() + REQUEST_TIMEOUT + 10
        assert server.request("GET", "/whoami")[0] == 200  # the flood does not lock the door
        for conn in [*idle, *partial]:
            peak = max(peak, _threads(server.proc.pid))
            conn.read_until_closed(deadline)
        for conn in slow:
            conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            head = conn.sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 504 "), head
            peak = max(peak, _threads(server.proc.pid))
    finally:
        for conn in [*idle, *partial, *slow]:
            conn.close()
    assert all(conn.received == b"" for conn in idle)
    assert all(only_error(conn.received)[:2] == (408, "request_timeout") for conn in partial)
    assert peak <= baseline + THREADS, (baseline, peak)
    no_traceback(server)


# ---- the local routes: token and Host --------------------------------------------------------------------------


def _local(
    server: DevProcess, host: bytes | None, token: str | None, version: bytes = b"HTTP/1.1"
) -> tuple[int, str]:
    lines = [b"GET /_omnicloud/queues " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    if token is not None:
        lines.append(b"Authorization: Bearer " + token.encode())
    lines.append(b"Connection: close")
    [(status, _, body)] = responses(exchange(server, b"\r\n".join(lines) + b"\r\n\r\n"))
    return status, json.loads(body)["error"]["code"] if status >= 400 else "ok"


def test_local_routes_need_the_local_token(server):
    host = f"127.0.0.1:{server.port}".encode()
    assert _local(server, host, None) == (401, "unauthorized")
    assert _local(server, host, "not-the-token") == (401, "unauthorized")
    assert _local(server, host, server.local_token() + "x") == (401, "unauthorized")
    assert _local(server, host, server.local_token()) == (200, "ok")
    token_file = server.state / "dev-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    # The state dir it lives in is the owner's only.
    assert server.state.stat().st_mode & 0o777 == 0o700
    assert server.local_token() not in server.output()  # the banner names the file, not the token


@pytest.mark.parametrize(
    "host",
    [
        b"attacker.example",
        b"attacker.example:8080",
        b"127.0.0.1.attacker.example",
        b"localhost.attacker.example:80",
        b"10.0.0.1",
    ],
)
def test_local_routes_refuse_a_foreign_host_even_with_the_token(server, host):
    # DNS rebinding: a page on attacker.example re-points its name at 127.0.0.1; its requests say so in Host.
    assert _local(server, host, server.local_token()) == (403, "forbidden")


def test_local_routes_accept_loopback_host_names(server):
    for host in (
        b"127.0.0.1",
        f"localhost:{server.port}".encode(),
        f"[::1]:{server.port}".encode(),
    ):
        assert _local(server, host, server.local_token()) == (200, "ok")


def test_local_routes_refuse_a_request_without_host(server):
    assert _local(server, None, server.local_token(), version=b"HTTP/1.0") == (403, "forbidden")


# ---- what the gateway says about itself ------------------------------------------------------------------------


def test_server_header_names_no_python_version(server):
    raws = [
        exchange(server, b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        exchange(server, b"GARBAGE\r\n\r\n"),
    ]
    for raw in raws:
        [(_, headers, _)] = responses(raw)
        assert headers["server"] == "omnicloud-dev"
        assert b"python" not in raw.split(b"\r\n\r\n")[0].lower()


def _dev_command(state: Path) -> list[str]:
    app, port = str(APPS / "basic" / "app.yaml"), str(free_port())
    return [
        sys.executable,
        "-m",
        "omnicloud",
        "dev",
        "--app",
        app,
        "--port",
        port,
        "--state",
        str(state),
        "--no-reload",
    ]


def _run_dev(state: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        _dev_command(state), cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60
    )


def test_corrupt_state_database_is_one_line_naming_it(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.db").write_bytes(b"this is not a SQLite database, it is " + os.urandom(4096))
    proc = _run_dev(state)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"omnicloud dev: state database {state / 'state.db'} cannot be used (")
    assert f"mv {state / 'state.db'} {state / 'state.db'}.broken" in line and "--state DIR" in line


def test_state_dir_that_is_a_file_is_one_line(tmp_path):
    state = tmp_path / "state"
    state.write_text("not a directory")
    proc = _run_dev(state)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert (
        line.startswith(f"omnicloud dev: state dir {state} cannot be used (")
        and "--state DIR" in line
    )


def test_generated_secrets_are_shown_on_a_terminal_only(tmp_path):
    """On a terminal (a pty here) the banner shows a generated secret's value, as the README shows it."""
    controller, terminal = pty.openpty()
    env = clean_env()
    proc = subprocess.Popen(
        _dev_command(tmp_path / "state"),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""

    def banner_line():
        nonlocal seen
        if select.select([controller], [], [], 0.1)[0]:
            try:
                seen += os.read(controller, 65536)
            except OSError:  # the terminal closed: the process ended
                raise AssertionError(seen.decode(errors="replace")) from None
        return re.search(
            rb"^secret greeting: (\S+) \(generated for local use; set GREETING to choose it\)\r?$",
            seen,
            re.M,
        )

    try:
        match = wait_until(banner_line, 30, "the banner on the terminal")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        os.close(controller)
    value = match.group(1).decode()
    stored = tmp_path / "state" / "generated-secrets.env"
    assert not stored.exists()  # on a terminal nothing is written: the user saw it
    assert len(value) >= 20
