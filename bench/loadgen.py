"""HTTP load generator for the local-platform benchmark: its own process, asyncio, keep-alive sockets.

    python bench/loadgen.py '<json spec>'   ->  one JSON result line on stdout

Spec: {"host", "port", "method", "path", "headers": {...}, "body": str|null, "concurrency": N,
and either "duration" (seconds, after "warmup" seconds not counted) or "count" (requests in all;
an "{i}" in a header value or the body becomes the request's number)}. Every connection is one
HTTP/1.1 keep-alive socket driven by one coroutine; a raw reader (status line, headers,
Content-Length body) keeps the client's own cost per request in the tens of microseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


class _Conn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw_request(spec: dict, i: int) -> bytes:
    body = spec.get("body")
    body_bytes = body.replace("{i}", str(i)).encode() if body is not None else b""
    lines = [f"{spec.get('method', 'GET')} {spec['path']} HTTP/1.1", f"Host: {spec['host']}:{spec['port']}"]
    for name, value in (spec.get("headers") or {}).items():
        lines.append(f"{name}: {value.replace('{i}', str(i))}")
    if body is not None or spec.get("method", "GET") in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body_bytes)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body_bytes


async def run(spec: dict) -> dict:
    host, port = spec["host"], int(spec["port"])
    concurrency = int(spec["concurrency"])
    timeout = float(spec.get("timeout", 30))
    count = spec.get("count")
    duration, warmup = float(spec.get("duration", 0)), float(spec.get("warmup", 0))
    keep = bool(spec.get("keep_bodies"))
    fixed = _raw_request(spec, 0) if count is None else None
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    records: list[dict] = []
    next_index = [0]
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def client() -> None:
        conn = _Conn(host, port)
        try:
            while True:
                if count is not None:
                    if next_index[0] >= count:
                        return
                    i = next_index[0]
                    next_index[0] += 1
                    raw = _raw_request(spec, i)
                else:
                    if time.perf_counter() >= stop_at:
                        return
                    i, raw = -1, fixed
                sent_wall, t0 = time.time(), time.perf_counter()
                try:
                    status, body = await conn.request(raw, timeout)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:  # TimeoutError is an OSError
                    conn.close()
                    if count is not None or t0 >= measure_from:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                t1 = time.perf_counter()
                if count is None and (t0 < measure_from or t1 > stop_at):
                    continue  # warm-up, or ended after the measured window
                latencies.append(t1 - t0)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status >= 400:
                    errors.append(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
                if keep:
                    records.append({"i": i, "status": status, "sent": sent_wall, "seconds": t1 - t0,
                                    "body": body.decode("utf-8", "replace")})
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    # A duration run counts the requests that started and ended inside the measured window.
    elapsed = time.perf_counter() - start if count is not None else duration
    ordered = sorted(latencies)

    def pct(p: float) -> float | None:
        return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * p / 100)))] * 1000 if ordered else None

    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:5], "statuses": statuses,
            "seconds": elapsed, "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100), "records": records}


def main() -> int:
    spec = json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())
    result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
