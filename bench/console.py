"""The local console's API with a big state: how long each call the console page makes takes.

    .venv/bin/python bench/console.py [--items 100000] [--invocations 5000] [--repeat 30]

Starts `omnicloud dev --no-reload` on app.yaml with a temporary state dir holding `--items` items in
one partition of the tasks table and as many again over `--items`/5 partitions of the agents table,
sends `--invocations` requests (each one an invocation in the console's history), then times the
console's calls (with the local token, as curl would): the overview, a page of invocations, a page of
partitions and of items (the first and one far in), one item. Every list is one page whatever the
size, so the times should not grow with --items.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, emit, log, percentile  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill(state: Path, items: int) -> None:
    """`items` items in one tasks partition, and `items` more over items/5 agents partitions."""
    from runtime.backends.local import Store

    store = Store.at(state)
    big = "TENANT#bench#AGENT#big"
    rows = [
        ("tasks", big, f"TASK#{n:09d}", json.dumps({"pk": big, "sk": f"TASK#{n:09d}", "n": n}))
        for n in range(items)
    ]
    rows += [
        (
            "agents",
            f"TENANT#t{n // 5:06d}",
            f"ITEM#{n % 5}",
            json.dumps({"pk": f"TENANT#t{n // 5:06d}", "n": n}),
        )
        for n in range(items)
    ]
    with store._tx() as conn:  # one transaction: setting up, not what is measured
        conn.executemany(
            "INSERT OR REPLACE INTO items (tbl, pk, sk, item) VALUES (?, ?, ?, ?)", rows
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--invocations", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.items, args.invocations, args.repeat = 20_000, 1000, 10
    tmp = Path(tempfile.mkdtemp(prefix="omnicloud-console-bench-"))
    state, port = tmp / "state", free_port()
    fill(state, args.items)
    env = {
        "PATH": "/usr/bin:/bin",
        "BOOTSTRAP_TOKEN": "bench",
        "JWT_SECRET": "bench-secret-of-at-least-32-bytes-long",
        "OMNICLOUD_DEV_HISTORY": str(args.invocations),
    }
    logfile = open(tmp / "dev.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnicloud",
            "dev",
            "--no-reload",
            "--port",
            str(port),
            "--state",
            str(state),
            "--app",
            str(ROOT / "app.yaml"),
        ],
        cwd=ROOT,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp / "dev.log").read_text()) from None
                time.sleep(0.1)
        token = (state / "dev-token").read_text().strip()

        def get(path: str) -> bytes:
            request = urllib.request.Request(
                url + path, headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read()

        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda _: urllib.request.urlopen(url + "/health", timeout=30).read(),
                    range(args.invocations),
                )
            )
        first = json.loads(
            get("/_omnicloud/api/tables/tasks/items?pk=TENANT%23bench%23AGENT%23big&limit=50")
        )
        cursor = first["cursor"]
        for _ in range(200):  # 200 pages in: a cursor far into the partition
            cursor = json.loads(
                get(
                    f"/_omnicloud/api/tables/tasks/items?pk=TENANT%23bench%23AGENT%23big&limit=50&cursor={cursor}"
                )
            )["cursor"]
        calls = {
            "overview": "/_omnicloud/api/overview",
            "invocations_page": "/_omnicloud/api/invocations?limit=100",
            "invocations_of_api": "/_omnicloud/api/invocations?function=api&limit=100",
            "partitions_first": "/_omnicloud/api/tables/agents/partitions?limit=50",
            "partitions_far": "/_omnicloud/api/tables/agents/partitions?limit=50&after=TENANT%23t015000",
            "items_first": "/_omnicloud/api/tables/tasks/items?pk=TENANT%23bench%23AGENT%23big&limit=50",
            "items_far": f"/_omnicloud/api/tables/tasks/items?pk=TENANT%23bench%23AGENT%23big&limit=50&cursor={cursor}",
            "item": "/_omnicloud/api/tables/tasks/item?pk=TENANT%23bench%23AGENT%23big&sk=TASK%23000050000",
            "queues": "/_omnicloud/api/queues",
        }
        for name, path in calls.items():
            times, size = [], 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                size = len(get(path))
                times.append((time.perf_counter() - started) * 1000)
            emit(
                "console",
                name,
                percentile(times, 50),
                "ms",
                p95_ms=round(percentile(times, 95), 2),
                bytes=size,
                items=args.items,
                invocations=args.invocations,
                repeat=args.repeat,
            )
            log(
                f"{name}: p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms, {size} bytes"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        logfile.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
